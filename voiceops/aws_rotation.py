"""`secrets.rotate` on AWS: the store is the environment's Secrets Manager; the servers are its
RDS PostgreSQL (as the administrator whose password RDS keeps in Secrets Manager), the RBAC
users of its ElastiCache replication group, and the in-cluster RabbitMQ through its management
API. Consumers read the store through External Secrets and are rolled by Reloader, so the
previous credential is retired only after External Secrets' refresh interval and a rollout.

The servers' addresses are private: the environment's runners reach them. From elsewhere,
`--via server=host:port` names a tunnel (an SSM or kubectl port-forward) for a server.
With AWS_ENDPOINT_URL set (an emulator such as moto) the same calls go there."""

from __future__ import annotations

import abc
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from voiceops import (
    catalog,
    cloud_drills,
    cluster,
    credential_servers,
    local,
    secret_bundles,
    secret_versions,
    terraform,
)
from voiceops.credential_servers import Servers
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.runs import RunIncomplete
from voiceops.secret_bundles import Strategy

VIA_SERVERS = ("postgres", "redis", "rabbitmq", "rabbitmq-management")
ROLLOUT_SECONDS = 600.0  # Reloader's rolling restart of a reader, after External Secrets wrote the Secret
FOLLOWED_GRACE_SECONDS = 120.0  # after every listed reader rolled: for anything not listed (jobs)
READERS_TIMEOUT_SECONDS = 900.0
RABBITMQ_RELEASE = "rabbitmq"
RABBITMQ_ADMIN = "user"  # bitnami/rabbitmq's auth.username default, which our values keep
RABBITMQ_PORTS = (5672, 15672)  # AMQP, management API
ADMIN_SECRET, DEFINITIONS_SECRET = "rabbitmq-credentials", "rabbitmq-definitions"
# Linode's in-cluster Redis's users (linode_servers.RedisAcl), read at boot like the definitions
REDIS_ACL_SECRET = "platform-redis-acl"  # noqa: S105 - a secret's name
# the exporter's auth module on Linode, naming the login postgres-exporter-credentials holds
EXPORTER_SECRET, EXPORTER_AUTH_SECRET = "postgres-exporter-credentials", "postgres-exporter-auth"
# values that follow the store's users
DERIVED_SECRETS = frozenset({DEFINITIONS_SECRET, REDIS_ACL_SECRET, EXPORTER_AUTH_SECRET})
ISSUED_KEY = "livekit-api-key"  # a LiveKit pair issued from keys.yaml to another secret
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_via(text: str) -> dict[str, tuple[str, int]]:
    """`postgres=127.0.0.1:15432,rabbitmq=...`: the tunnels to reach servers through."""
    found: dict[str, tuple[str, int]] = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        match = re.fullmatch(r"([a-z-]+|redis-\d+)=([A-Za-z0-9.-]+):(\d{1,5})", part)
        known = match and (match.group(1) in VIA_SERVERS or re.fullmatch(r"redis-\d+", match.group(1)))
        if not match or not known or not 0 < int(match.group(3)) < 65536:
            raise OpsError(
                f"--via takes server=host:port with server one of {', '.join(VIA_SERVERS)} (on Linode also "
                f"redis-1, redis-2, ...: one per Redis server), not {part!r}"
            )
        found[match.group(1)] = (match.group(2), int(match.group(3)))
    return found


def refresh_seconds(environment: Environment) -> float:
    """How often External Secrets re-reads each entry for the environment's readers."""
    release = next((item for item in catalog.releases_for(environment) if item.name == "base"), None)
    values = catalog.merged_values(release) if release else {}
    interval = str((values.get("secretStore") or {}).get("refreshInterval") or "1h")
    match = re.fullmatch(r"(\d+)([smh])", interval)
    if not match:
        raise OpsError(f"{environment.name}: secretStore.refreshInterval {interval!r} is not <number><s|m|h>")
    return float(int(match.group(1)) * UNIT_SECONDS[match.group(2)])


