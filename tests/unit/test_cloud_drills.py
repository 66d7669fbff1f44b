"""AWS drills against moto's server (the emulator the local environment runs too): each scenario's
call sequence, idempotence when resumed, the emulated report, and that production is only read:
the guard refuses any change to it, and every drill leaves production as it was."""

import json
from datetime import UTC, datetime

import boto3
import pytest

from voiceops import cloud_drills, drills, velero_drill
from voiceops.errors import OpsError

from .conftest import reset

PRIMARY, RECOVERY = "us-west-2", "us-east-1"


@pytest.fixture(scope="module")
def aws(emulator):
    """An emulated account holding what the live and sandbox stacks make, made once: every test
    leaves it as it found it (the drills delete what they make; a test that keeps a drill
    resource deletes it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", emulator)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, "testing")
        patch.delenv("AWS_PROFILE", raising=False)
        reset(emulator)
        for base in ("voiceops-live", "voiceops-sandbox"):
            production(base)
        yield emulator


def subnet_group(region: str, name: str) -> None:
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{region}{zone}")
               ["Subnet"]["SubnetId"] for n, zone in ((10, "a"), (20, "b"))]  # fmt: skip
    boto3.client("rds", region_name=region).create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription=name, SubnetIds=subnets
    )


def production(base: str) -> None:
    rds = boto3.client("rds", region_name=PRIMARY)
    subnet_group(PRIMARY, f"{base}-postgresql")
    primary = rds.create_db_instance(
        DBInstanceIdentifier=f"{base}-postgresql", Engine="postgres", EngineVersion="16.4",
        DBInstanceClass="db.m6g.large", MasterUsername="platform", MasterUserPassword="password-of-16c",
        AllocatedStorage=100, DBSubnetGroupName=f"{base}-postgresql", MultiAZ=True, BackupRetentionPeriod=30,
    )["DBInstance"]  # fmt: skip
    elasticache = boto3.client("elasticache", region_name=PRIMARY)
    elasticache.create_replication_group(
        ReplicationGroupId=f"{base}-redis", ReplicationGroupDescription=base, Engine="redis",
        CacheNodeType="cache.r7g.large", NumNodeGroups=2, ReplicasPerNodeGroup=1,
    )  # fmt: skip
    elasticache.create_snapshot(ReplicationGroupId=f"{base}-redis", SnapshotName=f"automatic.{base}-redis")
    if base != "voiceops-live":
        return
    subnet_group(RECOVERY, f"{base}-postgresql-replica")
    # moto looks a cross-region replica's subnet group up in the source region: it is there too
    subnet_group(PRIMARY, f"{base}-postgresql-replica")
    boto3.client("rds", region_name=RECOVERY).create_db_instance_read_replica(
        DBInstanceIdentifier=f"{base}-postgresql-replica",
        SourceDBInstanceIdentifier=primary["DBInstanceArn"], SourceRegion=PRIMARY,
        DBSubnetGroupName=f"{base}-postgresql-replica",
    )  # fmt: skip
    s3 = boto3.client("s3", region_name=PRIMARY)
    account = boto3.client("sts", region_name=PRIMARY).get_caller_identity()["Account"]
    for bucket in (f"{base}-livekit-egress-{account}", f"{base}-velero"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": PRIMARY})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
            "Role": f"arn:aws:iam::{account}:role/replication", "Rules": [{
                "ID": "to-recovery-region", "Status": "Enabled", "Priority": 1, "Filter": {},
                "DeleteMarkerReplication": {"Status": "Enabled"},
                "Destination": {"Bucket": f"arn:aws:s3:::{bucket}-replica",
                                "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                                "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}},
            }],
        })  # fmt: skip
        s3.put_object(Bucket=bucket, Key="recording-1.ogg", Body=b"audio")


PRODUCTION_FIELDS = (
    "DBInstanceStatus", "DBInstanceClass", "Engine", "EngineVersion", "MultiAZ", "BackupRetentionPeriod",
    "AllocatedStorage", "DeletionProtection", "Endpoint",
)  # fmt: skip


def production_state() -> dict:
    """What the drills must leave as it was: every production instance, group and bucket."""
    state = {}
    for region in (PRIMARY, RECOVERY):
        for instance in boto3.client("rds", region_name=region).describe_db_instances()["DBInstances"]:
            if not instance["DBInstanceIdentifier"].startswith(cloud_drills.DRILL_PREFIX):
                state[instance["DBInstanceIdentifier"]] = {
                    key: instance.get(key) for key in PRODUCTION_FIELDS
                }
    elasticache = boto3.client("elasticache", region_name=PRIMARY)
    for group in elasticache.describe_replication_groups()["ReplicationGroups"]:
        if not group["ReplicationGroupId"].startswith(cloud_drills.DRILL_PREFIX):
            state[group["ReplicationGroupId"]] = (group["Status"], len(group["NodeGroups"]))
    state["snapshots"] = sorted(
        item["SnapshotName"] for item in elasticache.describe_snapshots()["Snapshots"]
    )
    s3 = boto3.client("s3", region_name=PRIMARY)
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        state[name] = (
            [item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", [])],
            s3.get_bucket_replication(Bucket=name)["ReplicationConfiguration"],
        )
    return state


def drill_resources() -> list[str]:
    found = []
    for region in (PRIMARY, RECOVERY):
        instances = boto3.client("rds", region_name=region).describe_db_instances()["DBInstances"]
        found += [item["DBInstanceIdentifier"] for item in instances]
    groups = boto3.client("elasticache", region_name=PRIMARY).describe_replication_groups()[
        "ReplicationGroups"
    ]
    found += [item["ReplicationGroupId"] for item in groups if item["Status"] not in ("deleting", "deleted")]
    return sorted(item for item in found if item.startswith(cloud_drills.DRILL_PREFIX))


def calls(monkeypatch) -> list[str]:
    """The operations every guarded client makes, in order."""
    made: list[str] = []
    factory = cloud_drills.guarded_clients

    def recording():
        client = factory()

        def recorded(service, region):
            created = client(service, region)
            if not getattr(created, "_recorded", False):
                created.meta.events.register("before-call", lambda model, **_: made.append(model.name))
                created._recorded = True
            return created

        return recorded

    monkeypatch.setattr(cloud_drills, "guarded_clients", recording)
    return made


CHANGES = {
    ("sandbox", "database-failure"): ["RestoreDBInstanceToPointInTime", "DeleteDBInstance"],
    ("sandbox", "cache-failure"): ["CreateReplicationGroup", "DeleteReplicationGroup"],
    ("live", "region-failover"): ["CreateDBInstanceReadReplica", "PromoteReadReplica", "DeleteDBInstance"],
}


@pytest.mark.parametrize(("name", "scenario"), sorted(CHANGES))
def test_an_emulated_drill_restores_into_new_instances_and_leaves_production_as_it_was(
    aws, monkeypatch, name, scenario
):
    made = calls(monkeypatch)
    before = production_state()
    report = drills.drill(name, scenario, name, False, report=lambda _line: None)
    assert report.result == "pass" and report.emulated
    assert (report.rto, report.rpo) == (None, None)
    assert [item for item in made if not item.startswith(cloud_drills.READ_OPERATIONS)] == CHANGES[
        (name, scenario)
    ]
    assert production_state() == before
    assert drill_resources() == []
    written = json.loads(next(drills.reports_dir().glob("*.json")).read_text())
    assert written["emulated"] is True and written["result"] == "pass"
    assert written["data"] and all(item["match"] for item in written["data"].values())
    assert "EMULATED" in next(drills.reports_dir().glob("*.md")).read_text()


def test_a_drill_resumed_makes_nothing_twice(aws):
    environment = drills.environments.load("sandbox")
    first = cloud_drills.AwsDrill(
        environment, "database-failure", "0123456789ab", cloud_drills.guarded_clients()
    )
    assert first.restore_database().startswith("started: ")
    # the process died here; the same drill id resumes
    report = drills.drill("sandbox", "database-failure", None, False, report=lambda _line: None,
                          resume="0123456789ab")  # fmt: skip
    assert report.phases[0].detail.startswith("already started: ")
    assert drill_resources() == []


def test_a_kept_drill_keeps_its_instance_and_only_that(aws):
    before = production_state()
    report = drills.drill("sandbox", "cache-failure", None, True, report=lambda _line: None)
    assert drill_resources() == [f"drill-{report.drill_id}-redis"]
    assert production_state() == before
    kept = cloud_drills.AwsDrill(
        drills.environments.load("sandbox"), "cache-failure", report.drill_id, cloud_drills.guarded_clients()
    )
    kept.made[f"drill-{report.drill_id}-redis"] = PRIMARY
    assert kept.clean() == f"deleted drill-{report.drill_id}-redis"
    assert drill_resources() == []


def test_the_guard_refuses_any_change_to_production(aws):
    client = cloud_drills.guarded_clients()
    rds, elasticache = client("rds", PRIMARY), client("elasticache", PRIMARY)
    before = production_state()
    refusals = [
        lambda: rds.delete_db_instance(
            DBInstanceIdentifier="voiceops-live-postgresql", SkipFinalSnapshot=True
        ),
        lambda: rds.promote_read_replica(DBInstanceIdentifier="voiceops-live-postgresql-replica"),
        lambda: rds.modify_db_instance(DBInstanceIdentifier="drill-0123456789ab-postgresql", MultiAZ=False),
        lambda: elasticache.delete_replication_group(ReplicationGroupId="voiceops-live-redis"),
        lambda: client("s3", PRIMARY).delete_bucket_replication(Bucket="voiceops-live-velero"),
    ]
    for refused in refusals:
        with pytest.raises(cloud_drills.ProductionTouched, match="a drill changes only what it made"):
            refused()
    assert production_state() == before


def test_a_failed_step_deletes_what_the_drill_made(aws, monkeypatch):
    def broken(self, region):
        raise OpsError("the restored instance is not what production runs")

    monkeypatch.setattr(cloud_drills.AwsDrill, "verify_database", broken)
    with pytest.raises(OpsError, match="not what production runs"):
        drills.drill("sandbox", "database-failure", None, False, report=lambda _line: None)
    assert drill_resources() == []
    written = json.loads(next(drills.reports_dir().glob("*.json")).read_text())
    assert written["result"] == "fail" and "not what production runs" in written["problems"][0]


@pytest.mark.parametrize(
    ("name", "scenario", "reason"),
    [
        ("sandbox", "broker-failure", "losing a node means stopping a production pod"),
        ("sandbox", "cluster-failure", "no cluster reachable through kube context 'eks-voiceops-sandbox'"),
        ("staging", "cluster-failure", "no cluster reachable through kube context 'lke-voiceops'"),
        ("sandbox", "region-failover", "sandbox has no recovery region"),
    ],
)
def test_what_aws_cannot_drill_from_here_stops_with_exit_5_before_anything(aws, name, scenario, reason):
    before = production_state()
    with pytest.raises(OpsError) as stopped:
        drills.drill(name, scenario, name, False, report=lambda _line: None)
    assert stopped.value.exit_code == 5 and reason in stopped.value.message
    assert "nothing was made" in stopped.value.message
    assert production_state() == before and drill_resources() == []


@pytest.mark.parametrize(
    ("endpoint", "emulated"),
    [("http://127.0.0.1:5000", True), ("http://localhost:5000", True),
     ("https://vpce-0a1b.secretsmanager.us-west-2.vpce.amazonaws.com", False), ("", False)],
)  # fmt: skip
def test_only_an_endpoint_on_this_machine_is_an_emulator(monkeypatch, endpoint, emulated):
    """A VPC endpoint is AWS: the grace's minimum and TLS to the servers stay."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert cloud_drills.emulated() is emulated


