"""The embedded `local` environment: real PostgreSQL, Redis, RabbitMQ and an AWS API
emulator (moto) on 127.0.0.1, on free ports, with data under one directory.

Credentials are generated once, kept in a 0600 file beside the data (never in git)
and stored in the emulated Secrets Manager, from which clients and smoke tests read
them; when the store holds a newer version (a rotation), that one is kept.

Every operation is idempotent and converges: `up` starts what is not running and
provisions every server every time (databases, roles, ACL users, vhosts, queues,
policies, buckets, secrets), so a run interrupted anywhere is healed by the next.
Each server is started with VOICEOPS_LOCAL_DIR=<its state directory> in its
environment: that marks it as ours even when the state files are gone, so status
and down tell the truth and find everything, epmd included.
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
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import port_for
import psutil

from voiceops import credential_servers, environments, secret_bundles, secret_versions
from voiceops.credential_servers import Account
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
DRILL_QUEUE = "drill-canary"
BUCKETS = ("voiceops-local-egress", "voiceops-local-backups")
SERVICES = ("postgres", "redis", "rabbitmq", "moto")
OWNER_VARIABLE = "VOICEOPS_LOCAL_DIR"
# Erlang distribution (the node's and the CLI's) on loopback too, as every other port here.
ERLANG_LOOPBACK = "-kernel inet_dist_use_interface {127,0,0,1}"


class LocalError(OpsError):
    pass


def local_dir() -> Path:
    return state_dir() / "local"


@dataclass
class Layout:
    """Ports and credentials of the local environment, persisted between runs."""

    ports: dict[str, int]
    credentials: dict[str, str]
    bundles: dict[str, dict[str, str]] = field(default_factory=dict)  # the bundles' entries
    rotated: dict[str, str] = field(default_factory=dict)  # entry -> when its value was last rotated

    @classmethod
    def path(cls) -> Path:
        return local_dir() / "layout.json"

    @classmethod
    def load(cls) -> Layout | None:
        try:
            data = json.loads(cls.path().read_text())
        except FileNotFoundError:
            return None
        return cls(
            ports=data["ports"], credentials=data["credentials"], bundles=data.get("bundles", {}),
            rotated=data.get("rotated", {}),
        )  # fmt: skip

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".new")
        staged.touch(mode=0o600)
        document = {"ports": self.ports, "credentials": self.credentials}
        document |= {"bundles": self.bundles, "rotated": self.rotated}
        staged.write_text(json.dumps(document, indent=2))
        staged.replace(path)

    def secret_names(self) -> dict[str, str]:
        """Secrets Manager name for each credential: voiceops/local/<service>/<user>."""
        return {key: f"{PREFIX}/{key}" for key in self.credentials}


def port_listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) == 0


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0, log: Path | None = None) -> None:
    """Until `check` holds; else one line, with the last line of the server's `log` if given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    lines = log.read_text(errors="replace").strip().splitlines() if log and log.is_file() else []
    said = f"; its log ends: {lines[-1].strip()}" if lines else ""
    raise LocalError(f"{what} did not come up within {timeout:.0f}s (see {local_dir()}/*/log){said}")


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every local server starts with: marked as ours (see the module doc)."""
    return {**os.environ, OWNER_VARIABLE: str(local_dir().resolve()), **(extra or {})}


def run(
    command: list[str],
    what: str,
    env: dict[str, str] | None = None,
    user: str | None = None,
    detach: bool = False,
) -> str:
    """Run a server's command line; `detach` puts it in a session of its own, so a Ctrl-C
    meant for the deploy does not reach a server it starts."""
    if user:
        command = ["runuser", "-u", user, "--", *command]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=180, check=False, start_new_session=detach
    )
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


def allocate_ports(previous: dict[str, int] | None) -> dict[str, int]:
    """Keep earlier ports where free (or ours); pick new free ports otherwise."""
    names = ("postgres", "redis", "rabbitmq", "rabbitmq_dist", "rabbitmq_stream", "rabbitmq_management",
             "epmd", "moto")  # fmt: skip
    ours = {port for _, _, port in listening_sockets()}
    ports: dict[str, int] = {}
    for name in names:
        port = (previous or {}).get(name)
        if port is None or (port_listening(port) and port not in ours):
            port = _free_port(set(ports.values()))
        ports[name] = port
    return ports


def _free_port(taken: set[int]) -> int:
    while True:
        port = port_for.select_random()
        if port not in taken:
            return port


# ----------------------------------------------------------- our processes


def _kind(process: psutil.Process) -> str | None:
    name, command = process.info["name"] or "", " ".join(process.info["cmdline"] or [])
    if name == "postgres" or name.startswith("postgres:"):
        return "postgres"
    if name.startswith("redis-server"):
        return "redis"
    if name == "epmd":
        return "epmd"
    if name.startswith("beam"):
        return "rabbitmq" if "rabbit" in command and "rabbitmqctl" not in command else "erlang-cli"
    if "moto_server" in command:
        return "moto"
    if name == "pg_receivewal":
        return "wal-stream"
    if "voiceops.protection" in command:
        return "protection"
    return None


def owned_processes() -> dict[str, list[psutil.Process]]:
    """Processes carrying this state directory's marker (or working in it), by kind (postgres,
    redis, rabbitmq, epmd, moto). Found from /proc, so the answer holds when the state files
    are gone."""
    marker = str(local_dir().resolve())
    legacy = _pid_file_pids()
    found: dict[str, list[psutil.Process]] = {}
    for process in psutil.process_iter(["name", "cmdline", "environ", "cwd"]):
        kind = _kind(process)
        marked = (process.info["environ"] or {}).get(OWNER_VARIABLE) == marker
        # Redis rewrites its process title over its environment: it is known by its working
        # directory, which its configuration puts in ours.
        redis_here = kind == "redis" and (process.info["cwd"] or "").startswith(marker + os.sep)
        if kind and (marked or redis_here or process.pid in legacy):
            found.setdefault(kind, []).append(process)
    return found


def _pid_file_pids() -> set[int]:
    """Servers started before they carried the marker are known by the pid files they left."""
    pids = set()
    for pid_file in [*local_dir().glob("*/*.pid"), *local_dir().glob("postgres/data/postmaster.pid")]:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pids.add(int(pid_file.read_text().split()[0]))
    return pids


def listening_sockets() -> list[tuple[str, str, int]]:
    """(kind, address, port) of every TCP socket our servers listen on."""
    owned = {process.pid: kind for kind, processes in owned_processes().items() for process in processes}
    sockets = set()
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.pid in owned:
            sockets.add((owned[connection.pid], connection.laddr.ip, connection.laddr.port))
    return sorted(sockets)


def _running(kind: str) -> bool:
    return bool(owned_processes().get(kind))


def stop_kind(kind: str, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int:
    """Signal every process of ours of one kind and wait for them to end (SIGKILL for any
    still alive after `timeout`); how many there were."""
    processes = owned_processes().get(kind, [])
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(sig)
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(processes)


def stop_owned(timeout: float = 10.0) -> list[str]:
    """Stop every process of ours still alive (what a graceful stop left, or orphans whose
    state files are gone): SIGTERM (PostgreSQL: SIGINT, its fast shutdown), then SIGKILL, as
    for a Redis whose directory is gone, which refuses to stop when it cannot save."""
    owned = owned_processes()
    processes = [process for group in owned.values() for process in group]
    pids = {process.pid for process in processes}
    # Signal only the top of each tree (a postmaster, not its backends); children follow.
    roots = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.ppid() not in pids:
                roots.append(process)
    for process in roots:
        with contextlib.suppress(psutil.NoSuchProcess):
            # PostgreSQL's fast shutdown; pg_receivewal flushes what it received
            quick = _kind(process) in ("postgres", "wal-stream")
            process.send_signal(signal.SIGINT if quick else signal.SIGTERM)
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    return sorted({kind for kind, group in owned.items() if group})


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


def pg_protection_dir() -> Path:
    """Its standing protection (voiceops/protection.py): beside the data directory, not in it."""
    return _pg_paths()[1] / "protection"


def postgres_running() -> bool:
    return _running("postgres")


def start_postgres(layout: Layout) -> str:
    data, base = _pg_paths()
    bindir = Path(binary("postgres")).parent
    user = _postgres_user()
    if not (data / "PG_VERSION").is_file():
        if (pg_protection_dir() / "base" / "backup_manifest").is_file():
            # its data is lost, not new: an empty cluster here would hide that
            raise LocalError(
                f"PostgreSQL's data directory {data} is gone, and its standing protection holds a backup: "
                "restore it with invoke dr.restore --env local --server postgres"
            )
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
    if postgres_running():  # perhaps still starting, after an interrupted run: provisioning waits
        return "already running"
    options = f"-p {layout.ports['postgres']} -c listen_addresses={HOST} -k {base}"
    run(
        [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        "pg_ctl start", env=server_env(), user=user, detach=True,
    )  # fmt: skip
    if not base.is_relative_to(local_dir()):
        return f"started, data in {base} (the postgres user cannot reach {local_dir()})"
    return "started"


def provision_postgres(layout: Layout) -> None:
    import psycopg
    from psycopg import sql

    def connect() -> psycopg.Connection:
        return psycopg.connect(
            host=HOST, port=layout.ports["postgres"], user="postgres", connect_timeout=5,
            password=layout.credentials["postgres/admin"], dbname="postgres", autocommit=True,
        )  # fmt: skip

    deadline = time.monotonic() + 60
    while True:
        try:
            admin = connect()
            break
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise LocalError(
                    f"PostgreSQL does not accept connections on {HOST}:{layout.ports['postgres']}"
                ) from error
            time.sleep(0.2)  # starting up, after a run that was interrupted while starting it
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
    if postgres_running() and (data / "postmaster.pid").is_file():
        run([str(Path(binary("postgres")).parent / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            "pg_ctl stop", user=_postgres_user())  # fmt: skip


# --------------------------------------------------------------------- Redis


def _redis_dir() -> Path:
    return local_dir() / "redis"


def redis_running() -> bool:
    return _running("redis")


def start_redis(layout: Layout, accounts: dict[str, list[str]] | None = None) -> str:
    """`accounts`: the bundles' Redis users and every password each must accept now."""
    base = _redis_dir()
    base.mkdir(parents=True, exist_ok=True)
    acl = ["user default off", f"user admin on >{layout.credentials['redis/admin']} ~* &* +@all"]
    for user, keys in REDIS_USERS.items():
        acl.append(f"user {user} on >{layout.credentials[f'redis/{user}']} {keys} +@all -@dangerous")
    for user, passwords in (accounts or {}).items():
        acl.append(" ".join(credential_servers.redis_rules(user, passwords)))
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
                # the protection's snapshots (redis-cli --rdb) start at once, not 5 s later
                "repl-diskless-sync-delay 0",
            ]
        )
        + "\n"
    )
    if redis_running():
        wait_for(lambda: port_listening(layout.ports["redis"]), "redis-server", timeout=20, log=base / "log")
        _redis_admin(layout).acl_load()
        return "already running (ACL reloaded)"
    run([binary("redis-server"), str(config)], "redis-server", env=server_env(), detach=True)
    wait_for(lambda: port_listening(layout.ports["redis"]), "redis-server", timeout=20, log=base / "log")
    return "started"


