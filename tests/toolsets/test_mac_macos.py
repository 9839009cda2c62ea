"""The macOS driver on any platform: a recording runner captures the exact scripts and commands each tool runs.

Scripts are pinned by snapshot (syrupy); the injection tests check with a small AppleScript string-literal reader that
no input can change a script outside its string literals.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mac_helpers import RecordingRunner, call
from syrupy.assertion import SnapshotAssertion

from tinyplan import Toolset
from tinyplan.toolsets.mac import (
    AppleScriptError,
    AppleScriptValueError,
    CalendarEvent,
    CommandResult,
    ContactNotFoundError,
    EmailDraft,
    MacOSDriver,
    MacToolError,
    NoteNotFoundError,
    Reminder,
    SubprocessRunner,
    ToolFileNotFoundError,
    applescript_list,
    applescript_string,
    mac_toolset,
    sample_home_path,
)

pytestmark = pytest.mark.anyio

_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def read_literal(src: str, start: int = 0) -> tuple[str, int]:
    """Read one AppleScript string literal at ``start``: its value and the index after its closing quote.

    AppleScript's lexer: a literal opens with ``"``, ``\\`` escapes ``\\ " n r t``, and it closes at the first
    unescaped ``"``; every other character (line breaks included) is part of the text.
    """
    assert src[start] == '"', src[start:]
    out: list[str] = []
    i = start + 1
    while i < len(src):
        c = src[i]
        if c == "\\":
            nxt = src[i + 1]
            assert nxt in _UNESCAPE, f"unknown escape \\{nxt}"
            out.append(_UNESCAPE[nxt])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise AssertionError("unterminated string literal")


def split_script(src: str) -> tuple[str, list[str]]:
    """The script with every string literal replaced by ``"…"`` (its code), and the literals' values in order."""
    skeleton: list[str] = []
    literals: list[str] = []
    i = 0
    while i < len(src):
        if src[i] == '"':
            value, i = read_literal(src, i)
            literals.append(value)
            skeleton.append('"…"')
        else:
            skeleton.append(src[i])
            i += 1
    return "".join(skeleton), literals


no_nul_text = st.text(st.characters(exclude_characters="\x00"), max_size=40)
hostile = st.one_of(
    no_nul_text,
    st.sampled_from(
        [
            '" & (do shell script "rm -rf ~") & "',
            '\\" & quit & \\"',
            'x"\nend tell\ndo shell script "id"\n--',
            "\\",
            '"""',
            "line\r\nbreak\u2028sep\x0bvt\x1besc",
            "(* comment *) -- more",
        ]
    ),
)


# ------------------------------------------------------------------------------------------------- the literal
@given(no_nul_text)
def test_any_string_is_exactly_one_literal(text: str) -> None:
    literal = applescript_string(text)
    value, end = read_literal(literal)
    assert value == text
    assert end == len(literal)  # the whole literal is one token: nothing after its closing quote
    assert "\n" not in literal and "\r" not in literal  # the script's lines stay intact


@given(st.lists(no_nul_text, max_size=5))
def test_list_literal_round_trips(values: list[str]) -> None:
    literal = applescript_list(values)
    skeleton, literals = split_script(literal)
    assert literals == values
    assert skeleton == "{" + ", ".join(['"…"'] * len(values)) + "}"


