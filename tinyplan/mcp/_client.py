"""Tools from any MCP server as a tinyplan `Toolset`: `mcp_toolset`.

Each MCP tool becomes a `Tool` whose function calls the server through an ``mcp.Client``; the tools work while that
client is connected. Names, side effects, schemas and results are mapped as docs/integrations.md describes.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import mcp
import mcp.types as mcp_types
import pydantic
from pydantic_core import to_jsonable_python

from tinyplan._errors import TinyplanError, ToolsetError
from tinyplan._names import plan_names
from tinyplan._tools import Tool, Toolset

__all__ = [
    "MCPToolError",
    "MCPToolInfo",
    "MCPToolSkippedWarning",
    "MCPToolset",
    "MCPToolsetLoader",
    "content_text",
    "load_mcp_toolset",
    "mcp_toolset",
    "observation",
]

_MAX_PAGES = 1000
_DEF_KEYS = ("$defs", "definitions")


class MCPToolError(TinyplanError):
    """An MCP tool answered with ``isError: true``; the message is its text content.

    Raised by the imported tool's function, so the task fetching unit makes it an error observation the model reads.
    """


class MCPToolSkippedWarning(UserWarning):
    """An MCP tool was left out because its schema cannot be read; the server's other tools were imported."""


@dataclass(frozen=True, slots=True)
class MCPToolInfo:
    """What tinyplan read from one MCP tool.

    Attributes:
        mcp_name: The tool's name on the server (what ``tools/call`` is sent).
        plan_name: The identifier plans call it by.
        title: Its human-readable title, if any.
        read_only: ``readOnlyHint`` (default false): only a read-only tool has no side effects.
        destructive: ``destructiveHint`` (default true; meaningful when not read-only).
        idempotent: ``idempotentHint`` (default false).
        open_world: ``openWorldHint`` (default true).
        output_schema: The tool's ``outputSchema``, if any.
    """

    mcp_name: str
    plan_name: str
    title: str | None
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    output_schema: dict[str, Any] | None

    @property
    def side_effects(self) -> bool:
        """Whether tinyplan treats calls as changing the world (approval asked, never re-run by a replan)."""
        return not self.read_only


class MCPToolset(Toolset):
    """The tools of one MCP server (a `Toolset`), with the mapping between plan names and MCP names.

    Built by `mcp_toolset`. Its tools call the server through ``client`` and work while that client is connected.

    Attributes:
        client: The connected ``mcp.Client`` the tools call.
        info: `MCPToolInfo` by plan name.
        skipped: Tools left out, ``{MCP name: why}`` (each also raised an `MCPToolSkippedWarning`).
    """

    def __init__(
        self,
        client: mcp.Client,
        tools: Sequence[Tool],
        info: Mapping[str, MCPToolInfo],
        skipped: Mapping[str, str],
        *,
        instructions: Sequence[str] = (),
        examples: Sequence[str] = (),
    ) -> None:
        super().__init__(tools, instructions=instructions, examples=examples)
        self.client = client
        self.info: dict[str, MCPToolInfo] = dict(info)
        self.skipped: dict[str, str] = dict(skipped)

    def mcp_name(self, plan_name: str) -> str:
        """The MCP name of the tool plans call ``plan_name``.

        Raises:
            KeyError: No such tool.
        """
        return self.info[plan_name].mcp_name

    def plan_name(self, mcp_name: str) -> str:
        """The plan name of the MCP tool ``mcp_name``.

        Raises:
            KeyError: No such tool (or it was skipped).
        """
        for info in self.info.values():
            if info.mcp_name == mcp_name:
                return info.plan_name
        raise KeyError(mcp_name)


def mcp_toolset(
    source: Any,
    *,
    prefix: str | None = None,
    tool_timeout: float | None = None,
    instructions: Sequence[str] = (),
    examples: Sequence[str] = (),
) -> MCPToolsetLoader:
    """The tools of an MCP server as a `Toolset` (an `MCPToolset`).

    Two ways to use it:

    * ``tools = await mcp_toolset(client)`` with a connected ``mcp.Client``: the tools work while that client's
      ``async with`` block lasts.
    * ``async with mcp_toolset(source) as tools:`` where ``source`` is anything ``mcp.Client`` connects to (an
      ``mcp.StdioServerParameters``, a streamable HTTP URL, an in-process ``MCPServer``, a transport) or a client
      not yet connected: tinyplan connects, and disconnects when the block ends.

    Every page of ``tools/list`` is read. A tool whose schema cannot be read is left out with an
    `MCPToolSkippedWarning` naming it (and is listed in ``skipped``); the others are imported.

    Args:
        source: A connected ``mcp.Client``, or what to connect to (see above).
        prefix: Put before every plan name (``prefix="fs"``: ``read_file`` is called ``fs_read_file``); use one per
            server when several are combined.
        tool_timeout: Seconds each call may take (the executor's default when None).
        instructions: Planner rules for the toolset.
        examples: Example plans for the toolset.

    Returns:
        An awaitable that is also an async context manager, giving the `MCPToolset`.

    Raises:
        ToolsetError: Two MCP names map to the same plan name (the message names both), or the server pages
            ``tools/list`` without end.
        TypeError: ``await`` with something other than an ``mcp.Client`` (use ``async with``).
        mcp.MCPError: The server failed to list its tools.
    """
    return MCPToolsetLoader(
        source, prefix=prefix, tool_timeout=tool_timeout, instructions=instructions, examples=examples
    )


