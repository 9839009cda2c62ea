"""The generic JSONL format: one case per line, ``{"request", "tools", "plan"}`` with an optional ``id``."""

from __future__ import annotations

import os
from pathlib import Path

from tinyplan.eval.datasets._case import EvalCase, EvalDataError, gold_from_plan
from tinyplan.eval.datasets._files import check_limit, read_json_lines
from tinyplan.eval.datasets._schemas import sanitized_tools

__all__ = ["load_jsonl"]


def load_jsonl(path: str | os.PathLike[str], *, limit: int | None = None) -> list[EvalCase]:
    """Load the generic JSONL format: one object per line, ``{"request", "tools", "plan"}`` (+ optional ``id``).

    ``tools`` is a list of OpenAI function schemas (bare ``{name, description, parameters}`` or wrapped
    ``{"type": "function", "function": {...}}``); ``plan`` is LLMCompiler plan text ending in ``join()``, whose
    ``$N`` references give the dependencies. Tool names must already be valid tool names. Arguments compare exactly.

    Args:
        path: The JSONL file.
        limit: Keep the first ``limit`` cases (file order).

    Returns:
        The cases, in file order (id: the record's ``id``, else its line number).

    Raises:
        EvalDataError: A missing file, a line that is not an object with these keys, or a gold plan that does not
            parse against the listed tools (the line number is named).
    """
    check_limit(limit)
    p = Path(path)
    cases: list[EvalCase] = []
    for line_no, rec in read_json_lines(p):
        if limit is not None and len(cases) >= limit:
            break
        where = f"{p}:{line_no}"
        for key, kind in (("request", str), ("plan", str), ("tools", list)):
            if not isinstance(rec.get(key), kind):
                raise EvalDataError(f"{where}: needs {key!r} ({kind.__name__})")
        tools, name_map = sanitized_tools(rec["tools"], where)
        gold = gold_from_plan(rec["plan"], tools, where)
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
