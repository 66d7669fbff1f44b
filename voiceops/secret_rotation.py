"""`invoke secrets.rotate`: a bundle's secrets rotated without downtime, in the steps of AWS
Secrets Manager rotation (create a pending version, set it on the servers, test it, promote
it), then the previous credential retired after a grace period. Two credentials stay valid
through the switch: the other user of an alternating pair (PostgreSQL, RabbitMQ, one
password per user), a second password on the same user (Redis ACL), a new key pair (LiveKit).

Every step reads where the rotation stands from the store (see `secret_versions`) and does
only what is left, so a run killed between any two steps is completed by the next; a
consumer always has a credential its server accepts, because the old one is retired only
after the new one is current and the grace period has passed.

The servers and the store are the environment's (`credential_servers`): on `local` its
servers and emulated Secrets Manager, whose consumers read the current version before each
connection; on AWS its RDS, ElastiCache, in-cluster RabbitMQ and Secrets Manager, whose readers
get the new version through External Secrets and Reloader (`aws_rotation`); on Linode the
sealed manifests in git, whose readers get a promoted version once it is on `main`
(`sealed_rotation`); on Azure its Key Vault, read through External Secrets and Reloader as on
AWS, its Flexible Server and in-cluster RabbitMQ, and Azure Cache for Redis's access keys,
which its secrets share and move to together (`keyvault_rotation`). A new entry (no value yet)
gets its first value the same way. Secrets holding users of servers whose users are not set
from here (every server on Linode) are refused.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voiceops import (
    aws_rotation,
    credential_servers,
    environments,
    keyvault_rotation,
    linode_servers,
    local,
    sealed_rotation,
    secret_bundles,
    secret_versions,
)
from voiceops.credential_servers import Account
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.runs import AuditRecord, Run, RunIncomplete, Step
from voiceops.secret_versions import Phase, State

DEFAULT_GRACE_SECONDS = 30.0  # local consumers read the store before each connection
# Fault injection for the crash tests: the process kills itself (SIGKILL) after this step.
CRASH_VARIABLE = "VOICEOPS_ROTATION_CRASH_AFTER"
STEPS = ("plan", "create", "set", "test", "promote", "grace", "retire", "verify")
SHARED_SERVERS = frozenset({"postgres"})  # Linode's managed databases serve every environment of the cluster


class RotationFailed(OpsError):
    pass


@dataclass(frozen=True)
class Target:
    entry: str  # the store entry
    declared: secret_bundles.Declared


def targets(environment: Environment, bundle: str, secret: str | None) -> list[Target]:
    """The entries a rotation of `bundle` (or one of its secrets) changes in the environment."""
    bundles = secret_bundles.load_all()
    if bundle not in bundles:
        raise OpsError(f"unknown bundle {bundle!r} (known: {', '.join(sorted(bundles))})")
    if secret and secret not in bundles[bundle].secrets:
        known = ", ".join(sorted(bundles[bundle].secrets))
        raise OpsError(f"bundle {bundle} has no secret {secret!r} (it has: {known})")
    found: dict[str, Target] = {}
    for item in secret_bundles.for_environment(environment):
        if item.declared.bundle != bundle or (secret and item.name != secret) or item.declared.store is None:
            continue
        entry = secret_bundles.entry_name(environment, item.declared.store, item.name)
        found.setdefault(entry, Target(entry, item.declared))
    if not found:
        raise OpsError(
            f"{environment.name} reads no secret of bundle {bundle}{f' named {secret}' if secret else ''}"
        )
    return list(found.values())


@dataclass
class Rotation:
    """One rotation of some entries of a store, resumable from the store alone."""

    client: Any  # the store: a Secrets Manager client (boto3), the local emulator's or AWS's
    targets: list[Target]
    grace: float
    servers: credential_servers.Servers
    # what else keeps the current values: the local layout does, for an emulator that restarts
    on_promote: Callable[[str, dict[str, str], str], None] = lambda entry, values, stamp: None
    report: Callable[[str], None] = print
    # a secret's new values; derived values (RabbitMQ's boot definitions) come after the others
    fresh: Callable[[secret_bundles.Declared, dict[str, str] | None], dict[str, str]] = local.fresh_values
    derived: frozenset[str] = frozenset()  # names of secrets whose values follow the others
    keep_derived: Callable[[], str] = lambda: ""  # rewrite what follows the store's valid users
    pick_up: Callable[[], str] = lambda: ""  # the readers take the promoted versions (clusters)
    grace_after_pick_up: bool = False  # the grace is for what pick_up does not see move (jobs)
    left: Callable[[], str] = lambda: ""  # what the operator still has to do after the run
    server_seconds: dict[str, float] = field(default_factory=dict)  # time spent on each server
    entries: list[str] = field(default_factory=list)  # every entry of the store: who else holds a user
    # a previous user of a server several environments share (SHARED_SERVERS) that is not named
    # after this one may be another's: it is left logged in
    own_prefix: str = ""
    # the readers move long after the servers were set (Linode: once on main), and a server booting
    # meanwhile reads its users from what main had: they are set again once the readers move
    set_again_after_pick_up: bool = False
    reconnect: Callable[[], None] = lambda: None  # reach the servers anew after the grace (port-forwards)

    def __post_init__(self) -> None:
        self.declared = {target.entry: target.declared for target in self.targets}
        entries = list(self.declared)
        try:
            in_flight = secret_versions.token_in_flight(self.client, entries)
        except ValueError as error:
            raise RotationFailed(str(error)) from None
        self.resumed = in_flight is not None
        self.token = in_flight or secret_versions.new_token()

    def states(self, *phases: Phase) -> list[State]:
        found = [secret_versions.state(self.client, entry, self.token) for entry in self.declared]
        return [item for item in found if item.phase in phases]

    def _value(self, entry: str, version: str) -> dict[str, str]:
        return secret_versions.value(self.client, entry, version)

    def _converge(self, wanted: dict[str, dict[str, list[str]]], refused: tuple[Account, ...] = ()) -> None:
        for server, seconds in self.servers.converge(wanted, refused).items():
            self.server_seconds[server] = self.server_seconds.get(server, 0.0) + seconds

    # --- the steps, each one idempotent ------------------------------------------------------

    def plan(self) -> str:
        started = self.states(Phase.IDLE)  # untagged: new, or not reached before a crash
        for item in started:
            secret_versions.begin(self.client, item.entry, self.token)
        verb = "resumed" if self.resumed else "started"
        # what a run that died after its last retirement left stale is made current first
        return self._with_derived(f"rotation {self.token[:8]} {verb} on {len(self.declared)} secret(s)")

    def create(self) -> str:
        created = sorted(
            self.states(Phase.CREATE), key=lambda item: self.declared[item.entry].name in self.derived
        )
        for item in created:
            current = self._value(item.entry, item.current) if item.current else None
            secret_versions.create(
                self.client, item.entry, self.token, self.fresh(self.declared[item.entry], current)
            )
        return f"{len(created)} pending version(s) created, {len(self.declared) - len(created)} already there"

    def set(self) -> str:
        pending = self.states(Phase.PENDING)
        parts, value_only = [], []
        for item in pending:
            versions = [
                self._value(item.entry, version)
                for version in dict.fromkeys((item.current, item.version))
                if version
            ]
            if local.accounts(versions[-1]):
                parts.append(local.desired_accounts(versions))
            else:
                value_only.append(self.declared[item.entry].name)
        self._converge(local.merge_accounts(*parts))
        detail = self._with_derived(f"{len(parts)} secret(s) set: old and new credentials both accepted")
        if value_only:
            detail += f"; {len(value_only)} with no server user ({', '.join(value_only)})"
        return detail

    def test(self) -> str:
        pending = self.states(Phase.PENDING)
        checked = 0
        for item in pending:
            values = self._value(item.entry, item.version)
            if missing := [key for key in self.declared[item.entry].secret.keys if not values.get(key)]:
                raise RotationFailed(f"{item.entry}: the pending version has no {', '.join(missing)}")
            for account in local.accounts(values):
                if not self.servers.accepted(account):
                    raise RotationFailed(
                        f"{item.entry}: {account.server} refuses the pending {account.username}; "
                        "nothing was promoted, run the rotation again"
                    )
                checked += 1
        return f"{checked} pending credential(s) accepted by their servers"

    def promote(self) -> str:
        pending = self.states(Phase.PENDING)
        now = datetime.datetime.now(datetime.UTC)
        for item in pending:
            secret_versions.promote(self.client, item, now)
            self.on_promote(
                item.entry, self._value(item.entry, item.version or ""), now.isoformat(timespec="seconds")
            )
        return f"{len(pending)} version(s) promoted to AWSCURRENT"

    def wait_grace(self) -> str:
        if not self.states(Phase.PROMOTED):
            return "nothing to wait for"
        if moved := self.pick_up():  # may date the promotion anew (Linode: when it reached main)
            self.report(f"    {moved}")
        if self.set_again_after_pick_up:
            promoted = self.states(Phase.PROMOTED)
            valid = [[self._value(item.entry, version) for version in (item.version, item.previous)
                      if version] for item in promoted]  # fmt: skip
            self._converge(local.merge_accounts(*map(local.desired_accounts, valid)))
        now = datetime.datetime.now(datetime.UTC)
        stamps = [item.promoted_at or now for item in self.states(Phase.PROMOTED)]  # undated: from now
        if not stamps:
            return "nothing to wait for"
        started = max(stamps + ([now] if self.grace_after_pick_up else []))
        until = started + datetime.timedelta(seconds=self.grace)
        remaining = (until - datetime.datetime.now(datetime.UTC)).total_seconds()
        if remaining > 0:
            self.report(f"    previous credentials stay valid for {remaining:.0f}s more (grace period)")
            time.sleep(remaining)
        return f"grace period of {self.grace:.0f}s over"

    def retire(self) -> str:
        promoted = self.states(Phase.PROMOTED)
        if promoted:
            self.reconnect()
        parts, refused = [], []
        for item in promoted:
            current = self._value(item.entry, item.version or "")
            if item.previous:
                kept = set(local.accounts(current))
                refused += [
                    a for a in local.accounts(self._value(item.entry, item.previous)) if a not in kept
                ]
            parts.append(local.desired_accounts([current]))
        wanted = local.merge_accounts(*parts)
        # a user the current value does not hold (written by hand) logs in no more, unless another
        # secret or the server's administrator is that user
        outside = [account for account in refused if account.username not in wanted[account.server]]
        kept = self._held_elsewhere() if outside else set()
        left = [
            account for account in outside
            if kept is None or (account.server, account.username) in kept
            or (account.server in SHARED_SERVERS and not account.username.startswith(self.own_prefix))
        ]  # fmt: skip
        refused = [account for account in refused if account not in left]
        for account in outside:
            if account in left:
                continue
            if account.server not in self.servers.by_kind:
                raise RotationFailed(
                    f"the previous value holds a {account.server} user, {account.username}, on a server this "
                    "run does not reach; nothing was retired"
                )
            wanted[account.server].setdefault(account.username, [])
        self._converge(wanted, tuple(refused))
        for item in promoted:
            secret_versions.finish(self.client, item)
        detail = f"{len(promoted)} secret(s): {len(refused)} previous credential(s) now refused"
        if left:
            users = ", ".join(sorted({account.username for account in left}))
            detail += f"; left to another secret or an administrator: {users}"
        return self._with_derived(detail)

    def _held_elsewhere(self) -> set[tuple[str, str]] | None:
        """(server, user) of every administrator and every valid value of the store's other
        entries; None when one cannot be read (then nobody is logged out)."""
        held = {
            (kind, server.admin[0])
            for kind, server in self.servers.by_kind.items()
            if hasattr(server, "admin")
        }
        for entry in (entry for entry in self.entries if entry not in self.declared):
            try:
                versions = secret_versions.valid_values(self.client, entry)
            except self.client.exceptions.ResourceNotFoundException:
                continue
            except secret_versions.ValueUnreadable:
                return None
            held |= {
                (account.server, account.username)
                for values in versions
                for account in local.accounts(values)
            }
        return held

    def verify(self) -> str:
        """Post-rotation verification (seed 002): every current credential logs in."""
        checked = 0
        for entry in self.declared:
            current = json.loads(secret_versions.current_string(self.client, entry))
            for account in local.accounts(current):
                if not self.servers.accepted(account):
                    raise RotationFailed(f"{entry}: {account.server} refuses the current {account.username}")
                checked += 1
        detail = self._with_derived(f"{checked} current credential(s) log in")
        return f"{detail}; {left}" if (left := self.left()) else detail

    def _with_derived(self, detail: str) -> str:
        kept = self.keep_derived()
        return f"{detail}; {kept}" if kept else detail

    def steps(self) -> list[Step]:
        actions = {
            "plan": self.plan, "create": self.create, "set": self.set, "test": self.test,
            "promote": self.promote, "grace": self.wait_grace, "retire": self.retire, "verify": self.verify,
        }  # fmt: skip
        names = {
            "plan": "mark the secrets being rotated", "create": "create pending versions (AWSPENDING)",
            "set": "set the new credentials on the servers", "test": "test the new credentials",
            "promote": "promote them (AWSCURRENT)", "grace": "grace period",
            "retire": "retire the previous credentials", "verify": "verify every current credential",
        }  # fmt: skip
        return [Step(names[key], _crash_point(key, actions[key])) for key in STEPS]


def _crash_point(key: str, action: Callable[[], str]) -> Callable[[], str]:
    def run() -> str:
        detail = action()
        if os.environ.get(CRASH_VARIABLE) == key:
            os.kill(os.getpid(), signal.SIGKILL)
        return detail

    return run


def rotate(
    name: str,
    bundle: str,
    secret: str | None,
    grace: float | None,
    confirm: str | None,
    report: Callable[[str], None] = print,
    via: dict[str, tuple[str, int]] | None = None,
) -> tuple[AuditRecord, dict[str, float]]:
    """Rotate a bundle's secrets (or one) in an environment; the audit record and the seconds
    spent on each server. `via`: tunnels to a cloud's servers (see aws_rotation)."""
    environment = environments.load(name)
    chosen = targets(environment, bundle, secret)
    if grace is not None and not (math.isfinite(grace) and grace >= 0):
        raise OpsError(f"--grace must be 0 or more seconds, not {grace}")
    if via and environment.cloud is Cloud.LOCAL:
        raise OpsError("--via is for the servers of a cloud environment, not local")
    if environment.cloud is not Cloud.LINODE and (
        several := sorted(kind for kind in via or {} if kind[-1].isdigit())
    ):
        raise OpsError(
            f"--via {', '.join(several)}: one tunnel per Redis server is for Linode's platform-redis"
        )
    arguments = {"bundle": bundle, "secret": secret, "grace": grace, "via": sorted(via or {})}
    with Run("secrets-rotate", environment, arguments, confirm) as run:
        rotation = _prepared(environment, chosen, grace, via or {}, report)
        run.execute(rotation.steps())
    return run.record, rotation.server_seconds


