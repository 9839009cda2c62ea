"""Fixtures for the ToolRAG tests (helpers in rag_helpers.py)."""

from __future__ import annotations

import pytest
from rag_helpers import (
    EXAMPLES,
    BagOfWordsEmbedder,
    convert_currency,
    create_calendar_event,
    get_email_address,
    get_weather,
    send_email,
)

from tinyplan import Toolset


@pytest.fixture
def embedder() -> BagOfWordsEmbedder:
    return BagOfWordsEmbedder()


@pytest.fixture
def toolset() -> Toolset:
    return Toolset(
        [get_weather, send_email, get_email_address, create_calendar_event, convert_currency], examples=EXAMPLES
    )