def _redis_admin(layout: Layout):
    import redis

    return redis.Redis(
        host=HOST, port=layout.ports["redis"], username="admin", password=layout.credentials["redis/admin"]
    )


# ------------------------------------------------------------------ RabbitMQ


def _rabbit_dir() -> Path:
    return local_dir() / "rabbitmq"


def _rabbit_env(layout: Layout) -> dict[str, str]:
    base = _rabbit_dir()
    return server_env({
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
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": ERLANG_LOOPBACK,
        "RABBITMQ_CTL_ERL_ARGS": ERLANG_LOOPBACK,
    })  # fmt: skip


def rabbitmq_running() -> bool:
    return _running("rabbitmq")


def _ctl(layout: Layout, *args: str) -> str:
    ctl = str(Path(binary("rabbitmq-server")).parent / "rabbitmqctl")
    return run([ctl, *args], f"rabbitmqctl {args[0]}", env=_rabbit_env(layout))


def start_rabbitmq(layout: Layout, definitions: Path | None = None) -> str:
    """`definitions`: a definitions file a new node imports as it boots (a restore); a node
    that imports on boot makes no default guest user."""
    base = _rabbit_dir()
    (base / "log").mkdir(parents=True, exist_ok=True)
    # seed 002: streams enabled; the management API is how users are set, here as on the clusters
    (base / "enabled_plugins").write_text("[rabbitmq_stream,rabbitmq_management].\n")
    settings = [
        f"listeners.tcp.default = {HOST}:{layout.ports['rabbitmq']}",
        f"stream.listeners.tcp.1 = {HOST}:{layout.ports['rabbitmq_stream']}",
        f"management.tcp.ip = {HOST}",
        f"management.tcp.port = {layout.ports['rabbitmq_management']}",
        "loopback_users = none",
        "log.file.level = warning",
    ]
    if definitions is not None:
        settings.append(f"load_definitions = {definitions}")
    (base / "rabbitmq.conf").write_text("\n".join(settings) + "\n")
    if rabbitmq_running():
        if not port_listening(layout.ports["rabbitmq"]):  # still booting: an interrupted run started it
            wait_for(lambda: port_listening(layout.ports["rabbitmq"]), "rabbitmq-server", timeout=120)
            _ctl(layout, "await_startup", "--timeout", "60")
        if port_listening(layout.ports["rabbitmq_management"]):
            return "already running"
        # started before it had a management listener, through which its users are set
        _ctl(layout, "stop")
        wait_for(lambda: not rabbitmq_running(), "rabbitmq-server to stop", timeout=60)
    server = binary("rabbitmq-server")
    env = _rabbit_env(layout)
    log = (base / "log" / "console.log").open("a")
    subprocess.Popen([server], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    # rabbitmqctl cannot reach a node before it registers with epmd: wait for AMQP first.
    wait_for(lambda: port_listening(layout.ports["rabbitmq"]), "rabbitmq-server", timeout=120)
    _ctl(layout, "await_startup", "--timeout", "60")
    return "started"


def _rabbit_login(layout: Layout, user: str) -> bool:
    """Whether a user logs in to the platform vhost with the layout's password (AMQP, fast)."""
    return servers(layout).by_kind["rabbitmq"].accepts(user, layout.credentials[f"rabbitmq/{user}"])


def provision_rabbitmq(layout: Layout) -> None:
    """Converge users, tags, permissions, the vhost, the dead-letter policy and the queues.
    What already matches is left alone: each rabbitmqctl call costs a second."""

    users = {"admin": "administrator", **dict.fromkeys(RABBITMQ_USERS, "")}
    listed = json.loads(_ctl(layout, "list_users", "--silent", "--formatter", "json") or "[]")
    present = {entry["user"]: sorted(entry.get("tags") or []) for entry in listed}
    if "guest" in present:
        _ctl(layout, "delete_user", "guest")
    if RABBITMQ_VHOST not in _ctl(layout, "list_vhosts", "--silent").split():
        _ctl(layout, "add_vhost", RABBITMQ_VHOST)
    permissions = json.loads(
        _ctl(layout, "list_permissions", "-p", RABBITMQ_VHOST, "--silent", "--formatter", "json") or "[]"
    )
    full = {
        entry["user"]
        for entry in permissions
        if (entry["configure"], entry["write"], entry["read"]) == (".*",) * 3
    }
    for user, tag in users.items():
        password = layout.credentials[f"rabbitmq/{user}"]
        if user not in present:
            _ctl(layout, "add_user", user, password)
        if present.get(user) != ([tag] if tag else []):
            _ctl(layout, "set_user_tags", user, *([tag] if tag else []))
        if user not in full:
            _ctl(layout, "set_permissions", "-p", RABBITMQ_VHOST, user, ".*", ".*", ".*")
        if user in present and not _rabbit_login(layout, user):
            _ctl(layout, "change_password", user, password)
    servers(layout).by_kind["rabbitmq"].load(rabbitmq_topology(drill_queue=True))


def rabbitmq_topology(drill_queue: bool = False) -> dict:
    """The platform vhost's queues as a definitions document, the same here and on the clusters
    (their `rabbitmq-definitions`): the usage events in a quorum queue (durable, replicated in a
    cluster, at-least-once with publisher confirms) and a stream, and seed 002's dead-letter
    queue, applied by policy, not by clients. `drill_queue`: the local drills' canary too."""
    queue_types = {USAGE_QUEUE: "quorum", f"{USAGE_QUEUE}.dead": "quorum", f"{USAGE_QUEUE}.stream": "stream"}
    if drill_queue:
        queue_types[DRILL_QUEUE] = "quorum"
    vhost = RABBITMQ_VHOST
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [{"name": f"{USAGE_QUEUE}.dlx", "vhost": vhost, "type": "fanout", "durable": True,
                       "auto_delete": False, "internal": False, "arguments": {}}],
        "queues": [{"name": name, "vhost": vhost, "durable": True, "auto_delete": False,
                    "arguments": {"x-queue-type": kind}} for name, kind in queue_types.items()],
        "bindings": [{"source": f"{USAGE_QUEUE}.dlx", "vhost": vhost, "destination": f"{USAGE_QUEUE}.dead",
                      "destination_type": "queue", "routing_key": "", "arguments": {}}],
        "policies": [{"vhost": vhost, "name": "usage-dead-letter", "pattern": f"^{USAGE_QUEUE}$",
                      "apply-to": "queues", "priority": 0,
                      "definition": {"dead-letter-exchange": f"{USAGE_QUEUE}.dlx", "delivery-limit": 5}}],
    }  # fmt: skip