def _prepared(
    environment: Environment, chosen: list[Target], grace: float | None, via: dict[str, tuple[str, int]],
    report: Callable[[str], None],
) -> Rotation:  # fmt: skip
    """The environment's store and servers, found and reachable, or one line and exit 5."""
    if environment.cloud is Cloud.AWS:
        readers = aws_rotation.Readers(environment, chosen)
        followed = readers.answer()
        grace = aws_rotation.precheck(environment, chosen, grace, followed)
        store, client = aws_rotation.clients(environment)
        with aws_rotation.answering(environment):
            _refuse_unsafe(environment, store, chosen, "Secrets Manager", "AWS")
            needed = aws_rotation.servers_needed(chosen)
            servers = aws_rotation.AwsServers(environment, store, client).servers(needed, via)
            return _followed(environment, store, chosen, grace, servers, readers, followed, report)
    if environment.cloud is Cloud.LINODE:
        return _sealed(environment, chosen, grace, via, report)
    if environment.cloud is Cloud.AZURE:
        return _vault(environment, chosen, grace, via, report)
    layout = local.Layout.load()
    if layout is None or not local.moto_running():
        raise RunIncomplete("local: the servers are not running (invoke local.up); nothing was changed")
    store = local.aws_client(layout, "secretsmanager")
    for target in chosen:  # a secret declared since the last local.up, or an entry deleted by hand
        try:
            store.describe_secret(SecretId=target.entry)
        except store.exceptions.ResourceNotFoundException:
            raise RunIncomplete(
                f"local: {target.entry} is not in the local store (invoke local.up); nothing was changed"
            ) from None

    def keep(entry: str, values: dict[str, str], stamp: str) -> None:
        # the layout keeps the store's current values for an emulator that restarts
        layout.bundles[entry] = values
        layout.rotated[entry] = stamp
        layout.save()

    return Rotation(
        store, chosen, DEFAULT_GRACE_SECONDS if grace is None else grace, local.servers(layout), keep, report,
        entries=store_entries(environment),
    )  # fmt: skip


