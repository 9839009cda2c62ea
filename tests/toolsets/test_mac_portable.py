"""Every Mac tool with the portable driver: files really written, then read back with the format's library."""

from __future__ import annotations

import datetime as dt
import email.policy
import json
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import icalendar
import pytest
from mac_helpers import call

from tinyplan import ScriptedBackend, Toolset
from tinyplan.toolsets.mac import (
    ContactNotFoundError,
    DateFormatError,
    MacToolError,
    NoteNotFoundError,
    ToolFileNotFoundError,
    ToolInputError,
    mac_toolset,
)
from tinyplan.toolsets.mac.contacts import Contact, match_contact

pytestmark = pytest.mark.anyio


def read_eml(path: Path) -> EmailMessage:
    with path.open("rb") as fh:
        msg = BytesParser(policy=email.policy.default).parse(fh)
    assert isinstance(msg, EmailMessage)
    return msg


def only(paths: list[Path]) -> Path:
    assert len(paths) == 1, paths
    return paths[0]


def components(path: Path, kind: str) -> list[Any]:
    return list(icalendar.Calendar.from_ical(path.read_bytes()).walk(kind))


def attendees(event: Any) -> list[str]:
    found = event.get("attendee")
    found = found if isinstance(found, list) else [found] if found is not None else []
    return [str(a) for a in found]


# ------------------------------------------------------------------------------------------------------- contacts
async def test_contact_lookup_by_first_name_full_name_and_accents(tools: Toolset) -> None:
    assert await call(tools, "get_phone_number", "Lutfi") == "+1 510 555 0102"
    assert await call(tools, "get_phone_number", "Lütfi Erdoğan") == "+1 510 555 0102"
    assert await call(tools, "get_email_address", "sid") == "sid.jha@example.com"
    assert await call(tools, "get_email_address", "Maya Chen") == "maya.chen@example.com"  # the first of two
    assert await call(tools, "get_email_address", "Amir Gholamy") == "amir@example.org"  # close spelling


async def test_contact_lookup_failures_say_why(tools: Toolset) -> None:
    with pytest.raises(ContactNotFoundError, match="no contact matches 'Nobody'"):
        await call(tools, "get_phone_number", "Nobody")
    with pytest.raises(ContactNotFoundError, match="'Priya Natarajan' has no phone number"):
        await call(tools, "get_phone_number", "Priya")


def test_match_contact_ambiguity_and_prefixes() -> None:
    people = [Contact("Sid Jha"), Contact("Sidney Ford"), Contact("Ana Sid Lopez")]
    with pytest.raises(ContactNotFoundError, match="several contacts match 'Sid': Sid Jha, Ana Sid Lopez"):
        match_contact("Sid", people)
    assert match_contact("Sidn", people).name == "Sidney Ford"
    assert match_contact("sid jha", people).name == "Sid Jha"
    with pytest.raises(ContactNotFoundError, match="empty name"):
        match_contact("  ", people)


async def test_contacts_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    tools = mac_toolset(tmp_path, driver="portable")
    with pytest.raises(ContactNotFoundError, match="no contacts: put vCard files in"):
        await call(tools, "get_email_address", "Sid")


# ------------------------------------------------------------------------------------------------------- calendar
async def test_calendar_event_written_as_icalendar(tools: Toolset, home: Path) -> None:
    out = await call(
        tools,
        "create_calendar_event",
        "Design Review",
        "2024-07-02 10:00:00",
        "",
        "Room 405",
        ["Sid", "jonas.weber@example.de"],
        "Bring the mockups",
        None,
    )
    path = home / "calendar" / "Calendar.ics"
    assert out == (
        "Created the event “Design Review”, inviting Sid Jha (sid.jha@example.com) and Jonas Weber"
        " (jonas.weber@example.de), on Tuesday 2024-07-02 from 10:00 to 11:00 at Room 405"
        " (saved in calendar/Calendar.ics)."
    )
    (event,) = components(path, "VEVENT")
    assert event["summary"] == "Design Review"
    assert event.decoded("dtstart") == dt.datetime(2024, 7, 2, 10, 0)
    assert event.decoded("dtend") == dt.datetime(2024, 7, 2, 11, 0)  # missing end: start + 1 hour
    assert event["location"] == "Room 405"
    assert event["description"] == "Bring the mockups"
    assert attendees(event) == ["mailto:sid.jha@example.com", "mailto:jonas.weber@example.de"]


