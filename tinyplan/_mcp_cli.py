"""``tinyplan mcp serve``: tinyplan as an MCP server, over stdio (the default) or streamable HTTP.

This module imports without the MCP SDK (it lives outside `tinyplan.mcp`, which needs it), so that ``tinyplan mcp
serve`` without the ``mcp`` extra says what to install instead of "no such command".
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import click

from tinyplan._backend import Backend
from tinyplan._cli_options import backend_options, load_attribute

__all__ = ["load_backend", "mcp_group"]

_INSTALL_HINT = "install the MCP extra: pip install 'tinyplan[mcp]'"


@click.group("mcp")
def mcp_group() -> None:
    """MCP (Model Context Protocol): serve tinyplan to MCP hosts."""


@mcp_group.command("serve")
@click.option("--toolset", "toolset_spec", metavar="MODULE:ATTR", help="Your own tools instead of the Mac toolset.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="Home folder of the Mac toolset.")
@backend_options
@click.option(
    "--backend",
    "backend_spec",
    metavar="MODULE:ATTR",
    help="A Backend object (or a function returning one) to plan with, e.g. a ScriptedBackend in tests.",
)
@click.option(
    "--transport",
    type=click.Choice(["stdio", "streamable-http"]),
    default="stdio",
    show_default=True,
    help="stdio: the host starts this command and talks over stdin/stdout; streamable-http: serve HTTP.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (streamable-http).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port (streamable-http).")
@click.option("--path", "http_path", default="/mcp", show_default=True, help="URL path (streamable-http).")
@click.option("--max-replans", default=1, show_default=True, type=click.IntRange(0, 10))
@click.option("--join", "join_mode", type=click.Choice(["auto", "llm", "observations"]), default="auto",
              show_default=True, help="How the answer is written (see `tinyplan run --help`).")  # fmt: skip
@click.option("--grammar", type=click.Choice(["none", "syntax", "typed"]), default="typed", show_default=True,
              help="Constrain the plan with a GBNF grammar generated from the tools.")  # fmt: skip
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def serve(
    toolset_spec: str | None,
    home: Path | None,
    model: str | None,
    server: str | None,
    openai: str | None,
    openai_model: str | None,
    backend_spec: str | None,
    transport: str,
    host: str,
    port: int,
    http_path: str,
    max_replans: int,
    join_mode: str,
    grammar: str,
    debug: bool,
) -> None:
    """Serve tinyplan as an MCP server with two tools: run_request(request) and plan(request).

    Over stdio nothing but the protocol is written to stdout; logs go to stderr.
    """
    from tinyplan.cli import _guard, _load_toolset, _make_backend

    def work() -> None:
        try:
            from tinyplan.mcp._server import mcp_server
        except ImportError as exc:
            raise click.ClickException(f"the MCP Python SDK is not importable ({exc}): {_INSTALL_HINT}") from exc
        from tinyplan._planner import Planner

        if backend_spec and (model or server or openai):
            raise click.UsageError("give --backend or one of --model/--server/--openai, not both")
        # Nothing may reach stdout but the protocol: anything printed while the tools and model are set up goes
        # to stderr (while serving, the MCP SDK points file descriptor 1 at stderr itself).
        with contextlib.redirect_stdout(sys.stderr):
            if toolset_spec:
                tools = _load_toolset(toolset_spec)
            else:
                from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

                if home is not None and not home.exists():
                    copy_sample_home(home)
                    click.echo(f"tinyplan: created {home} from the sample home", err=True)
                tools = mac_toolset(home)
            backend = load_backend(backend_spec) if backend_spec else _make_backend(model, server, openai, openai_model)
            planner = Planner(
                backend,
                tools,
                join=join_mode,  # type: ignore[arg-type]
                max_replans=max_replans,
                grammar=None if grammar == "none" else grammar,  # type: ignore[arg-type]
            )
            app = mcp_server(planner)
        if transport == "stdio":
            run: Callable[[], Awaitable[None]] = app.run_stdio_async
        else:
            click.echo(f"tinyplan: serving MCP at http://{host}:{port}{http_path}", err=True)
            run = functools.partial(app.run_streamable_http_async, host=host, port=port, streamable_http_path=http_path)

        async def serve_until_closed() -> None:
            try:
                await run()
            finally:
                await backend.aclose()  # unloads a local model

        anyio.run(serve_until_closed)

    _guard(debug, work)


def load_backend(spec: str) -> Backend:
    """``module:attribute`` → a `Backend`: the attribute itself, or what calling it (without arguments) returns.

    Raises:
        click.BadParameter: The module cannot be imported, lacks the attribute, or it is not a backend.
    """
    obj = load_attribute(spec, param_hint="--backend", example="mybackends:backend")
    if not hasattr(obj, "stream") and callable(obj):
        obj = obj()
    if not callable(getattr(obj, "stream", None)):
        raise click.BadParameter(f"{spec} is not a Backend (it has no stream method)", param_hint="--backend")
    backend: Backend = obj
    return backend
