"""Disaster-recovery drills: destroy a server for real, restore it from the standing protection
alone (voiceops/protection.py), and measure what came back.

A drill is phases with timestamps:
- prepare: a small data set is in place and fingerprinted (counts and checksums), the
  standing protection holds it, then a canary writer starts committing sequence-numbered,
  timestamped writes at a steady rate and keeps the ones the server acknowledged;
- fail: the server is killed (SIGKILL) and its data directory deleted;
- restore: from the standing protection only; nothing is backed up or copied once the
  canary has started, so the RPO measured is the one a real failure would see;
- verify: the canary's acknowledged writes against those that came back, and the data
  set's fingerprint against the one taken before;
- report: Markdown and JSON, one pair per drill, under <state>/reports/dr/.

RTO is failure injected -> service verified. RPO is the age, at the failure, of the last
acknowledged canary write that came back. The drill fails when an acknowledged write older
than that is lost (a gap, not a tail), when the data set differs, or when a target is missed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voiceops import cloud_drills, cluster, environments, local, protection, terraform, velero_drill
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.runs import Run, RunIncomplete, Step, git_commit
from voiceops.toolchain import state_dir

SCENARIOS = ("database-failure", "cache-failure", "broker-failure", "cluster-failure", "region-failover")
DRILL_ID = re.compile(r"[0-9a-f]{12}")
# what an AWS drill restores, and from what (voiceops/cloud_drills.py)
CLOUD_SERVERS = {
    "database-failure": "RDS PostgreSQL", "cache-failure": "ElastiCache Redis", "broker-failure": "RabbitMQ",
    "cluster-failure": "RabbitMQ restored by Velero into a scratch namespace",
    "region-failover": "RDS PostgreSQL in the recovery region",
}  # fmt: skip
CLOUD_PROTECTION = {
    "database-failure": "RDS automated backups (point-in-time restore)",
    "cache-failure": "ElastiCache daily snapshots", "broker-failure": "quorum queues",
    "cluster-failure": "Velero daily backups",
    "region-failover": "the RDS cross-region replica and S3 replication",
}  # fmt: skip
CANARY_INTERVAL = 0.02  # 50 acknowledged writes a second
CANARY_SECONDS = 1.0  # how long the canary writes before the failure
DATASET_ROWS = 10_000
RECOVERY_TIMEOUT_SECONDS = 3600.0  # a restore replays every archived WAL segment before it serves writes
DATASET_KEYS = 1_000
# the drill's own tables, in the admin database (the canary's rows are kept out of the checksums)
CANARY_TABLE = "voiceops_drill.canary"


class DrillFailed(OpsError):
    pass


def reports_dir() -> Path:
    return state_dir() / "reports" / "dr"


# ------------------------------------------------------------------------- canary


Writer = Callable[[int, float], None]  # (sequence, time written): returns once acknowledged


class Canary:
    """Writes (seq, time) at a steady rate on its own thread and keeps what was acknowledged.

    `connect` runs on that thread and returns the write function (its connection stays
    there); the first failed write ends the canary: its server is gone."""

    def __init__(
        self, connect: Callable[[], Callable[[int, float], None]], interval: float = CANARY_INTERVAL
    ):
        self.acknowledged: dict[int, float] = {}
        self.error = ""
        self._connect, self._interval = connect, interval
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self.error:
            raise DrillFailed(f"the canary could not start: {self.error}")

    def _run(self) -> None:
        try:
            write = self._connect()
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
            self._ready.set()
            return
        self._ready.set()
        sequence = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            sequence += 1
            written_at = time.time()
            try:
                write(sequence, written_at)
            except Exception as error:  # the failure: what was not acknowledged is not kept
                self.error = f"{type(error).__name__}: {error}".splitlines()[0]
                return
            if self._stop.is_set():  # acknowledged after the failure (a client's retry): not counted
                return
            self.acknowledged[sequence] = written_at
            next_at += self._interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        """At the failure: no write acknowledged from now on counts."""
        self._stop.set()

    def join(self) -> None:
        self._thread.join(60)


@dataclass
class CanaryResult:
    acknowledged: int
    returned: int
    lost: int
    lost_older_than_rpo: int  # acknowledged writes lost although a later one came back: a gap
    last_acknowledged_age: float | None  # seconds before the failure
    rpo_seconds: float | None


def measure(acknowledged: dict[int, float], returned: set[int], failed_at: float) -> CanaryResult:
    """RPO: how old, at the failure, the newest acknowledged write that came back was."""
    back = [sequence for sequence in acknowledged if sequence in returned]
    lost = [sequence for sequence in acknowledged if sequence not in returned]
    newest_back = max((acknowledged[sequence] for sequence in back), default=None)
    gaps = [
        sequence for sequence in lost if newest_back is not None and acknowledged[sequence] <= newest_back
    ]
    last = max(acknowledged.values(), default=None)
    return CanaryResult(
        acknowledged=len(acknowledged),
        returned=len(back),
        lost=len(lost),
        lost_older_than_rpo=len(gaps),
        last_acknowledged_age=None if last is None else round(failed_at - last, 3),
        rpo_seconds=None if newest_back is None else round(max(0.0, failed_at - newest_back), 3),
    )


# ------------------------------------------------------------------ the servers


def _digest(items: object) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()[:16]


class StoreDrill:
    """One server's drill (and restore) on `local`; subclasses name the server and its data."""

    server = ""  # the kind of its processes (local.owned_processes)
    label = ""
    protected_by = ""

    def __init__(self, layout: local.Layout, drill_id: str) -> None:
        self.layout, self.drill_id = layout, drill_id

    def data_path(self) -> Path: ...
    def prepare(self) -> str: ...
    def connect_canary(self) -> Writer: ...
    def restore(self, before: datetime | None = None) -> str: ...
    def returned(self) -> set[int]: ...
    def fingerprint(self) -> dict[str, str]: ...
    def reprotect(self) -> str: ...
    def clean(self) -> None: ...

    # how long the canary writes before the failure: long enough for the standing protection
    # to take one backup holding canary writes, when its schedule is what the RPO depends on
    canary_seconds = CANARY_SECONDS

    def start_canary(self) -> None:
        """For a canary that needs more than a writer (the broker's consumer)."""

    def stop_canary(self) -> None:
        """Counterpart of start_canary."""

    def fail(self) -> str:
        killed = local.stop_kind(self.server, signal.SIGKILL)
        shutil.rmtree(self.data_path())
        return f"killed {killed} {self.label} process(es), deleted {self.data_path()}"

    def set_aside(self, force: bool) -> str:
        """Before a restore outside a drill: stop the server (only with force when it runs) and
        move its data aside, kept for a post-mortem, never deleted."""
        if local.owned_processes().get(self.server):
            if not force:
                raise OpsError(
                    f"{self.label} is running: a restore replaces its data with the standing protection's "
                    "(pass --force to stop it and set its data aside)"
                )
            local.stop_kind(self.server, signal.SIGKILL)
        data = self.data_path()
        if not data.exists():
            return f"{self.label} stopped; no data directory left"
        aside = data.with_name(f"{data.name}.damaged-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")
        data.replace(aside)
        return f"{self.label} stopped; its data kept in {aside}"


