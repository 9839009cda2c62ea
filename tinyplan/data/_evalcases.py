"""Evaluation cases from a synthesized examples file: ``tinyplan eval --dataset synth:PATH[:SPLIT]``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tinyplan._tools import Toolset
from tinyplan.data._store import read_examples

__all__ = ["bank_cases"]


def bank_cases(
    path: str | os.PathLike[str],
    *,
    splits: Sequence[str] = ("test",),
    toolset: Toolset | None = None,
    limit: int | None = None,
) -> list[object]:
    """`tinyplan.eval.EvalCase` s for the examples of some splits of a synthesized file (default: its test split).

    Each case offers the whole toolset (default: the Mac toolset, with its rules and hand-written examples, for a
    ``mac`` file; otherwise only the tools the record lists), so the model chooses among all tools as it would.
    """
    from tinyplan.eval.datasets._case import EvalCase, gold_from_plan
    from tinyplan.eval.datasets._schemas import sanitized_tools

    records = read_examples(path, splits=tuple(splits))
    if limit is not None:
        records = records[:limit]
    cases: list[object] = []
    name = Path(path).name
    mac: Toolset | None = None
    for number, record in enumerate(records, 1):
        tools_source = toolset
        instructions: tuple[str, ...] = ()
        examples: tuple[str, ...] = ()
        if tools_source is None and record.get("toolset") == "mac":
            if mac is None:
                from tinyplan.toolsets.mac import mac_toolset, sample_home_path

                mac = mac_toolset(sample_home_path(), driver="portable")  # for the schemas only
            tools_source = mac
        if tools_source is not None:
            schemas = tools_source.openai_schemas()
            instructions, examples = tuple(tools_source.instructions), tuple(tools_source.examples)
        else:
            schemas = list(record["tools"])
        where = f"{path}:{record.get('id', number)}"
        tools, name_map = sanitized_tools(schemas, where)
        cases.append(
            EvalCase(
                id=str(record.get("id", number)),
                dataset=f"synth:{name}:{'+'.join(splits)}",
                request=str(record["request"]),
                tools=tools,
                gold=gold_from_plan(str(record["plan"]), tools, where),
                name_map=name_map,
                instructions=instructions,
                examples=examples,
                group=str(record.get("skeleton", "")),
            )
        )
    return cases
