"""Credentials the local environment generates."""

from voiceops import local


def test_generated_passwords_never_look_like_options():
    passwords = [local.new_password() for _ in range(2000)]
    assert all(password.isalnum() and len(password) == 32 for password in passwords)
    assert len(set(passwords)) == len(passwords)
