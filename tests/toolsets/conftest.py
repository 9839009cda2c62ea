"""Fixtures for the Mac toolset tests: a fresh copy of the sample home and a portable toolset over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyplan import Toolset
from tinyplan.toolsets.mac import copy_sample_home, mac_toolset


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return copy_sample_home(tmp_path / "home")


@pytest.fixture
def tools(home: Path) -> Toolset:
    return mac_toolset(home, driver="portable")