class DatabaseDrill(StoreDrill):
    """PostgreSQL: base backup plus the streamed WAL, replayed to its end."""

    server = "postgres"
    label = "PostgreSQL"
    protected_by = "base backup + WAL streamed by pg_receivewal"

    def _connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host=local.HOST, port=self.layout.ports["postgres"], user="postgres", dbname=database,
            password=self.layout.credentials["postgres/admin"], autocommit=True, connect_timeout=5,
        )  # fmt: skip

    def prepare(self) -> str:
        if protection.base_backup() is None or not protection.wal_stream_running():
            raise RunIncomplete("local: PostgreSQL has no standing protection (invoke local.up sets it up)")
        with self._connect() as admin:
            admin.execute("CREATE SCHEMA IF NOT EXISTS voiceops_drill")
            admin.execute("CREATE TABLE IF NOT EXISTS voiceops_drill.canary (drill text, seq bigint, "
                          "written_at double precision, PRIMARY KEY (drill, seq))")  # fmt: skip
            admin.execute(
                "CREATE TABLE IF NOT EXISTS voiceops_drill.dataset (id int PRIMARY KEY, payload text)"
            )
            admin.execute("INSERT INTO voiceops_drill.dataset SELECT n, md5(n::text) FROM "
                          "generate_series(1, %s) n ON CONFLICT DO NOTHING", (DATASET_ROWS,))  # fmt: skip
        age = time.time() - (protection.postgres_dir() / "base" / "backup_manifest").stat().st_mtime
        return f"data set in place; base backup of {age:.0f}s ago, WAL streaming"

    def connect_canary(self) -> Writer:
        connection = self._connect()
        return lambda sequence, at: connection.execute(
            "INSERT INTO voiceops_drill.canary VALUES (%s, %s, %s)", (self.drill_id, sequence, at)
        )

    def data_path(self) -> Path:
        return local._pg_paths()[0]

    def restore(self, before: datetime | None = None) -> str:
        """To the end of the streamed WAL, or to the last commit before `before` (PITR)."""
        protection.stop_wal_stream()  # it holds the last WAL received; its partial segment is final
        base = protection.base_backup()
        if base is None:
            raise DrillFailed("no base backup to restore from")
        data, home = local._pg_paths()
        user = local._postgres_user()
        for stale in home.glob(".s.PGSQL.*"):  # the killed server's socket lock
            stale.unlink()
        size = sum(path.stat().st_size for path in base.rglob("*") if path.is_file())
        started = time.monotonic()
        local.run(["cp", "-a", str(base), str(data)], "copy the base backup", user=user)
        copy_seconds = time.monotonic() - started
        wal = protection.postgres_dir() / "wal"
        partials = sorted(wal.glob("*.partial"))
        if partials:  # the segment being streamed: replayed from pg_wal, as recovery reads it
            target = data / "pg_wal" / partials[-1].name.removesuffix(".partial")
            shutil.copyfile(partials[-1], target)
            if user:
                shutil.chown(target, user)
        signal_file = data / "recovery.signal"
        signal_file.touch()
        if user:
            shutil.chown(signal_file, user)
        recovery = {"restore_command": f'cp {wal}/%f "%p"', "recovery_target_timeline": "latest"}
        if before is not None:
            recovery |= {"recovery_target_time": before.isoformat(), "recovery_target_inclusive": "off",
                         "recovery_target_action": "promote"}  # fmt: skip
        with (data / "postgresql.auto.conf").open("a") as settings:
            settings.writelines(f"{name} = '{value}'\n" for name, value in recovery.items())
        local.start_postgres(self.layout)
        # the server takes read-only connections while it replays: the recovery settings stay
        # until it has promoted (reset earlier, replay would stop without the archived WAL)
        with self._connect() as admin:
            deadline = time.monotonic() + RECOVERY_TIMEOUT_SECONDS
            while admin.execute("SELECT pg_is_in_recovery()").fetchone() == (True,):
                if time.monotonic() > deadline:
                    raise DrillFailed(f"PostgreSQL still replays WAL after {RECOVERY_TIMEOUT_SECONDS:.0f}s")
                time.sleep(0.2)
            for name in recovery:
                admin.execute(f"ALTER SYSTEM RESET {name}")
            admin.execute("SELECT pg_reload_conf()")
        # roles are data: credentials rotated after the recovery point come from the secret store
        local.servers(self.layout).by_kind["postgres"].converge(local.valid_accounts(self.layout)["postgres"])
        self.throughput = size / 1e6 / max(copy_seconds, 1e-3)
        return (f"base backup ({size / 1e6:.0f} MB at {self.throughput:.0f} MB/s), then the streamed WAL "
                f"replayed ({len(list(wal.glob('0*')))} segment(s) on hand)")  # fmt: skip

    def returned(self) -> set[int]:
        with self._connect() as admin:
            rows = admin.execute("SELECT seq FROM voiceops_drill.canary WHERE drill = %s", (self.drill_id,))
            return {row[0] for row in rows}

    def fingerprint(self) -> dict[str, str]:
        """Each database's tables (rows and a checksum, the canary's aside) and the roles with
        their password hashes: rotated credentials must come back too."""
        from psycopg import sql

        found = {}
        with self._connect() as admin:
            listed = admin.execute("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate")
            databases = sorted(row[0] for row in listed)
            roles = admin.execute("SELECT rolname, rolpassword FROM pg_authid ORDER BY 1").fetchall()
            found["roles"] = f"{len(roles)} roles, {_digest(roles)}"
        for database in databases:
            with self._connect(database) as connection:
                tables = connection.execute(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
                ).fetchall()
                for (table,) in tables:
                    if table == CANARY_TABLE:
                        continue
                    # a row's hash summed: independent of order, one pass over a large table
                    query = sql.SQL(
                        "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0) FROM {} t"
                    ).format(sql.SQL(table))  # quoted by quote_ident above
                    count, checksum = connection.execute(query).fetchone()
                    found[f"{database}.{table}"] = f"{count} rows, {checksum}"
        return found

    def reprotect(self) -> str:
        return protection.restart_postgres_protection(self.layout)

    def clean(self) -> None:
        with self._connect() as admin:
            admin.execute("DELETE FROM voiceops_drill.canary WHERE drill = %s", (self.drill_id,))


