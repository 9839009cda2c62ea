"""Dataset adapters: BFCL v4, T-Eval, TinyAgent and generic JSONL cases, all in one `EvalCase` format.

Every adapter yields `EvalCase` objects: a request, the toolset's OpenAI schemas (names sanitised into valid tool
names, types normalised to JSON Schema) and the ground-truth plan as `GoldCall` tasks with dependencies. The final
``join()`` of a plan is implicit: it is never a `GoldCall`, and metrics add it (depending on every task), as the
parser does for a predicted plan.

Dataset specs (`load_dataset`):

* ``bfcl:<category>``: Berkeley Function Calling Leaderboard v4 (Patil et al., gorilla repository). Categories:
  ``simple`` (file ``simple_python``), ``multiple``, ``parallel``, ``parallel_multiple``, ``live_parallel``,
  ``live_parallel_multiple``, ``irrelevance`` (the right plan calls no tool: just ``1. join()``). BFCL calls have no
  dependencies between them. Argument rules follow BFCL's ``possible_answer`` files (several acceptable values per
  argument, ``""`` meaning the argument may be omitted).
* ``teval``: T-Eval's planning set (Chen et al. 2023, ``plan_json_v1.json`` with ``api_descrip.json``): DAG plans
  with ``prev`` edges; ``FinishAction`` becomes ``join()``. Arguments were recorded from live runs (ids returned by
  earlier steps), so only the structure is fairly gradeable.
* ``mac``: the Mac toolset's own example plans, leave-one-out (each question planned with the other examples in the
  prompt).
* ``tinyagent:PATH``: TinyAgent's published format (Erdogan et al. 2024),
  ``{id: {"input": ..., "output": [{"type": "plan", "raw_output": ..., "parsed_output": [...]}, ...]}}``.
* ``jsonl:PATH``: one JSON object per line with ``request``, ``tools`` (OpenAI function schemas) and ``plan``
  (LLMCompiler plan text with ``$N`` references, ending in ``join()``); optional ``id``.

The data root for ``bfcl`` and ``teval`` defaults to ``../shared/evaldata`` relative to the repository, overridden
by the ``TINYPLAN_EVALDATA`` environment variable or the ``root`` argument.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import keyword
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyplan._checks import Cue
from tinyplan._errors import PlanParseError, TinyplanError, ToolDefinitionError, ToolsetError
from tinyplan._parser import JOIN, Interpolated, Ref, Task, parse_plan, plan_literal
from tinyplan._semantic import result_semantic
from tinyplan._tools import Tool, Toolset

__all__ = [
    "BFCL_CATEGORIES",
    "TEVAL_EDGES",
    "EvalCase",
    "EvalDataError",
    "GoldCall",
    "default_root",
    "load_bfcl",
    "load_dataset",
    "load_jsonl",
    "load_mac",
    "load_teval",
    "load_tinyagent",
    "normalize_schema",
    "render_plan",
    "sanitize_name",
    "sanitize_param",
    "spread",
    "teval_reads_from_request",
    "with_examples",
]

#: BFCL v4 single-turn categories and their file stems (``BFCL_v4_<stem>.json``).
BFCL_CATEGORIES: dict[str, str] = {
    "simple": "simple_python",
    "simple_python": "simple_python",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel_multiple",
    "live_parallel": "live_parallel",
    "live_parallel_multiple": "live_parallel_multiple",
    "irrelevance": "irrelevance",
}

#: How strict-success compares argument values. ``"bfcl"``: BFCL's checker (strings compared case-insensitively
#: without spaces and ``,./-_*^``; an int fits a float; a dict in an acceptable list is a nested spec of acceptable
#: values per key). ``"exact"``: equal values (a tuple equals a list, 1 equals 1.0).
ARG_RULES = ("bfcl", "exact")


class EvalDataError(TinyplanError):
    """An evaluation dataset cannot be found or read, or a record in it is malformed (file and record named)."""


@dataclass(frozen=True)
class GoldCall:
    """One call of a ground-truth plan.

    Attributes:
        idx: The task number (1-based, as in a plan).
        tool: The sanitised tool name (a key of the case's toolset).
        args: Canonical argument values by parameter name (the first acceptable value of each); values may hold
            `Ref` / `Interpolated` for ``$N`` references (JSONL and TinyAgent plans).
        dependencies: Task numbers this call needs, ascending.
        acceptable: Acceptable values per argument: a list for each argument. Under BFCL rules a dict in the list
            is a nested spec (key -> list of acceptable values) and ``""`` means "may be omitted".
        optional: Arguments the prediction may leave out.
    """

    idx: int
    tool: str
    args: dict[str, Any] = field(default_factory=dict, hash=False)
    dependencies: tuple[int, ...] = ()
    acceptable: dict[str, list[Any]] = field(default_factory=dict, hash=False)
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EvalCase:
    """One evaluation case: a request, the tools offered, and the ground-truth plan.

    Attributes:
        id: The record id in its dataset.
        dataset: The spec it came from, e.g. ``"bfcl:parallel_multiple"``.
        request: The user request.
        tools: The tools offered, in OpenAI tool format (``{"type": "function", "function": {name, description,
            parameters}}``), names sanitised, parameter types normalised to JSON Schema.
        gold: The ground-truth plan without its final ``join()`` (empty: the right plan is just ``1. join()``).
        name_map: Sanitised tool name -> name in the source data.
        arg_rules: ``"bfcl"`` or ``"exact"``: how strict success compares argument values (see `ARG_RULES`).
        system: A system message of the source record, if any.
        examples: In-context example plans for the planner prompt (``"Question: ...\n1. ..."``), if the dataset
            has its own; otherwise the planner's generic examples are used.
        instructions: Extra planner rules that come with the dataset's tools.
        group: Cases of one group are variants of one request (T-Eval's ``query_N_0``, ``query_N_1``...): a case
            never gets an in-context example from its own group (`with_examples`). Empty: the case's ``id``.
        example: This case's plan written as an in-context example (``"Question: ...\n1. ..."``) when the gold
            plan alone would not show its dependencies (T-Eval's literal values); None: built from the gold plan.
    """

    id: str
    dataset: str
    request: str
    tools: list[dict[str, Any]] = field(hash=False)
    gold: list[GoldCall] = field(hash=False)
    name_map: dict[str, str] = field(default_factory=dict, hash=False)
    arg_rules: str = "exact"
    system: str | None = None
    examples: tuple[str, ...] = field(default=(), hash=False)
    instructions: tuple[str, ...] = field(default=(), hash=False)
    group: str = ""
    example: str | None = field(default=None, hash=False)
    cues: tuple[Cue, ...] = field(default=(), hash=False)
    needs_cue: tuple[Cue, ...] = field(default=(), hash=False)

    def toolset(self) -> Toolset:
        """A fresh `Toolset` of stand-in tools that echo their validated arguments (``Tool.from_schema``).

        Raises:
            EvalDataError: A schema cannot become a tool.
        """
        try:
            tools = [Tool.from_schema(schema) for schema in self.tools]
        except (ToolDefinitionError, ToolsetError) as exc:
            raise EvalDataError(f"{self.dataset} case {self.id}: bad tool schema: {exc}") from exc
        for t, schema in zip(tools, self.tools, strict=True):
            # a result schema the data carries (NesTools' ``outputSchema``) is kept for the plan checker only: the
            # prompt's signature stays ``-> Any``, so plans are comparable with and without it
            out = schema.get("function", schema).get("outputSchema") if isinstance(schema, dict) else None
            if isinstance(out, dict):
                t.output_schema = out
        try:
            return Toolset(
                tools,
                instructions=self.instructions,
                examples=self.examples,
                cues=self.cues,
                needs_cue=self.needs_cue,
            )
        except (ToolDefinitionError, ToolsetError) as exc:
            raise EvalDataError(f"{self.dataset} case {self.id}: bad tool schema: {exc}") from exc

    @property
    def tool_names(self) -> list[str]:
        """The sanitised names of the tools offered."""
        return [s["function"]["name"] for s in self.tools]

    def gold_plan_text(self) -> str:
        """The ground truth written as an LLMCompiler plan (see `render_plan`)."""
        return render_plan(self.gold)

    def example_text(self) -> str:
        """This case as an in-context example: ``Question: <request>`` and its gold plan ending in ``join()``."""
        if self.example is not None:
            return self.example
        calls = [_call_line(c.idx, c.tool, c.args, quote_refs=True) for c in self.gold]
        return "\n".join([f"Question: {self.request}", *calls, _join_line(self.gold)])


# ------------------------------------------------------------------------------------------------------ helpers
_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_]")


def sanitize_name(name: str, taken: Mapping[str, str] | None = None) -> str:
    """A valid tool name for a source name: ``.`` and other non-identifier characters become ``_``.

    A leading digit gets a ``_`` prefix; a Python keyword or ``join`` gets a ``_`` suffix. If ``taken`` (sanitised ->
    original) already maps the result to another original name, ``_2``, ``_3``... is appended.

    Example: ``"math.factorial"`` -> ``"math_factorial"``.
    """
    out = _INVALID_CHARS.sub("_", name) or "_"
    if out[0].isdigit():
        out = "_" + out
    if keyword.iskeyword(out) or out == JOIN:
        out += "_"
    if taken is None:
        return out
    candidate, n = out, 1
    while candidate in taken and taken[candidate] != name:
        n += 1
        candidate = f"{out}_{n}"
    return candidate


_TYPE_MAP = {
    "dict": "object",
    "object": "object",
    "float": "number",
    "number": "number",
    "double": "number",
    "integer": "integer",
    "int": "integer",
    "long": "integer",
    "string": "string",
    "str": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "null": "null",
}


def normalize_schema(schema: Any) -> Any:
    """Turn BFCL/T-Eval type names into JSON Schema, recursively (returns a new object; the input is untouched).

    ``dict`` -> ``object``, ``float`` -> ``number``, ``tuple`` -> ``array``, upper-case ``STRING``/``NUMBER`` ->
    lower case, ``any`` -> no ``type`` (anything). Unknown type names are dropped (anything) rather than guessed.
    """
    if isinstance(schema, list):
        return [normalize_schema(x) for x in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            if isinstance(value, str):
                mapped = _TYPE_MAP.get(value.lower())
                if mapped is not None:
                    out["type"] = mapped
            elif isinstance(value, list):
                kinds = [_TYPE_MAP[v.lower()] for v in value if isinstance(v, str) and v.lower() in _TYPE_MAP]
                if kinds:
                    out["type"] = kinds
        elif key == "properties" and isinstance(value, Mapping):
            out["properties"] = {k: normalize_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            out[key] = normalize_schema(value)
        else:
            out[key] = value
    return out


def sanitize_param(name: str) -> str:
    """A parameter name a tool accepts: leading underscores move to the end (``_from`` -> ``from_``), other
    non-identifier characters become ``_``, a Python keyword gets a ``_`` suffix. (Tool arguments are pydantic
    fields, which may not start with ``_``.)"""
    stripped = name.lstrip("_")
    out = _INVALID_CHARS.sub("_", stripped) + "_" * (len(name) - len(stripped))
    if not out or out[0].isdigit():
        out = "p_" + out
    if keyword.iskeyword(out):
        out += "_"
    return out


def _tool_schema(
    name: str, description: str, parameters: Mapping[str, Any], renamed: dict[str, str] | None = None
) -> dict[str, Any]:
    """An OpenAI tool schema with normalised types; top-level parameters renamed with `sanitize_param`.

    ``renamed`` (if given) receives sanitised -> original for each renamed parameter.
    """
    params: dict[str, Any] = normalize_schema(dict(parameters)) if parameters else {}
    params.setdefault("type", "object")
    props: dict[str, Any] = dict(params.get("properties") or {})
    new_props: dict[str, Any] = {}
    for pname, pschema in props.items():
        safe = sanitize_param(pname)
        while safe in new_props or (safe != pname and safe in props):
            safe += "_"
        if safe != pname and renamed is not None:
            renamed[safe] = pname
        new_props[safe] = pschema
    params["properties"] = new_props
    if isinstance(params.get("required"), list):
        back = {orig: safe for safe, orig in zip(new_props, props, strict=True)}
        params["required"] = [back.get(r, r) for r in params["required"]]
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


def _call_line(idx: int, tool: str, args: Mapping[str, Any], *, quote_refs: bool = False) -> str:
    text = ", ".join(f"{k}={plan_literal(v, quote_refs=quote_refs)}" for k, v in args.items())
    return f"{idx}. {tool}({text})"


def _join_line(gold: Sequence[GoldCall]) -> str:
    return f"{(gold[-1].idx if gold else 0) + 1}. join()<END_OF_PLAN>"


def render_plan(gold: Sequence[GoldCall]) -> str:
    """Write ground-truth calls as an LLMCompiler plan ending in ``join()`` (for display and result files).

    Dependencies that are not visible as ``$N`` references in the arguments (T-Eval's ``prev`` edges over literal
    values) are noted in a ``Thought:`` line so the text stays a valid plan.
    """
    lines: list[str] = []
    for call in gold:
        hidden = [d for d in call.dependencies if f"${d}" not in plan_literal(call.args)]
        if hidden:
            lines.append("Thought: after " + ", ".join(f"${d}" for d in hidden))
        lines.append(_call_line(call.idx, call.tool, call.args))
    lines.append(_join_line(gold))
    return "\n".join(lines)


def default_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The evaluation data folder: ``root``, else ``$TINYPLAN_EVALDATA``, else ``<repo>/../shared/evaldata``."""
    if root is not None:
        return Path(root)
    env = os.environ.get("TINYPLAN_EVALDATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "evaldata"


def _read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalDataError(f"{path}:{line_no}: not JSON: {exc.msg}") from exc
            if not isinstance(record, dict):
                raise EvalDataError(f"{path}:{line_no}: expected a JSON object per line")
            yield line_no, record


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvalDataError(f"{path}: not JSON: {exc.msg} (line {exc.lineno})") from exc


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise EvalDataError(f"limit must be >= 0, got {limit}")


# --------------------------------------------------------------------------------------------------------- BFCL
def _bfcl_canonical(values: list[Any]) -> tuple[Any, bool]:
    """The first acceptable value (nested specs reduced recursively) and whether omission is allowed."""
    optional = "" in values
    for v in values:
        if v == "":
            continue
        return _bfcl_reduce(v), optional
    return None, optional


def _bfcl_reduce(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, spec in value.items():
            if isinstance(spec, list):
                canonical, optional = _bfcl_canonical(spec)
                if canonical is None and optional:
                    continue
                out[k] = canonical
            else:
                out[k] = spec
        return out
    if isinstance(value, list):
        return [_bfcl_reduce(v) for v in value]
    return value


def load_bfcl(category: str, *, limit: int | None = None, root: str | os.PathLike[str] | None = None) -> list[EvalCase]:
    """Load a BFCL v4 single-turn category (see `BFCL_CATEGORIES`).

    Args:
        category: E.g. ``"parallel_multiple"``.
        limit: Keep the first ``limit`` cases (file order).
        root: The evaluation data folder (default: `default_root`).

    Returns:
        Cases with ``arg_rules="bfcl"``; irrelevance cases have an empty gold plan.

    Raises:
        EvalDataError: Unknown category, missing file, malformed record, or an answer naming a tool not offered.
    """
    _check_limit(limit)
    stem = BFCL_CATEGORIES.get(category)
    if stem is None:
        raise EvalDataError(f"unknown BFCL category {category!r}; known: {', '.join(sorted(BFCL_CATEGORIES))}")
    folder = default_root(root) / "bfcl"
    questions = folder / f"BFCL_v4_{stem}.json"
    answers: dict[str, list[Any]] = {}
    if stem != "irrelevance":
        answer_path = folder / "possible_answer" / f"BFCL_v4_{stem}.json"
        for line_no, rec in _read_json_lines(answer_path):
            if "id" not in rec or not isinstance(rec.get("ground_truth"), list):
                raise EvalDataError(f"{answer_path}:{line_no}: needs id and ground_truth")
            answers[str(rec["id"])] = rec["ground_truth"]
    spec = f"bfcl:{category}"
    cases: list[EvalCase] = []
    for line_no, rec in _read_json_lines(questions):
        if limit is not None and len(cases) >= limit:
            break
        where = f"{questions}:{line_no}"
        try:
            case_id = str(rec["id"])
            turns = rec["question"]
            functions = rec["function"]
            messages = [m for turn in turns for m in turn]
            request = "\n\n".join(str(m["content"]) for m in messages if m.get("role") == "user")
            system = "\n\n".join(str(m["content"]) for m in messages if m.get("role") == "system") or None
        except (KeyError, TypeError) as exc:
            raise EvalDataError(f"{where}: malformed BFCL record ({exc!r})") from exc
        name_map: dict[str, str] = {}
        back: dict[str, str] = {}
        param_back: dict[str, dict[str, str]] = {}
        tools: list[dict[str, Any]] = []
        for fn in functions:
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise EvalDataError(f"{where}: a function without a name")
            safe = sanitize_name(fn["name"], name_map)
            name_map[safe] = fn["name"]
            back[fn["name"]] = safe
            renamed: dict[str, str] = {}
            tools.append(_tool_schema(safe, str(fn.get("description", "")), fn.get("parameters") or {}, renamed))
            param_back[safe] = {orig: new for new, orig in renamed.items()}
        gold: list[GoldCall] = []
        if stem != "irrelevance":
            if case_id not in answers:
                raise EvalDataError(f"{where}: no ground truth for {case_id!r} in possible_answer")
            for i, entry in enumerate(answers[case_id], 1):
                if not isinstance(entry, dict) or len(entry) != 1:
                    raise EvalDataError(f"{case_id}: ground-truth call {i} is not a one-key object")
                ((source_name, arg_specs),) = entry.items()
                if source_name not in back:
                    raise EvalDataError(f"{case_id}: ground truth calls {source_name!r}, which is not offered")
                acceptable: dict[str, list[Any]] = {}
                args: dict[str, Any] = {}
                optional: set[str] = set()
                renames = param_back[back[source_name]]
                for source_arg, values in (arg_specs or {}).items():
                    arg = renames.get(source_arg, source_arg)
                    values = values if isinstance(values, list) else [values]
                    acceptable[arg] = values
                    canonical, may_omit = _bfcl_canonical(values)
                    if may_omit:
                        optional.add(arg)
                    if not (may_omit and canonical is None):
                        args[arg] = canonical
                gold.append(
                    GoldCall(
                        idx=i, tool=back[source_name], args=args, acceptable=acceptable, optional=frozenset(optional)
                    )
                )
        cases.append(
            EvalCase(
                id=case_id,
                dataset=spec,
                request=request,
                tools=tools,
                gold=gold,
                name_map=name_map,
                arg_rules="bfcl",
                system=system,
            )
        )
    return cases


# ------------------------------------------------------------------------------------------------------- T-Eval
_TEVAL_FINISH = "FinishAction"

#: How `load_teval` builds a gold plan's dependencies: ``"recorded"`` keeps T-Eval's ``prev`` edges; ``"data"``
#: keeps only the edges into steps that need a value from an earlier step (see `teval_reads_from_request`).
TEVAL_EDGES = ("recorded", "data")

_WORD = re.compile(r"[^\W_]+")
_NUMBER_WORDS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"),
)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


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
        return isinstance(number, int) and 0 <= number <= 20 and _NUMBER_WORDS[number] in _words(request)
    text = str(value)
    if not text.strip() or text.casefold() in request.casefold():
        return True
    date = _ISO_DATE.fullmatch(text.strip())
    if date:
        return _date_named(int(date[1]), int(date[2]), int(date[3]), request)
    clock = _CLOCK.fullmatch(text.strip())
    if clock:
        return _time_named(int(clock[1]), int(clock[2]), request)
    words = _words(text)
    if not words:
        return False
    known = set(_words(request))
    return sum(w in known for w in words) * 2 >= len(words)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _teval_data_dependencies(
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


def _teval_tools(api_path: Path) -> dict[str, dict[str, Any]]:
    toolkits = _read_json(api_path)
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


def _teval_example(request: str, gold: Sequence[GoldCall]) -> str:
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
        lines.append(_call_line(call.idx, call.tool, args))
    lines.append(_join_line(gold))
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

    Raises:
        EvalDataError: Missing files, a malformed sample, a step naming an API that is not described, or an unknown
            ``edges`` value.
    """
    _check_limit(limit)
    if edges not in TEVAL_EDGES:
        raise EvalDataError(f"unknown T-Eval edges {edges!r}: use one of {', '.join(TEVAL_EDGES)}")
    spec = (
        "teval" if edges == "recorded" and not dependent_only else "teval:dependent" if dependent_only else "teval:data"
    )
    folder = default_root(root) / "teval"
    apis = _teval_tools(folder / "api_descrip.json")
    data = _read_json(folder / "plan_json_v1.json")
    if not isinstance(data, dict):
        raise EvalDataError(f"{folder / 'plan_json_v1.json'}: expected an object keyed by sample id")
    cases: list[EvalCase] = []
    for case_id, sample in data.items():
        if limit is not None and len(cases) >= limit:
            break
        try:
            api_list = list(sample["meta"]["API_list"])
            user = [m["content"] for m in sample["origin_prompt"] if m.get("role") == "user"]
            steps = sample["ground_truth"]
        except (KeyError, TypeError) as exc:
            raise EvalDataError(f"T-Eval sample {case_id}: malformed ({exc!r})") from exc
        if not user:
            raise EvalDataError(f"T-Eval sample {case_id}: no user message")
        name_map: dict[str, str] = {}
        back: dict[str, str] = {}
        param_back: dict[str, dict[str, str]] = {}
        tools: list[dict[str, Any]] = []
        used = [s.get("name") for s in steps if isinstance(s, dict)]
        for full in dict.fromkeys([*api_list, *(n for n in used if n != _TEVAL_FINISH)]):
            if full not in apis:
                raise EvalDataError(f"T-Eval sample {case_id}: API {full!r} is not in api_descrip.json")
            safe = sanitize_name(full, name_map)
            name_map[safe] = full
            back[full] = safe
            renamed: dict[str, str] = {}
            tools.append(_tool_schema(safe, apis[full]["description"], apis[full]["parameters"], renamed))
            param_back[safe] = {orig: new for new, orig in renamed.items()}
        gold: list[GoldCall] = []
        by_idx: dict[int, GoldCall] = {}  # the calls so far, by number
        for step in steps:
            try:
                name, sid, prev, args = step["name"], int(step["id"]), step.get("prev", []), step.get("args") or {}
            except (KeyError, TypeError, ValueError) as exc:
                raise EvalDataError(f"T-Eval sample {case_id}: malformed step ({exc!r})") from exc
            if name == _TEVAL_FINISH:
                continue
            if not isinstance(args, dict):
                raise EvalDataError(f"T-Eval sample {case_id}: step {sid} args is not an object")
            renames = param_back[back[name]]
            declared = apis[name]["parameters"]["properties"]
            # 5 of 2660 calls pass arguments their API does not declare (e.g. ArxivSearch "limit"): a model cannot
            # know them and the tool would reject them, so they are dropped from the gold call
            args = {renames.get(k, k): v for k, v in args.items() if k in declared}
            deps = tuple(sorted({int(p) + 1 for p in prev}))
            if any(d >= sid + 1 for d in deps):
                raise EvalDataError(f"T-Eval sample {case_id}: step {sid} depends on a later step {prev}")
            if edges == "data":
                deps = _teval_data_dependencies(args, deps, str(user[-1]), by_idx)
            gold.append(
                GoldCall(
                    idx=sid + 1,
                    tool=back[name],
                    args=dict(args),
                    dependencies=deps,
                    acceptable={k: [v] for k, v in args.items()},
                )
            )
            by_idx[sid + 1] = gold[-1]
        for g in gold:
            missing = [d for d in g.dependencies if d not in by_idx]
            if missing:
                raise EvalDataError(f"T-Eval sample {case_id}: step {g.idx - 1} depends on unknown steps {missing}")
        if dependent_only and not any(g.dependencies for g in gold):
            continue
        request = str(user[-1])
        cases.append(
            EvalCase(
                id=str(case_id),
                dataset=spec,
                request=request,
                tools=tools,
                gold=gold,
                name_map=name_map,
                group=str(case_id).rsplit("_", 1)[0],
                example=_teval_example(request, gold),
            )
        )
    return cases


# ---------------------------------------------------------------------------------------------- plan-text gold
def _bind(task: Task, schema_params: Sequence[str], where: str) -> dict[str, Any]:
    if len(task.args) > len(schema_params):
        raise EvalDataError(f"{where}: task {task.idx} {task.name}() has more positional arguments than parameters")
    bound = dict(zip(schema_params, task.args, strict=False))
    for k, v in task.kwargs.items():
        if k in bound:
            raise EvalDataError(f"{where}: task {task.idx} {task.name}() gives {k!r} twice")
        bound[k] = v
    return bound


def _gold_from_plan(plan: str, tools: Sequence[Mapping[str, Any]], where: str) -> list[GoldCall]:
    params = {t["function"]["name"]: list(t["function"]["parameters"].get("properties") or {}) for t in tools}
    try:
        tasks = parse_plan(plan, tools=set(params))
    except PlanParseError as exc:
        raise EvalDataError(f"{where}: the gold plan does not parse: {exc}") from exc
    if not tasks or not tasks[-1].is_join:
        raise EvalDataError(f"{where}: the gold plan must end with join()")
    gold = []
    for t in tasks[:-1]:
        args = _bind(t, params[t.name], where)
        gold.append(
            GoldCall(
                idx=t.idx,
                tool=t.name,
                args=args,
                dependencies=t.dependencies,
                acceptable={k: [v] for k, v in args.items()},
            )
        )
    return gold


def _sanitized_tools(raw_tools: Any, where: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    if not isinstance(raw_tools, list):
        raise EvalDataError(f"{where}: 'tools' must be a list of OpenAI function schemas")
    tools: list[dict[str, Any]] = []
    name_map: dict[str, str] = {}
    for raw in raw_tools:
        fn = raw.get("function") if isinstance(raw, dict) and raw.get("type") == "function" else raw
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise EvalDataError(f"{where}: a tool schema without a name: {raw!r:.200}")
        safe = sanitize_name(fn["name"], name_map)
        if safe != fn["name"]:
            raise EvalDataError(
                f"{where}: tool name {fn['name']!r} is not a valid tool name (use e.g. {safe!r}): plans must call it"
            )
        if safe in name_map:
            raise EvalDataError(f"{where}: duplicate tool name {safe!r}")
        name_map[safe] = fn["name"]
        schema = _tool_schema(safe, str(fn.get("description", "")), fn.get("parameters") or {})
        if isinstance(fn.get("outputSchema"), dict):  # MCP's name for a result schema (NesTools carries it)
            schema["function"]["outputSchema"] = fn["outputSchema"]
        tools.append(schema)
    return tools, name_map


def load_jsonl(path: str | os.PathLike[str], *, limit: int | None = None) -> list[EvalCase]:
    """Load the generic JSONL format: one object per line, ``{"request", "tools", "plan"}`` (+ optional ``id``).

    ``tools`` is a list of OpenAI function schemas (bare ``{name, description, parameters}`` or wrapped
    ``{"type": "function", "function": {...}}``); ``plan`` is LLMCompiler plan text ending in ``join()``, whose
    ``$N`` references give the dependencies. Tool names must already be valid tool names. Arguments compare exactly.

    Raises:
        EvalDataError: A missing file, a line that is not an object with these keys, or a gold plan that does not
            parse against the listed tools (the line number is named).
    """
    _check_limit(limit)
    p = Path(path)
    cases: list[EvalCase] = []
    for line_no, rec in _read_json_lines(p):
        if limit is not None and len(cases) >= limit:
            break
        where = f"{p}:{line_no}"
        for key, kind in (("request", str), ("plan", str), ("tools", list)):
            if not isinstance(rec.get(key), kind):
                raise EvalDataError(f"{where}: needs {key!r} ({kind.__name__})")
        tools, name_map = _sanitized_tools(rec["tools"], where)
        gold = _gold_from_plan(rec["plan"], tools, where)
        cases.append(
            EvalCase(
                id=str(rec.get("id", line_no)),
                dataset=f"jsonl:{p.name}",
                request=rec["request"],
                tools=tools,
                gold=gold,
                name_map=name_map,
            )
        )
    return cases


# ------------------------------------------------------------------------------------------- Mac toolset examples
def load_mac(*, limit: int | None = None) -> list[EvalCase]:
    """The Mac toolset's own example plans, leave-one-out: TinyAgent's 16 tools, each example's question as the
    request and its plan as the gold, the other examples (and the toolset's rules) in the planner prompt.

    Needs the ``mac`` extra (the toolset's schemas come from the real tools).

    Raises:
        EvalDataError: The ``mac`` extra is missing, or an example plan does not parse against the tools.
    """
    _check_limit(limit)
    try:
        from tinyplan.toolsets.mac import MAC_EXAMPLES, mac_instructions, mac_toolset, sample_home_path
    except ImportError as exc:
        raise EvalDataError(f"the mac dataset needs the Mac toolset: pip install 'tinyplan[mac]' ({exc})") from exc
    toolset = mac_toolset(sample_home_path(), driver="portable")  # for the schemas only: nothing is called
    raw = toolset.openai_schemas()
    for schema, real in zip(raw, toolset, strict=True):
        returned = result_semantic(real)  # for the plan checks (self_check); the prompt shows no result schema
        if returned is not None:
            schema["function"]["outputSchema"] = {"type": "string", "x-semantic": returned.name}
    tools, name_map = _sanitized_tools(raw, "mac toolset")
    texts = [text for _, text in MAC_EXAMPLES]
    rules = tuple(mac_instructions(toolset.names))
    cases: list[EvalCase] = []
    for i, text in enumerate(texts):
        if limit is not None and len(cases) >= limit:
            break
        where = f"mac example {i + 1}"
        head, _, plan = text.partition("\n")
        if not head.startswith("Question: "):
            raise EvalDataError(f"{where}: an example starts with 'Question: '")
        cases.append(
            EvalCase(
                id=f"mac_{i + 1}",
                dataset="mac",
                request=head.removeprefix("Question: ").strip(),
                tools=tools,
                gold=_gold_from_plan(plan, tools, where),
                name_map=name_map,
                examples=tuple(texts[:i] + texts[i + 1 :]),
                instructions=rules,
                cues=tuple(toolset.cues),
                needs_cue=tuple(toolset.needs_cue),
            )
        )
    return cases


# ---------------------------------------------------------------------------------------------------- TinyAgent
def _infer_type(values: list[Any]) -> dict[str, Any]:
    kinds: set[str] = set()
    for v in values:
        if isinstance(v, (Ref, Interpolated)) or (isinstance(v, str) and v.startswith("$")):
            return {}
        if isinstance(v, bool):
            kinds.add("boolean")
        elif isinstance(v, int):
            kinds.add("integer")
        elif isinstance(v, float):
            kinds.add("number")
        elif isinstance(v, str):
            kinds.add("string")
        elif isinstance(v, (list, tuple)):
            kinds.add("array")
        elif isinstance(v, dict):
            kinds.add("object")
    if kinds == {"integer", "number"}:
        kinds = {"number"}
    return {"type": kinds.pop()} if len(kinds) == 1 else {}


def load_tinyagent(path: str | os.PathLike[str], *, limit: int | None = None) -> list[EvalCase]:
    """Load TinyAgent's published dataset format (Erdogan et al. 2024, "TinyAgent: Function Calling at the Edge").

    The file is ``{id: {"input": request, "output": [{"type": "plan", "raw_output": plan text, "parsed_output":
    [{"tool_name", "tool_args"}]}, ...]}}``. The gold plan is ``raw_output`` (parsed; its ``$N`` references give the
    dependencies); when it does not parse, ``parsed_output`` is used with references read from ``"$N"`` strings.
    Tool schemas are not part of the format: a record's ``tools`` key (OpenAI schemas) is used when present, else the
    schemas are inferred from every call in the file (parameter names from keyword arguments, ``arg1``... for
    positional ones; types from the values).

    Raises:
        EvalDataError: A missing file, a record without an ``input`` or a ``plan`` output.
    """
    _check_limit(limit)
    p = Path(path)
    data = _read_json(p)
    if not isinstance(data, dict):
        raise EvalDataError(f"{p}: expected an object keyed by case id")
    records: list[tuple[str, str, list[Task], Any]] = []
    for case_id, rec in data.items():
        where = f"{p}: case {case_id}"
        if not isinstance(rec, dict) or not isinstance(rec.get("input"), str):
            raise EvalDataError(f"{where}: needs an 'input' string")
        plans = [o for o in rec.get("output", []) if isinstance(o, dict) and o.get("type") == "plan"]
        if not plans:
            raise EvalDataError(f"{where}: no output of type 'plan'")
        plan = plans[0]
        tasks: list[Task] | None = None
        if isinstance(plan.get("raw_output"), str):
            try:
                tasks = parse_plan(plan["raw_output"])
            except PlanParseError:
                tasks = None
        if tasks is None:
            tasks = _tasks_from_parsed_output(plan.get("parsed_output"), where)
        records.append((str(case_id), rec["input"], tasks, rec.get("tools")))
    inferred = _infer_tinyagent_tools([t for _, _, tasks, _ in records for t in tasks])
    cases: list[EvalCase] = []
    for case_id, request, tasks, raw_tools in records:
        if limit is not None and len(cases) >= limit:
            break
        where = f"{p}: case {case_id}"
        if raw_tools is not None:
            tools, name_map = _sanitized_tools(raw_tools, where)
        else:
            tools = list(inferred.values())
            name_map = {n: n for n in inferred}
        params = {t["function"]["name"]: list(t["function"]["parameters"]["properties"]) for t in tools}
        gold: list[GoldCall] = []
        for t in tasks:
            if t.is_join:
                continue
            if t.name not in params:
                raise EvalDataError(f"{where}: the plan calls {t.name!r}, which is not among its tools")
            args = _bind(t, params[t.name], where)
            gold.append(
                GoldCall(
                    idx=t.idx,
                    tool=t.name,
                    args=args,
                    dependencies=t.dependencies,
                    acceptable={k: [v] for k, v in args.items()},
                )
            )
        cases.append(
            EvalCase(
                id=case_id, dataset=f"tinyagent:{p.name}", request=request, tools=tools, gold=gold, name_map=name_map
            )
        )
    return cases


_PARSED_REF = re.compile(r"\$(\d+)")


def _tasks_from_parsed_output(parsed: Any, where: str) -> list[Task]:
    if not isinstance(parsed, list):
        raise EvalDataError(f"{where}: the plan neither parses nor has a 'parsed_output' list")
    tasks: list[Task] = []
    for i, call in enumerate(parsed, 1):
        if not isinstance(call, dict) or not isinstance(call.get("tool_name"), str):
            raise EvalDataError(f"{where}: parsed_output entry {i} has no tool_name")
        raw_args = call.get("tool_args", [])
        args: tuple[Any, ...] = ()
        kwargs: dict[str, Any] = {}
        if isinstance(raw_args, dict):
            kwargs = dict(raw_args)
        elif isinstance(raw_args, list):
            args = tuple(raw_args)
        else:
            args = (raw_args,)
        deps = sorted({int(m) for m in _PARSED_REF.findall(json.dumps([args, kwargs])) if 0 < int(m) < i})
        tasks.append(Task(idx=i, name=call["tool_name"], args=args, kwargs=kwargs, dependencies=tuple(deps)))
    if tasks and tasks[-1].name == JOIN:
        tasks[-1] = Task(idx=tasks[-1].idx, name=JOIN, dependencies=tuple(t.idx for t in tasks[:-1]))
    return tasks


def _infer_tinyagent_tools(tasks: Sequence[Task]) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, list[Any]]] = {}
    positional: dict[str, int] = {}
    for t in tasks:
        if t.is_join:
            continue
        params = seen.setdefault(t.name, {})
        positional[t.name] = max(positional.get(t.name, 0), len(t.args))
        for i, v in enumerate(t.args, 1):
            params.setdefault(f"arg{i}", []).append(v)
        for k, v in t.kwargs.items():
            params.setdefault(k, []).append(v)
    out: dict[str, dict[str, Any]] = {}
    for name, params in seen.items():
        ordered = [f"arg{i}" for i in range(1, positional[name] + 1)] + [k for k in params if not k.startswith("arg")]
        props = {k: _infer_type(params[k]) for k in ordered}
        out[name] = _tool_schema(
            sanitize_name(name),
            f"{name} (schema inferred from the dataset's calls)",
            {"type": "object", "properties": props, "required": []},
        )
    return out


def spread(cases: Sequence[EvalCase], n: int) -> list[EvalCase]:
    """``n`` cases evenly spaced over ``cases`` (the first one included), in order: a deterministic sample that,
    unlike the first ``n``, covers the whole dataset (T-Eval's file order clusters long plans of one toolkit).

    Raises:
        EvalDataError: ``n`` is not positive.
    """
    if n < 1:
        raise EvalDataError(f"a sample needs at least one case, got {n}")
    if n >= len(cases):
        return list(cases)
    return [cases[(i * len(cases)) // n] for i in range(n)]


def with_examples(cases: Sequence[EvalCase], k: int, pool: Sequence[EvalCase] | None = None) -> list[EvalCase]:
    """Give each case the ``k`` most similar other cases as in-context example plans (leave-one-out few-shot).

    TinyAgent shows its planner the example plans closest to the request (retrieved from its training data); a
    dataset without a training split can do the same leave-one-out. An example is eligible when it calls at least
    one tool, every tool it calls is offered to the case (the typed grammar allows no other), and it is not in the
    case's `EvalCase.group` (another wording of the same request would give the answer away). Eligible examples are
    ranked by the overlap of request words (Jaccard), at most one per group; the most similar comes last, nearest the
    question. A case with no eligible example keeps the planner's generic examples. The examples replace the case's
    own (``mac``'s leave-one-out list).

    Args:
        cases: The cases to evaluate.
        k: Examples per case (at least 1).
        pool: The cases examples come from (default: ``cases``; pass the whole dataset when ``cases`` is a sample).

    Returns:
        New cases, in order, with ``examples`` set.

    Raises:
        EvalDataError: ``k`` is not positive.
    """
    if k < 1:
        raise EvalDataError(f"examples per case must be at least 1, got {k}")
    source = list(cases if pool is None else pool)

    def group_of(c: EvalCase) -> str:
        return c.group or c.id

    words = {id(c): set(_words(c.request)) for c in [*source, *cases]}
    tools_of = {id(c): {g.tool for g in c.gold} for c in source}
    out: list[EvalCase] = []
    for case in cases:
        offered, mine = set(case.tool_names), words[id(case)]
        ranked: list[tuple[float, int, EvalCase]] = []
        for i, other in enumerate(source):
            if not other.gold or group_of(other) == group_of(case) or not tools_of[id(other)] <= offered:
                continue
            theirs = words[id(other)]
            ranked.append((len(mine & theirs) / max(1, len(mine | theirs)), -i, other))
        ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
        chosen: list[EvalCase] = []
        groups: set[str] = set()
        for _, _, other in ranked:
            if len(chosen) == k:
                break
            if group_of(other) not in groups:
                chosen.append(other)
                groups.add(group_of(other))
        out.append(dataclasses.replace(case, examples=tuple(c.example_text() for c in reversed(chosen))))
    return out


# ------------------------------------------------------------------------------------------------------- entry
def load_dataset(spec: str, *, limit: int | None = None, root: str | os.PathLike[str] | None = None) -> list[EvalCase]:
    """Load evaluation cases from a dataset spec.

    Args:
        spec: ``bfcl:<category>`` (see `BFCL_CATEGORIES`), ``teval`` (its recorded ``prev`` edges), ``teval:data``
            (data dependencies only), ``teval:dependent`` (``teval:data`` cases with at least one dependency),
            ``mac``, ``tinyagent:PATH`` or ``jsonl:PATH``.
        limit: Keep at most this many cases (the first ones in file order).
        root: Data folder for ``bfcl``/``teval`` (default: `default_root`).

    Returns:
        The cases, in file order.

    Raises:
        EvalDataError: An unknown spec, missing data or a malformed record.
    """
    kind, _, arg = spec.partition(":")
    if kind == "bfcl":
        if not arg:
            raise EvalDataError("bfcl needs a category, e.g. bfcl:parallel_multiple")
        return load_bfcl(arg, limit=limit, root=root)
    if kind == "teval":
        if arg not in ("", "recorded", "data", "dependent"):
            raise EvalDataError(f"unknown T-Eval variant {spec!r}: use teval, teval:data or teval:dependent")
        return load_teval(
            limit=limit,
            root=root,
            edges="data" if arg in ("data", "dependent") else "recorded",
            dependent_only=arg == "dependent",
        )
    if kind == "mac":
        return load_mac(limit=limit)
    if kind == "jsonl":
        if not arg:
            raise EvalDataError("jsonl needs a path, e.g. jsonl:cases.jsonl")
        return load_jsonl(arg, limit=limit)
    if kind == "tinyagent":
        if not arg:
            raise EvalDataError("tinyagent needs a path, e.g. tinyagent:testing_data.json")
        return load_tinyagent(arg, limit=limit)
    raise EvalDataError(
        f"unknown dataset spec {spec!r}: use bfcl:<category>, teval[:data|:dependent], mac, tinyagent:PATH or "
        "jsonl:PATH"
    )
