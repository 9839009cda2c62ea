"""The task fetching unit: streaming start, event-driven dispatch, threads, limits, timeouts, failures, cancellation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio
import anyio.lowlevel
import networkx as nx
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyplan import (
    CompletionRequest,
    PlanParseError,
    PlanParser,
    PlanValidationError,
    Ref,
    ScriptedBackend,
    Task,
    TaskFetchingUnit,
    TaskFinished,
    TaskStarted,
    TaskState,
    Toolset,
    build_graph,
    parse_plan,
    tool,
)
from tinyplan._events import Event
from tinyplan._resolve import RESOLVED_VALUE_CHARS
from tinyplan._resolve import field_for as _field_for
from tinyplan._tools import canonical_arguments

pytestmark = pytest.mark.anyio


async def aiter_list(tasks: Iterable[Task]) -> AsyncIterator[Task]:
    for t in tasks:
        yield t


async def stream_tasks(
    backend: ScriptedBackend, parser: PlanParser, log: list[tuple[str, float]]
) -> AsyncIterator[Task]:
    """What the planner does: parse the backend's stream, yield each task as its line closes."""
    async for chunk in backend.stream(CompletionRequest(prompt="plan")):
        for t in parser.feed(chunk.text):
            log.append((f"parsed {t.idx}", time.perf_counter()))
            yield t
    for t in parser.close():
        yield t
    log.append(("stream end", time.perf_counter()))


class Contact(pydantic.BaseModel):
    name: str
    phone: str


def make_tools(calls: list[str] | None = None) -> Toolset:
    calls = calls if calls is not None else []

    @tool
    async def lookup(name: str) -> Contact:
        """Find a contact."""
        calls.append(f"lookup {name}")
        return Contact(name=name, phone=f"+1-{len(name)}")

    @tool
    def numbers(n: int) -> list[int]:
        """Sync tool."""
        calls.append(f"numbers {n}")
        return list(range(n))

    @tool
    async def echo(value: Any) -> Any:
        """Return the value."""
        calls.append(f"echo {value!r}")
        return value

    @tool
    async def boom(message: str) -> str:
        """Raises."""
        calls.append("boom")
        raise ValueError(message)

    @tool(side_effects=True)
    async def send_sms(to: list[str], message: str) -> str:
        """Send."""
        calls.append(f"send {to} {message}")
        return "sent"

    return Toolset([lookup, numbers, echo, boom, send_sms])


# ------------------------------------------------------------------------------------------------- basic runs
async def test_references_pass_typed_objects_fields_indices_and_text() -> None:
    calls: list[str] = []
    tools = make_tools(calls)
    plan = parse_plan(
        '1. lookup("Sid")\n2. numbers(3)\n3. echo($1)\n4. echo($1.phone)\n5. echo("${2}")\n'
        '6. echo("Call $1 at ${1}")\n7. echo([$2[-1], {"p": "$1.name"}])\n8. join()',
        tools,
    )
    results = await TaskFetchingUnit(tools).run(plan)
    assert all(r.ok for r in results.values()), {i: r.error for i, r in results.items()}
    assert results[3].observation == Contact(name="Sid", phone="+1-3")
    assert results[4].observation == "+1-3"
    assert results[5].observation == [0, 1, 2]  # exact "${2}" passes the list itself
    assert results[6].observation.startswith('Call {"name": "Sid"')  # inside prose: the JSON text
    assert results[7].observation == [2, {"p": "Sid"}]
    assert results[3].arguments == {"value": Contact(name="Sid", phone="+1-3")}
    assert results[8].task.is_join and results[8].state is TaskState.SUCCEEDED


