"""Every sanity check rejects a crafted bad example and keeps a good one; `stated` reads the usual forms of dates."""

from __future__ import annotations

import pytest

from tinyplan import Toolset
from tinyplan.data import REASONS, ExampleChecker, SynthProfile, asks_for, stated

GOOD_REQUEST = "Text Elena Rossi that the budget review moved to Thursday."
GOOD_PLAN = '1. get_phone_number("Elena Rossi")\n2. send_sms(["$1"], "The budget review moved to Thursday.")\n3. join()'

BAD: dict[str, tuple[str, str]] = {
    "request": ("1. get_phone_number then send_sms", GOOD_PLAN),
    "reference": (
        GOOD_REQUEST,
        '1. get_phone_number("Elena Rossi")\n2. send_sms(["$1"], "The budget review moved, see $3")\n3. join()',
    ),
    "parse": (GOOD_REQUEST, '1. call_elena("Elena Rossi")\n2. join()'),
    "join": (GOOD_REQUEST, '1. get_phone_number("Elena Rossi")\n2. send_sms(["$1"], "The budget review moved.")'),
    "schema": (GOOD_REQUEST, '1. get_phone_number("Elena Rossi")\n2. send_sms(["$1"], 42)\n3. join()'),
    "unused": (
        GOOD_REQUEST,
        '1. get_phone_number("Elena Rossi")\n2. get_phone_number("Tom Becker")\n'
        '3. send_sms(["$1"], "The budget review moved to Thursday.")\n4. join()',
    ),
    "unstated": (
        "Text Elena Rossi about the review.",
        '1. get_phone_number("Elena Rossi")\n2. send_sms(["$1"], "The budget review moved to Thursday at noon.")\n'
        "3. join()",
    ),
    "unasked": (
        "Get Elena Rossi's number and send her: the budget review moved to Thursday.",
        GOOD_PLAN,
    ),
    "unplanned": ("Text Elena Rossi and Omar that the budget review moved to Thursday.", GOOD_PLAN),
    "holdout": (
        "Please text Sid and Lutfi I'm running 10 minutes late.",
        '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
        '3. send_sms(["$1", "$2"], "Running 10 minutes late!")\n4. join()',
    ),
    "sandbox": ("Open my Quantum Zebra Ledger note.", '1. open_note("Quantum Zebra Ledger", "")\n2. join()'),
}


@pytest.fixture
def checker(mac_tools: Toolset, mac_synth_profile: SynthProfile) -> ExampleChecker:
    return mac_synth_profile.checker(mac_tools)


@pytest.mark.anyio
async def test_the_good_example_passes_every_check(checker: ExampleChecker) -> None:
    assert await checker.check(GOOD_REQUEST, GOOD_PLAN) is None


@pytest.mark.anyio
@pytest.mark.parametrize("reason", [r for r in REASONS if r != "duplicate"])
async def test_each_check_rejects_its_bad_example(checker: ExampleChecker, reason: str) -> None:
    request, plan = BAD[reason]
    rejection = await checker.check(request, plan)
    assert rejection is not None, reason
    assert rejection.reason == reason, rejection


@pytest.mark.anyio
async def test_duplicates_are_rejected_once_an_example_is_kept(checker: ExampleChecker) -> None:
    assert await checker.check(GOOD_REQUEST, GOOD_PLAN) is None
    checker.remember(GOOD_REQUEST, GOOD_PLAN)
    same = await checker.check(GOOD_REQUEST.upper(), GOOD_PLAN)
    assert same is not None and same.reason == "duplicate"
    near = await checker.check("Please text Elena Rossi that the budget review moved to Thursday!", GOOD_PLAN)
    assert near is not None and near.reason == "duplicate"
    other = "Text Elena Rossi: the budget review moved to Thursday."
    plan = GOOD_PLAN.replace("Thursday.", "Thursday")
    assert (await checker.check(other, plan)) is not None  # near-same words


