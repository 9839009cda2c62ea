"""MCP both ways: tools from any MCP server as a `Toolset`, and tinyplan itself as an MCP server.

Install the optional extra: ``pip install 'tinyplan[mcp]'`` (the MCP Python SDK, ``mcp>=2,<3``). See
docs/integrations.md.

* `mcp_toolset`: ``await mcp_toolset(client)`` or ``async with mcp_toolset(params) as tools`` gives an `MCPToolset`.
* `mcp_server`: an ``MCPServer`` offering a `Planner` as ``run_request`` and ``plan`` (``tinyplan mcp serve``).
"""

try:
    import mcp as _mcp  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"tinyplan.mcp needs the MCP Python SDK ({_exc}): install the extra, pip install 'tinyplan[mcp]'"
    ) from _exc

from tinyplan._names import plan_name, plan_names
from tinyplan.mcp._client import (
    MCPToolError,
    MCPToolInfo,
    MCPToolset,
    MCPToolsetLoader,
    MCPToolSkippedWarning,
    content_text,
    load_mcp_toolset,
    mcp_toolset,
    observation,
)
from tinyplan.mcp._server import PlannedTask, PlanOutput, RunOutput, mcp_server, plan_output

__all__ = [
    "MCPToolError",
    "MCPToolInfo",
    "MCPToolSkippedWarning",
    "MCPToolset",
    "MCPToolsetLoader",
    "PlanOutput",
    "PlannedTask",
    "RunOutput",
    "content_text",
    "load_mcp_toolset",
    "mcp_server",
    "mcp_toolset",
    "observation",
    "plan_name",
    "plan_names",
    "plan_output",
]
