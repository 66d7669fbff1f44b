"""secrets.rotate on Linode, whose store is git: a checkout with a real remote, the cluster's
sealing key pair in moto's S3 standing in for the Linode bucket, and the rotation's steps
writing sealed manifests, waiting for them to reach the remote's main, and resuming from the
state committed beside them."""

import base64
import datetime
import json

import pytest
import yaml

from voiceops import (
    credential_servers,
    environments,
    linode_servers,
    scan,
    sealed_rotation,
    sealing,
    sealing_keys,
    secret_audit,
    secret_bundles,
    secret_rotation,
    secret_versions,
)
from voiceops.errors import OpsError

from .conftest import reset
from .sealed_checkout import deliver, git, make_checkout

ENVIRONMENT = "staging"  # a namespace of production's cluster, which holds the sealing key


def ignore(line: str) -> None:
    """Progress lines are not what these tests check."""


@pytest.fixture
def checkout(emulator, tmp_path, monkeypatch):
    """A clone of a remote, with the cluster's key pair made into an emulated bucket."""
    reset(emulator)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    return make_checkout(tmp_path, monkeypatch, ENVIRONMENT)


def rotate(bundle: str, secret: str | None = None, grace: float | None = 0):
    return secret_rotation.rotate(ENVIRONMENT, bundle, secret, grace, ENVIRONMENT, report=ignore)


def manifest(work, namespace: str, name: str) -> dict:
    return yaml.safe_load(
        (work / "secrets" / "sealed" / ENVIRONMENT / f"{namespace}.{name}.yaml").read_text()
    )


def current(store, name: str) -> dict[str, str]:
    return json.loads(store.get_secret_value(SecretId=name)["SecretString"])


def private_key() -> bytes:
    return base64.b64decode(sealing_keys.key_manifest(ENVIRONMENT)["data"]["tls.key"])


def rotated_once(work, bundle: str = "livekit") -> None:
    """A rotation that pauses for main, is delivered, and completes; its state committed."""
    with pytest.raises(OpsError, match="commit those files"):
        rotate(bundle)
    deliver(work)
    assert rotate(bundle)[0].result == "succeeded"
    deliver(work)


@pytest.fixture
def livekit(checkout):
    """The store and the namespace LiveKit's keys are read in."""
    store = sealed_rotation.store(environments.load(ENVIRONMENT))
    return store, store.read["livekit-api-keys"][0].namespace


def test_a_rotation_waits_for_main_and_then_completes_from_the_committed_state(checkout, livekit):
    work, (store, namespace) = checkout, livekit
    with pytest.raises(OpsError, match="commit those files") as paused:
        rotate("livekit")
    assert paused.value.exit_code == 5
    # promoted: the manifests hold the new version, sealed for the cluster, and the resolved
    # environment carries them; the rotation is still in flight
    document = manifest(work, namespace, "livekit-api-keys")
    keys = sealing.unseal(
        private_key(),
        document["spec"]["encryptedData"]["keys.yaml"],
        sealing.label(namespace, "livekit-api-keys"),
    ).decode()
    assert current(store, "livekit-api-keys") == {"keys.yaml": keys}
    resolved = json.loads((work / "environments" / "resolved" / f"{ENVIRONMENT}.json").read_text())
    sealed = [entry for entry in resolved["secrets"] if entry["name"] == "livekit-api-keys"]
    assert sealed and sealed[0]["sealed"] == document["spec"]["encryptedData"]
    # dated an hour back, as if the push came an hour after the promotion
    promoted = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).isoformat(
        timespec="seconds"
    )
    store.tag_resource(
        SecretId="livekit-api-keys", Tags=[{"Key": secret_versions.PROMOTED_TAG, "Value": promoted}]
    )

    git(work, "add", "secrets", "environments")
    git(work, "commit", "--quiet", "-m", "rotate livekit")
    with pytest.raises(OpsError, match="commit those files and bring them to main"):
        rotate("livekit")  # committed, not pushed
    git(work, "push", "--quiet", "origin", "main")
    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    record, _ = rotate("livekit")
    assert record.result == "succeeded"
    tags = secret_versions.tags(store, "livekit-api-keys")
    assert secret_versions.ROTATION_TAG not in tags and tags[sealed_rotation.DELIVERED_TAG]
    # the grace started when the values were found on main, not when they were sealed
    assert datetime.datetime.fromisoformat(tags[secret_versions.PROMOTED_TAG]) >= started
    assert datetime.datetime.fromisoformat(promoted) < started
    assert git(work, "status", "--porcelain", "secrets/sealed/staging/rotation")  # the state to commit
    deliver(work)

    # a second rotation keeps the previous key pair beside the new one (LiveKit accepts both),
    # and the audit dates the manifests by it
    first_sealed = "2020-01-01T00:00:00+00:00"  # as if the first rotation were years old
    path = work / "secrets" / "sealed" / ENVIRONMENT / f"{namespace}.livekit-api-keys.yaml"
    aged = manifest(work, namespace, "livekit-api-keys")
    aged["metadata"]["annotations"][secret_bundles.SEALED_AT] = first_sealed
    path.write_text(yaml.safe_dump(aged, sort_keys=False))
    store.tag_resource(
        SecretId="livekit-api-keys", Tags=[{"Key": secret_versions.ROTATED_TAG, "Value": first_sealed}]
    )
    deliver(work)
    rotated_once(work)
    after = yaml.safe_load(current(store, "livekit-api-keys")["keys.yaml"])
    assert set(yaml.safe_load(keys)) < set(after)
    assert (
        manifest(work, namespace, "livekit-api-keys")["metadata"]["annotations"][secret_bundles.SEALED_AT]
        > first_sealed
    )
    rows = {row.secret: row for row in secret_audit.audit(
        store.environment, secret_audit.sealed_reader(store.environment), datetime.date.today()
    )}  # fmt: skip
    assert rows["livekit-api-keys"].status == "ok"
    assert rows["livekit-api-keys"].rotated > datetime.datetime.fromisoformat(first_sealed)


