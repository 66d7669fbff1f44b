"""Standing protection of the local servers: what a restore may use, produced before any failure.

`local.up` sets it up (idempotent) and it runs from then on, whatever else happens:
- PostgreSQL: a base backup (pg_basebackup) and the WAL streamed as it is written
  (pg_receivewal --synchronous, through a replication slot, so the server keeps WAL the
  stream has not received), both beside the data directory, not in it. A restore replays
  to the last WAL received: the RPO is the stream's lag, not a segment's fill time.
  A new base backup is taken when the newest is a day old.
- Redis: an RDB snapshot every REDIS_INTERVAL seconds (`redis-cli --rdb`, the replication
  snapshot), written outside Redis's directory;
- RabbitMQ: its definitions (users with password hashes, vhosts, queues, policies,
  bindings) every RABBITMQ_INTERVAL seconds. A single node's queued messages are not
  backed up: the ones not yet consumed when it is lost are lost, and a drill counts them;
- Secrets Manager: every entry with all its versions, stages and tags every
  SECRETS_INTERVAL seconds (the emulator keeps them in memory).

The snapshots run in one background process of ours (`python -m voiceops.protection`),
stopped with the servers by local.down. Each file is written under a temporary name and
renamed, so a reader never sees half a backup; the newest few of each kind are kept.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from voiceops import local

REDIS_INTERVAL = 1.0
# definitions and secrets change rarely, and each export costs an Erlang VM's start or a hundred calls
RABBITMQ_INTERVAL = 60.0
SECRETS_INTERVAL = 60.0
KEEP = 60  # a minute of Redis snapshots, an hour of definitions and secrets
BASE_BACKUP_MAX_AGE = 24 * 3600.0
SLOT = "voiceops_wal"
DAEMON_MODULE = "voiceops.protection"
STAMP = "%Y%m%dT%H%M%S.%fZ"


def snapshot_dir() -> Path:
    return local.local_dir() / "protection"


def postgres_dir() -> Path:
    """Beside PostgreSQL's data (where its system user can write), not inside it."""
    return local.pg_protection_dir()


@dataclass(frozen=True)
class Snapshot:
    path: Path
    taken: datetime

    @property
    def age(self) -> float:
        return (datetime.now(UTC) - self.taken).total_seconds()


def snapshots(kind: str) -> list[Snapshot]:
    """The backups of one kind (redis, rabbitmq, secrets), oldest first."""
    found = []
    for path in sorted((snapshot_dir() / kind).glob("*.*")):
        if path.name.startswith("."):
            continue
        with contextlib.suppress(ValueError):
            taken = datetime.strptime(path.name.rsplit(".", 1)[0], STAMP).replace(tzinfo=UTC)
            found.append(Snapshot(path, taken))
    return found


def newest(kind: str, before: datetime | None = None) -> Snapshot | None:
    """The newest backup of a kind, or the newest taken before a time (one from before a
    server came back empty)."""
    found = [item for item in snapshots(kind) if before is None or item.taken < before]
    return found[-1] if found else None


def _keep(kind: str, taken: datetime, write: Callable[[Path], None], suffix: str) -> Path:
    """Write one backup through a temporary name, then drop all but the newest KEEP."""
    directory = snapshot_dir() / kind
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = directory / f"{taken.strftime(STAMP)}.{suffix}"
    staged = directory / f".{final.name}.partial"
    try:
        write(staged)
        staged.chmod(0o600)
        staged.replace(final)
    finally:
        staged.unlink(missing_ok=True)
    for old in snapshots(kind)[:-KEEP]:
        old.path.unlink(missing_ok=True)
    return final


# ------------------------------------------------------------------- snapshots


# What the last secrets backup saw: an unchanged store is not backed up again (its newest
# backup still holds its state); reading every version costs a hundred calls.
_last_seen: dict[str, object] = {}


def _unchanged(kind: str, state: object) -> bool:
    if _last_seen.get(kind) == state and newest(kind) is not None:
        return True
    _last_seen[kind] = state
    return False


