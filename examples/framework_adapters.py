"""tinyplan inside LangChain, pydantic-ai and smolagents, and LangChain/pydantic-ai tools inside tinyplan.

Run: python examples/framework_adapters.py (each part runs when its framework is installed:
pip install langchain-core pydantic-ai-slim smolagents)
"""

from __future__ import annotations

import importlib.util

import anyio

from tinyplan import Planner, ScriptedBackend, tool
from tinyplan.adapters import (
    langchain_tool,
    pydantic_ai_tool,
    smolagents_tool,
    toolset_from_langchain,
    toolset_from_pydantic_ai,
)


@tool
def get_temperature(city: str) -> float:
    """Get the temperature in a city, in degrees Celsius.

    Args:
        city: The city name.
    """
    return {"Oslo": 4.5, "Lima": 19.0}[city]


PLAN = '1. get_temperature("Oslo")\n2. get_temperature("Lima")\n3. join()<END_OF_PLAN>'
JOIN = "Thought: Lima is warmer.\nAction: Finish(Lima is warmer than Oslo.)"
REQUEST = "Is Oslo or Lima warmer?"


def planner() -> Planner:
    return Planner(ScriptedBackend([PLAN, JOIN]), [get_temperature])


def installed(module: str) -> bool:
    if importlib.util.find_spec(module) is None:
        print(f"skipped    {module} is not installed")
        return False
    return True


# tinyplan as one tool: request in, answer and plan out
if installed("langchain_core"):
    out = langchain_tool(planner()).invoke({"request": REQUEST})
    print(f"langchain  {out['answer']} | plan: {out['plan'].splitlines()[0]} ...")

if installed("smolagents"):
    out = smolagents_tool(planner())(request=REQUEST)
    print(f"smolagents {out['answer']}")

if installed("pydantic_ai"):
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        """Stands in for the agent's LLM: calls tinyplan, then answers with what it returned."""
        returned = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
        if returned:
            return ModelResponse(parts=[TextPart(returned[0].content["answer"])])
        return ModelResponse(parts=[ToolCallPart("tinyplan", {"request": REQUEST})])

    agent = Agent(FunctionModel(model), tools=[pydantic_ai_tool(planner())])
    print(f"pydantic-ai {agent.run_sync(REQUEST).output}")

# and the reverse: their tools in a tinyplan plan
if installed("langchain_core") and installed("pydantic_ai"):
    import pydantic_ai
    from langchain_core.tools import tool as langchain_tool_decorator

    @langchain_tool_decorator
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    def shout(text: str) -> str:
        """Shout a text.

        Args:
            text: What to shout.
        """
        return text.upper() + "!"

    tools = [*toolset_from_langchain([multiply]), *toolset_from_pydantic_ai([pydantic_ai.Tool(shout)])]
    plan = '1. multiply(6, 7)\n2. shout("the answer is $1")\n3. join()<END_OF_PLAN>'
    result = anyio.run(Planner(ScriptedBackend([plan, "Thought: ok\nAction: Finish(done)"]), tools).run, "shout 6*7")
    print(f"imported   {[r.observation for r in result.observations]}")