def test_values_are_delivered_only_with_the_resolved_environment_and_as_main_has_them(checkout):
    work = checkout
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    git(work, "add", "secrets")  # the manifests without the resolved environment that renders them
    git(work, "commit", "--quiet", "-m", "rotate livekit, half")
    git(work, "push", "--quiet", "origin", "main")
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)
    git(work, "update-ref", "refs/remotes/origin/main", "HEAD~1")  # this checkout's copy is behind
    assert rotate("livekit")[0].result == "succeeded"  # it fetched main


def test_values_brought_to_main_by_a_squashed_pull_request_are_delivered(checkout):
    work = checkout
    git(work, "switch", "--quiet", "--create", "rotation")
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    git(work, "add", "secrets", "environments")
    git(work, "commit", "--quiet", "-m", "rotate livekit")
    git(work, "switch", "--quiet", "main")
    git(work, "merge", "--quiet", "--squash", "rotation")
    git(work, "commit", "--quiet", "-m", "Rotate livekit (#1)")
    git(work, "push", "--quiet", "origin", "main")
    git(work, "switch", "--quiet", "rotation")  # the run's checkout is still the branch
    assert rotate("livekit")[0].result == "succeeded"


def test_what_secrets_rotate_cannot_change_on_linode_is_refused_before_anything(checkout, monkeypatch):
    work = checkout
    monkeypatch.delenv("LINODE_TOKEN", raising=False)  # the servers' users are set through the Linode API
    with pytest.raises(OpsError, match="no LINODE_TOKEN, so the managed databases cannot be found"):
        rotate("platform", "api-rest-credentials")
    with pytest.raises(OpsError, match="issued by Cloudflare"):
        rotate("edge")
    assert not (work / "secrets" / "sealed").exists()
    # a value the server checks gets its first value, and is refused once readers depend on it
    rotated_once(work, "redis")
    with pytest.raises(OpsError, match=r"redis-auth .* is checked by a server whose credential .* on linode"):
        rotate("redis")
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # a real bucket: the readers need Argo CD's sync and a rollout
    with pytest.raises(OpsError, match="shorter than Argo CD's sync plus a rollout"):
        rotate("livekit", grace=60)


def test_a_value_sealed_in_part_by_hand_is_not_replaced_by_a_first_value(checkout):
    environment = environments.load(ENVIRONMENT)
    certificate = secret_bundles.sealing_certificate(environment).read_bytes()
    secret_bundles.seal_values(
        environment, "redis", "redis-auth", {"password": b"sealed-by-hand"}, certificate
    )
    with pytest.raises(OpsError, match=r"redis-auth .* is checked by a server"):
        rotate("redis")


