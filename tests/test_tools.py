"""`@tool`, `Tool`, `Toolset`: decoration, schemas from type hints and docstrings, validation, names."""

from __future__ import annotations

import enum
from typing import Any, Literal

import pydantic
import pytest

import tinyplan
from tinyplan import (
    Ref,
    TinyplanError,
    Tool,
    ToolArgumentError,
    ToolDefinitionError,
    Toolset,
    ToolsetError,
    get_tool,
    tool,
)
from tinyplan._tools import as_toolset, canonical_arguments

pytestmark = pytest.mark.anyio


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Address(pydantic.BaseModel):
    street: str
    zip_code: str


def send_sms(recipients: list[str], message: str, priority: Priority = Priority.LOW) -> str:
    """Send a text message.

    Longer explanation of what happens.

    Args:
        recipients: Phone numbers, each
            with a country code.
        message: The text.
        priority: How urgent.

    Returns:
        A confirmation.
    """
    return f"sent to {len(recipients)}: {message} ({priority.value})"


# ---------------------------------------------------------------------------------------------- decoration
def test_bare_decorator_returns_the_function_and_attaches_the_tool() -> None:
    decorated = tool(send_sms)
    assert decorated is send_sms
    assert decorated(["+1"], "hi") == "sent to 1: hi (low)"
    t = tinyplan.get_tool(decorated)
    assert isinstance(t, Tool) and t.name == "send_sms" and not t.side_effects and t.timeout is None
    assert t.description == "Send a text message.\nLonger explanation of what happens.\nReturns A confirmation."
    assert [p.name for p in t.parameters] == ["recipients", "message", "priority"]
    assert t.parameters[0].description == "Phone numbers, each with a country code."
    assert get_tool(t) is t


def test_called_decorator_with_options_on_an_async_function() -> None:
    @tool(name="lookup_contact", description="Find a contact.", timeout=2.5, side_effects=True)
    async def lookup(name: str) -> Address:
        return Address(street=name, zip_code="1")

    t = get_tool(lookup)
    assert (t.name, t.description, t.timeout, t.side_effects, t.is_async) == (
        "lookup_contact",
        "Find a contact.",
        2.5,
        True,
        True,
    )
    assert t.signature() == "lookup_contact(name: str) -> Address"


async def test_call_runs_sync_and_async_functions() -> None:
    @tool
    async def double(x: int) -> int:
        return 2 * x

    @tool
    def triple(x: int) -> int:
        return 3 * x

    class AsyncCallable:
        async def __call__(self, x: int) -> int:
            return x + 1

    inc = Tool.from_function(AsyncCallable().__call__, name="inc")
    assert await get_tool(double).call({"x": 2}) == 4
    assert await get_tool(triple).call({"x": 2}) == 6
    assert inc.is_async and await inc.call({"x": 1}) == 2
    assert get_tool(triple)(5) == 15  # direct call bypasses validation


def test_signature_schema_and_openai_format() -> None:
    t = get_tool(tool(send_sms))
    assert (
        t.signature()
        == "send_sms(recipients: list[str], message: str, priority: Priority = <Priority.LOW: 'low'>) -> str"
    )
    schema = t.json_schema()
    assert schema["type"] == "object"
    assert schema["required"] == ["recipients", "message"]
    assert schema["properties"]["recipients"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "Phone numbers, each with a country code.",
    }
    assert schema["properties"]["priority"]["default"] == "low"
    assert schema["properties"]["priority"]["$ref"].endswith("Priority")
    openai = t.openai_schema()
    assert openai["type"] == "function"
    assert openai["function"]["name"] == "send_sms"
    assert openai["function"]["parameters"] == schema


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(*args: int) -> None: ...", r"\*args is not supported"),
        ("def f(**kw: int) -> None: ...", r"\*\*kw is not supported"),
        ("def f(x) -> None: ...", "parameter 'x' has no type hint"),
        ("def f(x=1) -> None: ...", "parameter 'x' has no type hint"),
        ("def f(x: int, /) -> None: ...", "positional-only parameter 'x'"),
        ("def f(x: 'Missing') -> None: ...", "cannot resolve type hints"),
        ("def join() -> None: ...", "reserved"),
    ],
)
def test_unsupported_signatures_fail_at_decoration_time(source: str, message: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # test input only: builds functions with odd signatures
    with pytest.raises(ToolDefinitionError, match=message):
        tool(namespace["f"] if "f" in namespace else namespace["join"])


def test_bad_names_and_options_fail_at_decoration_time() -> None:
    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match="invalid tool name 'bad name'"):
        tool(name="bad name")(f)
    with pytest.raises(ToolDefinitionError, match="invalid tool name 'class'"):
        tool(name="class")(f)
    with pytest.raises(ToolDefinitionError, match="timeout must be a positive"):
        tool(timeout=0)(f)
    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        tool(lambda x: x)  # "<lambda>"
    assert issubclass(ToolDefinitionError, TinyplanError)


