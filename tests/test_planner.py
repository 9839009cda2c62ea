"""End-to-end tests of the planner loop with `ScriptedBackend`."""

from __future__ import annotations

import contextlib
import datetime as dt
import time

import anyio
import pytest

from tinyplan import (
    BackendStreamError,
    FinalAnswer,
    JoinDecided,
    Planner,
    PlanParseFailed,
    Replanning,
    ScriptedBackend,
    ScriptedFailure,
    TaskFinished,
    TaskParsed,
    TaskStarted,
    TaskState,
    TinyplanError,
    Token,
    Toolset,
    joiner_grammar,
    tool,
)

pytestmark = pytest.mark.anyio

CONTACTS = {"Sid": "+1 555 0101", "Lutfi": "+1 555 0102", "Ana": "+1 555 0103"}


def make_tools(log: list[str] | None = None, *, delay: float = 0.0) -> Toolset:
    log = log if log is not None else []

    @tool
    async def get_phone_number(name: str) -> str:
        """Find a contact's phone number.

        Args:
            name: The contact's name.
        """
        log.append(f"start get_phone_number {name}")
        await anyio.sleep(delay)
        log.append(f"end get_phone_number {name}")
        if name not in CONTACTS:
            raise LookupError(f"no contact named {name!r}")
        return CONTACTS[name]

    @tool(side_effects=True)
    def send_sms(recipients: list[str], message: str) -> str:
        """Send a text message.

        Args:
            recipients: Phone numbers.
            message: The text.
        """
        log.append(f"send_sms {recipients} {message}")
        return f"SMS to {', '.join(recipients)}: {message}"

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @tool
    def contact_card(name: str) -> dict[str, str]:
        """A contact card with name and phone."""
        return {"name": name, "phone": CONTACTS[name]}

    return Toolset([get_phone_number, send_sms, add, contact_card])


FINISH = "Thought: done.\nAction: Finish({})"


async def test_parallel_fan_out_runs_independent_tasks_together() -> None:
    log: list[str] = []
    plan = (
        '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n3. get_phone_number("Ana")\n'
        '4. send_sms(["$1", "$2", "$3"], "moved to 3pm")\n5. join()<END_OF_PLAN>'
    )
    backend = ScriptedBackend([plan, FINISH.format("Sent.")])
    started = time.perf_counter()
    result = await Planner(backend, make_tools(log, delay=0.2)).run("Text Sid, Lutfi and Ana")
    elapsed = time.perf_counter() - started
    assert result.status == "answered"
    assert result.answer == "Sent."
    # the three lookups overlapped: all started before any ended
    starts = [i for i, e in enumerate(log) if e.startswith("start")]
    ends = [i for i, e in enumerate(log) if e.startswith("end")]
    assert max(starts) < min(ends)
    assert elapsed < 0.55  # three 0.2 s lookups in parallel, not 0.6 s in sequence
    sms = result.plans[0].results[3]
    assert sms.observation == "SMS to +1 555 0101, +1 555 0102, +1 555 0103: moved to 3pm"
    assert sms.task.dependencies == (1, 2, 3)


async def test_dependency_chain_passes_typed_values() -> None:
    plan = (
        '1. add(2, 3)\n2. add($1, 10)\n3. add(${2}, $1)\n4. contact_card("Sid")\n'
        '5. send_sms([$4.phone], "value is $3")\n6. join()<END_OF_PLAN>'
    )
    backend = ScriptedBackend([plan, FINISH.format("20")])
    result = await Planner(backend, make_tools()).run("chain")
    obs = {r.task.idx: r.observation for r in result.plans[0].results}
    assert obs[1] == 5 and isinstance(obs[1], int)
    assert obs[2] == 15
    assert obs[3] == 20
    assert obs[5] == "SMS to +1 555 0101: value is 20"
    assert result.plans[0].results[4].arguments == {"recipients": ["+1 555 0101"], "message": "value is 20"}


