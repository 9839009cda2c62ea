"""synthesize: both modes with scripted models, the per-reason report, resume after an interruption, splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_helpers import stating_writer

from tinyplan import BackendUnavailableError, CompletionRequest, ScriptedBackend, Toolset, tool
from tinyplan.data import (
    REASONS,
    ExampleStore,
    SynthProfile,
    read_examples,
    rejected_path,
    split_of,
    synthesize,
)
from tinyplan.eval.datasets import load_jsonl


@pytest.mark.anyio
async def test_plan_first_keeps_checked_examples_in_the_generic_jsonl(
    tmp_path: Path, mac_tools: Toolset, mac_synth_profile: SynthProfile
) -> None:
    out = tmp_path / "bank.jsonl"
    backend = ScriptedBackend([stating_writer] * 200)
    report = await synthesize(mac_tools, backend, 12, out=out, profile=mac_synth_profile, seed=5)
    assert report.kept == 12 == report.total_kept
    assert report.attempts == 12 + sum(report.rejected.values())
    assert set(report.rejected) == set(REASONS)
    records = read_examples(out)
    assert [r["id"] for r in records] == [r["id"] for r in report.examples]
    for r in records:
        assert r["mode"] == "plan-first" and r["toolset"] == "mac" and r["split"] == split_of(r["skeleton"])
        assert r["plan"].endswith("join()") and "sandbox" in r["checks"]
        assert {t["function"]["name"] for t in r["tools"]} <= set(mac_tools.names)
    cases = load_jsonl(out)  # the generic eval format reads it
    assert [c.request for c in cases] == [r["request"] for r in records]
    # the writer saw the plan it had to describe, after the cached instructions
    first = backend.requests[0]
    assert first.cache_prefix is not None and "Plan:\n1. " in first.prompt[len(first.cache_prefix) :]
    assert "kept 12 of" in report.summary() and "unstated" in report.summary()


@pytest.mark.anyio
async def test_rejections_are_logged_with_their_reason(
    tmp_path: Path, mac_tools: Toolset, mac_synth_profile: SynthProfile
) -> None:
    out = tmp_path / "bank.jsonl"
    lazy = ScriptedBackend(["Do the thing.\n"] * 30)  # states nothing: every plan with a literal is rejected
    report = await synthesize(mac_tools, lazy, 5, out=out, profile=mac_synth_profile, max_attempts=20)
    assert report.attempts == 20
    logged = [json.loads(line) for line in rejected_path(out).read_text().splitlines()]
    assert len(logged) == sum(report.rejected.values()) > 0
    assert {r["reason"] for r in logged} <= set(REASONS)
    assert report.rejected["unstated"] > 0


@pytest.mark.anyio
async def test_resume_after_an_interrupted_run_gives_the_uninterrupted_result(
    tmp_path: Path, mac_tools: Toolset, mac_synth_profile: SynthProfile
) -> None:
    whole = tmp_path / "whole.jsonl"
    await synthesize(mac_tools, ScriptedBackend([stating_writer] * 100), 10, out=whole, profile=mac_synth_profile)

    calls = {"n": 0}

    def dies_on_the_seventh(request: CompletionRequest) -> str:
        calls["n"] += 1
        if calls["n"] == 7:
            raise BackendUnavailableError("the model server went away")
        return stating_writer(request)

    parts = tmp_path / "parts.jsonl"
    with pytest.raises(BackendUnavailableError):
        await synthesize(
            mac_tools, ScriptedBackend([dies_on_the_seventh] * 100), 10, out=parts, profile=mac_synth_profile
        )
    assert 0 < len(read_examples(parts)) < 10
    with parts.open("a") as fh:  # a line cut short by the crash
        fh.write('{"id": "mac-pf-s0-0000')
    report = await synthesize(
        mac_tools, ScriptedBackend([stating_writer] * 100), 10, out=parts, profile=mac_synth_profile
    )
    assert report.total_kept == 10
    assert parts.read_text() == whole.read_text()
    again = await synthesize(mac_tools, ScriptedBackend([]), 10, out=parts, profile=mac_synth_profile)
    assert again.attempts == 0 and again.total_kept == 10  # nothing left to do: no model call


@pytest.mark.anyio
async def test_splits_keep_every_skeleton_on_one_side(
    tmp_path: Path, mac_tools: Toolset, mac_synth_profile: SynthProfile
) -> None:
    out = tmp_path / "bank.jsonl"
    await synthesize(mac_tools, ScriptedBackend([stating_writer] * 400), 60, out=out, profile=mac_synth_profile)
    records = read_examples(out)
    by_split: dict[str, set[str]] = {}
    for r in records:
        by_split.setdefault(r["split"], set()).add(r["skeleton"])
    assert "train" in by_split
    for split, skeletons in by_split.items():
        for other, theirs in by_split.items():
            if other != split:
                assert not skeletons & theirs
    assert read_examples(out, splits=("test",)) == [r for r in records if r["split"] == "test"]


@tool
def get_phone_number(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    return "+1 555 0101"


@tool(side_effects=True)
def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message.

    Args:
        recipients: Phone numbers, as get_phone_number returns them.
        message: The text to send.
    """
    return "sent"


