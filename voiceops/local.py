"""The embedded `local` environment: real PostgreSQL, Redis, RabbitMQ and an AWS API
emulator (moto) on 127.0.0.1, on free ports, with data under one directory.

Credentials are generated once, kept in a 0600 file beside the data (never in git)
and stored in the emulated Secrets Manager, from which clients and smoke tests read
them. Every operation is idempotent: `up` starts only what is not running and
provisions only what is missing, so it also recovers a crashed server.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import string
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import port_for

from voiceops.errors import OpsError
from voiceops.toolchain import load_manifest, locate, state_dir

HOST = "127.0.0.1"
PREFIX = "voiceops/local"
REGION = "us-west-2"
# Databases per service (seed 002: user & organisation, analytics; seed 001: API, Temporal).
DATABASES = ("api", "users", "analytics", "temporal", "temporal_visibility")
# Redis ACL users and the key prefixes each may touch (seed 002's per-service separation).
REDIS_USERS = {"api-router": "~ratelimit:*", "users": "~session:*", "analytics": "~freshness:*"}
RABBITMQ_VHOST = "platform"
RABBITMQ_USERS = ("api-router", "analytics")
USAGE_QUEUE = "usage-events"
BUCKETS = ("voiceops-local-egress", "voiceops-local-backups")
SERVICES = ("postgres", "redis", "rabbitmq", "moto")


class LocalError(OpsError):
    pass


def local_dir() -> Path:
    return state_dir() / "local"


@dataclass
class Layout:
    """Ports and credentials of the local environment, persisted between runs."""

    ports: dict[str, int]
    credentials: dict[str, str]

    @classmethod
    def path(cls) -> Path:
        return local_dir() / "layout.json"

    @classmethod
    def load(cls) -> Layout | None:
        try:
            data = json.loads(cls.path().read_text())
        except FileNotFoundError:
            return None
        return cls(ports=data["ports"], credentials=data["credentials"])

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".new")
        staged.touch(mode=0o600)
        staged.write_text(json.dumps({"ports": self.ports, "credentials": self.credentials}, indent=2))
        staged.replace(path)

    def secret_names(self) -> dict[str, str]:
        """Secrets Manager name for each credential: voiceops/local/<service>/<user>."""
        return {key: f"{PREFIX}/{key}" for key in self.credentials}


def port_listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) == 0


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise LocalError(f"{what} did not come up within {timeout:.0f}s (see {local_dir()}/*/log)")


def run(command: list[str], what: str, env: dict[str, str] | None = None, user: str | None = None) -> str:
    if user:
        command = ["runuser", "-u", user, "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LocalError(f"{what} failed: {detail[0]}")
    return result.stdout


def binary(name: str) -> str:
    manifest = load_manifest()
    try:
        tool = manifest.tool(name)
    except KeyError:
        tool = None
    found = locate(tool, manifest) if tool else shutil.which(name)
    if not found:
        raise LocalError(f"{name} is not installed (run python3 scripts/bootstrap.py)")
    return found


def pid_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def allocate_ports(previous: dict[str, int] | None) -> dict[str, int]:
    """Keep earlier ports where free (or ours); pick new free ports otherwise."""
    names = ("postgres", "redis", "rabbitmq", "rabbitmq_dist", "rabbitmq_stream", "epmd", "moto")
    ports: dict[str, int] = {}
    for name in names:
        port = (previous or {}).get(name)
        if port is None or (port_listening(port) and not _ours(name, port)):
            port = _free_port(set(ports.values()))
        ports[name] = port
    return ports


def _free_port(taken: set[int]) -> int:
    while True:
        port = port_for.select_random()
        if port not in taken:
            return port


def _ours(name: str, port: int) -> bool:
    """A recorded port in use is ours when our server for it is alive."""
    service = name.split("_")[0] if name != "epmd" else "rabbitmq"
    return SERVER_CHECKS[service]()


def generate_credentials(existing: dict[str, str] | None) -> dict[str, str]:
    wanted = [
        "postgres/admin",
        *(f"postgres/{db}" for db in DATABASES),
        "redis/admin",
        *(f"redis/{user}" for user in REDIS_USERS),
        "rabbitmq/admin",
        *(f"rabbitmq/{user}" for user in RABBITMQ_USERS),
        "aws/access-key",
    ]
    credentials = dict(existing or {})
    for key in wanted:
        credentials.setdefault(key, new_password())
    return credentials


PASSWORD_ALPHABET = string.ascii_letters + string.digits


def new_password(length: int = 32) -> str:
    """Letters and digits only: a leading "-" would read as an option to rabbitmqctl and
    redis-cli, and quoting rules differ between the servers' command lines."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


