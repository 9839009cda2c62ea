"""OpenAI tool schemas: `Tool.openai_schema` (Chat Completions and Responses shapes, strict mode) and
`Toolset.from_openai`, round trips included; `Tool.from_schema` on schemas as found in the wild."""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Any, Literal

import jsonschema
import pydantic
import pytest

from tinyplan import Tool, ToolArgumentError, ToolDefinitionError, Toolset, ToolsetError, tool

pytestmark = pytest.mark.anyio


class Priority(StrEnum):
    low = "low"
    high = "high"


class Address(pydantic.BaseModel):
    street: str
    city: str
    floor: int | None = None


@tool
def send_letter(to: Address, text: str, priority: Priority = Priority.low, copies: int | None = None) -> str:
    """Send a letter.

    Args:
        to: Where to send it.
        text: The letter.
        priority: How urgent it is.
        copies: How many copies.
    """
    return f"{copies or 1} letter(s) to {to.city} ({priority})"


@tool
def set_volume(level: int, unit: Literal["percent", "db"] = "percent", tags: list[str] | None = None) -> str:
    """Set the volume.

    Args:
        level: The level.
        unit: The unit.
        tags: Labels.
    """
    return f"{level} {unit}"


TOOLS = Toolset([send_letter, set_volume])

#: A hand-written schema as MCP servers and OpenAI users write them: $defs/$ref, anyOf with null, oneOf of enums.
WILD: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "book-table",
        "description": "Book a table.",
        "parameters": {
            "type": "object",
            "$defs": {"Time": {"type": "string", "enum": ["18:00", "19:00", "20:00"]}},
            "properties": {
                "time": {"$ref": "#/$defs/Time"},
                "seating": {"anyOf": [{"type": "string", "enum": ["inside", "terrace"]}, {"type": "null"}]},
                "size": {"oneOf": [{"enum": ["small", "medium"]}, {"enum": ["large"]}]},
                "note": {"description": "Anything."},
            },
            "required": ["time", "size"],
        },
    },
}


def _objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema inside ``schema`` (root, properties, items, unions, $defs)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" or "properties" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


# --------------------------------------------------------------------------------------------------- shapes
def test_chat_and_responses_shapes() -> None:
    t = TOOLS["set_volume"]
    chat = t.openai_schema("chat")
    assert chat == {
        "type": "function",
        "function": {"name": "set_volume", "description": t.description, "parameters": t.json_schema()},
    }
    flat = t.openai_schema("responses")
    assert flat == {
        "type": "function",
        "name": "set_volume",
        "description": t.description,
        "parameters": t.json_schema(),
        "strict": False,  # stated: the Responses API's default is strict
    }
    assert t.openai_schema("chat", strict=True)["function"]["strict"] is True
    assert t.openai_schema("responses", strict=True)["strict"] is True
    assert TOOLS.openai_schemas("responses") == [x.openai_schema("responses") for x in TOOLS]
    with pytest.raises(ValueError, match="shape"):
        t.openai_schema("completions")  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", ["chat", "responses"])
async def test_round_trip_through_both_shapes(shape: Literal["chat", "responses"]) -> None:
    exported = TOOLS.openai_schemas(shape)
    functions = {"send_letter": send_letter, "set_volume": set_volume}
    imported = Toolset.from_openai(copy.deepcopy(exported), functions)
    assert imported.names == TOOLS.names
    assert imported.openai_schemas(shape) == exported  # the same schemas again
    letter = imported["send_letter"]
    # the imported tool validates as the original does ($ref into $defs, the enum, the optional)
    args = letter.validate([{"street": "Main St 1", "city": "Oslo"}, "Hi"], {"priority": "high"})
    assert args["priority"] == "high" and args["copies"] is None
    for bad in ({"priority": "urgent"}, {"copies": "two"}):
        with pytest.raises(ToolArgumentError):
            letter.validate([{"street": "Main St 1", "city": "Oslo"}, "Hi"], bad)
    # calls go to the function (with JSON-level values: the function gets a dict where it declared a model)
    volume = imported["set_volume"]
    assert await volume.call(volume.validate([30], {"unit": "db"})) == "30 db"
    assert volume.signature() == (
        "set_volume(level: int, unit: Literal['percent', 'db'] | None = 'percent', "
        "tags: list[str] | None = None) -> Any"
    )


# --------------------------------------------------------------------------------------------------- strict
@pytest.mark.parametrize("schema", [send_letter, set_volume, WILD], ids=["pydantic-model", "literal", "wild"])
def test_strict_mode(schema: Any) -> None:
    t = Tool.from_schema(schema, name="book_table") if isinstance(schema, dict) else TOOLS[schema.__name__]
    plain = t.json_schema()
    strict = t.openai_schema("chat", strict=True)["function"]["parameters"]
    jsonschema.Draft202012Validator.check_schema(strict)
    objects = _objects(strict)
    assert objects and all(o["additionalProperties"] is False for o in objects)
    assert all(o["required"] == list(o.get("properties", {})) for o in objects)
    assert "default" not in repr(strict)
    # optional properties are nullable: what was optional accepts null, what was required does not
    optional = [name for name in plain["properties"] if name not in plain.get("required", [])]
    assert optional
    validator = jsonschema.Draft202012Validator(strict)
    full = _instance(t.name)
    assert validator.is_valid(full)
    for name in optional:
        assert validator.is_valid({**full, name: None}), name
    for name in plain.get("required", []):
        assert not validator.is_valid({**full, name: None}), name
    assert not validator.is_valid({**full, "extra": 1})
    missing = dict(full)
    missing.pop(optional[0])
    assert not validator.is_valid(missing)  # strict: every property given


