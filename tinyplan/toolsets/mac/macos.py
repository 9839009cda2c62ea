"""The macOS driver: the Mac's own apps through AppleScript, Spotlight and Maps URLs.

Contacts, Calendar, Mail, Notes, Reminders and Messages go through AppleScript (``osascript``), files through
Spotlight (``mdfind``), Maps through ``maps.apple.com`` URLs opened with ``open``.

It follows TinyAgent's macOS tools (Erdogan et al. 2024) with two differences: every value in a script is an
escaped AppleScript string literal (`applescript_string`) or an integer the driver computed, so no input can change
a script's code; and dates are built from numbers (year, month, day, seconds) instead of parsing a text like
``"October 14, 2022 3:00:00 PM"``, which depends on the Mac's language settings. Mail and Messages are drafted,
never sent.

Files (found, opened, attached, summarized) come only from the user's home folder and the folders allowed with
``allow=`` (see `FileSandbox`); Spotlight hits elsewhere are ignored.
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import os
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import anyio.to_thread

from tinyplan.toolsets.mac._driver import CalendarEvent, ContactValue, EmailDraft, MacDriver, Note, Reminder
from tinyplan.toolsets.mac._errors import (
    ContactNotFoundError,
    MacToolError,
    NoteNotFoundError,
    ToolFileNotFoundError,
    ToolInputError,
)
from tinyplan.toolsets.mac._sandbox import FileSandbox
from tinyplan.toolsets.mac.applescript import Runner, SubprocessRunner, applescript_string, run_osascript

__all__ = ["MacOSDriver"]

q = applescript_string

# A locale-independent date: start from today, set day 1 first so that setting the month never overflows.
_MAKE_DATE = """on makeDate(y, m, d, s)
\tset theDate to current date
\tset day of theDate to 1
\tset year of theDate to y
\tset month of theDate to m
\tset day of theDate to d
\tset time of theDate to s
\treturn theDate
end makeDate
"""


def _date_call(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return f"makeDate({value.year}, {value.month}, {value.day}, {seconds})"
    return f"makeDate({value.year}, {value.month}, {value.day}, 0)"


def _notes_html(text: str) -> str:
    """Plain text as Notes' HTML body: one ``<div>`` per line, special characters escaped."""
    return "".join(f"<div>{html.escape(line) or '<br>'}</div>" for line in text.split("\n"))