def minimum_grace(environment: Environment) -> float:
    """The previous credential stays valid until every reader has the new one."""
    return refresh_seconds(environment) + ROLLOUT_SECONDS


def servers_needed(targets: list[Any]) -> set[str]:
    """The kinds of server whose users the rotated secrets hold."""
    return {
        server
        for target in targets
        for server, (user_key, _) in local.ACCOUNT_KEYS.items()
        if user_key in target.declared.secret.keys
    }


def unsafe(targets: list[Any], has_value: Callable[[str], bool], cloud: str = "AWS") -> list[str]:
    """Why some targets cannot be rotated here: a new value in the store alone would reach the
    readers while whatever checks it still expects the old one, or would replace a third party's
    credential with a random string. A generated secret with no value yet has no reader to lose."""
    reasons = []
    for target in targets:
        declared = target.declared
        source, keys = declared.secret.source, set(declared.secret.keys)
        if source.issuer:
            reasons.append(f"{declared.name} is issued by {source.issuer} ({source.how})")
        elif servers_needed([target]) or declared.name in DERIVED_SECRETS:
            continue  # its users are set on their servers first; a derived value follows the store
        elif declared.secret.rotation.strategy is Strategy.REGENERATE or keys == {"keys.yaml"}:
            continue  # only its readers check it (LiveKit keeps the newest old pair beside the new)
        elif has_value(target.entry):
            reasons.append(
                f"{declared.name} ({', '.join(declared.secret.keys)}) is checked by a server whose "
                f"credential secrets.rotate does not change on {cloud}"
            )
    return reasons