class MCPToolsetLoader:
    """What `mcp_toolset` returns: ``await`` it (with a connected client) or use it with ``async with``."""

    def __init__(
        self,
        source: Any,
        *,
        prefix: str | None,
        tool_timeout: float | None,
        instructions: Sequence[str],
        examples: Sequence[str],
    ) -> None:
        self._source = source
        self._options: dict[str, Any] = {
            "prefix": prefix,
            "tool_timeout": tool_timeout,
            "instructions": tuple(instructions),
            "examples": tuple(examples),
        }
        self._owned: mcp.Client | None = None

    def __await__(self) -> Generator[Any, None, MCPToolset]:
        if not isinstance(self._source, mcp.Client):
            raise TypeError(
                f"await mcp_toolset(...) needs a connected mcp.Client, not {type(self._source).__name__}; "
                "to let tinyplan connect and disconnect, use `async with mcp_toolset(...) as tools:`"
            )
        return load_mcp_toolset(self._source, **self._options).__await__()

    async def __aenter__(self) -> MCPToolset:
        client = self._source
        if isinstance(client, mcp.Client) and _connected(client):
            return await load_mcp_toolset(client, **self._options)
        if not isinstance(client, mcp.Client):
            client = mcp.Client(client)
        await client.__aenter__()
        self._owned = client
        try:
            return await load_mcp_toolset(client, **self._options)
        except BaseException:
            self._owned = None
            await client.__aexit__(None, None, None)  # close cleanly: the error raised is ours, not a group of it
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        client, self._owned = self._owned, None
        if client is not None:
            await client.__aexit__(exc_type, exc, tb)


def _connected(client: mcp.Client) -> bool:
    try:
        client.session  # noqa: B018  (raises RuntimeError outside the client's async with)
    except RuntimeError:
        return False
    return True


async def load_mcp_toolset(
    client: mcp.Client,
    *,
    prefix: str | None = None,
    tool_timeout: float | None = None,
    instructions: Sequence[str] = (),
    examples: Sequence[str] = (),
) -> MCPToolset:
    """Read every page of the server's tools and build the `MCPToolset` (see `mcp_toolset`)."""
    listed: list[mcp_types.Tool] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(_MAX_PAGES):
        try:
            page = await client.list_tools(cursor=cursor)
        except pydantic.ValidationError as exc:  # the SDK checks the page against the protocol first
            problems = "; ".join(_where(e["loc"], len(listed)) + f": {e['msg']}" for e in exc.errors())
            raise ToolsetError(
                f"the MCP server's tools/list (page {len(seen) + 1}) is not valid MCP, so none of its tools can be "
                f'imported: {problems} (a tool\'s inputSchema must be a JSON Schema with "type": "object")'
            ) from exc
        listed.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
        if cursor in seen:
            raise ToolsetError(f"the MCP server sent the tools/list cursor {cursor!r} twice; stopping")
        seen.add(cursor)
    else:
        raise ToolsetError(f"the MCP server's tools/list did not end within {_MAX_PAGES} pages")
    mapping = plan_names((t.name for t in listed), prefix, source="MCP tool")
    tools: list[Tool] = []
    info: dict[str, MCPToolInfo] = {}
    skipped: dict[str, str] = {}
    for (safe, _), listed_tool in zip(mapping.items(), listed, strict=True):
        try:
            built, tool_info = _import_tool(client, listed_tool, safe, tool_timeout)
        except Exception as exc:  # one unreadable tool must not cost the server's other tools
            reason = str(exc) if isinstance(exc, TinyplanError) else f"{type(exc).__name__}: {exc}"
            skipped[listed_tool.name] = reason
            warnings.warn(f"MCP tool {listed_tool.name!r} skipped: {reason}", MCPToolSkippedWarning, stacklevel=2)
            continue
        tools.append(built)
        info[safe] = tool_info
    return MCPToolset(client, tools, info, skipped, instructions=instructions, examples=examples)


