"""examples/eval_jsonl.py runs as a script and prints its scores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "eval_jsonl.py"


def test_eval_jsonl_example() -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "sms-two          DAG ok  strict ok " in lines
    assert "weather-compare  DAG bad strict bad" in lines
    assert any(line.startswith("| tinyplan | jsonl:eval_cases.jsonl | 3 | 66.7 | 66.7 |") for line in lines)
