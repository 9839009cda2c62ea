"""The portable driver: the Mac tools over a "home" folder of standard files, on any platform.

Layout of a home folder (created on demand except ``contacts/``)::

    contacts/*.vcf                 vCard contacts (read)
    calendar/<Calendar>.ics        iCalendar VEVENTs, one file per calendar (appended)
    reminders/<List>.ics           iCalendar VTODOs, one file per list (appended)
    notes/<Folder>/<Name>.md       Markdown notes, one folder per notes folder
    mail/inbox/*.eml               received mail; the newest (by Date) is the "selected" email replies refer to
    mail/drafts/*.eml              drafted emails (new, reply, forward), never sent
    messages/outbox/*.json         drafted text messages, never sent
    anything else                  files found by name (open_and_get_file_path)

Every file the driver reads, attaches or finds is inside the home or a folder allowed with ``allow=`` (see
`FileSandbox`): a path outside, through ``..`` or a symlink pointing out, is a `ToolInputError`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import email.policy
import email.utils
import functools
import json
import mimetypes
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import icalendar

from tinyplan.toolsets.mac._driver import CalendarEvent, ContactValue, EmailDraft, MacDriver, Note, Reminder
from tinyplan.toolsets.mac._errors import (
    ContactNotFoundError,
    MacToolError,
    NoteNotFoundError,
    ToolFileNotFoundError,
    ToolInputError,
)
from tinyplan.toolsets.mac._sandbox import FileSandbox
from tinyplan.toolsets.mac.contacts import Contact, contact_with_value, load_vcards, match_contact

__all__ = ["PortableDriver"]

T = TypeVar("T")

PRODID = "-//tinyplan//Mac toolset portable driver//EN"
DEFAULT_CALENDAR = "Calendar"
DEFAULT_REMINDER_LIST = "Reminders"
DEFAULT_NOTES_FOLDER = "Notes"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def _safe_name(text: str, what: str) -> str:
    """A file name for a calendar, list, folder or note name: path separators and control characters replaced."""
    name = _UNSAFE.sub("_", text.strip()).strip(" .")
    if not name:
        raise ToolInputError(f"{what} {text!r} cannot be used as a name")
    return name[:120]


def _component(component: icalendar.cal.Component, summary: str, **fields: Any) -> icalendar.cal.Component:
    """``component`` with a new ``uid``, ``dtstamp`` (now), ``summary`` and, in order, each of ``fields`` that is set.

    A field whose value is empty, 0 or None is left out.
    """
    component.add("uid", f"{uuid.uuid4()}@tinyplan")
    component.add("dtstamp", dt.datetime.now(dt.UTC))
    component.add("summary", summary)
    for key, value in fields.items():
        if value:
            component.add(key, value)
    return component


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _new_file(directory: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write ``data`` to a new file ``stem[-N]suffix`` in ``directory`` without overwriting anything."""
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = directory / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            with path.open("xb") as fh:
                fh.write(data)
        except FileExistsError:
            continue
        return path
    raise MacToolError(f"cannot find a free file name for {stem}{suffix} in {directory}")


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:40] or "untitled"


