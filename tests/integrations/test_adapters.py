"""The framework adapters against the real packages (each test is skipped when its package is not installed):
tinyplan as one tool in LangChain, pydantic-ai and smolagents, and LangChain and pydantic-ai tools in a plan."""

from __future__ import annotations

from typing import Any

import pytest
import scripted

from tinyplan import Planner, ScriptedBackend, TaskState, ToolDefinitionError
from tinyplan.adapters import (
    langchain_tool,
    planner_description,
    pydantic_ai_tool,
    smolagents_tool,
    toolset_from_langchain,
    toolset_from_pydantic_ai,
)

FINISH = "Thought: done.\nAction: Finish({})"
ANSWER = "1. get_temperature: 4.5\n2. get_temperature: 19.0\n3. send_message: sent to Sid: Oslo 4.5 C, Lima 19.0 C"


def _planner() -> Planner:
    return Planner(scripted.backend(), scripted.tools, join="observations", max_replans=0)


def _check_output(out: Any) -> None:
    assert out["answer"] == ANSWER and out["status"] == "answered" and out["error"] is None
    assert out["plan"].startswith('1. get_temperature("Oslo")') and out["plan"].endswith("4. join()")


# --------------------------------------------------------------------------------------------------- LangChain
@pytest.mark.anyio
async def test_langchain_structured_tool() -> None:
    tools = pytest.importorskip("langchain_core.tools", reason="langchain-core is not installed")
    lc = langchain_tool(_planner())
    assert isinstance(lc, tools.StructuredTool) and lc.name == "tinyplan"
    assert lc.description == planner_description(_planner())
    assert lc.tool_call_schema.model_json_schema()["required"] == ["request"]
    _check_output(await lc.ainvoke({"request": scripted.TWO_CITIES}))


def test_langchain_structured_tool_sync() -> None:
    pytest.importorskip("langchain_core", reason="langchain-core is not installed")
    _check_output(langchain_tool(_planner(), name="planner").invoke({"request": scripted.TWO_CITIES}))


@pytest.mark.anyio
async def test_langchain_tools_in_a_plan() -> None:
    tools = pytest.importorskip("langchain_core.tools", reason="langchain-core is not installed")

    @tools.tool
    def multiply(a: int, b: int = 2) -> int:
        """Multiply two integers."""
        return a * b

    def shout(text: str) -> str:
        return text.upper() + "!"

    loud = tools.StructuredTool.from_function(shout, name="shout out", description="Shout a text.")

    def fail(reason: str) -> str:
        raise tools.ToolException(f"refused: {reason}")

    failing = tools.StructuredTool.from_function(fail, name="fail", description="Always fails.")
    ts = toolset_from_langchain([multiply, loud, failing], side_effects=["shout out"])
    assert ts.names == ["multiply", "shout_out", "fail"]
    assert ts["multiply"].signature() == "multiply(a: int, b: int | None = 2) -> Any"
    assert ts["shout_out"].side_effects and not ts["multiply"].side_effects
    plan = '1. multiply(21)\n2. shout_out("the answer is $1")\n3. fail("no")\n4. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan, FINISH.format("THE ANSWER IS 42!")])
    result = await Planner(backend, ts, max_replans=0).run("shout the answer")
    first, second, third = result.plans[0].results[:3]
    assert first.observation == 42 and second.observation == "THE ANSWER IS 42!"
    assert third.state is TaskState.FAILED and third.error == "ToolException: refused: no"
    assert result.answer == "THE ANSWER IS 42!"


# ------------------------------------------------------------------------------------------------- pydantic-ai
@pytest.mark.anyio
async def test_pydantic_ai_agent_calls_tinyplan() -> None:
    pydantic_ai = pytest.importorskip("pydantic_ai", reason="pydantic-ai is not installed")
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    tool = pydantic_ai_tool(_planner())
    assert isinstance(tool, pydantic_ai.Tool) and tool.name == "tinyplan"
    assert tool.tool_def.parameters_json_schema["required"] == ["request"]
    assert "whole request" in tool.tool_def.parameters_json_schema["properties"]["request"]["description"]
    returned: list[Any] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        """A scripted pydantic-ai model: call tinyplan, then answer with what it returned."""
        parts = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
        if parts:
            returned.append(parts[0].content)
            return ModelResponse(parts=[TextPart(parts[0].content["answer"])])
        assert [t.name for t in info.function_tools] == ["tinyplan"]
        return ModelResponse(parts=[ToolCallPart("tinyplan", {"request": scripted.TWO_CITIES})])

    agent = pydantic_ai.Agent(FunctionModel(model), tools=[tool])
    result = await agent.run("Compare the weather and tell Sid")
    assert result.output == ANSWER
    _check_output(returned[0])


@pytest.mark.anyio
async def test_pydantic_ai_tools_in_a_plan() -> None:
    pydantic_ai = pytest.importorskip("pydantic_ai", reason="pydantic-ai is not installed")
    from pydantic_ai.toolsets import FunctionToolset

    def convert(amount: float, to: str = "EUR") -> str:
        """Convert US dollars.

        Args:
            amount: The amount in USD.
            to: The currency.
        """
        return f"{amount * 0.5:.2f} {to}"

    def book(what: str) -> str:
        """Book something.

        Args:
            what: What to book.
        """
        return f"booked {what}"

    ts = toolset_from_pydantic_ai([pydantic_ai.Tool(convert), pydantic_ai.Tool(book, requires_approval=True)])
    assert ts.names == ["convert", "book"]
    assert not ts["convert"].side_effects and ts["book"].side_effects  # from requires_approval
    assert ts["convert"].signature() == "convert(amount: float, to: str = 'EUR') -> str"
    assert ts["convert"].parameters[0].description == "The amount in USD."
    plan = '1. convert(10)\n2. book("a table for $1")\n3. join()<END_OF_PLAN>'
    asked: list[str] = []
    backend = ScriptedBackend([plan, FINISH.format("Booked.")])
    result = await Planner(backend, ts, approve=lambda r: asked.append(r.task.name) or True).run("book")
    assert [r.observation for r in result.plans[0].results[:2]] == ["5.00 EUR", "booked a table for 5.00 EUR"]
    assert asked == ["book"]
    assert toolset_from_pydantic_ai(FunctionToolset([convert]), prefix="pai").names == ["pai_convert"]

    def with_context(ctx: Any, x: int) -> int:
        return x

    with_context.__annotations__["ctx"] = pydantic_ai.RunContext[None]  # a local name: give the type itself
    with pytest.raises(ToolDefinitionError, match="takes a RunContext"):
        toolset_from_pydantic_ai([pydantic_ai.Tool(with_context)])


# -------------------------------------------------------------------------------------------------- smolagents
def test_smolagents_tool() -> None:
    smolagents = pytest.importorskip("smolagents", reason="smolagents is not installed")
    tool = smolagents_tool(_planner())
    assert isinstance(tool, smolagents.Tool)
    assert tool.name == "tinyplan" and tool.output_type == "object"
    assert list(tool.inputs) == ["request"] and tool.inputs["request"]["type"] == "string"
    _check_output(tool(request=scripted.TWO_CITIES))  # as a smolagents agent calls it
    _check_output(tool(scripted.TWO_CITIES))