@contextlib.contextmanager
def answering(environment: Environment) -> Iterator[None]:
    """AWS failing before anything changed (no route, expired credentials, access denied): one
    line and exit 5."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise RunIncomplete(f"{environment.name}: AWS: {error}; nothing was changed") from None


def has_value(environment: Environment, store: Any, where: str = "Secrets Manager") -> Callable[[str], bool]:
    """Whether readers may depend on an entry's value: it has a current one, which no rotation
    in flight made (that rotation was allowed when it began, and a re-run completes it); an
    entry the stack did not make stops the run."""

    def check(entry: str) -> bool:
        try:
            described = store.describe_secret(SecretId=entry)
            if secret_versions.ROTATION_TAG in {tag["Key"] for tag in described.get("Tags") or []}:
                return False
            stages = described.get("VersionIdsToStages") or {}
        except store.exceptions.ResourceNotFoundException:
            raise RunIncomplete(
                f"{environment.name}: {entry} is not in {where} (stack applied?); nothing was changed"
            ) from None
        return any(secret_versions.CURRENT in labels for labels in stages.values())

    return check


class DerivedSecret(abc.ABC):
    """A secret whose one value a server reads at boot, derived from what the store holds as valid
    (the users the servers accept), and kept so whenever those change: a restarted or rebuilt
    server accepts what the running one does. Derived from an administrator secret's value and
    every valid value of the secrets holding a `kind` user."""

    name: str  # the derived secret
    key: str  # its one key
    admin_secret: str  # whose value it needs first: the administrator's password
    admin_key: str
    admin_user: str
    kind: str  # the servers whose users it holds
    first_value: str  # how it gets its first value

    def __init__(self, environment: Environment, store: Any) -> None:
        self.store = store
        self.prefix = secret_bundles.user_prefix(environment)
        self.kept = False  # the last keep() found or wrote a value that says the valid users
        self.stored = [
            item for item in secret_bundles.for_environment(environment) if item.declared.store is not None
        ]
        self.entries = {
            item.name: secret_bundles.entry_name(environment, item.declared.store, item.name)
            for item in self.stored
            if item.declared.store is not None
        }
        user_key = local.ACCOUNT_KEYS[self.kind][0]
        self.user_entries = sorted({
            self.entries[item.name] for item in self.stored if user_key in item.declared.secret.keys
        })  # fmt: skip

    def _valid(self, entry: str) -> list[dict[str, str]]:
        """The entry's valid values; none where it does not exist. An unreadable one stops what
        needs it: the servers keep the value they have."""
        try:
            return secret_versions.valid_values(self.store, entry)
        except self.store.exceptions.ResourceNotFoundException:
            return []

    def users(self) -> dict[str, list[str]] | None:
        """Each user and the passwords the servers must accept, the administrator first; None
        while the administrator has no value."""
        admin = self._valid(self.entries[self.admin_secret]) if self.admin_secret in self.entries else []
        if not admin:
            return None
        versions = [values for entry in self.user_entries for values in self._valid(entry)]
        return {self.admin_user: [admin[-1][self.admin_key]], **local.desired_accounts(versions)[self.kind]}

    @abc.abstractmethod
    def text(self, users: dict[str, list[str]], current: str = "") -> str:
        """The value the servers read, saying these users (and whatever else `current` says)."""

    @abc.abstractmethod
    def says(self, current: str, users: dict[str, list[str]]) -> bool:
        """Whether a value already says what text(users) would."""

    def fresh(self, declared: secret_bundles.Declared, current: dict[str, str] | None) -> dict[str, str]:
        """A new value: the other user of a pair, new passwords, or the derived value."""
        if declared.name != self.name:
            return local.fresh_values(declared, current, prefix=self.prefix)
        users = self.users()
        if users is None:
            raise OpsError(f"{self.name} needs a value of {self.admin_secret} first ({self.first_value})")
        return {self.key: self.text(users, (current or {}).get(self.key, ""))}

    def keep(self) -> str:
        self.kept = False
        entry = self.entries.get(self.name)
        if entry is None:
            return ""
        try:
            if secret_versions.token_in_flight(self.store, [entry]):
                return f"{self.name}: in this rotation"
            current = json.loads(secret_versions.current_string(self.store, entry))[self.key]
        except self.store.exceptions.ResourceNotFoundException:
            return f"{self.name}: not provisioned ({self.first_value})"
        except (KeyError, json.JSONDecodeError, StopIteration):
            current = ""
        try:
            users = self.users()
        except secret_versions.ValueUnreadable as error:
            return f"{self.name}: not rewritten, {error.message}"
        if users is None:
            return f"{self.name}: not written, {self.admin_secret} has no value"
        if self.says(current, users):
            self.kept = True
            return f"{self.name}: current"
        self.store.put_secret_value(
            SecretId=entry, SecretString=json.dumps({self.key: self.text(users, current)})
        )
        self.kept = True
        return f"{self.name}: rewritten with {len(users)} user(s)"


class Definitions(DerivedSecret):
    """`rabbitmq-definitions`, which every broker imports at boot (and with which the chart makes
    no administrator of its own): the platform's queues, the administrator, and each RabbitMQ user
    the store holds as valid now."""

    name, key, kind, first_value = (
        DEFINITIONS_SECRET,
        "load_definition.json",
        "rabbitmq",
        "rotate the messaging bundle",
    )
    admin_secret, admin_key, admin_user = ADMIN_SECRET, "rabbitmq-password", RABBITMQ_ADMIN

    def __init__(self, environment: Environment, store: Any) -> None:
        super().__init__(environment, store)
        keys = {item.name: item.declared.secret.keys for item in self.stored}
        self.pair_holders = sorted(name for name, held in keys.items() if ISSUED_KEY in held)

    def document(self) -> dict[str, Any] | None:
        users = self.users()
        return None if users is None else json.loads(self.text(users))

    def text(self, users: dict[str, list[str]], current: str = "") -> str:
        listed = credential_servers.rabbit_definitions(users, local.RABBITMQ_VHOST)
        listed["users"][0]["tags"] = ["administrator"]
        return json.dumps(local.rabbitmq_topology() | listed)

    def says(self, current: str, users: dict[str, list[str]]) -> bool:
        try:
            document = json.loads(current or "{}")
        except json.JSONDecodeError:
            return False
        return same_definitions(document, json.loads(self.text(users)), users)

    def issued_pairs(self) -> frozenset[str]:
        """The LiveKit API keys other secrets hold (the agents', SIP's): keys.yaml keeps them."""
        holders = [self.entries[item] for item in self.pair_holders]
        return frozenset(
            values[ISSUED_KEY] for entry in holders for values in self._valid(entry) if values.get(ISSUED_KEY)
        )

    def fresh(self, declared: secret_bundles.Declared, current: dict[str, str] | None) -> dict[str, str]:
        """New values; keys.yaml keeps the LiveKit pairs other secrets hold."""
        if "keys.yaml" in declared.secret.keys:
            return local.fresh_values(declared, current, self.issued_pairs(), self.prefix)
        return super().fresh(declared, current)


def same_definitions(current: dict[str, Any], wanted: dict[str, Any], users: dict[str, list[str]]) -> bool:
    """Whether a definitions document already says what `wanted` does: hashes are salted, so a
    user's hash is checked against its password rather than compared."""

    def without_hashes(document: dict[str, Any]) -> dict[str, Any]:
        users = [{key: value for key, value in user.items() if key != "password_hash"}
                 for user in document.get("users") or []]  # fmt: skip
        return {**document, "users": sorted(users, key=lambda user: user.get("name", ""))}

    if without_hashes(current) != without_hashes(wanted):
        return False
    hashes = {user.get("name"): user.get("password_hash", "") for user in current.get("users") or []}
    return all(
        credential_servers.rabbit_hash_matches(hashes.get(user, ""), passwords[-1])
        if passwords
        else not hashes.get(user)
        for user, passwords in users.items()
    )