@pytest.mark.anyio
async def test_a_sandbox_failure_names_the_task_and_the_error(checker: ExampleChecker) -> None:
    rejection = await checker.check(*BAD["sandbox"])
    assert rejection is not None
    assert "task 1 open_note failed" in rejection.detail and "Quantum Zebra Ledger" in rejection.detail


@pytest.mark.anyio
async def test_without_a_sandbox_the_run_is_skipped(mac_tools: Toolset) -> None:
    checker = ExampleChecker(mac_tools)
    assert await checker.check(*BAD["sandbox"]) is None


@pytest.mark.anyio
async def test_an_end_one_default_duration_after_the_start_is_implied(checker: ExampleChecker) -> None:
    plan = (
        '1. create_calendar_event("Design Critique", "2025-02-11 14:00:00", "2025-02-11 15:00:00", "", [], "", "")'
        "\n2. join()"
    )
    assert await checker.check("Put a design critique in my calendar on Feb 11 at 2pm.", plan) is None
    longer = plan.replace("15:00:00", "15:30:00")
    rejection = await checker.check("Put a design critique in my calendar on Feb 11 at 2pm.", longer)
    assert rejection is not None and rejection.reason == "unstated"
    assert await checker.check("Put a design critique in my calendar on Feb 11 from 2pm to 3:30pm.", longer) is None


@pytest.mark.anyio
async def test_option_values_need_their_words(checker: ExampleChecker) -> None:
    plan = '1. maps_show_directions("", "Crissy Field", "w")\n2. join()'
    missing = await checker.check("Show me directions to Crissy Field.", plan)
    assert missing is not None and missing.reason == "unstated" and "transport" in missing.detail
    assert await checker.check("Show me walking directions to Crissy Field.", plan) is None


@pytest.mark.parametrize(
    ("value", "request_text"),
    [
        ("2024-07-02 10:00:00", "on July 2 at 10am"),
        ("2024-07-02 10:00:00", "on 2nd of July at 10:00"),
        ("2024-07-02 10:00:00", "on 7/2 at 10 a.m."),
        ("2024-07-02 15:30:00", "Jul. 2nd, 3:30 pm"),
        ("2024-07-02 15:30:00", "2024-07-02 at half past 3 pm"),
        ("2024-07-02 12:00:00", "July 2 at noon"),
        ("2024-07-02", "on the 2nd of July"),
    ],
)
def test_dates_and_times_are_read_in_their_usual_forms(value: str, request_text: str) -> None:
    assert stated(value, "datetime", request_text)


@pytest.mark.parametrize(
    ("value", "kind", "request_text"),
    [
        ("2024-07-02 10:00:00", "datetime", "on July 2"),  # no time
        ("2024-07-02 10:00:00", "datetime", "on July 3 at 10am"),
        ("Maya Chen", "contact name", "email Maya"),
        (30, "duration", "a meeting of 3 hours"),
        ("+1 415 555 0147", "phone number", "text 415 555 0148"),
        ("maya@example.com", "email address", "email Maya"),
    ],
)
def test_values_the_request_does_not_state(value: object, kind: str, request_text: str) -> None:
    assert not stated(value, kind, request_text)


@pytest.mark.parametrize(
    ("value", "kind", "request_text"),
    [
        (30, "duration", "a half-hour call"),
        (90, "duration", "an hour and a half"),
        (120, "duration", "two hours"),
        (3, "int", "three of them"),
        ("+1 415 555 0147", "phone number", "text +1 (415) 555-0147"),
        ("The budget review moved to Thursday.", "message", "tell him the budget review is moved to thursday"),
        ("the Ferry Building", "place", "directions to the ferry building"),
    ],
)
def test_values_the_request_states(value: object, kind: str, request_text: str) -> None:
    assert stated(value, kind, request_text)


def test_asks_for_reads_the_tool_name(mac_tools: Toolset) -> None:
    assert asks_for("What is Sid's phone number?", mac_tools["get_phone_number"])
    assert asks_for("Summarize the lease agreement", mac_tools["summarize_pdf"])
    assert not asks_for("Text Sid that I'm late", mac_tools["get_email_address"])