def _sealed(
    environment: Environment, chosen: list[Target], grace: float | None, via: dict[str, tuple[str, int]],
    report: Callable[[str], None],
) -> Rotation:  # fmt: skip
    """Linode: the sealed manifests in git are the store; the readers get a promoted value once
    it is pushed to the branch Argo CD syncs (sealed_rotation). The servers' users are set first
    (linode_servers); RabbitMQ's definitions are delivered with the values."""
    grace = sealed_rotation.precheck(environment, chosen, grace)
    store = sealed_rotation.store(environment)
    if refused := sealed_rotation.refused(environment, chosen, store):
        raise OpsError(f"not rotated, nothing was changed: {'; '.join(refused)}")
    needed = aws_rotation.servers_needed(chosen)
    rotated = frozenset(target.entry for target in chosen)
    linode = linode_servers.LinodeServers(environment, store, rotated) if needed else None
    servers = linode.servers(needed, via) if linode else credential_servers.Servers()
    definitions = aws_rotation.Definitions(environment, store)
    redis_acl = linode_servers.RedisAcl(environment, store)
    exporter_auth = linode_servers.ExporterAuth(environment, store)
    derived: list[aws_rotation.DerivedSecret] = [definitions, redis_acl, exporter_auth]
    # what the servers and the exporter read reaches main with the values: a server restarting keeps the users
    names = sorted({target.entry for target in chosen} | {
        kept.name for kept in derived if kept.kind in needed and kept.name in store.read
    })  # fmt: skip
    delivery = sealed_rotation.Delivery(store, names)
    report(f"    readers get the new values once {delivery.where()} reach main; then a {grace:.0f}s grace")

    def fresh(declared: secret_bundles.Declared, current: dict[str, str] | None) -> dict[str, str]:
        named = {kept.name: kept for kept in derived} | {linode_servers.AUTH_SECRET: redis_acl}
        return named.get(declared.name, definitions).fresh(declared, current)

    def keep_derived() -> str:
        """Only what this rotation's servers read: another derived value written by hand stays."""
        return "; ".join(line for kept in derived if kept.kind in needed and (line := kept.keep()))

    return Rotation(
        store, chosen, grace, servers, report=report, fresh=fresh,
        derived=aws_rotation.DERIVED_SECRETS, keep_derived=keep_derived,
        pick_up=delivery.pick_up, left=delivery.remaining, entries=store_entries(environment),
        own_prefix=secret_bundles.user_prefix(environment), set_again_after_pick_up=True,
        reconnect=(lambda: linode.reconnect(servers, needed)) if linode else lambda: None,
    )  # fmt: skip