@functools.cache
def _redis_cli() -> str:
    return local.binary("redis-cli")  # once: each lookup reads the tool manifest


def backup_redis(layout: local.Layout) -> Path:
    """Every turn, changed or not: a snapshot's time must bound what it holds (every write
    acknowledged before it is in it), which a skipped turn would leave behind."""
    taken = datetime.now(UTC)  # the snapshot forks just after: its data is at least this new

    def write(path: Path) -> None:
        env = {"REDISCLI_AUTH": layout.credentials["redis/admin"], "PATH": "/usr/bin:/bin"}
        server = ["-h", local.HOST, "-p", str(layout.ports["redis"]), "--user", "admin", "--no-auth-warning"]
        local.run([_redis_cli(), *server, "--rdb", str(path)], "redis-cli --rdb", env=env)

    return _keep("redis", taken, write, "rdb")


def backup_rabbitmq(layout: local.Layout) -> Path:
    taken = datetime.now(UTC)
    return _keep("rabbitmq", taken, lambda path: local._ctl(layout, "export_definitions", str(path)), "json")


def backup_secrets(layout: local.Layout) -> Path | None:
    taken = datetime.now(UTC)
    manager = local.aws_client(layout, "secretsmanager")
    listed = [
        entry for page in manager.get_paginator("list_secrets").paginate() for entry in page["SecretList"]
    ]
    state = [(e["Name"], e.get("SecretVersionsToStages"), e.get("Tags")) for e in listed]
    if _unchanged("secrets", json.dumps(state, sort_keys=True)):
        return None
    document: dict[str, dict] = {}
    for entry in listed:
        name = entry["Name"]
        versions = []
        for version, stages in entry.get("SecretVersionsToStages", {}).items():
            value = manager.get_secret_value(SecretId=name, VersionId=version)
            versions.append({"id": version, "stages": stages, "string": value.get("SecretString")})
        document[name] = {"tags": entry.get("Tags", []), "versions": versions}
    try:
        return _keep("secrets", taken, lambda path: path.write_text(json.dumps(document, indent=1)), "json")
    except Exception:
        _last_seen.pop("secrets", None)
        raise


SCHEDULE: dict[str, tuple[float, Callable[[local.Layout], Path | None]]] = {
    "redis": (REDIS_INTERVAL, backup_redis),
    "rabbitmq": (RABBITMQ_INTERVAL, backup_rabbitmq),
    "secrets": (SECRETS_INTERVAL, backup_secrets),
}