def test_the_messaging_bundle_gets_its_first_values_and_definitions(checkout):
    rotated_once(checkout, "messaging")
    store = sealed_rotation.store(environments.load(ENVIRONMENT))
    admin = current(store, "rabbitmq-credentials")
    definitions = json.loads(current(store, "rabbitmq-definitions")["load_definition.json"])
    assert [user["name"] for user in definitions["users"]] == ["user"]
    # what the rotation commits passes the gate's check for plaintext secrets
    assert scan.plaintext_secrets(checkout) == []
    assert credential_servers.rabbit_hash_matches(
        definitions["users"][0]["password_hash"], admin["rabbitmq-password"]
    )


def test_the_store_moves_stages_as_secrets_manager_does(checkout, livekit):
    store, _ = livekit
    first = store.put_secret_value(SecretId="livekit-api-keys", SecretString='{"keys.yaml": "a: b"}')[
        "VersionId"
    ]
    second = store.put_secret_value(SecretId="livekit-api-keys", SecretString='{"keys.yaml": "a: b"}')[
        "VersionId"
    ]  # the same value again is a new version, as in Secrets Manager
    assert store.describe_secret(SecretId="livekit-api-keys")["VersionIdsToStages"] == {
        first: ["AWSPREVIOUS"], second: ["AWSCURRENT"],
    }  # fmt: skip
    pending = store.put_secret_value(
        SecretId="livekit-api-keys", SecretString='{"keys.yaml": "e: f"}', ClientRequestToken="t1",
        VersionStages=["AWSPENDING"],
    )["VersionId"]  # fmt: skip
    assert current(store, "livekit-api-keys") == {"keys.yaml": "a: b"}  # a pending value is not published
    assert store.put_secret_value(
        SecretId="livekit-api-keys", SecretString='{"keys.yaml": "e: f"}', ClientRequestToken="t1",
        VersionStages=["AWSPENDING"],
    )["VersionId"] == pending  # fmt: skip
    with pytest.raises(OpsError, match="exists with another value"):
        store.put_secret_value(
            SecretId="livekit-api-keys", SecretString='{"keys.yaml": "x: y"}', ClientRequestToken="t1",
            VersionStages=["AWSPENDING"],
        )  # fmt: skip
    # each version is sealed with a label no SealedSecret has: namespaces hold no colon
    assert b":" in store._label("livekit-api-keys").split(b"/")[0]


def test_a_run_that_died_before_the_manifests_and_resolved_file_were_written_is_repaired(checkout, livekit):
    work, (store, namespace) = checkout, livekit
    rotated_once(work)
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    second = current(store, "livekit-api-keys")
    # as if the run died after the versions file: the manifests (or only the resolved file)
    # still hold the first value
    for reverted in (f"secrets/sealed/staging/{namespace}.livekit-api-keys.yaml", "environments"):
        git(work, "checkout", "HEAD", "--", reverted)
        assert current(store, "livekit-api-keys") == second  # the rotation in flight wins
        with pytest.raises(OpsError, match="commit those files"):
            rotate("livekit")
        sealed = manifest(work, namespace, "livekit-api-keys")["spec"]["encryptedData"]
        resolved = json.loads((work / "environments" / "resolved" / f"{ENVIRONMENT}.json").read_text())
        assert [e["sealed"] for e in resolved["secrets"] if e["name"] == "livekit-api-keys"] == [sealed]
        assert (
            sealing.unseal(
                private_key(), sealed["keys.yaml"], sealing.label(namespace, "livekit-api-keys")
            ).decode()
            == second["keys.yaml"]
        )
    deliver(work)
    assert rotate("livekit")[0].result == "succeeded"


def test_a_value_sealed_edited_or_rolled_back_by_hand_since_is_the_current_one(checkout, livekit):
    work, (store, namespace) = checkout, livekit
    rotated_once(work)
    first = current(store, "livekit-api-keys")
    rotated_once(work)
    path = work / "secrets" / "sealed" / ENVIRONMENT / f"{namespace}.livekit-api-keys.yaml"
    # rolled back: the manifest reverted to the previous value, no rotation in flight
    git(work, "checkout", "HEAD~2", "--", str(path))
    assert current(store, "livekit-api-keys") == first
    store.settle(["livekit-api-keys"])
    assert current(store, "livekit-api-keys") == first  # not resealed with the rotation's value
    # edited in place, the rotation's annotations kept (kubeseal --merge-into)
    document = yaml.safe_load(path.read_text())
    certificate = secret_bundles.sealing_certificate(store.environment).read_bytes()
    document["spec"]["encryptedData"]["keys.yaml"] = sealing.seal(
        certificate, b"edited: secret\n", sealing.label(namespace, "livekit-api-keys")
    )
    path.write_text(yaml.safe_dump(document))
    assert current(store, "livekit-api-keys") == {"keys.yaml": "edited: secret\n"}
    # sealed anew
    secret_bundles.seal_values(
        store.environment, "livekit", "livekit-api-keys", {"keys.yaml": b"by-hand: secret\n"}, certificate
    )
    assert list(store.describe_secret(SecretId="livekit-api-keys")["VersionIdsToStages"].values()) == [
        ["AWSCURRENT"]
    ]
    assert current(store, "livekit-api-keys") == {"keys.yaml": "by-hand: secret\n"}


