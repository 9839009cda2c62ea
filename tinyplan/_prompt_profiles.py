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

import re
from typing import Literal

import jinja2

from tinyplan._prompt import PromptRenderer

__all__ = ["PROMPT_PROFILES", "PromptProfile", "renderer_for", "without_examples"]

PromptProfile = Literal["examples", "no-examples"]
PROMPT_PROFILES: tuple[PromptProfile, ...] = ("examples", "no-examples")
"""``examples``: the planner prompt as it is (the toolset's examples, or generic ones); ``no-examples``: none."""

_TEMPLATE = "planner.jinja2"
# The examples section of planner.jinja2: from `{%- if examples %}` to its `{%- endif %}` (the template's last tag).
_EXAMPLES_BLOCK = re.compile(r"\{%-?\s*if examples\s*-?%\}.*\{%-?\s*endif\s*-?%\}", re.DOTALL)


def _planner_template_without_examples() -> str:
    """The package's planner template with its examples section cut out.

    Raises:
        RuntimeError: The template has no recognizable examples section (it was rewritten without updating this).
    """
    env = jinja2.Environment(loader=jinja2.PackageLoader("tinyplan", "templates"))
    assert env.loader is not None
    source = env.loader.get_source(env, _TEMPLATE)[0]
    cut, count = _EXAMPLES_BLOCK.subn("", source)
    if count != 1:
        raise RuntimeError(f"tinyplan/templates/{_TEMPLATE} has no single examples section to leave out")
    return cut


def without_examples(renderer: PromptRenderer | None = None) -> PromptRenderer:
    """A renderer like ``renderer`` whose planner (and replan) prompts show no in-context examples.

    The static part keeps the tool list, the rules and the instructions; the examples section, including the
    template's generic examples, is left out. Joiner prompts are unchanged. A bank (`PromptRenderer.with_bank`)
    still adds its examples to the tail.

    Args:
        renderer: The renderer to copy the options of (bank, semantic signatures); default the package's.

    Returns:
        A new `PromptRenderer` over the package templates, with the planner template replaced.

    Raises:
        RuntimeError: The packaged planner template changed shape (see `_planner_template_without_examples`).
    """
    base = renderer or PromptRenderer()
    loader = jinja2.ChoiceLoader(
        [
            jinja2.DictLoader({_TEMPLATE: _planner_template_without_examples()}),
            jinja2.PackageLoader("tinyplan", "templates"),
        ]
    )
    return PromptRenderer(loader, bank=base.bank, semantic_signatures=base.semantic_signatures)


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