def run_schedule(stopping: threading.Event) -> None:
    """The background process: each kind on its own thread, so a slow one (rabbitmqctl takes
    a second or more) never delays Redis's. A failed backup (its server is down) is logged
    and retried at the next turn."""
    log = snapshot_dir() / "log"

    def every(kind: str, interval: float, backup: Callable[[local.Layout], Path | None]) -> None:
        while not stopping.is_set():
            started = time.monotonic()
            layout = local.Layout.load()  # credentials and ports change (rotation, moved ports)
            try:
                if layout is not None:
                    backup(layout)
            except Exception as error:  # its server down or restarting
                with log.open("a") as handle:
                    handle.write(f"{datetime.now(UTC).isoformat()} {kind}: {error}\n")
            stopping.wait(max(0.0, interval - (time.monotonic() - started)))

    threads = [
        threading.Thread(target=every, args=(kind, *entry), daemon=True) for kind, entry in SCHEDULE.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ------------------------------------------------------------------ PostgreSQL


def _pg_tool(name: str) -> str:
    return str(Path(local.binary("postgres")).parent / name)


def _pg_env(layout: local.Layout) -> dict[str, str]:
    return local.server_env({"PGPASSWORD": layout.credentials["postgres/admin"]})


def _pg_connection(layout: local.Layout) -> list[str]:
    return ["-h", local.HOST, "-p", str(layout.ports["postgres"]), "-U", "postgres"]


def wal_stream_running() -> bool:
    return bool(local.owned_processes().get("wal-stream"))


def start_wal_stream(layout: local.Layout) -> str:
    if wal_stream_running():
        return "streaming"
    user = local._postgres_user()
    wal = postgres_dir() / "wal"
    for directory in (postgres_dir(), wal):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if user:
            shutil.chown(directory, user)
    env, connection = _pg_env(layout), _pg_connection(layout)
    local.run([_pg_tool("pg_receivewal"), *connection, f"--slot={SLOT}", "--create-slot", "--if-not-exists"],
              "pg_receivewal --create-slot", env=env, user=user)  # fmt: skip
    command = [_pg_tool("pg_receivewal"), *connection, "-D", str(wal), f"--slot={SLOT}", "--synchronous"]
    if user:
        command = ["runuser", "-u", user, "--", *command]
    log = (postgres_dir() / "wal-stream.log").open("a")
    subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    local.wait_for(wal_stream_running, "pg_receivewal", timeout=10)
    return "started"


def stop_wal_stream() -> None:
    """SIGINT: pg_receivewal flushes what it received and leaves its `.partial` segment."""
    local.stop_kind("wal-stream", signal.SIGINT, timeout=10)


def base_backup() -> Path | None:
    base = postgres_dir() / "base"
    return base if (base / "backup_manifest").is_file() else None


def take_base_backup(layout: local.Layout) -> str:
    """A new base backup beside the old one, swapped in when complete (the daily schedule's)."""
    user = local._postgres_user()
    staged, base, old = (postgres_dir() / name for name in ("base.new", "base", "base.old"))
    for leftover in (staged, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    started = time.monotonic()
    local.run([_pg_tool("pg_basebackup"), *_pg_connection(layout), "-D", str(staged), "-X", "stream",
               "-c", "fast"], "pg_basebackup", env=_pg_env(layout), user=user)  # fmt: skip
    if base.exists():
        base.replace(old)
    staged.replace(base)
    if old.exists():
        shutil.rmtree(old)
    return f"base backup taken ({time.monotonic() - started:.1f}s)"


def protect_postgres(layout: local.Layout) -> str:
    streaming = start_wal_stream(layout)
    current = base_backup()
    if current is None or time.time() - (current / "backup_manifest").stat().st_mtime > BASE_BACKUP_MAX_AGE:
        return f"WAL {streaming}, {take_base_backup(layout)}"
    return f"WAL {streaming}, base backup of {_age(current / 'backup_manifest')} ago"


def restart_postgres_protection(layout: local.Layout) -> str:
    """After a restore (a new timeline, no slot): a new generation of protection, the old one
    removed once the new one holds a base backup."""
    stop_wal_stream()
    current, previous = postgres_dir(), postgres_dir().with_name("protection.previous")
    if previous.exists():
        shutil.rmtree(previous)
    if current.exists():
        current.replace(previous)
    detail = protect_postgres(layout)
    shutil.rmtree(previous, ignore_errors=True)
    return detail


def _age(path: Path) -> str:
    return f"{time.time() - path.stat().st_mtime:.0f}s"


# ------------------------------------------------------------------ lifecycle


def daemon_running() -> bool:
    return bool(local.owned_processes().get("protection"))


def start_daemon() -> str:
    if daemon_running():
        return "running"
    snapshot_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    log = (snapshot_dir() / "log").open("a")
    subprocess.Popen([sys.executable, "-m", DAEMON_MODULE], env=local.server_env(), stdout=log,
                     stderr=subprocess.STDOUT, start_new_session=True, cwd=local.local_dir())  # fmt: skip
    local.wait_for(daemon_running, "the protection process", timeout=10)
    return "started"


def ensure(layout: local.Layout) -> str:
    """Set up the standing protection (idempotent)."""
    return f"postgres {protect_postgres(layout)}; snapshots of redis, rabbitmq, secrets {start_daemon()}"


def up(report: Callable[[str], None] = print) -> local.Layout:
    """`invoke local.up`: the servers (local.up), then their standing protection."""
    layout = local.up(report)
    started = time.monotonic()
    report(f"protection: {ensure(layout)} ({time.monotonic() - started:.1f}s)")
    return layout


if __name__ == "__main__":
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    run_schedule(stopping)