@pytest.mark.anyio
async def test_request_first_plans_the_generators_requests(tmp_path: Path) -> None:
    tools = Toolset([get_phone_number, send_sms])
    generator = ScriptedBackend(
        [
            "1. Text Sid that dinner is at 8.\n2. What is Omar's phone number?\n"
            "3. Text Sid that dinner is at 8.\n- Tell Nadia the meeting moved to Thursday.\n",
        ]
    )
    planner = ScriptedBackend(
        [
            '1. get_phone_number("Sid")\n2. send_sms(["$1"], "Dinner is at 8.")\n3. join()<END_OF_PLAN>',
            '1. get_phone_number("Omar")\n2. join()<END_OF_PLAN>',
            '1. get_phone_number("Sid")\n2. send_sms(["$1"], "Dinner is at 8.")\n3. join()<END_OF_PLAN>',
            '1. get_phone_number("Nadia")\n2. send_sms(["$1"], "The meeting moved to Friday.")\n3. join()',
        ]
    )
    out = tmp_path / "rf.jsonl"
    report = await synthesize(
        tools, generator, 10, mode="request-first", planner_backend=planner, out=out, batch=4, max_attempts=4
    )
    assert report.kept == 2
    assert report.rejected["duplicate"] == 1 and report.rejected["unstated"] == 1
    records = read_examples(out)
    assert [r["request"] for r in records] == ["Text Sid that dinner is at 8.", "What is Omar's phone number?"]
    assert all(r["mode"] == "request-first" and r["id"].startswith("custom-rf-") for r in records)
    # the generator was asked once, in chat form, with the tools and seed values
    assert len(generator.requests) == 1 and generator.requests[0].messages is not None
    assert "get_phone_number(name: str) -> str" in generator.requests[0].messages[1].content
    assert "contact names:" in generator.requests[0].messages[1].content
    # the planner got the planner prompt, under its typed grammar
    assert planner.requests[0].grammar is not None and "Question: Text Sid" in planner.requests[0].prompt
    state = ExampleStore(out).load()
    assert state.reasons() == {"duplicate": 1, "unstated": 1}


@pytest.mark.anyio
async def test_recheck_moves_examples_that_fail_the_current_checks(
    tmp_path: Path, mac_tools: Toolset, mac_synth_profile: SynthProfile
) -> None:
    from tinyplan.data import recheck

    good = {"request": "Text Elena Rossi that the budget review moved to Thursday.", "split": "train", "index": 0,
            "plan": '1. get_phone_number("Elena Rossi")\n2. send_sms(["$1"], "The budget review moved to Thursday.")'
            "\n3. join()"}  # fmt: skip
    unasked = dict(good, request="Get Elena Rossi's number; the budget review moved to Thursday.", index=1)
    out = tmp_path / "bank.jsonl"
    store = ExampleStore(out)
    for record in (good, unasked, dict(good, index=2)):
        store.append(record)
    kept, reasons = await recheck(mac_tools, out, profile=mac_synth_profile)
    assert kept == 1 and reasons == {"unasked": 1, "duplicate": 1}
    assert [r["index"] for r in read_examples(out)] == [0]
    assert store.load().reasons() == {"unasked": 1, "duplicate": 1}


def test_the_writer_sees_references_as_what_they_are(mac_tools: Toolset) -> None:
    from tinyplan.data import request_prompt, writer_view

    plan = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "Meet here: $1")\n3. join()'
    assert writer_view(plan, mac_tools) == (
        '1. get_phone_number("Sid")\n2. send_sms([<the phone number of the contact, from step 1>], '
        '"Meet here: <the phone number of the contact, from step 1>")\n3. join()'
    )
    assert writer_view(plan) == plan.replace('"$1"', "<result of step 1>").replace("$1", "<result of step 1>")
    request = request_prompt(mac_tools, plan, "brief")
    assert request.prompt is not None and request.cache_prefix is not None
    assert request.prompt.endswith("Style: brief\nRequest:") and "<" in request.stop


@pytest.mark.anyio
async def test_a_writer_cut_at_a_reference_keeps_whole_sentences(mac_tools: Toolset) -> None:
    from tinyplan.data import write_request

    backend = ScriptedBackend(["Text Sid where we meet. <the phone number, from step 1> is his number."])
    plan = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "Meet here")\n3. join()'
    assert await write_request(backend, mac_tools, plan, "brief") == "Text Sid where we meet."