def _instance(name: str) -> dict[str, Any]:
    return {
        "send_letter": {
            "to": {"street": "Main St 1", "city": "Oslo", "floor": None},
            "text": "Hi",
            "priority": "high",
            "copies": 2,
        },
        "set_volume": {"level": 3, "unit": "db", "tags": ["a"]},
        "book_table": {"time": "19:00", "seating": "terrace", "size": "large", "note": "window"},
    }[name]


def test_strict_forms_of_optional_properties() -> None:
    strict = TOOLS["set_volume"].openai_schema("responses", strict=True)["parameters"]["properties"]
    assert strict["unit"] == {"type": ["string", "null"], "enum": ["percent", "db", None], "description": "The unit."}
    assert strict["tags"]["anyOf"][-1] == {"type": "null"}  # already nullable: unchanged
    letter = TOOLS["send_letter"].openai_schema("responses", strict=True)["parameters"]
    assert letter["properties"]["priority"]["anyOf"] == [{"$ref": "#/$defs/Priority"}, {"type": "null"}]
    assert letter["$defs"]["Address"]["required"] == ["street", "city", "floor"]


def test_strict_round_trip() -> None:
    exported = [Tool.from_schema(WILD, name="book_table").openai_schema("responses", strict=True)]
    imported = Toolset.from_openai(exported)
    assert imported.openai_schemas("responses", strict=True) == exported
    book = imported["book_table"]
    # strict: every argument is required, optional ones may be null
    assert book.validate(["19:00", None, "small", None], {})["seating"] is None
    with pytest.raises(ToolArgumentError, match="seating"):
        book.validate(["19:00"], {"size": "small", "note": "x"})


# --------------------------------------------------------------------------------------------- from_openai
def test_from_openai_reads_the_wild_schema() -> None:
    calls: list[dict[str, Any]] = []

    def book(**kwargs: Any) -> str:
        calls.append(kwargs)
        return "booked"

    ts = Toolset.from_openai([WILD], {"book-table": book}, side_effects=["book-table"])
    t = ts["book_table"]  # '-' is not an identifier: the plan name; the function is found by the schema name
    assert t.side_effects
    assert t.signature() == (
        "book_table(time: Literal['18:00', '19:00', '20:00'], seating: Literal['inside', 'terrace'] | None = None, "
        "size: Literal['small', 'medium', 'large'], note: Any | None = None) -> Any"
    )
    assert t.validate(["19:00"], {"size": "large"})["seating"] is None
    bad_calls = [
        {"time": "21:00", "size": "large"},
        {"time": "19:00", "size": "huge"},
        {"time": "19:00", "size": "large", "seating": "roof"},
    ]
    for bad in bad_calls:
        with pytest.raises(ToolArgumentError):
            t.validate([], bad)
    assert t.function(time="19:00", size="large") == "booked" and calls == [{"time": "19:00", "size": "large"}]
    assert t.json_schema() == WILD["function"]["parameters"]  # kept as written, for the typed grammar


def test_from_openai_errors() -> None:
    with pytest.raises(ToolsetError, match="not a function tool"):
        Toolset.from_openai([{"type": "web_search"}])
    with pytest.raises(ToolsetError, match="no function for the OpenAI tool 'book-table'"):
        Toolset.from_openai([WILD], {"other": print})
    twin = copy.deepcopy(WILD)
    twin["function"]["name"] = "book_table"
    with pytest.raises(ToolsetError, match="'book-table' and 'book_table' both map to the plan name 'book_table'"):
        Toolset.from_openai([WILD, twin])
    assert Toolset.from_openai([WILD])["book_table"].function(time="18:00") == {
        "tool": "book_table",
        "arguments": {"time": "18:00"},
    }


# --------------------------------------------------------------------------------------------- from_schema
def test_from_schema_root_checks() -> None:
    with pytest.raises(ToolDefinitionError, match=r"must be an object .* not type 'array'"):
        Tool.from_schema({"name": "x", "parameters": {"type": "array", "items": {"type": "string"}}})
    by_ref = Tool.from_schema(
        {
            "name": "x",
            "parameters": {
                "$ref": "#/$defs/Args",
                "$defs": {"Args": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
            },
        }
    )
    assert by_ref.signature() == "x(a: int) -> Any"
    assert by_ref.json_schema()["properties"] == {"a": {"type": "integer"}}


def test_from_schema_recursive_refs_and_output_schema() -> None:
    node = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
    }
    t = Tool.from_schema(
        {
            "name": "tree",
            "parameters": {"type": "object", "$defs": {"Node": node}, "properties": {"root": {"$ref": "#/$defs/Node"}}},
        },
        output_schema={
            "type": "object",
            "properties": {"count": {"type": "integer"}, "names": {"type": "array", "items": {"type": "string"}}},
        },
    )
    assert t.signature() == "tree(root: dict[str, Any] | None = None) -> {count: int, names: list[str]}"
    assert t.validate([{"name": "a", "children": [{"name": "b", "children": []}]}], {})["root"]["name"] == "a"