async def test_every_task_ends_terminal_with_ordered_timings_and_renders() -> None:
    tools = make_tools()
    plan = parse_plan('1. lookup("Ann")\n2. boom("bad")\n3. echo($2)\n4. echo($1.name)\n5. join()', tools)
    results = await TaskFetchingUnit(tools).run(plan)
    assert [results[i].state for i in range(1, 6)] == [
        TaskState.SUCCEEDED,
        TaskState.FAILED,
        TaskState.SKIPPED,
        TaskState.SUCCEEDED,
        TaskState.SUCCEEDED,
    ]
    for r in results.values():
        assert r.state.terminal
        assert r.finished_at is not None and r.queued_at <= r.finished_at
        if r.started_at is not None:
            assert r.queued_at <= r.started_at <= r.finished_at
    assert results[2].error == "ValueError: bad"
    assert results[3].started_at is None
    assert results[3].error == "not run because task 2 (boom) failed: ValueError: bad"
    assert results[1].render() == '1. lookup("Ann")\nObservation: {"name": "Ann", "phone": "+1-3"}'
    assert str(results[3]) == "3. echo($2)\nObservation: ERROR (skipped): " + results[3].error
    assert results[5].render() == "5. join()"
    data = [r.to_dict() for r in results.values()]
    json.dumps(data)  # JSON-ready
    assert data[0]["observation"] == {"name": "Ann", "phone": "+1-3"}
    assert data[1]["state"] == "failed" and data[1]["duration_s"] >= 0


async def test_invalid_arguments_and_bad_paths_are_error_observations_and_the_tool_is_not_called() -> None:
    calls: list[str] = []
    tools = make_tools(calls)
    plan = parse_plan(
        '1. numbers("many")\n2. lookup("X")\n3. echo($2.email)\n4. numbers(n=2, extra=1)\n5. join()', tools
    )
    results = await TaskFetchingUnit(tools).run(plan)
    assert results[1].state is TaskState.FAILED and "n: Input should be a valid integer" in (results[1].error or "")
    assert results[3].state is TaskState.FAILED and "has no field 'email'" in (results[3].error or "")
    assert results[4].state is TaskState.FAILED and "extra" in (results[4].error or "")
    assert calls == ["lookup X"]


async def test_calls_with_references_render_with_the_values_they_ran_with() -> None:
    tools = make_tools()
    long_text = "x" * (RESOLVED_VALUE_CHARS + 50)
    plan = parse_plan(
        f'1. lookup("Ann")\n2. numbers(2)\n3. echo($1.phone)\n4. send_sms(["$1.phone"], "Hi $3")\n'
        f'5. echo("{long_text}")\n6. echo(value=[$2, $5])\n7. echo($2[5])\n8. join()',
        tools,
    )
    results = await TaskFetchingUnit(tools).run(plan)
    assert results[1].resolved_text is None and results[5].resolved_text is None  # nothing to resolve
    assert results[3].render() == '3. echo("+1-3")\nObservation: +1-3'
    assert results[4].resolved_text == 'send_sms(["+1-3"], "Hi +1-3")'  # prose references become their text
    six = results[6].resolved_text or ""
    assert six.startswith('echo(value=[[0, 1], "xxx') and six.endswith('x…"])')
    assert len(six) < RESOLVED_VALUE_CHARS + 40  # each resolved value is cut
    # a reference that cannot be followed keeps the call as written, and the error says what the value is
    assert results[7].state is TaskState.FAILED and results[7].resolved_text is None
    assert results[7].render().startswith("7. echo($2[5])\nObservation: ERROR (failed): $2[5]")
    assert results[4].to_dict()["resolved_call"] == 'send_sms(["+1-3"], "Hi +1-3")'


