"""Smoke tests read the running local environment's layout; without one they stop at once."""

import pytest

from voiceops import local


@pytest.fixture(scope="session")
def layout():
    found = local.Layout.load()
    if found is None:
        pytest.fail(f"no local environment under {local.local_dir()}: run invoke local.up first")
    return found
