"""The integration examples in examples/ run as scripts, the way a user runs them (no model: ScriptedBackend)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_mcp_client_example() -> None:
    pytest.importorskip("mcp", reason="the MCP Python SDK (the mcp extra) is not installed")
    lines = run_example("mcp_client.py")
    assert (
        "tool     weather_current(city: str) -> {city: str, temp_c: float, conditions: str}  side_effects=False  "
        "mcp='weather.current'" in lines
    )
    assert "tool     notes_add_entry(title: str, body: str) -> str  side_effects=True  mcp='notes.add-entry'" in lines
    assert sorted(ln for ln in lines if ln.startswith("approve")) == [
        "approve  lamp_set({'color': 'cold', 'dim': True}) -> yes",
        "approve  notes_add_entry({'title': 'Oslo', 'body': 'light snow'}) -> yes",
    ]
    assert "answer   Noted light snow in Oslo; the lamp is cold and dim." in lines
    assert lines[-1] == "notes    Oslo: light snow"


def test_mcp_server_example() -> None:
    pytest.importorskip("mcp", reason="the MCP Python SDK (the mcp extra) is not installed")
    lines = run_example("mcp_server.py")
    assert lines[:3] == [
        "tool     run_request  read_only=False",
        "tool     plan  read_only=True",
        "plan     edges=[] tasks=2",
    ]
    assert sorted(ln.split(": ", 1)[1] for ln in lines if ln.startswith("progress")) == [
        '1. get_temperature("Oslo") -> 4.5',
        '2. get_temperature("Lima") -> 19.0',
    ]
    assert "answer   Lima is warmer: 19.0 C against 4.5 C in Oslo." in lines


def test_openai_schemas_example() -> None:
    lines = run_example("openai_schemas.py")
    assert lines[0].startswith('chat       {"type": "function", "function": {"name": "set_volume"')
    assert lines[1].startswith('responses  {"type": "function", "name": "set_volume"') and '"strict": true' in lines[1]
    assert '"required": ["level", "unit"]' in lines[1] and '"type": ["string", "null"]' in lines[1]
    assert "observed   table booked at 19:00 on the terrace" in lines
    assert lines[-1] == "answer     Your table is booked for 19:00 on the terrace."


def test_framework_adapters_example() -> None:
    lines = run_example("framework_adapters.py")
    expected = {
        "langchain_core": 'langchain  Lima is warmer than Oslo. | plan: 1. get_temperature("Oslo") ...',
        "smolagents": "smolagents Lima is warmer than Oslo.",
        "pydantic_ai": "pydantic-ai Lima is warmer than Oslo.",
    }
    for module, line in expected.items():
        if importlib.util.find_spec(module) is None:
            assert f"skipped    {module} is not installed" in lines
        else:
            assert line in lines
    if all(importlib.util.find_spec(m) for m in ("langchain_core", "pydantic_ai")):
        assert lines[-1] == "imported   [42, 'THE ANSWER IS 42!']"
    else:
        pytest.skip("the reverse part needs langchain-core and pydantic-ai")
