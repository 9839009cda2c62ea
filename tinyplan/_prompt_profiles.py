"""Prompt profiles: the planner prompt with or without its in-context examples.

A model fine-tuned on plans (`tinyplan.finetune`, TinyAgent's third step) has learned the plan format and needs no
in-context examples: its prompt is the tool list and the rules only, several times shorter, so the time to first
token drops with it. `without_examples` turns a `PromptRenderer` into one whose planner and replan prompts show no
examples at all: neither the toolset's nor the generic fallback examples the template shows when a toolset has none.

The training data of ``tinyplan finetune`` is rendered with the same renderer, so the prompt a fine-tuned model sees
when it is served (``tinyplan run --lora ADAPTER``, which picks this profile) is byte for byte the one it learned
from.
"""

from __future__ import annotations

import copy
from typing import Literal

from tinyplan._prompt import PromptRenderer

__all__ = ["PROMPT_PROFILES", "PromptProfile", "renderer_for", "without_examples"]

PromptProfile = Literal["examples", "no-examples"]
PROMPT_PROFILES: tuple[PromptProfile, ...] = ("examples", "no-examples")
"""``examples``: the planner prompt as it is (the toolset's examples, or generic ones); ``no-examples``: none."""


def without_examples(renderer: PromptRenderer | None = None) -> PromptRenderer:
    """A renderer like ``renderer`` whose planner (and replan) prompts show no in-context examples.

    The static part keeps the tool list, the rules and the instructions; the examples section, including the
    template's generic examples, is left out (``PromptRenderer(show_examples=False)``). Joiner prompts are unchanged.
    A bank (`PromptRenderer.with_bank`) still adds its examples to the tail.

    Args:
        renderer: The renderer to copy (templates, bank, semantic signatures); default the package's.

    Returns:
        A copy of ``renderer`` (same class and templates) with ``show_examples`` off.
    """
    clone = copy.copy(renderer or PromptRenderer())
    clone.show_examples = False
    return clone


def renderer_for(profile: PromptProfile, renderer: PromptRenderer | None = None) -> PromptRenderer:
    """The renderer of a prompt profile.

    ``renderer`` (or the default) for ``examples``, `without_examples` of it for ``no-examples``.

    Raises:
        ValueError: ``profile`` is not one of `PROMPT_PROFILES`.
    """
    if profile == "examples":
        return renderer or PromptRenderer()
    if profile == "no-examples":
        return without_examples(renderer)
    raise ValueError(f"profile must be one of {', '.join(PROMPT_PROFILES)}, not {profile!r}")
