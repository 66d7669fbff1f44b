"""The servers `secrets.rotate` sets users on in a Linode environment: the managed PostgreSQL
databases the cluster owner's stack makes (modules/linode/databases, one per service, shared by
every environment of the cluster), as the administrator the Linode API gives for each; the
environment's in-cluster RabbitMQ as on AWS and Azure; and the platform's in-cluster Redis
(platform-redis), on each of its servers, as ACLs do not replicate.

platform-redis reads its users at boot from platform-redis-acl, which `RedisAcl` derives from
the store as RabbitMQ's definitions are: the `default` user with platform-redis-auth's password
(the chart's requirepass and masterauth; an ACL file without it would let anyone in as
`default`), and each service with the passwords it must accept, as SHA-256 hashes. The rotation
reaches each server through `kubectl port-forward` for its run, or through `--via redis=...,
redis-1=...` (one tunnel per server).

The same users are made on each database, in the environment's own database there
(`<environment>-platform`), and their names carry the environment's (secret_bundles.user_prefix),
so one environment's rotation never touches another's. The databases admit only the cluster's
nodes and the delivery runner (the stack's allow list): the rotation runs on that runner.

LINODE_TOKEN is the API token (read_only on databases is enough); VOICEOPS_LINODE_URL names
another endpoint, an emulator on this machine."""

from __future__ import annotations

import atexit
import hashlib
import http.client
import json
import os
import re
import select
import subprocess
import threading
import urllib.error
import urllib.parse
from collections.abc import Callable
from typing import Any

import yaml

from voiceops import (
    aws_rotation,
    catalog,
    cloud_drills,
    cluster,
    credential_servers,
    environments,
    local,
    secret_bundles,
    secret_versions,
    toolchain,
)
from voiceops.environments import Environment
from voiceops.errors import OpsError
from voiceops.runs import RunIncomplete

API_URL = "https://api.linode.com/v4"
URL_VARIABLE, TOKEN_VARIABLE = "VOICEOPS_LINODE_URL", "LINODE_TOKEN"
# modules/linode/databases labels each database <prefix>-<service>, -tsdb where TimescaleDB is on
DATABASES = ("users", "analytics-tsdb", "temporal")
SETS = frozenset({"postgres", "rabbitmq", "redis"})  # the kinds of server whose users are set here
EXPORTER_MODULE = "managed"  # the auth module the exporter's probes name (charts/values/linode)
REDIS_RELEASE, AUTH_SECRET = "platform-redis", "platform-redis-auth"
# keys a rotation keeps as they are, dates included (Sentinels check theirs at boot and among
# themselves): the audit still finds them due
KEPT_KEYS = {AUTH_SECRET: frozenset({"sentinel-password"})}
REDIS_PORT = 6379
FORWARD_SECONDS = 30.0  # how long kubectl port-forward may take to say where it listens
TIMEOUT_SECONDS = 30


def emulated() -> bool:
    """The API is an emulator (the tests' endpoint on this machine): TLS to the databases is for
    Linode's, which any other endpoint is."""
    return cloud_drills.on_this_machine(os.environ.get(URL_VARIABLE))


class LinodeApi:
    """The Linode API's read calls, as the token's holder; one line and exit 5 where it does not
    answer or refuses."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.url = os.environ.get(URL_VARIABLE) or API_URL
        self.token = os.environ.get(TOKEN_VARIABLE, "")
        if not self.token:
            raise RunIncomplete(
                f"{environment.name}: no {TOKEN_VARIABLE}, so the managed databases cannot be found; "
                "nothing was changed"
            )
        if urllib.parse.urlparse(self.url).scheme != "https" and not emulated():
            raise OpsError(f"{URL_VARIABLE} {self.url} is not https: the token would travel in the clear")

    def get(self, path: str, **query: str) -> dict[str, Any]:
        address = f"{self.url.rstrip('/')}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        try:
            answer = credential_servers.call_json(address, f"Bearer {self.token}", timeout=TIMEOUT_SECONDS)
            return answer or {}
        except urllib.error.HTTPError as error:
            reasons = _reasons(error.read())
            raise RunIncomplete(
                f"{self.environment.name}: the Linode API answered {error.code} to {path}"
                f"{f' ({reasons})' if reasons else ''}; nothing was changed"
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, json.JSONDecodeError) as error:
            reason = getattr(error, "reason", error)
            raise RunIncomplete(
                f"{self.environment.name}: cannot read {path} from the Linode API at {self.url} ({reason}); "
                "nothing was changed"
            ) from None

    def listed(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paginated list."""
        items, page, pages = [], 1, 1
        while page <= pages:
            answer = self.get(path, page=str(page))
            items += answer.get("data") or []
            pages = int(answer.get("pages") or 1)
            page += 1
        return items