@pytest.mark.parametrize(
    ("output", "ref", "hint"),
    [
        ([{"id": 7, "title": "A"}], "$1[0][0]", "it is an object with the fields id, title (write e.g. $1[0].id)"),
        ({"films": [1, 2]}, "$1.films.id", "it is a list of 2 item(s) (write e.g. $1.films[0])"),
        ([], "$1[0]", "it is an empty list"),
        ({"a b": 1}, "$1[0]", 'it is an object with the fields a b (write e.g. $1["a b"])'),
    ],
)
async def test_a_reference_that_misses_says_what_the_output_is(output: Any, ref: str, hint: str) -> None:
    @tool
    def source() -> Any:
        """Fixed output."""
        return output

    @tool
    def sink(value: Any) -> Any:
        """Echo."""
        return value

    tools = Toolset([source, sink])
    results = await TaskFetchingUnit(tools).run(parse_plan(f"1. source()\n2. sink({ref})\n3. join()", tools))
    assert results[2].state is TaskState.FAILED
    assert hint in (results[2].error or ""), results[2].error


async def test_an_object_given_for_a_scalar_parameter_yields_its_matching_field() -> None:
    calls: list[str] = []

    @tool
    def search() -> list[dict[str, Any]]:
        """Places, each with its id and name."""
        return [{"id": 881, "name": "Alfama"}, {"id": 902, "name": "Baixa"}]

    @tool
    def reviews(stay_id: int) -> str:
        """Reviews of a place."""
        calls.append(f"reviews {stay_id}")
        return f"reviews of {stay_id}"

    @tool
    def hours(name: str, day: int | None = None) -> str:
        """Opening hours."""
        calls.append(f"hours {name}")
        return "9-5"

    @tool
    def count_of(count: int) -> int:
        """Needs a number no field is named for."""
        return count

    @tool
    def keep(place: dict[str, Any]) -> str:
        """Takes the whole object."""
        return str(place["id"])

    tools = Toolset([search, reviews, hours, count_of, keep])
    plan = (
        '1. search()\n2. reviews(stay_id="$1[0]")\n3. hours("$1[1]", day=2)\n4. count_of("$1[0]")\n'
        '5. keep("$1[0]")\n6. reviews(stay_id="Stay $1[0]")\n7. join()'
    )
    results = await TaskFetchingUnit(tools).run(parse_plan(plan, tools))
    # "*id" takes the object's id; a parameter takes the field of its own name; the call shows the value used
    assert results[2].ok and results[2].arguments == {"stay_id": 881}
    assert results[2].render() == "2. reviews(stay_id=881)\nObservation: reviews of 881"
    assert results[3].ok and results[3].arguments == {"name": "Baixa", "day": 2}
    assert results[3].resolved_text == 'hours("Baixa", day=2)'
    # no field fits: the validation error says what the object holds and how to refer into it
    assert results[4].state is TaskState.FAILED
    assert results[4].error == (
        "invalid arguments for count_of(count: int) -> int: count: Input should be a valid integer; "
        "count got $1[0], an object with the fields id, name (write e.g. $1[0].id)"
    )
    # a parameter that takes the object gets it whole; a reference inside prose is text, never a field
    assert results[5].ok and results[5].observation == "881"
    assert results[6].state is TaskState.FAILED and "stay_id got" not in (results[6].error or "")
    assert calls == ["reviews 881", "hours Baixa"]


async def test_unknown_tool_in_a_task_list_fails_that_task_only() -> None:
    tools = make_tools()
    results = await TaskFetchingUnit(tools).run([Task(1, "nope"), Task(2, "numbers", (2,))])
    assert results[1].state is TaskState.FAILED and results[1].error == "unknown tool 'nope'"
    assert results[2].ok


async def test_sync_tools_run_in_worker_threads_async_tools_on_the_loop() -> None:
    seen: dict[str, int] = {}

    @tool
    def sync_tool() -> int:
        seen["sync"] = threading.get_ident()
        return 1

    @tool
    async def async_tool() -> int:
        seen["async"] = threading.get_ident()
        return 2

    tools = Toolset([sync_tool, async_tool])
    results = await TaskFetchingUnit(tools).run(parse_plan("1. sync_tool()\n2. async_tool()\n3. join()"))
    assert results[1].observation == 1 and results[2].observation == 2
    assert seen["async"] == threading.get_ident()
    assert seen["sync"] != threading.get_ident()


