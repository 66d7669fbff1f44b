"""`secrets.rotate` and `secrets.audit` on Azure, whose store is the environment's Key Vault:
External Secrets reads each entry's newest version and Reloader rolls the readers, as on AWS.

Key Vault has no stages: every value written to an entry becomes its newest version, the one
External Secrets reads at its next refresh. A pending value therefore cannot be a version of the
entry. `KeyVaultStore` keeps each entry's versions, their stages and the rotation's tags in a
companion entry, `<entry>--rotation` (one JSON document, encrypted by the vault like the entry,
named by no ExternalSecret), and writes a version to the entry only once it is promoted. A value
written to the entry by anyone else (`az keyvault secret set`, a rollback by hand) is the
entry's only version from then on. Nothing is ever deleted: purge protection
keeps every name, and the vault keeps every old version.

The servers: the Flexible Server's users are set as its password administrator, whom the stack
writes to the vault; the in-cluster RabbitMQ's as on AWS; Azure Cache for Redis has no users but
two access keys, which every secret holding a Redis user shares (`SharedAccessKey`).

The vault and the servers answer only inside the virtual network (private endpoints), so these
run on the environment's runners. VOICEOPS_KEYVAULT_URL and VOICEOPS_KEYVAULT_TOKEN name another
endpoint and its bearer token (an emulator), VOICEOPS_ARM_URL the management API's."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from voiceops import (
    aws_rotation,
    cloud_drills,
    credential_servers,
    local,
    secret_bundles,
    secret_versions,
    state_backend,
    terraform,
)
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError, first_line
from voiceops.runs import RunIncomplete
from voiceops.secret_bundles import PERIOD_DAYS, Store
from voiceops.secret_versions import (
    CURRENT,
    PROMOTED_TAG,
    ROTATION_TAG,
    DocumentStore,
    Phase,
    ResourceNotFoundException,
    ValueUnreadable,
    published,
)

URL_VARIABLE, TOKEN_VARIABLE = "VOICEOPS_KEYVAULT_URL", "VOICEOPS_KEYVAULT_TOKEN"
MANAGEMENT_VARIABLE = "VOICEOPS_ARM_URL"
EMULATED_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
REDIS_TLS_PORT = 6380
DOCUMENT_SUFFIX = "--rotation"
VAULT_VERSION = "vault_version"  # in a document version: the entry's Key Vault version holding it
CONTENT_TYPE = "application/json"


def emulated() -> bool:
    """The vault is an emulator (the tests' endpoint on this machine): its safeguards (the grace's
    minimum, TLS to the servers, Entra ID credentials) are for Azure, which any other endpoint is."""
    return cloud_drills.on_this_machine(os.environ.get(URL_VARIABLE))


def vault_url(environment: Environment) -> str:
    """The vault the stack makes (modules/logic/naming: kv-<workload>-<stage>)."""
    if url := os.environ.get(URL_VARIABLE):
        return url
    settings = environment.terraform
    if settings is None:
        raise OpsError(f"{environment.name} has no Terraform stack, so no vault")
    return f"https://kv-{settings.workload}-{settings.stage}.vault.azure.net"


class _BearerToken:
    """An emulator's fixed token, as a credential the SDK asks before each call."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **options: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(datetime.datetime.now(datetime.UTC).timestamp()) + 3600)


def client(environment: Environment, outcome: str = "nothing was changed") -> Any:
    """The vault's secrets client: Entra ID credentials from the ARM_* variables the azurerm
    provider reads, or an emulator's token; one line and exit 5 without either."""
    from azure.keyvault.secrets import SecretClient

    if emulated():
        credential: Any = _BearerToken(os.environ.get(TOKEN_VARIABLE, ""))
    elif missing := terraform.missing_credentials(Cloud.AZURE):
        raise RunIncomplete(f"{environment.name}: {missing}; Key Vault cannot be read; {outcome}")
    else:
        credential = state_backend.azure_credential()
    # an emulator's address is not under vault.azure.net, the resource its challenge names, and
    # it answers at once or not at all: no retries
    options: dict[str, Any] = {"verify_challenge_resource": False, "retry_total": 0} if emulated() else {}
    return SecretClient(vault_url(environment), credential, **options)


