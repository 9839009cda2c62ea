"""Input coercion as TinyAgent does it: names become addresses and numbers, ISO texts become dates."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence

from tinyplan.toolsets.mac._driver import ContactValue, MacDriver
from tinyplan.toolsets.mac._errors import DateFormatError, ToolInputError
from tinyplan.toolsets.mac.contacts import contact_key

__all__ = [
    "TRANSPORTS",
    "ensure_emails",
    "ensure_phone_numbers",
    "event_times",
    "look_up_contact",
    "parse_date",
    "parse_transport",
]

_DATE_HELP = "use ISO format 'YYYY-MM-DD HH:MM:SS' (or 'YYYY-MM-DD')"
_DIGIT = re.compile(r"\d")

#: Apple Maps ``dirflg`` values: driving, walking, public transit (accepted spelled out too).
TRANSPORTS = {
    "d": "d",
    "driving": "d",
    "drive": "d",
    "car": "d",
    "w": "w",
    "walking": "w",
    "walk": "w",
    "r": "r",
    "transit": "r",
    "public transit": "r",
}


def parse_date(text: str | None, what: str) -> dt.datetime | None:
    """Read an ISO date (``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DD HH:MM``, ``YYYY-MM-DDTHH:MM:SS`` or ``YYYY-MM-DD``).

    A date without a time is midnight. A time-zone offset is dropped after converting to local time.

    Returns:
        The naive local datetime, or None for an empty text (and for ``None``/``"None"``, which models write).

    Raises:
        DateFormatError: The text is not an ISO date.
    """
    if text is None:
        return None
    stripped = text.strip()
    if not stripped or stripped.lower() in ("none", "null"):
        return None
    try:
        value = dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise DateFormatError(f"{what} {text!r} is not a date: {_DATE_HELP}") from None
    if value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return value


def event_times(start_date: str | None, end_date: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The start and end of an event, as TinyAgent fills them in.

    A missing end is start + 1 hour; a missing start is end - 1 hour.

    Raises:
        DateFormatError: A date is malformed, both are missing, or the end is before the start.
    """
    start = parse_date(start_date, "start_date")
    end = parse_date(end_date, "end_date")
    if start is None and end is None:
        raise DateFormatError(f"start_date is required: {_DATE_HELP}")
    if end is None:
        assert start is not None
        end = start + dt.timedelta(hours=1)
    elif start is None:
        start = end - dt.timedelta(hours=1)
    if end < start:
        raise DateFormatError(f"end_date {end_date!r} is before start_date {start_date!r}")
    return start, end


def parse_transport(transport: str | None) -> str:
    """Map a transport mode to Apple Maps' ``dirflg`` (``d``, ``w`` or ``r``); empty means driving.

    Raises:
        ToolInputError: An unknown mode.
    """
    key = (transport or "").strip().lower()
    if not key or key == "none":
        return "d"
    if key not in TRANSPORTS:
        raise ToolInputError(f"unknown transport {transport!r}: use 'd' (driving), 'w' (walking) or 'r' (transit)")
    return TRANSPORTS[key]


async def ensure_emails(
    values: Sequence[str], driver: MacDriver, *, names: MutableMapping[str, str] | None = None
) -> tuple[str, ...]:
    """Email addresses for ``values``: an entry with ``@`` is kept, any other is a contact name looked up.

    Blank entries are dropped (models write ``[""]`` for "nobody").

    Args:
        values: Addresses or contact names.
        driver: Looks the names up.
        names: When given, each looked-up address is recorded in it (``contact_key(address)`` → the contact's name).

    Raises:
        ContactNotFoundError: A name matches no contact with an email address.
    """
    return await _ensure_contacts(values, lambda text: "@" in text, driver.email_address, names)


async def ensure_phone_numbers(
    values: Sequence[str], driver: MacDriver, *, names: MutableMapping[str, str] | None = None
) -> tuple[str, ...]:
    """Phone numbers for ``values``: an entry with a digit is kept, any other is a contact name looked up.

    Args:
        values: Phone numbers or contact names.
        driver: Looks the names up.
        names: When given, each looked-up number is recorded in it (``contact_key(number)`` → the contact's name).

    Raises:
        ContactNotFoundError: A name matches no contact with a phone number.
    """
    return await _ensure_contacts(values, lambda text: _DIGIT.search(text) is not None, driver.phone_number, names)


async def look_up_contact(
    name: str, lookup: Callable[[str], Awaitable[ContactValue]], names: MutableMapping[str, str] | None
) -> str:
    """The value ``lookup`` finds for the contact ``name``, recorded in ``names`` (``contact_key(value)`` → name).

    Raises:
        ContactNotFoundError: ``lookup`` found no such contact.
    """
    found = await lookup(name)
    if names is not None:
        names[contact_key(found.value)] = found.name
    return found.value


async def _ensure_contacts(
    values: Sequence[str],
    is_value: Callable[[str], bool],
    lookup: Callable[[str], Awaitable[ContactValue]],
    names: MutableMapping[str, str] | None,
) -> tuple[str, ...]:
    """``values`` stripped, blanks dropped: an entry ``is_value`` accepts is kept, any other is looked up."""
    out: list[str] = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        out.append(text if is_value(text) else await look_up_contact(text, lookup, names))
    return tuple(out)