def test_literal_examples_and_nul() -> None:
    assert applescript_string('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert applescript_string("a\nb\tc\rd") == '"a\\nb\\tc\\rd"'
    assert applescript_list([]) == "{}"
    with pytest.raises(AppleScriptValueError, match="NUL"):
        applescript_string("a\x00b")


# ---------------------------------------------------------------------------------------------------- runners
async def test_subprocess_runner_runs_and_reports_missing_programs() -> None:
    runner = SubprocessRunner(timeout=30)
    done = await runner([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); exit(3)"])
    assert done == CommandResult(3, "out\n", "err\n")
    with pytest.raises(AppleScriptError, match="cannot run tinyplan-no-such-program"):
        await runner(["tinyplan-no-such-program"])


async def test_osascript_failure_becomes_an_error() -> None:
    runner = RecordingRunner([CommandResult(1, "", "execution error: Not authorized to send Apple events (-1743)")])
    tools = mac_toolset(driver="macos", runner=runner)
    with pytest.raises(AppleScriptError, match=r"AppleScript failed \(exit 1\): execution error: Not authorized"):
        await call(tools, "get_phone_number", "Sid")


# ---------------------------------------------------------------------------------------- every tool's scripts
#: The folders the macOS tests' files live in: the Mac paths the fake Spotlight answers, and the sample home's PDFs.
ALLOWED = ["/Users/me", sample_home_path()]


def macos(replies: Any = ()) -> tuple[Toolset, RecordingRunner]:
    runner = RecordingRunner(replies)
    return mac_toolset(driver="macos", runner=runner, allow=ALLOWED), runner


async def test_contacts(snapshot: SnapshotAssertion) -> None:
    tools, runner = macos(["Lutfi Eren Erdogan\n+1 510 555 0102\n", "Sid Jha\nsid@example.com\n"])
    assert await call(tools, "get_phone_number", "Lutfi") == "+1 510 555 0102"
    assert await call(tools, "get_email_address", 'Sid "the boss"') == "sid@example.com"
    assert runner.scripts == snapshot
    assert 'every person whose name is "Sid \\"the boss\\""' in runner.scripts[1]
    assert 'first name contains "Sid"' in runner.scripts[1]


async def test_contacts_not_found_or_without_value() -> None:
    tools, _ = macos(["\n", "Priya Natarajan\n"])
    with pytest.raises(ContactNotFoundError, match="no contact matches 'Nobody'"):
        await call(tools, "get_phone_number", "Nobody")
    with pytest.raises(ContactNotFoundError, match="'Priya Natarajan' has no phone number"):
        await call(tools, "get_phone_number", "Priya")


async def test_calendar_event(snapshot: SnapshotAssertion) -> None:
    tools, runner = macos(["Sid Jha\nsid@example.com", "Work"])
    out = await call(
        tools, "create_calendar_event", "Sync", "2024-07-02 10:30:00", "", "Room 4", ["Sid", "a@b.org"], "n", "Work"
    )
    assert out == (
        "Created the event “Sync” in the calendar “Work”, inviting Sid Jha (sid@example.com) and a@b.org,"
        " on Tuesday 2024-07-02 from 10:30 to 11:30 at Room 4."
    )
    assert len(runner.scripts) == 2  # the contact lookup, then the event
    script = runner.scripts[1]
    assert script == snapshot
    assert "set startDate to makeDate(2024, 7, 2, 37800)" in script
    assert "set endDate to makeDate(2024, 7, 2, 41400)" in script
    assert 'make new attendee at end of attendees of theEvent with properties {email:"sid@example.com"}' in script


async def test_files(snapshot: SnapshotAssertion) -> None:
    hits = "/Users/me/Old/Apple Demo copy.pdf\n/Users/me/Docs/Apple Demo.pdf\n"
    tools, runner = macos([hits, ""])
    assert await call(tools, "open_and_get_file_path", "Apple Demo") == "/Users/me/Docs/Apple Demo.pdf"
    assert runner.calls == [["mdfind", "-name", "Apple Demo"], ["open", "/Users/me/Docs/Apple Demo.pdf"]]
    tools, runner = macos(["/Users/me/report-final-v2.pdf\n/Users/me/notes.txt\n", ""])
    assert await call(tools, "open_and_get_file_path", "report final") == "/Users/me/report-final-v2.pdf"
    tools, _ = macos([""])
    with pytest.raises(ToolFileNotFoundError, match="Spotlight found no file named like 'nothing'"):
        await call(tools, "open_and_get_file_path", "nothing")
    driver = MacOSDriver(RecordingRunner(["/x/a.txt"]), search_in="/Users/me", allow=["/x"])
    await driver.find_file("a")
    assert driver.runner.calls[0] == ["mdfind", "-onlyin", "/Users/me", "-name", "a"]  # type: ignore[attr-defined]


async def test_summarize_pdf_finds_the_file_with_spotlight() -> None:
    pdf = str(sample_home_path() / "Documents" / "Apple Demo.pdf")
    tools, runner = macos([pdf + "\n", ""])
    assert "runs a small language model" in await call(tools, "summarize_pdf", "Apple Demo")
    assert runner.calls == [["mdfind", "-name", "Apple Demo"], ["open", pdf]]
    tools, runner = macos()
    assert "runs a small language model" in await call(tools, "summarize_pdf", pdf)  # a path: no search
    assert runner.calls == []


async def test_compose_email(snapshot: SnapshotAssertion) -> None:
    pdf = str(sample_home_path() / "Documents" / "Quarterly Report.pdf")
    tools, runner = macos()
    out = await call(
        tools, "compose_new_email", ["sid@example.com"], ["m@x.org"], 'Q1 "final"', "Hi,\nsee attached", [pdf]
    )
    assert out == (
        'Drafted an email to sid@example.com, copying m@x.org, with the subject “Q1 "final"” and the attachment'
        " Quarterly Report.pdf (not sent; open in a new message window in Mail)."
    )
    (script,) = runner.scripts
    assert f'{{file name:(POSIX file "{pdf}")}}' in script
    assert script.replace(pdf, "<sample>/Quarterly Report.pdf") == snapshot  # the same on every machine
    assert 'content:"Hi,\\nsee attached"' in script
    assert "send" not in script.split()  # drafted, never sent


async def test_reply_and_forward(snapshot: SnapshotAssertion) -> None:
    tools, runner = macos(["From: Maya\nSubject: Offsite\n\nCan you come?", "ok"])
    out = await call(tools, "reply_to_email", ["cc@x.org"], "Yes, I will come.", [])
    assert out == (
        "Drafted a reply to Maya, copying cc@x.org, about “Offsite” (not sent; open in a reply window in Mail)."
    )
    tools, runner2 = macos(["ok"])
    out = await call(tools, "forward_email", ["jonas@example.de"], [], "", [])
    assert out == (
        "Drafted a forward to jonas@example.de of the selected email (not sent; open in a forward window in Mail)."
    )
    assert len(runner2.scripts) == 1  # no context: the thread is not read
    assert [*runner.scripts, *runner2.scripts] == snapshot
    tools, _ = macos([""])
    with pytest.raises(MacToolError, match="no email is selected in Mail"):
        await call(tools, "reply_to_email", [], "hi", [])


async def test_maps_open_urls() -> None:
    tools, runner = macos()
    await call(tools, "maps_open_location", "Apple Park")
    await call(tools, "maps_show_directions", "", "Apple Park", "r")
    assert runner.calls == [
        ["open", "https://maps.apple.com/?q=Apple+Park"],
        ["open", "https://maps.apple.com/?daddr=Apple+Park&dirflg=r"],
    ]


async def test_notes(snapshot: SnapshotAssertion) -> None:
    tools, runner = macos(["Notes"])
    assert await call(tools, "create_note", "Shopping <list>", "eggs & milk\nbread", "") == (
        "Created the note “Shopping <list>” in the folder “Notes”."
    )
    assert "<div><h1>Shopping &lt;list&gt;</h1></div><div>eggs &amp; milk</div><div>bread</div>" in runner.scripts[0]
    tools, runner2 = macos(["Groceries\nProject Ideas\n", "Notes\nGroceries\nbread\ntomatoes"])
    assert await call(tools, "open_note", "grocery", "") == "bread\ntomatoes"
    tools, runner3 = macos(["Groceries\nProject Ideas", "Groceries"])
    assert await call(tools, "append_note_content", "Project Idea", "new idea", "Work") == (
        "Added “new idea” to the note “Groceries”."  # the name the fake Notes answered
    )
    assert 'first note whose name is "Project Ideas"' in runner3.scripts[1]
    assert [*runner.scripts, *runner2.scripts, *runner3.scripts] == snapshot
    tools, _ = macos(["Groceries"])
    with pytest.raises(NoteNotFoundError, match="no note named like 'Quantum'"):
        await call(tools, "open_note", "Quantum", "")


async def test_reminders(snapshot: SnapshotAssertion) -> None:
    tools, runner = macos(["Reminders", "Home", "Reminders"])
    assert await call(tools, "create_reminder", "Call the dentist", "2024-06-03 09:00:00", "", "", 1, False) == (
        "Created the reminder “Call the dentist” in the list “Reminders”, due Monday 2024-06-03 at 09:00,"
        " with high priority."
    )
    await call(tools, "create_reminder", "Pay rent", "2024-07-01", "", "Home", 0, True)
    await call(tools, "create_reminder", "Someday", "", "", "", 0, False)
    assert runner.scripts == snapshot
    assert "set due date of newReminder to dueDate" in runner.scripts[0]
    assert "set allday due date of newReminder to dueDate" in runner.scripts[1]
    assert "makeDate" not in runner.scripts[2]


async def test_sms(snapshot: SnapshotAssertion) -> None:
    tools, runner = macos(["Lutfi Eren Erdogan\n+1 510 555 0102"])
    out = await call(tools, "send_sms", ["Lutfi", "+1 555 0000"], 'Running late!\nSay "hi"')
    assert out == (
        'Drafted a text to Lutfi Eren Erdogan (+1 510 555 0102) and +1 555 0000: “Running late! Say "hi"”'
        " (not sent; open in a new conversation in Messages)."
    )
    script = runner.scripts[1]
    assert script == snapshot
    assert 'set the clipboard to "Running late!\\nSay \\"hi\\""' in script  # pasted: a typed return would send


async def test_observations_name_contacts_looked_up_earlier() -> None:
    tools, runner = macos(["Sid Jha\n+1 510 555 0101"])
    number = await call(tools, "get_phone_number", "Sid")
    out = await call(tools, "send_sms", [number, "+1 555 0000"], "hi")
    assert out == (
        "Drafted a text to Sid Jha (+1 510 555 0101) and +1 555 0000: “hi”"
        " (not sent; open in a new conversation in Messages)."
    )
    assert len(runner.scripts) == 2  # the lookup and the draft: no reverse lookup script on macOS


# ----------------------------------------------------------------------------------------------------- injection
def scripts_for(value: str) -> list[str]:
    """Run driver methods with ``value`` in every text field; return the scripts they produced."""
    runner = RecordingRunner(lambda argv: "Some Name\nsome value")
    driver = MacOSDriver(runner, allow=["/"])  # every attachment path allowed: this test is about the scripts
    try:
        attachment = os.fsdecode(os.fsencode("/tmp/" + value))
    except UnicodeError:  # a lone surrogate names no file: the sandbox refuses it before any script
        attachment = "/tmp/x"

    async def go() -> None:
        await driver.phone_number(value)
        await driver.email_address(value)
        await driver.create_event(
            CalendarEvent(
                title=value,
                start=__import__("datetime").datetime(2024, 1, 2, 3, 4, 5),
                end=__import__("datetime").datetime(2024, 1, 2, 4, 4, 5),
                location=value,
                invitees=(value + "@x",),
                notes=value,
                calendar=value,
            )
        )
        await driver.compose_email(EmailDraft((value,), (value,), value, value, (attachment,)))
        await driver.reply_email((value,), value, ())
        await driver.forward_email((value,), (), value, ())
        await driver.create_note(value, value, value)
        await driver.create_reminder(Reminder(value, None, value, value, 5))
        await driver.draft_sms((value,), value)

    anyio.run(go)
    return runner.scripts


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(hostile)
def test_no_input_changes_a_script_outside_its_literals(value: str) -> None:
    benign = scripts_for("x" if value else "")  # an empty body leaves out its line, by design
    tested = scripts_for(value)
    assert len(tested) == len(benign)
    for i, (got, base) in enumerate(zip(tested, benign, strict=True)):
        got_code, got_literals = split_script(got)
        base_code, base_literals = split_script(base)
        assert got_code == base_code
        if i in (2, 3, 7) and value:  # calendar, mail, reminders: values are placed verbatim
            placed = [g for g, b in zip(got_literals, base_literals, strict=True) if b == "x"]
            assert placed and all(v == value for v in placed)


@given(hostile)
def test_note_lookup_names_are_escaped(value: str) -> None:
    runner = RecordingRunner([value.replace("\n", " ") or "n", "Notes\nbody"])
    driver = MacOSDriver(runner)
    try:
        anyio.run(driver.read_note, value, value)
    except NoteNotFoundError:
        return
    for script in runner.scripts:
        split_script(script)  # every literal reads back, the script ends outside a literal


def test_nul_never_reaches_osascript() -> None:
    runner = RecordingRunner()
    with pytest.raises(AppleScriptValueError):
        anyio.run(MacOSDriver(runner).phone_number, "a\x00b")
    assert runner.calls == []


def test_paths_exist_for_sample_files() -> None:
    assert Path(sample_home_path() / "Documents" / "Apple Demo.pdf").is_file()
