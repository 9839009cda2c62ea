"""Helpers for the ToolRAG tests: a small deterministic bag-of-words embedder and a small toolset with examples.

The bag-of-words embedder is a real `Embedder` (texts sharing words are similar), just not a neural one: it lets the
retrieval logic be tested fast and exactly. Tests with the real all-MiniLM-L6-v2 model are in test_minilm.py.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from tinyplan import tool

_WORD = re.compile(r"[a-z]+")
_STOP = frozenset(
    ["a", "an", "and", "the", "to", "of", "for", "in", "on", "my", "me", "at", "is", "it", "with", "from", "by"]
)


class BagOfWordsEmbedder:
    """Hashes each (lower-case, non-stop) word into one of ``dimension`` buckets; rows are L2-normalised."""

    name = "test-bag-of-words"

    def __init__(self, dimension: int = 2048) -> None:
        self.dimension = dimension
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                if word not in _STOP:
                    out[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


@tool
def get_weather(city: str) -> str:
    """Get the weather forecast for a city.

    Args:
        city: The city name.
    """
    return f"sunny in {city}"


@tool
def send_email(recipient: str, subject: str, body: str) -> str:
    """Send an email message to a recipient.

    Args:
        recipient: Email address.
        subject: Subject line.
        body: Message body.
    """
    return "sent"


@tool
def get_email_address(name: str) -> str:
    """Look up the email address of a contact by name.

    Args:
        name: Contact name.
    """
    return f"{name.lower()}@example.com"


@tool
def create_calendar_event(title: str, start: str) -> str:
    """Create a calendar event (meeting, appointment) at a start time.

    Args:
        title: Event title.
        start: Start date and time.
    """
    return "created"


@tool
def convert_currency(amount: float, source: str, target: str) -> float:
    """Convert an amount of money from one currency to another.

    Args:
        amount: The amount.
        source: Currency code to convert from.
        target: Currency code to convert to.
    """
    return amount


EXAMPLES = [
    'Question: Email Anna the weather forecast for Paris.\n1. get_weather("Paris")\n2. get_email_address("Anna")\n'
    '3. send_email("$2", "Weather", "$1")\n4. join()<END_OF_PLAN>',
    "Question: Put a dentist appointment in my calendar tomorrow at 9.\n"
    '1. create_calendar_event("Dentist", "tomorrow 09:00")\n2. join()<END_OF_PLAN>',
    'Question: How many euros are 100 dollars?\n1. convert_currency(100, "USD", "EUR")\n2. join()<END_OF_PLAN>',
    'Question: Email Bob that the meeting moved.\n1. get_email_address("Bob")\n'
    '2. send_email("$1", "Meeting", "The meeting moved")\n3. join()<END_OF_PLAN>',
]