def not_rotatable(
    environment: Environment, targets: list[Any], sets: frozenset[str] = frozenset()
) -> list[str]:
    """Where secrets.rotate sets only the users of the servers `sets` names (Azure: PostgreSQL)
    or none (Linode): third parties' secrets, and secrets holding other servers' users."""
    return unsafe(targets, lambda entry: False) + [
        f"{target.declared.name} holds {', '.join(sorted(kinds))} users, which secrets.rotate does not set "
        f"on {environment.cloud.value}"
        for target in targets
        if (kinds := servers_needed([target]) - sets)
    ]


def precheck(
    environment: Environment, targets: list[Any], grace: float | None, readers_followed: bool
) -> float:
    """Before anything is called: no third party's secret, credentials, the grace period; the
    grace to use. `readers_followed`: the cluster answers, so the rotation sees each reader
    take the new version instead of waiting out External Secrets' refresh."""
    if issued := unsafe(targets, lambda entry: False):
        raise OpsError(f"not rotated, nothing was changed: {'; '.join(issued)}")
    emulated = cloud_drills.emulated()
    if not emulated and (missing := terraform.missing_credentials(Cloud.AWS)):
        raise RunIncomplete(f"{environment.name}: {missing}; nothing was changed")
    return grace_for(environment, grace, readers_followed, emulated)


def grace_for(environment: Environment, grace: float | None, readers_followed: bool, emulated: bool) -> float:
    """The grace External Secrets' readers need: a short one once the rotation saw every reader
    move, else its refresh plus a rollout (no minimum under an emulator)."""
    least = 0.0 if readers_followed or emulated else minimum_grace(environment)
    if grace is None:
        return FOLLOWED_GRACE_SECONDS if readers_followed else minimum_grace(environment)
    if grace < least:
        raise OpsError(
            f"--grace {grace:.0f}s is shorter than External Secrets' refresh plus a rollout ({least:.0f}s), "
            "and no cluster answers to show the readers moved: they may hold the credential being retired"
        )
    return grace


def readers_line(followed: bool, grace: float) -> str:
    if followed:
        return f"the cluster answers: readers are force-synced and rolled, then a {grace:.0f}s grace"
    return f"no cluster answers: External Secrets and Reloader move the readers in a {grace:.0f}s grace"