async def test_calendar_named_calendar_and_appending(tools: Toolset, home: Path) -> None:
    await call(tools, "create_calendar_event", "A", "2024-07-02 10:00:00", "2024-07-02 10:30:00", "", [], "", "Work")
    await call(tools, "create_calendar_event", "B", "2024-07-03T09:00", "", None, [], None, "Work")
    events = components(home / "calendar" / "Work.ics", "VEVENT")
    assert [str(e["summary"]) for e in events] == ["A", "B"]
    assert events[0].decoded("dtend") == dt.datetime(2024, 7, 2, 10, 30)
    assert "location" not in events[1] and not attendees(events[1])
    assert len({str(e["uid"]) for e in events}) == 2


async def test_calendar_date_errors(tools: Toolset, home: Path) -> None:
    with pytest.raises(DateFormatError, match="start_date 'next Friday' is not a date: use ISO format"):
        await call(tools, "create_calendar_event", "X", "next Friday", "", "", [], "", "")
    with pytest.raises(DateFormatError, match="is before start_date"):
        await call(tools, "create_calendar_event", "X", "2024-07-02 10:00:00", "2024-07-02 09:00:00", "", [], "", "")
    with pytest.raises(DateFormatError, match="start_date is required"):
        await call(tools, "create_calendar_event", "X", "", "", "", [], "", "")
    with pytest.raises(ContactNotFoundError):
        await call(tools, "create_calendar_event", "X", "2024-07-02 10:00:00", "", "", ["Nobody"], "", "")
    assert not (home / "calendar").exists()  # nothing half-written


async def test_missing_start_is_end_minus_one_hour(tools: Toolset, home: Path) -> None:
    await call(tools, "create_calendar_event", "X", "", "2024-07-02 10:00:00", "", [], "", "")
    (event,) = components(home / "calendar" / "Calendar.ics", "VEVENT")
    assert event.decoded("dtstart") == dt.datetime(2024, 7, 2, 9, 0)


# ---------------------------------------------------------------------------------------------------------- files
async def test_open_and_get_file_path(tools: Toolset, home: Path) -> None:
    assert await call(tools, "open_and_get_file_path", "Apple Demo") == str(home / "Documents" / "Apple Demo.pdf")
    assert await call(tools, "open_and_get_file_path", "apple demo.pdf") == str(home / "Documents" / "Apple Demo.pdf")
    assert await call(tools, "open_and_get_file_path", "packing") == str(home / "Documents" / "packing-list.txt")
    assert await call(tools, "open_and_get_file_path", "Quartely Reprot") == str(
        home / "Documents" / "Quarterly Report.pdf"
    )
    assert await call(tools, "open_and_get_file_path", "Documents/trip-itinerary.txt") == str(
        home / "Documents" / "trip-itinerary.txt"
    )
    with pytest.raises(ToolFileNotFoundError, match="no file named like 'zzzz-qqqq'"):
        await call(tools, "open_and_get_file_path", "zzzz-qqqq")


async def test_summarize_pdf_without_subagent_returns_the_text(tools: Toolset, home: Path) -> None:
    path = str(home / "Documents" / "Quarterly Report.pdf")
    text = await call(tools, "summarize_pdf", path)
    assert "Revenue grew 12 percent" in text and "Outlook" in text  # both pages
    assert "runs a small language model" in await call(tools, "summarize_pdf", "Apple Demo")  # a name is searched


async def test_summarize_pdf_with_subagent_and_budget(home: Path) -> None:
    backend = ScriptedBackend(["The report shows 12% growth and plans for Berlin."])
    tools = mac_toolset(home, driver="portable", subagent=backend, context_budget=60)
    out = await call(tools, "summarize_pdf", str(home / "Documents" / "Quarterly Report.pdf"))
    assert out == "The report shows 12% growth and plans for Berlin."
    (request,) = backend.requests
    assert request.messages is not None and request.messages[0].role == "system"
    user = request.messages[1].content
    assert "Quarterly Report, Q1 2024" in user
    assert "Outlook" not in user  # cut to the 60-character budget
    document = user.split("Document:\n", 1)[1].split("\nSummary:", 1)[0]
    assert len(document) <= 60