# ---------------------------------------------------------------- PostgreSQL


def _postgres_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise LocalError(
            "running as root needs the `postgres` system user (apt-get install postgresql-15)"
        ) from None
    return "postgres"


def _reachable_by(account: str, directory: Path) -> bool:
    """Whether a system user can traverse every directory down to `directory`."""
    entry = pwd.getpwnam(account)
    for path in [directory, *directory.parents]:
        if not path.exists():
            continue
        info = path.stat()
        if info.st_uid == entry.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == entry.pw_gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def _pg_paths() -> tuple[Path, Path]:
    """PostgreSQL's data under the project's state directory; as root, when the `postgres`
    user cannot reach it (a checkout below a private 0700 directory), under that user's home."""
    base = local_dir() / "postgres"
    user = _postgres_user()
    if user and not _reachable_by(user, local_dir()):
        # The postgres account's own home: reachable by it, not writable by other users.
        digest = hashlib.sha256(str(local_dir()).encode()).hexdigest()[:12]
        base = Path(pwd.getpwnam(user).pw_dir) / f"voiceops-{digest}" / "postgres"
    return base / "data", base


def postgres_running() -> bool:
    data, _ = _pg_paths()
    return (data / "postmaster.pid").is_file() and pid_alive(data / "postmaster.pid")


def start_postgres(layout: Layout) -> str:
    data, base = _pg_paths()
    bindir = Path(binary("postgres")).parent
    user = _postgres_user()
    if not (data / "PG_VERSION").is_file():
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        password_file = base / "admin.pw"
        password_file.write_text(layout.credentials["postgres/admin"] + "\n")
        if user:
            shutil.chown(base, user)
            shutil.chown(password_file, user)
        password_file.chmod(0o600)
        run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
             f"--pwfile={password_file}", "-E", "UTF8", "--no-instructions"],
            "initdb", user=user,
        )  # fmt: skip
        password_file.unlink()
    if postgres_running():
        return "already running"
    options = f"-p {layout.ports['postgres']} -c listen_addresses={HOST} -k {base}"
    run(
        [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        "pg_ctl start", user=user,
    )  # fmt: skip
    if not base.is_relative_to(local_dir()):
        return f"started, data in {base} (the postgres user cannot reach {local_dir()})"
    return "started"


def provision_postgres(layout: Layout) -> None:
    import psycopg
    from psycopg import sql

    admin = psycopg.connect(
        host=HOST, port=layout.ports["postgres"], user="postgres",
        password=layout.credentials["postgres/admin"], dbname="postgres", autocommit=True,
    )  # fmt: skip
    with admin:
        for database in DATABASES:
            role = sql.Identifier(database)
            password = layout.credentials[f"postgres/{database}"]
            exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (database,)).fetchone()
            verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
            admin.execute(sql.SQL("{} {} LOGIN PASSWORD {}").format(verb, role, sql.Literal(password)))
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))
            admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(role))


