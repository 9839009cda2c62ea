"""The CLI tests script a llama.cpp server with the fake HTTP server of the backend tests (backend_fakes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "backends"))

from backend_fakes import fake_server  # noqa: F401  (a fixture)
