"""Fixtures of the voice tests: the speech-to-text server (stt_fakes.py) and, from tests/backends, the scripted
llama-server."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "backends"))
sys.path.insert(0, str(Path(__file__).parent.parent / "cli"))

from backend_fakes import fake_server  # noqa: F401  (a fixture)
from stt_fakes import stt  # noqa: F401  (a fixture)
