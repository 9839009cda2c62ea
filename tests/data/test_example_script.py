"""examples/synth_bank.py runs end to end with the tiny model (slow: a real model)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "synth_bank.py"


@pytest.mark.slow
def test_synth_bank_example_runs_with_the_tiny_model(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from tinyplan import ModelError, tiny_model_path

    try:
        tiny_model_path()
    except ModelError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "bank.jsonl"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--model", "tiny", "-n", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("kept ") and " tried " in line for line in lines), proc.stdout
    assert any(line.startswith("bank     ") for line in lines)
    assert "plan" in lines
    assert out.exists() or out.with_name("bank.rejected.jsonl").exists()
