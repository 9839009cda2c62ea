"""The task fetching unit: runs a plan's tasks as a dependency DAG, each the moment its dependencies are done.

LLMCompiler's task fetching unit (Kim et al. 2023) polls every few milliseconds for ready tasks. Ours is
event-driven: every finished task counts down its dependents, and a dependent whose count reaches zero is started at
once in the same anyio task group. Tasks arrive from the streaming parser while the model is still writing, so the
first tool starts before the plan is complete.
"""

from __future__ import annotations

import inspect
import math
import time
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import networkx as nx
from anyio.abc import TaskGroup

from tinyplan._errors import PlanValidationError
from tinyplan._events import Event, TaskFinished, TaskStarted
from tinyplan._parser import references_in
from tinyplan._resolve import ResolveError, resolve_value, resolved_call_text, take_fields
from tinyplan._syntax import JOIN
from tinyplan._telemetry import tool_span
from tinyplan._tools import Tool, ToolArgumentError, Toolset, canonical_arguments
from tinyplan._types import Task, TaskResult, TaskState

__all__ = ["ApproveFn", "TaskFetchingUnit", "aiter_tasks", "build_graph"]


ApproveFn = Callable[[TaskResult], "bool | Awaitable[bool]"]
"""Asked before a side-effecting tool runs, with the `TaskResult` (``arguments`` filled in); False refuses."""

EventSink = Callable[[Event], None]


def _needs(task: Task) -> tuple[int, ...]:
    """The tasks ``task`` waits for: its declared dependencies and every task its arguments reference."""
    if not task.args and not task.kwargs:
        return task.dependencies
    refs = references_in(task.args) | references_in(dict(task.kwargs))
    if refs.issubset(task.dependencies):
        return task.dependencies
    return tuple(sorted(refs.union(task.dependencies)))


def build_graph(tasks: Iterable[Task]) -> nx.DiGraph[int]:
    """The dependency graph: a node per task (attribute ``tool``), an edge ``d -> t`` for each dependency.

    A task depends on its declared ``dependencies`` and on every task its arguments reference (``$N``).

    Raises:
        PlanValidationError: A duplicate index, a dependency on a task not in the plan, or a cycle.
    """
    graph: nx.DiGraph[int] = nx.DiGraph()
    listed = list(tasks)
    for t in listed:
        if t.idx in graph:
            raise PlanValidationError(f"duplicate task index {t.idx}")
        graph.add_node(t.idx, tool=t.name)
    for t in listed:
        for d in _needs(t):
            if d not in graph:
                raise PlanValidationError(f"task {t.idx} depends on task {d}, which is not in the plan")
            graph.add_edge(d, t.idx)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise PlanValidationError("dependency cycle: " + " -> ".join(str(a) for a, _ in cycle) + f" -> {cycle[0][0]}")
    return graph


@dataclass(slots=True)
class _Run:
    tg: TaskGroup
    limiter: anyio.CapacityLimiter | None
    results: dict[int, TaskResult] = field(default_factory=dict)
    waiting: dict[int, int] = field(default_factory=dict)  # task -> unfinished dependencies
    dependents: dict[int, list[int]] = field(default_factory=dict)
    needs: dict[int, tuple[int, ...]] = field(default_factory=dict)
    ready: deque[TaskResult] = field(default_factory=deque)  # tasks whose dependencies are all done
    standby: bool = False  # a worker has been spawned and has not yet taken a task


