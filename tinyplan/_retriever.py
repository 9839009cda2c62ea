"""The ToolRAG protocol: a request in, the tools and in-context example plans it needs out.

TinyAgent (Erdogan et al. 2024, "TinyAgent: Function Calling at the Edge", section "Tool RAG") shortens the planner
prompt by showing the model only the tools a request needs and the example plans closest to it. A shorter prompt
means faster prompt processing on small devices and less distraction for small models.

This module holds what every retriever shares: the `ToolRetriever` protocol, the `Selection` it returns, the
`ExamplePlan` view of a toolset's example texts, the example selection rule, and `apply_selection`, the pure decision
the planner uses to turn a selection into the toolset it prompts with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tinyplan._errors import PlanParseError, TinyplanError
from tinyplan._parser import parse_plan
from tinyplan._syntax import ACTION_HEAD
from tinyplan._tools import Toolset

__all__ = [
    "ExamplePlan",
    "RetrieverError",
    "RetrieverModelError",
    "RetrieverUnavailableError",
    "ScoredExample",
    "ScoredTool",
    "Selection",
    "ToolRetriever",
    "apply_selection",
    "parse_example",
    "select_examples",
]


class RetrieverError(TinyplanError):
    """A ToolRAG retriever cannot do what it was asked: bad training data, bad example plan, bad options."""


class RetrieverUnavailableError(RetrieverError):
    """The retriever's optional dependencies or its embedding model are missing.

    The message says what to install, e.g. ``pip install 'tinyplan[rag]'``.
    """


class RetrieverModelError(RetrieverError):
    """A saved retriever model file is missing, corrupt, of another format version, or does not fit the embedder."""


@dataclass(frozen=True, slots=True)
class ScoredTool:
    """A selected tool and the retriever's score for it.

    Attributes:
        name: The tool name.
        score: Higher is more relevant. Its scale depends on the retriever: a sigmoid probability in [0, 1] for
            `ClassifierRetriever`, a cosine similarity in [-1, 1] for `EmbeddingRetriever`.
    """

    name: str
    score: float


@dataclass(frozen=True, slots=True)
class ScoredExample:
    """A selected in-context example plan and its similarity to the request.

    Attributes:
        text: The example text as stored in `Toolset.examples` (``Question: ...`` followed by a plan).
        score: Cosine similarity of the example's question to the request, in [-1, 1].
    """

    text: str
    score: float


@dataclass(frozen=True, slots=True)
class Selection:
    """What a retriever chose for one request.

    Attributes:
        tools: Selected tools, best first.
        examples: Selected example plans, best first; every tool they call is among ``tools``.
        elapsed: Wall-clock seconds the selection took (embedding the request included).
    """

    tools: tuple[ScoredTool, ...]
    examples: tuple[ScoredExample, ...] = ()
    elapsed: float = 0.0

    @property
    def tool_names(self) -> list[str]:
        """Selected tool names, best first."""
        return [t.name for t in self.tools]

    @property
    def example_texts(self) -> list[str]:
        """Selected example texts, best first."""
        return [e.text for e in self.examples]


@runtime_checkable
class ToolRetriever(Protocol):
    """Chooses the tools and in-context example plans a request needs (ToolRAG, TinyAgent).

    The planner calls `select` once per run, before the first plan. Implementations do heavy work (embedding, a
    classifier's forward pass) in a worker thread (`anyio.to_thread`), so the event loop stays free.
    """

    async def select(self, request: str, toolset: Toolset) -> Selection:
        """Select tools of ``toolset`` and example plans of ``toolset.examples`` for ``request``.

        Args:
            request: The user's request, as given to the planner.
            toolset: The full toolset; only its tools and examples may be selected.

        Returns:
            The selection. An empty ``tools`` tuple means "no opinion": the planner then uses the full toolset.

        Raises:
            RetrieverError: The retriever cannot work with this toolset (for example a classifier trained for other
                tools, or an example plan that does not parse).
        """
        ...


# ------------------------------------------------------------------------------------------------------- examples
_QUESTION_RE = re.compile(r"^\s*(?:Question|Query|Request)\s*:\s*", re.IGNORECASE)
_PLAN_START_RE = re.compile(r"^(?:" + ACTION_HEAD.pattern + r"|[ \t]*Thought[ \t]*:)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ExamplePlan:
    """An in-context example split into its question and the tools its plan calls.

    Attributes:
        text: The whole example as stored in `Toolset.examples`.
        request: The question the example answers (without the ``Question:`` label).
        tools: Names of the tools its plan calls (``join`` excluded).
    """

    text: str
    request: str
    tools: frozenset[str]


def parse_example(text: str) -> ExamplePlan:
    """Split an example text ``Question: <request>`` + plan into request and tools (the plan is parsed, not evaluated).

    The plan starts at the first line that looks like an action (``N. tool(``) or starts with ``Thought:``, so a
    question may hold numbered lines of prose ("1. What is ..."). The rest is parsed with `parse_plan`; the request
    is everything before it, without a leading ``Question:``/``Query:``/``Request:`` label.

    Raises:
        RetrieverError: The example has no question, no plan, or a plan that does not parse.
    """
    match = _PLAN_START_RE.search(text)
    if match is None:
        raise RetrieverError(f"example plan without plan lines ('1. tool(...)'): {text!r:.200}")
    request = _QUESTION_RE.sub("", text[: match.start()], count=1).strip()
    if not request:
        raise RetrieverError(f"example plan without a question before the plan: {text!r:.200}")
    try:
        tasks = parse_plan(text[match.start() :])
    except PlanParseError as exc:
        raise RetrieverError(f"example plan does not parse ({exc}): {text!r:.200}") from exc
    return ExamplePlan(text=text, request=request, tools=frozenset(t.name for t in tasks if not t.is_join))


def select_examples(
    examples: Sequence[ExamplePlan],
    similarities: Sequence[float],
    selected_tools: Iterable[str],
    *,
    k: int,
) -> tuple[ScoredExample, ...]:
    """The example selection rule (TinyAgent): the ``k`` most similar examples whose tools are all selected.

    Args:
        examples: Candidate examples.
        similarities: Similarity of each example's request to the user's request (same order and length).
        selected_tools: Names of the tools the retriever selected.
        k: How many examples at most (0 selects none).

    Returns:
        At most ``k`` examples, most similar first; ties keep the toolset's order. An example that calls no tool
        (only ``join()``) always qualifies.

    Raises:
        RetrieverError: ``similarities`` and ``examples`` differ in length, or ``k`` is negative.
    """
    if len(similarities) != len(examples):
        raise RetrieverError(f"{len(examples)} examples but {len(similarities)} similarities")
    if k < 0:
        raise RetrieverError(f"the number of examples must be >= 0, got {k}")
    allowed = set(selected_tools)
    eligible = [
        (float(s), i) for i, (ex, s) in enumerate(zip(examples, similarities, strict=True)) if ex.tools <= allowed
    ]
    eligible.sort(key=lambda pair: (-pair[0], pair[1]))
    return tuple(ScoredExample(examples[i].text, s) for s, i in eligible[:k])


# ------------------------------------------------------------------------------------------------------ planner side
def apply_selection(toolset: Toolset, selection: Selection | None) -> Toolset:
    """The toolset the planner prompts with for a selection: the selected tools and examples, or the full toolset.

    Rules (documented in docs/toolrag.md):

    * No selection, or none of the selected names is a tool of ``toolset``: the full toolset, unchanged (fallback:
      a retriever that has no opinion must not leave the planner without tools).
    * Otherwise `Toolset.subset` of the selected tools that exist (unknown names are ignored), in the toolset's
      order so the prompt prefix stays stable; its examples are the selected examples (best first), its
      instructions unchanged.

    The planner should also fall back to the full toolset when it replans after a plan called a tool that was not
    selected (the retriever missed it); that decision belongs to the planner, which knows the parse error.

    Args:
        toolset: The full toolset.
        selection: The retriever's selection (None: no retriever).

    Returns:
        A toolset to render the prompt and grammar from. ``toolset`` itself is never modified.
    """
    if selection is None:
        return toolset
    names = [n for n in selection.tool_names if n in toolset]
    if not names:
        return toolset
    sub = toolset.subset(names)
    sub.examples = list(selection.example_texts)
    return sub
