"""T-Eval's planning set (Chen et al. 2023): DAG plans with ``prev`` edges over literal argument values.

The samples are ``teval/plan_json_v1.json``, the tools ``teval/api_descrip.json``; ``FinishAction`` becomes
``join()``. Arguments were recorded from live runs (ids returned by earlier steps), so only the structure is fairly
gradeable; ``teval:data`` keeps only the edges into steps that need a value the request does not contain.
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tinyplan.eval.datasets._case import EvalCase, EvalDataError, GoldCall, call_line, join_line
from tinyplan.eval.datasets._files import check_limit, default_root, read_json
from tinyplan.eval.datasets._sample import words
from tinyplan.eval.datasets._schemas import OfferedTools

__all__ = ["TEVAL_EDGES", "load_teval", "teval_reads_from_request"]

_FINISH = "FinishAction"

#: How `load_teval` builds a gold plan's dependencies: ``"recorded"`` keeps T-Eval's ``prev`` edges; ``"data"``
#: keeps only the edges into steps that need a value from an earlier step (see `teval_reads_from_request`).
TEVAL_EDGES = ("recorded", "data")

_NUMBER_WORDS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"),
)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def _date_named(year: int, month: int, day: int, request: str) -> bool:
    if not 1 <= month <= 12:
        return False
    name = calendar.month_name[month].casefold()
    pattern = (
        rf"\b(?:{name}|{name[:3]})\.?\s+{day}(?:st|nd|rd|th)?\b"  # October 12, Oct. 12th
        rf"|\b{day}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{name}|{name[:3]})\b"  # 12 October, 12th of Oct
        rf"|\b{month}/{day}/(?:{year}|{year % 100:02d})\b"  # 10/12/2023
    )
    return re.search(pattern, request, re.IGNORECASE) is not None


def _time_named(hour: int, minute: int, request: str) -> bool:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return False
    h12 = hour % 12 or 12
    half = "a" if hour < 12 else "p"
    minutes = rf":{minute:02d}" if minute else r"(?::00)?"
    pattern = rf"\b{h12}{minutes}\s*{half}\.?m\b|\b{hour}:{minute:02d}\b"
    if hour < 10:
        pattern += rf"|\b0{hour}:{minute:02d}\b"
    return re.search(pattern, request, re.IGNORECASE) is not None


def teval_reads_from_request(value: Any, request: str) -> bool:
    """Whether a T-Eval argument value can be read from the request, so the call needs no earlier step's output.

    The rule behind ``teval:data`` gold plans (a heuristic: T-Eval records literal values, not where they came
    from). Lists and dicts are read when every item is. Booleans and None always are. A number is read when its
    digits appear in the request as a number, or as an English word up to twenty ("three days" gives 3). A string
    is read when it occurs in the request (case-insensitively), when at least half of its words do (search queries
    are often paraphrased: "latest news about quantum computing"), or when it is an ISO date the request names
    ("October 12", "12th of Oct", "10/12/2023") or a time of day it names ("13:00" as "1 PM", "1:00 pm" or "13:00").
    Ids, names and texts taken from tool results are not read.

    Args:
        value: An argument value from the data (JSON types).
        request: The user request.

    Returns:
        True when the value is in the request.
    """
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, Mapping):
        return all(teval_reads_from_request(v, request) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(teval_reads_from_request(v, request) for v in value)
    if isinstance(value, (int, float)):
        number = int(value) if float(value).is_integer() else value
        text = str(number)
        if re.search(rf"(?<![\d.]){re.escape(text)}(?![\d]|\.\d)", request.replace(",", "")):
            return True
        return isinstance(number, int) and 0 <= number <= 20 and _NUMBER_WORDS[number] in words(request)
    text = str(value)
    if not text.strip() or text.casefold() in request.casefold():
        return True
    date = _ISO_DATE.fullmatch(text.strip())
    if date:
        return _date_named(int(date[1]), int(date[2]), int(date[3]), request)
    clock = _CLOCK.fullmatch(text.strip())
    if clock:
        return _time_named(int(clock[1]), int(clock[2]), request)
    value_words = words(text)
    if not value_words:
        return False
    known = set(words(request))
    return sum(w in known for w in value_words) * 2 >= len(value_words)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _data_dependencies(
    args: Mapping[str, Any], recorded: tuple[int, ...], request: str, earlier: Mapping[int, GoldCall]
) -> tuple[int, ...]:
    """The dependencies a T-Eval call keeps under ``edges="data"``.

    ``recorded`` are the call's ``prev`` edges; ``earlier`` the calls before it by number, their dependencies already
    worked out this way. A call whose arguments all read from the request depends on nothing. Each value it needs
    (one not in the request) came from a recorded predecessor's output, unless that predecessor was itself given the
    value as an argument: then the value came from where the predecessor's came from, its own dependencies (none: the
    annotator supplied it). T-Eval records ``get_property_reviews(id)`` after ``get_property_details(id)``, but the
    id comes from the search before both.
    """
    needed = {str(leaf) for v in args.values() if not teval_reads_from_request(v, request) for leaf in _leaves(v)}
    out: set[int] = set()
    for d in recorded if needed else ():
        step = earlier.get(d)  # an unknown step is reported by the caller
        given = {str(leaf) for leaf in _leaves(step.args)} if step is not None else set()
        if needed - given:
            out.add(d)  # a value the predecessor was not given came from its output
        if step is not None and needed & given:
            out.update(step.dependencies)
    return tuple(sorted(out))


def _api_descriptions(api_path: Path) -> dict[str, dict[str, Any]]:
    """``Toolkit.api`` -> ``{"description", "parameters"}`` (the source's types) from ``api_descrip.json``."""
    toolkits = read_json(api_path)
    if not isinstance(toolkits, list):
        raise EvalDataError(f"{api_path}: expected a list of toolkits")
    out: dict[str, dict[str, Any]] = {}
    for kit in toolkits:
        try:
            for api in kit["api_list"]:
                full = f"{kit['name']}.{api['name']}"
                props: dict[str, Any] = {}
                required: list[str] = []
                for p in api.get("required_parameters", []):
                    props[p["name"]] = {"type": p.get("type", "any"), "description": p.get("description", "")}
                    required.append(p["name"])
                for p in api.get("optional_parameters", []):
                    props[p["name"]] = {"type": p.get("type", "any"), "description": p.get("description", "")}
                returns = "; ".join(f"{r['name']}: {r.get('description', '')}" for r in api.get("return_data", []))
                description = str(api.get("description", ""))
                if returns:
                    description += f" Returns {returns}"
                out[full] = {
                    "description": description,
                    "parameters": {"type": "object", "properties": props, "required": required},
                }
        except (KeyError, TypeError) as exc:
            raise EvalDataError(f"{api_path}: malformed toolkit entry ({exc!r})") from exc
    return out


def _example(request: str, gold: Sequence[GoldCall]) -> str:
    """A T-Eval plan as an in-context example: each value a call needs from an earlier step becomes ``"$N"``."""
    lines = [f"Question: {request}"]
    for call in gold:
        deps = list(call.dependencies)
        args: dict[str, Any] = {}
        used = 0  # the n-th value taken from earlier steps refers to the n-th dependency (the last one after that)
        for name, value in call.args.items():
            if deps and not teval_reads_from_request(value, request):
                value = f"${deps[min(used, len(deps) - 1)]}"
                used += 1
            args[name] = value
        lines.append(call_line(call.idx, call.tool, args))
    lines.append(join_line(gold))
    return "\n".join(lines)


def load_teval(
    *,
    limit: int | None = None,
    root: str | os.PathLike[str] | None = None,
    edges: str = "recorded",
    dependent_only: bool = False,
) -> list[EvalCase]:
    """Load T-Eval's planning set (``teval/plan_json_v1.json``, tools from ``teval/api_descrip.json``).

    Each step ``{"id", "prev", "name", "args"}`` becomes a `GoldCall` numbered ``id + 1``; the ``FinishAction`` step
    is the plan's ``join()`` and is dropped. The tools offered are the sample's ``meta.API_list`` (order kept).
    Arguments are compared exactly; arguments a step passes that its API does not declare (5 of 2660 calls) are
    dropped from the gold call.

    T-Eval's ``prev`` edges record the order in which an agent made the calls, one after another (checking the
    weather "after" an Arxiv search), while an LLMCompiler plan depends only on the outputs it uses. With
    ``edges="recorded"`` a call depends on its ``prev + 1``; with ``edges="data"`` only a call that needs a value
    from an earlier step keeps them: one with an argument value the request does not contain
    (`teval_reads_from_request`); the others depend on nothing.

    Args:
        limit: Keep at most this many cases (after ``dependent_only``).
        root: The evaluation data folder (default: `default_root`).
        edges: ``"recorded"`` or ``"data"`` (see `TEVAL_EDGES`).
        dependent_only: Keep only the cases whose gold plan has at least one dependency.

    Returns:
        The cases, in file order.

    Raises:
        EvalDataError: Missing files, a malformed sample, a step naming an API that is not described, or an unknown
            ``edges`` value.
    """
    check_limit(limit)
    if edges not in TEVAL_EDGES:
        raise EvalDataError(f"unknown T-Eval edges {edges!r}: use one of {', '.join(TEVAL_EDGES)}")
    spec = (
        "teval" if edges == "recorded" and not dependent_only else "teval:dependent" if dependent_only else "teval:data"
    )
    folder = default_root(root) / "teval"
    apis = _api_descriptions(folder / "api_descrip.json")
    data = read_json(folder / "plan_json_v1.json")
    if not isinstance(data, dict):
        raise EvalDataError(f"{folder / 'plan_json_v1.json'}: expected an object keyed by sample id")
    cases: list[EvalCase] = []
    for case_id, sample in data.items():
        if limit is not None and len(cases) >= limit:
            break
        api_list, user, steps = _read_sample(case_id, sample)
        offered = _offered_tools(case_id, api_list, steps, apis)
        request = str(user[-1])
        gold = _gold(case_id, steps, offered, apis, edges == "data", request)
        if dependent_only and not any(g.dependencies for g in gold):
            continue
        cases.append(
            EvalCase(
                id=str(case_id),
                dataset=spec,
                request=request,
                tools=offered.tools,
                gold=gold,
                name_map=offered.name_map,
                group=str(case_id).rsplit("_", 1)[0],
                example=_example(request, gold),
            )
        )
    return cases


def _read_sample(case_id: str, sample: Any) -> tuple[list[Any], list[Any], Any]:
    """A sample's ``meta.API_list``, user messages (at least one) and ``ground_truth`` steps."""
    try:
        api_list = list(sample["meta"]["API_list"])
        user = [m["content"] for m in sample["origin_prompt"] if m.get("role") == "user"]
        steps = sample["ground_truth"]
    except (KeyError, TypeError) as exc:
        raise EvalDataError(f"T-Eval sample {case_id}: malformed ({exc!r})") from exc
    if not user:
        raise EvalDataError(f"T-Eval sample {case_id}: no user message")
    return api_list, user, steps


def _offered_tools(case_id: str, api_list: list[Any], steps: Any, apis: Mapping[str, Any]) -> OfferedTools:
    """The sample's ``API_list``, then any other API its steps call, in order."""
    offered = OfferedTools()
    used = [s.get("name") for s in steps if isinstance(s, dict)]
    for full in dict.fromkeys([*api_list, *(n for n in used if n != _FINISH)]):
        if full not in apis:
            raise EvalDataError(f"T-Eval sample {case_id}: API {full!r} is not in api_descrip.json")
        offered.add(full, apis[full]["description"], apis[full]["parameters"])
    return offered


def _gold(
    case_id: str, steps: Any, offered: OfferedTools, apis: Mapping[str, Any], data_edges: bool, request: str
) -> list[GoldCall]:
    """The gold calls of a sample's steps, ``FinishAction`` dropped; every dependency names a known step."""
    gold: list[GoldCall] = []
    by_idx: dict[int, GoldCall] = {}  # the calls so far, by number
    for step in steps:
        call = _gold_call(case_id, step, offered, apis, request, by_idx if data_edges else None)
        if call is None:
            continue
        gold.append(call)
        by_idx[call.idx] = call
    for g in gold:
        missing = [d for d in g.dependencies if d not in by_idx]
        if missing:
            raise EvalDataError(f"T-Eval sample {case_id}: step {g.idx - 1} depends on unknown steps {missing}")
    return gold


def _gold_call(
    case_id: str,
    step: Any,
    offered: OfferedTools,
    apis: Mapping[str, Any],
    request: str,
    earlier: Mapping[int, GoldCall] | None,
) -> GoldCall | None:
    """One step as a gold call (None: the ``FinishAction``); ``earlier`` (the calls so far) for data edges only."""
    try:
        name, sid, prev, args = step["name"], int(step["id"]), step.get("prev", []), step.get("args") or {}
    except (KeyError, TypeError, ValueError) as exc:
        raise EvalDataError(f"T-Eval sample {case_id}: malformed step ({exc!r})") from exc
    if name == _FINISH:
        return None
    if not isinstance(args, dict):
        raise EvalDataError(f"T-Eval sample {case_id}: step {sid} args is not an object")
    renames = offered.param_back[offered.back[name]]
    declared = apis[name]["parameters"]["properties"]
    # 5 of 2660 calls pass arguments their API does not declare (e.g. ArxivSearch "limit"): a model cannot
    # know them and the tool would reject them, so they are dropped from the gold call
    args = {renames.get(k, k): v for k, v in args.items() if k in declared}
    deps = tuple(sorted({int(p) + 1 for p in prev}))
    if any(d >= sid + 1 for d in deps):
        raise EvalDataError(f"T-Eval sample {case_id}: step {sid} depends on a later step {prev}")
    if earlier is not None:
        deps = _data_dependencies(args, deps, request, earlier)
    return GoldCall(
        idx=sid + 1,
        tool=offered.back[name],
        args=dict(args),
        dependencies=deps,
        acceptable={k: [v] for k, v in args.items()},
    )
