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
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import tokenizers
from anyio.streams.memory import MemoryObjectSendStream

from tinyplan._backend import Backend, Chunk, CompletionRequest, Usage, closing_stream
from tinyplan._checks import PlanChecker, Problem
from tinyplan._errors import (
    BackendError,
    JoinerError,
    PlanParseError,
    RequestError,
    TinyplanError,
    UnknownToolError,
    UsageError,
)
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
from tinyplan._fetcher import ApproveFn, TaskFetchingUnit
from tinyplan._grammar import GrammarLevel, plan_grammar
from tinyplan._joiner import ask_joiner, joiner_request
from tinyplan._parser import PlanParser
from tinyplan._prompt import (
    ExampleSource,
    PromptParts,
    PromptRenderer,
    RoundView,
    count_tokens,
    one_line,
    side_effect_line,
)
from tinyplan._relevance import RelevanceVerdict, check_relevance, invented_numbers, shares_words
from tinyplan._retriever import ToolRetriever, apply_selection
from tinyplan._syntax import END_OF_PLAN
from tinyplan._telemetry import invoke_agent, plan_span, traced
from tinyplan._tools import ToolLike, Toolset, as_toolset, canonical_arguments
from tinyplan._types import JoinDecision, Plan, PlanResult, Task, TaskState, Timings, observation_text

__all__ = ["Planner", "check_request_text"]

JoinMode = Literal["llm", "observations", "auto"]

