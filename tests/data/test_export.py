"""SFT export: the prompt is exactly `PromptRenderer`'s for the same request, in TRL's two shapes; the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from data_helpers import stating_writer

from tinyplan import PromptRenderer, ScriptedBackend, Toolset
from tinyplan.cli import main
from tinyplan.data import ExampleBank, export_sft, sft_record

TODAY = dt.date(2026, 11, 21)
RECORD = {
    "id": "x",
    "request": "Text Elena Rossi that the budget review moved to Thursday.",
    "plan": '1. get_phone_number("Elena Rossi")\n2. send_sms(["$1"], "The budget review moved to Thursday.")'
    "\n3. join()",
    "split": "train",
}


def test_chat_and_completion_records_hold_the_planners_prompt(mac_tools: Toolset) -> None:
    expected = PromptRenderer().planner(
        list(mac_tools),
        RECORD["request"],
        instructions=mac_tools.instructions,
        examples=mac_tools.examples,
        today=TODAY,
    )
    chat = sft_record(RECORD["request"], RECORD["plan"], mac_tools, format="chat", today=TODAY)
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant"]
    assert chat["messages"][0]["content"] == expected.static
    assert chat["messages"][1]["content"] == expected.tail
    assert chat["messages"][2]["content"] == RECORD["plan"] + "<END_OF_PLAN>"
    request = expected.request(chat=True)
    assert request.messages is not None and [m.content for m in request.messages] == [
        m["content"] for m in chat["messages"][:2]
    ]
    completion = sft_record(RECORD["request"], RECORD["plan"], mac_tools, format="completion", today=TODAY)
    assert completion == {"prompt": expected.request(chat=False).prompt, "completion": RECORD["plan"] + "<END_OF_PLAN>"}


def test_without_static_examples_and_with_a_bank(mac_tools: Toolset, tmp_path: Path) -> None:
    bank_file = tmp_path / "bank.jsonl"
    other = dict(RECORD, id="y", request="Text Tom Becker that the budget review is on.")
    bank_file.write_text(json.dumps(other) + "\n")
    bank = ExampleBank.load(bank_file, k=1, method="bm25")
    record = sft_record(RECORD["request"], RECORD["plan"], mac_tools, format="completion", today=TODAY, examples=[],
                        bank=bank)  # fmt: skip
    expected = PromptRenderer(bank=bank).planner(
        list(mac_tools), RECORD["request"], instructions=mac_tools.instructions, examples=[], today=TODAY
    )
    assert record["prompt"] == expected.text
    assert "Question: Text Tom Becker" in record["prompt"] and "Question: Notify Lutfi" not in record["prompt"]


def test_export_writes_the_chosen_splits(mac_tools: Toolset, tmp_path: Path) -> None:
    source = tmp_path / "bank.jsonl"
    source.write_text(json.dumps(RECORD) + "\n" + json.dumps(dict(RECORD, id="t", split="test")) + "\n")
    out = tmp_path / "sft.jsonl"
    assert export_sft(source, out, mac_tools, today=TODAY) == 1
    assert export_sft(source, out, mac_tools, today=TODAY, splits=None, format="completion") == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(set(r) == {"prompt", "completion"} for r in rows)


def test_cli_synth_export_and_stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tinyplan.data._cli as synth_cli

    monkeypatch.setattr(synth_cli, "_backend", lambda *a: ScriptedBackend([stating_writer] * 100))
    out = tmp_path / "mac.jsonl"
    runner = CliRunner()
    made = runner.invoke(main, ["synth", "-n", "4", "--out", str(out), "--no-progress", "--seed", "2"])
    assert made.exit_code == 0, made.output
    assert "kept 4 of" in made.output and "unstated" in made.output
    assert len(out.read_text().splitlines()) == 4
    sft = tmp_path / "sft.jsonl"
    exported = runner.invoke(
        main,
        ["synth", "export", "--input", str(out), "--out", str(sft), "--split", "all", "--today", "2026-11-21"],
    )
    assert exported.exit_code == 0, exported.output
    first = json.loads(sft.read_text().splitlines()[0])
    assert first["messages"][1]["content"].startswith("Today's date is Saturday, 2026-11-21.")
    stats = runner.invoke(main, ["synth", "stats", str(out)])
    assert stats.exit_code == 0 and "kept: 4" in stats.output and "split:" in stats.output