def stop_rabbitmq(layout: Layout | None) -> None:
    """A clean stop through rabbitmqctl when the layout (its node name) is known; epmd, which
    outlives the node, and anything left are stopped with the other processes of ours."""
    if layout and rabbitmq_running():
        with contextlib.suppress(LocalError):
            _ctl(layout, "stop")


# ---------------------------------------------------------------------- moto


def _moto_dir() -> Path:
    return local_dir() / "moto"


def moto_running() -> bool:
    return _running("moto")


def start_moto(layout: Layout) -> str:
    base = _moto_dir()
    base.mkdir(parents=True, exist_ok=True)
    if moto_running():
        # ours already: if it listens elsewhere than the layout says (the port was reassigned
        # while it was starting), the layout follows it rather than wait for a port it never takes
        listening = [port for kind, _, port in listening_sockets() if kind == "moto"]
        if listening and layout.ports["moto"] not in listening:
            layout.ports["moto"] = listening[0]
            layout.save()
        wait_for(lambda: port_listening(layout.ports["moto"]), "moto server")
        return "already running"
    server = str(load_manifest().venv / "bin" / "moto_server")
    log = (base / "log").open("a")
    subprocess.Popen(
        [server, "-H", HOST, "-p", str(layout.ports["moto"])],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=server_env(),
    )  # fmt: skip
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
    entries = {
        name: json.dumps(connection_secret(layout, key)) for key, name in layout.secret_names().items()
    }
    # the bundles' secrets, as the local ClusterSecretStore's ExternalSecrets read them
    entries |= {name: json.dumps(values) for name, values in bundle_values(layout).items()}
    for name, value in entries.items():
        try:
            current = secret_versions.current_string(manager, name)
        except manager.exceptions.ResourceNotFoundException:
            tags = [{"Key": "environment", "Value": "local"}]
            if name in layout.rotated:  # a restarted emulator: the value's date is its rotation's
                tags.append({"Key": secret_versions.ROTATED_TAG, "Value": layout.rotated[name]})
            manager.create_secret(Name=name, SecretString=value, Tags=tags)
            continue
        # a new version only for a real change (a moved port): its date is the last rotation's
        if json.loads(current) != json.loads(value):
            manager.put_secret_value(SecretId=name, SecretString=value)


