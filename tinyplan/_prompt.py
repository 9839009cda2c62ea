"""Planner, replan and joiner prompts, rendered from jinja2 templates shipped with the package.

The planner prompt follows LLMCompiler (Kim et al. 2023) and TinyAgent (Erdogan et al. 2024): a numbered list of the
tools (signature first, then description), the ``join()`` action, the rules, custom instructions, in-context
examples, then today's date and the question. The static part (everything before the date) comes first and is
byte-identical across calls with the same tools, instructions and examples, so a backend can reuse its cached prefix.

A renderer with an example bank (`ExampleSource`, e.g. `tinyplan.data.ExampleBank`) adds the bank's examples closest
to each question at the start of the tail, after the static part, so the cached prefix stays the same.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import jinja2
import tokenizers

from tinyplan._backend import Backend, CompletionRequest, Message
from tinyplan._tools import Tool
from tinyplan._types import Plan, TaskResult, TaskState, observation_text

__all__ = [
    "ExampleSource",
    "PromptParts",
    "PromptRenderer",
    "RoundView",
    "count_tokens",
    "one_line",
    "render_result",
    "side_effect_line",
]


@dataclass(frozen=True, slots=True)
class PromptParts:
    """A prompt in two parts: ``static`` (cacheable prefix) and ``tail`` (date, question, earlier plans)."""

    static: str
    tail: str

    @property
    def text(self) -> str:
        """The whole prompt as one text (plain-completion form)."""
        return f"{self.static}\n{self.tail}"

    def request(
        self, *, chat: bool, stop: tuple[str, ...] = (), max_tokens: int = 512, grammar: str | None = None
    ) -> CompletionRequest:
        """A `CompletionRequest`: chat form puts ``static`` in the system message and ``tail`` in the user message."""
        if chat:
            return CompletionRequest(
                messages=(Message("system", self.static), Message("user", self.tail)),
                stop=stop,
                max_tokens=max_tokens,
                grammar=grammar,
                cache_prefix=self.static,
            )
        return CompletionRequest(
            prompt=self.text, stop=stop, max_tokens=max_tokens, grammar=grammar, cache_prefix=self.static
        )


@dataclass(frozen=True, slots=True)
class _ToolView:
    signature: str
    description_lines: list[str]


@dataclass(frozen=True, slots=True)
class RoundView:
    """What the replan and joiner templates show of one executed plan.

    Attributes:
        results: Each task rendered with its observation (`render_result`), in plan order.
        parse_error: Why the plan text stopped parsing, if it did.
        thought: The joiner's thought or the replan reason.
        tools: The names of the tools the plan called, in order of first use.
    """

    results: list[str]
    parse_error: str | None = None
    thought: str = ""
    tools: tuple[str, ...] = ()

    @classmethod
    def of(cls, plan: Plan, thought: str) -> RoundView:
        """The view of an executed plan: its tasks (join left out) rendered by `render_result`."""
        done = [r for r in plan.results if not r.task.is_join]
        return cls(
            results=[render_result(r) for r in done],
            parse_error=plan.parse_error,
            thought=thought,
            tools=tuple(dict.fromkeys(r.task.name for r in done)),
        )


def render_result(result: TaskResult) -> str:
    """A task and its observation as the replan and joiner prompts show them.

    ``N. call`` (with references replaced by their values, when it had any), then ``Observation: …`` — the value's
    text (`observation_text`), a note when a side effect was reused from an earlier plan, or
    ``ERROR (state): why`` — the LLMCompiler format (Kim et al. 2023).
    """
    head = f"{result.task.idx}. {result.resolved_text or result.task.text}"
    if result.task.is_join:
        return head
    if result.state is TaskState.SUCCEEDED:
        note = " (already done in an earlier plan; not run again)" if result.reused else ""
        return f"{head}\nObservation{note}: {observation_text(result.observation)}"
    return f"{head}\nObservation: ERROR ({result.state.value}): {result.error}"


def side_effect_line(name: str, arguments: dict[str, Any], observation: Any) -> str:
    """How the replan prompt lists a side effect that already happened: ``send_sms(message='hi') -> Sent``."""
    call = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    return f"{name}({call}) -> {one_line(observation_text(observation))}"


@runtime_checkable
class ExampleSource(Protocol):
    """Where per-question example plans come from (an example bank, `tinyplan.data.ExampleBank`).

    The planner's hook for a bank: `PromptRenderer` asks it once per planning prompt and puts the answer after the
    static part of the prompt.
    """

    def examples_for(self, query: str, tools: Sequence[str]) -> list[str]:
        """Example texts (``Question: ...`` followed by a plan ending in ``join()<END_OF_PLAN>``) for ``query``.

        Args:
            query: The user's request.
            tools: The names of the tools the prompt offers; an example may only call these.

        Returns:
            The examples to show, the one to show last (nearest the question) last; may be empty.
        """
        ...


class PromptRenderer:
    """Renders the prompts from the package's jinja2 templates (strict undefined: a missing variable is an error).

    Args:
        loader: A jinja2 loader to override templates (default: ``tinyplan/templates``).
        bank: Adds per-question example plans to planner and replan prompts, after the static part (see
            `ExampleSource`). None: none (the prompts are exactly those without a bank).
        semantic_signatures: Show declared semantic types in the tools' signatures
            (``send_sms(recipients: list[phone number], message: str) -> str``; see `Tool.signature`).
        show_examples: Show in-context example plans in the static part (the toolset's, or generic ones when it has
            none). False for a model fine-tuned on plans, which needs none (`tinyplan._prompt_profiles`).
    """

    def __init__(
        self,
        loader: jinja2.BaseLoader | None = None,
        *,
        bank: ExampleSource | None = None,
        semantic_signatures: bool = False,
        show_examples: bool = True,
    ) -> None:
        self.bank = bank
        self.semantic_signatures = semantic_signatures
        self.show_examples = show_examples
        self._env = jinja2.Environment(
            loader=loader or jinja2.PackageLoader("tinyplan", "templates"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=False,
        )

    def with_bank(self, bank: ExampleSource | None) -> PromptRenderer:
        """A copy of this renderer (same templates, same class) that adds ``bank``'s examples for each question.

        ``bank`` None: no examples are added.
        """
        clone = copy.copy(self)
        clone.bank = bank
        return clone

    def retrieved(self, tools: Iterable[Tool], query: str) -> list[str]:
        """The bank's examples for ``query`` among ``tools`` (empty without a bank)."""
        if self.bank is None:
            return []
        return list(self.bank.examples_for(query.strip(), [t.name for t in tools]))

    def _render(self, name: str, **context: Any) -> str:
        return self._env.get_template(name).render(**context).strip() + "\n"

    def planner_static(self, tools: Iterable[Tool], instructions: Sequence[str], examples: Sequence[str]) -> str:
        """The static part of the planner prompt: actions, rules, instructions, examples."""
        views = []
        for t in tools:
            lines = [ln.strip() for ln in t.description.splitlines() if ln.strip()]
            lines += [f"{p.name}: {' '.join(p.description.split())}" for p in t.parameters if p.description]
            views.append(_ToolView(t.signature(semantic=self.semantic_signatures), lines or ["(no description)"]))
        return self._render(
            "planner.jinja2",
            tools=views,
            instructions=list(instructions),
            examples=list(examples),
            show_examples=self.show_examples,
        )

    def planner(
        self,
        tools: Iterable[Tool],
        query: str,
        *,
        instructions: Sequence[str] = (),
        examples: Sequence[str] = (),
        today: dt.date | None = None,
    ) -> PromptParts:
        """The first planning prompt for ``query``. ``today`` defaults to the date at call time.

        With a bank, its examples for ``query`` (`retrieved`) open the tail.
        """
        tools = list(tools)
        static = self.planner_static(tools, instructions, examples)
        tail = self._render(
            "planner_query.jinja2",
            today=_date_text(today),
            query=query.strip(),
            retrieved=self.retrieved(tools, query),
        )
        return PromptParts(static, tail)

    def replan(
        self,
        tools: Iterable[Tool],
        query: str,
        rounds: Sequence[RoundView],
        *,
        instructions: Sequence[str] = (),
        examples: Sequence[str] = (),
        done_side_effects: Sequence[str] = (),
        today: dt.date | None = None,
    ) -> PromptParts:
        """A replanning prompt: the same static part, then each earlier plan with observations and thought."""
        tools = list(tools)
        static = self.planner_static(tools, instructions, examples)
        tail = self._render(
            "replan.jinja2",
            retrieved=self.retrieved(tools, query),
            today=_date_text(today),
            query=query.strip(),
            rounds=list(rounds),
            done_side_effects=list(done_side_effects),
        )
        return PromptParts(static, tail)

    def joiner(
        self,
        query: str,
        rounds: Sequence[RoundView],
        *,
        can_replan: bool,
        instructions: Sequence[str] = (),
        today: dt.date | None = None,
        tools: Iterable[Tool] = (),
    ) -> PromptParts:
        """The joiner prompt, split into its static part and its tail.

        ``static`` holds the Finish/Replan instructions and examples (the same for every request with the same
        ``can_replan`` and ``instructions``), ``tail`` the date (default: the date at call time), what each of
        ``tools`` (the actions the plans used) does, the question and the executed plan(s) with their observations.
        The tool descriptions tell the joiner what a bare observation means (its unit, say).
        """
        static = self._render("joiner.jinja2", can_replan=can_replan, instructions=list(instructions))
        actions = [(t.name, one_line(t.description, 300) or "(no description)") for t in tools]
        tail = self._render(
            "joiner_query.jinja2", today=_date_text(today), query=query.strip(), rounds=list(rounds), actions=actions
        )
        return PromptParts(static, tail)


def one_line(text: str, limit: int = 160) -> str:
    """``text`` on one line (runs of whitespace become one space), cut to ``limit`` characters with "…"."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date_text(today: dt.date | None) -> str:
    day = today or dt.date.today()
    return day.strftime("%A, %Y-%m-%d")


async def count_tokens(
    text: str, *, backend: Backend | None = None, tokenizer: tokenizers.Tokenizer | None = None
) -> int | None:
    """Count ``text``'s tokens with the backend's own tokenizer, else a `tokenizers.Tokenizer`, else None.

    A backend offers its tokenizer through `Backend.count_tokens`, as the llama.cpp backends do; the base class's
    returns None.
    """
    counted = await backend.count_tokens(text) if backend is not None else None
    if counted is not None:
        return counted
    if tokenizer is not None:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)
    return None