class PortableDriver(MacDriver):
    """The Mac tools over a home folder of vCard, iCalendar, .eml, Markdown and JSON files (see the module docs).

    Writes are serialized by a lock, so tasks a plan runs in parallel never lose each other's changes.

    Files are read, attached and searched only inside ``home`` and the ``allow`` roots (the `sandbox`); a path
    outside them (absolute, ``..``, a symlink pointing out, a look-alike of ``/``) is a `ToolInputError`. Files the
    driver itself keeps (contacts, notes, the inbox, calendars) are skipped when they are symlinks pointing out.
    """

    name = "portable"

    def __init__(
        self,
        home: str | os.PathLike[str],
        *,
        allow: Iterable[str | os.PathLike[str]] = (),
        now: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        """A driver over the files in ``home``.

        Args:
            home: The home folder. It must exist (see `copy_sample_home` to make one).
            allow: More folders (or files) the tools may read and attach files from, e.g. ``["~/Documents"]``; they are
                searched after the home. Default: none, only the home.
            now: The clock, for draft timestamps and DTSTAMP (default: local now).

        Raises:
            MacToolError: ``home`` is not an existing folder.
        """
        self.home = Path(home).expanduser().resolve()
        if not self.home.is_dir():
            raise MacToolError(f"home folder {self.home} does not exist (copy_sample_home() creates one)")
        self._sandbox = FileSandbox(self.home, allow)
        self._now = now
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """The home folder and the allowed roots."""
        return f"PortableDriver(home={str(self.home)!r}, allow={[str(p) for p in self.sandbox.allowed]!r})"

    def _inside(self, paths: Iterable[Path]) -> list[Path]:
        """The paths whose real file is inside the sandbox (a symlink in the home pointing out is dropped)."""
        return [p for p in paths if self.sandbox.allows(p)]

    def _folder(self, folder: Path) -> Path:
        """Where writes into ``folder`` (in the home) really go; refused when a symlink would take them outside."""
        return self.sandbox.check(folder, what=f"the folder {folder.relative_to(self.home).as_posix()}")

    def _target(self, path: Path) -> Path:
        """Where a write to ``path`` (in the home) really goes; see `_folder`."""
        return self._folder(path.parent) / path.name

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))

    # -------------------------------------------------------------------------------------------------- contacts
    def _contacts(self) -> list[Contact]:
        folder = self.home / "contacts"
        return load_vcards(self._inside(sorted(folder.rglob("*.vcf")))) if folder.is_dir() else []

    def _lookup(self, name: str, kind: str) -> ContactValue:
        contacts = self._contacts()
        if not contacts:
            raise ContactNotFoundError(f"no contacts: put vCard files in {self.home / 'contacts'}")
        contact = match_contact(name, contacts)
        values = contact.emails if kind == "email" else contact.phones
        if not values:
            what = "email address" if kind == "email" else "phone number"
            raise ContactNotFoundError(f"contact {contact.name!r} has no {what}")
        return ContactValue(contact.name, values[0])

    async def phone_number(self, name: str) -> ContactValue:
        """See `MacDriver.phone_number`; reads ``contacts/*.vcf``."""
        return await self._run(self._lookup, name, "phone")

    async def email_address(self, name: str) -> ContactValue:
        """See `MacDriver.email_address`; reads ``contacts/*.vcf``."""
        return await self._run(self._lookup, name, "email")

    def _contact_name(self, value: str) -> str | None:
        try:
            contact = contact_with_value(value, self._contacts())
        except ToolInputError:  # an unreadable contacts file: no name, the value stays as it is
            return None
        return contact.name if contact is not None else None

    async def contact_name(self, value: str) -> str | None:
        """The one contact in ``contacts/*.vcf`` with this phone number (compared by digits) or email address."""
        return await self._run(self._contact_name, value)

    # ------------------------------------------------------------------------------------------------- calendars
    def _append_component(self, folder: str, name: str, what: str, component: icalendar.cal.Component) -> str:
        """Add ``component`` to ``<folder>/<name>.ics`` (a new calendar file when there is none); return its path."""
        path = self.home / folder / f"{_safe_name(name, what)}.ics"
        target = self._target(path)
        with self._lock:
            if target.is_symlink():
                self.sandbox.check(target, what=f"the file {target.name}")
            if target.exists():
                try:
                    cal = icalendar.Calendar.from_ical(target.read_bytes())
                except ValueError as exc:
                    raise MacToolError(f"{target} is not a valid iCalendar file: {exc}") from None
            else:
                cal = icalendar.Calendar()
                cal.add("prodid", PRODID)
                cal.add("version", "2.0")
            cal.add_component(component)
            _atomic_write(target, cal.to_ical())
        return str(path)

    def _create_event(self, event: CalendarEvent) -> str:
        calendar = event.calendar.strip() or DEFAULT_CALENDAR
        vevent = _component(
            icalendar.Event(),
            event.title,
            dtstart=event.start,
            dtend=event.end,
            location=event.location,
            description=event.notes,
        )
        for address in event.invitees:
            attendee = icalendar.vCalAddress(f"mailto:{address}")
            attendee.params["ROLE"] = icalendar.vText("REQ-PARTICIPANT")
            attendee.params["RSVP"] = icalendar.vText("TRUE")
            vevent.add("attendee", attendee, encode=False)
        return self._append_component("calendar", calendar, "calendar", vevent)

    async def create_event(self, event: CalendarEvent) -> str:
        """Append a VEVENT to ``calendar/<calendar>.ics``; return the file path."""
        return await self._run(self._create_event, event)

    def _create_reminder(self, reminder: Reminder) -> str:
        todo = _component(
            icalendar.Todo(),
            reminder.name,
            status="NEEDS-ACTION",
            description=reminder.notes,
            priority=reminder.priority,
            due=reminder.due,
        )
        list_name = reminder.list_name.strip() or DEFAULT_REMINDER_LIST
        return self._append_component("reminders", list_name, "list_name", todo)

    async def create_reminder(self, reminder: Reminder) -> str:
        """Append a VTODO to ``reminders/<list>.ics``; return the file path."""
        return await self._run(self._create_reminder, reminder)

    # ---------------------------------------------------------------------------------------------------- files
    def _find_file(self, name: str) -> str:
        query = name.strip()
        if not query:
            raise ToolFileNotFoundError("an empty file name matches no file")
        direct = self.sandbox.existing_file(query, what="file_name")
        if direct is not None:
            return str(direct)
        files = self.sandbox.walk()
        wanted = query.casefold()
        keys: list[Callable[[Path], str]] = [lambda p: p.name.casefold(), lambda p: p.stem.casefold()]
        for key in keys:
            exact = [real for shown, real in files if key(shown) == wanted]
            if exact:
                return str(exact[0])
        contains = [(shown, real) for shown, real in files if wanted in shown.name.casefold()]
        if contains:
            return str(min(contains, key=lambda f: (len(f[0].name), str(f[0])))[1])
        stems = [shown.stem.casefold() for shown, _ in files]
        close = difflib.get_close_matches(Path(wanted).stem, stems, n=1, cutoff=0.6)
        if close:
            return str(files[stems.index(close[0])][1])
        raise ToolFileNotFoundError(f"no file named like {name!r} in {self.sandbox.describe()}")

    async def find_file(self, name: str) -> str:
        """Find a file in the sandbox by name: exact, then stem, then substring, then close spelling.

        The home is searched first, then the allowed folders. A path (absolute, or relative to the home) to an
        existing file is returned as its real path. A path outside the sandbox is a `ToolInputError`; files found by
        name are only those inside it. Nothing is opened.
        """
        return await self._run(self._find_file, name)

    # ----------------------------------------------------------------------------------------------------- mail
    def _attach(self, msg: EmailMessage, paths: tuple[str, ...]) -> None:
        checked = [self.sandbox.check(p, what=f"attachment {i}") for i, p in enumerate(paths, 1)]
        for path in checked:
            if not path.is_file():
                raise ToolFileNotFoundError(f"attachment {path.name!r} does not exist")
            ctype, encoding = mimetypes.guess_type(path.name)
            if ctype is None or encoding is not None:
                ctype = "application/octet-stream"
            maintype, subtype = ctype.split("/", 1)
            msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)

    def _save_draft(self, msg: EmailMessage) -> str:
        msg["Date"] = email.utils.format_datetime(self._now().astimezone())
        msg["Message-ID"] = email.utils.make_msgid(domain="tinyplan.invalid")
        msg["X-Unsent"] = "1"  # the drafts convention of Outlook and Thunderbird: opens as an editable draft
        stem = f"{self._now():%Y%m%d-%H%M%S}-{_slug(str(msg['Subject'] or ''))}"
        with self._lock:
            folder = self._folder(self.home / "mail" / "drafts")
            path = _new_file(folder, stem, ".eml", msg.as_bytes(policy=email.policy.SMTP))
        return str(path)

    def _compose(self, draft: EmailDraft) -> str:
        msg = EmailMessage()
        if draft.recipients:
            msg["To"] = ", ".join(draft.recipients)
        if draft.cc:
            msg["Cc"] = ", ".join(draft.cc)
        msg["Subject"] = draft.subject
        msg.set_content(draft.body)
        self._attach(msg, draft.attachments)
        return self._save_draft(msg)

    async def compose_email(self, draft: EmailDraft) -> str:
        """Write the draft to ``mail/drafts/<time>-<subject>.eml``; return its path."""
        return await self._run(self._compose, draft)

    def _selected(self) -> tuple[EmailMessage, Path]:
        inbox = self.home / "mail" / "inbox"
        found: list[tuple[dt.datetime, str, EmailMessage, Path]] = []
        for path in self._inside(sorted(inbox.glob("*.eml"))) if inbox.is_dir() else []:
            with path.open("rb") as fh:
                msg = BytesParser(policy=email.policy.default).parse(fh)
            assert isinstance(msg, EmailMessage)
            try:
                when = email.utils.parsedate_to_datetime(str(msg["Date"]))
            except (TypeError, ValueError):
                when = dt.datetime.fromtimestamp(path.stat().st_mtime)
            if when.tzinfo is None:
                when = when.astimezone()
            found.append((when, path.name, msg, path))
        if not found:
            raise MacToolError(f"no email is selected: {inbox} holds no .eml message to reply to or forward")
        _, _, msg, path = max(found, key=lambda x: (x[0], x[1]))
        return msg, path

    @staticmethod
    def _body(msg: EmailMessage) -> str:
        part = msg.get_body(preferencelist=("plain", "html"))
        return str(part.get_content()).strip() if part is not None else ""

    def _thread_text(self) -> str:
        msg, _ = self._selected()
        head = "\n".join(f"{k}: {msg[k]}" for k in ("From", "To", "Date", "Subject") if msg[k] is not None)
        return f"{head}\n\n{self._body(msg)}"

    async def selected_email(self) -> str:
        """The newest message in ``mail/inbox/`` (by its Date header) as headers and plain text."""
        return await self._run(self._thread_text)

    def _reply(self, cc: tuple[str, ...], body: str, attachments: tuple[str, ...]) -> str:
        original, _ = self._selected()
        msg = EmailMessage()
        msg["To"] = str(original["Reply-To"] or original["From"] or "")
        if cc:
            msg["Cc"] = ", ".join(cc)
        subject = str(original["Subject"] or "")
        msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        if original["Message-ID"]:
            msg["In-Reply-To"] = str(original["Message-ID"])
            refs = str(original["References"] or "")
            msg["References"] = f"{refs} {original['Message-ID']}".strip()
        quoted = "\n".join("> " + line for line in self._body(original).splitlines())
        msg.set_content(f"{body}\n\nOn {original['Date']}, {original['From']} wrote:\n{quoted}\n")
        self._attach(msg, attachments)
        return self._save_draft(msg)

    async def reply_email(self, cc: tuple[str, ...], body: str, attachments: tuple[str, ...]) -> str:
        """Draft a reply to the selected email (To its sender, quoting it) in ``mail/drafts/``; return the path."""
        return await self._run(self._reply, cc, body, attachments)

    def _forward(
        self, recipients: tuple[str, ...], cc: tuple[str, ...], body: str, attachments: tuple[str, ...]
    ) -> str:
        original, _ = self._selected()
        msg = EmailMessage()
        msg["To"] = ", ".join(recipients)
        if cc:
            msg["Cc"] = ", ".join(cc)
        subject = str(original["Subject"] or "")
        msg["Subject"] = subject if subject.lower().startswith("fwd:") else f"Fwd: {subject}"
        msg.set_content(body or "Forwarded message attached.")
        msg.add_attachment(original)  # message/rfc822, the way mail clients forward "as attachment"
        self._attach(msg, attachments)
        return self._save_draft(msg)

    async def forward_email(
        self, recipients: tuple[str, ...], cc: tuple[str, ...], body: str, attachments: tuple[str, ...]
    ) -> str:
        """Draft a forward of the selected email (attached as ``message/rfc822``); return the draft's path."""
        return await self._run(self._forward, recipients, cc, body, attachments)

    # ----------------------------------------------------------------------------------------------------- maps
    async def show_url(self, url: str) -> None:
        """Nothing to do: the portable driver only reports the URL (no browser is opened)."""

    # ---------------------------------------------------------------------------------------------------- notes
    def _notes_root(self) -> Path:
        return self.home / "notes"

    @staticmethod
    def _read_md(path: Path) -> str:
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        if lines and lines[0].startswith("# "):
            lines = lines[1:]
        return "\n".join(lines).strip("\n")

    def _find_note(self, name: str, folder: str) -> Path:
        root = self._notes_root()
        scope = root / _safe_name(folder, "folder") if folder.strip() else root
        if not scope.is_dir():
            scope = root  # an unknown folder: look everywhere, as TinyAgent falls back to the default folder
        notes = self._inside(sorted(scope.rglob("*.md"))) if scope.is_dir() else []
        if not notes:
            raise NoteNotFoundError(f"no notes in {scope}")
        wanted = name.strip().casefold()
        exact = [p for p in notes if p.stem.casefold() == wanted]
        if exact:
            return exact[0]
        stems = [p.stem.casefold() for p in notes]
        close = difflib.get_close_matches(wanted, stems, n=1, cutoff=0.6)
        if close:
            return notes[stems.index(close[0])]
        contains = [p for p in notes if wanted and wanted in p.stem.casefold()]
        if contains:
            return contains[0]
        raise NoteNotFoundError(f"no note named like {name!r}; notes: {', '.join(p.stem for p in notes[:20])}")

    def _create_note(self, name: str, text: str, folder: str) -> str:
        folder_name = _safe_name(folder, "folder") if folder.strip() else DEFAULT_NOTES_FOLDER
        path = self._target(self._notes_root() / folder_name / f"{_safe_name(name, 'note name')}.md")
        body = f"# {' '.join(name.split())}\n\n{text.strip()}\n"
        with self._lock:
            if path.exists() or path.is_symlink():
                raise ToolInputError(
                    f"a note named {name!r} already exists in folder {folder_name!r}; use append_note_content"
                )
            _atomic_write(path, body.encode("utf-8"))
        return str(path)

    async def create_note(self, name: str, text: str, folder: str) -> str:
        """Write ``notes/<folder>/<name>.md`` (a ``# name`` heading, then the text); return its path.

        Raises:
            ToolInputError: The note already exists, or the name is unusable.
        """
        return await self._run(self._create_note, name, text, folder)

    def _read_note(self, name: str, folder: str) -> Note:
        path = self._find_note(name, folder)
        return Note(path.stem, path.parent.name, self._read_md(path))

    async def read_note(self, name: str, folder: str) -> Note:
        """Read the note best matching ``name`` (exact, then close spelling, then substring)."""
        return await self._run(self._read_note, name, folder)

    def _append_note(self, name: str, text: str, folder: str) -> str:
        with self._lock:
            path = self._target(self._find_note(name, folder))
            old = path.read_text(encoding="utf-8").rstrip("\n")
            _atomic_write(path, f"{old}\n\n{text.strip()}\n".encode())
        return str(path)

    async def append_note(self, name: str, text: str, folder: str) -> str:
        """Append a paragraph to the note best matching ``name``; return its path."""
        return await self._run(self._append_note, name, text, folder)

    # ------------------------------------------------------------------------------------------------- messages
    def _draft_sms(self, recipients: tuple[str, ...], message: str) -> str:
        created = self._now()
        data = {"to": list(recipients), "message": message, "created": created.isoformat(timespec="seconds")}
        payload = (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()
        with self._lock:
            folder = self._folder(self.home / "messages" / "outbox")
            path = _new_file(folder, f"{created:%Y%m%d-%H%M%S}-sms", ".json", payload)
        return str(path)

    async def draft_sms(self, recipients: tuple[str, ...], message: str) -> str:
        """Write ``messages/outbox/<time>-sms.json`` (``to``, ``message``, ``created``); return its path."""
        return await self._run(self._draft_sms, recipients, message)