async def test_summarize_pdf_rejects_non_pdf(tools: Toolset, home: Path) -> None:
    with pytest.raises(ToolInputError, match=r"packing-list\.txt is not a readable PDF"):
        await call(tools, "summarize_pdf", str(home / "Documents" / "packing-list.txt"))


# ----------------------------------------------------------------------------------------------------------- mail
async def test_compose_new_email_writes_an_eml_draft(tools: Toolset, home: Path) -> None:
    out = await call(
        tools,
        "compose_new_email",
        ["Sid"],
        ["maya.chen@example.com"],
        "Quarterly Report",
        "Please find the quarterly report attached.",
        ["Quarterly Report"],
    )
    draft = only(sorted((home / "mail" / "drafts").glob("*.eml")))
    assert out == (
        "Drafted an email to Sid Jha (sid.jha@example.com), copying Maya Chen (maya.chen@example.com), with the"
        " subject “Quarterly Report” and the attachment Quarterly Report.pdf"
        f" (not sent; saved as mail/drafts/{draft.name})."
    )
    msg = read_eml(draft)
    assert msg["To"] == "sid.jha@example.com"
    assert msg["Cc"] == "maya.chen@example.com"
    assert msg["Subject"] == "Quarterly Report"
    assert msg["X-Unsent"] == "1"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "Please find the quarterly report attached."
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "Quarterly Report.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == (home / "Documents" / "Quarterly Report.pdf").read_bytes()


async def test_compose_with_subagent_writes_the_body(home: Path) -> None:
    backend = ScriptedBackend(["Hi Amir,\n\nThe meeting is postponed to next week.\n\nBest regards"])
    tools = mac_toolset(home, driver="portable", subagent=backend)
    await call(tools, "compose_new_email", ["Amir"], [], "Meeting Postponed", "meeting postponed to next week", [])
    msg = read_eml(only(sorted((home / "mail" / "drafts").glob("*.eml"))))
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().startswith("Hi Amir,\n\nThe meeting is postponed")
    (request,) = backend.requests
    assert request.messages is not None and "meeting postponed to next week" in request.messages[1].content
    assert "MUST NOT include a subject" in request.messages[0].content


async def test_compose_errors(tools: Toolset, home: Path) -> None:
    with pytest.raises(ToolInputError, match="at least one recipient"):
        await call(tools, "compose_new_email", [""], [], "S", "C", [])
    with pytest.raises(ToolFileNotFoundError):
        await call(tools, "compose_new_email", ["Sid"], [], "S", "C", ["no-such-file-xyzzy-qq"])
    with pytest.raises(ContactNotFoundError):
        await call(tools, "compose_new_email", ["Nobody"], [], "S", "C", [])
    assert not (home / "mail" / "drafts").exists()


async def test_reply_to_the_newest_inbox_message(tools: Toolset, home: Path) -> None:
    out = await call(tools, "reply_to_email", ["Sid"], "Thanks, I will attend the offsite.", [])
    draft = only(sorted((home / "mail" / "drafts").glob("*.eml")))
    assert out == (
        "Drafted a reply to Maya Chen (maya.chen@example.com), copying Sid Jha (sid.jha@example.com), about"
        f" “Team offsite on June 7” (not sent; saved as mail/drafts/{draft.name})."
    )
    msg = read_eml(draft)
    assert msg["To"] == "Maya Chen <maya.chen@example.com>"
    assert msg["Cc"] == "sid.jha@example.com"
    assert msg["Subject"] == "Re: Team offsite on June 7"
    assert msg["In-Reply-To"] == "<offsite-2024@example.com>"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("Thanks, I will attend the offsite.")
    assert "> We are planning the team offsite for Friday, June 7" in text