def _reasons(body: bytes) -> str:
    """The API's error reasons (`{"errors": [{"reason": ...}]}`), else nothing."""
    try:
        errors = json.loads(body).get("errors") or []
    except (ValueError, AttributeError):
        return ""
    return "; ".join(str(item["reason"]) for item in errors if isinstance(item, dict) and item.get("reason"))


class LinodeServers(aws_rotation.CloudServers):
    """The cluster's managed PostgreSQL databases and the environment's RabbitMQ."""

    timeout = 60.0  # a role changed on a database's primary reaches its standbys in moments

    def __init__(self, environment: Environment, store: Any, rotated: frozenset[str] = frozenset()) -> None:
        """`rotated`: the secrets this run rotates."""
        owner = environments.cluster_owner(environment)
        if owner.terraform is None:
            raise OpsError(f"{owner.name}, which owns {environment.name}'s cluster, has no Terraform stack")
        self.environment = environment
        self.store = store
        self.rotated = rotated
        self.labels = [f"{owner.terraform.workload}-{owner.terraform.stage}-{name}" for name in DATABASES]
        self.prefix = secret_bundles.user_prefix(environment)
        self.api = LinodeApi(environment)
        self.forwards = PortForwards(environment)
        self.via: dict[str, tuple[str, int]] = {}

    def postgres(self, via: tuple[str, int] | None) -> credential_servers.EveryServer:
        if via is not None:
            raise OpsError(
                "--via postgres: Linode's PostgreSQL is several databases; run on the delivery runner"
            )
        found = {item.get("label"): item for item in self.api.listed("/databases/postgresql/instances")}
        if missing := [label for label in self.labels if label not in found]:
            raise RunIncomplete(
                f"{self.environment.name}: managed database {', '.join(missing)} not found "
                "(is the stack applied?); nothing was changed"
            )
        servers = []
        for label in self.labels:
            instance = found[label]
            admin = self.api.get(f"/databases/postgresql/instances/{instance['id']}/credentials")
            if not (admin.get("username") and admin.get("password")):
                raise RunIncomplete(f"{label}: the Linode API gives no administrator; nothing was changed")
            host = (instance.get("hosts") or {}).get("primary") or ""
            servers.append(credential_servers.PostgresServer(
                (host, int(instance.get("port") or 5432)), (admin["username"], admin["password"]),
                f"{self.prefix}{local.PLATFORM_DATABASE}", sslmode="prefer" if emulated() else "require",
                memberships=local.postgres_memberships(self.prefix),
            ))  # fmt: skip
        return credential_servers.EveryServer(tuple(servers))

    def redis(self, via: tuple[str, int] | None) -> credential_servers.EveryServer:
        """Every server of platform-redis, as its `default` user (platform-redis-auth). While this
        run gives that password its first value none can run yet: each takes its users from the
        ACL file when it starts."""
        try:
            current = json.loads(secret_versions.current_string(self.store, AUTH_SECRET))
        except self.store.exceptions.ResourceNotFoundException:
            if AUTH_SECRET in self.rotated:
                return credential_servers.EveryServer(())
            raise RunIncomplete(
                f"{AUTH_SECRET} has no value: rotate the platform-redis bundle first; nothing was changed"
            ) from None
        if not isinstance(current, dict) or not current.get("redis-password"):
            raise RunIncomplete(
                f"{AUTH_SECRET} holds no redis-password: seal it (secrets.seal), or rotate the "
                "platform-redis bundle; nothing was changed"
            )
        password = current["redis-password"]
        if AUTH_SECRET in self.rotated and self._first_password_in_flight():
            # its servers start once that password is on main: they are found then, when first used
            return OnFirstUse(lambda: self._redis_servers(password))
        return self._redis_servers(password)

    def _first_password_in_flight(self) -> bool:
        described = self.store.describe_secret(SecretId=AUTH_SECRET)
        tags = {tag["Key"] for tag in described.get("Tags") or []}
        stages = (described.get("VersionIdsToStages") or {}).values()
        previous = any(secret_versions.PREVIOUS in labels for labels in stages)
        return secret_versions.ROTATION_TAG in tags and not previous

    def _redis_servers(self, password: str) -> credential_servers.EveryServer:
        release = self._release(REDIS_RELEASE)
        replicas = int(catalog.merged_values(release).get("replicas", 1))
        named = [kind for kind in sorted(self.via) if re.fullmatch(r"redis(-\d+)?", kind)]
        tunnels = [self.via[kind] for kind in named]
        if tunnels and len(tunnels) != replicas:
            raise OpsError(
                f"--via names {len(tunnels)} Redis server(s), {REDIS_RELEASE} runs {replicas}: give a "
                "tunnel per server (redis, redis-1, ...), as ACL users do not replicate"
            )
        selector = f"release={REDIS_RELEASE},app=redis-ha"
        addresses = tunnels or self.forwards.to_pods(release.namespace, selector, replicas)
        admin = (credential_servers.REDIS_SERVER_USER, password)
        servers = [credential_servers.RedisAclServer(address, admin, saves=False) for address in addresses]
        return credential_servers.EveryServer(tuple(servers))

    def reconnect(self, servers: credential_servers.Servers, kinds: set[str]) -> None:
        """Reach the servers again after a long wait: a port-forward ends with its pod, and
        Reloader replaces the pods once the delivered values change their Secrets."""
        if self.forwards.processes:
            self.forwards.close()
            servers.by_kind.update(self.servers(kinds, self.given).by_kind)

    def _release(self, name: str) -> catalog.Release:
        found = next((item for item in catalog.releases_for(self.environment) if item.name == name), None)
        if found is None:
            raise OpsError(f"{self.environment.name} does not install {name}")
        return found

    def servers(self, kinds: set[str], via: dict[str, tuple[str, int]]) -> credential_servers.Servers:
        """Through the tunnels given, else through port-forwards: the delivery runner is outside
        the cluster, whose service names it cannot resolve."""
        self.given = dict(via)
        self.via = dict(via)  # Redis's servers may be several tunnels (redis, redis-1, ...)
        if "rabbitmq" in kinds and "rabbitmq" not in via:
            release = aws_rotation.RABBITMQ_RELEASE
            namespace, (amqp, management) = self._release(release).namespace, aws_rotation.RABBITMQ_PORTS
            self.via["rabbitmq"] = self.forwards.open(namespace, f"svc/{release}", amqp)
            self.via["rabbitmq-management"] = self.forwards.open(namespace, f"svc/{release}", management)
        return super().servers(kinds, self.via)


