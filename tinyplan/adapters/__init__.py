"""tinyplan inside other agent frameworks, and their tools inside tinyplan.

No framework is a dependency: building a framework's tool imports it then (an `ImportError` says what to install),
and importing tools is duck-typed. See docs/integrations.md.

* tinyplan as one tool (request in, answer and plan out): `langchain_tool`, `pydantic_ai_tool`, `smolagents_tool`.
* Tools into a `Toolset`: `toolset_from_langchain`, `toolset_from_pydantic_ai`.
"""

from tinyplan.adapters._common import PlannerOutput, planner_description, run_planner
from tinyplan.adapters._langchain import langchain_tool, toolset_from_langchain
from tinyplan.adapters._pydantic_ai import pydantic_ai_tool, toolset_from_pydantic_ai
from tinyplan.adapters._smolagents import smolagents_tool

__all__ = [
    "PlannerOutput",
    "langchain_tool",
    "planner_description",
    "pydantic_ai_tool",
    "run_planner",
    "smolagents_tool",
    "toolset_from_langchain",
    "toolset_from_pydantic_ai",
]
