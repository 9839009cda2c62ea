"""A real MCP server for the tests, written with the MCP SDK's ``MCPServer`` and run over stdio as a subprocess:
``python mcp_test_server.py`` (the notes file is ``$TINYPLAN_TEST_NOTES``).

Its tools cover what MCP servers look like in the wild:

* ``weather.current``: read-only (``readOnlyHint``), structured output (an object ``outputSchema``);
* ``notes.add-entry``: no annotations, so destructive by the spec's defaults; appends a line to the notes file;
* ``lamp.set``: an enum by ``$ref`` and an optional enum as ``anyOf: [{"$ref"}, {"type": "null"}]``; not read-only
  but idempotent;
* ``stations.lookup``: always fails with a tool error (``isError``);
* ``broken.props``: listed with a schema no client can read (``properties`` a list), added by a middleware, as
  ``MCPServer`` itself would never write such a schema (with ``$TINYPLAN_TEST_BAD_ROOT``, also ``broken.root``,
  whose parameters are an array);
* ``tools/list`` is paged, two tools a page, by the same middleware.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel

PAGE_SIZE = 2
BAD_TOOLS: list[dict[str, Any]] = [
    {
        "name": "broken.props",
        "description": "A tool whose properties are a list.",
        "inputSchema": {"type": "object", "properties": ["city", "day"]},
    },
]
#: With $TINYPLAN_TEST_BAD_ROOT set, a tool whose parameters are an array is listed too: the MCP SDK's client rejects
#: the whole tools/list page then (inputSchema.type must be "object"), so it gets a server of its own in the tests.
BAD_ROOT = {
    "name": "broken.root",
    "description": "A tool whose parameters are an array.",
    "inputSchema": {"type": "array", "items": {"type": "string"}},
}


class Color(StrEnum):
    red = "red"
    green = "green"
    blue = "blue"


class Level(StrEnum):
    low = "low"
    high = "high"


class Weather(BaseModel):
    city: str
    temp_c: float
    conditions: str


WEATHER = {"Oslo": Weather(city="Oslo", temp_c=4.5, conditions="light snow")}


async def paged_tools(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Adds the unreadable tools to ``tools/list`` and serves it ``PAGE_SIZE`` tools a page."""
    result = await call_next(ctx)
    if ctx.method != "tools/list" or not isinstance(result, Mapping):
        return result
    tools = [*result["tools"], *BAD_TOOLS, *([BAD_ROOT] if os.environ.get("TINYPLAN_TEST_BAD_ROOT") else [])]
    cursor = (ctx.params or {}).get("cursor")
    start = int(cursor) if cursor else 0
    page: dict[str, Any] = {**result, "tools": tools[start : start + PAGE_SIZE]}
    if start + PAGE_SIZE < len(tools):
        page["nextCursor"] = str(start + PAGE_SIZE)
    else:
        page.pop("nextCursor", None)
    return page


server = MCPServer("tinyplan-test-server", middleware=[paged_tools])


@server.tool(name="weather.current", annotations=ToolAnnotations(read_only_hint=True))
def weather_current(city: str) -> Weather:
    """Get the current weather in a city.

    Args:
        city: The city name.
    """
    return WEATHER.get(city) or Weather(city=city, temp_c=20.0, conditions="sunny")


@server.tool(name="notes.add-entry")
def add_entry(title: str, body: str) -> str:
    """Add an entry to the notes.

    Args:
        title: The entry's title.
        body: The entry's text.
    """
    notes = Path(os.environ["TINYPLAN_TEST_NOTES"])
    with notes.open("a", encoding="utf-8") as f:
        f.write(f"{title}: {body}\n")
    return f"added {title!r}"


@server.tool(name="lamp.set", annotations=ToolAnnotations(idempotent_hint=True, destructive_hint=False))
def lamp_set(color: Color, brightness: Level | None = None) -> str:
    """Set the lamp's color and brightness.

    Args:
        color: The color.
        brightness: The brightness (unchanged when left out).
    """
    return f"lamp is {color.value}" + (f" at {brightness.value}" if brightness else "")


@server.tool(name="stations.lookup", annotations=ToolAnnotations(read_only_hint=True))
def stations_lookup(city: str) -> str:
    """Find the weather station of a city.

    Args:
        city: The city name.
    """
    raise ToolError(f"no weather station in {city}")


if __name__ == "__main__":
    server.run()
