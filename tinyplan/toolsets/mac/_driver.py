"""The driver interface behind the Mac toolset's tools, and the records passed to it."""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from tinyplan.toolsets.mac._sandbox import FileSandbox

__all__ = ["CalendarEvent", "ContactValue", "EmailDraft", "MacDriver", "Note", "Reminder"]


@dataclass(frozen=True, slots=True)
class ContactValue:
    """A contact's phone number or email address, with the contact's full name as stored."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """A calendar event to create. Times are naive local times; ``calendar`` "" means the default calendar."""

    title: str
    start: dt.datetime
    end: dt.datetime
    location: str = ""
    invitees: tuple[str, ...] = ()
    notes: str = ""
    calendar: str = ""


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder to create.

    Attributes:
        due: The due time, a date for an all-day reminder, or None.
        priority: iCalendar/Apple Reminders priority: 0 none, 1 high … 5 medium … 9 low.
        list_name: "" means the default list.
    """

    name: str
    due: dt.datetime | dt.date | None = None
    notes: str = ""
    list_name: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class EmailDraft:
    """An email to draft (never sent). ``attachments`` are absolute file paths, inside the driver's sandbox."""

    recipients: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    attachments: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Note:
    """A note as read back: its name, folder and plain text."""

    name: str
    folder: str
    text: str


class MacDriver(abc.ABC):
    """What the 16 tools need from the machine. `PortableDriver` and `MacOSDriver` implement it.

    Every method raises a `MacToolError` subclass with a reason the model can read when it cannot do its job, and
    returns a short human-readable observation (or the looked-up value) otherwise.

    Every path a driver reads, attaches or returns goes through its `sandbox` (`FileSandbox.check`): files come only
    from the folders the user chose.

    Attributes:
        name: ``"portable"`` or ``"macos"``.
    """

    name: str = ""
    _sandbox: FileSandbox | None = None

    @property
    def sandbox(self) -> FileSandbox:
        """Where files may be read from. Drivers set their own; the default is the user's home folder only."""
        if self._sandbox is None:
            self._sandbox = FileSandbox(Path.home(), home_label="the user's home folder")
        return self._sandbox

    async def contact_name(self, value: str) -> str | None:
        """The name of the one contact with this phone number or email address, for observations.

        None when no single contact has it, or when the driver cannot tell cheaply (the default).
        """
        return None

    @abc.abstractmethod
    async def phone_number(self, name: str) -> ContactValue:
        """The first phone number of the contact best matching ``name``.

        Raises:
            ContactNotFoundError: No contact matches, or it has no phone number.
        """

    @abc.abstractmethod
    async def email_address(self, name: str) -> ContactValue:
        """The first email address of the contact best matching ``name``.

        Raises:
            ContactNotFoundError: No contact matches, or it has no email address.
        """

    @abc.abstractmethod
    async def create_event(self, event: CalendarEvent) -> str:
        """Create a calendar event; return where it went."""

    @abc.abstractmethod
    async def find_file(self, name: str) -> str:
        """Find (and on macOS open) the file best matching ``name``; return its absolute, real path.

        Only files inside the `sandbox` are found or opened.

        Raises:
            ToolFileNotFoundError: Nothing matches.
            ToolInputError: ``name`` is a path outside the sandbox.
        """

    @abc.abstractmethod
    async def compose_email(self, draft: EmailDraft) -> str:
        """Draft a new email (not sent); return where the draft is."""

    @abc.abstractmethod
    async def selected_email(self) -> str:
        """The text of the email the user is looking at (the one a reply or forward refers to).

        Raises:
            MacToolError: No email is selected.
        """

    @abc.abstractmethod
    async def reply_email(self, cc: tuple[str, ...], body: str, attachments: tuple[str, ...]) -> str:
        """Draft a reply to the selected email (not sent)."""

    @abc.abstractmethod
    async def forward_email(
        self, recipients: tuple[str, ...], cc: tuple[str, ...], body: str, attachments: tuple[str, ...]
    ) -> str:
        """Draft a forward of the selected email (not sent)."""

    @abc.abstractmethod
    async def show_url(self, url: str) -> None:
        """Show a URL to the user (macOS opens it; the portable driver only reports it)."""

    @abc.abstractmethod
    async def create_note(self, name: str, text: str, folder: str) -> str:
        """Create a note; ``folder`` "" means the default folder."""

    @abc.abstractmethod
    async def read_note(self, name: str, folder: str) -> Note:
        """Open the note best matching ``name`` and return it.

        Raises:
            NoteNotFoundError: No note exists to match.
        """

    @abc.abstractmethod
    async def append_note(self, name: str, text: str, folder: str) -> str:
        """Append text to the note best matching ``name``.

        Raises:
            NoteNotFoundError: No note exists to match.
        """

    @abc.abstractmethod
    async def create_reminder(self, reminder: Reminder) -> str:
        """Create a reminder; return where it went."""

    @abc.abstractmethod
    async def draft_sms(self, recipients: tuple[str, ...], message: str) -> str:
        """Draft a text message to phone numbers (not sent)."""