def bundle_secrets() -> dict[str, secret_bundles.Declared]:
    """Store entry -> declaration of every bundle secret the local environment reads."""
    environment = environments.load("local")
    found = {}
    for item in secret_bundles.for_environment(environment):
        store = item.declared.store or secret_bundles.Store.LOCAL_SECRETS_MANAGER
        found[secret_bundles.entry_name(environment, store, item.name)] = item.declared
    return found


def bundle_values(layout: Layout) -> dict[str, dict[str, str]]:
    """Store entry -> key -> value of every bundle secret the local environment reads: generated
    here, third-party values included (nothing local calls a provider), kept in the layout so a
    restarted emulator gets the same values."""
    values: dict[str, dict[str, str]] = {}
    for entry, declared in bundle_secrets().items():
        kept = layout.bundles.get(entry, {})
        values[entry] = fresh_values(declared, None) | {
            key: kept[key]
            for key in declared.secret.keys
            if kept.get(key) and _keeps(declared, key, kept[key])
        }
    if values != layout.bundles:
        layout.bundles = values
        layout.save()
    return values


# ------------------------------------------------- the bundles' users on the servers

# A bundle secret with a server's username and password keys is a real user of that server
# (the platform services' own users): PostgreSQL roles on the `platform` database, Redis ACL
# users limited to their key prefix, RabbitMQ users of the platform vhost.
PLATFORM_DATABASE = "platform"
ACCOUNT_KEYS = {
    "postgres": secret_bundles.POSTGRES_ACCOUNT_KEYS,
    "redis": ("redis-username", "redis-password"),
    "rabbitmq": ("rabbitmq-username", "rabbitmq-password"),
}
# One password per user on PostgreSQL and RabbitMQ: a rotation alternates between two users.
# Redis accepts several passwords per user: the same user gets the new one beside the old.
ALTERNATING = frozenset({"postgres", "rabbitmq"})
CLONE = "-clone"