def test_without_credentials_or_an_emulator_nothing_is_called(monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws/credentials
    with pytest.raises(OpsError) as stopped:
        drills.drill("sandbox", "database-failure", None, False)
    assert stopped.value.exit_code == 5 and "no aws credentials" in stopped.value.message


def test_a_resume_id_must_be_a_cloud_drill_id():
    with pytest.raises(OpsError, match="--resume takes the 12-hex id of a cloud drill"):
        drills.drill("sandbox", "database-failure", None, False, resume="../../etc")
    with pytest.raises(OpsError, match="--resume takes the 12-hex id of a cloud drill"):
        drills.drill("local", "database-failure", None, False, resume="0123456789ab")
    with pytest.raises(OpsError, match="--resume takes the 12-hex id of a cloud drill"):
        drills.drill("staging", "database-failure", None, False, resume="0123456789ab")


def test_the_velero_drill_restores_only_into_its_scratch_namespace():
    backup = velero_drill.backup_manifest("0123456789ab", "system", "platform")
    config, rabbitmq = velero_drill.restore_manifests("0123456789ab", "system", "platform")
    assert backup["metadata"]["name"] == rabbitmq["metadata"]["name"] == "drill-0123456789ab"
    assert config["metadata"]["name"] == "drill-0123456789ab-config"
    assert backup["spec"]["includedNamespaces"] == ["platform"]
    assert config["spec"]["includedResources"] == ["secrets", "configmaps"]  # nothing that runs
    assert rabbitmq["spec"]["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}}
    for restore in (config, rabbitmq):
        assert restore["spec"]["namespaceMapping"] == {"platform": "drill-0123456789ab-platform"}
        assert restore["spec"]["existingResourcePolicy"] == "none"
        assert restore["metadata"]["labels"] == {"voiceops.io/drill": "0123456789ab"}
    drill = velero_drill.VeleroDrill(drills.environments.load("staging"), "0123456789ab")
    assert (drill.velero_namespace, drill.namespace, drill.scratch) == (
        "system",
        "staging",
        "drill-0123456789ab-staging",
    )
    drill.scratch = "staging"  # a bug that would point the cleanup at production
    with pytest.raises(OpsError, match="refused to delete namespace staging: not a drill namespace"):
        drill.clean()
    with pytest.raises(OpsError, match="refused to create Backup velero-daily: not a drill object"):
        drill._create({**backup, "metadata": {**backup["metadata"], "name": "velero-daily"}})


def test_the_cluster_drill_rpo_is_the_newest_scheduled_backup():
    listed = [
        {"metadata": {"labels": {velero_drill.SCHEDULE_LABEL: "velero-daily"}},
         "status": {"phase": "Completed", "startTimestamp": "2026-12-04T03:00:00Z"}},
        {"metadata": {"labels": {velero_drill.SCHEDULE_LABEL: "velero-daily"}},
         "status": {"phase": "PartiallyFailed", "startTimestamp": "2026-12-05T03:00:00Z"}},
        {"metadata": {"name": "drill-0123456789ab"},
         "status": {"phase": "Completed", "startTimestamp": "2026-12-05T04:00:00Z"}},
    ]  # fmt: skip
    newest = velero_drill.newest_scheduled(listed)
    assert newest == datetime(2026, 12, 4, 3, tzinfo=UTC)
    drill = velero_drill.VeleroDrill(drills.environments.load("production"), "0123456789ab")
    drill.facts["restorable_until"] = newest
    assert drill.measured(datetime(2026, 12, 4, 9, tzinfo=UTC)) == (None, 6 * 3600.0)