def test_parameter_names_pydantic_reserves_still_work() -> None:
    @tool
    def odd(json: str, model_config: int, _hidden: bool = False, copy: list[int] | None = None) -> str:
        return f"{json}{model_config}{_hidden}{copy}"

    t = get_tool(odd)
    assert t.validate(["a", 1], {"_hidden": True}) == {"json": "a", "model_config": 1, "_hidden": True, "copy": None}
    assert set(t.json_schema()["properties"]) == {"json", "model_config", "_hidden", "copy"}


# ---------------------------------------------------------------------------------------------- validation
def test_validate_binds_positional_and_keyword_arguments_and_fills_defaults() -> None:
    t = get_tool(tool(send_sms))
    assert t.validate([["+1"], "hi"], {}) == {"recipients": ["+1"], "message": "hi", "priority": Priority.LOW}
    assert t.validate([["+1"]], {"message": "hi", "priority": "high"})["priority"] is Priority.HIGH


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ([["+1"], "hi", "low", 4], {}, r"takes 3 argument\(s\) but 4 were given"),
        ([["+1"]], {"recipients": ["x"], "message": "m"}, "multiple values for argument 'recipients'"),
        ([["+1"]], {}, "message: Field required"),
        (["+1", "hi"], {}, "recipients: Input should be a valid list"),
        ([["+1"], "hi"], {"colour": "red"}, "colour: Extra inputs are not permitted"),
        ([["+1"], "hi"], {"priority": "urgent"}, "priority: Input should be 'low' or 'high'"),
    ],
)
def test_validation_failures_are_tool_argument_errors(args: list[Any], kwargs: dict[str, Any], message: str) -> None:
    t = get_tool(tool(send_sms))
    with pytest.raises(ToolArgumentError, match=message) as info:
        t.validate(args, kwargs)
    assert isinstance(info.value, TinyplanError)
    assert (
        "send_sms(recipients: list[str]" in str(info.value)
        or "takes" in str(info.value)
        or "multiple" in str(info.value)
    )


def test_check_defers_the_types_of_reference_values_but_not_binding() -> None:
    t = get_tool(tool(send_sms))
    is_ref = lambda v: isinstance(v, Ref)  # noqa: E731
    t.check([Ref(1), "hi"], {}, defer=is_ref)  # a reference where a list goes: known only at run time
    with pytest.raises(ToolArgumentError, match="recipients: Input should be a valid list"):
        t.check(["+1", "hi"], {}, defer=is_ref)  # a literal of the wrong type is still wrong
    with pytest.raises(ToolArgumentError, match="message: Field required"):
        t.check([Ref(1)], {}, defer=is_ref)
    with pytest.raises(ToolArgumentError, match="takes 3 argument"):
        t.check([Ref(1), "hi", "low", Ref(2)], {}, defer=is_ref)
    with pytest.raises(ToolArgumentError, match="priority: Input should be 'low' or 'high'"):
        t.check([Ref(1)], {"message": Ref(2), "priority": "urgent"}, defer=is_ref)


def test_pydantic_model_parameters_are_validated_from_dicts() -> None:
    @tool
    def ship(to: Address, express: bool = False) -> str:
        return to.street

    t = get_tool(ship)
    args = t.validate([{"street": "Main", "zip_code": "9"}], {})
    assert args["to"] == Address(street="Main", zip_code="9")
    with pytest.raises(ToolArgumentError, match=r"to\.zip_code: Field required"):
        t.validate([{"street": "Main"}], {})