async def test_reply_with_subagent_sees_the_thread(home: Path) -> None:
    backend = ScriptedBackend(["Hi Maya, count me in! Best"])
    tools = mac_toolset(home, driver="portable", subagent=backend)
    await call(tools, "reply_to_email", [], "say yes", [])
    (request,) = backend.requests
    assert request.messages is not None
    assert "Email Thread:" in request.messages[1].content and "Berkeley Marina" in request.messages[1].content


async def test_forward_attaches_the_original(tools: Toolset, home: Path) -> None:
    out = await call(tools, "forward_email", ["Jonas"], [], "FYI", [])
    draft = only(sorted((home / "mail" / "drafts").glob("*.eml")))
    assert out == (
        "Drafted a forward to Jonas Weber (jonas.weber@example.de) of the email “Team offsite on June 7”"
        f" from Maya Chen (not sent; saved as mail/drafts/{draft.name})."
    )
    msg = read_eml(draft)
    assert msg["To"] == "jonas.weber@example.de"
    assert msg["Subject"] == "Fwd: Team offsite on June 7"
    (forwarded,) = [p for p in msg.iter_attachments() if p.get_content_type() == "message/rfc822"]
    original = forwarded.get_content()
    assert original["Subject"] == "Team offsite on June 7"


async def test_reply_without_inbox_is_a_clear_error(tmp_path: Path) -> None:
    tools = mac_toolset(tmp_path, driver="portable")
    with pytest.raises(MacToolError, match="no email is selected"):
        await call(tools, "reply_to_email", [], "hi", [])


# ----------------------------------------------------------------------------------------------------------- maps
async def test_maps_urls(tools: Toolset) -> None:
    assert await call(tools, "maps_open_location", "Apple Park, Cupertino") == (
        "Location of Apple Park, Cupertino in Apple Maps: https://maps.apple.com/?q=Apple+Park%2C+Cupertino"
    )
    assert await call(tools, "maps_show_directions", "", "Apple Park", "d") == (
        "Directions to Apple Park in Apple Maps: https://maps.apple.com/?daddr=Apple+Park&dirflg=d"
    )
    assert await call(tools, "maps_show_directions", "Berkeley & Oakland", "SFO", "walking") == (
        "Directions to SFO in Apple Maps: https://maps.apple.com/?saddr=Berkeley+%26+Oakland&daddr=SFO&dirflg=w"
    )
    with pytest.raises(ToolInputError, match="unknown transport 'bike'"):
        await call(tools, "maps_show_directions", "", "SFO", "bike")
    with pytest.raises(ToolInputError, match="needs an end_location"):
        await call(tools, "maps_show_directions", "SFO", " ", "d")


# ---------------------------------------------------------------------------------------------------------- notes
async def test_notes_create_open_append(tools: Toolset, home: Path) -> None:
    out = await call(tools, "create_note", "Packing List", "passport, charger, sunscreen", "Travel")
    path = home / "notes" / "Travel" / "Packing List.md"
    assert out == "Created the note “Packing List” (saved as notes/Travel/Packing List.md)."
    assert path.read_text(encoding="utf-8") == "# Packing List\n\npassport, charger, sunscreen\n"
    assert await call(tools, "open_note", "packing list", "") == "passport, charger, sunscreen"
    out = await call(tools, "append_note_content", "Grocery", "- oat milk\n- eggs", "")
    assert out == "Added “- oat milk - eggs” to the note “Groceries” (saved in notes/Notes/Groceries.md)."
    groceries = (home / "notes" / "Notes" / "Groceries.md").read_text(encoding="utf-8")
    assert groceries == "# Groceries\n\n- bread\n- tomatoes\n- coffee beans\n\n- oat milk\n- eggs\n"
    assert "oat milk" in await call(tools, "open_note", "Grocery", "")  # close spelling
    assert "parallel" in await call(tools, "open_note", "Project Ideas", "Work")


async def test_notes_errors_and_safe_names(tools: Toolset, home: Path) -> None:
    await call(tools, "create_note", "Packing List", "x", "")
    with pytest.raises(ToolInputError, match="already exists"):
        await call(tools, "create_note", "Packing List", "y", "")
    with pytest.raises(NoteNotFoundError, match="no note named like 'Quantum Physics'"):
        await call(tools, "open_note", "Quantum Physics", "")
    await call(tools, "create_note", "../../escape", "inside", "../..")
    written = [p for p in sorted(home.rglob("*.md")) if "escape" in p.name]  # noqa: ASYNC240 - a test's check
    assert len(written) == 1 and (home / "notes") in written[0].parents


