"""Shared fixtures: every test gets its own state directory (locks, audit, local data)."""

import pytest


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("VOICEOPS_STATE_DIR", str(state))
    return state