class CacheDrill(StoreDrill):
    """Redis: the newest RDB snapshot, loaded as the base of a new append-only file."""

    server = "redis"
    label = "Redis"
    protected_by = f"RDB snapshots every {protection.REDIS_INTERVAL:.0f}s"
    canary_seconds = 2 * protection.REDIS_INTERVAL + 0.5

    def _client(self):
        return local._redis_admin(self.layout)

    @property
    def canary_key(self) -> str:
        return f"drill:canary:{self.drill_id}"

    def prepare(self) -> str:
        client = self._client()
        with client.pipeline(transaction=False) as pipeline:
            for number in range(DATASET_KEYS):
                pipeline.set(f"drill:dataset:{number}", hashlib.sha256(str(number).encode()).hexdigest())
            pipeline.execute()
        written = datetime.now(UTC)
        # the schedule's next snapshot holds the data set: waiting for it copies nothing

        def snapshot_after() -> bool:
            snapshot = protection.newest("redis")
            return snapshot is not None and snapshot.taken > written

        local.wait_for(
            snapshot_after, "a Redis snapshot holding the data set", timeout=6 * protection.REDIS_INTERVAL
        )
        return f"data set in place; snapshots every {protection.REDIS_INTERVAL:.0f}s"

    def connect_canary(self) -> Writer:
        client = self._client()
        return lambda sequence, at: client.xadd(self.canary_key, {"seq": sequence, "at": at})

    def data_path(self) -> Path:
        return local._redis_dir()

    def restore(self, before: datetime | None = None) -> str:
        snapshot = protection.newest("redis", before)
        if snapshot is None:
            raise DrillFailed("no Redis snapshot to restore from")
        aof = local._redis_dir() / "appendonlydir"
        aof.mkdir(parents=True)
        shutil.copyfile(snapshot.path, aof / "appendonly.aof.1.base.rdb")
        (aof / "appendonly.aof.manifest").write_text("file appendonly.aof.1.base.rdb seq 1 type b\n")
        # the configuration and the ACL users come from the code and the secret store
        local.start_redis(self.layout, local.valid_accounts(self.layout)["redis"])
        return f"snapshot {snapshot.path.name} ({snapshot.path.stat().st_size} bytes) loaded"

    def returned(self) -> set[int]:
        return {int(fields[b"seq"]) for _, fields in self._client().xrange(self.canary_key)}

    def fingerprint(self) -> dict[str, str]:
        client = self._client()
        keys = sorted(key for key in client.scan_iter(count=1000) if not key.startswith(b"drill:canary:"))
        values = [(key, client.dump(key)) for key in keys]
        users = sorted(rule for rule in client.acl_list())
        return {
            "keys": f"{len(keys)} keys, {_digest(values)}",
            "acl users": f"{len(users)}, {_digest(users)}",
        }

    def reprotect(self) -> str:
        return f"snapshots continue every {protection.REDIS_INTERVAL:.0f}s"

    def clean(self) -> None:
        self._client().delete(self.canary_key)