class TaskFetchingUnit:
    """Executes tasks as a DAG with every ready task running in parallel (LLMCompiler's task fetching unit).

    Event-driven, no polling loop: a finished task counts down its dependents, and each one whose count reaches zero
    joins a ready queue at once. Workers (tasks of one anyio task group) take ready tasks. A worker about to run a
    tool makes sure another worker stands by while ready tasks remain, so the moment its tool suspends (awaits I/O,
    sleeps, or waits for its worker thread) the next ready task starts in the standby worker; tools that return
    without suspending run back to back in one worker, with no task spawned per call.

    Args:
        tools: The toolset tasks call.
        max_concurrency: At most this many tools run at once (None: no limit; sync tools are also bounded by
            anyio's worker-thread limiter, 40 threads by default).
        tool_timeout: Default seconds per tool call when the tool sets none (None: no limit).
        approve: Asked before each side-effecting tool runs; refusing makes the task REFUSED and nothing runs.
            An approval callback that raises makes the task FAILED.
        reuse: Observations of side-effecting calls that already succeeded, keyed by
            `canonical_arguments(name, arguments)`: such a call is not run again and reports ``reused=True``.
        on_event: Called (synchronously) with `TaskStarted` and `TaskFinished` events as they happen.

    Attributes:
        results: Task results by index, filled while `run` goes (a live view of the latest run).

    Raises:
        ValueError: ``max_concurrency`` is not a positive integer, or ``tool_timeout`` is not positive.
    """

    def __init__(
        self,
        tools: Toolset,
        *,
        max_concurrency: int | None = None,
        tool_timeout: float | None = None,
        approve: ApproveFn | None = None,
        reuse: Mapping[str, Any] | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        if max_concurrency is not None and (isinstance(max_concurrency, bool) or max_concurrency < 1):
            raise ValueError(f"max_concurrency must be a positive integer or None, not {max_concurrency!r}")
        if tool_timeout is not None and not tool_timeout > 0:
            raise ValueError(f"tool_timeout must be a positive number of seconds or None, not {tool_timeout!r}")
        self.tools = tools
        self.max_concurrency = max_concurrency
        self.tool_timeout = tool_timeout
        self.approve = approve
        self.reuse = dict(reuse or {})
        self.on_event = on_event
        self.results: dict[int, TaskResult] = {}

    async def run(
        self,
        tasks: AsyncIterable[Task] | Iterable[Task],
        *,
        timeout: float | None = None,  # noqa: ASYNC109  (a plan-wide limit that turns into TIMED_OUT states)
    ) -> dict[int, TaskResult]:
        """Run every task and return all results by index once each is terminal.

        Args:
            tasks: An async iterable (each task starts as soon as it arrives and its dependencies are done, while
                the iterable still yields, e.g. from the streaming parser) or a finished collection (validated as
                a graph before anything runs).
            timeout: Seconds for the whole plan; tasks not finished by then end TIMED_OUT.

        Returns:
            Every task's `TaskResult` by index, each in a terminal state.

        Raises:
            PlanValidationError: A cycle, a duplicate index or a reference to a task that is not (yet) in the plan.
                For a finished collection nothing runs. For a stream, no further task is taken; the tasks taken
                before it still run to their end (see `results`), then the error is raised.
            Exception: Whatever the async iterable raises (e.g. `PlanParseError`, `BackendError`), the same way:
                the tasks it yielded before still finish, then its exception is raised as it is.
        """
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
        if not isinstance(tasks, AsyncIterable):
            tasks = list(tasks)
            build_graph(tasks)
        limiter = anyio.CapacityLimiter(self.max_concurrency) if self.max_concurrency else None
        source_error: Exception | None = None
        timed_out = False
        results: dict[int, TaskResult] = {}
        self.results = results
        try:
            with anyio.move_on_after(math.inf if timeout is None else timeout) as scope:
                async with anyio.create_task_group() as tg:
                    run = _Run(tg, limiter, results)
                    try:
                        if isinstance(tasks, AsyncIterable):
                            iterator = aiter(tasks)
                            try:
                                async for t in iterator:
                                    self._submit(t, run)
                            finally:
                                closer = getattr(iterator, "aclose", None)
                                if closer is not None:
                                    with anyio.CancelScope(shield=True):
                                        await closer()
                        else:
                            for t in tasks:
                                self._submit(t, run)
                    except Exception as exc:  # the stream failed: what was taken still runs, then we re-raise
                        source_error = exc
            timed_out = scope.cancelled_caught
        finally:
            self._settle(results, timed_out=timed_out, timeout=timeout)
        if source_error is not None:
            raise source_error
        return results

    # ------------------------------------------------------------------------------------------------ internals
    def _settle(self, results: Mapping[int, TaskResult], *, timed_out: bool, timeout: float | None) -> None:
        """Give every task that has not ended a terminal state: TIMED_OUT (plan timeout, with events) or CANCELLED."""
        now = time.perf_counter()
        for r in results.values():
            if r.state.terminal:
                continue
            r.finished_at = now
            if timed_out:
                r.state = TaskState.TIMED_OUT
                r.error = f"the plan's time limit ({timeout:g} s) ran out before this task finished"
                if self.on_event is not None:
                    self.on_event(TaskFinished(r))
            else:
                # The caller is going away: no events (its sink may be closed already, and an error raised here
                # would replace the cancellation).
                r.state = TaskState.CANCELLED
                r.error = "cancelled before it finished"

    def _submit(self, task: Task, run: _Run) -> None:
        results = run.results
        if task.idx in results:
            raise PlanValidationError(f"duplicate task index {task.idx}")
        needs = _needs(task)
        unfinished = 0
        for d in needs:
            dep = results.get(d)
            if dep is None:
                missing = [x for x in needs if x not in results]
                raise PlanValidationError(
                    f"task {task.idx} depends on task(s) {missing} that are not in the plan before it"
                )
            if not dep.state.terminal:
                unfinished += 1
        results[task.idx] = TaskResult(task=task, queued_at=time.perf_counter())
        run.needs[task.idx] = needs
        if unfinished:
            for d in needs:
                if not results[d].state.terminal:
                    run.dependents.setdefault(d, []).append(task.idx)
            run.waiting[task.idx] = unfinished
        else:
            run.ready.append(results[task.idx])
            if not run.standby:
                run.standby = True
                run.tg.start_soon(self._worker, run)

    async def _worker(self, run: _Run) -> None:
        """Take ready tasks until none is left; keep a standby worker while more are ready."""
        run.standby = False
        ready = run.ready
        while ready:
            result = ready.popleft()
            if ready and not run.standby:
                run.standby = True  # if this task's tool suspends, the standby starts the next ready task
                run.tg.start_soon(self._worker, run)
            with tool_span(result):  # an OpenTelemetry span, current while the tool runs
                await self._execute_one(result, run)
                self._finish(result, run)

    def _finish(self, result: TaskResult, run: _Run) -> None:
        """Record the end of a task and queue the dependents it made ready (the calling worker goes on with them)."""
        result.finished_at = time.perf_counter()
        if self.on_event is not None:
            self.on_event(TaskFinished(result))
        dependents = run.dependents.pop(result.task.idx, None)
        if not dependents:
            return
        waiting = run.waiting
        for dep in dependents:
            left = waiting[dep] - 1
            if left:
                waiting[dep] = left
            else:
                del waiting[dep]
                run.ready.append(run.results[dep])

    async def _execute_one(self, result: TaskResult, run: _Run) -> None:
        task = result.task
        results = run.results
        needs = run.needs[task.idx]
        if task.name == JOIN:
            result.state = TaskState.SUCCEEDED
            return
        failed = [d for d in needs if results[d].state is not TaskState.SUCCEEDED]
        if failed:
            result.state = TaskState.SKIPPED
            result.error = "not run because " + "; ".join(_why(results[d]) for d in failed)
            return
        tool_ = self.tools.get(task.name)
        if tool_ is None:
            result.state = TaskState.FAILED
            result.error = f"unknown tool {task.name!r}"
            return
        try:
            args = [resolve_value(a, results) for a in task.args] if task.args else []
            kwargs = {k: resolve_value(v, results) for k, v in task.kwargs.items()} if task.kwargs else {}
            try:
                result.arguments = tool_.validate(args, kwargs)
            except ToolArgumentError as exc:
                args, kwargs = take_fields(tool_, task, args, kwargs, exc)
                result.arguments = tool_.validate(args, kwargs)
            if references_in(task.args) or references_in(dict(task.kwargs)):
                result.resolved_text = resolved_call_text(task.name, args, kwargs)
        except (ResolveError, ToolArgumentError) as exc:
            result.state = TaskState.FAILED
            result.error = str(exc)
            return
        if tool_.side_effects:
            key = canonical_arguments(tool_.name, result.arguments)
            if key in self.reuse:
                result.state = TaskState.SUCCEEDED
                result.observation = self.reuse[key]
                result.reused = True
                return
            if self.approve is not None:
                try:
                    verdict = self.approve(result)
                    if inspect.isawaitable(verdict):
                        verdict = await verdict
                except Exception as exc:
                    result.state = TaskState.FAILED
                    result.error = f"the approval check failed ({type(exc).__name__}: {exc}); nothing was done"
                    return
                if not verdict:
                    result.state = TaskState.REFUSED
                    result.error = f"the user did not approve running {task.name}; nothing was done"
                    return
        limit = tool_.timeout if tool_.timeout is not None else self.tool_timeout
        if run.limiter is not None:
            async with run.limiter:
                await self._call(tool_, result, limit)
        else:
            await self._call(tool_, result, limit)

    async def _call(self, tool_: Tool, result: TaskResult, limit: float | None) -> None:
        result.state = TaskState.RUNNING
        result.started_at = time.perf_counter()
        if self.on_event is not None:
            self.on_event(TaskStarted(result))
        arguments = result.arguments
        assert arguments is not None
        if limit is None:
            try:
                result.observation = await tool_.call(arguments)
            except Exception as exc:  # a tool's own error becomes an observation the model can read
                result.state = TaskState.FAILED
                result.error = f"{type(exc).__name__}: {exc}"
                return
            result.state = TaskState.SUCCEEDED
            return
        with anyio.move_on_after(limit) as scope:
            try:
                result.observation = await tool_.call(arguments)
            except Exception as exc:
                if not scope.cancel_called:
                    result.state = TaskState.FAILED
                    result.error = f"{type(exc).__name__}: {exc}"
                    return
        if scope.cancel_called:  # also when the tool swallowed the cancellation and returned or raised
            result.observation = None
            result.state = TaskState.TIMED_OUT
            result.error = f"{tool_.name} did not finish within {limit:g} s"
        else:
            result.state = TaskState.SUCCEEDED


def _why(dep: TaskResult) -> str:
    reason = f"task {dep.task.idx} ({dep.task.name}) {dep.state.value}"
    if dep.error and dep.state is not TaskState.SKIPPED:
        reason += f": {dep.error[:200]}"
    return reason


async def aiter_tasks(tasks: Iterable[Task]) -> AsyncIterable[Task]:
    """Adapt a collection of tasks to an async iterable (for tests and tools that stream from elsewhere)."""
    for t in tasks:
        yield t