def test_a_run_killed_after_any_step_is_completed_by_the_next(checkout, monkeypatch):
    """The process dies right after a step (its state is what it wrote to the checkout)."""
    work = checkout
    store = sealed_rotation.store(environments.load(ENVIRONMENT))

    class Killed(BaseException):
        pass

    def die(pid, signal_number):
        raise Killed

    monkeypatch.setattr(secret_rotation.os, "kill", die)
    monkeypatch.setenv(secret_rotation.CRASH_VARIABLE, "set")
    with pytest.raises(Killed):
        rotate("livekit")
    # a first value is set and tested before it reaches a manifest
    assert not store.any_sealed("livekit-api-keys")
    assert list(store.describe_secret(SecretId="livekit-api-keys")["VersionIdsToStages"].values()) == [
        ["AWSPENDING", "AWSCURRENT"]
    ]
    for step in ("plan", "create", "set", "promote"):
        monkeypatch.setenv(secret_rotation.CRASH_VARIABLE, step)
        with pytest.raises(Killed):
            rotate("livekit")
        monkeypatch.delenv(secret_rotation.CRASH_VARIABLE)
        rotated_once(work)
        described = store.describe_secret(SecretId="livekit-api-keys")
        assert secret_versions.ROTATION_TAG not in {tag["Key"] for tag in described["Tags"]}, step
        assert sorted(map(sorted, described["VersionIdsToStages"].values())) in (
            [["AWSCURRENT"]],
            [["AWSCURRENT"], ["AWSPREVIOUS"]],
        ), step


def held_values(store) -> list[str]:
    """LiveKit's keys as each namespace's manifest holds them."""
    read = store.read["livekit-api-keys"]
    return [
        sealing.unseal(
            private_key(), yaml.safe_load(path.read_text())["spec"]["encryptedData"]["keys.yaml"],
            sealing.label(item.namespace, "livekit-api-keys"),
        ).decode()
        for path, item in zip(store.manifests("livekit-api-keys"), read, strict=True)
    ]  # fmt: skip


@pytest.fixture
def bundles(tmp_path, monkeypatch):
    """A copy of the bundles to change: LiveKit's keys read in two namespaces (its own and the
    platform's) on top of what is declared."""
    directory = tmp_path / "bundles"
    directory.mkdir()
    for path in secret_bundles.BUNDLES_DIR.glob("*.yaml"):
        (directory / path.name).write_text(path.read_text())
    livekit = yaml.safe_load((directory / "livekit.yaml").read_text())
    livekit["secrets"]["livekit-api-keys"]["consumers"].append(
        {"release": "platform", "workloads": ["platform-api-rest"]}
    )
    (directory / "livekit.yaml").write_text(yaml.safe_dump(livekit, sort_keys=False))
    monkeypatch.setattr(secret_bundles, "BUNDLES_DIR", directory)
    secret_bundles.load_all.cache_clear()
    yield directory
    secret_bundles.load_all.cache_clear()


def test_every_namespace_gets_the_value_and_one_sealed_apart_is_refused(checkout, bundles):
    work = checkout
    store = sealed_rotation.store(environments.load(ENVIRONMENT))
    paths = store.manifests("livekit-api-keys")
    assert len(paths) == 2
    rotated_once(work)
    assert held_values(store) == [current(store, "livekit-api-keys")["keys.yaml"]] * 2
    # a run that died while resealing: one namespace still holds the previous value
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    git(work, "checkout", "HEAD", "--", str(paths[1]))
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    assert held_values(store) == [current(store, "livekit-api-keys")["keys.yaml"]] * 2
    deliver(work)
    assert rotate("livekit")[0].result == "succeeded"
    deliver(work)
    # one namespace sealed apart by hand: which value is meant is not guessed
    document = yaml.safe_load(paths[1].read_text())
    certificate = secret_bundles.sealing_certificate(store.environment).read_bytes()
    document["spec"]["encryptedData"]["keys.yaml"] = sealing.seal(
        certificate,
        b"apart: secret\n",
        sealing.label(store.read["livekit-api-keys"][1].namespace, "livekit-api-keys"),
    )
    paths[1].write_text(yaml.safe_dump(document))
    with pytest.raises(OpsError, match="hold different values"):
        rotate("livekit")


