"""`secrets.rotate` on AWS: the store is the environment's Secrets Manager; the servers are its
RDS PostgreSQL (as the administrator whose password RDS keeps in Secrets Manager), the RBAC
users of its ElastiCache replication group, and the in-cluster RabbitMQ through its management
API. Consumers read the store through External Secrets and are rolled by Reloader, so the
previous credential is retired only after External Secrets' refresh interval and a rollout.

The servers' addresses are private: the environment's runners reach them. From elsewhere,
`--via server=host:port` names a tunnel (an SSM or kubectl port-forward) for a server.
With AWS_ENDPOINT_URL set (an emulator such as moto) the same calls go there."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from voiceops import (
    catalog,
    cloud_drills,
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
RABBITMQ_RELEASE = "rabbitmq"
RABBITMQ_ADMIN = "user"  # bitnami/rabbitmq's auth.username default, which our values keep
RABBITMQ_PORTS = (5672, 15672)  # AMQP, management API
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_via(text: str) -> dict[str, tuple[str, int]]:
    """`postgres=127.0.0.1:15432,rabbitmq=...`: the tunnels to reach servers through."""
    found: dict[str, tuple[str, int]] = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        match = re.fullmatch(r"([a-z-]+)=([A-Za-z0-9.-]+):(\d{1,5})", part)
        if not match or match.group(1) not in VIA_SERVERS or not 0 < int(match.group(3)) < 65536:
            raise OpsError(
                f"--via takes server=host:port with server one of {', '.join(VIA_SERVERS)}, not {part!r}"
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


def unsafe(targets: list[Any]) -> list[str]:
    """Why some targets cannot be rotated here: a new value in the store alone would reach the
    readers while whatever checks it still expects the old one, or would replace a third party's
    credential with a random string."""
    reasons = []
    for target in targets:
        declared = target.declared
        source, keys = declared.secret.source, set(declared.secret.keys)
        if source.issuer:
            reasons.append(f"{declared.name} is issued by {source.issuer} ({source.how})")
        elif servers_needed([target]):
            continue  # its users are set on their servers first
        elif declared.secret.rotation.strategy is Strategy.REGENERATE or keys == {"keys.yaml"}:
            continue  # only its readers check it (LiveKit keeps the newest old pair beside the new)
        else:
            reasons.append(
                f"{declared.name} ({', '.join(declared.secret.keys)}) is checked by a server whose "
                "credential secrets.rotate does not change on AWS"
            )
    return reasons


def precheck(environment: Environment, grace: float | None) -> float:
    """Credentials and the grace period, before anything is called; the grace to use."""
    emulated = cloud_drills.emulated()
    if not emulated and (missing := terraform.missing_credentials(Cloud.AWS)):
        raise RunIncomplete(f"{environment.name}: {missing}; nothing was changed")
    least = minimum_grace(environment)
    if grace is None:
        return least
    if grace < least and not emulated:
        raise OpsError(
            f"--grace {grace:.0f}s is shorter than External Secrets' refresh plus a rollout ({least:.0f}s): "
            "readers could still hold the credential being retired"
        )
    return grace


class AwsServers:
    """Finds the environment's servers and their administrators, read only."""

    def __init__(self, environment: Environment, store: Any, client: Callable[[str], Any]) -> None:
        settings = environment.terraform
        if settings is None:
            raise OpsError(f"{environment.name} has no Terraform stack")
        self.environment = environment
        self.names = cloud_drills.Names(f"{settings.workload}-{settings.stage}", "")
        self.store = store
        self.client = client
        self.tls = not cloud_drills.emulated()

    def _found(self, call: Callable[[], dict], key: str, what: str) -> dict:
        try:
            found = call().get(key) or []
        except Exception as error:  # botocore's not-found errors differ per service
            if "NotFound" not in type(error).__name__ and "NotFound" not in str(error):
                raise
            found = []
        if not found:
            raise RunIncomplete(
                f"{self.environment.name}: {what} not found (is the stack applied?); nothing was changed"
            )
        return found[0]

    def postgres(self, via: tuple[str, int] | None) -> credential_servers.PostgresServer:
        identifier = self.names.postgresql
        instance = self._found(
            lambda: self.client("rds").describe_db_instances(DBInstanceIdentifier=identifier),
            "DBInstances", f"RDS instance {identifier}",
        )  # fmt: skip
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
            sslmode="require" if self.tls else "prefer",
        )  # fmt: skip

    def redis(self, via: tuple[str, int] | None) -> credential_servers.ElastiCacheUsers:
        identifier = self.names.redis
        group = self._found(
            lambda: self.client("elasticache").describe_replication_groups(ReplicationGroupId=identifier),
            "ReplicationGroups", f"ElastiCache replication group {identifier}",
        )  # fmt: skip
        user_groups = group.get("UserGroupIds") or []
        if not user_groups:
            raise RunIncomplete(f"{identifier}: no RBAC user group (apply the stack); nothing was changed")
        endpoint = group.get("ConfigurationEndpoint") or {}
        address = via or (endpoint.get("Address", ""), int(endpoint.get("Port", 6379)))
        return credential_servers.ElastiCacheUsers(address, self.client("elasticache"), user_groups[0])

    def rabbitmq(self, via: tuple[str, int] | None, management: tuple[str, int] | None) -> Any:
        item = next(
            (found for found in secret_bundles.for_environment(self.environment)
             if found.name == "rabbitmq-credentials" and found.declared.store is not None),
            None,
        )  # fmt: skip
        if item is None or item.declared.store is None:
            raise OpsError(
                f"{self.environment.name} reads no rabbitmq-credentials: RabbitMQ's administrator is unknown"
            )
        entry = secret_bundles.entry_name(self.environment, item.declared.store, item.name)
        try:
            password = json.loads(secret_versions.current_string(self.store, entry))["rabbitmq-password"]
        except (KeyError, json.JSONDecodeError, self.store.exceptions.ResourceNotFoundException):
            raise RunIncomplete(f"{entry}: RabbitMQ's administrator password is not provisioned") from None
        service = f"{RABBITMQ_RELEASE}.{item.namespace}.svc.cluster.local"
        address = via or (service, RABBITMQ_PORTS[0])
        api_host, api_port = management or (service, RABBITMQ_PORTS[1])
        return credential_servers.RabbitServer(
            address, f"http://{api_host}:{api_port}", (RABBITMQ_ADMIN, password), local.RABBITMQ_VHOST
        )

    def servers(self, kinds: set[str], via: dict[str, tuple[str, int]]) -> Servers:
        found: dict[str, Any] = {}
        if "postgres" in kinds:
            found["postgres"] = self.postgres(via.get("postgres"))
        if "redis" in kinds:
            found["redis"] = self.redis(via.get("redis"))
        if "rabbitmq" in kinds:
            found["rabbitmq"] = self.rabbitmq(via.get("rabbitmq"), via.get("rabbitmq-management"))
        servers = Servers(found, timeout=120.0)
        if unreachable := servers.unreachable(found):
            raise RunIncomplete(
                f"{self.environment.name}: cannot reach {', '.join(unreachable)} from here; run on the "
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