@contextlib.contextmanager
def answering(environment: Environment, outcome: str = "nothing was changed") -> Iterator[None]:
    """The vault failing before anything changed (no route to its private endpoint, no
    credentials, access denied): one line and exit 5."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as error:
        raise RunIncomplete(f"{environment.name}: Key Vault: {first_line(error)}; {outcome}") from None


def values(text: str | None) -> dict[str, str]:
    """An entry's value as readers use it (a JSON object of strings); {} for none, such as the
    empty object the stack creates each entry with."""
    try:
        found = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    if not isinstance(found, dict) or not all(isinstance(value, str) for value in found.values()):
        return {}
    return found


class KeyVaultStore(DocumentStore):
    """An Azure environment's Key Vault entries as a store the rotation drives; an entry is a
    Key Vault secret's name. Each document version the entry got records the Key Vault version
    that holds it (`vault_version`): version ids are the vault's and cannot be copied, so a value
    written by hand is told from one the store wrote, whatever its tags say."""

    def __init__(self, environment: Environment, secrets: Any) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

        self.secrets = secrets
        self.not_found, self.conflict = ResourceNotFoundError, ResourceExistsError
        self.refused = HttpResponseError
        self.expiry_days = {
            secret_bundles.entry_name(environment, Store.KEY_VAULT, item.name):
                PERIOD_DAYS[item.declared.secret.rotation.period]
            for item in secret_bundles.for_environment(environment)
            if item.declared.store is Store.KEY_VAULT
        }  # fmt: skip
        self._documents: dict[str, str] = {}  # each entry's document as last read or written

    def latest(self, entry: str) -> Any:
        """The entry's newest version (the one External Secrets reads)."""
        try:
            return self._read(entry)
        except self.not_found:
            raise ResourceNotFoundException(f"{entry} is not in the vault") from None

    def _read(self, name: str) -> Any:
        """A secret's newest version; a disabled one is one line naming it."""
        try:
            return self.secrets.get_secret(name)
        except self.refused as error:
            inner = getattr(getattr(error, "error", None), "innererror", None) or {}
            if error.status_code == 403 and inner.get("code") == "SecretDisabled":
                raise ValueUnreadable(
                    f"{name}: its newest version is disabled: enable it or write a value "
                    "(az keyvault secret set), then run again"
                ) from None
            raise

    def _document(self, entry: str) -> dict | None:
        try:
            text = self._read(entry + DOCUMENT_SUFFIX).value or ""
        except self.not_found:
            self._documents.pop(entry, None)
            return None
        self._documents[entry] = text
        return json.loads(text)

    def _state(self, entry: str) -> dict:
        """The document while the entry holds its current value, or a version the store wrote
        for it (a run died between the document and the entry: the next write completes it);
        otherwise the entry's value, written by hand, is its only version."""
        latest = self.latest(entry)
        document = self._document(entry)
        held = values(latest.value)
        if not held:
            if document and any(VAULT_VERSION in version for version in document["versions"]):
                return {"secret": entry, "tags": {}, "versions": []}  # emptied by hand after a value
            return document or {"secret": entry, "tags": {}, "versions": []}  # a first value, or none
        holder = latest.properties.version
        if document:
            current = _published(document)
            if current is not None and current["value"] == held:
                return document  # its tags may have been rewritten (a Terraform apply), not its value
            if any(version.get(VAULT_VERSION) == holder for version in document["versions"]):
                return document
        version = {"id": f"vault-{holder}", "stages": [CURRENT], "value": held, VAULT_VERSION: holder}
        return {"secret": entry, "tags": {}, "versions": [version]}

    def _due(self, entry: str, state: dict) -> dict | None:
        """The current version if the entry must get it; if it holds it, which Key Vault version
        holds it is recorded."""
        current = _published(state)
        if current is None:
            return None  # a first version reaches the entry when it is promoted
        latest = self.latest(entry)
        if values(latest.value) != current["value"]:
            return current
        current[VAULT_VERSION] = latest.properties.version
        # the grace starts no earlier than the write that gave readers the value
        written, stamp = latest.properties.created_on, state["tags"].get(PROMOTED_TAG)
        if (
            ROTATION_TAG in state["tags"]
            and stamp
            and written
            and datetime.datetime.fromisoformat(stamp) < written
        ):
            state["tags"][PROMOTED_TAG] = written.isoformat(timespec="seconds")
        return None

    def _save(self, entry: str, state: dict) -> None:
        """The document first, then the entry from its current version: a crash between the two
        is completed by the next write. While a rotation is in flight, its promotion is dated when
        the entry gets the value, where readers see it."""
        state["versions"] = [version for version in state["versions"] if version["stages"]]
        due = self._due(entry, state)
        if due is not None and ROTATION_TAG in state["tags"]:
            state["tags"][PROMOTED_TAG] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        self._write_document(entry, state)
        if due is None:
            return
        kept = self.latest(entry).properties.tags or {}  # the stack's tags, on every version
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=self.expiry_days[entry])
        # which version holds it is recorded by the next write (the promotion's own tags follow)
        self.secrets.set_secret(
            entry, json.dumps(due["value"]), content_type=CONTENT_TYPE, expires_on=expires, tags=kept
        )

    def _write_document(self, entry: str, state: dict) -> None:
        text = json.dumps(state, sort_keys=True)
        if self._documents.get(entry) == text:
            return
        name = entry + DOCUMENT_SUFFIX
        try:
            self.secrets.set_secret(name, text, content_type=CONTENT_TYPE)
        except self.conflict:
            raise OpsError(
                f"{name} was deleted and purge protection keeps its name: recover it "
                f"(az keyvault secret recover --name {name}), then run again"
            ) from None
        self._documents[entry] = text

    def settle(self) -> str:
        """Write the current version to each entry a run that died left without it (an entry
        the rotation never wrote has no document)."""
        named = {found.name.lower() for found in self.secrets.list_properties_of_secrets()}
        settled = []
        for entry in (entry for entry in self.expiry_days if f"{entry}{DOCUMENT_SUFFIX}".lower() in named):
            try:
                state = self._state(entry)
            except (ResourceNotFoundException, ValueUnreadable):
                continue  # a rotation of that entry says so
            if self._due(entry, state) is not None:
                self._save(entry, state)
                settled.append(entry)
        return f"given their current value: {', '.join(settled)}" if settled else ""

    def _encode(self, entry: str, values: dict[str, str]) -> dict[str, str]:
        return dict(values)

    def _decode(self, entry: str, version: dict) -> dict[str, str]:
        return dict(version["value"])