#: Seconds the planner still reads a plan stream after ``join()`` for the backend's final usage (see `_final_usage`).
USAGE_GRACE_S = 0.25
_NO_TOOL_PLAN = "1. join()"  # the plan when the relevance check finds that no listed tool fits


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
            grammar force a listed tool onto an unrelated request (BFCL's irrelevance category). Also drop the
            first plan's first action, before it runs, when it feeds its tool only numbers the request never states
            (`tinyplan.invented_numbers`), and plan no tool call instead. Costs up to 32 generated tokens per run
            (see docs/grammar.md, "Relevance check").
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
        UsageError: An option is out of range (``max_replans``, ``max_repairs``, ``join``, ``grammar``), or
            ``grammar``/``joiner_grammar=True`` is set but the (joiner) backend does not support grammars.
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
            raise UsageError("max_replans must be 0 or more")
        if join not in ("llm", "observations", "auto"):
            raise UsageError(f"join must be 'llm', 'observations' or 'auto', not {join!r}")
        if grammar not in (None, "syntax", "typed"):
            raise UsageError(f"grammar must be None, 'syntax' or 'typed', not {grammar!r}")
        if grammar is not None and not backend.supports_grammar:
            raise UsageError(f"{type(backend).__name__} does not support grammars; use grammar=None")
        joiner = joiner_backend or backend
        if joiner_grammar and not joiner.supports_grammar:
            raise UsageError(f"{type(joiner).__name__} does not support grammars; use joiner_grammar=False")
        self.backend = backend
        self.tools = as_toolset(tools)
        self.examples = list(self.tools.examples if examples is None else examples)
        self.instructions = list(self.tools.instructions if instructions is None else instructions)
        self.join: JoinMode = join
        self.joiner_backend = joiner
        self.joiner_grammar = joiner.supports_grammar if joiner_grammar is None else joiner_grammar
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
            raise UsageError("max_repairs must be 0 or more")
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
        result = PlanResult(query=query, started_at=time.perf_counter())
        run = _RunState(result, emit, *await self._select_tools(query, result))
        run_start = run.started_at
        reason = ""
        for round_no in range(self.max_replans + 1):
            if round_no:
                emit(Replanning(reason, round=round_no))
            built = time.perf_counter()
            request = self._request(run.toolset, run.examples, query, run.views, run.done_side_effects)
            result.tools = run.toolset.names
            result.timings.prompt_build += time.perf_counter() - built
            plan = Plan(round=round_no, prompt=request)
            plan.prompt_tokens = await self._count_prompt(request, first=not round_no)
            result.plans.append(plan)
            await self._plan_and_execute(run, plan)
            run.remember_side_effects(plan)

            can_replan = round_no < self.max_replans
            errors = [r for r in plan.failed if r.state is not TaskState.REFUSED]
            if can_replan and self.replan_on_error and (plan.parse_error or errors):
                why = plan.parse_error or "; ".join(f"task {r.task.idx} {r.state.value}: {r.error}" for r in errors)
                decision = JoinDecision("replan", thought="", reason=why)
            elif self.join == "observations":
                decision = JoinDecision("finish", answer=_observations_answer(plan))
            elif self.join == "auto" and (reported := _reported_answer(plan, run.toolset)) is not None:
                decision = JoinDecision("finish", thought="the actions report what they did", answer=reported)
            else:
                join_started = time.perf_counter()
                try:
                    decision = await self._llm_join(run, plan, can_replan)
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
            run.views.append(RoundView.of(plan, decision.thought or reason))
            if not can_replan:
                result.status = "replan_limit"
                result.error = f"the plan still needed replanning after {self.max_replans} replan(s): {reason}"
                break
            if run.toolset is not self.tools and plan.unknown_tools:
                run.toolset, run.examples = self.tools, self.examples  # ToolRAG missed a tool: plan with them all
        for p in result.plans:
            result.usage = result.usage + p.usage
        result.timings.total = time.perf_counter() - run_start
        emit(FinalAnswer(result, round=len(result.plans) - 1))

    async def _count_prompt(self, request: CompletionRequest, *, first: bool) -> int | None:
        """The prompt's tokens (None if nothing can count them), checked against the context for the first prompt.

        For the first prompt, check that the prompt and the plan's ``max_tokens`` fit the backend's
        ``context_length`` (when it has one) before anything is sent.

        Raises:
            RequestError: The first prompt does not fit.
        """
        n = await count_tokens(request.text, backend=self.backend, tokenizer=self.tokenizer)
        context = self.backend.context_length
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
        result = PlanResult(query=query, started_at=time.perf_counter())
        run = _RunState(result, on_event or (lambda event: None), *await self._select_tools(query, result))
        plan = Plan(round=0, prompt=self._request(run.toolset, run.examples, query))
        plan.prompt_tokens = await self._count_prompt(plan.prompt, first=True)
        parser = PlanParser(frozenset(run.toolset.names))
        send, receive = anyio.create_memory_object_stream[Task](math.inf)
        with send, receive:
            try:
                await self._stream_plan(run, plan, parser, send)
            except PlanParseError as exc:
                plan.parse_error = str(exc)
                if isinstance(exc, UnknownToolError):
                    plan.unknown_tools.append(exc.tool)
        plan.text = parser.text
        plan.tasks = list(parser.tasks)
        return plan

    async def _plan_and_execute(self, run: _RunState, plan: Plan) -> None:
        """Stream ``plan`` from the model into the task fetching unit and run it; fill its text, tasks and results.

        Raises:
            BackendError: The backend failed (every task the plan had started is cancelled first).
        """
        round_no, emit, result = plan.round, run.emit, run.result
        parser = PlanParser(frozenset(run.toolset.names))
        first_start: list[float] = []

        def on_task_event(event: Event) -> None:
            if isinstance(event, TaskStarted):
                if not first_start:
                    first_start.append(time.perf_counter())
                emit(TaskStarted(event.result, round=round_no))
            elif isinstance(event, TaskFinished):
                emit(TaskFinished(event.result, round=round_no))

        tfu = TaskFetchingUnit(
            run.toolset,
            max_concurrency=self.max_concurrency,
            tool_timeout=self.tool_timeout,
            approve=self.approve,
            reuse=run.reuse,
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
                        await self._stream_plan(run, plan, parser, send)
                except PlanParseError as exc:
                    plan.parse_error = str(exc)
                    if isinstance(exc, UnknownToolError):
                        plan.unknown_tools.append(exc.tool)
                    emit(PlanParseFailed(str(exc), round=round_no))
                except BackendError as exc:
                    backend_error.append(exc)
                    tg.cancel_scope.cancel()  # a dead backend cancels every task its plan started
                stream_end = time.perf_counter()
        finished = time.perf_counter()
        plan.text = parser.text
        plan.tasks = list(parser.tasks)
        plan.results = [tfu.results[t.idx] for t in plan.tasks if t.idx in tfu.results]
        # every result is terminal here: the task fetching unit settles what did not finish (its one owner)
        result.timings.plan_generation += stream_end - sent
        result.timings.execution += max(0.0, finished - stream_end)
        if first_start and result.timings.time_to_first_tool_start is None:
            result.timings.time_to_first_tool_start = first_start[0] - run.started_at
        if backend_error:
            raise backend_error[0]

    async def _stream_plan(
        self, run: _RunState, plan: Plan, parser: PlanParser, send: MemoryObjectSendStream[Task]
    ) -> None:
        """Stream ``plan``'s text through the parser and the plan checks, each passing task into ``send``.

        Raises:
            PlanParseError: The text does not parse (the tasks before the bad line were sent), or ends without join.
            BackendError: The backend failed.
        """
        toolset, emit, query = run.toolset, run.emit, run.result.query
        stream = _PlanStream(
            plan, parser, send, emit, run.result.timings, run.started_at, self._checker(toolset, query), toolset, query
        )
        if self.relevance_check and plan.round == 0 and await self._no_tool_fits(plan, toolset, query):
            stream.first_token()
            emit(Token(_NO_TOOL_PLAN, "plan", plan.round))
            stream.pass_on([*parser.feed(_NO_TOOL_PLAN), *parser.close()])
            return
        request = plan.prompt
        usage_total = Usage()
        while True:
            usage, problem = await self._stream_once(request, stream)
            usage_total = usage_total + usage
            if problem is None:
                break
            task, found = problem
            request = self._repair(plan, parser, task, found, toolset)
            emit(PlanRepaired(found, str(task), plan.round))
        plan.usage = usage_total if plan.relevance is None else plan.relevance.usage + usage_total
        if not parser.done:
            stream.pass_on(parser.close())
        if not parser.done:
            raise PlanParseError("the plan ended without join()", line_no=parser.text.count("\n") + 1)

    async def _stream_once(
        self, request: CompletionRequest, s: _PlanStream
    ) -> tuple[Usage, tuple[Task, Problem] | None]:
        """Stream one request's plan text through the parser and the plan checks into the task fetching unit.

        Returns:
            The request's usage (estimated from the chunks when the stream stopped before the backend's count), and
            the line that failed the checks with its problem, or None when the plan ended.
        """
        stream = traced(self.backend, "planner", s.plan).stream(request)
        text_chunks = 0
        usage: Usage | None = None
        problem: tuple[Task, Problem] | None = None
        async with closing_stream(stream):
            async for chunk in stream:
                usage = chunk.usage or usage
                if not chunk.text:
                    continue
                text_chunks += 1
                s.first_token()
                s.emit(Token(chunk.text, "plan", s.plan.round))
                for parsed in s.parser.feed(chunk.text):
                    if self._invents_numbers(parsed, s):
                        break
                    task, found = self._checked(parsed, s)
                    if found is not None:
                        problem = (task, found)
                        break
                    s.pass_on([task])
                if problem is not None or s.parser.done:
                    break  # everything after join() is ignored: stop generating
            if usage is None and problem is None and s.parser.done:
                usage = await _final_usage(stream)
        if usage is None:  # stopped before the backend's final usage: count what is known
            usage = Usage(prompt_tokens=s.plan.prompt_tokens or 0, completion_tokens=text_chunks)
        return usage, problem

    async def _no_tool_fits(self, plan: Plan, toolset: Toolset, query: str) -> bool:
        """Run the relevance check before the first plan (sets ``plan.relevance`` and its usage).

        Without cues, a request that shares no word with any tool is judged unrelated without asking the model.

        Returns:
            True when no listed tool fits: the plan is then ``1. join()``.
        """
        if not getattr(self.tools, "cues", ()) and not shares_words(query, toolset):
            plan.relevance = RelevanceVerdict(text="", name=None, unlisted=None, usage=Usage(), unrelated=True)
        else:
            plan.relevance = await check_relevance(traced(self.backend, "relevance", plan), plan.prompt, toolset.names)
        if plan.relevance.no_tool:
            plan.usage = plan.relevance.usage
        return plan.relevance.no_tool

    def _invents_numbers(self, task: Task, s: _PlanStream) -> bool:
        """Whether the first plan's first action feeds its tool only numbers the request never states.

        With the relevance check on, such an action is dropped before it runs and the plan becomes ``1. join()``
        (`tinyplan._relevance.invented_numbers`); ``plan.relevance.invented`` records the numbers.
        """
        plan = s.plan
        if not self.relevance_check or plan.round != 0 or task.idx != 1 or task.is_join or plan.relevance is None:
            return False
        invented = invented_numbers(task, s.toolset[task.name], s.query) if task.name in s.toolset else ()
        if not invented:
            return False
        plan.relevance = dataclasses.replace(plan.relevance, invented=invented)
        s.emit(Token("\n" + _NO_TOOL_PLAN, "plan", plan.round))
        s.pass_on([*s.parser.rewind(_NO_TOOL_PLAN), *s.parser.close()])
        return True

    def _checked(self, task: Task, s: _PlanStream) -> tuple[Task, Problem | None]:
        """Check a just-parsed line against the plan checks while repairs are left.

        A problem with a certain fix is repaired in place (the corrected task replaces the line, no new generation);
        any other problem is returned so that the caller cuts the plan back and asks the model again.

        Returns:
            The task to run (the corrected one after an in-place fix) and the problem left, or None.
        """
        checker, sent = s.checker, s.sent
        if checker is None or sum(p.fix is None for p in s.plan.repairs) >= self.max_repairs:
            return task, None
        found = checker.check_join(task, sent) if task.is_join else checker.check_task(task, sent)
        if found is None or found.fix is None:
            return task, found
        fixed = _apply_fix(s.parser, task, found.fix)
        if fixed is not None and checker.check_task(fixed, sent) is None:
            s.plan.repairs.append(found)  # certain: no new generation; the stream goes on
            s.emit(PlanRepaired(found, str(task), s.plan.round))
            return fixed, None
        return task, dataclasses.replace(found, fix=None)

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
        """The request that writes ``task``'s line again, with the problem's hint.

        The plan is cut back to the start of ``task``'s line (with its thought) and a ``Thought:`` line with the
        problem's hint is added.

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

    async def _llm_join(self, run: _RunState, plan: Plan, can_replan: bool) -> JoinDecision:
        """Ask the joiner about ``plan`` (after the run's earlier plans): finish with an answer, or replan."""
        views = [*run.views, RoundView.of(plan, "")]
        used = {name for view in views for name in view.tools}
        prompt = self.renderer.joiner(
            run.result.query,
            views,
            can_replan=can_replan,
            today=self.today(),
            tools=[t for t in self.tools if t.name in used],
        )
        request = joiner_request(
            prompt, chat=self.chat, can_replan=can_replan, grammar=self.joiner_grammar, max_tokens=self.max_tokens
        )
        decision, usage = await ask_joiner(
            traced(self.joiner_backend, "joiner", plan),
            request,
            chat=self.chat,
            on_text=lambda text: run.emit(Token(text, "join", plan.round)),
        )
        if usage is not None:
            plan.usage = plan.usage + usage
        return decision


@dataclass
class _RunState:
    """One run's state, shared by its rounds: where events go, the tools offered and what earlier plans did."""

    result: PlanResult
    emit: Callable[[Event], None]
    toolset: Toolset
    examples: list[str]
    reuse: dict[str, Any] = field(default_factory=dict)  # canonical side-effecting call -> its observation
    done_side_effects: list[str] = field(default_factory=list)  # the replan prompt's "already done" lines
    views: list[RoundView] = field(default_factory=list)  # the executed plans the replan and joiner prompts show

    @property
    def started_at(self) -> float:
        """`time.perf_counter()` seconds when the run started."""
        return self.result.started_at or 0.0

    def remember_side_effects(self, plan: Plan) -> None:
        """Record ``plan``'s succeeded side-effecting calls, so no later plan runs them again."""
        for r in plan.results:
            if r.ok and not r.reused and r.arguments is not None:
                t = self.toolset.get(r.task.name)
                if t is not None and t.side_effects:
                    self.reuse[canonical_arguments(t.name, r.arguments)] = r.observation
                    self.done_side_effects.append(side_effect_line(t.name, r.arguments, r.observation))


@dataclass
class _PlanStream:
    """The state of one round's plan stream: where its tasks go and what has passed the checks so far."""

    plan: Plan
    parser: PlanParser
    send: MemoryObjectSendStream[Task]
    emit: Callable[[Event], None]
    timings: Timings
    run_start: float
    checker: PlanChecker | None
    toolset: Toolset
    query: str
    sent: dict[int, Task] = field(default_factory=dict)

    def first_token(self) -> None:
        """Record the run's time to first token, the first time only."""
        if self.timings.time_to_first_token is None:
            self.timings.time_to_first_token = time.perf_counter() - self.run_start

    def pass_on(self, tasks: Iterable[Task]) -> None:
        """Hand tasks that passed the checks to the task fetching unit, each with its ``TaskParsed`` event."""
        for task in tasks:
            self.sent[task.idx] = task
            self.emit(TaskParsed(task, self.plan.round))
            self.send.send_nowait(task)


async def _final_usage(stream: AsyncIterator[Chunk]) -> Usage | None:
    """The backend's own usage from what it streams after ``join()``, waiting at most `USAGE_GRACE_S` for it.

    HTTP backends (llama-server, OpenAI-compatible servers) and `ScriptedBackend` send usage, with its cached prompt
    tokens, only in their final event, which comes right after ``join()`` when the stop string or the grammar ends the
    plan there. The text of these chunks is ignored.
    """
    found: Usage | None = None
    with anyio.move_on_after(USAGE_GRACE_S):
        async for chunk in stream:
            found = chunk.usage or found
            if found is not None or chunk.finish_reason is not None:
                break
    return found


def _apply_fix(parser: PlanParser, task: Task, fix: str) -> Task | None:
    """Put ``fix`` (a problem's corrected action text) in place of ``task``'s action in the plan text and re-parse.

    Returns:
        The corrected task; None (the parser unchanged) when the line is not where expected or does not parse.
    """
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