def test_a_key_declared_while_a_rotation_waits_for_main_does_not_hold_it_up(checkout, bundles):
    work = checkout
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)
    livekit = yaml.safe_load((bundles / "livekit.yaml").read_text())
    livekit["secrets"]["livekit-api-keys"]["keys"].append("webhook-key")
    (bundles / "livekit.yaml").write_text(yaml.safe_dump(livekit, sort_keys=False))
    secret_bundles.load_all.cache_clear()
    assert rotate("livekit")[0].result == "succeeded"


def test_a_rollback_on_main_after_the_values_reached_it_is_kept(checkout, livekit, monkeypatch):
    work, (store, namespace) = checkout, livekit
    rotated_once(work)
    first = current(store, "livekit-api-keys")
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)

    class Killed(BaseException):
        pass

    def die(pid, signal_number):
        raise Killed

    monkeypatch.setattr(secret_rotation.os, "kill", die)
    monkeypatch.setenv(secret_rotation.CRASH_VARIABLE, "grace")  # delivered, not yet retired
    with pytest.raises(Killed):
        rotate("livekit")
    path = work / "secrets" / "sealed" / ENVIRONMENT / f"{namespace}.livekit-api-keys.yaml"
    git(work, "checkout", "HEAD~2", "--", str(path))  # the operator puts the first value back
    assert current(store, "livekit-api-keys") == first
    store.settle(["livekit-api-keys"])
    assert current(store, "livekit-api-keys") == first


def fresh_checkout(work) -> None:
    """What the workflow's next runner has: main as the remote has it, nothing else."""
    git(work, "fetch", "--quiet", "origin")
    git(work, "reset", "--quiet", "--hard", "origin/main")
    git(work, "clean", "--quiet", "-fdx")


def test_a_rollback_on_main_before_the_next_run_saw_the_values_there_is_kept(checkout, livekit):
    """The run that finds the values on main tags them delivered; a rollback may come first,
    and is no half-resealed state to repair: the values had reached the readers."""
    work, (store, namespace) = checkout, livekit
    rotated_once(work)
    first = current(store, "livekit-api-keys")
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    second = current(store, "livekit-api-keys")
    deliver(work, "rotate livekit (the pull request merged)")
    manifest_path = f"secrets/sealed/{ENVIRONMENT}/{namespace}.livekit-api-keys.yaml"
    git(work, "checkout", "HEAD~1", "--", manifest_path, f"environments/resolved/{ENVIRONMENT}.json")
    git(work, "commit", "--quiet", "-m", "roll livekit back")
    git(work, "push", "--quiet", "origin", "main")
    fresh_checkout(work)
    git(work, "fetch", "--quiet", "--depth=1", "origin", "main")  # a shallow checkout cannot tell
    with pytest.raises(OpsError, match="this checkout is shallow"):
        current(store, "livekit-api-keys")
    git(work, "fetch", "--quiet", "--unshallow", "origin")
    assert current(store, "livekit-api-keys") == first
    with pytest.raises(OpsError, match="commit those files"):  # a new rotation, from the rolled-back value
        rotate("livekit")
    assert current(store, "livekit-api-keys") not in (first, second)


def test_values_taken_off_main_since_the_last_fetch_are_not_delivered(checkout, livekit, tmp_path):
    work, (store, _) = checkout, livekit
    rotated_once(work)
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)  # this checkout's copy of main has the files
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(tmp_path / "remote.git"), str(other))
    git(other, "reset", "--quiet", "--hard", "HEAD~1")
    git(other, "push", "--quiet", "--force", "origin", "main")  # someone takes them off main
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    assert secret_versions.ROTATION_TAG in secret_versions.tags(store, "livekit-api-keys")


