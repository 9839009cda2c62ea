"""The planner with a ToolRAG retriever: the prompt and grammar shrink to the selection, with fallbacks."""

from __future__ import annotations

import anyio
import pytest

from tinyplan import Planner, ScriptedBackend, Toolset, tool
from tinyplan.rag import ScoredExample, ScoredTool, Selection

pytestmark = pytest.mark.anyio


@tool
def get_phone_number(name: str) -> str:
    """Find a phone number."""
    return {"Sid": "+1 555 0101"}[name]


@tool(side_effects=True)
def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message."""
    return f"sent to {recipients}"


@tool
def get_weather(city: str) -> str:
    """Weather of a city."""
    return f"sunny in {city}"


EXAMPLE_SMS = 'Question: text Ana hi\n1. get_phone_number("Ana")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
EXAMPLE_WEATHER = 'Question: weather in Rome?\n1. get_weather("Rome")\n2. join()<END_OF_PLAN>'
TOOLS = Toolset([get_phone_number, send_sms, get_weather], examples=[EXAMPLE_SMS, EXAMPLE_WEATHER])
FINISH = "Thought: ok\nAction: Finish(done)"


class FixedRetriever:
    """A retriever that returns a fixed selection (after a short wait, to show in the timings)."""

    def __init__(self, names: list[str], examples: list[str]) -> None:
        self.selection = Selection(
            tools=tuple(ScoredTool(n, 0.9 - i / 10) for i, n in enumerate(names)),
            examples=tuple(ScoredExample(e, 0.5) for e in examples),
        )
        self.calls: list[str] = []

    async def select(self, request: str, toolset: Toolset) -> Selection:
        self.calls.append(request)
        await anyio.sleep(0.01)
        return self.selection


async def test_selection_narrows_prompt_grammar_and_examples() -> None:
    retriever = FixedRetriever(["send_sms", "get_phone_number"], [EXAMPLE_SMS])
    backend = ScriptedBackend(['1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()', FINISH])
    result = await Planner(backend, TOOLS, retriever=retriever, grammar="syntax").run("text Sid hi")
    request = backend.requests[0]
    assert request.prompt is not None and request.messages is None
    system = request.prompt
    assert "get_weather" not in system
    assert "get_phone_number(name: str) -> str" in system and "weather in Rome" not in system
    assert request.grammar is not None and "get-weather" not in request.grammar and "send-sms" in request.grammar
    assert result.tools == ["get_phone_number", "send_sms"]  # the toolset's order keeps the prefix stable
    assert result.timings.retrieval >= 0.01
    assert retriever.calls == ["text Sid hi"]
    assert result.answer == "done"


async def test_empty_or_unknown_selection_falls_back_to_every_tool() -> None:
    for names in ([], ["no_such_tool"]):
        backend = ScriptedBackend(['1. get_weather("Rome")\n2. join()', FINISH])
        result = await Planner(backend, TOOLS, retriever=FixedRetriever(names, [])).run("weather?")
        assert result.tools == TOOLS.names
        assert "weather in Rome" in backend.prompts[0]  # the toolset's own examples


async def test_replan_after_a_missing_tool_uses_the_full_toolset() -> None:
    retriever = FixedRetriever(["get_phone_number"], [])
    backend = ScriptedBackend(
        [
            '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()',  # send_sms was not selected
            '1. send_sms(["+1 555 0101"], "hi")\n2. join()',
            FINISH,
        ]
    )
    result = await Planner(backend, TOOLS, retriever=retriever, max_replans=1).run("text Sid hi")
    assert result.plans[0].parse_error is not None and "unknown tool 'send_sms'" in result.plans[0].parse_error
    assert "send_sms(" not in backend.prompts[0]
    assert "send_sms(recipients: list[str], message: str)" in backend.prompts[1]
    assert result.plans[1].results[0].observation == "sent to ['+1 555 0101']"
    assert result.answer == "done"