class Readers:
    """The workloads that read the rotated secrets, on the environment's cluster: each
    ExternalSecret is force-synced (External Secrets re-reads its entry when the `force-sync`
    annotation changes), then each reader's rollout, which Reloader starts when the Secret
    changes, is waited for. Idempotent: a resumed rotation does it again."""

    def __init__(self, environment: Environment, targets: list[Any]) -> None:
        self.environment = environment
        names = {target.declared.name: target.declared for target in targets}
        located = [item for item in secret_bundles.for_environment(environment) if item.name in names]
        self.secrets = sorted({(item.namespace, item.name) for item in located})
        self.reads: dict[tuple[str, str], set[str]] = {}  # (namespace, workload) -> the secrets it reads
        for item in located:
            for consumer in names[item.name].secret.consumers:
                for workload in consumer.workloads:
                    self.reads.setdefault((item.namespace, workload), set()).add(item.name)

    def answer(self) -> bool:
        return (
            cluster.kubectl(self.environment, "version", "--request-timeout=5s", timeout=30).returncode == 0
        )

    def _kubectl(self, *args: str, timeout: float = 120) -> str:
        result = cluster.kubectl(self.environment, *args, timeout=timeout)
        if result.returncode != 0:
            raise OpsError(f"kubectl {args[0]}: {cluster.last_line(result)}")
        return result.stdout

    def _get(self, *args: str) -> dict:
        return json.loads(self._kubectl("get", *args, "-o", "json"))

    def _reader(self, namespace: str, workload: str) -> dict | None:
        """The reader's object; None for a CronJob, whose next Job mounts the Secret as it is."""
        kinds, named = "deployment,statefulset,daemonset,cronjob", f"metadata.name={workload}"
        items = self._get(kinds, "-n", namespace, "--field-selector", named).get("items") or []
        if not items:
            raise OpsError(f"the reader {workload} is not in {namespace}")
        return None if items[0]["kind"] == "CronJob" else items[0]

    def _synced(self, namespace: str, name: str) -> str:
        """What External Secrets last synced: its `syncedResourceVersion` names the object's
        generation and a hash of its annotations, so it changes once the force-sync is done
        (refreshTime, in whole seconds, may not)."""
        found = self._get("externalsecret", name, "-n", namespace).get("status") or {}
        return found.get("syncedResourceVersion", "")

    def _force_sync(self, secrets: list[tuple[str, str]], timeout: float) -> None:
        """External Secrets re-reads each entry now (the `force-sync` annotation changes), and the
        sync waited for is that one: Ready alone is already true from the last one."""
        before = {secret: self._synced(*secret) for secret in secrets}
        stamp = str(time.time_ns())  # differs from any earlier run's, or nothing changes
        for namespace, name in secrets:
            self._kubectl(
                "annotate", "externalsecret", name, "-n", namespace, f"force-sync={stamp}", "--overwrite"
            )
        deadline = time.monotonic() + timeout
        for namespace, name in secrets:
            while self._synced(namespace, name) == before[namespace, name]:
                if time.monotonic() > deadline:
                    raise OpsError(
                        f"External Secrets did not sync {name} in {namespace} in {timeout:.0f}s: is it up?"
                    )
                time.sleep(2)
            self._kubectl("wait", f"externalsecret/{name}", "-n", namespace, "--for=condition=Ready",
                          "--timeout=300s", timeout=330)  # fmt: skip

    def sync(self, name: str) -> str:
        """Another secret of the environment to the cluster now (RabbitMQ's boot definitions,
        rewritten by the rotation: a node booting on the old ones would undo its users)."""
        found = secret_bundles.for_environment(self.environment)
        located = sorted({(item.namespace, item.name) for item in found
                          if item.name == name and item.declared.store is not None})  # fmt: skip
        self._force_sync(located, READERS_TIMEOUT_SECONDS)
        return f"{name} synced to the cluster"

    def _written_at(self, namespace: str, secret: str) -> str:
        """When the Secret last changed (its managed fields' newest time, RFC 3339)."""
        metadata = self._get("secret", secret, "-n", namespace)["metadata"]
        times = [field.get("time", "") for field in metadata.get("managedFields") or []]
        return max([*times, metadata["creationTimestamp"]])

    def _moved(self, namespace: str, reader: dict, since: str) -> bool:
        """Every pod of the reader was started after `since` and runs: it mounts the new values."""
        labels = ",".join(
            f"{key}={value}" for key, value in reader["spec"]["selector"]["matchLabels"].items()
        )
        pods = self._get("pods", "-n", namespace, "-l", labels).get("items") or []
        return bool(pods) and all(
            pod["metadata"]["creationTimestamp"] >= since and pod["status"].get("phase") == "Running"
            for pod in pods
        )

    def follow(self, timeout: float = READERS_TIMEOUT_SECONDS) -> str:
        """Force-sync the Secrets, then wait until every pod of every reader started after its
        Secrets last changed (Reloader rolls them). Safe to repeat: a reader that moved already
        passes at once."""
        self._force_sync(self.secrets, timeout)
        written = {secret: self._written_at(*secret) for secret in self.secrets}
        deadline, moved = time.monotonic() + timeout, 0
        for (namespace, workload), read in self.reads.items():
            reader = self._reader(namespace, workload)
            if reader is None:
                continue
            since = max(written[(namespace, name)] for name in read)
            while not self._moved(namespace, reader, since):
                if time.monotonic() > deadline:
                    raise OpsError(
                        f"{workload} in {namespace} did not roll in {timeout:.0f}s: is Reloader running?"
                    )
                time.sleep(5)
            moved += 1
        return f"{len(self.secrets)} Secret(s) synced, {moved} reader(s) rolled onto them"


