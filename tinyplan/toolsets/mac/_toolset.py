"""TinyAgent's 16 Mac tools as a tinyplan `Toolset`, over a `MacDriver`.

`MacTools` declares them: each tool is one of its `@tool` methods, its side effects declared where it is defined.
`mac_tools` builds them over a driver and `mac_toolset` adds TinyAgent's planner rules and examples.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePath
from typing import Literal
from urllib.parse import quote_plus

import anyio
import anyio.to_thread
import pypdf
import pypdf.errors

from tinyplan._backend import Backend
from tinyplan._errors import ToolsetError
from tinyplan._tools import Tool, Toolset, get_tool, tool
from tinyplan.toolsets.mac import _phrases as say
from tinyplan.toolsets.mac._coerce import (
    ensure_emails,
    ensure_phone_numbers,
    event_times,
    look_up_contact,
    parse_date,
    parse_transport,
)
from tinyplan.toolsets.mac._driver import CalendarEvent, EmailDraft, MacDriver, Reminder
from tinyplan.toolsets.mac._errors import DateFormatError, ToolFileNotFoundError, ToolInputError
from tinyplan.toolsets.mac._home import default_home
from tinyplan.toolsets.mac._phrases import quoted
from tinyplan.toolsets.mac._types import (
    ContactName,
    DateTimeText,
    EmailAddress,
    FilePath,
    LocationLink,
    NoteName,
    PdfText,
    PhoneNumber,
    ZoomLink,
)
from tinyplan.toolsets.mac.applescript import Runner
from tinyplan.toolsets.mac.contacts import contact_key
from tinyplan.toolsets.mac.guidance import MAC_CUES, MAC_NEEDS_CUE, MAC_TOOL_NAMES, mac_examples, mac_instructions
from tinyplan.toolsets.mac.macos import MacOSDriver
from tinyplan.toolsets.mac.portable import PortableDriver
from tinyplan.toolsets.mac.subagents import EmailMode, SubAgent
from tinyplan.toolsets.mac.zoom import ZoomClient

__all__ = ["SIDE_EFFECT_TOOLS", "MacTools", "mac_tools", "mac_toolset", "pdf_text", "select_driver"]

DriverChoice = Literal["auto", "portable", "macos"] | MacDriver


def pdf_text(path: str | Path) -> str:
    """The text of every page of a PDF (pypdf's extraction), pages separated by blank lines.

    It reads ``path`` as given: the tools check it against the driver's `FileSandbox` first.

    Raises:
        ToolFileNotFoundError: The file does not exist.
        ToolInputError: It is not a readable PDF, or it holds no extractable text (e.g. scanned pages).
    """
    file = Path(path)
    if not file.is_file():
        raise ToolFileNotFoundError(f"{file} does not exist")
    try:
        reader = pypdf.PdfReader(file)
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (pypdf.errors.PyPdfError, OSError, ValueError) as exc:
        raise ToolInputError(f"{file.name} is not a readable PDF: {exc}") from None
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise ToolInputError(f"{file.name} has no extractable text (scanned pages?)")
    return text


def select_driver(
    driver: DriverChoice = "auto",
    *,
    home: str | Path | None = None,
    runner: Runner | None = None,
    allow: Iterable[str | os.PathLike[str]] = (),
) -> MacDriver:
    """The driver for ``driver``: ``"auto"`` is macOS on a Mac (``sys.platform == "darwin"``), portable elsewhere.

    ``home`` is used by the portable driver (None: `default_home`); ``runner`` by the macOS driver; ``allow`` (more
    folders files may be read from, besides the home) by both.

    Raises:
        ToolsetError: An unknown driver name, or ``allow`` with a driver instance (give it to the driver instead).
        MacToolError: The portable driver's home folder does not exist.
    """
    roots = [allow] if isinstance(allow, str | os.PathLike) else list(allow)
    if isinstance(driver, MacDriver):
        if roots:
            raise ToolsetError("allow= applies to the built-in drivers; pass it to your driver instance instead")
        return driver
    if driver == "auto":
        driver = "macos" if sys.platform == "darwin" else "portable"
    if driver == "macos":
        return MacOSDriver(runner, allow=roots)
    if driver == "portable":
        return PortableDriver(home if home is not None else default_home(), allow=roots)
    raise ToolsetError(f"unknown driver {driver!r}: use 'auto', 'portable', 'macos' or a MacDriver")


class MacTools:
    """TinyAgent's 16 Mac tools over one `MacDriver`: each `@tool` method is a tool, in `MAC_TOOL_NAMES` order.

    The tools that change state declare ``side_effects=True`` at their definition (they are asked for approval and
    never repeated by a replan; `SIDE_EFFECT_TOOLS` lists them). The tools share what the contact lookups found, so
    an observation can name the person behind a number or address.

    Example::

        tools = Toolset(MacTools(PortableDriver(home)).tools())

    Attributes:
        driver: The machine the tools act on.
        subagent: Writes email bodies, notes and summaries.
        zoom: The Zoom client.
    """

    def __init__(self, driver: MacDriver, *, subagent: SubAgent | None = None, zoom: ZoomClient | None = None) -> None:
        """Bind the tools to ``driver``.

        Args:
            driver: The machine the tools act on.
            subagent: Writes email bodies, notes and summaries (default: pass the given text through).
            zoom: The Zoom client (default: a `ZoomClient` reading ``$ZOOM_ACCESS_TOKEN`` at call time).
        """
        self.driver = driver
        self.subagent = subagent or SubAgent()
        self.zoom = zoom or ZoomClient()
        self._portable = isinstance(driver, PortableDriver)
        #: contact_key(number or address) -> the contact's name, from the lookups these tools made (for observations)
        self._names: dict[str, str] = {}

    def tools(self) -> list[Tool]:
        """The 16 tools, bound to this instance, in `MAC_TOOL_NAMES` order."""
        return [get_tool(getattr(self, name)) for name in MAC_TOOL_NAMES]

    # ------------------------------------------------------------------------------------------------ helpers
    async def _ensure_paths(self, paths: Sequence[str], what: str) -> tuple[str, ...]:
        """Real paths inside the driver's sandbox: an existing file's path is checked, anything else is searched."""
        out: list[str] = []
        for i, p in enumerate(paths, 1):
            if not p.strip():
                continue
            label = what if len(paths) == 1 else f"{what} {i}"
            real = await anyio.to_thread.run_sync(self.driver.sandbox.existing_file, p.strip(), label)
            if real is None:  # a name to search for; what the driver finds is checked too
                found = await self.driver.find_file(p)
                real = await anyio.to_thread.run_sync(self.driver.sandbox.check, found, label)
            out.append(str(real))
        return tuple(out)

    async def _person(self, value: str) -> str:
        """A number or address with the contact's name, when known (``Sid Jha (sid@example.com)``)."""
        name = self._names.get(contact_key(value))
        if name is None:
            name = await self.driver.contact_name(value)
        return say.person(value, name)

    async def _people(self, values: Sequence[str]) -> str:
        """Several `_person` phrases as one listing."""
        return say.listing([await self._person(v) for v in values])

    def _status(self, where: str) -> str:
        """Where a draft is: ``saved as mail/drafts/….eml`` (portable), ``open in a new message window in Mail``."""
        return f"saved as {self._shown(where)}" if self._portable else f"open in {where}"

    def _shown(self, where: str) -> str:
        """A portable driver's file as a path relative to its home (``calendar/Work.ics``)."""
        path = Path(where)
        if isinstance(self.driver, PortableDriver) and path.is_relative_to(self.driver.home):
            return path.relative_to(self.driver.home).as_posix()
        return where

    # -------------------------------------------------------------------------------------------------- tools
    @tool
    async def get_phone_number(self, name: ContactName) -> PhoneNumber:
        """Search for a contact by name.

        Args:
            name: The contact's name, e.g. "Lutfi".

        Returns:
            the phone number of the contact.
        """
        return await look_up_contact(name, self.driver.phone_number, self._names)

    @tool
    async def get_email_address(self, name: ContactName) -> EmailAddress:
        """Search for a contact by name.

        Args:
            name: The contact's name, e.g. "Sid".

        Returns:
            the email address of the contact.
        """
        return await look_up_contact(name, self.driver.email_address, self._names)

    @tool(side_effects=True)
    async def create_calendar_event(
        self,
        title: str,
        start_date: DateTimeText,
        end_date: DateTimeText = "",
        location: str | None = "",
        invitees: list[EmailAddress] = [],  # noqa: B006 - never mutated; the default shows in the planner's signature
        notes: str | None = "",
        calendar: str | None = "",
    ) -> str:
        """Create a calendar event.

        Args:
            title: The event title.
            start_date: Start, 'YYYY-MM-DD HH:MM:SS'.
            end_date: End, 'YYYY-MM-DD HH:MM:SS'; empty means one hour after the start.
            location: Where; an empty string or None if not applicable.
            invitees: A list of email addresses (names are looked up in contacts); an empty list if not applicable.
            notes: Notes on the event; an empty string or None if not applicable.
            calendar: The calendar name; an empty string or None for the default calendar.

        Returns:
            the status of the event creation.
        """
        start, end = event_times(start_date, end_date)
        addresses = await ensure_emails(invitees, self.driver, names=self._names)
        event = CalendarEvent(
            title=title,
            start=start,
            end=end,
            location=location or "",
            invitees=addresses,
            notes=notes or "",
            calendar="" if calendar in (None, "None") else str(calendar),
        )
        where = await self.driver.create_event(event)
        what = f"the event {quoted(title)}" if title.strip() else "an untitled event"
        place = "" if self._portable else f" in the calendar {quoted(where)}"
        who = f", inviting {await self._people(addresses)}," if addresses else ""
        at = f" at {' '.join(event.location.split())}" if event.location.strip() else ""
        saved = f" (saved in {self._shown(where)})" if self._portable else ""
        return f"Created {what}{place}{who} {say.span(start, end)}{at}{saved}."

    @tool
    async def open_and_get_file_path(self, file_name: str) -> FilePath:
        """Opens the file and returns its path.

        Args:
            file_name: The file's name, with or without extension, e.g. "Apple Demo".

        Returns:
            the absolute path of the file.
        """
        return await self.driver.find_file(file_name)

    @tool
    async def summarize_pdf(self, pdf_path: FilePath) -> PdfText:
        """Summarizes the content of a PDF file and returns the summary.

        This tool can only be used AFTER calling open_and_get_file_path tool to get the PDF file path.

        Args:
            pdf_path: The path of the PDF file.

        Returns:
            the summary.
        """
        path = (await self._ensure_paths([pdf_path], "pdf_path") or ("",))[0]
        if not path:
            raise ToolFileNotFoundError("no PDF path given: call open_and_get_file_path first")
        text = await anyio.to_thread.run_sync(pdf_text, path)
        return await self.subagent.summary(text)

    @tool(side_effects=True)
    async def compose_new_email(
        self,
        recipients: list[EmailAddress],
        cc: list[EmailAddress] = [],  # noqa: B006
        subject: str = "",
        context: str = "",
        attachments: list[FilePath] = [],  # noqa: B006
    ) -> str:
        """Composes a new email and returns the status of the email composition. The email is drafted, not sent.

        The context parameter should pass down the content or some intermediate result; a map location or a zoom
        link to send MUST be put in the context.

        Args:
            recipients: A list of email addresses (names are looked up in contacts).
            cc: A list of email addresses to copy; an empty list if not applicable.
            subject: The subject line.
            context: What the email should say.
            attachments: A list of file paths (or file names to search for); an empty list if not applicable.

        Returns:
            the status of the email composition.
        """
        to = await ensure_emails(recipients, self.driver, names=self._names)
        if not to:
            raise ToolInputError("compose_new_email needs at least one recipient")
        copy = await ensure_emails(cc, self.driver, names=self._names)
        files = await self._ensure_paths(attachments, "attachment")
        body = await self.subagent.email_body(context, mode=EmailMode.NEW)
        where = await self.driver.compose_email(EmailDraft(to, copy, subject, body, files))
        copying = f", copying {await self._people(copy)}," if copy else ""
        about = f" with the subject {quoted(subject)}" if subject.strip() else " with no subject"
        extra = f" and {say.attachments_phrase(files)}" if files else ""
        return f"Drafted an email to {await self._people(to)}{copying}{about}{extra} (not sent; {self._status(where)})."

    @tool(side_effects=True)
    async def reply_to_email(
        self,
        cc: list[EmailAddress] = [],  # noqa: B006
        context: str = "",
        attachments: list[FilePath] = [],  # noqa: B006
    ) -> str:
        """Replies to the currently selected email in Mail with the given content. The reply is drafted, not sent.

        Args:
            cc: A list of email addresses to copy; an empty list if not applicable.
            context: What the reply should say.
            attachments: A list of file paths; an empty list if not applicable.

        Returns:
            the status of the reply.
        """
        copy = await ensure_emails(cc, self.driver, names=self._names)
        files = await self._ensure_paths(attachments, "attachment")
        thread = await self.driver.selected_email()
        body = await self.subagent.email_body(context, thread=thread, mode=EmailMode.REPLY)
        where = await self.driver.reply_email(copy, body, files)
        sender_name, sender, subject = say.thread_headers(thread)
        to = "the selected email"
        if sender:
            to = say.person(sender, sender_name) if sender_name else await self._person(sender)
        copying = f", copying {await self._people(copy)}," if copy else ""
        about = f" about {quoted(subject)}" if subject else ""
        extra = f", with {say.attachments_phrase(files)}" if files else ""
        return f"Drafted a reply to {to}{copying}{about}{extra} (not sent; {self._status(where)})."

    @tool(side_effects=True)
    async def forward_email(
        self,
        recipients: list[EmailAddress],
        cc: list[EmailAddress] = [],  # noqa: B006
        context: str = "",
        attachments: list[FilePath] = [],  # noqa: B006
    ) -> str:
        """Forwards the currently selected email in Mail. The forward is drafted, not sent.

        Args:
            recipients: A list of email addresses (names are looked up in contacts).
            cc: A list of email addresses to copy; an empty list if not applicable.
            context: A note to add above the forwarded email; an empty string if not applicable.
            attachments: A list of file paths; an empty list if not applicable.

        Returns:
            the status of the forward.
        """
        to = await ensure_emails(recipients, self.driver, names=self._names)
        if not to:
            raise ToolInputError("forward_email needs at least one recipient")
        copy = await ensure_emails(cc, self.driver, names=self._names)
        files = await self._ensure_paths(attachments, "attachment")
        body = ""
        forwarded = "the selected email"
        if context.strip():  # the thread is read only when a note is written about it
            thread = await self.driver.selected_email()
            body = await self.subagent.email_body(context, thread=thread, mode=EmailMode.FORWARD)
            sender_name, sender, subject = say.thread_headers(thread)
            if subject:
                forwarded = f"the email {quoted(subject)}" + (f" from {sender_name or sender}" if sender else "")
        where = await self.driver.forward_email(to, copy, body, files)
        copying = f", copying {await self._people(copy)}," if copy else ""
        extra = f", with {say.attachments_phrase(files)}" if files else ""
        to_whom = await self._people(to)
        return f"Drafted a forward to {to_whom}{copying} of {forwarded}{extra} (not sent; {self._status(where)})."

    @tool
    async def maps_open_location(self, location: str) -> LocationLink:
        """Opens the specified location in Apple Maps.

        Args:
            location: A place name, address, or coordinates.

        Returns:
            the URL of the location in Apple Maps.
        """
        if not location.strip():
            raise ToolInputError("maps_open_location needs a location")
        url = "https://maps.apple.com/?q=" + quote_plus(location)
        await self.driver.show_url(url)
        return f"Location of {location} in Apple Maps: {url}"

    @tool
    async def maps_show_directions(self, start_location: str, end_location: str, transport: str = "d") -> str:
        """Show directions from a start location to an end location in Apple Maps.

        Args:
            start_location: Where to start; an empty string for the device's current location.
            end_location: Where to go.
            transport: 'd' (driving, the default), 'w' (walking) or 'r' (public transit).

        Returns:
            the URL of the directions in Apple Maps.
        """
        if not end_location.strip():
            raise ToolInputError("maps_show_directions needs an end_location")
        flag = parse_transport(transport)
        start = f"saddr={quote_plus(start_location)}&" if start_location.strip() else ""
        url = f"https://maps.apple.com/?{start}daddr={quote_plus(end_location)}&dirflg={flag}"
        await self.driver.show_url(url)
        return f"Directions to {end_location} in Apple Maps: {url}"

    @tool(side_effects=True)
    async def create_note(self, name: NoteName, content: str, folder: str = "") -> str:
        """Creates a new note with the given content.

        Args:
            name: The title of the note.
            content: The main text of the note.
            folder: The notes folder; an empty string if not applicable.

        Returns:
            the status of the note creation.
        """
        if not name.strip():
            raise ToolInputError("create_note needs a name")
        text = await self.subagent.note_content(name, content)
        where = await self.driver.create_note(name, text, folder)
        if self._portable:
            return f"Created the note {quoted(name)} (saved as {self._shown(where)})."
        return f"Created the note {quoted(name)} in the folder {quoted(where)}."

    @tool
    async def open_note(self, name: NoteName, folder: str = "") -> str:
        """Opens an existing note by its name.

        Args:
            name: The note's name (the closest match is opened).
            folder: The notes folder; an empty string to search every folder.

        Returns:
            the content of the note.
        """
        note = await self.driver.read_note(name, folder)
        return note.text or f"Note '{note.name}' is empty."

    @tool(side_effects=True)
    async def append_note_content(self, name: NoteName, content: str, folder: str = "") -> str:
        """Appends content to an existing note.

        Args:
            name: The note's name (the closest match is used).
            content: The text to add.
            folder: The notes folder; an empty string to search every folder.

        Returns:
            the status of the content appending.
        """
        previous = None
        if self.subagent.backend is not None:
            previous = (await self.driver.read_note(name, folder)).text
        text = await self.subagent.note_content(name, content, previous=previous)
        if not text.strip():
            raise ToolInputError("append_note_content needs some content to append")
        where = await self.driver.append_note(name, text, folder)
        if self._portable:
            return f"Added {quoted(text)} to the note {quoted(PurePath(where).stem)} (saved in {self._shown(where)})."
        return f"Added {quoted(text)} to the note {quoted(where)}."

    @tool(side_effects=True)
    async def create_reminder(
        self,
        name: str,
        due_date: str = "",
        notes: str = "",
        list_name: str = "",
        priority: int = 0,
        all_day: bool = False,
    ) -> str:
        """Creates a new reminder and returns the status of the reminder creation.

        Args:
            name: What to be reminded of.
            due_date: 'YYYY-MM-DD HH:MM:SS', or 'YYYY-MM-DD' when all_day is True; empty for no due date.
            notes: Notes on the reminder; an empty string if not applicable.
            list_name: The reminders list; an empty string for the default list.
            priority: 0 (none, the default), 1 (high), 5 (medium) or 9 (low).
            all_day: Whether the reminder is for the whole day (defaults to False).

        Returns:
            the status of the reminder creation.
        """
        if not name.strip():
            raise ToolInputError("create_reminder needs a name")
        if not 0 <= priority <= 9:
            raise ToolInputError(f"priority must be 0 (none) to 9 (low), 1 being high; got {priority}")
        due_time = parse_date(due_date, "due_date")
        due: dt.datetime | dt.date | None = due_time.date() if (due_time is not None and all_day) else due_time
        reminder = Reminder(name=name, due=due, notes=notes, list_name=list_name, priority=priority)
        where = await self.driver.create_reminder(reminder)
        place = "" if self._portable else f" in the list {quoted(where)}"
        level = say.priority_word(priority)
        if due is None:
            when = " with no due date" + (f" and {level} priority" if level else "")
        else:
            when = f", {say.due_phrase(due)}" + (f", with {level} priority" if level else "")
        saved = f" (saved in {self._shown(where)})" if self._portable else ""
        return f"Created the reminder {quoted(name)}{place}{when}{saved}."

    @tool(side_effects=True)
    async def send_sms(self, recipients: list[PhoneNumber], message: str) -> str:
        """Send an SMS to a list of phone numbers. The message is drafted, not sent.

        Args:
            recipients: A list of phone numbers (names are looked up in contacts).
            message: The text of the message.

        Returns:
            the status of the SMS.
        """
        numbers = await ensure_phone_numbers(recipients, self.driver, names=self._names)
        if not numbers:
            raise ToolInputError("send_sms needs at least one recipient")
        if not message.strip():
            raise ToolInputError("send_sms needs a message")
        where = await self.driver.draft_sms(numbers, message)
        return f"Drafted a text to {await self._people(numbers)}: {quoted(message)} (not sent; {self._status(where)})."

    @tool(side_effects=True)
    async def get_zoom_meeting_link(
        self,
        topic: str,
        start_time: DateTimeText,
        duration: int = 60,
        meeting_invitees: list[EmailAddress] = [],  # noqa: B006
    ) -> ZoomLink:
        """Creates a Zoom meeting and returns the join URL.

        Pass the link to create_calendar_event (location or notes) or to compose_new_email (context) to share it.

        Args:
            topic: The meeting topic.
            start_time: Start, 'YYYY-MM-DD HH:MM:SS'.
            duration: Minutes (default 60).
            meeting_invitees: A list of email addresses (names are looked up in contacts).

        Returns:
            the join URL of the new meeting.
        """
        start = parse_date(start_time, "start_time")
        if start is None:
            raise DateFormatError("start_time is required: use ISO format 'YYYY-MM-DD HH:MM:SS'")
        invitees = await ensure_emails(meeting_invitees, self.driver, names=self._names)
        return await self.zoom.create_meeting(topic, start, duration, invitees)


#: The tools that change state (calendar, notes, reminders, email, SMS, Zoom): asked for approval, never repeated.
#: Read from the ``@tool(side_effects=True)`` declarations of `MacTools`.
SIDE_EFFECT_TOOLS = frozenset(name for name in MAC_TOOL_NAMES if get_tool(getattr(MacTools, name)).side_effects)


def mac_tools(driver: MacDriver, *, subagent: SubAgent | None = None, zoom: ZoomClient | None = None) -> list[Tool]:
    """Build the 16 tools over ``driver``, in `MAC_TOOL_NAMES` order (the tools of a `MacTools`).

    Args:
        driver: The machine the tools act on.
        subagent: Writes email bodies, notes and summaries (default: pass the given text through).
        zoom: The Zoom client (default: a `ZoomClient` reading ``$ZOOM_ACCESS_TOKEN`` at call time).
    """
    return MacTools(driver, subagent=subagent, zoom=zoom).tools()


def mac_toolset(
    home: str | Path | None = None,
    *,
    driver: DriverChoice = "auto",
    subagent: Backend | None = None,
    runner: Runner | None = None,
    allow: Iterable[str | os.PathLike[str]] = (),
    tools: Iterable[str] | None = None,
    context_budget: int = 6000,
    count_tokens: Callable[[str], int] | None = None,
    zoom: ZoomClient | None = None,
) -> Toolset:
    """TinyAgent's 16 Mac tools (Erdogan et al. 2024) as a `Toolset`, with TinyAgent's planner rules and examples.

    Args:
        home: The portable driver's home folder. None: ``$TINYPLAN_MAC_HOME``, else
            ``~/.local/share/tinyplan/home`` (``$XDG_DATA_HOME`` respected), created from the sample home on first
            use. Ignored by the macOS driver.
        driver: ``"auto"`` (macOS when ``sys.platform == "darwin"``, else portable), ``"portable"``, ``"macos"``,
            or a `MacDriver` instance.
        subagent: The backend that writes email bodies, note contents and PDF summaries. None: the tools use the
            given text as it is (the ``context``/``content`` argument; the PDF's text cut to ``context_budget``).
        runner: Runs commands for the macOS driver (default: real subprocesses); inject one to record scripts.
        allow: More folders (or files) the tools may read, search, summarize and attach files from, besides the home
            folder (the portable driver's ``home``; the user's home folder on macOS), e.g. ``["~/Documents"]``.
            Default: none. A path outside them is a `ToolInputError` (see `FileSandbox`). Only for the built-in
            drivers: give a `MacDriver` instance its own.
        tools: Only these tools (names from `MAC_TOOL_NAMES`); None: all 16.
        context_budget: How much context a sub-agent call gets: characters, or tokens with ``count_tokens``.
        count_tokens: Token counter of the sub-agent's model (e.g. ``lambda s: len(tok.encode(s).ids)``).
        zoom: The Zoom client; None reads ``$ZOOM_ACCESS_TOKEN`` (and ``$ZOOM_API_URL``) when a meeting is made.

    Returns:
        The toolset; its ``instructions`` and ``examples`` are those for the chosen tools (see `mac_instructions`,
        `mac_examples` for a subset picked later, e.g. by ToolRAG).

    Raises:
        ToolsetError: An unknown driver or tool name, or ``allow`` with a driver instance.
        MacToolError: The portable home folder does not exist.
    """
    chosen = list(MAC_TOOL_NAMES) if tools is None else list(tools)
    unknown = [n for n in chosen if n not in MAC_TOOL_NAMES]
    if unknown:
        raise ToolsetError(f"unknown Mac tool(s) {unknown}: choose from {', '.join(MAC_TOOL_NAMES)}")
    machine = select_driver(driver, home=home, runner=runner, allow=allow)
    writer = SubAgent(subagent, context_budget=context_budget, count_tokens=count_tokens)
    built = [t for t in mac_tools(machine, subagent=writer, zoom=zoom) if t.name in chosen]
    names = [t.name for t in built]
    return Toolset(
        built,
        instructions=mac_instructions(names),
        examples=mac_examples(names),
        cues=MAC_CUES,
        needs_cue=MAC_NEEDS_CUE,
    )
