"""LangChain: tinyplan as a ``StructuredTool``, and LangChain tools (``BaseTool``) imported into a `Toolset`.

Duck-typed, as pydantic-ai's LangChain adapter: importing LangChain tools needs no LangChain import (it reads
``name``, ``description``, ``tool_call_schema``/``args_schema`` and calls ``ainvoke``); only `langchain_tool` imports
``langchain_core`` to build the tool.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pydantic
from pydantic_core import to_jsonable_python

from tinyplan._errors import ToolDefinitionError
from tinyplan._names import plan_names
from tinyplan._planner import Planner
from tinyplan._tools import Tool, Toolset
from tinyplan.adapters._common import (
    DEFAULT_NAME,
    REQUEST_DESCRIPTION,
    has_side_effects,
    import_framework,
    planner_description,
    run_planner,
    run_planner_sync,
)

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

__all__ = ["langchain_tool", "toolset_from_langchain"]


class _RequestArgs(pydantic.BaseModel):
    request: str = pydantic.Field(description=REQUEST_DESCRIPTION)


def langchain_tool(planner: Planner, *, name: str = DEFAULT_NAME, description: str | None = None) -> StructuredTool:
    """The planner as a LangChain ``StructuredTool``: ``{"request": ...}`` in, a `PlannerOutput` dict out.

    Both ``invoke`` (runs its own event loop) and ``ainvoke`` work.

    Args:
        planner: The planner to run.
        name: The tool name.
        description: The tool description (default: what tinyplan does and which tools it can use).

    Raises:
        ImportError: ``langchain-core`` is not installed (the message says what to install).
    """
    structured_tool: type[StructuredTool] = import_framework(
        "langchain_core.tools", "StructuredTool", "langchain-core", "langchain-core"
    )

    def run(request: str) -> dict[str, Any]:
        return dict(run_planner_sync(planner, request))

    async def arun(request: str) -> dict[str, Any]:
        return dict(await run_planner(planner, request))

    return structured_tool.from_function(
        func=run,
        coroutine=arun,
        name=name,
        description=description or planner_description(planner),
        args_schema=_RequestArgs,
    )


def toolset_from_langchain(
    tools: Iterable[Any],
    *,
    prefix: str | None = None,
    side_effects: bool | Collection[str] = False,
    tool_timeout: float | None = None,
) -> Toolset:
    """LangChain tools (``BaseTool`` objects, e.g. from ``@langchain_core.tools.tool``) as a `Toolset`.

    Each tool's arguments come from its ``tool_call_schema`` (else ``args_schema``, a pydantic model or a JSON
    Schema); a call runs ``await tool.ainvoke(arguments)``. Names that are not identifiers (LangChain allows spaces and
    ``-``) are mapped to plan-safe ones (`tinyplan.mcp.plan_name`).

    Args:
        tools: The LangChain tools.
        prefix: Put before every plan name.
        side_effects: True for all, or the (LangChain or plan) names of the tools that change the world (LangChain
            has no such flag; default: none).
        tool_timeout: Seconds each call may take.

    Raises:
        ToolDefinitionError: An object without a ``name`` or ``ainvoke``, or a schema tinyplan cannot read.
        ToolsetError: Two names map to the same plan name.
    """
    listed = list(tools)
    for t in listed:
        if not isinstance(getattr(t, "name", None), str) or not callable(getattr(t, "ainvoke", None)):
            raise ToolDefinitionError(f"{t!r} is not a LangChain tool (it needs a name and ainvoke)")
    mapping = plan_names((t.name for t in listed), prefix, source="LangChain tool")
    toolset = Toolset()
    for (safe, original), lc_tool in zip(mapping.items(), listed, strict=True):
        schema = _argument_schema(lc_tool)
        toolset.add(
            Tool.from_schema(
                {"name": original, "description": str(getattr(lc_tool, "description", "") or ""), "parameters": schema},
                functools.partial(_ainvoke, lc_tool),
                name=safe,
                side_effects=has_side_effects(side_effects, original, safe),
                timeout=tool_timeout,
            )
        )
    return toolset


async def _ainvoke(lc_tool: Any, **arguments: Any) -> Any:
    return await lc_tool.ainvoke(to_jsonable_python(arguments))


def _argument_schema(lc_tool: Any) -> Mapping[str, Any]:
    for attribute in ("tool_call_schema", "args_schema"):
        schema = getattr(lc_tool, attribute, None)
        if isinstance(schema, Mapping):
            return schema
        if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
            found = schema.model_json_schema()
            found.pop("title", None)
            found.pop("description", None)
            return found
    args = getattr(lc_tool, "args", None)
    if isinstance(args, Mapping):
        return {"type": "object", "properties": dict(args), "required": list(args)}
    return {"type": "object", "properties": {}}
