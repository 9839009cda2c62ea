"""MCP server: ``tinyplan mcp serve`` started as a subprocess and used with the MCP SDK's real client, over stdio and
once over streamable HTTP. The server plans with a `ScriptedBackend` (``--backend scripted:backend``)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

mcp = pytest.importorskip("mcp", reason="the MCP Python SDK (the mcp extra) is not installed")

from integration_helpers import subprocess_env  # noqa: E402
from scripted import BACKEND_DOWN, TWO_CITIES, UNKNOWN_CITY  # noqa: E402

pytestmark = pytest.mark.anyio

SERVE = [
    sys.executable,
    "-m",
    "tinyplan",
    "mcp",
    "serve",
    "--toolset",
    "scripted:tools",
    "--backend",
    "scripted:backend",
    "--join",
    "observations",
    "--max-replans",
    "0",
]


@pytest.fixture
def stdio_params() -> mcp.StdioServerParameters:
    return mcp.StdioServerParameters(command=SERVE[0], args=SERVE[1:], env=subprocess_env())


async def test_list_plan_run_progress_and_errors_over_stdio(stdio_params: mcp.StdioServerParameters) -> None:
    async with mcp.Client(stdio_params) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert sorted(listed) == ["plan", "run_request"]
        run_hints, plan_hints = listed["run_request"].annotations, listed["plan"].annotations
        assert run_hints is not None and run_hints.read_only_hint is False and run_hints.destructive_hint is True
        assert plan_hints is not None and plan_hints.read_only_hint is True
        assert listed["run_request"].input_schema["required"] == ["request"]
        assert "get_temperature, send_message" in (listed["run_request"].description or "")

        # plan: the text and its DAG, nothing run
        planned = await client.call_tool("plan", {"request": TWO_CITIES})
        assert not planned.is_error
        out = planned.structured_content
        assert out["plan"].startswith('1. get_temperature("Oslo")')
        assert [(t["idx"], t["tool"], t["dependencies"]) for t in out["tasks"]] == [
            (1, "get_temperature", []),
            (2, "get_temperature", []),
            (3, "send_message", [1, 2]),
        ]
        assert out["edges"] == [[1, 3], [2, 3]] and out["parse_error"] is None

        # run_request: one progress notification per finished task, then the answer and the plan
        progress: list[tuple[float, str | None]] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append((value, message))

        ran = await client.call_tool("run_request", {"request": TWO_CITIES}, progress_callback=on_progress)
        assert not ran.is_error
        result = ran.structured_content
        assert result["status"] == "answered"
        assert "send_message: sent to Sid: Oslo 4.5 C, Lima 19.0 C" in result["answer"]
        assert result["plan"] == out["plan"]
        assert [t["state"] for t in result["rounds"][0]["tasks"]] == ["succeeded"] * 3 + ["succeeded"]
        assert [p[0] for p in progress] == [1, 2, 3]
        last = '3. send_message("Sid", "Oslo $1 C, Lima $2 C") -> sent to Sid: Oslo 4.5 C, Lima 19.0 C'
        assert progress[-1][1] == last

        # a tool that fails inside the plan: the request is a tool error, with the tool's message
        failed = await client.call_tool("run_request", {"request": UNKNOWN_CITY})
        assert failed.is_error
        text = "\n".join(getattr(block, "text", "") for block in failed.content)
        assert 'task 1. get_temperature("Atlantis") failed: ValueError: no weather data for Atlantis' in text

        # the backend failing is a tool error too
        down = await client.call_tool("run_request", {"request": BACKEND_DOWN})
        assert down.is_error
        assert "BackendUnavailableError: the scripted model is down" in down.content[0].text  # type: ignore[union-attr]

        # and the server still serves
        again = await client.call_tool("run_request", {"request": TWO_CITIES})
        assert not again.is_error and again.structured_content["status"] == "answered"


def test_nothing_but_the_protocol_on_stdout() -> None:
    """The raw stdout of ``tinyplan mcp serve``: every line is a JSON-RPC message (logs go to stderr)."""
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "plan", "arguments": {"request": TWO_CITIES}},
        },
    ]
    proc = subprocess.Popen(
        SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(), text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    replies: list[dict[str, Any]] = []
    try:
        for request in requests:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            if "id" in request:
                line = proc.stdout.readline()
                replies.append(json.loads(line))  # anything but JSON here fails the test
        proc.stdin.close()
        rest = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert [r["id"] for r in replies] == [1, 2, 3]
    assert all(r["jsonrpc"] == "2.0" and "result" in r for r in replies)
    assert sorted(t["name"] for t in replies[1]["result"]["tools"]) == ["plan", "run_request"]
    assert replies[2]["result"]["structuredContent"]["tasks"][2]["tool"] == "send_message"
    assert all(json.loads(line) for line in rest.splitlines() if line.strip())


# ----------------------------------------------------------------------------------------------- streamable HTTP
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def http_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [*SERVE, "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                assert proc.stderr is not None
                pytest.fail(f"the server exited: {proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the server did not start listening within 60 s")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_streamable_http(http_server: str) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    with anyio.fail_after(60):
        async with mcp.Client(http_server) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            assert names == ["plan", "run_request"]
            ran = await client.call_tool("run_request", {"request": TWO_CITIES}, progress_callback=on_progress)
            assert not ran.is_error and ran.structured_content["status"] == "answered"
            assert progress == [1, 2, 3]
            failed = await client.call_tool("run_request", {"request": UNKNOWN_CITY})
            assert failed.is_error
            planned = await client.call_tool("plan", {"request": TWO_CITIES})
            assert planned.structured_content["edges"] == [[1, 3], [2, 3]]


# ----------------------------------------------------------------------------------------------------- the CLI
def test_serve_options_are_checked() -> None:
    from click.testing import CliRunner

    from tinyplan.cli import main

    runner = CliRunner()
    out = runner.invoke(main, ["mcp", "serve", "--toolset", "scripted:tools", "--backend", "scripted"])
    assert out.exit_code == 2 and "expected module:attribute" in out.output
    out = runner.invoke(main, ["mcp", "serve", "--toolset", "scripted:tools", "--backend", "scripted:TWO_CITIES"])
    assert out.exit_code == 2 and "is not a Backend" in out.output
    out = runner.invoke(main, ["mcp", "serve", "--backend", "scripted:backend", "--server", "http://localhost:1"])
    assert out.exit_code == 2 and "give --backend or one of --model/--server/--openai" in out.output


def test_serve_without_the_mcp_sdk_says_what_to_install() -> None:
    code = "import sys; sys.modules['mcp'] = None; from tinyplan.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "mcp", "serve", "--toolset", "scripted:tools", "--backend", "scripted:backend"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "pip install 'tinyplan[mcp]'" in proc.stderr
