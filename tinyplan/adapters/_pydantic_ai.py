"""pydantic-ai: tinyplan as a pydantic-ai ``Tool``, and pydantic-ai tools imported into a `Toolset`.

Importing pydantic-ai tools is duck-typed (it reads ``name``, ``description``, ``function``, ``takes_ctx``,
``requires_approval`` and ``timeout``); only `pydantic_ai_tool` imports ``pydantic_ai`` to build the tool.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tinyplan._errors import ToolDefinitionError
from tinyplan._names import plan_names
from tinyplan._planner import Planner
from tinyplan._tools import Tool, Toolset
from tinyplan.adapters._common import (
    DEFAULT_NAME,
    PlannerOutput,
    has_side_effects,
    import_framework,
    planner_description,
    run_planner,
)

if TYPE_CHECKING:
    import pydantic_ai

__all__ = ["pydantic_ai_tool", "toolset_from_pydantic_ai"]


def pydantic_ai_tool(
    planner: Planner, *, name: str = DEFAULT_NAME, description: str | None = None
) -> pydantic_ai.Tool[Any]:
    """The planner as a pydantic-ai ``Tool`` for an ``Agent(tools=[...])``: ``request`` in, a `PlannerOutput` out.

    Args:
        planner: The planner to run.
        name: The tool name.
        description: The tool description (default: what tinyplan does and which tools it can use).

    Raises:
        ImportError: ``pydantic-ai`` is not installed (the message says what to install).
    """
    tool_class: Callable[..., pydantic_ai.Tool[Any]] = import_framework(
        "pydantic_ai", "Tool", "pydantic-ai", "pydantic-ai-slim"
    )

    async def run(request: str) -> PlannerOutput:
        """Plan and run a request.

        Args:
            request: The whole request in plain words, e.g. 'Text Sid that the meeting moved to 3pm'.
        """
        return await run_planner(planner, request)

    return tool_class(run, name=name, description=description or planner_description(planner), takes_ctx=False)


def toolset_from_pydantic_ai(
    tools: Iterable[Any] | Any,
    *,
    prefix: str | None = None,
    side_effects: bool | Collection[str] | None = None,
    tool_timeout: float | None = None,
) -> Toolset:
    """pydantic-ai tools as a `Toolset`.

    Takes ``pydantic_ai.Tool`` objects, plain functions (as pydantic-ai takes them), or a pydantic-ai
    ``FunctionToolset`` (its ``tools``). Each becomes a tool from its function's type hints, so arguments are
    validated into the same Python types pydantic-ai would pass; its name and description are pydantic-ai's.

    Args:
        tools: The tools, or a ``FunctionToolset``.
        prefix: Put before every plan name.
        side_effects: True for all, or the names of the tools that change the world. None (default): the tools
            pydantic-ai marks ``requires_approval``.
        tool_timeout: Seconds each call may take (default: the tool's own pydantic-ai ``timeout``).

    Raises:
        ToolDefinitionError: A tool that takes a pydantic-ai ``RunContext`` (tinyplan has no agent run to give it),
            or one tinyplan cannot declare.
        ToolsetError: Two names map to the same plan name.
    """
    found = getattr(tools, "tools", None)
    listed = list(found.values()) if isinstance(found, Mapping) else list(tools)
    for t in listed:
        if getattr(t, "takes_ctx", False):
            raise ToolDefinitionError(
                f"pydantic-ai tool {getattr(t, 'name', t)!r} takes a RunContext, which only a pydantic-ai agent run "
                "can give; import a function without the context argument"
            )
    names = [str(getattr(t, "name", None) or getattr(t, "__name__", "")) for t in listed]
    mapping = plan_names(names, prefix, source="pydantic-ai tool")
    toolset = Toolset()
    for (safe, original), pa_tool in zip(mapping.items(), listed, strict=True):
        function = getattr(pa_tool, "function", pa_tool)
        if not callable(function):
            raise ToolDefinitionError(f"{pa_tool!r} is not a pydantic-ai tool or a function")
        marked = bool(getattr(pa_tool, "requires_approval", False))
        effects = marked if side_effects is None else has_side_effects(side_effects, original, safe)
        own_timeout = getattr(pa_tool, "timeout", None)
        description = getattr(pa_tool, "description", None)
        toolset.add(
            Tool.from_function(
                function,
                name=safe,
                description=description if isinstance(description, str) else None,
                side_effects=effects,
                timeout=tool_timeout if tool_timeout is not None else own_timeout,
            )
        )
    return toolset
