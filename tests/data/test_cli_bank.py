"""``tinyplan run --bank`` and ``tinyplan eval --bank``: the bank's examples reach the planner prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tinyplan import ScriptedBackend
from tinyplan.cli import main

RECORD = {
    "id": "b1",
    "request": "Text Tom Becker that the budget review moved to Thursday.",
    "plan": '1. get_phone_number("Tom Becker")\n2. send_sms(["$1"], "The budget review moved to Thursday.")\n3. join()',
    "split": "train",
    "toolset": "mac",
}
PLAN = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "The review moved.")\n3. join()<END_OF_PLAN>'


@pytest.fixture
def bank_file(tmp_path: Path) -> Path:
    path = tmp_path / "bank.jsonl"
    path.write_text(json.dumps(RECORD) + "\n")
    return path


def _run(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[ScriptedBackend, str]:
    import tinyplan.cli as cli

    backend = ScriptedBackend([PLAN])
    monkeypatch.setattr(cli, "_make_backend", lambda *a, **k: backend)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return backend, result.output


def test_run_shows_the_banks_examples(tmp_path: Path, bank_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    query = "Text Sid that the review moved"
    backend, _ = _run(["run", query, "--home", str(home), "--dry-run", "--json", "--bank", str(bank_file)], monkeypatch)
    prompt = backend.requests[0].prompt or ""
    assert "More solved examples, chosen for this question:\n\nQuestion: Text Tom Becker" in prompt
    assert backend.requests[0].cache_prefix is not None and "Tom Becker" not in backend.requests[0].cache_prefix
    plain, _ = _run(["run", query, "--home", str(home), "--dry-run", "--json", "--bank", "none"], monkeypatch)
    assert "More solved examples" not in (plain.requests[0].prompt or "")
    assert plain.requests[0].cache_prefix == backend.requests[0].cache_prefix


def test_eval_bank_and_synth_dataset(tmp_path: Path, bank_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tinyplan.eval._cli as eval_cli

    test_file = tmp_path / "cases.jsonl"
    test_file.write_text(json.dumps(dict(RECORD, id="t1", split="test", request="Text Sid that I'm late.")) + "\n")
    backend = ScriptedBackend([PLAN])
    monkeypatch.setattr(eval_cli, "make_backend", lambda *a, **k: backend)
    out = tmp_path / "results"
    result = CliRunner().invoke(
        main,
        ["eval", "--dataset", f"synth:{test_file}", "--bank", str(bank_file), "--no-progress", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "tinyplan+bank3" in result.output
    prompt = backend.requests[0].prompt or ""
    assert "Question: Text Tom Becker" in prompt  # from the bank's train split
    assert prompt.count("\n1. get_phone_number(") >= 2  # the Mac toolset's own examples are still there
