"""TinyAgent's published dataset format (Erdogan et al. 2024, "TinyAgent: Function Calling at the Edge").

``{id: {"input": request, "output": [{"type": "plan", "raw_output": plan text, "parsed_output": [...]}, ...]}}``;
the format has no tool schemas, so they are inferred from the calls when a record does not carry its own.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyplan._errors import PlanParseError
from tinyplan._parser import parse_plan
from tinyplan._syntax import JOIN
from tinyplan._types import Interpolated, Ref, Task
from tinyplan.eval.datasets._case import EvalCase, EvalDataError, GoldCall, task_gold_call
from tinyplan.eval.datasets._files import check_limit, read_json
from tinyplan.eval.datasets._schemas import sanitize_name, sanitized_tools, tool_schema

__all__ = ["load_tinyagent"]


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

    Args:
        path: The JSON file.
        limit: Keep the first ``limit`` cases (file order).

    Returns:
        The cases, in file order.

    Raises:
        EvalDataError: A missing file, a record without an ``input`` or a ``plan`` output.
    """
    check_limit(limit)
    p = Path(path)
    records = _read_records(p)
    inferred = _infer_tools([t for _, _, tasks, _ in records for t in tasks])
    cases: list[EvalCase] = []
    for case_id, request, tasks, raw_tools in records:
        if limit is not None and len(cases) >= limit:
            break
        where = f"{p}: case {case_id}"
        if raw_tools is not None:
            tools, name_map = sanitized_tools(raw_tools, where)
        else:
            tools = list(inferred.values())
            name_map = {n: n for n in inferred}
        gold = _gold(tasks, tools, where)
        cases.append(
            EvalCase(
                id=case_id, dataset=f"tinyagent:{p.name}", request=request, tools=tools, gold=gold, name_map=name_map
            )
        )
    return cases


def _read_records(p: Path) -> list[tuple[str, str, list[Task], Any]]:
    """Each record's id, request, plan tasks and ``tools`` (None: none), in file order."""
    data = read_json(p)
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
    return records


def _gold(tasks: Sequence[Task], tools: Sequence[dict[str, Any]], where: str) -> list[GoldCall]:
    params = {t["function"]["name"]: list(t["function"]["parameters"]["properties"]) for t in tools}
    gold: list[GoldCall] = []
    for t in tasks:
        if t.is_join:
            continue
        if t.name not in params:
            raise EvalDataError(f"{where}: the plan calls {t.name!r}, which is not among its tools")
        gold.append(task_gold_call(t, params[t.name], where))
    return gold


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


def _infer_tools(tasks: Sequence[Task]) -> dict[str, dict[str, Any]]:
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
        out[name] = tool_schema(
            sanitize_name(name),
            f"{name} (schema inferred from the dataset's calls)",
            {"type": "object", "properties": props, "required": []},
        )
    return out