# ---------------------------------------------------------------------------------------------- from_schema
def test_from_schema_builds_a_validating_echo_tool() -> None:
    schema = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                    "days": {"type": ["integer", "null"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["city"],
            },
        },
    }
    t = Tool.from_schema(schema)
    assert t.name == "get_weather" and t.description == "Weather for a city."
    assert t.json_schema() == schema["function"]["parameters"]  # type: ignore[index]
    assert t.validate(["Paris"], {"unit": "c"})["unit"] == "c"
    with pytest.raises(ToolArgumentError, match="unit"):
        t.validate(["Paris"], {"unit": "k"})
    assert t.function(city="Paris") == {"tool": "get_weather", "arguments": {"city": "Paris"}}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"description": "x"}, "without a name"),
        ({"name": "x", "parameters": "nope"}, "'parameters' must be a JSON Schema object"),
        ({"name": "x", "parameters": {"properties": []}}, "'parameters.properties' must be an object"),
        ({"name": "x", "parameters": {"properties": {}, "required": "a"}}, "'parameters.required' must be a list"),
        ({"name": "join"}, "reserved"),
        ({"name": "two words"}, "invalid tool name"),
    ],
)
def test_from_schema_rejects_bad_schemas(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(ToolDefinitionError, match=message):
        Tool.from_schema(schema)


# ------------------------------------------------------------------------------------------------- toolset
def test_toolset_registry_by_name() -> None:
    def plain(x: int) -> int:
        """Plain functions become tools with defaults."""
        return x

    ts = Toolset([tool(send_sms), plain], instructions=["be brief"], examples=["Question: q\n1. plain(1)"])
    assert ts.names == ["send_sms", "plain"] and len(ts) == 2
    assert "plain" in ts and "nope" not in ts
    assert ts["plain"].description == "Plain functions become tools with defaults."
    assert ts.get("nope") is None
    with pytest.raises(KeyError):
        ts["nope"]
    assert [t.name for t in ts] == ts.names
    assert [s["function"]["name"] for s in ts.openai_schemas()] == ["send_sms", "plain"]
    sub = ts.subset(["plain"])
    assert sub.names == ["plain"] and sub.instructions == ["be brief"] and sub.examples == ts.examples
    assert as_toolset(ts) is ts and as_toolset(None).names == [] and as_toolset([plain]).names == ["plain"]
    assert repr(ts) == "Toolset(['send_sms', 'plain'])"


def test_toolset_rejects_duplicate_reserved_invalid_and_unknown_names() -> None:
    def dup(x: int) -> int:
        return x

    def join() -> None:
        return None

    ts = Toolset([dup])
    with pytest.raises(ToolsetError, match="duplicate tool name 'dup'"):
        ts.add(Tool.from_function(dup))
    with pytest.raises(ToolsetError, match="reserved"):
        ts.add(join)
    with pytest.raises(ToolsetError, match="not a tool or a function"):
        ts.add(42)  # type: ignore[arg-type]
    with pytest.raises(ToolsetError, match=r"not in the toolset: \['ghost'\]"):
        ts.subset(["dup", "ghost"])
    assert ts.names == ["dup"]  # nothing was half-added


def test_canonical_arguments_is_stable_across_key_order() -> None:
    assert canonical_arguments("f", {"b": 1, "a": [1, 2]}) == canonical_arguments("f", {"a": [1, 2], "b": 1})
    assert canonical_arguments("f", {"a": 1}) != canonical_arguments("g", {"a": 1})


def test_literal_and_optional_types_render_in_signatures() -> None:
    @tool
    def pick(mode: Literal["a", "b"], limit: int | None = None, data: dict[str, Any] | None = None) -> list[str]:
        return []

    assert get_tool(pick).signature() == (
        "pick(mode: Literal['a', 'b'], limit: int | None = None, data: dict[str, Any] | None = None) -> list[str]"
    )
