"""Requests checked before anything is sent, and ``join="auto"``: answers from action reports, else the joiner."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import pytest

from tinyplan import (
    Backend,
    Chunk,
    CompletionRequest,
    Planner,
    RequestError,
    ScriptedBackend,
    TinyplanError,
    Toolset,
    Usage,
    tool,
)

pytestmark = pytest.mark.anyio


def toolset(log: list[str]) -> Toolset:
    @tool
    def get_phone_number(name: str) -> str:
        """Find a contact's phone number.

        Args:
            name: The contact's name.
        """
        return {"Sid": "+1 555 0101", "Lutfi": "+1 555 0102"}[name]

    @tool(side_effects=True)
    def send_sms(recipients: list[str], message: str) -> str:
        """Send a text message.

        Args:
            recipients: Phone numbers.
            message: The text.
        """
        log.append(message)
        return f"Drafted a text to {' and '.join(recipients)}: “{message}”."

    @tool(side_effects=True)
    def archive(name: str) -> dict[str, str]:
        """Archive a thing; returns a record, not a report.

        Args:
            name: What to archive.
        """
        return {"archived": name}

    return Toolset([get_phone_number, send_sms, archive])


@pytest.mark.parametrize("query", ["", "   ", "\n\t "])
async def test_an_empty_request_is_refused_before_the_backend_is_asked(query: str) -> None:
    backend = ScriptedBackend([])
    planner = Planner(backend, toolset([]))
    with pytest.raises(RequestError, match="empty"):
        await planner.run(query)
    with pytest.raises(RequestError, match="empty"):
        await planner.plan(query)
    async with contextlib.aclosing(planner.stream(query)) as events:
        with pytest.raises(RequestError, match="empty"):
            await events.__anext__()
    assert backend.requests == []
    assert issubclass(RequestError, TinyplanError) and issubclass(RequestError, ValueError)


async def test_a_request_too_long_for_the_context_is_refused_with_the_numbers() -> None:
    backend = ScriptedBackend([], context_length=2000)
    planner = Planner(backend, toolset([]), max_tokens=256)
    with pytest.raises(RequestError) as info:
        await planner.run("text Sid " + "very " * 3000 + "long")
    message = str(info.value)
    assert "too long" in message and "2000" in message and "256" in message
    assert backend.requests == []
    with pytest.raises(RequestError, match="too long"):
        await planner.plan("word " * 3000)
    assert backend.requests == []


async def test_a_request_that_fits_is_sent_and_counted() -> None:
    plan = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan], context_length=5000)
    result = await Planner(backend, toolset([]), join="auto", max_tokens=256).run("text Sid hi")
    assert result.status == "answered"
    prompt_tokens = result.plans[0].prompt_tokens
    assert prompt_tokens is not None and 0 < prompt_tokens <= 5000 - 256


async def test_auto_join_answers_from_the_actions_reports_without_a_model_call() -> None:
    plan = (
        '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n3. send_sms(["$1", "$2"], "moved to 3pm")\n'
        "4. join()<END_OF_PLAN>"
    )
    log: list[str] = []
    backend = ScriptedBackend([plan])
    result = await Planner(backend, toolset(log), join="auto").run("text Sid and Lutfi it moved to 3pm")
    assert len(backend.requests) == 1  # the plan only: no joiner call
    assert result.answer == "Drafted a text to +1 555 0101 and +1 555 0102: “moved to 3pm”."
    assert log == ["moved to 3pm"]


@pytest.mark.parametrize(
    ("plan", "why"),
    [
        ('1. get_phone_number("Sid")\n2. join()<END_OF_PLAN>', "a read-only last step: the user asked a question"),
        ('1. archive("x")\n2. join()<END_OF_PLAN>', "an action whose observation is not a text report"),
        (
            '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. get_phone_number("Lutfi")\n4. join()',
            "an action plus a look-up nothing uses",
        ),
        ("1. join()<END_OF_PLAN>", "no tool called"),
    ],
)
async def test_auto_join_asks_the_model_when_the_observations_do_not_say_it_all(plan: str, why: str) -> None:
    backend = ScriptedBackend([plan, "Thought: ok.\nAction: Finish(the model's answer)"])
    result = await Planner(backend, toolset([]), join="auto").run("q")
    assert len(backend.requests) == 2, why
    assert result.answer == "the model's answer"


async def test_auto_join_after_a_failed_task_and_no_replan_left_asks_the_model() -> None:
    plan = '1. get_phone_number("Nobody")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan, "Thought: no such contact.\nAction: Finish(I could not find Nobody.)"])
    result = await Planner(backend, toolset([]), join="auto", max_replans=0).run("text Nobody hi")
    assert result.answer == "I could not find Nobody."
    assert len(backend.requests) == 2


def test_join_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="'auto'"):
        Planner(ScriptedBackend([]), toolset([]), join="sometimes")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ usage after join()
class _UsageLastBackend(Backend):
    """Streams a plan, then (like llama-server) its usage in a final event; or keeps writing after join()."""

    def __init__(self, after_join: str | None) -> None:
        self.after_join = after_join
        self.closed_streams = 0

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        try:
            for piece in ["1. echo(", '"hi")\n', "2. join()"]:
                yield Chunk(piece)
            if self.after_join is None:
                yield Chunk("", usage=Usage(prompt_tokens=900, completion_tokens=12, cached_tokens=880))
                return
            while True:  # a model that does not stop after join(), and a server that sends usage only at the end
                await anyio.sleep(0.05)
                yield Chunk(self.after_join)
        finally:
            self.closed_streams += 1


def _echo_tool() -> object:
    @tool
    def echo(text: str) -> str:
        """Echo.

        Args:
            text: Anything.
        """
        return text

    return echo


async def test_the_backends_final_usage_after_join_is_counted() -> None:
    backend = _UsageLastBackend(after_join=None)
    plan = await Planner(backend, [_echo_tool()], self_check=False).plan("Echo hi")
    assert plan.text.endswith("join()") and [t.name for t in plan.tasks] == ["echo", "join"]
    assert (plan.usage.prompt_tokens, plan.usage.completion_tokens, plan.usage.cached_tokens) == (900, 12, 880)
    assert backend.closed_streams == 1


async def test_a_stream_that_goes_on_after_join_is_cut_after_the_grace_period() -> None:
    from tinyplan._planner import USAGE_GRACE_S

    backend = _UsageLastBackend(after_join=" and more text")
    with anyio.fail_after(USAGE_GRACE_S + 5):  # never waits for an end that does not come
        plan = await Planner(backend, [_echo_tool()], self_check=False).plan("Echo hi")
    assert plan.text.endswith("join()") and "more text" not in plan.text
    assert plan.usage.cached_tokens is None and plan.usage.completion_tokens >= 3  # estimated from the chunks
    assert backend.closed_streams == 1
