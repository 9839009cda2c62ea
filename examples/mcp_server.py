"""MCP server: tinyplan as a tool for MCP hosts, used here from the MCP SDK's client, in-process.

Run: python examples/mcp_server.py (needs the mcp extra: pip install 'tinyplan[mcp]')

`mcp_server(planner)` is what ``tinyplan mcp serve`` runs over stdio or streamable HTTP. Here the client talks to
it in-process and the planner replays a plan with `ScriptedBackend`, so no model is needed. A desktop MCP host starts
the real thing from its config:

    {"mcpServers": {"tinyplan": {"command": "tinyplan", "args": ["mcp", "serve", "--toolset", "mytools:tools"]}}}
"""

from __future__ import annotations

import json

import anyio
from mcp import Client

from tinyplan import Planner, ScriptedBackend, tool
from tinyplan.mcp import mcp_server


@tool
def get_temperature(city: str) -> float:
    """Get the temperature in a city, in degrees Celsius.

    Args:
        city: The city name.
    """
    return {"Oslo": 4.5, "Lima": 19.0}[city]


PLAN = """1. get_temperature("Oslo")
2. get_temperature("Lima")
3. join()<END_OF_PLAN>"""
JOIN = "Thought: Lima is warmer.\nAction: Finish(Lima is warmer: 19.0 C against 4.5 C in Oslo.)"


async def main() -> None:
    planner = Planner(ScriptedBackend([PLAN, PLAN, JOIN]), [get_temperature])
    async with Client(mcp_server(planner)) as client:
        for t in (await client.list_tools()).tools:
            hints = t.annotations
            print(f"tool     {t.name}  read_only={hints.read_only_hint if hints else None}")
        planned = await client.call_tool("plan", {"request": "Is Oslo or Lima warmer?"})
        print(f"plan     edges={planned.structured_content['edges']} tasks={len(planned.structured_content['tasks'])}")

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            print(f"progress {done:g}: {message}")

        request = {"request": "Is Oslo or Lima warmer?"}
        ran = await client.call_tool("run_request", request, progress_callback=on_progress)
        print(f"answer   {ran.structured_content['answer']}")
        print("result   " + json.dumps({k: ran.structured_content[k] for k in ("status", "plan")}))


if __name__ == "__main__":
    anyio.run(main)
