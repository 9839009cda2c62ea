"""The Mac toolset as a whole: a TinyAgent plan streamed, parsed and run; guidance; configuration; sub-agents."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import icalendar
import pytest

from tinyplan import (
    CompletionRequest,
    PlanParser,
    ScriptedBackend,
    Task,
    TaskFetchingUnit,
    TaskState,
    Toolset,
    ToolsetError,
    get_tool,
    parse_plan,
)
from tinyplan.toolsets import mac_toolset as reexported
from tinyplan.toolsets.mac import (
    MAC_EXAMPLES,
    MAC_TOOL_NAMES,
    SIDE_EFFECT_TOOLS,
    MacOSDriver,
    MacToolError,
    MacTools,
    PortableDriver,
    copy_sample_home,
    default_home,
    mac_examples,
    mac_instructions,
    mac_tools,
    mac_toolset,
    sample_home_path,
    select_driver,
    trim_to_budget,
)
from tinyplan.toolsets.mac import _phrases as say

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mac_assistant.py"

PLAN = """\
Thought: I need Sid's email address for the invite and Lutfi's number for the text.
1. get_email_address("Sid")
2. get_phone_number("Lutfi")
3. create_calendar_event("Sync", "2024-06-04 10:00:00", "", "", ["$1"], "", "")
4. send_sms(["$2"], "Sync with Sid is on June 4 at 10am.")
5. join()<END_OF_PLAN>
"""


async def run_plan(tools: Toolset, plan: str) -> dict[int, object]:
    backend = ScriptedBackend([plan], chunk_size=7)

    async def tasks() -> AsyncIterator[Task]:
        parser = PlanParser(tools)
        async for chunk in backend.stream(CompletionRequest(prompt="Set up a sync with Sid; text Lutfi.")):
            for task in parser.feed(chunk.text):
                yield task
        for task in parser.close():
            yield task

    return dict(await TaskFetchingUnit(tools).run(tasks()))


async def test_tinyagent_plan_makes_a_real_event_and_sms_draft(tmp_path: Path) -> None:
    home = copy_sample_home(tmp_path / "home")
    tools = mac_toolset(home, driver="portable")
    results = await run_plan(tools, PLAN)
    assert [r.state for r in results.values()] == [TaskState.SUCCEEDED] * 5  # type: ignore[attr-defined]
    assert results[1].observation == "sid.jha@example.com"  # type: ignore[attr-defined]
    assert results[2].observation == "+1 510 555 0102"  # type: ignore[attr-defined]

    calendar = icalendar.Calendar.from_ical((home / "calendar" / "Calendar.ics").read_bytes())
    (event,) = calendar.walk("VEVENT")
    assert event["summary"] == "Sync"
    assert str(event["attendee"]) == "mailto:sid.jha@example.com"
    assert event.decoded("dtend") - event.decoded("dtstart") == __import__("datetime").timedelta(hours=1)

    (draft,) = sorted((home / "messages" / "outbox").glob("*.json"))
    data = json.loads(draft.read_text(encoding="utf-8"))
    assert data["to"] == ["+1 510 555 0102"]
    assert data["message"] == "Sync with Sid is on June 4 at 10am."


async def test_a_failing_tool_is_an_error_observation_and_dependents_skip(home: Path) -> None:
    tools = mac_toolset(home, driver="portable")
    plan = '1. get_phone_number("Nobody")\n2. send_sms(["$1"], "hi")\n3. join()'
    results = await run_plan(tools, plan)
    first, second = results[1], results[2]
    assert first.state is TaskState.FAILED  # type: ignore[attr-defined]
    assert first.error == "ContactNotFoundError: no contact matches 'Nobody'"  # type: ignore[attr-defined]
    assert second.state is TaskState.SKIPPED  # type: ignore[attr-defined]
    assert not (home / "messages").exists()


async def test_parallel_writes_to_one_calendar_are_all_kept(home: Path) -> None:
    tools = mac_toolset(home, driver="portable")
    lines = [f'{i}. create_calendar_event("E{i}", "2024-06-0{i} 10:00:00", "", "", [], "", "")' for i in range(1, 7)]
    results = await run_plan(tools, "\n".join([*lines, "7. join()"]))
    assert all(r.state is TaskState.SUCCEEDED for r in results.values())  # type: ignore[attr-defined]
    calendar = icalendar.Calendar.from_ical((home / "calendar" / "Calendar.ics").read_bytes())
    assert sorted(str(e["summary"]) for e in calendar.walk("VEVENT")) == [f"E{i}" for i in range(1, 7)]


def test_example_script_runs() -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "Observation: sid.jha@example.com" in lines
    assert "Observation: +1 510 555 0102" in lines
    assert "calendar Sync at 2024-06-04 10:00, attendees: mailto:sid.jha@example.com" in lines
    assert "sms to +1 510 555 0102: Hi Lutfi, I set up a sync with Sid tomorrow at 10am." in lines
    assert (
        "Observation: Created the event “Sync”, inviting Sid Jha (sid.jha@example.com), on Tuesday 2024-06-04"
        " from 10:00 to 10:30 (saved in calendar/Calendar.ics)." in lines
    )
    sms = "Observation: Drafted a text to Lutfi Eren Erdogan (+1 510 555 0102): “Hi Lutfi, I set up a sync with Sid"
    assert [ln.startswith(sms) and ln.endswith("-sms.json).") for ln in lines].count(True) == 1


# --------------------------------------------------------------------------------------------------- the toolset
def test_names_order_types_and_side_effects(tools: Toolset) -> None:
    assert tools.names == list(MAC_TOOL_NAMES) and len(tools) == 16
    assert {t.name for t in tools if t.side_effects} == SIDE_EFFECT_TOOLS
    assert {"create_calendar_event", "create_note", "create_reminder", "compose_new_email", "send_sms"} <= (
        SIDE_EFFECT_TOOLS
    )
    assert not tools["get_phone_number"].side_effects and not tools["open_note"].side_effects
    event = tools["create_calendar_event"].json_schema()["properties"]
    assert event["invitees"]["type"] == "array"
    assert event["invitees"]["items"] == {"type": "string", "format": "email", "x-semantic": "email address"}
    assert event["start_date"]["type"] == "string"
    reminder = tools["create_reminder"].json_schema()["properties"]
    assert reminder["priority"]["type"] == "integer" and reminder["all_day"]["type"] == "boolean"
    assert tools["get_zoom_meeting_link"].json_schema()["properties"]["duration"]["type"] == "integer"
    assert tools["send_sms"].signature() == "send_sms(recipients: list[str], message: str) -> str"
    assert [p.name for p in tools["create_calendar_event"].parameters] == [
        "title",
        "start_date",
        "end_date",
        "location",
        "invitees",
        "notes",
        "calendar",
    ]
    assert (
        tools["get_phone_number"].description
        == "Search for a contact by name.\nReturns the phone number of the contact."
    )
    assert reexported is mac_toolset


def test_the_tools_are_the_tool_methods_of_mac_tools(home: Path) -> None:
    assert {
        "create_calendar_event",
        "compose_new_email",
        "reply_to_email",
        "forward_email",
        "create_note",
        "append_note_content",
        "create_reminder",
        "send_sms",
        "get_zoom_meeting_link",
    } == SIDE_EFFECT_TOOLS
    driver = PortableDriver(home)
    methods = MacTools(driver)
    built = methods.tools()
    assert [t.name for t in built] == list(MAC_TOOL_NAMES) == [t.name for t in mac_tools(driver)]
    for t in built:
        declared = get_tool(getattr(MacTools, t.name))  # the @tool declaration on the class
        assert t.function == getattr(methods, t.name) and t.function.__self__ is methods
        assert (t.signature(semantic=True), t.description, t.json_schema(), t.side_effects) == (
            declared.signature(semantic=True),
            declared.description,
            declared.json_schema(),
            declared.side_effects,
        )
        assert declared.side_effects == (t.name in SIDE_EFFECT_TOOLS)
    assert methods.driver is driver and mac_tools(driver)[0].function.__self__ is not methods  # one state per build


def test_every_example_parses_with_the_toolset(tools: Toolset) -> None:
    assert 12 <= len(MAC_EXAMPLES) <= 20
    assert tools.examples == [text for _, text in MAC_EXAMPLES]
    for used, text in MAC_EXAMPLES:
        question, plan = text.split("\n", 1)
        assert question.startswith("Question: ")
        tasks = parse_plan(plan, tools)
        assert tasks[-1].is_join
        assert {t.name for t in tasks if not t.is_join} == used  # the declared tools are the ones used
    used_anywhere = set().union(*(u for u, _ in MAC_EXAMPLES))
    assert used_anywhere == set(MAC_TOOL_NAMES)  # every tool has an example


def test_instructions_follow_the_tools_offered() -> None:
    sms = mac_instructions(["get_phone_number", "send_sms"])
    assert any(r.startswith("Before sending an SMS, you MUST use the get_phone_number tool") for r in sms)
    assert not any("get_email_address" in r for r in sms)
    assert not any("get_phone_number tool" in r for r in mac_instructions(["send_sms"]))  # no lookup tool offered
    assert mac_instructions(["maps_open_location"]) == []
    email = mac_instructions(["get_email_address", "compose_new_email"])
    assert any("MUST use the get_email_address tool" in r for r in email)
    assert mac_examples(["maps_show_directions"]) == [MAC_EXAMPLES[2][1]]
    tools = mac_toolset(driver="macos", tools=["get_phone_number", "send_sms"])
    assert tools.names == ["get_phone_number", "send_sms"]
    assert tools.instructions == sms
    assert len(tools.examples) == 2
    for example in tools.examples:
        assert parse_plan(example.split("\n", 1)[1], tools)[-1].is_join


def test_driver_selection(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert isinstance(select_driver("auto", home=home), MacOSDriver)
    monkeypatch.setattr(sys, "platform", "linux")
    driver = select_driver("auto", home=home)
    assert isinstance(driver, PortableDriver) and driver.home == home
    assert isinstance(select_driver("macos"), MacOSDriver)
    custom = PortableDriver(home)
    assert select_driver(custom) is custom
    with pytest.raises(ToolsetError, match="unknown driver 'windows'"):
        mac_toolset(home, driver="windows")  # type: ignore[arg-type]
    with pytest.raises(ToolsetError, match=r"unknown Mac tool\(s\) \['send_email'\]"):
        mac_toolset(home, tools=["send_email"])
    with pytest.raises(MacToolError, match="does not exist"):
        mac_toolset(home / "missing", driver="portable")


def test_default_home_is_made_from_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINYPLAN_MAC_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    made = default_home()
    assert made == (tmp_path / "data" / "tinyplan" / "home").resolve()
    assert (made / "contacts" / "contacts.vcf").read_bytes() == (
        sample_home_path() / "contacts" / "contacts.vcf"
    ).read_bytes()
    (made / "notes" / "Notes" / "Mine.md").write_text("# Mine\n", encoding="utf-8")
    assert default_home() == made and (made / "notes" / "Notes" / "Mine.md").exists()  # never re-copied
    monkeypatch.setenv("TINYPLAN_MAC_HOME", str(tmp_path / "custom"))
    tools = mac_toolset(driver="portable")
    assert (tmp_path / "custom" / "contacts" / "contacts.vcf").exists() and len(tools) == 16


def test_copy_sample_home_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep", encoding="utf-8")
    with pytest.raises(MacToolError, match="not overwriting"):
        copy_sample_home(tmp_path / "full")
    assert (tmp_path / "full" / "x").read_text(encoding="utf-8") == "keep"
    (tmp_path / "empty").mkdir()
    assert (copy_sample_home(tmp_path / "empty") / "Documents" / "Apple Demo.pdf").is_file()


# ----------------------------------------------------------------------------------------------------- sub-agents
def test_trim_to_budget() -> None:
    text = "word " * 100
    assert trim_to_budget("short", 10) == "short"
    cut = trim_to_budget(text, 42)
    assert len(cut) <= 42 and cut.endswith("word") and text.startswith(cut)
    by_words = trim_to_budget(text, 7, count=lambda s: len(s.split()))
    assert by_words == " ".join(["word"] * 7)
    with pytest.raises(MacToolError, match="budget must be positive"):
        trim_to_budget(text, 0)


async def test_note_subagent_writes_the_note(home: Path) -> None:
    backend = ScriptedBackend(["- passport\n- charger\n\n\n\n- sunscreen"])
    tools = mac_toolset(home, driver="portable", subagent=backend)
    await tools["create_note"].call({"name": "Packing", "content": "passport charger sunscreen", "folder": ""})
    text = (home / "notes" / "Notes" / "Packing.md").read_text(encoding="utf-8")
    assert text == "# Packing\n\n- passport\n- charger\n\n- sunscreen\n"  # runs of blank lines squeezed
    (request,) = backend.requests
    assert request.messages is not None and "Title: Packing" in request.messages[1].content


async def test_subagent_failure_is_a_backend_error_and_writes_nothing(home: Path) -> None:
    from tinyplan import BackendError

    backend = ScriptedBackend([BackendError("model crashed")])
    tools = mac_toolset(home, driver="portable", subagent=backend)
    with pytest.raises(BackendError, match="model crashed"):
        await tools["compose_new_email"].call(
            {"recipients": ["Sid"], "cc": [], "subject": "S", "context": "C", "attachments": []}
        )
    assert not (home / "mail" / "drafts").exists()


# --------------------------------------------------------------------------------------------------- observations
def test_phrases() -> None:
    assert say.listing([]) == "" and say.listing(["a"]) == "a" and say.listing(["a", "b"]) == "a and b"
    assert say.listing(["a", "b", "c"]) == "a, b and c"
    assert say.quoted("Running late!\n  Sorry.") == "\u201cRunning late! Sorry.\u201d"
    assert say.quoted("x" * 300) == "\u201c" + "x" * 99 + "\u2026\u201d"
    assert say.person("+1 555 0101", "Sid Jha") == "Sid Jha (+1 555 0101)"
    assert say.person("+1 555 0101", None) == "+1 555 0101"
    start = dt.datetime(2024, 7, 2, 22, 0)
    assert say.span(start, start + dt.timedelta(hours=1)) == "on Tuesday 2024-07-02 from 22:00 to 23:00"
    assert (
        say.span(start, start + dt.timedelta(hours=3)) == "from Tuesday 2024-07-02 22:00 to Wednesday 2024-07-03 01:00"
    )
    assert say.due_phrase(dt.date(2024, 7, 1)) == "due all day on Monday 2024-07-01"
    assert say.due_phrase(None) == "with no due date"
    assert [say.priority_word(p) for p in (0, 1, 4, 5, 6, 9)] == ["", "high", "high", "medium", "low", "low"]
    assert say.attachments_phrase(["/h/a.pdf", "/h/b c.txt"]) == "the attachments a.pdf and b c.txt"
    thread = "From: Maya Chen <maya@example.com>\nSubject: Offsite: June\n\nFrom: not a header"
    assert say.thread_headers(thread) == ("Maya Chen", "maya@example.com", "Offsite: June")
    assert say.thread_headers("") == ("", "", "")


async def test_observations_name_the_people_behind_numbers_and_addresses(tools: Toolset, home: Path) -> None:
    # numbers and addresses given as they are (e.g. "$1" resolved) are looked up in the contacts, by digits
    out = await tools["send_sms"].call(
        {"recipients": ["+1 510 555 0101", "5105550102", "+1 555 0000"], "message": "hi"}
    )
    (draft,) = sorted((home / "messages" / "outbox").glob("*.json"))
    assert out == (
        "Drafted a text to Sid Jha (+1 510 555 0101), Lutfi Eren Erdogan (5105550102) and +1 555 0000: \u201chi\u201d"
        f" (not sent; saved as messages/outbox/{draft.name})."
    )
    out = await tools["compose_new_email"].call(
        {"recipients": ["SID.JHA@example.com"], "cc": [], "subject": "", "context": "hi", "attachments": []}
    )
    assert out.startswith("Drafted an email to Sid Jha (SID.JHA@example.com) with no subject (not sent; saved as ")
