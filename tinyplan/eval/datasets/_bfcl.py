"""BFCL v4: the Berkeley Function Calling Leaderboard's single-turn categories (Patil et al., gorilla repository).

Questions come from ``bfcl/BFCL_v4_<stem>.json``, answers from ``bfcl/possible_answer/BFCL_v4_<stem>.json``: several
acceptable values per argument, ``""`` meaning the argument may be omitted. BFCL calls have no dependencies between
them; an ``irrelevance`` case's right plan calls no tool (just ``1. join()``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tinyplan.eval.datasets._case import EvalCase, EvalDataError, GoldCall
from tinyplan.eval.datasets._files import check_limit, default_root, read_json_lines
from tinyplan.eval.datasets._schemas import OfferedTools

__all__ = ["BFCL_CATEGORIES", "load_bfcl"]

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


def _canonical(values: list[Any]) -> tuple[Any, bool]:
    """The first acceptable value (nested specs reduced recursively) and whether omission is allowed."""
    optional = "" in values
    for v in values:
        if v == "":
            continue
        return _reduce(v), optional
    return None, optional


def _reduce(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, spec in value.items():
            if isinstance(spec, list):
                canonical, optional = _canonical(spec)
                if canonical is None and optional:
                    continue
                out[k] = canonical
            else:
                out[k] = spec
        return out
    if isinstance(value, list):
        return [_reduce(v) for v in value]
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
    check_limit(limit)
    stem = BFCL_CATEGORIES.get(category)
    if stem is None:
        raise EvalDataError(f"unknown BFCL category {category!r}; known: {', '.join(sorted(BFCL_CATEGORIES))}")
    folder = default_root(root) / "bfcl"
    questions = folder / f"BFCL_v4_{stem}.json"
    relevant = stem != "irrelevance"
    answers = _read_answers(folder / "possible_answer" / f"BFCL_v4_{stem}.json") if relevant else {}
    spec = f"bfcl:{category}"
    cases: list[EvalCase] = []
    for line_no, rec in read_json_lines(questions):
        if limit is not None and len(cases) >= limit:
            break
        where = f"{questions}:{line_no}"
        case_id, request, system, functions = _read_question(rec, where)
        offered = _offered_tools(functions, where)
        gold: list[GoldCall] = []
        if relevant:
            if case_id not in answers:
                raise EvalDataError(f"{where}: no ground truth for {case_id!r} in possible_answer")
            gold = _gold(case_id, answers[case_id], offered)
        cases.append(
            EvalCase(
                id=case_id,
                dataset=spec,
                request=request,
                tools=offered.tools,
                gold=gold,
                name_map=offered.name_map,
                arg_rules="bfcl",
                system=system,
            )
        )
    return cases


def _read_answers(answer_path: Path) -> dict[str, list[Any]]:
    """The ``ground_truth`` calls of each case id in a ``possible_answer`` file."""
    answers: dict[str, list[Any]] = {}
    for line_no, rec in read_json_lines(answer_path):
        if "id" not in rec or not isinstance(rec.get("ground_truth"), list):
            raise EvalDataError(f"{answer_path}:{line_no}: needs id and ground_truth")
        answers[str(rec["id"])] = rec["ground_truth"]
    return answers


def _read_question(rec: dict[str, Any], where: str) -> tuple[str, str, str | None, Any]:
    """A question record's id, user request, system message (None: none) and function list."""
    try:
        case_id = str(rec["id"])
        turns = rec["question"]
        functions = rec["function"]
        messages = [m for turn in turns for m in turn]
        request = "\n\n".join(str(m["content"]) for m in messages if m.get("role") == "user")
        system = "\n\n".join(str(m["content"]) for m in messages if m.get("role") == "system") or None
    except (KeyError, TypeError) as exc:
        raise EvalDataError(f"{where}: malformed BFCL record ({exc!r})") from exc
    return case_id, request, system, functions


def _offered_tools(functions: Any, where: str) -> OfferedTools:
    offered = OfferedTools()
    for fn in functions:
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise EvalDataError(f"{where}: a function without a name")
        offered.add(fn["name"], str(fn.get("description", "")), fn.get("parameters") or {})
    return offered


def _gold(case_id: str, entries: list[Any], offered: OfferedTools) -> list[GoldCall]:
    """The gold calls of a case's ``ground_truth``: ``[{source tool name: {argument: acceptable values}}, ...]``."""
    gold: list[GoldCall] = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise EvalDataError(f"{case_id}: ground-truth call {i} is not a one-key object")
        ((source_name, arg_specs),) = entry.items()
        if source_name not in offered.back:
            raise EvalDataError(f"{case_id}: ground truth calls {source_name!r}, which is not offered")
        tool = offered.back[source_name]
        gold.append(_gold_call(i, tool, arg_specs, offered.param_back[tool]))
    return gold


def _gold_call(idx: int, tool: str, arg_specs: Any, renames: dict[str, str]) -> GoldCall:
    acceptable: dict[str, list[Any]] = {}
    args: dict[str, Any] = {}
    optional: set[str] = set()
    for source_arg, values in (arg_specs or {}).items():
        arg = renames.get(source_arg, source_arg)
        values = values if isinstance(values, list) else [values]
        acceptable[arg] = values
        canonical, may_omit = _canonical(values)
        if may_omit:
            optional.add(arg)
        if not (may_omit and canonical is None):
            args[arg] = canonical
    return GoldCall(idx=idx, tool=tool, args=args, acceptable=acceptable, optional=frozenset(optional))
