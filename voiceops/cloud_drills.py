"""Drills on AWS: the provider's recovery APIs restore into new, isolated instances, measured
against the registry's targets; production is read, never changed.

- database-failure: RDS point-in-time restore of the production instance into a new instance
  (its latest restorable time), in the production subnet group, not publicly accessible;
- cache-failure: a new ElastiCache replication group from the production group's newest
  snapshot;
- region-failover (an environment with a recovery region): a new cross-region read replica of
  the production instance in the recovery region, promoted there; then the buckets'
  replication to the recovery region is checked (Replication Time Control on, the newest
  objects replicated);
- broker-failure would stop a production RabbitMQ node: exit 5 before anything is made (its
  failover is drilled on local; cluster-failure restores it with Velero, voiceops/velero_drill.py).

Every drill resource is named `drill-<id>-…` and tagged with the drill id; each step does only
what is left (a drill resource that exists is not made again; cleanup deletes only drill
resources), so a drill re-run with `--resume <id>` completes it. A botocore hook on every client
refuses any call that is not a read unless it names a drill resource: a bug cannot change
production.

With AWS_ENDPOINT_URL set (an emulator such as moto) the run proves the call sequence and
idempotence; its report is marked emulated and carries no RTO or RPO.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from voiceops import backups, catalog
from voiceops.environments import Environment
from voiceops.errors import OpsError
from voiceops.runs import RunIncomplete, Step

DRILL_PREFIX = "drill-"
DRILL_TAG = "voiceops:drill"
EMULATOR_VARIABLE = "AWS_ENDPOINT_URL"
READ_OPERATIONS = ("Describe", "List", "Get", "Head")
# the calls a drill may make that change anything, and the parameter naming what they change
DRILL_TARGETS = {
    "RestoreDBInstanceToPointInTime": "TargetDBInstanceIdentifier",
    "CreateDBInstanceReadReplica": "DBInstanceIdentifier",
    "PromoteReadReplica": "DBInstanceIdentifier",
    "DeleteDBInstance": "DBInstanceIdentifier",
    "CreateReplicationGroup": "ReplicationGroupId",
    "DeleteReplicationGroup": "ReplicationGroupId",
}
NEEDS_CLUSTER = {
    "broker-failure": "RabbitMQ runs in the cluster, where losing a node means stopping a production "
    "pod; its quorum failover is drilled on local, and cluster-failure restores it with Velero",
}
WAIT = {"Delay": 30, "MaxAttempts": 120}  # up to an hour for a restore


class ProductionTouched(OpsError):
    """A drill tried to change something that is not its own."""


def guard(params: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore's before-parameter-build hook: reads pass; a change must name a drill resource."""
    operation = model.name
    if operation.startswith(READ_OPERATIONS):
        return
    parameter = DRILL_TARGETS.get(operation)
    target = str(params.get(parameter, "")) if parameter else ""
    if not target.startswith(DRILL_PREFIX):
        raise ProductionTouched(
            f"refused {operation} on {target or 'a resource that is not a drill resource'}: "
            "a drill changes only what it made (drill-<id>-…)"
        )


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def emulated() -> bool:
    """An emulator answers for AWS (moto, on this machine): its safeguards (the grace's minimum,
    TLS to the servers) are for AWS itself, which another endpoint (a VPC endpoint) still is."""
    return on_this_machine(os.environ.get(EMULATOR_VARIABLE))


def on_this_machine(url: str | None) -> bool:
    """Whether an endpoint is an emulator's: one on this machine's loopback."""
    return bool(url) and urllib.parse.urlparse(url).hostname in LOOPBACK


@dataclass
class Names:
    """The production resources, named as the stacks name them (modules/logic/naming), and
    Velero's bucket as its values file names it."""

    base: str
    velero_bucket: str
    account: str = ""

    @property
    def postgresql(self) -> str:
        return f"{self.base}-postgresql"

    @property
    def postgresql_replica(self) -> str:
        return f"{self.base}-postgresql-replica"

    @property
    def redis(self) -> str:
        return f"{self.base}-redis"

    def replicated_buckets(self) -> list[str]:
        return [f"{self.base}-livekit-egress-{self.account}", self.velero_bucket]


