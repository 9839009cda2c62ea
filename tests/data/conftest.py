"""Shared fixtures of the data pipeline tests: the Mac toolset (schemas only) and its synthesis profile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tinyplan import Toolset
from tinyplan.data import MacSandbox, SynthProfile, mac_profile


@pytest.fixture(scope="session")
def mac_tools() -> Toolset:
    from tinyplan.toolsets.mac import mac_toolset, sample_home_path

    return mac_toolset(sample_home_path(), driver="portable")


@pytest.fixture(scope="session")
def mac_synth_profile() -> Iterator[SynthProfile]:
    profile = mac_profile()
    yield profile
    if isinstance(profile.sandbox, MacSandbox):
        profile.sandbox.close()