# --------------------------------------------------------------------------------------------- streaming
async def test_first_task_starts_while_the_model_is_still_writing() -> None:
    started: list[float] = []

    @tool
    async def search(query: str) -> str:
        started.append(time.perf_counter())
        return query.upper()

    tools = Toolset([search])
    text = '1. search("a")\n2. search("b")\n3. search("$1 $2")\n4. join()<END_OF_PLAN>'
    backend = ScriptedBackend([text], delay=0.01)  # token-like pieces, 10 ms apart
    log: list[tuple[str, float]] = []
    events: list[Event] = []
    tfu = TaskFetchingUnit(tools, on_event=events.append)
    results = await tfu.run(stream_tasks(backend, PlanParser(tools), log))
    stream_end = dict(log)["stream end"]
    assert started[0] < stream_end  # task 1 ran before the model finished the plan
    assert results[1].finished_at is not None and results[1].finished_at < dict(log)["parsed 2"]
    assert results[3].observation == "A B"
    kinds = [(type(e).__name__, e.result.task.idx) for e in events if isinstance(e, (TaskStarted, TaskFinished))]
    assert kinds.index(("TaskStarted", 1)) < kinds.index(("TaskFinished", 1))
    assert sum(1 for k in kinds if k[0] == "TaskFinished") == 4


async def test_a_parse_error_mid_stream_lets_earlier_tasks_finish_then_raises_it() -> None:
    calls: list[str] = []
    tools = make_tools(calls)
    backend = ScriptedBackend(['1. numbers(2)\n2. lookup("Z")\n3. frobnicate(1)\n4. join()'], chunk_size=3)
    tfu = TaskFetchingUnit(tools)
    with pytest.raises(PlanParseError, match="unknown tool 'frobnicate'") as info:
        await tfu.run(stream_tasks(backend, PlanParser(tools), []))
    assert info.value.line_no == 3
    assert sorted(tfu.results) == [1, 2]
    assert all(r.ok for r in tfu.results.values())
    assert calls == ["numbers 2", "lookup Z"] or calls == ["lookup Z", "numbers 2"]


async def test_a_dangling_reference_in_a_stream_is_a_validation_error_after_running_tasks_end() -> None:
    tools = make_tools()
    tfu = TaskFetchingUnit(tools)
    with pytest.raises(PlanValidationError, match=r"task 2 depends on task\(s\) \[7\]"):
        await tfu.run(aiter_list([Task(1, "numbers", (1,)), Task(2, "echo", (Ref(7),)), Task(3, "numbers", (1,))]))
    assert list(tfu.results) == [1]
    assert tfu.results[1].ok


# ------------------------------------------------------------------------------------------------- graphs
def test_build_graph_is_a_networkx_dag_of_dependencies_and_references() -> None:
    tasks = parse_plan('1. a()\n2. b($1)\n3. c("${1} ${2}")\n4. join()')
    graph = build_graph(tasks)
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.edges) == {(1, 2), (1, 3), (2, 3), (1, 4), (2, 4), (3, 4)}
    assert graph.nodes[2]["tool"] == "b"
    # a reference the task did not declare still counts as a dependency
    assert set(build_graph([Task(1, "a"), Task(2, "b", (Ref(1),))]).edges) == {(1, 2)}


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([Task(1, "a", dependencies=(2,)), Task(2, "b", dependencies=(1,))], "dependency cycle"),
        ([Task(1, "a", dependencies=(1,))], "dependency cycle"),
        ([Task(1, "a"), Task(2, "b", dependencies=(5,))], "task 2 depends on task 5, which is not in the plan"),
        ([Task(1, "a"), Task(2, "b", kwargs={"x": [Ref(9, ("k",))]})], "task 2 depends on task 9"),
        ([Task(1, "a"), Task(1, "b")], "duplicate task index 1"),
    ],
)
async def test_invalid_graphs_are_rejected_before_anything_runs(tasks: list[Task], message: str) -> None:
    with pytest.raises(PlanValidationError, match=message):
        build_graph(tasks)
    ran: list[str] = []

    @tool
    async def a() -> None:
        ran.append("a")

    @tool
    async def b(x: Any = None) -> None:
        ran.append("b")

    with pytest.raises(PlanValidationError, match=message):
        await TaskFetchingUnit(Toolset([a, b])).run(tasks)
    assert ran == []


