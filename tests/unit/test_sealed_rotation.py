"""secrets.rotate on Linode, whose store is git: a checkout with a real remote, the cluster's
sealing key pair in moto's S3 standing in for the Linode bucket, and the rotation's steps
writing sealed manifests, waiting for them to reach the remote's main, and resuming from the
state committed beside them."""

import base64
import datetime
import json
import subprocess

import pytest
import yaml

from voiceops import (
    credential_servers,
    environments,
    sealed_rotation,
    sealing,
    sealing_keys,
    secret_audit,
    secret_bundles,
    secret_rotation,
    secret_versions,
    state_backend,
)
from voiceops.errors import OpsError

from .conftest import reset

ENVIRONMENT = "staging"  # a namespace of production's cluster, which holds the sealing key


def ignore(line: str) -> None:
    """Progress lines are not what these tests check."""


def git(where, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(emulator, tmp_path, monkeypatch):
    """A clone of a remote, with the cluster's key pair made into an emulated bucket; the
    sealed manifests and the resolved environment are written there, not in this repository."""
    reset(emulator)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(tmp_path, "clone", "--quiet", str(remote), str(work))
    for key, value in (("user.name", "rotation tests"), ("user.email", "rotation@example.invalid")):
        git(work, "config", key, value)
    (work / "README.md").write_text("the platform\n")
    git(work, "add", "README.md")
    git(work, "commit", "--quiet", "-m", "start")
    git(work, "push", "--quiet", "origin", "main")
    monkeypatch.setattr(secret_bundles, "SEALED_DIR", work / "secrets" / "sealed")
    monkeypatch.setattr(secret_bundles, "SEALING_DIR", work / "secrets" / "sealing")
    target = sealing_keys.target(ENVIRONMENT)
    state_backend.s3_client(target.owner, target.owner.regions.primary).create_bucket(Bucket=target.bucket)
    sealing_keys.ensure(ENVIRONMENT, bits=2048)
    return work


def deliver(work, message: str = "rotate") -> None:
    git(work, "add", "secrets", "environments")
    git(work, "commit", "--quiet", "-m", message)
    git(work, "push", "--quiet", "origin", "main")


def rotate(bundle: str, secret: str | None = None, grace: float | None = 0):
    return secret_rotation.rotate(ENVIRONMENT, bundle, secret, grace, ENVIRONMENT, report=ignore)


def manifest(work, namespace: str, name: str) -> dict:
    return yaml.safe_load(
        (work / "secrets" / "sealed" / ENVIRONMENT / f"{namespace}.{name}.yaml").read_text()
    )


def test_a_rotation_waits_for_main_and_then_completes_from_the_committed_state(checkout):
    work = checkout
    store = sealed_rotation.store(environments.load(ENVIRONMENT))
    namespace = store.read["livekit-api-keys"][0].namespace
    with pytest.raises(OpsError, match="commit those files") as paused:
        rotate("livekit")
    assert paused.value.exit_code == 5
    # promoted: the manifests hold the new version, sealed for the cluster, and the resolved
    # environment carries them; the rotation is still in flight
    document = manifest(work, namespace, "livekit-api-keys")
    version = document["metadata"]["annotations"][secret_bundles.SEALED_VERSION]
    private_key = sealing_keys.key_manifest(ENVIRONMENT)["data"]["tls.key"]
    keys = sealing.unseal(
        base64.b64decode(private_key), document["spec"]["encryptedData"]["keys.yaml"],
        sealing.label(namespace, "livekit-api-keys"),
    ).decode()  # fmt: skip
    assert json.loads(store.get_secret_value(SecretId="livekit-api-keys")["SecretString"]) == {
        "keys.yaml": keys
    }
    resolved = json.loads((work / "environments" / "resolved" / f"{ENVIRONMENT}.json").read_text())
    sealed = [entry for entry in resolved["secrets"] if entry["name"] == "livekit-api-keys"]
    assert sealed and sealed[0]["sealed"] == document["spec"]["encryptedData"]
    assert secret_versions.ROTATION_TAG in secret_versions.tags(store, "livekit-api-keys")

    git(work, "add", "secrets", "environments")
    git(work, "commit", "--quiet", "-m", "rotate livekit")
    with pytest.raises(OpsError, match="not on origin/main"):
        rotate("livekit")
    git(work, "push", "--quiet", "origin", "main")
    record, _ = rotate("livekit")
    assert record.result == "succeeded"
    tags = secret_versions.tags(store, "livekit-api-keys")
    assert secret_versions.ROTATION_TAG not in tags and tags[sealed_rotation.DELIVERED_TAG]
    assert (
        manifest(work, namespace, "livekit-api-keys")["metadata"]["annotations"][
            secret_bundles.SEALED_VERSION
        ]
        == version
    )
    assert git(work, "status", "--porcelain", "secrets/sealed/staging/rotation")  # the state to commit
    deliver(work)

    # a second rotation keeps the previous key pair beside the new one (LiveKit accepts both)
    before = yaml.safe_load(keys)
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)
    assert rotate("livekit")[0].result == "succeeded"
    after = yaml.safe_load(
        json.loads(store.get_secret_value(SecretId="livekit-api-keys")["SecretString"])["keys.yaml"]
    )
    assert set(before) < set(after)
    rows = {row.secret: row for row in secret_audit.audit(
        store.environment, secret_audit.sealed_reader(store.environment), datetime.date.today()
    )}  # fmt: skip
    assert rows["livekit-api-keys"].status == "ok"


