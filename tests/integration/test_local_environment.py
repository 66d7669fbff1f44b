"""The local environment against real servers: up, smoke, idempotence, crash recovery,
a taken port, data kept across down/up. Servers run under a fresh state directory."""

import os
import signal
import socket
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest

from voiceops import environments, local, smoke

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def environment():
    # World-traversable: as root, PostgreSQL runs as the postgres user and must reach its data.
    state = Path(tempfile.mkdtemp(prefix="voiceops-it-"))
    state.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    previous = os.environ.get("VOICEOPS_STATE_DIR")
    os.environ["VOICEOPS_STATE_DIR"] = str(state)
    try:
        yield local.up(report=lambda line: None)
    finally:
        local.down(keep_data=False, report=lambda line: None)
        if previous is None:
            os.environ.pop("VOICEOPS_STATE_DIR")
        else:
            os.environ["VOICEOPS_STATE_DIR"] = previous


def states():
    return {s.name: s.state for s in local.status()}


def test_all_servers_run_and_smoke_tests_pass(environment):
    assert set(states().values()) == {"running"}
    assert "passed" in smoke.run_smoke(environments.load("local"))


def test_up_again_changes_nothing(environment):
    lines = []
    again = local.up(report=lines.append)
    assert again.ports == environment.ports
    assert again.credentials == environment.credentials
    assert all("already running" in line for line in lines[:3]), lines


def test_a_crashed_server_shows_in_status_and_up_recovers_it(environment):
    pid = int((local.local_dir() / "redis" / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    local.wait_for(lambda: not local.redis_running(), "redis to die", timeout=10)
    assert states()["redis"] == "stopped"
    lines = []
    local.up(report=lines.append)
    assert any(line.startswith("redis: started") for line in lines)
    assert states()["redis"] == "running"


def test_data_survives_down_and_up(environment):
    secret = local.read_secret(environment, "postgres/api")
    params = {k: secret[k] for k in ("host", "port", "password", "dbname")} | {"user": secret["username"]}
    with psycopg.connect(**params, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS kept (id int)")
        connection.execute("INSERT INTO kept VALUES (1)")
    local.down(keep_data=True, report=lambda line: None)
    assert set(states().values()) == {"stopped"}
    local.up(report=lambda line: None)
    with psycopg.connect(**params) as connection:
        assert connection.execute("SELECT count(*) FROM kept").fetchone()[0] >= 1


def test_a_port_taken_by_another_program_is_moved(environment):
    local.down(keep_data=True, report=lambda line: None)
    taken = environment.ports["moto"]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        lines = []
        moved = local.up(report=lines.append)
        assert moved.ports["moto"] != taken
        # other ports may move too (one freed a moment ago can still be held); moto must be named
        reports = [line.split("moved:", 1)[1] for line in lines if "moved:" in line]
        assert reports and "moto" in reports[0].replace(" ", "").split(",")
    assert "passed" in smoke.run_smoke(environments.load("local"))