def _vault(
    environment: Environment, chosen: list[Target], grace: float | None, via: dict[str, tuple[str, int]],
    report: Callable[[str], None],
) -> Rotation:  # fmt: skip
    """Azure: the Key Vault is the store; the Flexible Server's and RabbitMQ's users are set as
    on AWS, and the holders of Redis's access key move to a new one together; External Secrets
    and Reloader move the readers, whom the rotation follows where the cluster answers
    (keyvault_rotation)."""
    readers = aws_rotation.Readers(environment, chosen)
    followed = readers.answer()
    grace = keyvault_rotation.precheck(environment, chosen, grace, followed)
    store = keyvault_rotation.store(environment)
    with keyvault_rotation.answering(environment):
        _refuse_unsafe(environment, store, chosen, "the vault", "Azure")
        needed = aws_rotation.servers_needed(chosen)
        servers = keyvault_rotation.AzureServers(environment, store).servers(needed, via)
        if settled := store.settle():  # what a run that died left undone
            report(f"    {settled}")
        rotation = _followed(environment, store, chosen, grace, servers, readers, followed, report)
        if "redis" in needed:  # every holder of the cache's key moves to the same new one
            holders = [target.entry for target in chosen if keyvault_rotation.holds_redis(target.declared)]
            shared = keyvault_rotation.SharedAccessKey(servers.by_kind["redis"], store, holders)
            rotation.fresh = shared.fresh(rotation.fresh)
        return rotation