# ------------------------------------------------------------------------------------------- event-driven
async def test_a_task_starts_as_soon_as_its_own_dependencies_are_done() -> None:
    """Task 3 needs only task 1; task 2 blocks until task 3 has run. A scheduler that waited for 'waves' deadlocks."""
    released = anyio.Event()

    @tool
    async def quick() -> str:
        return "q"

    @tool
    async def blocker() -> str:
        await released.wait()
        return "b"

    @tool
    async def release(x: str) -> str:
        released.set()
        return x

    tools = Toolset([quick, blocker, release])
    with anyio.fail_after(5):
        results = await TaskFetchingUnit(tools).run(parse_plan("1. quick()\n2. blocker()\n3. release($1)\n4. join()"))
    assert all(r.ok for r in results.values())


async def test_concurrency_limit_is_respected_and_used() -> None:
    running = 0
    peak = 0

    @tool
    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01)
        running -= 1
        return i

    tools = Toolset([work])
    plan = parse_plan("\n".join(f"{i}. work({i})" for i in range(1, 9)) + "\n9. join()")
    results = await TaskFetchingUnit(tools, max_concurrency=3).run(plan)
    assert all(r.ok for r in results.values())
    assert peak == 3
    peak = 0
    await TaskFetchingUnit(tools).run(plan)
    assert peak == 8