@dataclass
class AwsDrill:
    """One drill's steps, each idempotent; `made` records the drill resources that exist."""

    environment: Environment
    scenario: str
    drill_id: str
    client: Callable[[str, str], Any]  # (service, region) -> a guarded boto3 client
    report: Callable[[str], None] = print
    made: dict[str, str] = field(default_factory=dict)  # drill resource -> region
    facts: dict[str, Any] = field(default_factory=dict)  # what the steps found, for the later ones
    checks: dict[str, tuple[str, str]] = field(default_factory=dict)  # what -> (expected, restored)
    available_at: float | None = None  # monotonic time the restored instance answered
    started_monotonic: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        settings = self.environment.terraform
        if settings is None:
            raise OpsError(f"{self.environment.name} has no Terraform stack: nothing to drill")
        release = backups.velero_release(self.environment)
        located = backups.locations(catalog.merged_values(release)) if release else []
        self.names = Names(f"{settings.workload}-{settings.stage}", located[0]["bucket"] if located else "")
        self.primary = self.environment.regions.primary
        self.recovery = self.environment.regions.disaster_recovery
        self.target = f"{DRILL_PREFIX}{self.drill_id}"
        self.tags = [{"Key": DRILL_TAG, "Value": self.drill_id}]

    # --- what the drill needs of production, read only ---------------------------------------

    def _instance(self, region: str, identifier: str) -> dict | None:
        rds = self.client("rds", region)
        try:
            return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        except rds.exceptions.DBInstanceNotFoundFault:
            return None

    def _group(self, identifier: str) -> dict | None:
        elasticache = self.client("elasticache", self.primary)
        try:
            group = elasticache.describe_replication_groups(ReplicationGroupId=identifier)[
                "ReplicationGroups"
            ][0]
        except elasticache.exceptions.ReplicationGroupNotFoundFault:
            return None
        return None if group.get("Status") in ("deleting", "deleted") else group

    def production_instance(self) -> dict:
        found = self._instance(self.primary, self.names.postgresql)
        if found is None:
            raise OpsError(
                f"{self.environment.name}: no RDS instance {self.names.postgresql} in {self.primary}"
            )
        return found

    # --- database-failure --------------------------------------------------------------------

    def restore_database(self) -> str:
        identifier = f"{self.target}-postgresql"
        source = self.production_instance()
        self.facts["restorable_until"] = source.get("LatestRestorableTime")
        state = self._ensure(identifier, self.primary, self._instance(self.primary, identifier) is not None,
            lambda: self.client("rds", self.primary).restore_db_instance_to_point_in_time(
                SourceDBInstanceIdentifier=self.names.postgresql, TargetDBInstanceIdentifier=identifier,
                UseLatestRestorableTime=True, DBSubnetGroupName=source["DBSubnetGroup"]["DBSubnetGroupName"],
                PubliclyAccessible=False, DeletionProtection=False, Tags=self.tags,
            ))  # fmt: skip
        return f"{state}: {self.names.postgresql} at its latest restorable time into {identifier}"

    def _ensure(self, identifier: str, region: str, exists: bool, create: Callable[[], object]) -> str:
        """Make a drill resource unless this drill (resumed) made it already."""
        if not exists:
            create()
        self.made[identifier] = region
        return "already started" if exists else "started"

    def wait_database(self, identifier: str, region: str) -> str:
        self.client("rds", region).get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=identifier, WaiterConfig=WAIT
        )
        self.available_at = time.monotonic()
        restored = self._instance(region, identifier) or {}
        self.facts["restored"] = {
            "engine": f"{restored.get('Engine')} {restored.get('EngineVersion')}",
            "endpoint": (restored.get("Endpoint") or {}).get("Address"),
            "public": restored.get("PubliclyAccessible"),
        }
        return f"{identifier} available at {self.facts['restored']['endpoint']}"

    def verify_database(self, region: str) -> str:
        source = self.production_instance()
        restored = self.facts.get("restored") or {}
        expected = f"{source.get('Engine')} {source.get('EngineVersion')}"
        self.checks["engine"] = (expected, str(restored.get("engine")))
        self.checks["publicly accessible"] = ("no", "yes" if restored.get("public") else "no")
        self.checks["endpoint"] = ("present", "present" if restored.get("endpoint") else "none")
        return self._checked(f"the restored instance in {region}")

    def _checked(self, what: str) -> str:
        differing = [
            f"{name}: {restored}, not {expected}"
            for name, (expected, restored) in self.checks.items() if expected != restored
        ]  # fmt: skip
        if differing:
            raise OpsError(f"{what} is not what production runs: {'; '.join(differing)}")
        return f"{what}: " + ", ".join(f"{name} {restored}" for name, (_, restored) in self.checks.items())

    # --- cache-failure -----------------------------------------------------------------------

    def restore_cache(self) -> str:
        identifier = f"{self.target}-redis"
        elasticache = self.client("elasticache", self.primary)
        snapshots = elasticache.describe_snapshots(ReplicationGroupId=self.names.redis)["Snapshots"]
        if not snapshots:
            raise OpsError(f"{self.names.redis} has no snapshot to restore from (snapshot_retention_days)")
        newest = max(snapshots, key=_snapshot_time)
        self.facts["snapshot"] = newest
        taken = _snapshot_time(newest)
        self.facts["restorable_until"] = taken if taken.year > 1 else None
        state = self._ensure(identifier, self.primary, self._group(identifier) is not None,
            lambda: elasticache.create_replication_group(
                ReplicationGroupId=identifier, ReplicationGroupDescription=f"drill {self.drill_id}",
                SnapshotName=newest["SnapshotName"], Engine="redis", CacheNodeType=newest["CacheNodeType"],
                Tags=self.tags,
            ))  # fmt: skip
        return f"{state}: snapshot {newest['SnapshotName']} into {identifier}"

    def wait_cache(self) -> str:
        identifier = f"{self.target}-redis"
        self.client("elasticache", self.primary).get_waiter("replication_group_available").wait(
            ReplicationGroupId=identifier, WaiterConfig=WAIT
        )
        self.available_at = time.monotonic()
        return f"{identifier} available"

    def verify_cache(self) -> str:
        restored = self._group(f"{self.target}-redis") or {}
        snapshot = self.facts["snapshot"]
        self.checks["status"] = ("available", str(restored.get("Status", "missing")))
        self.checks["node type"] = (snapshot["CacheNodeType"], str(restored.get("CacheNodeType")))
        return self._checked(f"the group restored from {snapshot['SnapshotName']}")

    # --- region-failover ---------------------------------------------------------------------

    def replicate_to_recovery(self) -> str:
        identifier = f"{self.target}-recovery"
        source = self.production_instance()
        standing = self._instance(str(self.recovery), self.names.postgresql_replica)
        if standing is None:
            raise OpsError(f"no standing replica {self.names.postgresql_replica} in {self.recovery}")
        region = str(self.recovery)
        state = self._ensure(identifier, region, self._instance(region, identifier) is not None,
            lambda: self.client("rds", region).create_db_instance_read_replica(
                DBInstanceIdentifier=identifier, SourceDBInstanceIdentifier=source["DBInstanceArn"],
                SourceRegion=self.primary, DBSubnetGroupName=standing["DBSubnetGroup"]["DBSubnetGroupName"],
                PubliclyAccessible=False, Tags=self.tags,
            ))  # fmt: skip
        return f"{state}: {identifier} in {region}, a replica of {self.names.postgresql}"

    def promote(self) -> str:
        identifier = f"{self.target}-recovery"
        rds = self.client("rds", str(self.recovery))
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=identifier, WaiterConfig=WAIT)
        rds.promote_read_replica(DBInstanceIdentifier=identifier)
        return self.wait_database(identifier, str(self.recovery))

    def check_bucket_replication(self) -> str:
        """Read only: each replicated bucket has Replication Time Control on, and its newest
        objects report COMPLETED."""
        s3 = self.client("s3", self.primary)
        if not self.names.account:
            self.names.account = self.client("sts", self.primary).get_caller_identity()["Account"]
        checked = []
        for bucket in self.names.replicated_buckets():
            rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
            timed = [rule for rule in rules if ((rule.get("Destination") or {}).get("ReplicationTime") or {})
                     .get("Status") == "Enabled"]  # fmt: skip
            if not timed:
                raise OpsError(f"{bucket}: no replication rule with Replication Time Control")
            newest = sorted(s3.list_objects_v2(Bucket=bucket, MaxKeys=1000).get("Contents", []),
                            key=lambda item: item["LastModified"])[-5:]  # fmt: skip
            # an emulator stores the rule but replicates nothing: its objects carry no status
            accepted = {"COMPLETED", None} if emulated() else {"COMPLETED"}
            statuses = {item["Key"]: s3.head_object(Bucket=bucket, Key=item["Key"]).get("ReplicationStatus")
                        for item in newest}  # fmt: skip
            pending = [key for key, status in statuses.items() if status not in accepted]
            if pending:
                raise OpsError(f"{bucket}: not replicated yet: {', '.join(pending)}")
            minutes = timed[0]["Destination"]["ReplicationTime"]["Time"]["Minutes"]
            self.checks[f"{bucket}: replication bound"] = ("15 min", f"{minutes} min")
            checked.append(f"{bucket} ({len(newest)} newest object(s))")
        self._checked("the buckets' replication")
        return "replication with a 15-minute bound: " + ", ".join(checked)

    # --- cleanup -----------------------------------------------------------------------------

    def clean(self) -> str:
        removed = []
        for identifier, region in self.made.items():
            if identifier.endswith("-redis"):
                if self._group(identifier) is not None:
                    self.client("elasticache", region).delete_replication_group(ReplicationGroupId=identifier)
                    removed.append(identifier)
            elif self._instance(region, identifier) is not None:
                self.client("rds", region).delete_db_instance(
                    DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
                )
                removed.append(identifier)
        return f"deleted {', '.join(removed)}" if removed else "nothing left to delete"

    def _undoable(
        self, action: Callable[[], str], keep: bool
    ) -> Callable[[], str | tuple[str, Callable[[], None]]]:
        """A step that makes a drill resource: if a later step fails, the resource goes (unless kept)."""

        def run() -> str | tuple[str, Callable[[], None]]:
            detail = action()
            return detail if keep else (detail, lambda: self.report(f"    {self.clean()}"))

        return run

    def steps(self, keep: bool) -> list[Step]:
        if self.scenario in NEEDS_CLUSTER:
            raise RunIncomplete(f"{self.scenario}: {NEEDS_CLUSTER[self.scenario]}; nothing was made")
        if self.scenario == "database-failure":
            identifier = f"{self.target}-postgresql"
            chosen = [
                Step("restore to a new instance", self._undoable(self.restore_database, keep)),
                Step("wait until it is available", lambda: self.wait_database(identifier, self.primary)),
                Step("verify it", lambda: self.verify_database(self.primary)),
            ]
        elif self.scenario == "cache-failure":
            chosen = [
                Step(
                    "restore the newest snapshot into a new group", self._undoable(self.restore_cache, keep)
                ),
                Step("wait until it is available", self.wait_cache),
                Step("verify it", self.verify_cache),
            ]
        else:  # region-failover
            if not self.recovery:
                raise RunIncomplete(
                    f"{self.environment.name} has no recovery region (regions.disaster_recovery); "
                    "nothing was made"
                )
            chosen = [
                Step("replicate into the recovery region", self._undoable(self.replicate_to_recovery, keep)),
                Step("promote the new replica", self.promote),
                Step("verify it", lambda: self.verify_database(str(self.recovery))),
                Step("check the buckets' replication", self.check_bucket_replication),
            ]
        if not keep:
            chosen.append(Step("delete the drill's resources", self.clean))
        return chosen

    def measured(self, failed_at: datetime) -> tuple[float | None, float | None]:
        """(RTO, RPO) in seconds; none under an emulator, whose timings mean nothing."""
        if emulated() or self.available_at is None:
            return None, None
        rto = round(self.available_at - self.started_monotonic, 3)
        restorable = self.facts.get("restorable_until")
        rpo = (failed_at - restorable).total_seconds() if isinstance(restorable, datetime) else None
        return rto, None if rpo is None else round(max(rpo, 0.0), 3)


def _snapshot_time(snapshot: dict) -> datetime:
    created = [item.get("SnapshotCreateTime") for item in snapshot.get("NodeSnapshots") or []]
    found = [item for item in created if isinstance(item, datetime)]
    return max(found) if found else datetime.min.replace(tzinfo=UTC)


def guarded_clients() -> Callable[[str, str], Any]:
    """A boto3 client per (service, region), each with the production guard registered."""
    import boto3  # slow to import: only for the cloud drills

    made: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str) -> Any:
        if (service, region) not in made:
            created = boto3.client(service, region_name=region)
            created.meta.events.register("before-parameter-build", guard)
            made[(service, region)] = created
        return made[(service, region)]

    return client
