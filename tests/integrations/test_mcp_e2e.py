"""The default model plans over tools imported from the test MCP server (a stdio subprocess) and the plan runs there:
the weather by ``weather.current`` (read-only), then a note with its conditions by ``notes.add-entry``."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

mcp = pytest.importorskip("mcp", reason="the MCP Python SDK (the mcp extra) is not installed")

from tinyplan import Planner, TaskResult  # noqa: E402
from tinyplan.backends import LlamaCppBackend  # noqa: E402
from tinyplan.backends._gguf import default_model_path  # noqa: E402
from tinyplan.mcp import mcp_toolset  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::tinyplan.mcp.MCPToolSkippedWarning"),
]

REQUEST = "Get the current weather in Oslo and add a notes entry titled Oslo with its conditions."


async def test_default_model_plans_over_mcp_tools(server_params: mcp.StdioServerParameters, notes: Path) -> None:
    backend = LlamaCppBackend(default_model_path(), n_ctx=8192)
    approved: list[str] = []

    def approve(result: TaskResult) -> bool:
        approved.append(result.task.name)
        return True

    try:
        async with mcp_toolset(server_params) as tools:
            planner = Planner(backend, tools, grammar="typed", approve=approve)
            result = await planner.run(REQUEST)
    finally:
        await backend.aclose()
    plans = "\n---\n".join(p.text for p in result.plans)
    calls = {r.task.name: r for r in result.observations if r.ok}
    assert "weather_current" in calls, plans
    assert calls["weather_current"].arguments == {"city": "Oslo"}, plans
    assert "notes_add_entry" in calls, plans
    assert approved.count("notes_add_entry") == 1  # the destructive MCP tool was approved once, and ran once
    text = await anyio.Path(notes).read_text()
    assert text.startswith("Oslo: ") and "light snow" in text, plans