class BrokerDrill(StoreDrill):
    """RabbitMQ, one node: its definitions backup imported into a new node. Messages not yet
    consumed when the node is lost are lost with it: the canary counts them against the RPO
    (a write comes back when its consumer got it, before the failure or after the restore)."""

    server = "rabbitmq"
    label = "RabbitMQ"
    protected_by = f"definitions every {protection.RABBITMQ_INTERVAL:.0f}s; queued messages are not backed up"

    def __init__(self, layout: local.Layout, drill_id: str) -> None:
        super().__init__(layout, drill_id)
        self.consumed: set[int] = set()
        self._stop = threading.Event()
        self._consumer: threading.Thread | None = None

    def _connection(self):
        import pika

        credentials = pika.PlainCredentials("admin", self.layout.credentials["rabbitmq/admin"])
        parameters = pika.ConnectionParameters(
            local.HOST, self.layout.ports["rabbitmq"], local.RABBITMQ_VHOST, credentials,
            connection_attempts=1, socket_timeout=5,
        )  # fmt: skip
        return pika.BlockingConnection(parameters)

    def prepare(self) -> str:
        snapshot = protection.newest("rabbitmq")
        if snapshot is None or local.DRILL_QUEUE not in snapshot.path.read_text():
            raise RunIncomplete(
                f"local: no RabbitMQ definitions backup holding {local.DRILL_QUEUE} yet (invoke local.up "
                f"sets up the schedule; one is taken every {protection.RABBITMQ_INTERVAL:.0f}s)"
            )
        return f"definitions backup of {snapshot.age:.0f}s ago"

    def connect_canary(self) -> Writer:
        channel = self._connection().channel()
        channel.confirm_delivery()  # basic_publish returns once the broker has the message

        def publish(sequence: int, at: float) -> None:
            body = json.dumps({"drill": self.drill_id, "seq": sequence, "at": at})
            channel.basic_publish("", local.DRILL_QUEUE, body, mandatory=True)

        return publish

    def start_canary(self) -> None:
        started = threading.Event()

        def consume() -> None:
            try:
                channel = self._connection().channel()
                channel.basic_qos(prefetch_count=100)
                started.set()
                for method, _, body in channel.consume(local.DRILL_QUEUE, inactivity_timeout=0.1):
                    if self._stop.is_set():
                        break
                    if method is not None:
                        self._take(body)
                        channel.basic_ack(method.delivery_tag)
            except Exception:  # the node is gone: what was delivered is counted already
                started.set()

        self._consumer = threading.Thread(target=consume, daemon=True)
        self._consumer.start()
        started.wait(30)

    def _take(self, body: bytes) -> None:
        message = json.loads(body)
        if message.get("drill") == self.drill_id:
            self.consumed.add(int(message["seq"]))

    def stop_canary(self) -> None:
        self._stop.set()
        if self._consumer is not None:
            self._consumer.join(30)

    def data_path(self) -> Path:
        return local._rabbit_dir() / "mnesia"

    def restore(self, before: datetime | None = None) -> str:
        snapshot = protection.newest("rabbitmq", before)
        if snapshot is None:
            raise DrillFailed("no RabbitMQ definitions backup to restore from")
        local.start_rabbitmq(self.layout, definitions=snapshot.path)
        # credentials rotated since that backup: from the secret store, as local.up converges them
        local._rabbitmq_accounts(self.layout, local.valid_accounts(self.layout)["rabbitmq"])
        return f"new node; definitions {snapshot.path.name} imported as it booted"

    def returned(self) -> set[int]:
        with self._connection() as connection:
            channel = connection.channel()
            while True:
                method, _, body = channel.basic_get(local.DRILL_QUEUE, auto_ack=True)
                if method is None:
                    break
                self._take(body)
        return set(self.consumed)

    def fingerprint(self) -> dict[str, str]:
        exported = json.loads(local._ctl(self.layout, "export_definitions", "-", "--silent") or "{}")
        found = {}
        for part, fields in {
            "users": ("name", "password_hash", "tags"), "vhosts": ("name",),
            "permissions": ("user", "vhost", "configure", "write", "read"),
            "queues": ("name", "vhost", "durable", "arguments"), "exchanges": ("name", "vhost", "type"),
            "bindings": ("source", "destination", "routing_key", "vhost"),
            "policies": ("name", "vhost", "pattern", "definition"),
        }.items():  # fmt: skip
            items = sorted(_digest([entry.get(name) for name in fields]) for entry in exported.get(part, []))
            found[part] = f"{len(items)}, {_digest(items)}"
        return found

    def reprotect(self) -> str:
        return f"definitions backed up every {protection.RABBITMQ_INTERVAL:.0f}s"

    def clean(self) -> None:
        """The canary's messages are consumed by the verification already."""