def _refuse_unsafe(
    environment: Environment, store: Any, chosen: list[Target], where: str, cloud: str
) -> None:
    """Every entry exists, and none is a secret the rotation would break readers of."""
    check = aws_rotation.has_value(environment, store, where)
    provisioned = {target.entry: check(target.entry) for target in chosen}
    if refused := aws_rotation.unsafe(chosen, provisioned.__getitem__, cloud):
        raise OpsError(f"not rotated, nothing was changed: {'; '.join(refused)}")


def _followed(
    environment: Environment, store: Any, chosen: list[Target], grace: float,
    servers: credential_servers.Servers, readers: aws_rotation.Readers, followed: bool,
    report: Callable[[str], None],
) -> Rotation:  # fmt: skip
    """A rotation whose readers External Secrets and Reloader move (AWS, Azure), followed on the
    cluster where it answers; RabbitMQ's definitions derived from the users."""
    definitions = aws_rotation.Definitions(environment, store)
    report(f"    {aws_rotation.readers_line(followed, grace)}")

    def keep_definitions() -> str:
        """Where the cluster answers, the definitions reach it at once whenever this rotation
        changes RabbitMQ's users (also when a run that died wrote them): RabbitMQ loads them at
        every boot, and a node booting on older ones would undo the users just set."""
        line = definitions.keep()
        if followed and definitions.kept and "rabbitmq" in servers.by_kind:
            line += f", {readers.sync(aws_rotation.DEFINITIONS_SECRET)}"
        return line

    return Rotation(
        store, chosen, grace, servers, report=report, fresh=definitions.fresh,
        derived=frozenset({aws_rotation.DEFINITIONS_SECRET}), keep_derived=keep_definitions,
        pick_up=readers.follow if followed else lambda: "", grace_after_pick_up=followed,
        entries=store_entries(environment),
    )  # fmt: skip


def store_entries(environment: Environment) -> list[str]:
    """Every entry of the environment's stores."""
    found = secret_bundles.for_environment(environment)
    return sorted({secret_bundles.entry_name(environment, item.declared.store, item.name)
                   for item in found if item.declared.store is not None})  # fmt: skip