def _published(state: dict) -> dict | None:
    return next((version for version in state["versions"] if published(version)), None)


def store(environment: Environment, outcome: str = "nothing was changed") -> KeyVaultStore:
    return KeyVaultStore(environment, client(environment, outcome))


AZURE_SERVERS = frozenset({"postgres", "redis", "rabbitmq"})  # whose users are set on Azure


def holds_redis(declared: secret_bundles.Declared) -> bool:
    return local.ACCOUNT_KEYS["redis"][0] in declared.secret.keys


def precheck(
    environment: Environment, targets: list[Any], grace: float | None, readers_followed: bool
) -> float:
    """Before the vault is read: no third party's secret, no holder of Redis's shared access key
    rotated without the others; the grace."""
    if reasons := aws_rotation.not_rotatable(environment, targets, sets=AZURE_SERVERS):
        raise OpsError(f"not rotated, nothing was changed: {'; '.join(reasons)}")
    chosen = {target.declared.name for target in targets}
    located = secret_bundles.for_environment(environment)
    holders = {item.name for item in located if holds_redis(item.declared)}
    if chosen & holders and (left := sorted(holders - chosen)):
        raise OpsError(
            f"not rotated, nothing was changed: {', '.join(sorted(chosen & holders))} shares Azure Cache "
            f"for Redis's access key with {', '.join(left)}: rotate them together (without --secret)"
        )
    return aws_rotation.grace_for(environment, grace, readers_followed, emulated())


def management(environment: Environment) -> Any:
    """The management API's client for Azure Cache for Redis: Entra ID credentials from the
    ARM_* variables, or an emulator's token; one line and exit 5 without either."""
    from azure.mgmt.redis import RedisManagementClient

    if emulated():
        if not (url := os.environ.get(MANAGEMENT_VARIABLE)):
            raise RunIncomplete(
                f"{environment.name}: no {MANAGEMENT_VARIABLE} beside the emulated vault; nothing was changed"
            )
        subscription = os.environ.get("ARM_SUBSCRIPTION_ID") or EMULATED_SUBSCRIPTION
        token = _BearerToken(os.environ.get(TOKEN_VARIABLE, ""))
        return RedisManagementClient(token, subscription, base_url=url, retry_total=0)
    if not (subscription := os.environ.get("ARM_SUBSCRIPTION_ID")):
        raise RunIncomplete(
            f"{environment.name}: no ARM_SUBSCRIPTION_ID, so the cache cannot be found; nothing was changed"
        )
    return RedisManagementClient(state_backend.azure_credential(), subscription)