async def test_append_with_subagent_sees_the_old_note(home: Path) -> None:
    backend = ScriptedBackend(["- oat milk"])
    tools = mac_toolset(home, driver="portable", subagent=backend)
    await call(tools, "append_note_content", "Groceries", "we need oat milk", "")
    (request,) = backend.requests
    assert request.messages is not None and "coffee beans" in request.messages[1].content
    assert (home / "notes" / "Notes" / "Groceries.md").read_text(encoding="utf-8").endswith("\n\n- oat milk\n")


# ------------------------------------------------------------------------------------------------------ reminders
async def test_reminder_written_as_vtodo(tools: Toolset, home: Path) -> None:
    out = await call(tools, "create_reminder", "Call the dentist", "2024-06-03 09:00:00", "Ask about May", "", 1, False)
    path = home / "reminders" / "Reminders.ics"
    assert out == (
        "Created the reminder “Call the dentist”, due Monday 2024-06-03 at 09:00, with high priority"
        " (saved in reminders/Reminders.ics)."
    )
    (todo,) = components(path, "VTODO")
    assert todo["summary"] == "Call the dentist"
    assert todo["description"] == "Ask about May"
    assert todo.decoded("due") == dt.datetime(2024, 6, 3, 9, 0)
    assert int(todo["priority"]) == 1
    assert todo["status"] == "NEEDS-ACTION"


async def test_all_day_reminder_in_a_list_and_no_due_date(tools: Toolset, home: Path) -> None:
    out = await call(tools, "create_reminder", "Pay rent", "2024-07-01", "", "Home", 0, True)
    assert out == "Created the reminder “Pay rent”, due all day on Monday 2024-07-01 (saved in reminders/Home.ics)."
    (todo,) = components(home / "reminders" / "Home.ics", "VTODO")
    assert todo.decoded("due") == dt.date(2024, 7, 1)
    assert "priority" not in todo
    out = await call(tools, "create_reminder", "Someday", "", "", "Home", 9, False)
    assert out == "Created the reminder “Someday” with no due date and low priority (saved in reminders/Home.ics)."
    todos = components(home / "reminders" / "Home.ics", "VTODO")
    assert [str(t["summary"]) for t in todos] == ["Pay rent", "Someday"] and "due" not in todos[1]
    assert int(todos[1]["priority"]) == 9


async def test_reminder_errors(tools: Toolset) -> None:
    with pytest.raises(ToolInputError, match="priority must be 0"):
        await call(tools, "create_reminder", "X", "", "", "", 12, False)
    with pytest.raises(DateFormatError, match="due_date 'tomorrow'"):
        await call(tools, "create_reminder", "X", "tomorrow", "", "", 0, False)


# ------------------------------------------------------------------------------------------------------------ sms
async def test_sms_draft_in_the_outbox(tools: Toolset, home: Path) -> None:
    out = await call(tools, "send_sms", ["Lutfi", "+1 555 0000"], "Running late!\nSorry.")
    draft = only(sorted((home / "messages" / "outbox").glob("*.json")))
    assert out == (
        "Drafted a text to Lutfi Eren Erdogan (+1 510 555 0102) and +1 555 0000: “Running late! Sorry.”"
        f" (not sent; saved as messages/outbox/{draft.name})."
    )
    data = json.loads(draft.read_text(encoding="utf-8"))
    assert data["to"] == ["+1 510 555 0102", "+1 555 0000"]
    assert data["message"] == "Running late!\nSorry."
    dt.datetime.fromisoformat(data["created"])
    await call(tools, "send_sms", ["Sid"], "second")
    assert len(list((home / "messages" / "outbox").glob("*.json"))) == 2  # never overwritten


async def test_sms_errors(tools: Toolset) -> None:
    with pytest.raises(ContactNotFoundError):
        await call(tools, "send_sms", ["Nobody"], "hi")
    with pytest.raises(ToolInputError, match="needs a message"):
        await call(tools, "send_sms", ["Sid"], "  ")