async def test_tool_error_leads_to_replan_and_correct_answer() -> None:
    first = '1. get_phone_number("Lutfy")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    second = 'Thought: the name is Lutfi.\n1. get_phone_number("Lutfi")\n2. send_sms(["$1"], "hi")\n3. join()'
    backend = ScriptedBackend([first, second, FINISH.format("I texted Lutfi (at +1 555 0102).")])
    events: list[object] = []
    planner = Planner(backend, make_tools(), max_replans=1)
    async with contextlib.aclosing(planner.stream("Text Lutfi hi")) as stream:
        async for ev in stream:
            events.append(ev)
    result = events[-1].result  # type: ignore[attr-defined]
    assert isinstance(events[-1], FinalAnswer)
    assert result.answer == "I texted Lutfi (at +1 555 0102)."
    assert len(result.plans) == 2
    assert result.plans[0].results[0].state is TaskState.FAILED
    assert "no contact named 'Lutfy'" in (result.plans[0].results[0].error or "")
    assert result.plans[0].results[1].state is TaskState.SKIPPED
    assert result.plans[1].results[1].observation == "SMS to +1 555 0102: hi"
    # the replan prompt carries the failed plan and its observations
    replan_prompt = backend.prompts[1]
    assert 'get_phone_number("Lutfy")' in replan_prompt
    assert "no contact named 'Lutfy'" in replan_prompt
    assert any(isinstance(e, Replanning) for e in events)


async def test_hallucinated_tool_leads_to_replan() -> None:
    first = '1. get_phone_number("Sid")\n2. send_email("sid@example.com", "hi")\n3. join()'
    second = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([first, second, FINISH.format("ok")])
    events = []
    async with contextlib.aclosing(Planner(backend, make_tools(), max_replans=1).stream("q")) as stream:
        async for ev in stream:
            events.append(ev)
    parse_failures = [e for e in events if isinstance(e, PlanParseFailed)]
    assert len(parse_failures) == 1 and "unknown tool 'send_email'" in parse_failures[0].error
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.plans[0].parse_error is not None
    # the task before the bad line still ran
    assert result.plans[0].results[0].observation == "+1 555 0101"
    assert "unknown tool 'send_email'" in backend.prompts[1]
    assert result.answer == "ok"


async def test_max_replans_exhausted_reports_status() -> None:
    bad = '1. get_phone_number("Nobody")\n2. join()<END_OF_PLAN>'
    backend = ScriptedBackend([bad, bad, "Thought: still missing.\nAction: Replan(ask the user for the right name)"])
    result = await Planner(backend, make_tools(), max_replans=1).run("call Nobody")
    assert result.status == "replan_limit"
    assert result.answer is None
    assert "ask the user for the right name" in (result.error or "")
    assert len(result.plans) == 2
    assert backend.remaining == 0


async def test_max_replans_zero_never_replans_and_joiner_sees_errors() -> None:
    bad = '1. get_phone_number("Nobody")\n2. join()<END_OF_PLAN>'
    backend = ScriptedBackend([bad, FINISH.format("I could not find Nobody.")])
    result = await Planner(backend, make_tools(), max_replans=0).run("call Nobody")
    assert result.answer == "I could not find Nobody."
    assert "no contact named 'Nobody'" in backend.prompts[1]
    assert "No more plans can be made" in backend.prompts[1]


async def test_approval_refusal_runs_nothing() -> None:
    log: list[str] = []
    asked = []

    async def approve(result: object) -> bool:
        asked.append(result)
        return False

    plan = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan, FINISH.format("not sent")])
    result = await Planner(backend, make_tools(log), approve=approve).run("text Sid")
    sms = result.plans[0].results[1]
    assert sms.state is TaskState.REFUSED
    assert "did not approve" in (sms.error or "")
    assert not any(e.startswith("send_sms") for e in log)
    assert len(asked) == 1 and asked[0].arguments == {"recipients": ["+1 555 0101"], "message": "hi"}  # type: ignore[attr-defined]
    # a refusal is the user's answer, not a reason to replan
    assert len(result.plans) == 1


