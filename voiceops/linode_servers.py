"""The servers `secrets.rotate` sets users on in a Linode environment: the managed PostgreSQL
databases the cluster owner's stack makes (modules/linode/databases, one per service, shared by
every environment of the cluster), as the administrator the Linode API gives for each, and the
environment's in-cluster RabbitMQ as on AWS and Azure.

The same users are made on each database, in the environment's own database there
(`<environment>-platform`), and their names carry the environment's (secret_bundles.user_prefix),
so one environment's rotation never touches another's. The databases admit only the cluster's
nodes and the delivery runner (the stack's allow list): the rotation runs on that runner.

LINODE_TOKEN is the API token (read_only on databases is enough); VOICEOPS_LINODE_URL names
another endpoint, an emulator on this machine."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
from typing import Any

from voiceops import aws_rotation, cloud_drills, credential_servers, environments, local, secret_bundles
from voiceops.environments import Environment
from voiceops.errors import OpsError
from voiceops.runs import RunIncomplete

API_URL = "https://api.linode.com/v4"
URL_VARIABLE, TOKEN_VARIABLE = "VOICEOPS_LINODE_URL", "LINODE_TOKEN"
# modules/linode/databases labels each database <prefix>-<service>, -tsdb where TimescaleDB is on
DATABASES = ("users", "analytics-tsdb", "temporal")
SETS = frozenset({"postgres", "rabbitmq"})  # the kinds of server whose users are set here
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
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as error:
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

    def __init__(self, environment: Environment, store: Any) -> None:
        owner = environments.cluster_owner(environment)
        if owner.terraform is None:
            raise OpsError(f"{owner.name}, which owns {environment.name}'s cluster, has no Terraform stack")
        self.environment = environment
        self.store = store
        self.labels = [f"{owner.terraform.workload}-{owner.terraform.stage}-{name}" for name in DATABASES]
        self.prefix = secret_bundles.user_prefix(environment)
        self.api = LinodeApi(environment)

    def postgres(self, via: tuple[str, int] | None) -> credential_servers.PostgresServers:
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
        return credential_servers.PostgresServers(tuple(servers))

    def redis(self, via: tuple[str, int] | None) -> Any:
        raise OpsError(f"{self.environment.name}: no Redis with users of its own serves the platform here")