def accounts(values: dict[str, str]) -> list[Account]:
    """The server users a bundle secret's value holds."""
    return [
        Account(server, values[user_key], values[password_key])
        for server, (user_key, password_key) in ACCOUNT_KEYS.items()
        if user_key in values and password_key in values
    ]


def account_names(server: str, username: str) -> tuple[str, ...]:
    """The users one credential may be: an alternating pair, or the one user."""
    base = username.removesuffix(CLONE)
    return (base, base + CLONE) if server in ALTERNATING else (base,)


def _base_username(declared: secret_bundles.Declared, prefix: str = "") -> str:
    return f"{prefix}{declared.bundle}-{declared.name.removesuffix('-credentials')}"


def postgres_memberships(prefix: str = "") -> dict[str, tuple[str, ...]]:
    """PostgreSQL user -> the roles it is granted (the exporter's pg_monitor), for both users
    of each alternating pair; `prefix`: the environment's (secret_bundles.user_prefix)."""
    return {
        user: secret.postgres_roles
        for owner, bundle in secret_bundles.load_all().items()
        for name, secret in bundle.secrets.items()
        if secret.postgres_roles
        for user in account_names(
            "postgres", _base_username(secret_bundles.Declared(owner, name, secret, None), prefix)
        )
    }


def _username_server(key: str) -> str | None:
    return next((server for server, (user_key, _) in ACCOUNT_KEYS.items() if user_key == key), None)


