"""secrets.rotate on AWS against moto's server, for what needs no server: the messaging bundle's
first values (RabbitMQ's administrator and the boot definitions made from the store's valid
users), the refusal to rotate them once readers depend on them, and the definitions following
a rotated user."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from voiceops import (
    aws_rotation,
    credential_servers,
    environments,
    secret_bundles,
    secret_rotation,
    secret_versions,
)
from voiceops.errors import OpsError

from .conftest import free_port, reset

ROOT = Path(__file__).resolve().parents[2]


def ignore(line: str) -> None:
    """Progress lines are not what these tests check."""


@pytest.fixture
def sandbox(emulator, monkeypatch):
    """An emulated account with the sandbox stack's Secrets Manager entries, made without values
    as Terraform makes them, and one platform service's user already rotated in."""
    reset(emulator)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    environment = environments.load("sandbox")
    store = boto3.client("secretsmanager", region_name=environment.regions.primary)
    entries = {}
    for item in secret_bundles.for_environment(environment):
        if item.declared.store is not None:
            entries[item.name] = secret_bundles.entry_name(environment, item.declared.store, item.name)
            store.create_secret(Name=entries[item.name])
    service = {"rabbitmq-username": "platform-integrations", "rabbitmq-password": "first-password"}
    store.put_secret_value(SecretId=entries["integrations-credentials"], SecretString=json.dumps(service))
    return store, entries


def definitions(store, entry: str) -> dict:
    return json.loads(json.loads(secret_versions.current_string(store, entry))["load_definition.json"])


def hashes(document: dict) -> dict[str, str]:
    return {user["name"]: user["password_hash"] for user in document["users"]}


def test_the_messaging_bundle_gets_its_first_values_and_definitions_from_the_valid_users(sandbox):
    store, entries = sandbox
    secret_rotation.rotate("sandbox", "messaging", None, 0, None, report=ignore)
    admin = json.loads(secret_versions.current_string(store, entries["rabbitmq-credentials"]))
    document = definitions(store, entries["rabbitmq-definitions"])
    users = {user["name"]: user for user in document["users"]}
    assert users["user"]["tags"] == ["administrator"]  # the chart makes no administrator when it loads these
    assert credential_servers.rabbit_hash_matches(users["user"]["password_hash"], admin["rabbitmq-password"])
    assert credential_servers.rabbit_hash_matches(
        users["platform-integrations"]["password_hash"], "first-password"
    )
    assert users["platform-integrations-clone"]["password_hash"] == ""  # the pair's other user: no login
    assert {queue["name"] for queue in document["queues"]} == {
        "usage-events",
        "usage-events.dead",
        "usage-events.stream",
    }
    assert document["policies"][0]["definition"]["dead-letter-exchange"] == "usage-events.dlx"

    # readers depend on them now: the administrator and the cookie are not rotated by a value alone
    versions = store.describe_secret(SecretId=entries["rabbitmq-credentials"])["VersionIdsToStages"]
    with pytest.raises(
        OpsError, match=r"rabbitmq-credentials \(rabbitmq-password, .*\) is checked by a server"
    ):
        secret_rotation.rotate("sandbox", "messaging", None, 0, None, report=ignore)
    assert store.describe_secret(SecretId=entries["rabbitmq-credentials"])["VersionIdsToStages"] == versions
    # the definitions alone are remade from the store
    secret_rotation.rotate("sandbox", "messaging", "rabbitmq-definitions", 0, None, report=ignore)
    again = definitions(store, entries["rabbitmq-definitions"])
    valid = {"user": [admin["rabbitmq-password"]], "platform-integrations": ["first-password"]}
    assert aws_rotation.same_definitions(again, document, valid)


def test_the_definitions_follow_a_changed_user_and_are_left_alone_otherwise(sandbox):
    store, entries = sandbox
    secret_rotation.rotate("sandbox", "messaging", None, 0, None, report=ignore)
    keeper = aws_rotation.Definitions(environments.load("sandbox"), store)
    entry = entries["rabbitmq-definitions"]
    count = len(store.list_secret_version_ids(SecretId=entry)["Versions"])
    assert keeper.keep() == "rabbitmq-definitions: current"
    assert len(store.list_secret_version_ids(SecretId=entry)["Versions"]) == count  # no needless rollout

    rotated = {"rabbitmq-username": "platform-integrations-clone", "rabbitmq-password": "second-password"}
    store.put_secret_value(SecretId=entries["integrations-credentials"], SecretString=json.dumps(rotated))
    assert keeper.keep() == "rabbitmq-definitions: rewritten with 3 user(s)"
    users = hashes(definitions(store, entry))
    assert credential_servers.rabbit_hash_matches(users["platform-integrations-clone"], "second-password")
    assert users["platform-integrations"] == ""  # retired with the version that held it
    assert keeper.keep() == "rabbitmq-definitions: current"


def test_without_the_administrator_the_definitions_are_not_made(sandbox):
    store, entries = sandbox
    with pytest.raises(OpsError, match="rabbitmq-definitions needs a value of rabbitmq-credentials first"):
        secret_rotation.rotate("sandbox", "messaging", "rabbitmq-definitions", 0, None, report=ignore)
    assert (
        secret_versions.token_in_flight(store, [entries["rabbitmq-definitions"]]) is not None
    )  # re-run resumes
    keeper = aws_rotation.Definitions(environments.load("sandbox"), store)
    assert keeper.document() is None