def _where(loc: Sequence[Any], before: int) -> str:
    """A validation error's place, ``tools.1.inputSchema.type``, as ``tool #N inputSchema.type``.

    N counts the tools of all pages from 1.
    """
    if len(loc) >= 2 and loc[0] == "tools" and isinstance(loc[1], int):
        return f"tool #{before + loc[1] + 1} " + ".".join(str(x) for x in loc[2:])
    return ".".join(str(x) for x in loc)


def _import_tool(
    client: mcp.Client, listed: mcp_types.Tool, plan_name: str, timeout: float | None
) -> tuple[Tool, MCPToolInfo]:
    hints = listed.annotations
    info = MCPToolInfo(
        mcp_name=listed.name,
        plan_name=plan_name,
        title=listed.title or (hints.title if hints else None),
        read_only=bool(hints and hints.read_only_hint is True),
        destructive=not (hints and hints.destructive_hint is False),
        idempotent=bool(hints and hints.idempotent_hint is True),
        open_world=not (hints and hints.open_world_hint is False),
        output_schema=listed.output_schema,
    )
    wrapped = _is_result_wrapper(listed.output_schema)
    returns = listed.output_schema
    if wrapped and returns is not None:  # FastMCP-style {"result": X}: the observation is X itself
        returns = {**returns["properties"]["result"], **{k: v for k, v in returns.items() if k in _DEF_KEYS}}
    description = listed.description or info.title or ""
    function = _McpCall(client, listed.name, wrapped)
    built = Tool.from_schema(
        {"name": listed.name, "description": description, "parameters": listed.input_schema},
        function,
        name=plan_name,
        timeout=timeout,
        side_effects=info.side_effects,
        output_schema=returns,
    )
    function.optional = frozenset(p.name for p in built.parameters if not p.required)
    return built, info


def _is_result_wrapper(schema: Mapping[str, Any] | None) -> bool:
    """Whether an output schema is the ``{"result": X}`` object MCP SDKs wrap around non-object results."""
    if not isinstance(schema, Mapping):
        return False
    props = schema.get("properties")
    return (
        isinstance(props, Mapping)
        and list(props) == ["result"]
        and isinstance(props["result"], Mapping)
        and schema.get("required") == ["result"]
    )


class _McpCall:
    """The function of an imported tool: ``tools/call`` with the validated arguments, the result as observation."""

    def __init__(self, client: mcp.Client, name: str, wrapped: bool) -> None:
        self.client = client
        self.name = name
        self.wrapped = wrapped
        self.optional: frozenset[str] = frozenset()
        self.__name__ = name

    async def __call__(self, **arguments: Any) -> Any:
        # An optional argument left out is validated to None: leave it out of the call too.
        sent = {k: v for k, v in arguments.items() if not (v is None and k in self.optional)}
        result = await self.client.call_tool(self.name, to_jsonable_python(sent))
        return observation(result, unwrap=self.wrapped)


def observation(result: mcp_types.CallToolResult, *, unwrap: bool = False) -> Any:
    """The observation of an MCP tool result.

    That is ``structuredContent`` when present (unwrapped from ``{"result": X}`` when ``unwrap``), else the text of
    the content blocks joined by newlines.

    Raises:
        MCPToolError: The result has ``isError: true``.
    """
    if result.is_error:
        raise MCPToolError(content_text(result.content) or "the MCP tool failed without a message")
    data = result.structured_content
    if data is not None:
        if unwrap and isinstance(data, dict) and list(data) == ["result"]:
            return data["result"]
        return data
    return content_text(result.content)


def content_text(blocks: Sequence[Any]) -> str:
    """The text of MCP content blocks: text as it is, other blocks as a short bracketed note."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        elif isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
            parts.append(f"[{block.type}: {block.mime_type}, {len(block.data)} base64 characters]")
        elif isinstance(block, mcp_types.EmbeddedResource):
            res = block.resource
            text = getattr(res, "text", None)
            parts.append(text if isinstance(text, str) else f"[resource {res.uri} ({res.mime_type or 'binary'})]")
        elif isinstance(block, mcp_types.ResourceLink):
            parts.append(f"[resource link {block.uri}: {block.name}]")
        else:
            parts.append(f"[{getattr(block, 'type', type(block).__name__)} content]")
    return "\n".join(parts)