def test_what_secrets_rotate_cannot_change_on_linode_is_refused_before_anything(checkout, monkeypatch):
    work = checkout
    with pytest.raises(OpsError, match="holds postgres, rabbitmq, redis users"):
        rotate("platform", "api-rest-credentials")
    with pytest.raises(OpsError, match="issued by Cloudflare"):
        rotate("edge")
    assert not (work / "secrets" / "sealed").exists()
    # a value the server checks gets its first value, and is refused once readers depend on it
    with pytest.raises(OpsError, match="commit those files"):
        rotate("redis")
    deliver(work)
    assert rotate("redis")[0].result == "succeeded"
    deliver(work)
    with pytest.raises(
        OpsError,
        match=r"redis-auth .* is checked by a server whose credential .* does not change on linode",
    ):
        rotate("redis")
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # a real bucket: the readers need Argo CD's sync and a rollout
    with pytest.raises(OpsError, match="shorter than Argo CD's sync plus a rollout"):
        rotate("livekit", grace=60)


def test_the_messaging_bundle_gets_its_first_values_and_definitions(checkout):
    work = checkout
    with pytest.raises(OpsError, match="commit those files"):
        rotate("messaging")
    deliver(work)
    assert rotate("messaging")[0].result == "succeeded"
    store = sealed_rotation.store(environments.load(ENVIRONMENT))
    admin = json.loads(store.get_secret_value(SecretId="rabbitmq-credentials")["SecretString"])
    definitions = json.loads(
        json.loads(store.get_secret_value(SecretId="rabbitmq-definitions")["SecretString"])[
            "load_definition.json"
        ]
    )
    assert [user["name"] for user in definitions["users"]] == ["user"]
    assert credential_servers.rabbit_hash_matches(
        definitions["users"][0]["password_hash"], admin["rabbitmq-password"]
    )


def test_a_run_that_died_before_the_manifests_were_written_is_repaired_by_the_next(checkout):
    work = checkout
    store = sealed_rotation.store(environments.load(ENVIRONMENT))
    namespace = store.read["livekit-api-keys"][0].namespace
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)
    assert rotate("livekit")[0].result == "succeeded"
    deliver(work)
    first = manifest(work, namespace, "livekit-api-keys")["metadata"]["annotations"][
        secret_bundles.SEALED_VERSION
    ]
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    second = manifest(work, namespace, "livekit-api-keys")["metadata"]["annotations"][
        secret_bundles.SEALED_VERSION
    ]
    # as if the run died between the versions and the manifests: they still hold the first
    git(
        work,
        "checkout",
        "HEAD",
        "--",
        "secrets/sealed/staging/" + f"{namespace}.livekit-api-keys.yaml",
        "environments",
    )
    assert store.describe_secret(SecretId="livekit-api-keys")["VersionIdsToStages"][second] == ["AWSCURRENT"]
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    assert (
        manifest(work, namespace, "livekit-api-keys")["metadata"]["annotations"][
            secret_bundles.SEALED_VERSION
        ]
        == second
        != first
    )
    deliver(work)
    assert rotate("livekit")[0].result == "succeeded"


def test_a_value_sealed_by_hand_since_is_the_current_one(checkout):
    work = checkout
    store = sealed_rotation.store(environments.load(ENVIRONMENT))
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)
    assert rotate("livekit")[0].result == "succeeded"
    certificate = secret_bundles.sealing_certificate(store.environment).read_bytes()
    secret_bundles.seal_values(
        store.environment, "livekit", "livekit-api-keys", {"keys.yaml": b"by-hand: secret\n"}, certificate
    )
    described = store.describe_secret(SecretId="livekit-api-keys")
    assert list(described["VersionIdsToStages"].values()) == [["AWSCURRENT"]]
    assert json.loads(store.get_secret_value(SecretId="livekit-api-keys")["SecretString"]) == {
        "keys.yaml": "by-hand: secret\n"
    }


@pytest.mark.parametrize("step", ["plan", "create", "set", "promote"])
def test_a_run_killed_after_a_step_is_completed_by_the_next(checkout, monkeypatch, step):
    """The process dies right after the step (its state is what it wrote to the checkout)."""
    work = checkout

    class Killed(BaseException):
        pass

    def die(pid, signal_number):
        raise Killed

    monkeypatch.setenv(secret_rotation.CRASH_VARIABLE, step)
    monkeypatch.setattr(secret_rotation.os, "kill", die)
    with pytest.raises(Killed):
        rotate("livekit")
    monkeypatch.delenv(secret_rotation.CRASH_VARIABLE)
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)
    assert rotate("livekit")[0].result == "succeeded"
    store = sealed_rotation.store(environments.load(ENVIRONMENT))
    assert list(store.describe_secret(SecretId="livekit-api-keys")["VersionIdsToStages"].values()) == [
        ["AWSCURRENT"]
    ]