class MacOSDriver(MacDriver):
    """The Mac tools on a real Mac, through ``osascript``, ``mdfind`` and ``open``.

    Files are found, opened, attached and summarized only inside the `sandbox`: ``home`` (default: the user's home
    folder, ``Path.home()``) and the ``allow`` roots. A path outside them is a `ToolInputError`; Spotlight hits
    outside them are ignored.
    """

    name = "macos"

    def __init__(
        self,
        runner: Runner | None = None,
        *,
        search_in: str | None = None,
        home: str | os.PathLike[str] | None = None,
        allow: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        """A driver that runs its commands through ``runner``.

        Args:
            runner: Runs a command (argv list) and returns a `CommandResult`; default `SubprocessRunner`. Inject a
                recording runner to test on any platform.
            search_in: Limit Spotlight file search to this folder (``mdfind -onlyin``); None searches everywhere (hits
                outside the sandbox are dropped either way).
            home: The folder files come from, and the base of relative paths; None: the user's home folder.
            allow: More folders (or files) files may come from, e.g. ``["/Volumes/Work"]``. Default: none.
        """
        self.runner: Runner = runner if runner is not None else SubprocessRunner()
        self.search_in = search_in
        label = "the home folder" if home is not None else "the user's home folder"
        self._sandbox = FileSandbox(Path.home() if home is None else home, allow, home_label=label)

    def __repr__(self) -> str:
        """The runner and the sandbox."""
        return f"MacOSDriver(runner={self.runner!r}, sandbox={self.sandbox!r})"

    async def _checked(self, paths: tuple[str, ...], what: str) -> tuple[str, ...]:
        """The real paths of ``paths`` (attachments), each checked against the sandbox."""

        def check() -> tuple[str, ...]:
            return tuple(str(self.sandbox.check(p, what=f"{what} {i}")) for i, p in enumerate(paths, 1))

        return await anyio.to_thread.run_sync(check)

    async def _script(self, script: str) -> str:
        return await run_osascript(self.runner, script)

    async def _command(self, argv: list[str]) -> str:
        result = await self.runner(argv)
        if result.returncode != 0:
            raise MacToolError(f"{argv[0]} failed (exit {result.returncode}): {result.stderr.strip()}")
        return result.stdout

    # -------------------------------------------------------------------------------------------------- contacts
    async def _lookup(self, name: str, prop: str, what: str) -> ContactValue:
        first = name.split()[0] if name.split() else name
        script = f"""tell application "Contacts"
\tset matches to every person whose name is {q(name)}
\tif (count of matches) is 0 then set matches to every person whose name contains {q(name)}
\tif (count of matches) is 0 then set matches to every person whose first name contains {q(first)}
\tif (count of matches) is 0 then return ""
\tset thePerson to item 1 of matches
\tif (count of {prop}s of thePerson) is 0 then return name of thePerson
\treturn (name of thePerson) & linefeed & (value of first {prop} of thePerson)
end tell"""
        out = await self._script(script)
        if not out.strip():
            raise ContactNotFoundError(f"no contact matches {name!r}")
        full, _, value = out.partition("\n")
        if not value.strip():
            raise ContactNotFoundError(f"contact {full.strip()!r} has no {what}")
        return ContactValue(full.strip(), value.strip())

    async def phone_number(self, name: str) -> ContactValue:
        """Ask Contacts for the first phone of the person named (exactly, then containing, then by first name)."""
        return await self._lookup(name, "phone", "phone number")

    async def email_address(self, name: str) -> ContactValue:
        """Ask Contacts for the first email of the person named (exactly, then containing, then by first name)."""
        return await self._lookup(name, "email", "email address")

    # -------------------------------------------------------------------------------------------------- calendar
    async def create_event(self, event: CalendarEvent) -> str:
        """Make the event in the named calendar (the first calendar when it does not exist); return its name."""
        attendees = "".join(
            f"\t\tmake new attendee at end of attendees of theEvent with properties {{email:{q(a)}}}\n"
            for a in event.invitees
        )
        script = f"""{_MAKE_DATE}
set startDate to {_date_call(event.start)}
set endDate to {_date_call(event.end)}
tell application "Calendar"
\tset calName to {q(event.calendar)}
\tif calName is "" or not (exists calendar calName) then set calName to name of first calendar
\ttell calendar calName
\t\tset theEvent to make new event at end with properties {{summary:{q(event.title)}, start date:startDate, \
end date:endDate, location:{q(event.location)}, description:{q(event.notes)}}}
{attendees}\tend tell
\treload calendars
\treturn calName
end tell"""
        return await self._script(script)

    async def create_reminder(self, reminder: Reminder) -> str:
        """Make the reminder in the named list (the default list when it does not exist); return the list name."""
        due = ""
        head = ""
        if reminder.due is not None:
            head = f"{_MAKE_DATE}\nset dueDate to {_date_call(reminder.due)}\n"
            prop = "due date" if isinstance(reminder.due, dt.datetime) else "allday due date"
            due = f"\tset {prop} of newReminder to dueDate\n"
        script = f"""{head}tell application "Reminders"
\tset listName to {q(reminder.list_name)}
\tif listName is not "" and (exists list listName) then
\t\tset theList to list listName
\telse
\t\tset theList to default list
\tend if
\tset newReminder to make new reminder at end of theList with properties {{name:{q(reminder.name)}, \
body:{q(reminder.notes)}, priority:{int(reminder.priority)}}}
{due}\treturn name of theList
end tell"""
        return await self._script(script)

    # ----------------------------------------------------------------------------------------------------- files
    async def find_file(self, name: str) -> str:
        """Find the file with Spotlight (``mdfind -name``), open it with ``open`` and return its path.

        The best hit is the exact file name, then the exact name without extension, then the closest name.
        """
        query = name.strip()
        if not query:
            raise ToolFileNotFoundError("an empty file name matches no file")
        direct = await anyio.to_thread.run_sync(self.sandbox.existing_file, query, "file_name")
        if direct is not None:
            await self._command(["open", str(direct)])
            return str(direct)
        argv = ["mdfind"] + (["-onlyin", self.search_in] if self.search_in else []) + ["-name", query]
        found = [line for line in (await self._command(argv)).splitlines() if line.strip()]

        def inside() -> list[str]:
            kept: list[str] = []
            for hit in found:
                try:
                    kept.append(str(self.sandbox.check(hit)))
                except ToolInputError:  # outside the sandbox (or through a symlink that leads out): not offered
                    continue
            return kept

        hits = await anyio.to_thread.run_sync(inside)
        if not hits:
            raise ToolFileNotFoundError(f"Spotlight found no file named like {name!r} in {self.sandbox.describe()}")
        wanted = query.casefold()
        best: str | None = None
        keys: list[Callable[[str], str]] = [
            lambda p: PurePosixPath(p).name.casefold(),
            lambda p: PurePosixPath(p).stem.casefold(),
        ]
        for key in keys:
            exact = [h for h in hits if key(h) == wanted]
            if exact:
                best = exact[0]
                break
        if best is None:
            names = [PurePosixPath(h).name.casefold() for h in hits]
            close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.0)
            best = hits[names.index(close[0])] if close else hits[0]
        await self._command(["open", best])
        return best

    # ------------------------------------------------------------------------------------------------------ mail
    @staticmethod
    def _recipients(kind: str, addresses: tuple[str, ...]) -> str:
        return "".join(
            f"\t\tmake new {kind} recipient at end of {kind} recipients with properties {{address:{q(a)}}}\n"
            for a in addresses
        )

    @staticmethod
    def _attachments(paths: tuple[str, ...]) -> str:  # paths already checked by `_checked`
        return "".join(
            f"\t\tmake new attachment with properties {{file name:(POSIX file {q(p)})}} at after the last paragraph\n"
            for p in paths
        )

    async def compose_email(self, draft: EmailDraft) -> str:
        """Open a new Mail message with the recipients, subject, body and attachments (not sent).

        Raises:
            ToolInputError: An attachment is outside the sandbox.
        """
        attachments = await self._checked(draft.attachments, "attachment")
        script = f"""tell application "Mail"
\tset newMessage to make new outgoing message with properties {{subject:{q(draft.subject)}, \
content:{q(draft.body)}, visible:true}}
\ttell newMessage
{self._recipients("to", draft.recipients)}{self._recipients("cc", draft.cc)}{self._attachments(attachments)}\
\tend tell
\tactivate
end tell"""
        await self._script(script)
        return "a new message window in Mail"

    async def selected_email(self) -> str:
        """The sender, subject and content of the message selected in Mail's first viewer."""
        script = """tell application "Mail"
\tset selectedMessages to selected messages of message viewer 1
\tif (count of selectedMessages) < 1 then return ""
\tset theMessage to item 1 of selectedMessages
\treturn "From: " & (sender of theMessage) & linefeed & "Subject: " & (subject of theMessage) & linefeed & \
linefeed & (content of theMessage)
end tell"""
        out = await self._script(script)
        if not out.strip():
            raise MacToolError("no email is selected in Mail: select the message to reply to or forward")
        return out

    async def _respond(
        self, verb: str, recipients: tuple[str, ...], cc: tuple[str, ...], body: str, attachments: tuple[str, ...]
    ) -> str:
        name = "theReply" if verb == "reply" else "theForward"
        attachments = await self._checked(attachments, "attachment")
        content = f"\t\tset content to {q(body)}\n" if body else ""
        script = f"""tell application "Mail"
\tset selectedMessages to selected messages of message viewer 1
\tif (count of selectedMessages) < 1 then return ""
\tset {name} to {verb} (item 1 of selectedMessages) opening window yes
\ttell {name}
{self._recipients("to", recipients)}{self._recipients("cc", cc)}{content}{self._attachments(attachments)}\
\tend tell
\tactivate
\treturn "ok"
end tell"""
        if not (await self._script(script)).strip():
            raise MacToolError(f"no email is selected in Mail: select the message to {verb}")
        return f"a {verb} window in Mail"

    async def reply_email(self, cc: tuple[str, ...], body: str, attachments: tuple[str, ...]) -> str:
        """Open a reply to the selected Mail message with the body, cc and attachments (not sent)."""
        return await self._respond("reply", (), cc, body, attachments)

    async def forward_email(
        self, recipients: tuple[str, ...], cc: tuple[str, ...], body: str, attachments: tuple[str, ...]
    ) -> str:
        """Open a forward of the selected Mail message to the recipients (not sent)."""
        return await self._respond("forward", recipients, cc, body, attachments)

    # ------------------------------------------------------------------------------------------------------ maps
    async def show_url(self, url: str) -> None:
        """Open the URL (``open URL``; Maps handles ``maps.apple.com``)."""
        await self._command(["open", url])

    # ----------------------------------------------------------------------------------------------------- notes
    @staticmethod
    def _folder_scope(folder: str) -> str:
        return f"""\tset folderName to {q(folder)}
\tif folderName is not "" and (exists folder folderName) then
\t\tset theScope to folder folderName
\telse
\t\tset theScope to default folder of default account
\tend if
"""

    async def create_note(self, name: str, text: str, folder: str) -> str:
        """Make a note (title line, then the text) in the folder (the default folder when it does not exist)."""
        body = f"<div><h1>{html.escape(' '.join(name.split()))}</h1></div>{_notes_html(text.strip())}"
        script = f"""tell application "Notes"
{self._folder_scope(folder)}\tset newNote to make new note at theScope with properties {{body:{q(body)}}}
\tshow newNote
\treturn name of theScope
end tell"""
        return await self._script(script)

    async def _exact_note_name(self, name: str, folder: str) -> str:
        script = f"""tell application "Notes"
{self._folder_scope(folder)}\tset noteNames to name of notes of theScope
\tif (count of noteNames) is 0 then set noteNames to name of notes
end tell
set AppleScript's text item delimiters to linefeed
return noteNames as text"""
        names = [n for n in (await self._script(script)).split("\n") if n.strip()]
        if not names:
            raise NoteNotFoundError("there are no notes in Notes")
        wanted = name.strip().casefold()
        for n in names:
            if n.strip().casefold() == wanted:
                return n
        close = difflib.get_close_matches(wanted, [n.casefold() for n in names], n=1, cutoff=0.6)
        if close:
            return names[[n.casefold() for n in names].index(close[0])]
        raise NoteNotFoundError(f"no note named like {name!r}; notes: {', '.join(names[:20])}")

    async def read_note(self, name: str, folder: str) -> Note:
        """Find the note (exact name, then closest name), show it and return its plain text."""
        exact = await self._exact_note_name(name, folder)
        script = f"""tell application "Notes"
\tset theNote to first note whose name is {q(exact)}
\tshow theNote
\treturn (name of container of theNote) & linefeed & (plaintext of theNote)
end tell"""
        out = await self._script(script)
        folder_name, _, text = out.partition("\n")
        lines = text.split("\n")
        if lines and lines[0].strip() == exact.strip():
            lines = lines[1:]  # Notes' plaintext starts with the title line
        return Note(exact, folder_name, "\n".join(lines).strip("\n"))

    async def append_note(self, name: str, text: str, folder: str) -> str:
        """Append the text (as HTML paragraphs) to the note best matching ``name``; return the note's name."""
        exact = await self._exact_note_name(name, folder)
        script = f"""tell application "Notes"
\tset theNote to first note whose name is {q(exact)}
\tset body of theNote to (body of theNote) & {q(_notes_html(text.strip()))}
\tshow theNote
\treturn name of theNote
end tell"""
        return await self._script(script)

    # -------------------------------------------------------------------------------------------------- messages
    async def draft_sms(self, recipients: tuple[str, ...], message: str) -> str:
        """Open a new Messages conversation to the numbers with the text pasted in (not sent).

        As in TinyAgent this drives Messages' window (System Events, which needs Accessibility permission). The
        recipients are typed; the message is pasted through the clipboard (restored afterwards), because typing a
        line break would press Return and send it.
        """
        typed = "".join(
            f"\t\tkeystroke {q(' '.join(r.split()))}\n\t\tdelay 0.5\n\t\tkeystroke return\n\t\tdelay 0.5\n"
            for r in recipients
        )
        script = f"""set savedClipboard to missing value
try
\tset savedClipboard to the clipboard
end try
tell application "Messages" to activate
tell application "System Events"
\ttell process "Messages"
\t\tset frontmost to true
\t\tdelay 0.5
\t\tkeystroke "n" using command down
\t\tdelay 0.5
{typed}\t\tkeystroke tab
\t\tdelay 0.5
\t\tset the clipboard to {q(message)}
\t\tkeystroke "v" using command down
\t\tdelay 0.5
\tend tell
end tell
if savedClipboard is not missing value then set the clipboard to savedClipboard"""
        await self._script(script)
        return "a new conversation in Messages"