@pytest.mark.parametrize("bad", [0, -1, True])
def test_bad_limits_are_value_errors(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        TaskFetchingUnit(Toolset(), max_concurrency=bad)
    with pytest.raises(ValueError, match="tool_timeout"):
        TaskFetchingUnit(Toolset(), tool_timeout=0)


# -------------------------------------------------------------------------------------------------- timeouts
async def test_per_tool_and_default_timeouts_give_timed_out_and_skip_dependents() -> None:
    @tool(timeout=0.05)
    async def slow() -> str:
        await anyio.sleep(30)
        return "never"

    @tool
    async def slow_default() -> str:
        await anyio.sleep(30)
        return "never"

    @tool
    async def fast(x: str = "") -> str:
        return "ok" + x

    tools = Toolset([slow, slow_default, fast])
    plan = parse_plan("1. slow()\n2. slow_default()\n3. fast($1)\n4. fast()\n5. join()")
    with anyio.fail_after(5):
        results = await TaskFetchingUnit(tools, tool_timeout=0.1).run(plan)
    assert results[1].state is TaskState.TIMED_OUT and results[1].error == "slow did not finish within 0.05 s"
    assert results[2].state is TaskState.TIMED_OUT and results[2].error == "slow_default did not finish within 0.1 s"
    assert results[3].state is TaskState.SKIPPED and "task 1 (slow) timed_out" in (results[3].error or "")
    assert results[4].observation == "ok"


async def test_a_hung_sync_tool_times_out_and_its_thread_is_abandoned() -> None:
    gate = threading.Event()
    finished = threading.Event()

    @tool(timeout=0.05)
    def hang() -> str:
        gate.wait(10)
        finished.set()
        return "late"

    try:
        with anyio.fail_after(5):
            results = await TaskFetchingUnit(Toolset([hang])).run(parse_plan("1. hang()\n2. join()"))
        assert results[1].state is TaskState.TIMED_OUT
        assert not finished.is_set()  # the thread is still going: Python threads cannot be stopped
    finally:
        gate.set()
    assert finished.wait(5)


async def test_a_tool_that_swallows_its_timeout_is_still_timed_out() -> None:
    @tool(timeout=0.05)
    async def stubborn() -> str:
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            return "pretend"
        return "never"

    results = await TaskFetchingUnit(Toolset([stubborn])).run(parse_plan("1. stubborn()"))
    assert results[1].state is TaskState.TIMED_OUT and results[1].observation is None


async def test_plan_timeout_ends_running_and_waiting_tasks_timed_out() -> None:
    @tool
    async def nap(s: float) -> float:
        await anyio.sleep(s)
        return s

    events: list[Event] = []
    tools = Toolset([nap])
    plan = parse_plan("1. nap(0)\n2. nap(30)\n3. nap($2)\n4. join()")
    with anyio.fail_after(5):
        results = await TaskFetchingUnit(tools, on_event=events.append).run(plan, timeout=0.1)
    assert results[1].ok
    assert [results[i].state for i in (2, 3, 4)] == [TaskState.TIMED_OUT] * 3
    assert "time limit (0.1 s)" in (results[2].error or "")
    assert results[3].started_at is None
    assert sorted(e.result.task.idx for e in events if isinstance(e, TaskFinished)) == [1, 2, 3, 4]


# ---------------------------------------------------------------------------------------------- cancellation
async def test_cancelling_the_caller_cancels_every_running_task_and_leaves_nothing_running() -> None:
    started: list[int] = []
    cancelled: list[int] = []
    completed: list[int] = []
    all_started = anyio.Event()

    @tool
    async def wait_forever(i: int) -> int:
        started.append(i)
        if len(started) == 3:
            all_started.set()
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            cancelled.append(i)
            raise
        completed.append(i)
        return i

    def closed_sink(event: Event) -> None:
        if isinstance(event, TaskFinished):
            raise RuntimeError("the consumer is gone")  # like a closed memory stream

    tools = Toolset([wait_forever])
    tfu = TaskFetchingUnit(tools, on_event=closed_sink)
    plan = parse_plan("1. wait_forever(1)\n2. wait_forever(2)\n3. wait_forever(3)\n4. wait_forever($1)\n5. join()")
    async with anyio.create_task_group() as tg:
        tg.start_soon(tfu.run, plan)
        with anyio.fail_after(5):
            await all_started.wait()
        tg.cancel_scope.cancel()
    assert sorted(cancelled) == [1, 2, 3]
    assert completed == []
    assert {i: r.state for i, r in tfu.results.items()} == dict.fromkeys(range(1, 6), TaskState.CANCELLED)
    assert all(r.finished_at is not None for r in tfu.results.values())
    await anyio.sleep(0.05)
    assert completed == [] and started == [1, 2, 3]  # nothing kept running after the cancellation


# ---------------------------------------------------------------------------------------- approval and reuse
async def test_approval_refusal_reuse_and_failing_approval() -> None:
    calls: list[str] = []
    tools = make_tools(calls)
    asked: list[dict[str, Any] | None] = []

    async def approve(result: Any) -> bool:
        asked.append(result.arguments)
        return result.arguments["message"] != "no"

    plan = parse_plan('1. send_sms(["a"], "yes")\n2. send_sms(["b"], "no")\n3. echo($2)\n4. numbers(1)\n5. join()')
    results = await TaskFetchingUnit(tools, approve=approve).run(plan)
    assert results[1].ok and results[1].observation == "sent"
    assert results[2].state is TaskState.REFUSED and "did not approve running send_sms" in (results[2].error or "")
    assert results[3].state is TaskState.SKIPPED
    assert asked == [{"to": ["a"], "message": "yes"}, {"to": ["b"], "message": "no"}]  # numbers() was not asked
    assert calls.count("send ['a'] yes") == 1 and "send ['b'] no" not in calls

    reuse = {canonical_arguments("send_sms", {"to": ["a"], "message": "yes"}): "sent earlier"}
    calls.clear()
    again = await TaskFetchingUnit(tools, reuse=reuse, approve=lambda r: True).run(
        parse_plan('1. send_sms(["a"], "yes")')
    )
    assert again[1].ok and again[1].reused and again[1].observation == "sent earlier" and calls == []
    assert "already done in an earlier plan" in again[1].render()

    def broken(result: Any) -> bool:
        raise RuntimeError("no terminal")

    failed = await TaskFetchingUnit(tools, approve=broken).run(parse_plan('1. send_sms(["a"], "x")'))
    assert failed[1].state is TaskState.FAILED and "RuntimeError: no terminal" in (failed[1].error or "")
    assert calls == []


# ------------------------------------------------------------------------------------------------ random DAGs
@st.composite
def dags(draw: st.DrawFn) -> list[tuple[int, tuple[int, ...]]]:
    n = draw(st.integers(1, 25))
    nodes = []
    for i in range(1, n + 1):
        deps = draw(st.sets(st.integers(1, i - 1), max_size=3)) if i > 1 else set()
        nodes.append((i, tuple(sorted(deps))))
    return nodes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(), st.booleans(), st.sampled_from([None, 2, 5]))
