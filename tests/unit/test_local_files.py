"""Credentials and file locations of the local environment."""

import shutil
import tempfile
from pathlib import Path

import pytest

from voiceops import local


def test_generated_passwords_never_look_like_options():
    passwords = [local.new_password() for _ in range(2000)]
    assert all(password.isalnum() and len(password) == 32 for password in passwords)
    assert len(set(passwords)) == len(passwords)


def test_a_private_parent_directory_hides_the_state_from_other_users():
    """As root, PostgreSQL runs as `postgres`: it must be able to traverse the state directory's parents."""
    root = Path(tempfile.mkdtemp())  # not below pytest's own 0700 directory
    try:
        private = root / "private"
        state = private / "checkout" / ".state" / "local"
        state.mkdir(parents=True)
        root.chmod(0o755)
        private.chmod(0o700)
        assert not local._reachable_by("nobody", state)
        private.chmod(0o755)
        assert local._reachable_by("nobody", state)
    finally:
        shutil.rmtree(root)


def test_a_server_that_does_not_come_up_is_one_line_ending_with_its_log(tmp_path):
    log = tmp_path / "log"
    log.write_text("Server initialized\nCould not create server TCP listening socket: bind: in use\n\n")
    with pytest.raises(local.LocalError, match=r"did not come up within 0s .*its log ends: Could not create"):
        local.wait_for(lambda: False, "redis-server", timeout=0.05, log=log)
