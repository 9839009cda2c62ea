"""Pieces of the sentences the Mac tools return: people, quotes, dates, lists. Plain English, locale-independent."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Sequence
from pathlib import PurePath

__all__ = [
    "attachments_phrase",
    "day",
    "due_phrase",
    "listing",
    "person",
    "priority_word",
    "quoted",
    "span",
    "thread_headers",
]

OPEN_QUOTE = "\u201c"
CLOSE_QUOTE = "\u201d"
ELLIPSIS = "\u2026"
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def quoted(text: str, limit: int = 100) -> str:
    """``text`` between curly quotes, its whitespace (line breaks too) collapsed, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + ELLIPSIS
    return f"{OPEN_QUOTE}{flat}{CLOSE_QUOTE}"


def listing(items: Sequence[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def person(value: str, name: str | None) -> str:
    """``"Sid Jha (+1 510 555 0101)"`` when the contact's name is known, else the number or address alone."""
    return f"{name} ({value})" if name and name.strip() and name.strip() != value.strip() else value


def day(date: dt.date) -> str:
    """``"Tuesday 2024-07-02"`` (English day names whatever the locale)."""
    return f"{_DAYS[date.weekday()]} {dt.date(date.year, date.month, date.day).isoformat()}"


def span(start: dt.datetime, end: dt.datetime) -> str:
    """``"on Tuesday 2024-07-02 from 10:00 to 11:00"``, or ``"from Tuesday … 22:00 to Wednesday … 01:00"``."""
    if start.date() == end.date():
        return f"on {day(start)} from {start:%H:%M} to {end:%H:%M}"
    return f"from {day(start)} {start:%H:%M} to {day(end)} {end:%H:%M}"


def due_phrase(due: dt.datetime | dt.date | None) -> str:
    """``"due Monday 2024-06-03 at 09:00"``, ``"due all day on Monday 2024-07-01"`` or ``"with no due date"``."""
    if due is None:
        return "with no due date"
    if isinstance(due, dt.datetime):
        return f"due {day(due)} at {due:%H:%M}"
    return f"due all day on {day(due)}"


def priority_word(priority: int) -> str:
    """Apple Reminders' reading of an iCalendar priority: 1-4 high, 5 medium, 6-9 low, 0 none (``""``)."""
    if priority <= 0:
        return ""
    return "high" if priority < 5 else "medium" if priority == 5 else "low"


def attachments_phrase(paths: Sequence[str]) -> str:
    """``"the attachment report.pdf"`` or ``"the attachments a.pdf and b.txt"`` (file names only)."""
    names = [PurePath(p).name for p in paths]
    return f"the attachment{'s' if len(names) > 1 else ''} {listing(names)}"


def thread_headers(thread: str) -> tuple[str, str, str]:
    """The sender's name, the sender's address and the subject from an email thread's header lines.

    ``thread`` is `MacDriver.selected_email`'s text: ``Header: value`` lines, a blank line, the body. Missing parts
    are ``""``.
    """
    headers: dict[str, str] = {}
    for line in thread.split("\n"):
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() not in headers:
            headers[key.strip().lower()] = value.strip()
    name, address = email.utils.parseaddr(headers.get("from", ""))
    return name.strip(), address.strip(), headers.get("subject", "")