def _keeps(declared: secret_bundles.Declared, key: str, value: str) -> bool:
    """Whether a kept value still fits its key (a username from an older layout may not)."""
    server = _username_server(key)
    return server is None or value in account_names(server, _base_username(declared))


def fresh_values(
    declared: secret_bundles.Declared, current: dict[str, str] | None, issued: frozenset[str] = frozenset(),
    prefix: str = "",
) -> dict[str, str]:  # fmt: skip
    """New values for every key of a secret. After `current`: the other user of an alternating
    pair, the same Redis user, new passwords; a LiveKit key pair for keys.yaml, keeping the
    pairs whose API keys are `issued` (held by other secrets). Users are named after the secret,
    after `prefix` where servers serve several environments (secret_bundles.user_prefix)."""
    values = {}
    for key in declared.secret.keys:
        server = _username_server(key)
        if server is None:
            values[key] = (
                _livekit_keys((current or {}).get(key), issued) if key == "keys.yaml" else new_password()
            )
            continue
        pair = account_names(server, _base_username(declared, prefix))
        now = (current or {}).get(key)
        values[key] = pair[(pair.index(now) + 1) % len(pair)] if now in pair else pair[0]
    return values


def _livekit_keys(current: str | None, issued: frozenset[str] = frozenset()) -> str:
    """keys.yaml as livekit-server reads it (API key: secret), a new pair first. The newest pair
    of `current` stays, so the server accepts both while its clients move to the new one; the
    pair before that goes (as ElastiCache keeps two passwords per user), unless another secret
    holds it (the agents' and SIP's pairs, issued from this file)."""
    lines = (current or "").splitlines()
    kept = lines[:1] + [line for line in lines[1:] if line.split(":", 1)[0].strip() in issued]
    return "\n".join([f"API{new_password(12)}: {new_password(40)}", *kept]) + "\n"


def desired_accounts(versions: list[dict[str, str]]) -> dict[str, dict[str, list[str]]]:
    """server -> user -> the passwords it must accept, from the values of every valid version;
    the other user of an alternating pair that no version holds gets none (it cannot log in)."""
    wanted: dict[str, dict[str, list[str]]] = {server: {} for server in ACCOUNT_KEYS}
    for values in versions:
        for account in accounts(values):
            for name in account_names(account.server, account.username):
                wanted[account.server].setdefault(name, [])
            if account.password not in wanted[account.server][account.username]:
                wanted[account.server][account.username].append(account.password)
    return wanted