def test_random_dags_run_each_task_once_after_its_dependencies_with_roots_overlapping(
    dag: list[tuple[int, tuple[int, ...]]], stream: bool, limit: int | None
) -> None:
    roots = [i for i, deps in dag if not deps]
    log: list[tuple[str, int]] = []
    runs: dict[int, int] = {}
    barrier_count = 0
    barrier = anyio.Event()
    overlap_needed = min(len(roots), limit or len(roots))

    @tool
    async def step(i: int, inputs: list[int]) -> int:
        nonlocal barrier_count
        log.append(("start", i))
        runs[i] = runs.get(i, 0) + 1
        if i in roots and len(roots) > 1:
            barrier_count += 1
            if barrier_count == overlap_needed:
                barrier.set()
            if barrier_count <= overlap_needed:
                await barrier.wait()  # only passes if the first roots run at the same time
        await anyio.lowlevel.checkpoint()
        log.append(("end", i))
        return i + sum(inputs)

    tasks = [Task(i, "step", (i, [Ref(d) for d in deps]), dependencies=deps) for i, deps in dag]

    async def main() -> dict[int, Any]:
        source = aiter_list(tasks) if stream else tasks
        with anyio.fail_after(10):
            return await TaskFetchingUnit(Toolset([step]), max_concurrency=limit).run(source)

    results = anyio.run(main)
    assert runs == {i: 1 for i, _ in dag}
    position = {entry: k for k, entry in enumerate(log)}
    expected: dict[int, int] = {}
    for i, deps in dag:
        for d in deps:
            assert position[("end", d)] < position[("start", i)]
        expected[i] = i + sum(expected[d] for d in deps)
        assert results[i].observation == expected[i]


@pytest.mark.parametrize(
    ("parameter", "value", "field"),
    [
        ("propertyId", {"id": 1, "name": "x"}, "id"),  # camelCase *Id
        ("movie_id", {"ID": 7}, "ID"),  # case-insensitive
        ("name", {"Name": "a", "id": 1}, "Name"),  # the parameter's own name first
        ("title", {"id": 1, "name": "x"}, None),  # nothing fits
        ("stay_id", {"id": 1, "Id": 2}, None),  # ambiguous
        ("guid", {"uuid": 1}, None),  # only a field named exactly "id"
        ("paid", {"id": 1}, None),  # "*id" only as "_id" or "Id"
    ],
)
def test_which_field_a_parameter_means(parameter: str, value: dict[str, Any], field: str | None) -> None:
    assert _field_for(parameter, value) == field
