"""Training data for fine-tuning: the planner's exact prompt and the plan, as TRL prompt/completion records.

Three line shapes are read, one JSON object per line (all may be mixed in a file):

* a synthesized example (``tinyplan synth``, an example bank): ``{"request", "plan", "split"?}``, rendered here with
  `tinyplan.data.sft_record` — the same prompt the planner sends for the request, with the given toolset and prompt
  profile (default: no in-context examples, `tinyplan._prompt_profiles.without_examples`);
* an SFT export in completion form (``tinyplan synth export --format completion``): ``{"prompt", "completion"}``;
* an SFT export in chat form (``--format chat``): ``{"messages": [system, user, assistant]}``, whose plain-completion
  prompt is the system text, a newline and the user text (`tinyplan.PromptParts.text`).

Records carry a ``split`` (``train``, ``validation``, ``test``; an export has none: ``train``). The plan ends with
``<END_OF_PLAN>``, the planner's stop string, so the tuned model learns where a plan ends.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyplan._prompt import PromptRenderer
from tinyplan._prompt_profiles import PromptProfile, renderer_for
from tinyplan._tools import Toolset
from tinyplan.finetune._errors import TrainingDataError

__all__ = ["TrainingData", "load_training_data", "record_to_pair"]


@dataclass
class TrainingData:
    """Prompt/completion pairs by split.

    Attributes:
        path: The file they were read from.
        splits: ``{split: [{"prompt": str, "completion": str}, ...]}``; the pairs in file order.
        profile: The prompt profile rendered examples got (serve the tuned model with the same one).
    """

    path: Path
    splits: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    profile: PromptProfile = "no-examples"

    @property
    def train(self) -> list[dict[str, str]]:
        """The ``train`` split (empty when there is none)."""
        return self.splits.get("train", [])

    @property
    def validation(self) -> list[dict[str, str]]:
        """The ``validation`` split (empty when there is none)."""
        return self.splits.get("validation", [])


def record_to_pair(
    record: Mapping[str, Any],
    *,
    toolset: Toolset | None,
    renderer: PromptRenderer,
    today: dt.date,
    examples: Sequence[str] | None,
) -> dict[str, str]:
    """One line's record as ``{"prompt", "completion"}``.

    Args:
        record: The parsed line (see the module docs for the shapes).
        toolset: The tools the planner offers, for ``request``/``plan`` records (None: such records are an error).
        renderer: The prompt renderer (its profile decides whether examples are shown).
        today: The date the rendered prompts show.
        examples: The static examples for rendered prompts (None: the toolset's own).

    Raises:
        ValueError: The record has none of the shapes, or a field is not text (the message says which).
    """
    if "prompt" in record or "completion" in record:
        prompt, completion = record.get("prompt"), record.get("completion")
        if not isinstance(prompt, str) or not isinstance(completion, str) or not completion.strip():
            raise ValueError("'prompt' and 'completion' must both be non-empty text")
        return {"prompt": prompt, "completion": completion}
    if "messages" in record:
        return _chat_pair(record["messages"])
    if "request" in record and "plan" in record:
        request, plan = record["request"], record["plan"]
        if not isinstance(request, str) or not isinstance(plan, str) or not plan.strip():
            raise ValueError("'request' and 'plan' must both be non-empty text")
        if toolset is None:
            raise ValueError("a request/plan record needs a toolset to render the planner's prompt")
        from tinyplan.data._export import sft_record

        item = sft_record(
            request, plan, toolset, format="completion", today=today, examples=examples, renderer=renderer
        )
        return {"prompt": str(item["prompt"]), "completion": str(item["completion"])}
    raise ValueError(
        "expected a synthesized example ('request', 'plan') or an SFT record ('prompt'/'completion' or 'messages')"
    )


def _chat_pair(messages: Any) -> dict[str, str]:
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError("'messages' must be a list of {'role', 'content'} objects")
    roles = [m.get("role") for m in messages]
    contents = [m.get("content") for m in messages]
    if not roles or roles[-1] != "assistant" or not all(isinstance(c, str) for c in contents):
        raise ValueError("'messages' must end with an assistant message, and every content must be text")
    before = [str(c) for r, c in zip(roles[:-1], contents[:-1], strict=True) if r in ("system", "user")]
    if not before:
        raise ValueError("'messages' has no system or user message before the assistant's")
    return {"prompt": "\n".join(before), "completion": str(contents[-1])}


def load_training_data(
    path: str | os.PathLike[str],
    *,
    toolset: Toolset | None = None,
    profile: PromptProfile = "no-examples",
    renderer: PromptRenderer | None = None,
    today: dt.date | None = None,
    examples: Sequence[str] | None = None,
) -> TrainingData:
    """Read a data file into prompt/completion pairs by split, checking every line.

    Args:
        path: A JSONL file (see the module docs for the line shapes).
        toolset: The tools the planner offers, for synthesized examples (``request``/``plan`` lines).
        profile: The prompt profile rendered examples get: ``no-examples`` (default: a fine-tuned model needs none)
            or ``examples`` (the toolset's in-context examples, as the planner shows them by default).
        renderer: The renderer to start from (default: the package templates); ``profile`` is applied to it.
        today: The date rendered prompts show (default: today).
        examples: The static examples of the ``examples`` profile (None: the toolset's own).

    Returns:
        The pairs by split.

    Raises:
        TrainingDataError: The file cannot be read, a line is not JSON or has none of the shapes (file and line in
            the message), or the file holds no training pair.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingDataError(str(source), 0, f"cannot read the data file ({exc})") from exc
    chosen = renderer_for(profile, renderer)
    day = today or dt.date.today()
    data = TrainingData(source, profile=profile)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrainingDataError(str(source), number, f"not a JSON line ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(record, dict):
            raise TrainingDataError(str(source), number, f"expected a JSON object, not {type(record).__name__}")
        try:
            pair = record_to_pair(record, toolset=toolset, renderer=chosen, today=day, examples=examples)
        except (ValueError, KeyError, TypeError) as exc:
            raise TrainingDataError(str(source), number, str(exc)) from exc
        split = record.get("split") or "train"
        data.splits.setdefault(str(split), []).append(pair)
    if not data.train:
        raise TrainingDataError(str(source), 0, "no training examples (no line of the 'train' split)")
    return data
