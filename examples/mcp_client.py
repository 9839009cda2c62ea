"""MCP client: the tools of an MCP server in a tinyplan plan.

Run: python examples/mcp_client.py (needs the mcp extra: pip install 'tinyplan[mcp]')

tinyplan starts examples/mcp_weather_server.py over stdio, imports its tools (``weather.current`` is called
``weather_current`` in plans), and runs a plan that a `ScriptedBackend` replays; swap in
`tinyplan.backends.LlamaCppBackend()` to let the local model write it. The server's ``notes.add-entry`` has no
annotations, so it counts as destructive: it is asked for approval before it runs.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import anyio
from mcp import StdioServerParameters

from tinyplan import Planner, ScriptedBackend, TaskResult
from tinyplan.mcp import mcp_toolset

SERVER = Path(__file__).with_name("mcp_weather_server.py")
PLAN = """1. weather_current("Oslo")
2. lamp_set("cold", dim=True)
3. notes_add_entry("Oslo", "$1.conditions")
4. join()<END_OF_PLAN>"""
JOIN = "Thought: The note and the lamp are done.\nAction: Finish(Noted light snow in Oslo; the lamp is cold and dim.)"


def approve(result: TaskResult) -> bool:
    print(f"approve  {result.task.name}({result.arguments}) -> yes")
    return True


async def main() -> None:
    notes = Path(tempfile.mkdtemp()) / "notes.txt"
    params = StdioServerParameters(
        command=sys.executable, args=[str(SERVER)], env={**os.environ, "NOTES_FILE": str(notes)}
    )
    async with mcp_toolset(params) as tools:  # connected until the block ends
        for t in tools:
            print(f"tool     {t.signature()}  side_effects={t.side_effects}  mcp={tools.mcp_name(t.name)!r}")
        planner = Planner(ScriptedBackend([PLAN, JOIN]), tools, approve=approve, grammar="typed")
        result = await planner.run("Note today's weather in Oslo and make the lamp cold and dim")
    for r in result.observations:
        print(f"ran      {r.task.idx}. {r.task.text} -> {r.observation!r}")
    print(f"answer   {result.answer}")
    print(f"notes    {notes.read_text(encoding='utf-8').strip()}")


if __name__ == "__main__":
    anyio.run(main)