def test_an_entry_the_stack_did_not_make_stops_the_run_with_exit_5(sandbox):
    store, entries = sandbox
    store.delete_secret(SecretId=entries["grafana-admin"], ForceDeleteWithoutRecovery=True)
    with pytest.raises(OpsError, match="is not in Secrets Manager") as stopped:
        secret_rotation.rotate("sandbox", "observability", "grafana-admin", 0, None, report=ignore)
    assert stopped.value.exit_code == 5


def test_a_secret_is_refused_only_once_a_reader_depends_on_its_value():
    sandbox_env = environments.load("sandbox")
    messaging = secret_rotation.targets(sandbox_env, "messaging", None)
    assert aws_rotation.unsafe(messaging, lambda entry: False) == []  # first values: nothing reads them yet
    (refused,) = aws_rotation.unsafe(messaging, lambda entry: True)
    assert refused.startswith("rabbitmq-credentials")  # the definitions follow the store either way


def test_servers_the_stack_did_not_make_stop_the_run_with_exit_5_before_a_change(sandbox):
    store, entries = sandbox
    with pytest.raises(OpsError, match="RDS instance voiceops-sandbox-postgresql not found") as stopped:
        secret_rotation.rotate("sandbox", "platform", "analytics-credentials", 0, None, report=ignore)
    assert stopped.value.exit_code == 5
    assert secret_versions.token_in_flight(store, [entries["analytics-credentials"]]) is None  # nothing begun
    region = environments.load("sandbox").regions.primary
    boto3.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier="voiceops-sandbox-postgresql", Engine="postgres", DBInstanceClass="db.t4g.micro",
        MasterUsername="platform_admin", ManageMasterUserPassword=True,
    )  # fmt: skip
    boto3.client("elasticache", region_name=region).create_replication_group(
        ReplicationGroupId="voiceops-sandbox-redis", ReplicationGroupDescription="no RBAC", Engine="redis",
    )  # fmt: skip
    with pytest.raises(OpsError, match="voiceops-sandbox-redis: no RBAC user group") as stopped:
        secret_rotation.rotate("sandbox", "platform", "voice-credentials", 0, None, report=ignore)
    assert stopped.value.exit_code == 5
    assert secret_versions.token_in_flight(store, [entries["voice-credentials"]]) is None  # nothing begun


def labels_and_tags(store, entry: str) -> tuple[list[list[str]], dict[str, str]]:
    described = store.describe_secret(SecretId=entry)
    labels = sorted(sorted(stages) for stages in described["VersionIdsToStages"].values())
    return labels, {tag["Key"]: tag["Value"] for tag in described.get("Tags") or []}


@pytest.mark.parametrize("step", ["create", "set", "promote"])
def test_a_first_value_rotation_killed_after_a_step_is_completed_by_the_next_run(sandbox, step):
    """An entry's first version is AWSCURRENT at once: it still goes through set, test and
    promote, and a run killed on the way is resumed, not refused as if readers depended on it."""
    store, entries = sandbox
    killed = subprocess.run(
        [sys.executable, "-m", "invoke", "secrets.rotate", "--env", "sandbox", "--bundle", "messaging",
         "--grace", "0"],
        cwd=ROOT, env={**os.environ, secret_rotation.CRASH_VARIABLE: step}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    record, _ = secret_rotation.rotate("sandbox", "messaging", None, 0, None, report=ignore)
    assert record.result == "succeeded"
    for name in ("rabbitmq-credentials", "rabbitmq-definitions"):
        labels, tags = labels_and_tags(store, entries[name])
        assert labels == [["AWSCURRENT"]], f"{name}: {labels}"  # promoted: no AWSPENDING left
        assert secret_versions.ROTATED_TAG in tags and secret_versions.ROTATION_TAG not in tags


def test_aws_not_answering_is_one_line_and_exit_5(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(
        OpsError, match=r"^sandbox: AWS: Could not connect .*; nothing was changed$"
    ) as stopped:
        secret_rotation.rotate("sandbox", "platform", "analytics-credentials", 0, None, report=ignore)
    assert stopped.value.exit_code == 5


def test_a_server_out_of_reach_is_an_error_not_a_refused_login():
    closed = ("127.0.0.1", free_port())
    servers = credential_servers.Servers({
        "postgres": credential_servers.PostgresServer(closed, ("admin", "x"), "platform"),
        "redis": credential_servers.RedisAclServer(closed, ("admin", "x")),
        "rabbitmq": credential_servers.RabbitServer(
            ("127.0.0.1", 5672), f"http://127.0.0.1:{closed[1]}", ("admin", "x"), "platform"
        ),
    })  # fmt: skip
    for kind in ("postgres", "redis"):
        with pytest.raises(OpsError, match=r"127\.0\.0\.1"):
            servers.accepted(credential_servers.Account(kind, "user", "password"))
    # RabbitMQ's management API must answer too: users are set through it
    assert f"rabbitmq at 127.0.0.1:{closed[1]}" in servers.unreachable(["rabbitmq"])
    with pytest.raises(OpsError, match="management API"):
        servers.by_kind["rabbitmq"].converge({"user": ["password"]})