def test_only_the_repository_argo_cd_syncs_delivers(checkout, livekit, monkeypatch):
    work, (store, _) = checkout, livekit
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit")
    deliver(work)
    monkeypatch.setattr(sealed_rotation.cloud_drills, "emulated", lambda: False)
    with pytest.raises(OpsError, match=r"origin is .*remote\.git, not https://github\.com/voiceops/platform"):
        sealed_rotation.Delivery(store, ["livekit-api-keys"]).check()
    for url in ("git@github.com:voiceops/platform.git", "https://github.com/voiceops/platform",
                "ssh://git@github.com/VoiceOps/platform.git/"):  # fmt: skip
        assert sealed_rotation._repository(url) == sealed_rotation._repository(
            sealed_rotation.gitops.REPO_URL
        )
    assert (
        sealed_rotation._repository("https://github.com/someone/platform.git")
        != "github.com/voiceops/platform"
    )


def test_a_run_killed_while_promoting_waits_out_the_grace_once_delivered(checkout, livekit, monkeypatch):
    """The first rotation of a secret: no earlier promotion date to fall back on."""
    work = checkout
    tag = sealed_rotation.SealedStore.tag_resource

    class Killed(BaseException):
        pass

    def dies_dating(self, SecretId: str, Tags: list[dict[str, str]]) -> None:
        if any(item["Key"] == secret_versions.PROMOTED_TAG for item in Tags):
            raise Killed
        tag(self, SecretId=SecretId, Tags=Tags)

    monkeypatch.setattr(sealed_rotation.SealedStore, "tag_resource", dies_dating)
    with pytest.raises(Killed):
        rotate("livekit", grace=3600)
    monkeypatch.setattr(sealed_rotation.SealedStore, "tag_resource", tag)
    with pytest.raises(OpsError, match="commit those files"):
        rotate("livekit", grace=3600)
    deliver(work)

    def stop_at_the_grace(line: str) -> None:
        if "stay valid for" in line:
            raise Killed  # it would wait: enough for this test

    with pytest.raises(Killed):
        secret_rotation.rotate(ENVIRONMENT, "livekit", None, 3600, ENVIRONMENT, report=stop_at_the_grace)


def audit_row(environment, name: str):
    today = datetime.datetime.now(datetime.UTC).date()
    rows = secret_audit.audit(environment, secret_audit.sealed_reader(environment), today)
    return next(row for row in rows if row.secret == name)


def test_a_secret_is_as_old_as_its_oldest_declared_key(checkout):
    """Resealing some keys by hand does not make the others new; resealing each in turn does,
    and a key no longer declared holds nothing back."""
    environment = environments.load(ENVIRONMENT)
    certificate = secret_bundles.sealing_certificate(environment).read_bytes()

    def seal(values: dict[str, bytes], sealed_at: str | None = None) -> None:
        secret_bundles.seal_values(
            environment, "redis", "redis-auth", values, certificate, sealed_at=sealed_at
        )

    seal(
        {"password": b"old", "sentinel-password": b"old-sentinel", "retired-key": b"x"},
        "2020-01-01T00:00:00+00:00",
    )
    seal({"sentinel-password": b"new"})
    assert audit_row(environment, "redis-auth").status == "overdue"  # its password is from 2020
    seal({"password": b"new"})
    assert audit_row(environment, "redis-auth").status == "ok"  # retired-key, from 2020, is not declared


def test_redis_is_set_nowhere_only_while_its_password_gets_its_first_value(checkout, monkeypatch):
    """platform-redis's servers cannot run without platform-redis-auth: only a run giving it its
    first value sets no Redis server; any other run without it stops before changing anything."""
    monkeypatch.setenv(linode_servers.TOKEN_VARIABLE, "unused: no database is looked up here")
    staging = environments.load(ENVIRONMENT)
    store = sealed_rotation.store(staging)
    with pytest.raises(
        OpsError, match="platform-redis-auth has no value: rotate the platform-redis bundle"
    ) as lost:
        linode_servers.LinodeServers(staging, store).redis(None)
    assert lost.value.exit_code == 5
    first = linode_servers.LinodeServers(staging, store, frozenset({linode_servers.AUTH_SECRET})).redis(None)
    assert first.servers == ()
    # the first password promoted, not yet on main: its servers cannot run, so the run resumed
    # before the push says to push, and looks for the servers only once the values are there
    for _ in range(2):
        with pytest.raises(OpsError, match="commit those files"):
            rotate("platform-redis")