class CloudServers(abc.ABC):
    """A cloud environment's servers by kind, found with their administrators, read only: its
    managed PostgreSQL and Redis, and the cluster's RabbitMQ."""

    environment: Environment
    store: Any
    timeout: float  # how long a change may take to reach every node

    @abc.abstractmethod
    def postgres(self, via: tuple[str, int] | None) -> Any: ...

    @abc.abstractmethod
    def redis(self, via: tuple[str, int] | None) -> Any: ...

    def servers(self, kinds: set[str], via: dict[str, tuple[str, int]]) -> Servers:
        found: dict[str, Any] = {}
        if "postgres" in kinds:
            found["postgres"] = self.postgres(via.get("postgres"))
        if "redis" in kinds:
            found["redis"] = self.redis(via.get("redis"))
        if "rabbitmq" in kinds:
            found["rabbitmq"] = in_cluster_rabbitmq(self.environment, self.store, via)
        return ensure_reachable(self.environment, Servers(found, timeout=self.timeout))


class AwsServers(CloudServers):
    """RDS, ElastiCache and the cluster's RabbitMQ."""

    timeout = 600.0  # ElastiCache: minutes per change

    def __init__(self, environment: Environment, store: Any, client: Callable[[str], Any]) -> None:
        settings = environment.terraform
        if settings is None:
            raise OpsError(f"{environment.name} has no Terraform stack")
        self.environment = environment
        self.names = cloud_drills.Names(f"{settings.workload}-{settings.stage}", "")
        self.store = store
        self.client = client
        self.tls = not cloud_drills.emulated()

    def _found(self, service: str, operation: str, missing: str, key: str, what: str, **ask: str) -> dict:
        """The one resource a describe call names, or one line and exit 5."""
        client = self.client(service)
        try:
            found = getattr(client, operation)(**ask).get(key) or []
        except getattr(client.exceptions, missing):
            found = []
        if not found:
            raise RunIncomplete(
                f"{self.environment.name}: {what} not found (is the stack applied?); nothing was changed"
            )
        return found[0]

    def postgres(self, via: tuple[str, int] | None) -> credential_servers.PostgresServer:
        identifier = self.names.postgresql
        instance = self._found("rds", "describe_db_instances", "DBInstanceNotFoundFault", "DBInstances",
                               f"RDS instance {identifier}", DBInstanceIdentifier=identifier)  # fmt: skip
        secret = (instance.get("MasterUserSecret") or {}).get("SecretArn")
        if not secret:
            raise RunIncomplete(
                f"{identifier}: RDS keeps no administrator secret (manage_master_user_password)"
            )
        admin = json.loads(secret_versions.current_string(self.store, secret))
        endpoint = instance.get("Endpoint") or {}
        address = via or (endpoint.get("Address", ""), int(endpoint.get("Port", 5432)))
        return credential_servers.PostgresServer(
            address, (admin["username"], admin["password"]), local.PLATFORM_DATABASE,
            sslmode="require" if self.tls else "prefer", memberships=local.postgres_memberships(),
        )  # fmt: skip

    def redis(self, via: tuple[str, int] | None) -> credential_servers.ElastiCacheUsers:
        identifier = self.names.redis
        group = self._found("elasticache", "describe_replication_groups", "ReplicationGroupNotFoundFault",
                            "ReplicationGroups", f"ElastiCache replication group {identifier}",
                            ReplicationGroupId=identifier)  # fmt: skip
        user_groups = group.get("UserGroupIds") or []
        if not user_groups:
            raise RunIncomplete(f"{identifier}: no RBAC user group (apply the stack); nothing was changed")
        endpoint = group.get("ConfigurationEndpoint") or {}
        address = via or (endpoint.get("Address", ""), int(endpoint.get("Port", 6379)))
        return credential_servers.ElastiCacheUsers(
            address, self.client("elasticache"), user_groups[0], tunnelled=via is not None
        )


