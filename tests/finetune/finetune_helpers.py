"""A three-tool toolset and a handful of plans the tiny model cannot know, for the fine-tuning tests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tinyplan import tool
from tinyplan._tools import as_toolset

DAY = dt.date(2026, 1, 1)


@tool
def get_phone_number(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    return "+1 555 0101"


@tool
def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message.

    Args:
        recipients: Phone numbers.
        message: The text.
    """
    return "sent"


@tool
def create_reminder(name: str, due_date: str) -> str:
    """Create a reminder.

    Args:
        name: What to be reminded of.
        due_date: When, as 'YYYY-MM-DD HH:MM:SS'.
    """
    return "ok"


tools = as_toolset([get_phone_number, send_sms, create_reminder])

PLANS: list[tuple[str, str]] = [
    (
        "Text Zorblat that the zeppelin lands at noon",
        '1. get_phone_number("Zorblat")\n2. send_sms(["$1"], "The zeppelin lands at noon")\n3. join()',
    ),
    (
        "Remind me to water the cactus Quixote on 2026-03-04 at 08:15",
        '1. create_reminder("Water the cactus Quixote", "2026-03-04 08:15:00")\n2. join()',
    ),
    (
        "Tell Mirelle and Oskarine that the gnome parade is cancelled",
        '1. get_phone_number("Mirelle")\n2. get_phone_number("Oskarine")\n'
        '3. send_sms(["$1", "$2"], "The gnome parade is cancelled")\n4. join()',
    ),
    (
        "Remind me to feed the axolotl on 2026-05-06 at 19:30",
        '1. create_reminder("Feed the axolotl", "2026-05-06 19:30:00")\n2. join()',
    ),
]


def write_bank(path: Path, *, validation: bool = False) -> Path:
    """The plans as synthesized examples (``request``, ``plan``, ``split``), one JSON object per line."""
    lines = [json.dumps({"request": r, "plan": p, "split": "train"}) for r, p in PLANS]
    if validation:
        lines.append(json.dumps({"request": PLANS[0][0], "plan": PLANS[0][1], "split": "validation"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