class SharedAccessKey:
    """The key every holder of a Redis user takes: the one a pending version of this rotation
    already holds (a run that died while creating them), else a key no holder has, regenerated.
    So all holders move to the same key, and the one they leave is regenerated at retirement."""

    def __init__(self, cache: credential_servers.AzureCacheKeys, store: KeyVaultStore, holders: list[str]):
        self.cache, self.store, self.holders = cache, store, holders
        self.chosen: str | None = None

    def fresh(
        self, fresh: Callable[[secret_bundles.Declared, dict[str, str] | None], dict[str, str]]
    ) -> Callable[[secret_bundles.Declared, dict[str, str] | None], dict[str, str]]:
        def values(declared: secret_bundles.Declared, current: dict[str, str] | None) -> dict[str, str]:
            made = fresh(declared, current)
            if not holds_redis(declared):
                return made
            user, password = local.ACCOUNT_KEYS["redis"]
            return {**made, user: credential_servers.ACCESS_KEY_USER, password: self.key()}

        return values

    def key(self) -> str:
        if self.chosen is None:
            password = local.ACCOUNT_KEYS["redis"][1]
            token = secret_versions.token_in_flight(self.store, self.holders)
            held, pending = set(), set()
            for entry in self.holders:
                item = secret_versions.state(self.store, entry, token)
                if item.current and item.current != item.version:  # a first value is not held yet
                    held.add(secret_versions.value(self.store, entry, item.current).get(password))
                if item.phase is Phase.PENDING and item.version:
                    pending.add(secret_versions.value(self.store, entry, item.version).get(password))
            held.discard(None)  # a holder without a value yet
            if len(held) > 1:
                raise OpsError(
                    f"Azure Cache for Redis {self.cache.name}: its holders hold both access keys; write the "
                    "one most of them hold to the others (az keyvault secret set), then run again"
                )
            reused = sorted((pending & set(self.cache.keys().values())) - held)
            self.chosen = reused[0] if reused else self.cache.unused_key(held)
        return self.chosen


class AzureServers(aws_rotation.CloudServers):
    """The Flexible Server, as the password administrator the stack writes to the vault
    (modules/azure/postgresql); Azure Cache for Redis's access keys; the cluster's RabbitMQ."""

    timeout = 300.0  # a regenerated key takes a while to reach every node of the cache

    ADMINISTRATOR = "postgres-administrator"  # the stack's administrator.vault_entry: <env>--this

    def __init__(self, environment: Environment, store: KeyVaultStore) -> None:
        settings = environment.terraform
        if settings is None:
            raise OpsError(f"{environment.name} has no Terraform stack")
        self.environment = environment
        self.settings = settings
        self.store = store
        # modules/logic/naming: psql-<workload>-<stage>; its address resolves in the virtual network
        self.host = f"psql-{settings.workload}-{settings.stage}.postgres.database.azure.com"

    def postgres(self, via: tuple[str, int] | None) -> credential_servers.PostgresServer:
        entry = secret_bundles.entry_name(self.environment, Store.KEY_VAULT, self.ADMINISTRATOR)
        try:
            administrator = json.loads(secret_versions.current_string(self.store, entry))
            login = (administrator["username"], administrator["password"])
        except (ResourceNotFoundException, KeyError, TypeError, json.JSONDecodeError):
            raise RunIncomplete(
                f"{entry}: the server's administrator is not in the vault (is the stack applied?); "
                "nothing was changed"
            ) from None
        return credential_servers.PostgresServer(
            via or (self.host, 5432), login, local.PLATFORM_DATABASE,
            sslmode="prefer" if emulated() else "require", memberships=local.postgres_memberships(),
        )  # fmt: skip

    def redis(self, via: tuple[str, int] | None) -> credential_servers.AzureCacheKeys:
        """The cache the stack makes (modules/logic/naming: redis-<workload>-<stage>, in
        rg-<workload>-<stage>-<primary region>), found, or one line and exit 5."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        settings = self.settings
        name = f"redis-{settings.workload}-{settings.stage}"
        group = f"rg-{settings.workload}-{settings.stage}-{self.environment.regions.primary}"
        cache = credential_servers.AzureCacheKeys(
            via or (f"{name}.redis.cache.windows.net", REDIS_TLS_PORT), management(self.environment),
            group, name, tls=not emulated(), tunnelled=via is not None,
        )  # fmt: skip
        try:
            cache.client.redis.list_keys(group, name)
        except ResourceNotFoundError:
            raise RunIncomplete(
                f"{self.environment.name}: Azure Cache for Redis {name} not found in {group} "
                "(is the stack applied?); nothing was changed"
            ) from None
        except AzureError as error:  # not the vault's: say whose
            line = first_line(error)
            raise RunIncomplete(
                f"{self.environment.name}: Azure Cache for Redis {name}: {line}; nothing was changed"
            ) from None
        return cache