def stop_postgres() -> None:
    data, _ = _pg_paths()
    if postgres_running():
        run([str(Path(binary("postgres")).parent / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            "pg_ctl stop", user=_postgres_user())  # fmt: skip


# --------------------------------------------------------------------- Redis


def _redis_dir() -> Path:
    return local_dir() / "redis"


def redis_running() -> bool:
    return pid_alive(_redis_dir() / "redis.pid")


def start_redis(layout: Layout) -> str:
    base = _redis_dir()
    base.mkdir(parents=True, exist_ok=True)
    acl = ["user default off", f"user admin on >{layout.credentials['redis/admin']} ~* &* +@all"]
    for user, keys in REDIS_USERS.items():
        acl.append(f"user {user} on >{layout.credentials[f'redis/{user}']} {keys} +@all -@dangerous")
    acl_file = base / "users.acl"
    acl_file.touch(mode=0o600)
    acl_file.write_text("\n".join(acl) + "\n")
    config = base / "redis.conf"
    config.write_text(
        "\n".join(
            [
                f"bind {HOST}",
                f"port {layout.ports['redis']}",
                "protected-mode yes",
                "daemonize yes",
                f"pidfile {base / 'redis.pid'}",
                f"logfile {base / 'log'}",
                f"dir {base}",
                f"aclfile {acl_file}",
                "appendonly yes",  # seed 002: persistence enabled
                "save 300 10",
            ]
        )
        + "\n"
    )
    if redis_running():
        _redis_admin(layout).acl_load()
        return "already running (ACL reloaded)"
    run([binary("redis-server"), str(config)], "redis-server")
    wait_for(lambda: port_listening(layout.ports["redis"]), "redis-server", timeout=20)
    return "started"


def _redis_admin(layout: Layout):
    import redis

    return redis.Redis(
        host=HOST, port=layout.ports["redis"], username="admin", password=layout.credentials["redis/admin"]
    )


def stop_redis() -> None:
    _terminate(_redis_dir() / "redis.pid")


# ------------------------------------------------------------------ RabbitMQ


def _rabbit_dir() -> Path:
    return local_dir() / "rabbitmq"


def _rabbit_env(layout: Layout) -> dict[str, str]:
    base = _rabbit_dir()
    return {
        **os.environ,
        "HOME": str(base),  # where the Erlang cookie lives
        "RABBITMQ_NODENAME": f"voiceops-{layout.ports['rabbitmq']}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(layout.ports["rabbitmq"]),
        "RABBITMQ_DIST_PORT": str(layout.ports["rabbitmq_dist"]),
        "ERL_EPMD_PORT": str(layout.ports["epmd"]),
        "ERL_EPMD_ADDRESS": HOST,
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
    }


def rabbitmq_running() -> bool:
    return pid_alive(_rabbit_dir() / "rabbitmq.pid")


def _ctl(layout: Layout, *args: str) -> str:
    ctl = str(Path(binary("rabbitmq-server")).parent / "rabbitmqctl")
    return run([ctl, *args], f"rabbitmqctl {args[0]}", env=_rabbit_env(layout))


def start_rabbitmq(layout: Layout) -> str:
    base = _rabbit_dir()
    (base / "log").mkdir(parents=True, exist_ok=True)
    (base / "enabled_plugins").write_text("[rabbitmq_stream].\n")  # seed 002: streams enabled
    (base / "rabbitmq.conf").write_text(
        "\n".join(
            [
                f"listeners.tcp.default = {HOST}:{layout.ports['rabbitmq']}",
                f"stream.listeners.tcp.1 = {HOST}:{layout.ports['rabbitmq_stream']}",
                "loopback_users = none",
                "log.file.level = warning",
            ]
        )
        + "\n"
    )
    if rabbitmq_running():
        return "already running"
    server = binary("rabbitmq-server")
    env = _rabbit_env(layout)
    log = (base / "log" / "console.log").open("a")
    subprocess.Popen([server], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    # rabbitmqctl cannot reach a node before it registers with epmd: wait for AMQP first.
    wait_for(lambda: port_listening(layout.ports["rabbitmq"]), "rabbitmq-server", timeout=120)
    _ctl(layout, "await_startup", "--timeout", "60")
    return "started"


def provision_rabbitmq(layout: Layout) -> None:
    import pika

    users = {"admin": "administrator", **dict.fromkeys(RABBITMQ_USERS, "")}
    existing = _ctl(layout, "list_users", "--silent", "--formatter", "json")
    present = {entry["user"] for entry in json.loads(existing or "[]")}
    if "guest" in present:
        _ctl(layout, "delete_user", "guest")
    if RABBITMQ_VHOST not in _ctl(layout, "list_vhosts", "--silent").split():
        _ctl(layout, "add_vhost", RABBITMQ_VHOST)
    for user, tag in users.items():
        password = layout.credentials[f"rabbitmq/{user}"]
        if user in present:
            _ctl(layout, "change_password", user, password)
        else:
            _ctl(layout, "add_user", user, password)
        _ctl(layout, "set_user_tags", user, *([tag] if tag else []))
        _ctl(layout, "set_permissions", "-p", RABBITMQ_VHOST, user, ".*", ".*", ".*")
    # Seed 002: dead-letter queues for the usage events, applied by policy, not by clients.
    policy = json.dumps({"dead-letter-exchange": f"{USAGE_QUEUE}.dlx", "delivery-limit": 5})
    _ctl(layout, "set_policy", "-p", RABBITMQ_VHOST, "--apply-to", "queues", "usage-dead-letter",
         f"^{USAGE_QUEUE}$", policy)  # fmt: skip
    credentials = pika.PlainCredentials("admin", layout.credentials["rabbitmq/admin"])
    parameters = pika.ConnectionParameters(HOST, layout.ports["rabbitmq"], RABBITMQ_VHOST, credentials)
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.exchange_declare(f"{USAGE_QUEUE}.dlx", "fanout", durable=True)
        channel.queue_declare(f"{USAGE_QUEUE}.dead", durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(f"{USAGE_QUEUE}.dead", f"{USAGE_QUEUE}.dlx")
        # Quorum: durable and replicated in a cluster, at-least-once with publisher confirms.
        channel.queue_declare(USAGE_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_declare(f"{USAGE_QUEUE}.stream", durable=True, arguments={"x-queue-type": "stream"})


def stop_rabbitmq(layout: Layout | None) -> None:
    if layout and rabbitmq_running():
        _ctl(layout, "stop")
    _terminate(_rabbit_dir() / "rabbitmq.pid")
    if layout:  # epmd outlives the node; it is ours, on our port
        epmd = shutil.which("epmd") or "/usr/bin/epmd"
        subprocess.run([epmd, "-port", str(layout.ports["epmd"]), "-kill"], capture_output=True, check=False)


# ---------------------------------------------------------------------- moto


def _moto_dir() -> Path:
    return local_dir() / "moto"


def moto_running() -> bool:
    return pid_alive(_moto_dir() / "moto.pid")


def start_moto(layout: Layout) -> str:
    base = _moto_dir()
    base.mkdir(parents=True, exist_ok=True)
    if moto_running():
        return "already running"
    server = str(load_manifest().venv / "bin" / "moto_server")
    log = (base / "log").open("a")
    process = subprocess.Popen(
        [server, "-H", HOST, "-p", str(layout.ports["moto"])],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    (base / "moto.pid").write_text(f"{process.pid}\n")
    wait_for(lambda: port_listening(layout.ports["moto"]), "moto server")
    return "started"


def aws_client(layout: Layout, service: str):
    import boto3

    return boto3.client(
        service,
        endpoint_url=f"http://{HOST}:{layout.ports['moto']}",
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key=layout.credentials["aws/access-key"],
    )


def provision_moto(layout: Layout) -> None:
    """Buckets and secrets shaped as the AWS stack creates them (moto keeps them in memory)."""
    s3 = aws_client(layout, "s3")
    for bucket in BUCKETS:
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=dict.fromkeys(
                ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
            ),
        )
    manager = aws_client(layout, "secretsmanager")
    for key, name in layout.secret_names().items():
        value = json.dumps(connection_secret(layout, key))
        try:
            manager.put_secret_value(SecretId=name, SecretString=value)
        except manager.exceptions.ResourceNotFoundException:
            manager.create_secret(
                Name=name, SecretString=value, Tags=[{"Key": "environment", "Value": "local"}]
            )


def connection_secret(layout: Layout, key: str) -> dict[str, object]:
    service, user = key.split("/", 1)
    port = {"postgres": "postgres", "redis": "redis", "rabbitmq": "rabbitmq", "aws": "moto"}[service]
    secret: dict[str, object] = {
        "host": HOST,
        "port": layout.ports[port],
        "password": layout.credentials[key],
    }
    if service == "postgres":
        secret.update(
            username="postgres" if user == "admin" else user, dbname="postgres" if user == "admin" else user
        )
    elif service == "rabbitmq":
        secret.update(username=user, vhost=RABBITMQ_VHOST)
    elif service == "redis":
        secret.update(username=user)
    return secret


def read_secret(layout: Layout, key: str) -> dict:
    """A credential as clients get it: from the (emulated) Secrets Manager."""
    response = aws_client(layout, "secretsmanager").get_secret_value(SecretId=f"{PREFIX}/{key}")
    return json.loads(response["SecretString"])


# ----------------------------------------------------------------- lifecycle


def _terminate(pid_file: Path, timeout: float = 30.0) -> None:
    if not pid_alive(pid_file):
        pid_file.unlink(missing_ok=True)
        return
    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid_file):
        time.sleep(0.2)
    if pid_alive(pid_file):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


SERVER_CHECKS: dict[str, Callable[[], bool]] = {
    "postgres": postgres_running,
    "redis": redis_running,
    "rabbitmq": rabbitmq_running,
    "moto": moto_running,
}


def up(report: Callable[[str], None] = print) -> Layout:
    """Start and provision every local server; safe to re-run, recovers crashed ones."""
    previous = Layout.load()
    layout = Layout(
        ports=allocate_ports(previous.ports if previous else None),
        credentials=generate_credentials(previous.credentials if previous else None),
    )
    if previous and previous.ports != layout.ports:
        moved = [name for name, port in layout.ports.items() if previous.ports.get(name) != port]
        report(f"ports taken by other programs, moved: {', '.join(moved)}")
    layout.save()
    steps = [
        ("postgres", start_postgres, provision_postgres),
        ("redis", start_redis, None),
        ("rabbitmq", start_rabbitmq, provision_rabbitmq),
        ("moto", start_moto, provision_moto),
    ]
    credentials_changed = previous is None or previous.credentials != layout.credentials
    for name, start, provision in steps:
        started = time.monotonic()
        outcome = start(layout)
        # Data persists on disk, so a server that kept running keeps its provisioning;
        # moto holds everything in memory and is cheap to re-seed, so it always is.
        if provision and (outcome == "started" or credentials_changed or name == "moto"):
            provision(layout)
        report(f"{name}: {outcome} on {HOST}:{layout.ports[name]} ({time.monotonic() - started:.1f}s)")
    return layout


def down(keep_data: bool = True, report: Callable[[str], None] = print) -> None:
    layout = Layout.load()
    stop_postgres()
    stop_redis()
    stop_rabbitmq(layout)
    _terminate(_moto_dir() / "moto.pid")
    report("local servers stopped")
    if not keep_data:
        _, postgres_base = _pg_paths()
        directories = [local_dir()]
        if not postgres_base.is_relative_to(local_dir()):
            directories.append(postgres_base.parent)
        for directory in directories:
            if directory.exists():
                shutil.rmtree(directory)
                report(f"removed {directory}")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    port: int | None
    running: bool
    listening: bool

    @property
    def state(self) -> str:
        if self.running and self.listening:
            return "running"
        if self.running:
            return "starting or unhealthy (process up, port closed)"
        return "stopped"


def status() -> list[ServiceStatus]:
    layout = Layout.load()
    result = []
    for name in SERVICES:
        port = layout.ports[name] if layout else None
        result.append(
            ServiceStatus(name, port, SERVER_CHECKS[name](), bool(port) and port_listening(port))  # type: ignore[arg-type]
        )
    return result