async def test_backend_failing_mid_stream_raises_and_cancels_started_tasks() -> None:
    cancelled: list[str] = []

    @tool
    async def slow_lookup(name: str) -> str:
        """Slow."""
        try:
            await anyio.sleep(10)
        except anyio.get_cancelled_exc_class():
            cancelled.append(name)
            raise
        return name

    failure = ScriptedFailure('1. slow_lookup("a")\n2. slow_lookup("b")\n3. slow_lo', BackendStreamError("cut"))
    backend = ScriptedBackend([failure], delay=0.01)
    started = time.perf_counter()
    with pytest.raises(BackendStreamError, match="cut"):
        await Planner(backend, [slow_lookup]).run("q")
    assert time.perf_counter() - started < 2
    assert sorted(cancelled) == ["a", "b"]


async def test_caller_cancelling_cancels_running_tools() -> None:
    cancelled: list[str] = []
    started = anyio.Event()

    @tool
    async def wait_forever(tag: str) -> str:
        """Never returns."""
        started.set()
        try:
            await anyio.sleep(100)
        except anyio.get_cancelled_exc_class():
            cancelled.append(tag)
            raise
        return tag

    backend = ScriptedBackend(['1. wait_forever("x")\n2. wait_forever("y")\n3. join()<END_OF_PLAN>'])
    async with anyio.create_task_group() as tg:
        tg.start_soon(Planner(backend, [wait_forever]).run, "q")
        await started.wait()
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert sorted(cancelled) == ["x", "y"]


async def test_stream_events_are_in_causal_order() -> None:
    plan = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan, FINISH.format("sent")], chunk_size=3)
    events = []
    async with contextlib.aclosing(Planner(backend, make_tools()).stream("text Sid")) as stream:
        async for ev in stream:
            events.append(ev)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "Token" and kinds[-1] == "FinalAnswer"
    index = {}
    for i, e in enumerate(events):
        if isinstance(e, TaskParsed | TaskStarted | TaskFinished):
            key = (type(e).__name__, e.task.idx if isinstance(e, TaskParsed) else e.result.task.idx)
            index.setdefault(key, i)
    for idx in (1, 2):
        assert index[("TaskParsed", idx)] < index[("TaskStarted", idx)] < index[("TaskFinished", idx)]
    assert index[("TaskFinished", 1)] < index[("TaskStarted", 2)]
    join_decided = kinds.index("JoinDecided")
    assert all(k != "TaskFinished" for k in kinds[join_decided:])
    assert isinstance(events[join_decided], JoinDecided) and events[join_decided].decision.answer == "sent"
    assert [e.phase for e in events if isinstance(e, Token)][-1] == "join"


async def test_first_tool_starts_while_model_still_writes() -> None:
    plan = '1. get_phone_number("Sid")\n' + "Thought: " + "more text " * 30 + "\n2. add(1, 2)\n3. join()"
    backend = ScriptedBackend([plan, FINISH.format("ok")], delay=0.005)
    result = await Planner(backend, make_tools()).run("q")
    first = result.plans[0].results[0]
    assert first.started_at is not None
    assert result.timings.time_to_first_tool_start is not None
    assert result.timings.time_to_first_tool_start < result.timings.plan_generation


async def test_observations_join_mode_needs_no_model_call() -> None:
    plan = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan])
    result = await Planner(backend, make_tools(), join="observations").run("text Sid")
    assert backend.remaining == 0 and len(backend.requests) == 1
    assert result.answer == "1. get_phone_number: +1 555 0101\n2. send_sms: SMS to +1 555 0101: hi"


