"""The planner loop: prompt → streamed plan → parallel execution → join → answer or replan.

``Planner(backend, tools).run(query)`` is tinyplan's public face. One round streams a plan from the backend through
the `PlanParser` into the `TaskFetchingUnit`, so tools start while the model is still writing (LLMCompiler, Kim et al.
2023). The joiner then finishes or asks for a replan; the next round's prompt carries every earlier plan with its
observations. Side-effecting calls that already succeeded are never run again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import tokenizers
from anyio.streams.memory import MemoryObjectSendStream

from tinyplan._backend import Backend, CompletionRequest, Usage, closing_stream
from tinyplan._checks import PlanChecker, Problem
from tinyplan._errors import BackendError, JoinerError, PlanParseError, RequestError, TinyplanError
from tinyplan._events import (
    Event,
    FinalAnswer,
    JoinDecided,
    PlanParseFailed,
    PlanRepaired,
    Replanning,
    TaskFinished,
    TaskParsed,
    TaskStarted,
    Token,
)
from tinyplan._executor import ERROR_STATES, ApproveFn, TaskFetchingUnit, TaskResult, TaskState, observation_text
from tinyplan._grammar import joiner_grammar, plan_grammar
from tinyplan._joiner import JoinDecision, parse_join
from tinyplan._parser import END_OF_PLAN, PlanParser, Task
from tinyplan._prompt import ExampleSource, PromptParts, PromptRenderer, RoundView, count_tokens, one_line
from tinyplan._relevance import RelevanceVerdict, check_relevance, shares_words
from tinyplan._retriever import ToolRetriever, apply_selection
from tinyplan._telemetry import ModelCall, invoke_agent, plan_span, traced
from tinyplan._tools import ToolLike, Toolset, as_toolset, canonical_arguments

__all__ = ["GrammarLevel", "Plan", "PlanResult", "Planner", "Timings"]

GrammarLevel = Literal["syntax", "typed"]
JoinMode = Literal["llm", "observations", "auto"]
Status = Literal["answered", "replan_limit", "join_failed"]

_NO_TOOL_PLAN = "1. join()"  # the plan when the relevance check finds that no listed tool fits


@dataclass
class Timings:
    """Seconds spent per phase. Durations add up over rounds; the ``first_*`` fields count from the run's start.

    Attributes:
        retrieval: Tool/example selection (ToolRAG) before the first prompt.
        prompt_build: Rendering prompts and grammars.
        time_to_first_token: Run start → first plan token of the first round.
        time_to_first_tool_start: Run start → the first tool call starting.
        plan_generation: Request sent → plan stream ended (all rounds).
        execution: Plan stream started → last task finished, minus the part overlapping generation.
        join: Joiner calls (0 in ``join="observations"`` mode).
        total: The whole run.
    """

    retrieval: float = 0.0
    prompt_build: float = 0.0
    time_to_first_token: float | None = None
    time_to_first_tool_start: float | None = None
    plan_generation: float = 0.0
    execution: float = 0.0
    join: float = 0.0
    total: float = 0.0


@dataclass
class Plan:
    """One planning round.

    Attributes:
        round: 0 for the first plan, 1 for the first replan, …
        prompt: The request sent to the backend.
        text: The plan text as the model streamed it.
        tasks: The parsed tasks, in order.
        results: Each task's result, in plan order.
        parse_error: Why the text stopped parsing (the tasks before it still ran), or None.
        decision: The join decision taken after this plan (None if the run ended with an error first).
        usage: Tokens of the plan request (and the joiner request, when one was made).
        prompt_tokens: Size of the planner prompt in tokens, when a tokenizer is available.
        relevance: The relevance check before this plan (``Planner(relevance_check=True)``, first round only), or
            None. When its ``unlisted`` is set, the plan is ``1. join()``: no listed tool fits the request.
        repairs: The plan checks' problems that made the planner write a line again, in order (see
            ``Planner(self_check=...)``).
        requests: Every model request of this round (relevance check, plan stream and its continuations, joiner),
            timed: what the Chrome trace and the terminal timeline draw.
    """

    round: int
    prompt: CompletionRequest
    text: str = ""
    tasks: list[Task] = field(default_factory=list)
    results: list[TaskResult] = field(default_factory=list)
    parse_error: str | None = None
    decision: JoinDecision | None = None
    usage: Usage = field(default_factory=Usage)
    prompt_tokens: int | None = None
    relevance: RelevanceVerdict | None = None
    repairs: list[Problem] = field(default_factory=list)
    requests: list[ModelCall] = field(default_factory=list)

    @property
    def failed(self) -> list[TaskResult]:
        """Tasks that ended in an error state (failed, timed out, skipped, refused)."""
        return [r for r in self.results if r.state in ERROR_STATES]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "round": self.round,
            "text": self.text,
            "tasks": [r.to_dict() for r in self.results],
            "parse_error": self.parse_error,
            "decision": None
            if self.decision is None
            else {
                "action": self.decision.action,
                "thought": self.decision.thought,
                "answer": self.decision.answer,
                "reason": self.decision.reason,
            },
            "usage": {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens},
            "prompt_tokens": self.prompt_tokens,
            "relevance": None
            if self.relevance is None
            else {
                "text": self.relevance.text,
                "name": self.relevance.name,
                "unlisted": self.relevance.unlisted,
                "unrelated": self.relevance.unrelated,
            },
            "repairs": [
                {"kind": p.kind, "task": p.task, "message": p.message, "hint": p.hint, "fix": p.fix}
                for p in self.repairs
            ],
        }


@dataclass
class PlanResult:
    """Everything a run produced.

    Attributes:
        query: The user's request.
        answer: The final answer (joiner's Finish text, or the rendered observations in ``join="observations"``
            mode); None when the run ended without one (see ``status``).
        status: ``"answered"``; ``"replan_limit"`` (the plan still needed replanning when ``max_replans`` ran out);
            ``"join_failed"`` (the joiner's reply fit neither Finish nor Replan).
        plans: Every plan, in order.
        timings: Per-phase timings.
        usage: Tokens over all requests.
        tools: Names of the tools the planner was shown (after ToolRAG selection).
        error: A description of what went wrong when ``status`` is not ``"answered"``.
        started_at: `time.perf_counter()` seconds when the run started (the clock of `TaskResult` and
            ``Plan.requests``), None for a result not made by a run.
    """

    query: str
    answer: str | None = None
    status: Status = "answered"
    plans: list[Plan] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    usage: Usage = field(default_factory=Usage)
    tools: list[str] = field(default_factory=list)
    error: str | None = None
    started_at: float | None = None

    @property
    def observations(self) -> list[TaskResult]:
        """Every task result of every plan, in order (joins excluded)."""
        return [r for p in self.plans for r in p.results if not r.task.is_join]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (observations converted to JSON data, or text when they are not JSON-able)."""
        return {
            "query": self.query,
            "answer": self.answer,
            "status": self.status,
            "error": self.error,
            "tools": self.tools,
            "plans": [p.to_dict() for p in self.plans],
            "timings": vars(self.timings),
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cached_tokens": self.usage.cached_tokens,
            },
        }

    def to_json(self, **kwargs: Any) -> str:
        """`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def to_chrome_trace(self) -> dict[str, Any]:
        """The run as Chrome trace-event JSON data (Perfetto, chrome://tracing); see `tinyplan._trace`."""
        from tinyplan._trace import chrome_trace

        return chrome_trace(self)

    def to_mermaid(self) -> str:
        """The plans' dependency graphs as a Mermaid flowchart, tasks coloured by state; see `tinyplan._trace`."""
        from tinyplan._trace import mermaid

        return mermaid(self.plans)


class Planner:
    """Plans with a language model and runs the plan: the LLMCompiler loop for small local models.

    Args:
        backend: The language model (any `Backend`).
        tools: A `Toolset`, or tools/`@tool` functions.
        examples: In-context example plans (default: the toolset's ``examples``).
        instructions: Extra planner rules (default: the toolset's ``instructions``).
        join: ``"llm"`` asks the model to Finish or Replan; ``"observations"`` (TinyAgent's Mac assistant mode)
            answers with the observations and needs no extra model call; ``"auto"`` answers without a model call
            when the observations already say what happened — every task succeeded and every last step (a task
            no other task uses) is a side-effecting tool that reported in text what it did — and asks the model
            otherwise (a question, a failure, a read-only last step).
        joiner_backend: A different backend for the joiner (default: ``backend``).
        max_replans: How many replans are allowed (0: never replan).
        replan_on_error: A failed, timed-out or skipped task (or a plan that does not parse) causes a replan
            while replans remain, without asking the joiner.
        grammar: Constrain the plan with a GBNF grammar generated from the tools: ``"syntax"`` (names and line
            shape) or ``"typed"`` (argument shapes too); None for no grammar. Needs a backend that supports grammars.
        chat: Send chat messages (static prompt as system message, through the model's chat template) instead of
            one plain completion prompt. Off by default: the default model plans a little better from the plain
            prompt (docs/backends.md, "Chat template or plain completion").
        approve: Asked before every side-effecting tool runs (sync or async, gets the `TaskResult` with its
            ``arguments``); False refuses and the task's observation says so.
        retriever: A ToolRAG step choosing the tools and examples for each request (see `tinyplan.rag`).
        max_tokens: Tokens the plan may take per round.
        max_concurrency: At most this many tools run at once.
        tool_timeout: Default seconds per tool call.
        plan_timeout: Seconds for executing one plan.
        today: Returns the date shown in the prompt (default: today's date, computed at each call).
        tokenizer: A `tokenizers.Tokenizer` to count prompt tokens when the backend has no ``count_tokens``.
        relevance_check: Before the first plan, let the model write its first action without the grammar; when it
            names a tool the toolset does not have, plan no tool call (``1. join()``) instead of letting the
            grammar force a listed tool onto an unrelated request (BFCL's irrelevance category). Costs up to 32
            generated tokens per run (see docs/grammar.md, "Relevance check").
        joiner_grammar: Constrain the joiner's reply with `tinyplan.joiner_grammar` (one thought line, one
            Finish/Replan line, nothing after it; only Finish when no replan is left). None (the default): when the
            joiner backend supports grammars.
        self_check: Check each streamed line with a `PlanChecker` (semantic dataflow, identifiers looked up rather
            than invented, nothing the request's words call for left out, see `tinyplan.PlanChecker`); a line that
            fails is cut off before any tool sees it and written again after a ``Thought:`` line saying what to do
            instead, reusing the cached prompt (completion mode; in chat mode problems go to the replan as before).
        max_repairs: How many lines a plan may write again (self_check); after that a faulty line runs as written
            and its error goes to the joiner or replan.
        bank: An example bank (`tinyplan.data.ExampleBank`, any `ExampleSource`): its examples closest to the
            request, among those whose tools are all offered, are shown after the static part of the prompt (which
            keeps ``examples``), so the cached prefix stays the same (see docs/data.md).

    Raises:
        TinyplanError: ``grammar`` or ``joiner_grammar=True`` is set but the (joiner) backend does not support
            grammars.
    """

    def __init__(
        self,
        backend: Backend,
        tools: Toolset | Iterable[ToolLike] = (),
        *,
        examples: Sequence[str] | None = None,
        instructions: Sequence[str] | None = None,
        join: JoinMode = "llm",
        joiner_backend: Backend | None = None,
        max_replans: int = 1,
        replan_on_error: bool = True,
        grammar: GrammarLevel | None = None,
        chat: bool = False,
        approve: ApproveFn | None = None,
        retriever: ToolRetriever | None = None,
        max_tokens: int = 512,
        max_concurrency: int | None = None,
        tool_timeout: float | None = None,
        plan_timeout: float | None = None,
        today: Callable[[], dt.date] | None = None,
        tokenizer: tokenizers.Tokenizer | None = None,
        renderer: PromptRenderer | None = None,
        bank: ExampleSource | None = None,
        relevance_check: bool = False,
        joiner_grammar: bool | None = None,
        self_check: bool = False,
        max_repairs: int = 2,
    ) -> None:
        if max_replans < 0:
            raise ValueError("max_replans must be 0 or more")
        if join not in ("llm", "observations", "auto"):
            raise ValueError(f"join must be 'llm', 'observations' or 'auto', not {join!r}")
        if grammar not in (None, "syntax", "typed"):
            raise ValueError(f"grammar must be None, 'syntax' or 'typed', not {grammar!r}")
        if grammar is not None and not getattr(backend, "supports_grammar", False):
            raise TinyplanError(f"{type(backend).__name__} does not support grammars; use grammar=None")
        joiner = joiner_backend or backend
        if joiner_grammar and not getattr(joiner, "supports_grammar", False):
            raise TinyplanError(f"{type(joiner).__name__} does not support grammars; use joiner_grammar=False")
        self.backend = backend
        self.tools = as_toolset(tools)
        self.examples = list(self.tools.examples if examples is None else examples)
        self.instructions = list(self.tools.instructions if instructions is None else instructions)
        self.join: JoinMode = join
        self.joiner_backend = joiner
        self.joiner_grammar = (
            bool(getattr(joiner, "supports_grammar", False)) if joiner_grammar is None else joiner_grammar
        )
        self.max_replans = max_replans
        self.replan_on_error = replan_on_error
        self.grammar: GrammarLevel | None = grammar
        self.chat = chat
        self.approve = approve
        self.retriever = retriever
        self.max_tokens = max_tokens
        self.max_concurrency = max_concurrency
        self.tool_timeout = tool_timeout
        self.plan_timeout = plan_timeout
        self.today = today or dt.date.today
        self.tokenizer = tokenizer
        self.renderer = renderer or PromptRenderer()
        if bank is not None:
            self.renderer = self.renderer.with_bank(bank)
        self.relevance_check = relevance_check
        if max_repairs < 0:
            raise ValueError("max_repairs must be 0 or more")
        self.self_check = self_check
        self.max_repairs = max_repairs
        self._grammar_cache: dict[tuple[str, ...], str] = {}

    # ---------------------------------------------------------------------------------------------------- public
    def render_prompt(self, query: str) -> PromptParts:
        """The first planning prompt for ``query`` with the full toolset (for inspection and snapshot tests)."""
        return self.renderer.planner(
            self.tools, query, instructions=self.instructions, examples=self.examples, today=self.today()
        )

    async def run(self, query: str) -> PlanResult:
        """Plan, execute, join (and replan as needed); return the `PlanResult`.

        Raises:
            BackendError: The backend failed (every task the plan had started is cancelled first).
            RequestError: The request is empty, or too long for the backend's ``context_length`` (checked before
                anything is sent; a llama.cpp backend counts tokens without loading the model's weights).
        """
        result: PlanResult | None = None
        async with contextlib.aclosing(self.stream(query)) as events:
            async for event in events:
                if isinstance(event, FinalAnswer):
                    result = event.result
        assert result is not None
        return result

    def run_sync(self, query: str) -> PlanResult:
        """`run` from synchronous code (starts an event loop with `anyio.run`)."""
        return anyio.run(self.run, query)

    async def stream(self, query: str) -> AsyncGenerator[Event, None]:
        """Run like `run`, yielding typed events in causal order; `FinalAnswer` comes last.

        Closing the iterator early (``break`` inside ``async with contextlib.aclosing(planner.stream(q))``, or
        ``await events.aclose()``) stops the run: the model's stream is closed, running async tools are cancelled
        and awaited, and closing raises nothing. A sync tool already running in its worker thread cannot be
        interrupted; it finishes on its own (see `Tool.call`).

        Raises:
            BackendError: The backend failed (running tasks are cancelled before it propagates).
            RequestError: The request is empty, or too long for the backend's context (raised by the first step of
                the iterator, before any event).
        """
        check_request_text(query)
        send, receive = anyio.create_memory_object_stream[Event](math.inf)
        failure: list[BaseException] = []
        closed_early = False

        async def produce() -> None:
            async with send:
                try:
                    await invoke_agent(self, query, send.send_nowait, self._run)
                except TinyplanError as exc:
                    failure.append(exc)

        # The generator yields inside a task group. GeneratorExit (the consumer closed us) must not escape the task
        # group, or anyio wraps it in a BaseExceptionGroup: stop the producer and leave the group normally instead.
        # The receiving end stays open until the producer is gone, so its last events (cancelled tasks) have
        # somewhere to go.
        with receive:
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                try:
                    async for event in receive:
                        try:
                            yield event
                        except GeneratorExit:
                            closed_early = True
                            break
                finally:
                    tg.cancel_scope.cancel()
        if failure and not closed_early:
            raise failure[0]

    # ------------------------------------------------------------------------------------------------ the loop
    async def _select_tools(self, query: str, result: PlanResult) -> tuple[Toolset, list[str]]:
        """ToolRAG: the tools and examples for ``query`` (the full toolset without a retriever or a selection)."""
        if self.retriever is None:
            return self.tools, self.examples
        started = time.perf_counter()
        selection = await self.retriever.select(query, self.tools)
        result.timings.retrieval = time.perf_counter() - started
        chosen = apply_selection(self.tools, selection)
        if chosen is self.tools:
            return self.tools, self.examples
        return chosen, list(chosen.examples)

    def _grammar_for(self, toolset: Toolset) -> str | None:
        if self.grammar is None:
            return None
        key = (self.grammar, *toolset.names)
        if key not in self._grammar_cache:
            self._grammar_cache[key] = plan_grammar(toolset, self.grammar)
        return self._grammar_cache[key]

    async def _run(self, query: str, emit: Callable[[Event], None]) -> None:
        run_start = time.perf_counter()
        result = PlanResult(query=query, started_at=run_start)
        toolset, examples = await self._select_tools(query, result)
        full_toolset_used = toolset is self.tools
        reuse: dict[str, Any] = {}
        done_side_effects: list[str] = []
        views: list[RoundView] = []
        reason = ""
        for round_no in range(self.max_replans + 1):
            if round_no:
                emit(Replanning(reason, round=round_no))
            built = time.perf_counter()
            request = self._request(toolset, examples, query, views, done_side_effects)
            result.tools = toolset.names
            result.timings.prompt_build += time.perf_counter() - built
            plan = Plan(round=round_no, prompt=request)
            plan.prompt_tokens = await self._count_prompt(request, first=not round_no)
            result.plans.append(plan)
            await self._plan_and_execute(plan, toolset, reuse, emit, result, run_start)

            for r in plan.results:
                if r.ok and not r.reused and r.arguments is not None:
                    t = toolset.get(r.task.name)
                    if t is not None and t.side_effects:
                        reuse[canonical_arguments(t.name, r.arguments)] = r.observation
                        call = ", ".join(f"{k}={v!r}" for k, v in r.arguments.items())
                        done_side_effects.append(f"{t.name}({call}) -> {one_line(observation_text(r.observation))}")

            can_replan = round_no < self.max_replans
            errors = [r for r in plan.failed if r.state is not TaskState.REFUSED]
            if can_replan and self.replan_on_error and (plan.parse_error or errors):
                why = plan.parse_error or "; ".join(f"task {r.task.idx} {r.state.value}: {r.error}" for r in errors)
                decision = JoinDecision("replan", thought="", reason=why)
            elif self.join == "observations":
                decision = JoinDecision("finish", answer=_observations_answer(plan))
            elif self.join == "auto" and (reported := _reported_answer(plan, toolset)) is not None:
                decision = JoinDecision("finish", thought="the actions report what they did", answer=reported)
            else:
                join_started = time.perf_counter()
                try:
                    decision = await self._llm_join(query, [*views, _view(plan, "")], can_replan, plan, emit, round_no)
                except JoinerError as exc:
                    result.timings.join += time.perf_counter() - join_started
                    result.status = "join_failed"
                    result.error = str(exc)
                    break
                result.timings.join += time.perf_counter() - join_started
            plan.decision = decision
            emit(JoinDecided(decision, round=round_no))
            if decision.action == "finish":
                result.answer = decision.answer
                result.status = "answered"
                result.error = None
                break
            reason = decision.reason or ""
            views.append(_view(plan, decision.thought or reason))
            if not can_replan:
                result.status = "replan_limit"
                result.error = f"the plan still needed replanning after {self.max_replans} replan(s): {reason}"
                break
            if not full_toolset_used and ("unknown tool" in reason or "not in the list" in reason):
                toolset, examples, full_toolset_used = self.tools, self.examples, True  # ToolRAG missed a tool
        for p in result.plans:
            result.usage = result.usage + p.usage
        result.timings.total = time.perf_counter() - run_start
        emit(FinalAnswer(result, round=len(result.plans) - 1))

    async def _count_prompt(self, request: CompletionRequest, *, first: bool) -> int | None:
        """The prompt's tokens (None if nothing can count them); for the first prompt, check that the prompt and the
        plan's ``max_tokens`` fit the backend's ``context_length`` (when it has one) before anything is sent.

        Raises:
            RequestError: The first prompt does not fit.
        """
        n = await count_tokens(request.text, backend=self.backend, tokenizer=self.tokenizer)
        context = getattr(self.backend, "context_length", None)
        if first and n is not None and isinstance(context, int) and n + self.max_tokens > context:
            raise RequestError(
                f"the request is too long: with the planner prompt it takes {n} tokens and the plan up to "
                f"{self.max_tokens} more, but the model's context holds {context} "
                f"({n + self.max_tokens - context} too many); shorten the request or raise the context length"
            )
        return n

    def _request(
        self,
        toolset: Toolset,
        examples: Sequence[str],
        query: str,
        views: Sequence[RoundView] = (),
        done_side_effects: Sequence[str] = (),
    ) -> CompletionRequest:
        """The planning request: the first prompt, or a replan prompt when earlier rounds (``views``) exist."""
        if not views:
            parts = self.renderer.planner(
                toolset, query, instructions=self.instructions, examples=examples, today=self.today()
            )
        else:
            parts = self.renderer.replan(
                toolset,
                query,
                views,
                instructions=self.instructions,
                examples=examples,
                done_side_effects=done_side_effects,
                today=self.today(),
            )
        return parts.request(
            chat=self.chat, stop=(END_OF_PLAN,), max_tokens=self.max_tokens, grammar=self._grammar_for(toolset)
        )

    async def plan(self, query: str, *, on_event: Callable[[Event], None] | None = None) -> Plan:
        """Write a plan for ``query`` without running it (a dry run).

        Args:
            query: The user's request.
            on_event: Receives `Token` and `TaskParsed` events while the plan streams.

        Returns:
            The `Plan` with its text and tasks (``results`` empty); ``parse_error`` is set when the text does not
            parse (the tasks before the error are kept).

        Raises:
            BackendError: The backend failed.
            RequestError: The request is empty, or too long for the backend's context.
        """
        check_request_text(query)
        result = PlanResult(query=query)
        toolset, examples = await self._select_tools(query, result)
        plan = Plan(round=0, prompt=self._request(toolset, examples, query))
        plan.prompt_tokens = await self._count_prompt(plan.prompt, first=True)
        parser = PlanParser(frozenset(toolset.names))
        send, receive = anyio.create_memory_object_stream[Task](math.inf)
        with send, receive:
            try:
                await self._stream_plan(
                    plan, toolset, parser, send, on_event or (lambda event: None), result, time.perf_counter()
                )
            except PlanParseError as exc:
                plan.parse_error = str(exc)
        plan.text = parser.text
        plan.tasks = list(parser.tasks)
        return plan

    async def _plan_and_execute(
        self,
        plan: Plan,
        toolset: Toolset,
        reuse: dict[str, Any],
        emit: Callable[[Event], None],
        result: PlanResult,
        run_start: float,
    ) -> None:
        round_no = plan.round
        parser = PlanParser(frozenset(toolset.names))
        first_start: list[float] = []

        def on_task_event(event: Event) -> None:
            if isinstance(event, TaskStarted):
                if not first_start:
                    first_start.append(time.perf_counter())
                emit(TaskStarted(event.result, round=round_no))
            elif isinstance(event, TaskFinished):
                emit(TaskFinished(event.result, round=round_no))

        tfu = TaskFetchingUnit(
            toolset,
            max_concurrency=self.max_concurrency,
            tool_timeout=self.tool_timeout,
            approve=self.approve,
            reuse=reuse,
            on_event=on_task_event,
        )
        send, receive = anyio.create_memory_object_stream[Task](math.inf)
        backend_error: list[BaseException] = []
        sent = time.perf_counter()
        stream_end = sent

        async def execute() -> None:
            async with receive:
                await tfu.run(receive, timeout=self.plan_timeout)

        async with anyio.create_task_group() as tg:
            tg.start_soon(execute)
            async with send:
                try:
                    with plan_span(plan, self.grammar):
                        await self._stream_plan(plan, toolset, parser, send, emit, result, run_start)
                except PlanParseError as exc:
                    plan.parse_error = str(exc)
                    emit(PlanParseFailed(str(exc), round=round_no))
                except BackendError as exc:
                    backend_error.append(exc)
                    tg.cancel_scope.cancel()  # a dead backend cancels every task its plan started
                stream_end = time.perf_counter()
        finished = time.perf_counter()
        plan.text = parser.text
        plan.tasks = list(parser.tasks)
        plan.results = [tfu.results[t.idx] for t in plan.tasks if t.idx in tfu.results]
        for r in plan.results:
            if not r.state.terminal:  # cancelled before it started
                r.state = TaskState.CANCELLED
                r.error = "cancelled: the backend failed"
                r.finished_at = finished
        result.timings.plan_generation += stream_end - sent
        result.timings.execution += max(0.0, finished - stream_end)
        if first_start and result.timings.time_to_first_tool_start is None:
            result.timings.time_to_first_tool_start = first_start[0] - run_start
        if backend_error:
            raise backend_error[0]

    async def _stream_plan(
        self,
        plan: Plan,
        toolset: Toolset,
        parser: PlanParser,
        send: MemoryObjectSendStream[Task],
        emit: Callable[[Event], None],
        result: PlanResult,
        run_start: float,
    ) -> None:
        round_no = plan.round
        if self.relevance_check and round_no == 0:
            if not getattr(self.tools, "cues", ()) and not shares_words(result.query, toolset):
                plan.relevance = RelevanceVerdict(text="", name=None, unlisted=None, usage=Usage(), unrelated=True)
            else:
                plan.relevance = await check_relevance(
                    traced(self.backend, "relevance", plan), plan.prompt, toolset.names
                )
            if plan.relevance.no_tool:  # no listed tool fits: a plan without tool calls
                if result.timings.time_to_first_token is None:
                    result.timings.time_to_first_token = time.perf_counter() - run_start
                plan.usage = plan.relevance.usage
                emit(Token(_NO_TOOL_PLAN, "plan", round_no))
                for task in [*parser.feed(_NO_TOOL_PLAN), *parser.close()]:
                    emit(TaskParsed(task, round_no))
                    send.send_nowait(task)
                return
        checker = self._checker(toolset, result.query)
        request = plan.prompt
        sent: dict[int, Task] = {}
        usage_total = Usage()
        while True:
            stream = traced(self.backend, "planner", plan).stream(request)
            text_chunks = 0
            usage: Usage | None = None
            problem: tuple[Task, Problem] | None = None
            async with closing_stream(stream):
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    if not chunk.text:
                        continue
                    text_chunks += 1
                    if result.timings.time_to_first_token is None:
                        result.timings.time_to_first_token = time.perf_counter() - run_start
                    emit(Token(chunk.text, "plan", round_no))
                    for task in parser.feed(chunk.text):
                        found = None
                        if checker is not None and sum(p.fix is None for p in plan.repairs) < self.max_repairs:
                            found = checker.check_join(task, sent) if task.is_join else checker.check_task(task, sent)
                        if found is not None and found.fix is not None:
                            fixed = _apply_fix(parser, task, found.fix)
                            if fixed is not None and checker is not None and checker.check_task(fixed, sent) is None:
                                plan.repairs.append(found)  # certain: no new generation; the stream goes on
                                emit(PlanRepaired(found, str(task), round_no))
                                task, found = fixed, None
                            else:
                                found = dataclasses.replace(found, fix=None)
                        if found is not None:
                            problem = (task, found)
                            break
                        sent[task.idx] = task
                        emit(TaskParsed(task, round_no))
                        send.send_nowait(task)
                    if problem is not None or parser.done:
                        break  # everything after join() is ignored: stop generating
            if usage is None:  # stopped before the backend's final usage: count what is known
                usage = Usage(prompt_tokens=plan.prompt_tokens or 0, completion_tokens=text_chunks)
            usage_total = usage_total + usage
            if problem is None:
                break
            task, found = problem
            request = self._repair(plan, parser, task, found, toolset)
            emit(PlanRepaired(found, str(task), round_no))
        plan.usage = usage_total
        if plan.relevance is not None:
            plan.usage = plan.relevance.usage + plan.usage
        if not parser.done:
            for task in parser.close():
                emit(TaskParsed(task, round_no))
                send.send_nowait(task)
        if not parser.done:
            raise PlanParseError("the plan ended without join()", line_no=parser.text.count("\n") + 1)

    def _checker(self, toolset: Toolset, query: str) -> PlanChecker | None:
        """The plan checker for this round, or None when lines are not to be repaired."""
        if not self.self_check or not self.max_repairs or self.chat:
            return None
        return PlanChecker(
            toolset, query, cues=getattr(self.tools, "cues", ()), needs_cue=getattr(self.tools, "needs_cue", ())
        )

    def _repair(
        self, plan: Plan, parser: PlanParser, task: Task, problem: Problem, toolset: Toolset
    ) -> CompletionRequest:
        """Cut the plan back to the start of ``task``'s line (with its thought), add a ``Thought:`` line with the
        problem's hint, and return the request that continues the plan from there.

        The continuation prompt is the first prompt plus the plan so far, so a backend's prompt cache keeps the
        work done; its grammar starts at the same action number and leaves out what the problem excludes.
        """
        repeated = any(p.kind == problem.kind and p.message == problem.message for p in plan.repairs)
        if repeated and problem.escalate_tools:  # the hint was not followed: leave the tool out this time
            problem = dataclasses.replace(problem, exclude_tools=problem.exclude_tools | problem.escalate_tools)
        plan.repairs.append(problem)
        lines = parser.text.split("\n")[: max(task.line_no - 1, 0)]
        if task.thought is not None and lines and lines[-1].lstrip().startswith("Thought:"):
            lines.pop()
        prefix = "".join(line + "\n" for line in lines)
        prefix += f"Thought: {one_line(problem.hint, 400)}\n"
        parser.rewind(prefix)
        excluded = frozenset().union(*(p.exclude_tools for p in plan.repairs))
        grammar = None
        if self.grammar is not None:
            allowed = toolset.subset([n for n in toolset.names if n not in excluded]) if excluded else toolset
            grammar = plan_grammar(allowed, self.grammar, first_action=task.idx, join_first=not problem.exclude_join)
        first = plan.prompt
        assert first.prompt is not None  # repairs run in completion mode only (see _checker)
        return dataclasses.replace(first, prompt=first.prompt + prefix, grammar=grammar)

    async def _llm_join(
        self,
        query: str,
        views: list[RoundView],
        can_replan: bool,
        plan: Plan,
        emit: Callable[[Event], None],
        round_no: int,
    ) -> JoinDecision:
        used = {name for view in views for name in view.tools}
        prompt = self.renderer.joiner(
            query,
            views,
            can_replan=can_replan,
            today=self.today(),
            tools=[t for t in self.tools if t.name in used],
        )
        grammar = joiner_grammar(can_replan=can_replan, thought_prompted=not self.chat) if self.joiner_grammar else None
        if self.chat:
            stop = ("<END_OF_RESPONSE>",)
            request = prompt.request(chat=True, stop=stop, max_tokens=self.max_tokens, grammar=grammar)
        else:
            # a plain completion has no end-of-turn token: stop where the model would start another turn
            request = CompletionRequest(
                prompt=prompt.text + "\nThought:",
                max_tokens=self.max_tokens,
                stop=_JOINER_STOPS,
                grammar=grammar,
                cache_prefix=prompt.static,
            )
        parts: list[str] = [] if self.chat else ["Thought:"]
        usage: Usage | None = None
        stream = traced(self.joiner_backend, "joiner", plan).stream(request)
        async with closing_stream(stream):
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage  # counts so far: the latest wins
                if chunk.text:
                    parts.append(chunk.text)
                    emit(Token(chunk.text, "join", round_no))
        if usage is not None:
            plan.usage = plan.usage + usage
        return parse_join("".join(parts))


# Where a plain-completion joiner reply ends: the model starting another turn. Not "\nAction:" (the action follows
# the thought) and not a blank line (answers may span paragraphs).
_JOINER_STOPS = ("<END_OF_RESPONSE>", "\nThought:", "\nQuestion:", "\nPlan:", "\n###")


def _apply_fix(parser: PlanParser, task: Task, fix: str) -> Task | None:
    """Put ``fix`` (a problem's corrected action text) in place of ``task``'s action in the plan text, re-parse, and
    return the corrected task; None (the parser unchanged) when the line is not where expected or does not parse."""
    text = parser.text
    lines = text.split("\n")
    i = task.line_no - 1
    if (
        not (0 <= i < len(lines))
        or not task.text
        or not lines[i].lstrip().startswith(f"{task.idx}.")
        or task.text not in lines[i]
    ):
        return None
    lines[i] = lines[i].replace(task.text, fix, 1)
    try:
        tasks = parser.rewind("\n".join(lines))
    except PlanParseError:
        parser.rewind(text)
        return None
    return next((t for t in tasks if t.idx == task.idx), None)


def check_request_text(query: str) -> None:
    """Reject a request that cannot be planned on its face: empty or only whitespace.

    Raises:
        RequestError: ``query`` is empty or whitespace.
    """
    if not isinstance(query, str):
        raise RequestError(f"the request must be a string, not {type(query).__name__}")
    if not query.strip():
        raise RequestError("the request is empty: say what you want done")


def _view(plan: Plan, thought: str) -> RoundView:
    done = [r for r in plan.results if not r.task.is_join]
    return RoundView(
        results=[r.render() for r in done],
        parse_error=plan.parse_error,
        thought=thought,
        tools=tuple(dict.fromkeys(r.task.name for r in done)),
    )


def _reported_answer(plan: Plan, toolset: Toolset) -> str | None:
    """The answer in ``join="auto"`` mode when the observations already say what happened, else None.

    That is when the plan parsed, every task succeeded, and every last step (a task no other task depends on) is a
    side-effecting tool whose observation is text: its report of what it did. Those reports, one per line, are the
    answer. Read-only last steps mean the user asked for a value, which the LLM joiner should phrase.
    """
    done = [r for r in plan.results if not r.task.is_join]
    if not done or plan.parse_error or any(not r.ok for r in done):
        return None
    used = {dep for r in done for dep in r.task.dependencies}
    reports: list[str] = []
    for r in done:
        if r.task.idx in used:
            continue
        t = toolset.get(r.task.name)
        if t is None or not t.side_effects or not isinstance(r.observation, str) or not r.observation.strip():
            return None
        reports.append(one_line(r.observation, 1000))
    return "\n".join(reports)


def _observations_answer(plan: Plan) -> str:
    """The answer in ``join="observations"`` mode: each task's observation (or error), one per line."""
    lines = []
    for r in plan.results:
        if r.task.is_join:
            continue
        if r.ok:
            lines.append(f"{r.task.idx}. {r.task.name}: {one_line(observation_text(r.observation), 500)}")
        else:
            lines.append(f"{r.task.idx}. {r.task.name}: ERROR ({r.state.value}): {r.error}")
    if plan.parse_error:
        lines.append(f"(the plan could not be parsed further: {plan.parse_error})")
    return "\n".join(lines) if lines else "(the plan called no tools)"
