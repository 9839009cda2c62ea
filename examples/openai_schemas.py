"""OpenAI tool schemas: export tinyplan tools for Chat Completions or the Responses API (strict mode too), and
import OpenAI function schemas as a toolset.

Run: python examples/openai_schemas.py
"""

from __future__ import annotations

import json
from typing import Literal

from tinyplan import Planner, ScriptedBackend, Toolset, tool


@tool
def set_volume(level: int, unit: Literal["percent", "db"] = "percent") -> str:
    """Set the speaker volume.

    Args:
        level: The new level.
        unit: The unit of the level.
    """
    return f"volume {level} {unit}"


# Export: the same tool in both shapes; strict mode makes every property required and optional ones nullable.
tools = Toolset([set_volume])
print("chat       " + json.dumps(tools.openai_schemas("chat")[0]))
print("responses  " + json.dumps(tools.openai_schemas("responses", strict=True)[0]))

# Import: schemas as an OpenAI user writes them (here with $defs/$ref and anyOf), each called through a function.
SCHEMAS = [
    {
        "type": "function",
        "name": "book-table",  # the Responses shape; '-' is not an identifier, so plans call it book_table
        "description": "Book a restaurant table.",
        "parameters": {
            "type": "object",
            "$defs": {"Time": {"type": "string", "enum": ["18:00", "19:00", "20:00"]}},
            "properties": {
                "time": {"$ref": "#/$defs/Time"},
                "seating": {"anyOf": [{"type": "string", "enum": ["inside", "terrace"]}, {"type": "null"}]},
            },
            "required": ["time"],
        },
    }
]


def book_table(time: str, seating: str | None = None) -> str:
    return f"table booked at {time}" + (f" on the {seating}" if seating else "")


imported = Toolset.from_openai(SCHEMAS, {"book-table": book_table}, side_effects=True)
print("imported   " + imported["book_table"].signature())

PLAN = '1. book_table("19:00", seating="terrace")\n2. join()<END_OF_PLAN>'
JOIN = "Thought: Booked.\nAction: Finish(Your table is booked for 19:00 on the terrace.)"
result = Planner(ScriptedBackend([PLAN, JOIN]), imported).run_sync("Book a terrace table at 7pm")
print("observed   " + str(result.observations[0].observation))
print("answer     " + str(result.answer))