class OnFirstUse:
    """Servers found when a step first needs them, not before the run starts."""

    def __init__(self, find: Callable[[], credential_servers.EveryServer]) -> None:
        self._find = find
        self._found: credential_servers.EveryServer | None = None

    @property
    def found(self) -> credential_servers.EveryServer:
        if self._found is None:
            self._found = self._find()
        return self._found

    @property
    def probes(self) -> list[tuple[str, int]]:
        return []  # reached when found

    @property
    def admin(self) -> tuple[str, str]:
        return self.found.admin

    def converge(self, users: credential_servers.USERS_ONLY) -> None:
        self.found.converge(users)

    def accepts(self, username: str, password: str) -> bool:
        return self.found.accepts(username, password)

    def refuses(self, username: str, password: str) -> bool:
        return self.found.refuses(username, password)


class PortForwards:
    """`kubectl port-forward` to each of a workload's pods, open for the rest of the run."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.processes: list[subprocess.Popen[str]] = []
        atexit.register(self.close)

    def to_pods(
        self, namespace: str, selector: str, expected: int, port: int = REDIS_PORT
    ) -> list[tuple[str, int]]:
        """A port-forward to each pod, once all `expected` are there (one being replaced would
        miss the users)."""
        names = ("-o", "jsonpath={.items[*].metadata.name}")
        listed = cluster.kubectl(self.environment, "get", "pods", "-n", namespace, "-l", selector, *names)
        pods = listed.stdout.split()
        if listed.returncode != 0 or not pods:
            reason = cluster.last_line(listed) if listed.returncode else f"no pod has {selector}"
            raise RunIncomplete(
                f"{self.environment.name}: cannot reach the servers in {namespace} ({reason}): run where the "
                "cluster answers, or give --via redis=HOST:PORT,redis-1=... for each; nothing was changed"
            )
        if len(pods) != expected:
            raise RunIncomplete(
                f"{self.environment.name}: {len(pods)} of {expected} pods with {selector} in {namespace}: "
                "wait until every one runs, then run again; nothing was changed"
            )
        return [self.open(namespace, f"pod/{pod}", port) for pod in pods]

    def open(self, namespace: str, target: str, port: int) -> tuple[str, int]:
        """Where a port-forward to the target's port listens; one line and exit 5 if it cannot."""
        kubectl = toolchain.require("kubectl", cluster.ClusterUnreachable)
        command = [
            kubectl, "--context", cluster.context(self.environment), "-n", namespace,
            "port-forward", target, f":{port}", "--address", "127.0.0.1",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.processes.append(process)
        ready, _, _ = select.select([process.stdout], [], [], FORWARD_SECONDS)
        line = process.stdout.readline() if ready and process.stdout else ""
        if not (found := re.search(r"127\.0\.0\.1:(\d+)", line)):
            process.kill()
            error = (process.communicate(timeout=10)[1] or "").strip().splitlines()
            raise RunIncomplete(
                f"kubectl port-forward {target}: {error[-1] if error else 'no answer'}; nothing was changed"
            )
        for stream in (process.stdout, process.stderr):  # a line per connection: a full pipe would stall it
            threading.Thread(target=_drain, args=(stream,), daemon=True).start()
        return ("127.0.0.1", int(found.group(1)))

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        self.processes.clear()


def _drain(stream: Any) -> None:
    for _ in stream:
        pass


class RedisAcl(aws_rotation.DerivedSecret):
    """platform-redis-acl: users.acl, which every platform-redis server reads at boot."""

    name, key, kind = aws_rotation.REDIS_ACL_SECRET, "users.acl", "redis"
    first_value = "rotate the platform-redis bundle"
    admin_secret, admin_key, admin_user = AUTH_SECRET, "redis-password", credential_servers.REDIS_SERVER_USER

    def fresh(self, declared: secret_bundles.Declared, current: dict[str, str] | None) -> dict[str, str]:
        """platform-redis-auth's password is the `default` user's, which takes the new one beside
        the old on every server; Sentinel's is kept: Sentinels check it at boot and among
        themselves, so a rolling restart cannot change it without a failover going wrong."""
        if declared.name != AUTH_SECRET:
            return super().fresh(declared, current)
        kept = {key: current[key] for key in KEPT_KEYS[AUTH_SECRET] if current and current.get(key)}
        return local.fresh_values(declared, current) | {"redis-username": self.admin_user} | kept

    def text(self, users: dict[str, list[str]], current: str = "") -> str:
        """The file, the same whatever the order the store lists the valid values in (a promotion
        reorders them): a server reading it accepts the same. The `default` user comes first:
        without it in the file, Redis would let anyone in as `default`."""
        lines = []
        for user, passwords in users.items():
            ordered = sorted(passwords, key=lambda password: hashlib.sha256(password.encode()).hexdigest())
            lines.append(" ".join(credential_servers.redis_rules(user, ordered, hashed=True)))
        return "\n".join(lines) + "\n"

    def says(self, current: str, users: dict[str, list[str]]) -> bool:
        return current == self.text(users)


class ExporterAuth(aws_rotation.DerivedSecret):
    """postgres-exporter-auth: postgres_exporter.yml, whose auth module `managed` the exporter's
    probes of the managed databases log in with: the login postgres-exporter-credentials holds,
    its pending one once made, so the file reaches main with the promoted login."""

    name, key, kind = aws_rotation.EXPORTER_AUTH_SECRET, "postgres_exporter.yml", "postgres"
    first_value = (
        f"rotate --secret {aws_rotation.EXPORTER_SECRET}, then --secret {aws_rotation.EXPORTER_AUTH_SECRET}"
    )
    admin_secret, admin_key, admin_user = aws_rotation.EXPORTER_SECRET, "postgres-password", ""

    def users(self) -> dict[str, list[str]] | None:
        entry = self.entries.get(self.admin_secret)
        valid = self._valid(entry) if entry else []
        if not valid:
            return None
        newest = valid[1] if len(valid) > 1 and self._pending(entry) else valid[0]
        return {newest["postgres-username"]: [newest["postgres-password"]]}

    def _pending(self, entry: str) -> bool:
        stages = self.store.describe_secret(SecretId=entry).get("VersionIdsToStages") or {}
        return any(secret_versions.PENDING in labels and secret_versions.CURRENT not in labels
                   for labels in stages.values())  # fmt: skip

    def text(self, users: dict[str, list[str]], current: str = "") -> str:
        """The auth module with this login; the rest of a current file (its TLS options, other
        modules) stays as written."""
        ((user, passwords),) = users.items()
        document = _auth_modules(current)
        module = document.setdefault("auth_modules", {}).setdefault(EXPORTER_MODULE, {})
        module.setdefault("options", {"sslmode": "require"})  # the managed databases accept TLS only
        module.update({"type": "userpass", "userpass": {"username": user, "password": passwords[-1]}})
        return yaml.safe_dump(document, sort_keys=False)

    def says(self, current: str, users: dict[str, list[str]]) -> bool:
        ((user, passwords),) = users.items()
        module = (_auth_modules(current).get("auth_modules") or {}).get(EXPORTER_MODULE) or {}
        return module.get("userpass") == {"username": user, "password": passwords[-1]}


def _auth_modules(text: str) -> dict[str, Any]:
    """A postgres_exporter.yml's document; an empty one where it is none."""
    try:
        document = yaml.safe_load(text or "{}")
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}