LOCAL_DRILLS: dict[str, type[StoreDrill]] = {
    "database-failure": DatabaseDrill,
    "cache-failure": CacheDrill,
    "broker-failure": BrokerDrill,
}
LOCAL_CANNOT = {
    "cluster-failure": "local has no Kubernetes cluster to lose (its servers run on this host)",
    "region-failover": "local is one host in no region: there is nothing to fail over to",
}


# ------------------------------------------------------------------------- report


@dataclass
class Phase:
    name: str
    started: str
    seconds: float
    detail: str = ""


@dataclass
class Target:
    achieved_seconds: float | None
    target_seconds: int
    met: bool


@dataclass
class Report:
    drill_id: str
    scenario: str
    environment: str
    commit: str
    server: str
    protection: str
    started: str
    phases: list[Phase] = field(default_factory=list)
    rto: Target | None = None
    rpo: Target | None = None
    canary: CanaryResult | None = None
    data: dict[str, dict[str, Any]] = field(default_factory=dict)  # check -> before, after, match
    restore_throughput_mb_s: float | None = None
    emulated: bool = False  # run against an emulator: the call sequence is proven, no RTO or RPO
    problems: list[str] = field(default_factory=list)
    result: str = "fail"
    files: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [
            f"# Drill {self.scenario} on {self.environment}: {self.result.upper()}",
            "",
            f"- drill id: `{self.drill_id}`, commit `{self.commit[:12]}`, started {self.started}",
            f"- server: {self.server}; standing protection: {self.protection}",
        ]
        if self.emulated:
            lines.append(
                "- EMULATED: the provider's calls ran against an emulator; no RTO or RPO is measured"
            )
        for label, target in (("RTO", self.rto), ("RPO", self.rpo)):
            if target is not None:
                achieved = (
                    "not measured" if target.achieved_seconds is None else f"{target.achieved_seconds:.3f}s"
                )
                verdict = "met" if target.met else "MISSED"
                lines.append(
                    f"- {label}: {achieved} against a target of {target.target_seconds}s ({verdict})"
                )
        if self.restore_throughput_mb_s is not None:
            lines.append(f"- restore throughput: {self.restore_throughput_mb_s:.1f} MB/s")
        lines += ["", "## Phases", "", "| phase | started | seconds | detail |", "|---|---|---|---|"]
        lines += [f"| {p.name} | {p.started} | {p.seconds:.3f} | {p.detail} |" for p in self.phases]
        if self.canary is not None:
            c = self.canary
            lines += ["", "## Canary", ""]
            lines.append(f"- acknowledged writes: {c.acknowledged}; came back: {c.returned}; lost: {c.lost} "
                         f"(older than the RPO: {c.lost_older_than_rpo})")  # fmt: skip
        lines += ["", "## Data verified", "", "| check | before | after | match |", "|---|---|---|---|"]
        lines += [f"| {n} | {d['before']} | {d['after']} | {'yes' if d['match'] else 'NO'} |"
                  for n, d in self.data.items()]  # fmt: skip
        lines += ["", "## Problems", ""] + ([f"- {problem}" for problem in self.problems] or ["- none"])
        return "\n".join(lines) + "\n"

    def write(self) -> list[Path]:
        directory = reports_dir()
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromisoformat(self.started).strftime("%Y%m%dT%H%M%S%fZ")
        stem = f"{stamp}-{self.environment}-{self.scenario}"
        paths = [directory / f"{stem}.json", directory / f"{stem}.md"]
        self.files = [str(path) for path in paths]
        paths[0].write_text(json.dumps(asdict(self), indent=2) + "\n")
        paths[1].write_text(self.markdown())
        return paths


