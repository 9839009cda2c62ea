"""The `Backend` base class: defaults a subclass inherits, ``async with``, and the fake's finish reasons."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tinyplan import (
    Backend,
    BackendStreamError,
    Chunk,
    CompletionRequest,
    Planner,
    ScriptedBackend,
    ScriptedFailure,
    UsageError,
    complete,
    tool,
)


class Echo(Backend):
    """The smallest backend: one method."""

    def __init__(self) -> None:
        self.closed = False

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        yield Chunk(request.text.upper(), finish_reason="stop")

    async def aclose(self) -> None:
        self.closed = True


@tool
def ping() -> str:
    """Answer pong."""
    return "pong"


pytestmark = pytest.mark.anyio


async def test_a_subclass_gets_the_defaults_and_closes_on_leaving_async_with() -> None:
    async with Echo() as backend:
        assert backend.supports_grammar is False and backend.context_length is None
        assert await backend.count_tokens("three words here") is None
        done = await complete(backend, CompletionRequest(prompt="hi"))
        assert (done.text, done.finish_reason) == ("HI", "stop")
    assert backend.closed


async def test_the_base_class_alone_cannot_stream() -> None:
    with pytest.raises(NotImplementedError, match="Backend must implement stream"):
        await complete(Backend(), CompletionRequest(prompt="hi"))


def test_a_grammar_on_a_backend_without_grammars_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="does not support grammars") as info:
        Planner(Echo(), [ping], grammar="typed")
    assert isinstance(info.value, ValueError)  # except ValueError keeps working


async def test_the_scripted_backend_stops_at_max_tokens_with_finish_reason_length() -> None:
    backend = ScriptedBackend(["one two three four five", "one two", ScriptedFailure("one two three")])
    async with backend:
        cut = await complete(backend, CompletionRequest(prompt="count", max_tokens=3))
        assert (cut.text, cut.finish_reason, cut.usage.completion_tokens) == ("one two three", "length", 3)
        whole = await complete(backend, CompletionRequest(prompt="count", max_tokens=3))
        assert (whole.text, whole.finish_reason) == ("one two", "stop")
        with pytest.raises(BackendStreamError, match="scripted failure"):  # a dying stream is not cut short
            await complete(backend, CompletionRequest(prompt="count", max_tokens=1))
    assert backend.closed
    assert await backend.count_tokens("one two three") == 3
