"""MCP client: the tools of a real MCP server (mcp_test_server.py, a stdio subprocess) imported with `mcp_toolset`,
planned by a `ScriptedBackend`, run, and checked against what the server did."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

mcp = pytest.importorskip("mcp", reason="the MCP Python SDK (the mcp extra) is not installed")

from integration_helpers import HERE, subprocess_env  # noqa: E402
from mcp.server import MCPServer  # noqa: E402

from tinyplan import Planner, ScriptedBackend, TaskResult, TaskState, ToolsetError, plan_grammar  # noqa: E402
from tinyplan.mcp import MCPToolError, MCPToolSkippedWarning, mcp_toolset, plan_name  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag"))
from rag_helpers import BagOfWordsEmbedder  # noqa: E402

# the test server always lists one unreadable tool; the first test checks its warning
pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::tinyplan.mcp.MCPToolSkippedWarning")]

FINISH = "Thought: done.\nAction: Finish({})"
IMPORTED = ["weather_current", "notes_add_entry", "lamp_set", "stations_lookup"]


# ------------------------------------------------------------------------------------------------------- import
async def test_import_maps_names_annotations_schemas_and_skips_the_bad_tool(
    server_params: mcp.StdioServerParameters,
) -> None:
    loader = mcp_toolset(server_params)
    skipped = r"MCP tool 'broken\.props' skipped: .*properties.* must be an object"
    with pytest.warns(MCPToolSkippedWarning, match=skipped):
        tools = await loader.__aenter__()  # the warning comes while connecting
    try:
        # every page of tools/list was read (the server sends two tools a page), the bad tool left out
        assert tools.names == IMPORTED
        assert set(tools.skipped) == {"broken.props"}
        page = await tools.client.list_tools()
        assert len(page.tools) == 2 and page.next_cursor is not None
        # names map to identifiers and back
        assert tools.mcp_name("notes_add_entry") == "notes.add-entry"
        assert tools.plan_name("weather.current") == "weather_current"
        # side effects follow the annotations with the spec's defaults: only readOnlyHint clears them
        effects = {t.name: t.side_effects for t in tools}
        assert effects == {
            "weather_current": False,
            "notes_add_entry": True,  # no annotations: destructive
            "lamp_set": True,  # idempotent and not destructive, but not read-only
            "stations_lookup": False,
        }
        lamp = tools.info["lamp_set"]
        assert (lamp.read_only, lamp.destructive, lamp.idempotent) == (False, False, True)
        notes = tools.info["notes_add_entry"]
        assert (notes.read_only, notes.destructive, notes.idempotent, notes.open_world) == (False, True, False, True)
        # $ref and anyOf[$ref, null] keep their enums; the output schema is the return type
        assert tools["lamp_set"].signature() == (
            "lamp_set(color: Literal['red', 'green', 'blue'], brightness: Literal['low', 'high'] | None = None) -> str"
        )
        assert tools["weather_current"].signature() == (
            "weather_current(city: str) -> {city: str, temp_c: float, conditions: str}"
        )
        assert "$defs" in tools["lamp_set"].json_schema()  # the server's schema, as the typed grammar reads it
    finally:
        await loader.__aexit__(None, None, None)


async def test_await_with_a_connected_client_and_prefix(server_params: mcp.StdioServerParameters) -> None:
    async with mcp.Client(server_params) as client:
        tools = await mcp_toolset(client, prefix="home")
        assert tools.names == [f"home_{n}" for n in IMPORTED]
        assert tools.mcp_name("home_lamp_set") == "lamp.set"
        assert await tools["home_lamp_set"].call({"color": "green", "brightness": None}) == "lamp is green"
    with pytest.raises(TypeError, match="async with mcp_toolset"):
        await mcp_toolset(server_params)


async def test_results_structured_text_and_errors(server_params: mcp.StdioServerParameters) -> None:
    async with mcp_toolset(server_params) as tools:
        weather = tools["weather_current"]
        assert await weather.call(weather.validate(["Oslo"], {})) == {
            "city": "Oslo",
            "temp_c": 4.5,
            "conditions": "light snow",
        }
        lamp = tools["lamp_set"]
        # a str result comes wrapped as {"result": ...} in structuredContent: the observation is the string
        assert await lamp.call(lamp.validate(["blue"], {"brightness": "high"})) == "lamp is blue at high"
        with pytest.raises(MCPToolError, match="no weather station in Oslo"):
            await tools["stations_lookup"].call({"city": "Oslo"})


async def test_a_plan_over_imported_tools_runs_with_approvals_and_structured_references(
    server_params: mcp.StdioServerParameters, notes: Path
) -> None:
    plan = (
        '1. weather_current("Oslo")\n'
        '2. lamp_set("blue")\n'
        '3. notes_add_entry("Oslo", "$1.conditions")\n'
        "4. join()<END_OF_PLAN>"
    )
    asked: list[str] = []

    def approve(result: TaskResult) -> bool:
        asked.append(result.task.name)
        return True

    async with mcp_toolset(server_params) as tools:
        backend = ScriptedBackend([plan, FINISH.format("Noted: light snow in Oslo.")])
        planner = Planner(backend, tools, approve=approve, grammar="typed")
        result = await planner.run("Note today's weather in Oslo and make the lamp blue")
    assert result.status == "answered" and result.answer == "Noted: light snow in Oslo."
    first, lamp, note = result.plans[0].results[:3]
    assert first.observation == {"city": "Oslo", "temp_c": 4.5, "conditions": "light snow"}
    assert lamp.observation == "lamp is blue"
    assert note.arguments == {"title": "Oslo", "body": "light snow"}  # $1.conditions into the structured output
    assert note.observation == "added 'Oslo'"
    assert sorted(asked) == ["lamp_set", "notes_add_entry"]  # approval for the side effects only
    assert await anyio.Path(notes).read_text() == "Oslo: light snow\n"
    # the grammar sent to the backend was built from the server's schemas
    assert backend.requests[0].grammar is not None and "notes_add_entry(" in backend.requests[0].grammar


async def test_refused_destructive_call_is_not_run(server_params: mcp.StdioServerParameters, notes: Path) -> None:
    async with mcp_toolset(server_params) as tools:
        backend = ScriptedBackend(['1. notes_add_entry("x", "y")\n2. join()<END_OF_PLAN>', FINISH.format("No.")])
        result = await Planner(backend, tools, approve=lambda r: False).run("add a note")
    assert result.plans[0].results[0].state is TaskState.REFUSED
    assert not await anyio.Path(notes).exists()


async def test_a_replan_never_reruns_a_destructive_call_and_reads_the_tool_error(
    server_params: mcp.StdioServerParameters, notes: Path
) -> None:
    first = '1. notes_add_entry("Oslo", "cold")\n2. stations_lookup("Oslo")\n3. join()<END_OF_PLAN>'
    second = '1. notes_add_entry("Oslo", "cold")\n2. weather_current("Oslo")\n3. join()<END_OF_PLAN>'
    async with mcp_toolset(server_params) as tools:
        backend = ScriptedBackend([first, second, FINISH.format("Done.")])
        result = await Planner(backend, tools, max_replans=1).run("note the weather in Oslo")
    failed = result.plans[0].results[1]
    assert failed.state is TaskState.FAILED
    assert failed.error == "MCPToolError: Error executing tool stations.lookup: no weather station in Oslo"
    again = result.plans[1].results[0]
    assert again.reused and again.observation == "added 'Oslo'"
    assert await anyio.Path(notes).read_text() == "Oslo: cold\n"  # run once
    assert "no weather station in Oslo" in backend.requests[1].text  # the replan prompt shows the error


async def test_the_typed_grammar_keeps_the_enums_of_anyof_and_ref(server_params: mcp.StdioServerParameters) -> None:
    llguidance = pytest.importorskip("llguidance", reason="llguidance (the grammar engine of this test) is missing")
    from llguidance.gbnf_to_lark import gbnf_to_lark

    async with mcp_toolset(server_params) as tools:
        grammar = plan_grammar(tools, "typed")
    matcher_grammar = llguidance.LLMatcher.grammar_from_lark(gbnf_to_lark(grammar))
    byte_tokenizer = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteTokenizer()))

    def accepts(plan: str) -> bool:
        matcher = llguidance.LLMatcher(byte_tokenizer, matcher_grammar)
        return bool(matcher.consume_tokens(list(plan.encode()))) and not matcher.is_error()

    end = "\n2. join()<END_OF_PLAN>"
    assert accepts('1. lamp_set("blue")' + end)
    assert accepts('1. lamp_set("red", brightness="high")' + end)
    assert accepts('1. lamp_set(color="green", brightness=None)' + end)
    assert not accepts('1. lamp_set("purple")' + end)  # the enum by $ref
    assert not accepts('1. lamp_set("red", brightness="max")' + end)  # the enum inside anyOf
    assert not accepts("1. weather_current(city=3)" + end)
    assert not accepts('1. broken_props("Oslo")' + end)  # skipped: not in the grammar


async def test_toolrag_selects_among_imported_tools(server_params: mcp.StdioServerParameters) -> None:
    from tinyplan.rag import EmbeddingRetriever

    async with mcp_toolset(server_params) as tools:
        retriever = EmbeddingRetriever(BagOfWordsEmbedder(), top_k=1)
        selection = await retriever.select("set the lamp color to blue", tools)
        assert [s.name for s in selection.tools] == ["lamp_set"]
        backend = ScriptedBackend(['1. lamp_set("blue")\n2. join()<END_OF_PLAN>', FINISH.format("Blue.")])
        result = await Planner(backend, tools, retriever=retriever).run("set the lamp color to blue")
    assert result.tools == ["lamp_set"]
    assert result.plans[0].results[0].observation == "lamp is blue"
    assert "weather_current" not in backend.requests[0].text


# ------------------------------------------------------------------------------------------------- bad servers
async def test_colliding_names_are_an_error_naming_both() -> None:
    server = MCPServer("collide")
    server.add_tool(lambda: "a", name="a.b", description="one")
    server.add_tool(lambda: "b", name="a-b", description="two")
    async with mcp.Client(server) as client:
        with pytest.raises(ToolsetError, match=r"MCP tools 'a\.b' and 'a-b' both map to the plan name 'a_b'"):
            await mcp_toolset(client)


async def test_a_non_object_root_is_a_clear_error(notes: Path) -> None:
    params = mcp.StdioServerParameters(
        command=sys.executable,
        args=[str(HERE / "mcp_test_server.py")],
        env=subprocess_env(TINYPLAN_TEST_NOTES=str(notes), TINYPLAN_TEST_BAD_ROOT="1"),
    )
    with pytest.raises(ToolsetError, match=r"tool #6 inputSchema\.type: Input should be 'object'"):
        async with mcp_toolset(params):
            pass


def test_plan_names() -> None:
    assert plan_name("notes.add-entry") == "notes_add_entry"
    assert plan_name("3d.render", "gfx") == "gfx_3d_render"
    assert plan_name("2fa") == "_2fa"
    assert plan_name("import") == "import_" and plan_name("join") == "join_"
    assert plan_name("x" * 128) == "x" * 128


# ----------------------------------------------------------------------------------- a byte-level tokenizer
class _ByteTokenizer:
    """One token per byte (plus an end token): llguidance then checks a text exactly, byte by byte."""

    eos_token_id = 256
    bos_token_id = None
    tokens: Any = [bytes([i]) for i in range(256)] + [b"<eos>"]

    def __call__(self, text: bytes) -> list[int]:
        return list(text)