def merge_accounts(*parts: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """What several secrets' users must accept, together: a user several secrets hold (Azure
    Cache for Redis's `default`, whose keys they share) accepts the passwords of each."""
    merged: dict[str, dict[str, list[str]]] = {server: {} for server in ACCOUNT_KEYS}
    for part in parts:
        for server, users in part.items():
            for user, passwords in users.items():
                kept = merged[server].setdefault(user, [])
                kept += [password for password in passwords if password not in kept]
    return merged


def valid_accounts(layout: Layout) -> dict[str, dict[str, list[str]]]:
    """What every bundle user must accept now, read from the store: a rotation in flight there
    (a pending or a not yet retired previous version) is honoured; entries the store does not
    hold yet have the layout's values."""
    manager = aws_client(layout, "secretsmanager")
    parts = []
    for entry, values in layout.bundles.items():
        try:
            versions = secret_versions.valid_values(manager, entry)
        except manager.exceptions.ResourceNotFoundException:
            versions = [values]
        parts.append(desired_accounts(versions))
    return merge_accounts(*parts)


def servers(layout: Layout) -> credential_servers.Servers:
    """The local servers, as the rotation and `up` converge their users."""
    if "rabbitmq_management" not in layout.ports:
        raise LocalError("the local servers predate RabbitMQ's management listener: run invoke local.up")
    admin = layout.credentials
    return credential_servers.Servers({
        "postgres": credential_servers.PostgresServer(
            (HOST, layout.ports["postgres"]), ("postgres", admin["postgres/admin"]), PLATFORM_DATABASE,
            memberships=postgres_memberships(),
        ),
        "redis": credential_servers.RedisAclServer(
            (HOST, layout.ports["redis"]), ("admin", admin["redis/admin"])
        ),
        "rabbitmq": credential_servers.RabbitServer(
            (HOST, layout.ports["rabbitmq"]), f"http://{HOST}:{layout.ports['rabbitmq_management']}",
            ("admin", admin["rabbitmq/admin"]), RABBITMQ_VHOST,
        ),
    })  # fmt: skip


def converge_accounts(
    layout: Layout, wanted: dict[str, dict[str, list[str]]], refused: tuple[Account, ...] = ()
) -> dict[str, float]:
    """Make each server accept exactly `wanted` for these users (others are left alone), and
    wait until it does; `refused`: retired credentials to see rejected before returning."""
    return servers(layout).converge(wanted, refused)


def account_accepted(layout: Layout, account: Account) -> bool:
    """Whether the server accepts a login with this credential right now."""
    return servers(layout).accepted(account)


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
    return json.loads(secret_versions.current_string(aws_client(layout, "secretsmanager"), f"{PREFIX}/{key}"))


# ----------------------------------------------------------------- lifecycle


def adopt_current_credentials(layout: Layout) -> list[str]:
    """Take each credential's current version from the secret store where it differs from the
    layout file (a rotation happened there): a re-run never undoes a rotation."""
    manager = aws_client(layout, "secretsmanager")
    adopted = []
    for key, name in layout.secret_names().items():
        try:
            current = json.loads(secret_versions.current_string(manager, name))["password"]
        except manager.exceptions.ResourceNotFoundException:
            continue
        if current != layout.credentials[key]:
            layout.credentials[key] = current
            adopted.append(key)
    for entry, values in layout.bundles.items():
        try:
            current_values = json.loads(secret_versions.current_string(manager, entry))
        except manager.exceptions.ResourceNotFoundException:
            continue
        if current_values != values:
            layout.bundles[entry] = current_values
            adopted.append(entry.removeprefix(f"{PREFIX}/"))
    if adopted:
        layout.save()
    return adopted


def up(report: Callable[[str], None] = print) -> Layout:
    """Start every local server that is not running and provision all of them; safe to re-run
    and to interrupt anywhere: the next run converges to the declared state."""
    previous = Layout.load()
    if previous is None and owned_processes():
        report(f"stopped servers whose state files were removed: {', '.join(stop_owned())}")
    layout = Layout(
        ports=allocate_ports(previous.ports if previous else None),
        credentials=generate_credentials(previous.credentials if previous else None),
        bundles=previous.bundles if previous else {},
        rotated=previous.rotated if previous else {},
    )
    if previous and previous.ports != layout.ports:
        moved = [name for name, port in layout.ports.items() if previous.ports.get(name) != port]
        report(f"ports taken by other programs, moved: {', '.join(moved)}")
    layout.save()
    wanted: dict[str, dict[str, list[str]]] = {}

    def read_store(layout: Layout) -> str:
        """The secret store first: it holds the current credentials every other server is given."""
        outcome = start_moto(layout)
        if adopted := adopt_current_credentials(layout):
            report(f"credentials rotated in the secret store, kept: {', '.join(adopted)}")
        return outcome

    def fill_store(layout: Layout) -> None:
        nonlocal wanted
        provision_moto(layout)
        wanted = valid_accounts(layout)

    steps = [
        ("moto", read_store, fill_store),
        ("postgres", start_postgres,
         lambda layout: (provision_postgres(layout),
                         servers(layout).by_kind["postgres"].converge(wanted["postgres"]))),
        # its ACL users, the bundles' included, are written and reloaded by the start
        ("redis", lambda layout: start_redis(layout, wanted["redis"]), None),
        ("rabbitmq", start_rabbitmq,
         lambda layout: (provision_rabbitmq(layout), _rabbitmq_accounts(layout, wanted["rabbitmq"]))),
    ]  # fmt: skip
    for name, start, provision in steps:
        started = time.monotonic()
        report(f"{name}: starting")
        outcome = start(layout)
        if provision:
            report(f"{name}: provisioning")
            provision(layout)
        report(f"{name}: {outcome} on {HOST}:{layout.ports[name]} ({time.monotonic() - started:.1f}s)")
    return layout


def _rabbitmq_accounts(layout: Layout, users: dict[str, list[str]]) -> None:
    """Import the bundles' users as the store has them, always: a user the store retired may
    still log in with a password from older definitions (a restored backup), and only an import
    takes it away."""
    converge_accounts(layout, {"rabbitmq": users})


@contextlib.contextmanager
def scratch_state() -> Iterator[Path]:
    """A state directory of its own for the length of a block (the benchmarks'): what was
    started in it is stopped and its data removed at the end."""
    state = Path(tempfile.mkdtemp(prefix="voiceops-bench-"))
    state.chmod(0o755)  # as root, PostgreSQL runs as the postgres user and must reach its data
    previous = os.environ.get("VOICEOPS_STATE_DIR")
    os.environ["VOICEOPS_STATE_DIR"] = str(state)
    try:
        yield state
    finally:
        down(keep_data=False, report=lambda _line: None)
        shutil.rmtree(state, ignore_errors=True)
        if previous is None:
            os.environ.pop("VOICEOPS_STATE_DIR", None)
        else:
            os.environ["VOICEOPS_STATE_DIR"] = previous


def summary(layout: Layout) -> str:
    return f"{len(SERVICES)} servers running and provisioned on {HOST} ({len(layout.ports)} ports)"


def down(keep_data: bool = True, report: Callable[[str], None] = print) -> None:
    """Stop every server of ours (found by its marker, so also without the state files)."""
    layout = Layout.load()
    if running := sorted(owned_processes()):
        if layout and moto_running():  # moto forgets on stop: keep what was rotated in it first
            adopt_current_credentials(layout)
        # the snapshot process first, waiting for it to end: a rabbitmqctl it runs while the
        # servers stop would start an epmd again after them
        stop_kind("protection")
        stop_postgres()
        stop_rabbitmq(layout)
        stop_owned()
        report(f"stopped: {', '.join(running)}")
    else:
        report("nothing was running")
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
    """Each server's state from the processes themselves; ports from the layout file, or from
    what our processes listen on when that file is gone."""
    layout = Layout.load()
    owned = owned_processes()
    listening: dict[str, list[int]] = {}
    for kind, _, port in listening_sockets():
        listening.setdefault(kind, []).append(port)
    result = []
    for name in SERVICES:
        port = layout.ports[name] if layout else min(listening.get(name, [0])) or None
        running = bool(owned.get(name))
        result.append(ServiceStatus(name, port, running, port is not None and port_listening(port)))
    return result
