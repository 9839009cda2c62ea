"""SFT export: each example as the exact prompt the planner sends, with its plan as the completion.

Two JSONL shapes, read by TRL's ``SFTTrainer``, LLaMA-Factory and Unsloth:

* ``chat``: ``{"messages": [system, user, assistant]}`` — the planner's chat form (static part as the system message,
  date and question as the user message), the plan as the assistant message;
* ``completion``: ``{"prompt": ..., "completion": ...}`` — the planner's plain-completion prompt (its default) and
  the plan.

The plan ends with ``<END_OF_PLAN>``, the stop string the planner sends, so a tuned model learns where to stop.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from tinyplan._prompt import ExampleSource, PromptRenderer
from tinyplan._syntax import END_OF_PLAN
from tinyplan._tools import Toolset
from tinyplan.data._store import read_examples

__all__ = ["ExportFormat", "export_sft", "sft_record"]

ExportFormat = Literal["chat", "completion"]


def sft_record(
    request: str,
    plan: str,
    toolset: Toolset,
    *,
    format: ExportFormat = "chat",
    today: dt.date,
    examples: Sequence[str] | None = None,
    bank: ExampleSource | None = None,
    renderer: PromptRenderer | None = None,
) -> dict[str, Any]:
    """One training record for ``(request, plan)``: the planner's prompt for the request and the plan.

    Args:
        request: The user's request.
        plan: The plan text (``<END_OF_PLAN>`` is added when missing).
        toolset: The tools (and their instructions) the planner offers.
        format: ``"chat"`` or ``"completion"``.
        today: The date the prompt shows.
        examples: The static part's examples (default: the toolset's own, as the planner uses them).
        bank: Also show this bank's examples for the request (the planner's ``bank=``); None: none.
        renderer: The prompt renderer (default: the package templates).
    """
    base = renderer or PromptRenderer()
    if bank is not None:
        base = base.with_bank(bank)
    parts = base.planner(
        list(toolset),
        request,
        instructions=toolset.instructions,
        examples=toolset.examples if examples is None else examples,
        today=today,
    )
    completion = plan.strip()
    if not completion.endswith(END_OF_PLAN):
        completion += END_OF_PLAN
    if format == "chat":
        return {
            "messages": [
                {"role": "system", "content": parts.static},
                {"role": "user", "content": parts.tail},
                {"role": "assistant", "content": completion},
            ]
        }
    if format == "completion":
        return {"prompt": parts.text, "completion": completion}
    raise ValueError(f"format must be 'chat' or 'completion', not {format!r}")


def export_sft(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    out: str | os.PathLike[str],
    toolset: Toolset,
    *,
    format: ExportFormat = "chat",
    splits: Sequence[str] | None = ("train",),
    today: dt.date | None = None,
    examples: Sequence[str] | None = None,
    bank: ExampleSource | None = None,
) -> int:
    """Write the SFT records of a synthesized JSONL file (or records) to ``out``; returns how many.

    Args:
        source: The examples' JSONL file, or the records themselves.
        out: The JSONL file to write (replaced).
        toolset: The tools the planner offers.
        format: ``"chat"`` (``messages``) or ``"completion"`` (``prompt``/``completion``).
        splits: Only examples of these splits (None: all).
        today: The date the prompts show (default: today).
        examples: The static examples (default: the toolset's own).
        bank: Add this bank's retrieved examples to each prompt (None: none).
    """
    records: Sequence[Mapping[str, Any]]
    if isinstance(source, str | os.PathLike):
        records = read_examples(source, splits=tuple(splits) if splits is not None else None)
    else:
        records = [r for r in source if splits is None or r.get("split") in splits]
    day = today or dt.date.today()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for line in _lines(records, toolset, format, day, examples, bank):
            fh.write(line)
            count += 1
    return count


def _lines(
    records: Iterable[Mapping[str, Any]],
    toolset: Toolset,
    format: ExportFormat,
    today: dt.date,
    examples: Sequence[str] | None,
    bank: ExampleSource | None,
) -> Iterator[str]:
    renderer = PromptRenderer()
    for record in records:
        item = sft_record(
            str(record["request"]),
            str(record["plan"]),
            toolset,
            format=format,
            today=today,
            examples=examples,
            bank=bank,
            renderer=renderer,
        )
        yield json.dumps(item, ensure_ascii=False) + "\n"