def in_cluster_rabbitmq(environment: Environment, store: Any, via: dict[str, tuple[str, int]]) -> Any:
    """The cluster's RabbitMQ (every cloud runs it in the cluster), as its administrator in the
    store; reached at its service's address, or through `via` (rabbitmq, rabbitmq-management)."""
    item = next(
        (found for found in secret_bundles.for_environment(environment)
         if found.name == ADMIN_SECRET and found.declared.store is not None),
        None,
    )  # fmt: skip
    if item is None or item.declared.store is None:
        raise OpsError(
            f"{environment.name} reads no rabbitmq-credentials: RabbitMQ's administrator is unknown"
        )
    entry = secret_bundles.entry_name(environment, item.declared.store, item.name)
    try:
        password = json.loads(secret_versions.current_string(store, entry))["rabbitmq-password"]
    except (KeyError, json.JSONDecodeError, store.exceptions.ResourceNotFoundException):
        raise RunIncomplete(f"{entry}: RabbitMQ's administrator password is not provisioned") from None
    service = f"{RABBITMQ_RELEASE}.{item.namespace}.svc.cluster.local"
    address = via.get("rabbitmq") or (service, RABBITMQ_PORTS[0])
    api_host, api_port = via.get("rabbitmq-management") or (service, RABBITMQ_PORTS[1])
    return credential_servers.RabbitServer(
        address, f"http://{api_host}:{api_port}", (RABBITMQ_ADMIN, password), local.RABBITMQ_VHOST
    )


def ensure_reachable(environment: Environment, servers: Servers) -> Servers:
    """The servers, once each answers from here; else one line and exit 5."""
    if unreachable := servers.unreachable(servers.by_kind):
        raise RunIncomplete(
            f"{environment.name}: cannot reach {', '.join(unreachable)} from here; run on the "
            "environment's runners, or through a tunnel given with --via; nothing was changed"
        )
    return servers


def clients(environment: Environment) -> tuple[Any, Callable[[str], Any]]:
    """The store and a client per service, in the environment's primary region."""
    import boto3  # slow to import: only for the AWS path

    region = environment.regions.primary
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = boto3.client(service, region_name=region)
        return made[service]

    return client("secretsmanager"), client