def summary(report: Report) -> str:
    """The one-line outcome a drill prints last."""

    def seconds(target: Target | None, digits: int) -> str:
        if target is None or target.achieved_seconds is None:
            return "not measured"
        return f"{target.achieved_seconds:.{digits}f}s (target {target.target_seconds}s)"

    canary = report.canary
    back = f"{canary.returned}/{canary.acknowledged}" if canary else "0/0"
    return (
        f"{report.scenario} on {report.environment}: {report.result}; RTO {seconds(report.rto, 1)}, "
        f"RPO {seconds(report.rpo, 3)}; {back} canary writes came back"
    )


def last_report(environment: str) -> dict[str, Any] | None:
    """The newest drill report of an environment (for `invoke status`)."""
    found = sorted(reports_dir().glob(f"*-{environment}-*.json")) if reports_dir().is_dir() else []
    for path in reversed(found):
        report = json.loads(path.read_text())
        if report.get("environment") == environment:
            return report
    return None


# -------------------------------------------------------------------------- drill


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def drill(
    name: str,
    scenario: str,
    confirm: str | None,
    keep: bool,
    report: Callable[[str], None] = print,
    resume: str | None = None,
) -> Report:
    """Run one drill; the report is written whatever the outcome once the failure was injected."""
    if scenario not in SCENARIOS:
        raise OpsError(f"unknown scenario {scenario!r}; one of: {', '.join(SCENARIOS)}")
    environment = environments.load(name)
    on_cloud = environment.cloud is Cloud.AWS or (
        environment.cloud is not Cloud.LOCAL and scenario == "cluster-failure"
    )
    if resume is not None and (not on_cloud or not DRILL_ID.fullmatch(resume)):
        raise OpsError(f"--resume takes the 12-hex id of a cloud drill, not {resume!r} on {name}")
    arguments = {"scenario": scenario, "keep": keep, "resume": resume}
    with Run("dr-drill", environment, arguments, confirm) as run:
        if on_cloud:
            return _cloud_drill(run, environment, scenario, keep, report, resume)
        drill_class = _runnable(environment, scenario)
        layout = local.Layout.load()
        if layout is None or not all(server.state == "running" for server in local.status()):
            raise RunIncomplete(
                "local: the servers are not all running (invoke local.up); nothing was destroyed"
            )
        target = environment.disaster_recovery
        if target is None:
            raise RunIncomplete(f"{name} has no disaster_recovery targets in its registry entry")
        drill_id = uuid.uuid4().hex[:12]
        store = drill_class(layout, drill_id)
        result = Report(drill_id, scenario, name, git_commit(), store.server, store.protected_by, _now())
        measured = _Measured()
        try:
            run.execute(_phases(store, result, measured))
        finally:
            if measured.failed_at is not None:
                _conclude(result, store, measured, target, keep)
                _publish(result, report)
        _verdict(result)
    return result


def _publish(result: Report, report: Callable[[str], None]) -> None:
    """The report's last phase, its files written, and where they are."""
    result.phases.append(Phase("report", _now(), 0.0, f"Markdown and JSON in {reports_dir()}"))
    result.write()
    report(f"report: {result.files[1]}")


def _verdict(result: Report) -> None:
    if result.result != "pass":
        raise DrillFailed(f"{result.scenario} on {result.environment} failed: {'; '.join(result.problems)}")


QUARTER_MONTHS = (1, 4, 7, 10)


