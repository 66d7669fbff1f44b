"""Shared fixtures: every test gets its own state directory (locks, audit, local data); the
AWS tests share one emulator (moto's server) per module."""

import http.client
import socket

import pytest
from moto.server import ThreadedMotoServer


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("VOICEOPS_STATE_DIR", str(state))
    return state


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def emulator():
    """moto's server, as the local environment runs it: its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def reset(endpoint: str) -> None:
    """Forget everything the emulator holds."""
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    connection.request("POST", "/moto-api/reset")
    assert connection.getresponse().status == 200
