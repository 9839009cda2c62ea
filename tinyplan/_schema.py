"""One JSON-Schema vocabulary for the whole package: the type names tools, grammars and datasets read.

A tool's parameters come from Python hints (`tinyplan.tool`) or from a JSON Schema (`Tool.from_schema`, OpenAI and
MCP imports, evaluation datasets). Schemas in the wild write Python's names (``str``, ``int``, ``dict``) as often as
JSON Schema's; every reader maps them through `schema_type_name`, so they agree on what a name means.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA_TYPE_ALIASES", "schema_type_name"]

#: A ``type`` name as schemas write it → its JSON Schema name (``"str"`` → ``"string"``, ``"list"`` → ``"array"``).
SCHEMA_TYPE_ALIASES: dict[str, str] = {
    "string": "string",
    "str": "string",
    "integer": "integer",
    "int": "integer",
    "number": "number",
    "float": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "null": "null",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "object": "object",
    "dict": "object",
}


def schema_type_name(kind: Any) -> str | None:
    """The JSON Schema name of a schema's ``type`` value, or None for a missing, unknown or non-string one.

    Args:
        kind: One ``type`` value as a schema writes it (case matters, as in JSON Schema).

    Returns:
        One of ``string``, ``integer``, ``number``, ``boolean``, ``null``, ``array``, ``object``; or None.
    """
    return SCHEMA_TYPE_ALIASES.get(kind) if isinstance(kind, str) else None
