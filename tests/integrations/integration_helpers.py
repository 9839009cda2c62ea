"""Helpers shared by the integration tests (imported by name: this folder is on ``sys.path``)."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: this one, with this folder on PYTHONPATH and ``extra`` set."""
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}