async def test_plan_without_join_is_a_parse_error() -> None:
    backend = ScriptedBackend(['1. get_phone_number("Sid")\n', FINISH.format("x")])
    result = await Planner(backend, make_tools(), max_replans=0).run("q")
    assert result.plans[0].parse_error is not None and "without join()" in result.plans[0].parse_error


async def test_unreadable_joiner_reply_is_a_typed_outcome() -> None:
    backend = ScriptedBackend(["1. add(1, 2)\n2. join()", "I think the answer is 3."])
    result = await Planner(backend, make_tools()).run("1+2")
    assert result.status == "join_failed"
    assert result.answer is None
    assert "neither" in (result.error or "")


async def test_prompt_is_static_prefix_then_query_and_date_at_call_time() -> None:
    days = iter([dt.date(2026, 1, 5)] * 2 + [dt.date(2026, 1, 6)] * 2)  # asked by the planner and by the joiner
    backend = ScriptedBackend(["1. join()", FINISH.format("a"), "1. join()", FINISH.format("b")])
    planner = Planner(backend, make_tools(), today=lambda: next(days), chat=True)
    await planner.run("first question")
    await planner.run("second question")
    a, b = backend.requests[0], backend.requests[2]
    assert a.messages is not None and b.messages is not None
    assert a.messages[0] == b.messages[0]  # byte-identical static system prompt
    assert "Monday, 2026-01-05" in a.messages[1].content and "first question" in a.messages[1].content
    assert "Tuesday, 2026-01-06" in b.messages[1].content
    # the joiner too: its static instructions in the system message, the date and question after them
    ja, jb = backend.requests[1], backend.requests[3]
    assert ja.messages is not None and jb.messages is not None and ja.messages[0] == jb.messages[0]
    assert "Monday, 2026-01-05" in ja.messages[1].content and "first question" in ja.messages[1].content
    assert ja.cache_prefix == ja.messages[0].content


async def test_completion_mode_is_the_default_and_sends_one_prompt_with_stop() -> None:
    backend = ScriptedBackend(["1. join()<END_OF_PLAN>", FINISH.format("x"), "1. join()", FINISH.format("y")])
    planner = Planner(backend, make_tools())
    await planner.run("q")
    await planner.run("another q")
    req = backend.requests[0]
    assert req.messages is None and req.prompt is not None and req.prompt.rstrip().endswith("Question: q")
    assert req.stop == ("<END_OF_PLAN>",)
    # the static part is the prompt's prefix, byte-identical across requests, and named for prefix caches
    assert req.cache_prefix is not None and req.prompt.startswith(req.cache_prefix)
    assert backend.requests[2].prompt is not None and backend.requests[2].prompt.startswith(req.cache_prefix)
    joiner = backend.requests[1]
    assert joiner.prompt is not None and joiner.prompt.endswith("Thought:")
    assert "\nQuestion:" in joiner.stop and "<END_OF_RESPONSE>" in joiner.stop


async def test_completion_joiner_stops_where_the_model_starts_another_turn() -> None:
    rambling = (
        " Sid's number is known.\nAction: Finish(Sent (twice)\nto Sid.)\n\nQuestion: what next?\n"
        "Thought: more\nAction: Finish(wrong)"
    )
    backend = ScriptedBackend(["1. join()<END_OF_PLAN>", rambling])
    result = await Planner(backend, make_tools()).run("text Sid")
    assert result.answer == "Sent (twice)\nto Sid."
    decision = result.plans[-1].decision
    assert decision is not None and decision.thought == "Sid's number is known."


