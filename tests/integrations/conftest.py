"""Fixtures for the integration tests: the test MCP server (mcp_test_server.py) as a stdio subprocess, and this
folder on ``sys.path`` for the helper modules (subprocesses get it through ``PYTHONPATH``, `subprocess_env`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from integration_helpers import HERE, subprocess_env

if TYPE_CHECKING:
    import mcp


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """The file the test MCP server's ``notes.add-entry`` appends to."""
    return tmp_path / "notes.txt"


@pytest.fixture
def server_params(notes: Path) -> mcp.StdioServerParameters:
    """How to start the test MCP server over stdio."""
    sdk = pytest.importorskip("mcp", reason="the MCP Python SDK (the mcp extra) is not installed")
    return sdk.StdioServerParameters(
        command=sys.executable,
        args=[str(HERE / "mcp_test_server.py")],
        env=subprocess_env(TINYPLAN_TEST_NOTES=str(notes)),
    )
