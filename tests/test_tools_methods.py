"""`@tool` on methods: ``self`` is not a parameter, and ``get_tool(instance.method)`` calls that instance."""

from __future__ import annotations

import pytest

from tinyplan import Tool, ToolDefinitionError, Toolset, get_tool, tool

pytestmark = pytest.mark.anyio


class Counter:
    """Tools that share one instance's state."""

    def __init__(self, start: int = 0) -> None:
        self.value = start

    @tool(side_effects=True, timeout=5)
    async def bump(self, by: int = 1) -> int:
        """Add to the counter.

        Args:
            by: How much to add.

        Returns:
            the new value.
        """
        self.value += by
        return self.value

    @tool
    def read(self) -> int:
        """The counter's value."""
        return self.value

    @staticmethod
    @tool
    def double(x: int) -> int:
        """Twice ``x``."""
        return 2 * x


def test_self_is_not_a_parameter_and_the_declaration_is_kept() -> None:
    declared = get_tool(Counter.bump)
    assert declared.signature() == "bump(by: int = 1) -> int"
    assert declared.description == "Add to the counter.\nReturns the new value."
    assert declared.side_effects and declared.timeout == 5 and declared.is_async
    assert list(declared.json_schema()["properties"]) == ["by"]
    assert declared.function is Counter.bump  # the declaration on the class: the unbound function
    assert get_tool(Counter.read).signature() == "read() -> int" and not get_tool(Counter.read).is_async


async def test_a_tool_from_an_instance_calls_that_instance() -> None:
    a, b = Counter(), Counter(10)
    bump_a, bump_b = get_tool(a.bump), get_tool(b.bump)
    assert bump_a is not bump_b and bump_a is not get_tool(Counter.bump)
    assert bump_a.function == a.bump and bump_b.function == b.bump
    assert (bump_a.signature(), bump_a.side_effects, bump_a.timeout) == ("bump(by: int = 1) -> int", True, 5)
    assert await bump_a.call(bump_a.validate([3], {})) == 3
    assert await bump_b.call(bump_b.validate([], {})) == 11
    assert (a.value, b.value) == (3, 11)
    read = Toolset([a.read])["read"]  # a sync method runs in a worker thread, on its instance
    assert await read.call({}) == 3 and read() == 3
    assert read.function.__self__ is a
    assert Counter.bump.__name__ == "bump" and a.value == 3  # the method itself is unchanged


def test_a_toolset_of_instance_methods() -> None:
    counter = Counter()
    tools = Toolset([counter.bump, counter.read, Counter.double])
    assert tools.names == ["bump", "read", "double"]
    assert tools["double"] is get_tool(Counter.double)  # a static method is a plain function tool
    assert tools["double"](4) == 8
    assert [t.name for t in tools if t.side_effects] == ["bump"]


def test_a_method_still_needs_type_hints() -> None:
    with pytest.raises(ToolDefinitionError, match="parameter 'x' has no type hint"):

        class Bad:
            @tool
            def f(self, x) -> int:  # type: ignore[no-untyped-def]
                return 1


def test_only_functions_in_a_class_body_are_methods() -> None:
    def outer() -> Tool:
        @tool
        def f(self: int) -> int:  # a nested function whose first parameter happens to be called self
            return self

        return get_tool(f)

    assert outer().signature() == "f(self: int) -> int"


def test_a_plain_tool_function_on_a_class_is_not_rebound() -> None:
    @tool
    def shout(text: str) -> str:
        """Upper-case ``text``."""
        return text.upper()

    class Holder:
        attribute = shout

    assert get_tool(Holder.attribute) is get_tool(shout)
    assert get_tool(Holder().attribute) is get_tool(shout)  # a bound method of a plain tool: the plain tool