def due(month: int) -> list[str]:
    """The environments whose registry entry schedules a drill in this month (1-12): monthly
    ones every month, quarterly ones in the first month of each quarter."""
    if not 1 <= month <= 12:
        raise OpsError(f"--month must be 1 to 12, not {month}")
    return [
        environment.name
        for environment in environments.load_all()
        if environment.disaster_recovery is not None
        and (
            environment.disaster_recovery.drill_schedule == "monthly"
            or (environment.disaster_recovery.drill_schedule == "quarterly" and month in QUARTER_MONTHS)
        )
    ]


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with its offset: without one, a restore target would be ambiguous."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise OpsError(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-04T13:30:00+00:00)") from None
    if moment.tzinfo is None:
        raise OpsError(f"give the time's offset too: {text!r} (e.g. {text}+00:00)")
    return moment


RESTORABLE: dict[str, type[StoreDrill]] = {drill.server: drill for drill in LOCAL_DRILLS.values()}


def restore(name: str, server: str, before: datetime | None, force: bool, confirm: str | None) -> Run:
    """A real incident's restore of one local server from the standing protection: the damaged
    data is set aside (kept), the server restored (to `before` if given), read, re-protected."""
    if server not in RESTORABLE:
        raise OpsError(f"unknown server {server!r}; one of: {', '.join(RESTORABLE)}")
    environment = environments.load(name)
    arguments = {"server": server, "before": before.isoformat() if before else None, "force": force}
    with Run("dr-restore", environment, arguments, confirm) as run:
        if environment.cloud is not Cloud.LOCAL:
            raise RunIncomplete(
                f"{name}: restores on {environment.cloud.value} go through the provider's recovery APIs, "
                "which are not built yet; nothing was changed"
            )
        layout = local.Layout.load()
        if layout is None:
            raise RunIncomplete("local: no layout file (invoke local.up first); nothing was changed")
        store = RESTORABLE[server](layout, "restore")
        run.execute([
            Step(f"stop {store.label} and set its data aside", lambda: store.set_aside(force)),
            Step(f"restore {store.label} from {store.protected_by}", lambda: store.restore(before)),
            Step("read every data check", lambda: f"{len(store.fingerprint())} check(s) read"),
            Step("re-protect", store.reprotect),
        ])  # fmt: skip
    return run


def _runnable(environment: Environment, scenario: str) -> type[StoreDrill]:
    if environment.cloud is not Cloud.LOCAL:
        raise RunIncomplete(
            f"{environment.name}: drills on {environment.cloud.value} would drive its recovery APIs, which "
            "no emulator here can stand in for, and are not built; nothing was made or destroyed"
        )
    if scenario in LOCAL_CANNOT:
        raise RunIncomplete(f"{scenario}: {LOCAL_CANNOT[scenario]}; nothing was destroyed")
    return LOCAL_DRILLS[scenario]


def _cloud_drill(
    run: Run, environment: Environment, scenario: str, keep: bool, report: Callable[[str], None],
    resume: str | None,
) -> Report:  # fmt: skip
    """A drill into new, isolated instances: the provider's recovery APIs (voiceops/cloud_drills.py)
    or, for the cluster, Velero into a scratch namespace (voiceops/velero_drill.py)."""
    target = environment.disaster_recovery
    if target is None:
        raise RunIncomplete(f"{environment.name} has no disaster_recovery targets in its registry entry")
    drill_id = resume or uuid.uuid4().hex[:12]
    cloud: cloud_drills.AwsDrill | velero_drill.VeleroDrill
    if scenario == "cluster-failure":
        try:
            cluster.require_reachable(environment)
        except cluster.ClusterUnreachable as error:
            raise RunIncomplete(f"{environment.name}: {error.message}; nothing was made") from None
        cloud = velero_drill.VeleroDrill(environment, drill_id, report)
        emulated = False
    else:
        emulated = cloud_drills.emulated()
        if not emulated and (missing := terraform.missing_credentials(environment.cloud)):
            raise RunIncomplete(f"{environment.name}: {missing}; nothing was made")
        cloud = cloud_drills.AwsDrill(environment, scenario, drill_id, cloud_drills.guarded_clients(), report)
    steps = cloud.steps(keep)  # exit 5 here, before anything is made, where no drill exists
    result = Report(drill_id, scenario, environment.name, git_commit(), CLOUD_SERVERS[scenario],
                    CLOUD_PROTECTION[scenario], _now(), emulated=emulated)  # fmt: skip
    failed_at = datetime.now(UTC)
    report(f"drill {drill_id}: it makes only drill-{drill_id}-… resources; if it stops, --resume {drill_id}")
    try:
        run.execute([_timed(result, step) for step in steps])
    except OpsError as error:
        result.problems.append(str(error.message))
        raise
    finally:
        rto, rpo = cloud.measured(failed_at)
        if not result.emulated:
            result.rto = Target(rto, target.rto_seconds, rto is not None and rto <= target.rto_seconds)
            result.rpo = Target(rpo, target.rpo_seconds, rpo is not None and rpo <= target.rpo_seconds)
            missed = [(label, item) for label, item in (("RTO", result.rto), ("RPO", result.rpo))
                      if item.achieved_seconds is not None and not item.met]  # fmt: skip
            result.problems += [
                f"{label} {item.achieved_seconds}s misses the target of {item.target_seconds}s"
                for label, item in missed
            ]
        # production's values against the restored instance's
        result.data = {name: {"before": expected, "after": restored, "match": expected == restored}
                       for name, (expected, restored) in cloud.checks.items()}  # fmt: skip
        result.result = "fail" if result.problems else "pass"
        _publish(result, report)
    _verdict(result)
    return result


