"""A small MCP server (the MCP SDK's ``MCPServer``) for the MCP client example: weather, notes and a lamp.

Run by examples/mcp_client.py over stdio; on its own: python examples/mcp_weather_server.py (speaks MCP on stdin).
The notes go to the file named by $NOTES_FILE (default: notes.txt in the temporary folder).
"""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel

server = MCPServer("weather-and-notes")


class Weather(BaseModel):
    city: str
    temp_c: float
    conditions: str


class Color(StrEnum):
    warm = "warm"
    cold = "cold"


@server.tool(name="weather.current", annotations=ToolAnnotations(read_only_hint=True))
def weather_current(city: str) -> Weather:
    """Get the current weather in a city.

    Args:
        city: The city name.
    """
    return Weather(city=city, temp_c={"Oslo": 4.5, "Lima": 19.0}.get(city, 20.0), conditions="light snow")


@server.tool(name="notes.add-entry")  # no annotations: destructive, by the MCP spec's defaults
def add_entry(title: str, body: str) -> str:
    """Add an entry to the notes.

    Args:
        title: The entry's title.
        body: The entry's text.
    """
    path = Path(os.environ.get("NOTES_FILE", Path(tempfile.gettempdir()) / "notes.txt"))
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{title}: {body}\n")
    return f"added {title!r}"


@server.tool(name="lamp.set", annotations=ToolAnnotations(idempotent_hint=True, destructive_hint=False))
def lamp_set(color: Color, dim: bool | None = None) -> str:
    """Set the lamp.

    Args:
        color: The light color.
        dim: Dim the lamp.
    """
    return f"lamp is {color.value}" + (" and dim" if dim else "")


if __name__ == "__main__":
    server.run()  # stdio