async def test_joiner_reply_is_constrained_by_the_joiner_grammar_when_the_backend_takes_one() -> None:
    replan = "Thought: no number.\nAction: Replan(look Ana up)"
    backend = ScriptedBackend(['1. get_phone_number("Ana")\n2. join()', replan, "1. join()", FINISH.format("no")])
    result = await Planner(backend, make_tools(), max_replans=1, replan_on_error=False).run("Ana's number?")
    assert result.answer == "no"
    first_join, last_join = backend.requests[1], backend.requests[3]
    assert first_join.grammar == joiner_grammar(can_replan=True)
    assert last_join.grammar == joiner_grammar(can_replan=False)  # no replan left: only Finish
    # off on request, and off for a backend without grammars (a chat joiner's reply starts with "Thought:")
    for planner in (
        Planner(ScriptedBackend(["1. join()", FINISH.format("x")]), make_tools(), joiner_grammar=False),
        Planner(ScriptedBackend(["1. join()", FINISH.format("x")], supports_grammar=False), make_tools()),
    ):
        await planner.run("q")
        assert isinstance(planner.backend, ScriptedBackend) and planner.backend.requests[1].grammar is None
    chat = ScriptedBackend(["1. join()", FINISH.format("x")])
    await Planner(chat, make_tools(), chat=True).run("q")
    assert chat.requests[1].grammar == joiner_grammar(thought_prompted=False)
    with pytest.raises(TinyplanError, match="joiner_grammar=False"):
        Planner(ScriptedBackend([], supports_grammar=False), make_tools(), joiner_grammar=True)
    grammar_less = ScriptedBackend([], supports_grammar=False)
    with pytest.raises(TinyplanError, match="joiner_grammar=False"):
        Planner(ScriptedBackend([]), make_tools(), joiner_backend=grammar_less, joiner_grammar=True)


async def test_joiner_prompt_shows_resolved_calls_and_what_the_used_tools_do() -> None:
    plan = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "Moved to 3pm")\n3. join()'
    backend = ScriptedBackend([plan, FINISH.format("Texted Sid.")])
    result = await Planner(backend, make_tools()).run("Text Sid that the meeting moved to 3pm")
    assert result.answer == "Texted Sid."
    joiner = backend.requests[1]
    assert joiner.prompt is not None and joiner.cache_prefix is not None
    assert joiner.prompt.startswith(joiner.cache_prefix) and "Question:" not in joiner.cache_prefix.split("###")[-1]
    tail = joiner.prompt[len(joiner.cache_prefix) :]
    assert '2. send_sms(["+1 555 0101"], "Moved to 3pm")\nObservation: SMS to +1 555 0101' in tail
    assert " - get_phone_number: Find a contact's phone number." in tail and " - send_sms: Send a text message." in tail
    assert "add:" not in tail and "contact_card" not in tail  # only the tools the plan used


def test_run_sync_and_constructor_errors() -> None:
    backend = ScriptedBackend(["1. add(1, 2)\n2. join()", FINISH.format("3")])
    assert Planner(backend, make_tools()).run_sync("1+2").answer == "3"
    with pytest.raises(ValueError, match="max_replans"):
        Planner(backend, make_tools(), max_replans=-1)
    with pytest.raises(TinyplanError, match="does not support grammars"):
        Planner(ScriptedBackend([], supports_grammar=False), make_tools(), grammar="syntax")


async def test_result_serialises_to_json() -> None:
    import json

    backend = ScriptedBackend(['1. contact_card("Sid")\n2. join()', FINISH.format("card")])
    result = await Planner(backend, make_tools()).run("card")
    data = json.loads(result.to_json())
    assert data["answer"] == "card"
    assert data["plans"][0]["tasks"][0]["observation"] == {"name": "Sid", "phone": "+1 555 0101"}
    assert data["usage"]["completion_tokens"] > 0


async def test_usage_is_kept_when_the_planner_stops_reading_after_join() -> None:
    # the scripted backend reports usage only in its last chunk, which the planner never reads: it stops after join()
    plan = "1. add(1, 2)\n2. join()<END_OF_PLAN>"
    backend = ScriptedBackend([plan], chunk_size=4)
    result = await Planner(backend, make_tools(), join="observations").run("1+2")
    assert result.plans[0].usage.completion_tokens == 6  # the chunks read, up to the one closing join()
    assert result.usage.completion_tokens == 6