@dataclass
class _Measured:
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    canary: Canary | None = None
    failed_at: float | None = None  # epoch seconds
    failed_monotonic: float = 0.0
    verified_monotonic: float | None = None
    returned: set[int] = field(default_factory=set)


def _timed(result: Report, step: Step) -> Step:
    """The step, its start and duration recorded as a phase of the report."""

    def run() -> str | tuple[str, Callable[[], None]]:
        started, clock = _now(), time.monotonic()
        outcome = step.run()
        detail = outcome if isinstance(outcome, str) else outcome[0]
        result.phases.append(Phase(step.name, started, round(time.monotonic() - clock, 3), detail))
        return outcome

    return Step(step.name, run, step.essential)


def _phases(store: StoreDrill, result: Report, measured: _Measured) -> list[Step]:
    def timed(name: str, action: Callable[[], str]) -> Step:
        return _timed(result, Step(name, action))

    def prepare() -> str:
        detail = store.prepare()
        measured.before = store.fingerprint()
        measured.canary = Canary(store.connect_canary)
        store.start_canary()
        measured.canary.start()
        time.sleep(store.canary_seconds)
        return f"{detail}; canary writing every {CANARY_INTERVAL * 1000:.0f} ms"

    def fail() -> str:
        canary = measured.canary or Canary(store.connect_canary)
        measured.failed_at, measured.failed_monotonic = time.time(), time.monotonic()
        detail = store.fail()
        canary.stop()
        store.stop_canary()
        return f"{detail}; {len(canary.acknowledged)} canary write(s) acknowledged"

    def restore() -> str:
        return store.restore()

    def verify() -> str:
        if measured.canary:
            measured.canary.join()
        measured.returned = store.returned()
        measured.after = store.fingerprint()
        measured.verified_monotonic = time.monotonic()
        rto = measured.verified_monotonic - measured.failed_monotonic
        back = len(measured.returned & set(measured.canary.acknowledged)) if measured.canary else 0
        return f"{back} canary write(s) came back; service verified {rto:.1f}s after the failure"

    def reprotect() -> str:
        return store.reprotect()

    return [
        timed("prepare", prepare), timed("fail", fail), timed("restore", restore), timed("verify", verify),
        timed("re-protect", reprotect),
    ]  # fmt: skip


def _conclude(
    result: Report, store: StoreDrill, measured: _Measured, target: environments.DisasterRecovery, keep: bool
) -> None:
    acknowledged = measured.canary.acknowledged if measured.canary else {}
    canary = measure(acknowledged, measured.returned, measured.failed_at or time.time())
    result.canary = canary
    rto = None
    if measured.verified_monotonic is not None:
        rto = round(measured.verified_monotonic - measured.failed_monotonic, 3)
    result.rto = Target(rto, target.rto_seconds, rto is not None and rto <= target.rto_seconds)
    rpo = canary.rpo_seconds
    result.rpo = Target(rpo, target.rpo_seconds, rpo is not None and rpo <= target.rpo_seconds)
    result.restore_throughput_mb_s = getattr(store, "throughput", None)
    for check, before in measured.before.items():
        after = measured.after.get(check, "missing")
        result.data[check] = {"before": before, "after": after, "match": before == after}
    problems = result.problems
    if measured.verified_monotonic is None:
        problems.append("the service was not verified (see the failed phase)")
    if canary.returned == 0:
        problems.append("no acknowledged canary write came back")
    if canary.lost_older_than_rpo:
        problems.append(
            f"{canary.lost_older_than_rpo} acknowledged write(s) older than the achieved RPO lost"
        )
    problems += [f"{check} differs after the restore" for check, d in result.data.items() if not d["match"]]
    if measured.verified_monotonic is not None and not result.rto.met:
        problems.append(f"RTO {rto:.1f}s misses the target of {target.rto_seconds}s")
    if canary.rpo_seconds is not None and not result.rpo.met:
        problems.append(f"RPO {canary.rpo_seconds:.1f}s misses the target of {target.rpo_seconds}s")
    result.result = "fail" if problems else "pass"
    if not keep and measured.verified_monotonic is not None:
        store.clean()
