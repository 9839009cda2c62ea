"""`Planner.stream` closed early: at every event kind, with a tool still running, nothing escapes and nothing stays."""

from __future__ import annotations

import contextlib
import gc
import threading
import warnings

import anyio
import pytest

from tinyplan import (
    Event,
    FinalAnswer,
    JoinDecided,
    Planner,
    PlanParseFailed,
    Replanning,
    ScriptedBackend,
    TaskFinished,
    TaskParsed,
    TaskStarted,
    Token,
    tool,
)

pytestmark = pytest.mark.anyio


class Probe:
    """Tools whose running instances are tracked: ``running`` counts calls started and not yet ended."""

    def __init__(self, delay: float = 30.0) -> None:
        self.delay = delay
        self.running = 0
        self.cancelled: list[str] = []
        self.finished: list[str] = []

    def tools(self) -> list[object]:
        probe = self

        @tool
        async def quick(tag: str) -> str:
            """Returns at once.

            Args:
                tag: Any text.
            """
            probe.finished.append(tag)
            return tag

        @tool
        async def slow(tag: str) -> str:
            """Takes ``delay`` seconds unless cancelled.

            Args:
                tag: Any text.
            """
            probe.running += 1
            try:
                await anyio.sleep(probe.delay)
            except anyio.get_cancelled_exc_class():
                probe.cancelled.append(tag)
                raise
            finally:
                probe.running -= 1
            probe.finished.append(tag)
            return tag

        return [quick, slow]


# The first plan does not parse (unknown tool), so a replan round follows and every event kind appears; in the
# replan, quick("a") finishes at once and slow("b") runs until it is cancelled (or ``delay`` passes).
BROKEN = '1. quick("a")\n2. nosuch("x")\n'
PLAN = '1. quick("a")\n2. slow("b")\n3. quick("$1")\n4. join()<END_OF_PLAN>'
FINISH = "Thought: done.\nAction: Finish(all done)"


async def _close_at(kind: type[Event], *, nth: int = 1, delay: float = 30.0) -> tuple[Probe, list[Event]]:
    probe = Probe(delay)
    backend = ScriptedBackend([BROKEN, PLAN, FINISH], chunk_size=4)
    planner = Planner(backend, probe.tools(), max_replans=1)
    seen: list[Event] = []
    count = 0
    threads_before = threading.active_count()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "coroutine never awaited" or resource warning fails the test
        with anyio.fail_after(10):
            async with contextlib.aclosing(planner.stream("do it")) as events:
                async for event in events:
                    seen.append(event)
                    if isinstance(event, kind):
                        count += 1
                        if count == nth:
                            break
        gc.collect()
    assert threading.active_count() <= threads_before
    assert probe.running == 0, "a tool kept running after the stream was closed"
    return probe, seen


@pytest.mark.parametrize(
    "kind", [Token, TaskParsed, TaskStarted, PlanParseFailed, Replanning, TaskFinished, JoinDecided, FinalAnswer]
)
async def test_closing_early_at_each_event_kind_raises_nothing_and_leaves_nothing_running(kind: type[Event]) -> None:
    _, seen = await _close_at(kind, delay=0.05 if kind is FinalAnswer else 30.0)
    assert isinstance(seen[-1], kind)
    if kind is not FinalAnswer and kind is not JoinDecided:
        assert not any(isinstance(e, FinalAnswer) for e in seen)


async def test_closing_while_a_tool_runs_cancels_it() -> None:
    # the second TaskStarted of the replan round is slow("b"): close right after it started
    probe, seen = await _close_at(TaskStarted, nth=3)
    last = seen[-1]
    assert isinstance(last, TaskStarted) and last.result.task.name == "slow"
    assert probe.cancelled == ["b"]
    assert "b" not in probe.finished


async def test_closing_after_the_first_finished_task_cancels_the_rest_of_the_plan() -> None:
    probe = Probe()
    plan = '1. quick("a")\n2. slow("b")\n3. quick("$2")\n4. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan, FINISH], chunk_size=4)
    async with contextlib.aclosing(Planner(backend, probe.tools()).stream("do it")) as events:
        async for event in events:
            if isinstance(event, TaskFinished):
                break
    assert probe.running == 0
    assert probe.finished == ["a"]  # quick("$2") waited for slow("b"), which was cancelled
    assert probe.cancelled == ["b"]
    assert backend.remaining == 1  # the joiner was never asked


async def test_aclose_without_a_context_manager_and_after_exhaustion() -> None:
    probe = Probe()
    backend = ScriptedBackend(['1. quick("a")\n2. join()<END_OF_PLAN>', FINISH])
    events = Planner(backend, probe.tools()).stream("q")
    first = await events.__anext__()
    assert isinstance(first, Token)
    await events.aclose()
    await events.aclose()  # closing twice is harmless
    with pytest.raises(StopAsyncIteration):
        await events.__anext__()
