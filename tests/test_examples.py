"""Runnable examples in examples/ are executed as scripts, the way a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_quickstart() -> None:
    out = run_example("quickstart.py")
    lines = out.splitlines()
    assert 'parsed   1. get_phone_number("Sid")' in lines
    assert "answer   I texted Sid and Lutfi." in lines
    assert "outbox   [\"['+1 555 0101', '+1 555 0102']: The meeting moved to 3pm\"]" in lines
    # both lookups start before either finishes: they run in parallel
    started = [i for i, ln in enumerate(lines) if ln.startswith("started  1.") or ln.startswith("started  2.")]
    finished = [i for i, ln in enumerate(lines) if ln.startswith("finished 1.") or ln.startswith("finished 2.")]
    assert len(started) == 2 and max(started) < min(finished)
