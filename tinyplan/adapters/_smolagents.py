"""smolagents: tinyplan as a smolagents ``Tool`` for a ``CodeAgent``/``ToolCallingAgent``."""

from __future__ import annotations

from typing import Any

from tinyplan._planner import Planner
from tinyplan.adapters._common import (
    DEFAULT_NAME,
    REQUEST_DESCRIPTION,
    install_hint,
    planner_description,
    run_planner_sync,
)

__all__ = ["smolagents_tool"]


def smolagents_tool(planner: Planner, *, name: str = DEFAULT_NAME, description: str | None = None) -> Any:
    """The planner as a smolagents ``Tool`` instance: ``request`` (a string) in, a `PlannerOutput` dict out.

    smolagents calls tools synchronously; each call runs the planner in its own event loop.

    Args:
        planner: The planner to run.
        name: The tool name (smolagents wants an identifier).
        description: The tool description (default: what tinyplan does and which tools it can use).

    Raises:
        ImportError: ``smolagents`` is not installed (the message says what to install).
    """
    try:
        from smolagents import Tool as SmolagentsTool
    except ImportError as exc:
        raise ImportError(install_hint("smolagents", "smolagents")) from exc

    def forward(self: Any, request: str) -> dict[str, Any]:
        return dict(run_planner_sync(planner, request))

    tool_class = type(
        "TinyplanTool",
        (SmolagentsTool,),
        {
            "name": name,
            "description": description or planner_description(planner),
            "inputs": {"request": {"type": "string", "description": REQUEST_DESCRIPTION}},
            "output_type": "object",
            "forward": forward,
        },
    )
    return tool_class()
