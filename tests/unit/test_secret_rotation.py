"""secrets.rotate without servers: the store's rotation protocol on an in-process Secrets
Manager emulator (moto), the values a rotation writes, and every refusal before a change."""

import datetime
import json
import re
import uuid

import boto3
import pytest
from moto import mock_aws

from voiceops import (
    aws_rotation,
    credential_servers,
    environments,
    local,
    secret_bundles,
    secret_rotation,
    secret_versions,
)
from voiceops.errors import OpsError
from voiceops.runs import ApprovalRequired, EnvironmentLock, EnvironmentLocked
from voiceops.secret_versions import Phase

ENTRY = "voiceops/local/api-rest-credentials"


@pytest.fixture
def store():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-west-2")
        client.create_secret(Name=ENTRY, SecretString=json.dumps({"password": "one"}))
        yield client


def test_a_rotation_moves_through_its_phases_and_the_valid_versions_follow(store):
    token = secret_versions.new_token()
    assert secret_versions.token_in_flight(store, [ENTRY]) is None
    secret_versions.begin(store, ENTRY, token)
    assert secret_versions.token_in_flight(store, [ENTRY]) == token
    assert secret_versions.state(store, ENTRY, token).phase is Phase.CREATE

    secret_versions.create(store, ENTRY, token, {"password": "two"})
    secret_versions.create(store, ENTRY, token, {"password": "two"})  # a re-run: the same version
    pending = secret_versions.state(store, ENTRY, token)
    assert pending.phase is Phase.PENDING and pending.version == secret_versions.version_id(token, ENTRY)
    assert secret_versions.valid_values(store, ENTRY) == [{"password": "one"}, {"password": "two"}]
    assert json.loads(secret_versions.current_string(store, ENTRY)) == {"password": "one"}

    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    secret_versions.promote(store, pending, now)
    promoted = secret_versions.state(store, ENTRY, token)
    secret_versions.promote(store, promoted, now)  # a re-run after a crash: nothing moves twice
    promoted = secret_versions.state(store, ENTRY, token)
    assert promoted.phase is Phase.PROMOTED and promoted.promoted_at == now
    assert json.loads(secret_versions.current_string(store, ENTRY)) == {"password": "two"}
    # until retired, the previous credential stays valid beside the new one
    assert secret_versions.valid_values(store, ENTRY) == [{"password": "two"}, {"password": "one"}]

    secret_versions.finish(store, promoted)
    assert secret_versions.state(store, ENTRY, token).phase is Phase.DONE
    assert secret_versions.token_in_flight(store, [ENTRY]) is None
    assert secret_versions.valid_values(store, ENTRY) == [{"password": "two"}]
    assert secret_versions.tags(store, ENTRY)[secret_versions.RETIRED_TAG] == promoted.previous


class DiesTagging:
    """The store, as a run sees it that is killed when it writes the tag `key`."""

    def __init__(self, client, key: str) -> None:
        self.client, self.key = client, key

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def tag_resource(self, SecretId: str, Tags: list[dict[str, str]]) -> None:
        if any(tag["Key"] == self.key for tag in Tags):
            raise KeyboardInterrupt("killed")
        self.client.tag_resource(SecretId=SecretId, Tags=Tags)


def test_a_promotion_killed_after_its_stages_moved_is_dated_by_this_rotation_not_the_last(store):
    """Else the grace would count from the previous rotation's date and be over at once."""
    last_quarter = datetime.datetime(2026, 9, 1, tzinfo=datetime.UTC)
    for date, password in (
        (last_quarter, "two"),
        (datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC), "three"),
    ):
        token = secret_versions.new_token()
        secret_versions.begin(store, ENTRY, token)
        secret_versions.create(store, ENTRY, token, {"password": password})
        pending = secret_versions.state(store, ENTRY, token)
        if date == last_quarter:
            secret_versions.promote(store, pending, date)
            secret_versions.finish(store, secret_versions.state(store, ENTRY, token))
            continue
        with pytest.raises(KeyboardInterrupt):  # the stages moved; the run dies dating the rotation
            secret_versions.promote(DiesTagging(store, secret_versions.ROTATED_TAG), pending, date)
        promoted = secret_versions.state(store, ENTRY, token)
        assert promoted.phase is Phase.PROMOTED and promoted.promoted_at == date
        secret_versions.finish(store, promoted)  # the resumed run retires after the grace
        assert secret_versions.tags(store, ENTRY)[secret_versions.ROTATED_TAG] == date.isoformat()


def test_where_the_readers_are_followed_the_grace_counts_from_when_they_moved(store):
    """The grace is for what the cluster does not show moving (jobs): from the promotion, it
    would be over by the time slow rollouts ended."""
    token = secret_versions.new_token()
    secret_versions.begin(store, ENTRY, token)
    secret_versions.create(store, ENTRY, token, {"password": "two"})
    an_hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    secret_versions.promote(store, secret_versions.state(store, ENTRY, token), an_hour_ago)
    lines: list[str] = []
    rotation = secret_rotation.Rotation(
        store, [secret_rotation.Target(ENTRY, declared("api-rest-credentials"))], 0.5,
        credential_servers.Servers(), report=lines.append, pick_up=lambda: "readers moved",
        grace_after_pick_up=True,
    )  # fmt: skip
    assert rotation.wait_grace() == "grace period of 0s over"
    assert lines[0] == "    readers moved" and lines[1].startswith("    previous credentials stay valid for")


def test_a_version_id_is_the_same_on_every_run_and_differs_per_entry():
    token = str(uuid.uuid4())
    assert secret_versions.version_id(token, ENTRY) == secret_versions.version_id(token, ENTRY)
    assert secret_versions.version_id(token, ENTRY) != secret_versions.version_id(token, ENTRY + "-2")


def test_two_rotations_in_flight_are_refused(store):
    store.create_secret(Name="voiceops/local/other", SecretString="{}")
    secret_versions.begin(store, ENTRY, secret_versions.new_token())
    secret_versions.begin(store, "voiceops/local/other", secret_versions.new_token())
    with pytest.raises(ValueError, match="two rotations in flight"):
        secret_versions.token_in_flight(store, [ENTRY, "voiceops/local/other"])


def declared(name: str) -> secret_bundles.Declared:
    return secret_bundles.declared(environments.Cloud.LOCAL)[name]


def test_fresh_values_alternate_users_keep_the_redis_user_and_change_every_password():
    item = declared("api-rest-credentials")
    first = local.fresh_values(item, None)
    assert first["postgres-username"] == first["rabbitmq-username"] == "platform-api-rest"
    second = local.fresh_values(item, first)
    assert second["postgres-username"] == second["rabbitmq-username"] == "platform-api-rest-clone"
    assert second["redis-username"] == first["redis-username"] == "platform-api-rest"
    assert local.fresh_values(item, second)["postgres-username"] == "platform-api-rest"
    passwords = [key for key in first if key.endswith("-password")]
    assert all(first[key] != second[key] for key in passwords)


def test_livekit_keys_are_re_issued_beside_the_newest_pair_and_the_oldest_goes():
    item = declared("livekit-api-keys")
    first = local.fresh_values(item, None)["keys.yaml"]
    key, secret = first.strip().split(": ")
    assert key.startswith("API") and len(secret) == 40
    second = local.fresh_values(item, {"keys.yaml": first})["keys.yaml"]
    assert second.splitlines()[1:] == first.splitlines() and second.splitlines()[0] != first.strip()
    third = local.fresh_values(item, {"keys.yaml": second})["keys.yaml"]
    assert third.splitlines()[1:] == second.splitlines()[:1]


def test_the_other_user_of_a_pair_that_no_valid_version_holds_cannot_log_in():
    current = {
        "postgres-username": "u",
        "postgres-password": "a",
        "redis-username": "u",
        "redis-password": "b",
    }
    pending = {
        "postgres-username": "u-clone",
        "postgres-password": "c",
        "redis-username": "u",
        "redis-password": "d",
    }
    during = local.desired_accounts([current, pending])
    assert during["postgres"] == {"u": ["a"], "u-clone": ["c"]} and during["redis"] == {"u": ["b", "d"]}
    after = local.desired_accounts([pending])
    assert after["postgres"] == {"u": [], "u-clone": ["c"]} and after["redis"] == {"u": ["d"]}


# --- refusals: one line, nothing changed ------------------------------------------------------


def test_unknown_bundle_and_secret_are_refused_by_name():
    local_env = environments.load("local")
    with pytest.raises(OpsError, match=r"unknown bundle 'nope' \(known: .*platform"):
        secret_rotation.targets(local_env, "nope", None)
    with pytest.raises(OpsError, match="bundle platform has no secret 'nope'"):
        secret_rotation.targets(local_env, "platform", "nope")
    with pytest.raises(OpsError, match="local reads no secret of bundle edge"):
        secret_rotation.targets(local_env, "edge", None)


def audit_results(state) -> list[str]:
    return [json.loads(path.read_text())["result"] for path in sorted((state / "audit").glob("*.json"))]


def test_a_production_rotation_without_approval_is_refused_and_recorded(isolated_state):
    with pytest.raises(ApprovalRequired) as refused:
        secret_rotation.rotate("production", "platform", None, None, None)
    assert refused.value.exit_code == 3
    assert audit_results(isolated_state) == ["refused"]


def test_a_rotation_while_another_run_holds_the_environment_is_refused(isolated_state):
    with EnvironmentLock("local"), pytest.raises(EnvironmentLocked) as refused:
        secret_rotation.rotate("local", "platform", None, None, None)
    assert refused.value.exit_code == 4


@pytest.mark.parametrize(
    ("name", "bundle"),
    [("local", "platform"), ("live", "platform"), ("staging", "livekit"), ("azure-production", "livekit")],
)
def test_without_servers_or_a_cloud_path_it_stops_with_exit_5(isolated_state, monkeypatch, name, bundle):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL",
                     "ARM_CLIENT_ID", "ARM_USE_MSI"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(isolated_state))  # no ~/.aws either
    with pytest.raises(OpsError) as stopped:
        secret_rotation.rotate(name, bundle, None, None, name)
    assert stopped.value.exit_code == 5 and "nothing was changed" in stopped.value.message
    assert audit_results(isolated_state) == ["failed"]


@pytest.mark.parametrize("grace", [-1, float("nan"), float("inf")])
def test_a_grace_that_is_not_a_number_of_seconds_is_refused(grace):
    with pytest.raises(OpsError, match="--grace must be 0 or more seconds"):
        secret_rotation.rotate("local", "platform", None, grace, None)


# --- the AWS path, before it calls anything ---------------------------------------------------


def test_tunnels_are_parsed_and_a_malformed_one_is_refused():
    assert aws_rotation.parse_via("postgres=127.0.0.1:15432, rabbitmq-management=localhost:15672") == {
        "postgres": ("127.0.0.1", 15432), "rabbitmq-management": ("localhost", 15672),
    }  # fmt: skip
    assert aws_rotation.parse_via("") == {}
    # Linode's Redis: one tunnel per server
    assert aws_rotation.parse_via("redis=127.0.0.1:16379,redis-1=127.0.0.1:16380") == {
        "redis": ("127.0.0.1", 16379), "redis-1": ("127.0.0.1", 16380),
    }  # fmt: skip
    bad_ones = (
        "mysql=127.0.0.1:3306",
        "postgres=127.0.0.1",
        "postgres=127.0.0.1:0",
        "postgres=a b:1",
        "redis-x=h:1",
    )
    for bad in bad_ones:
        with pytest.raises(OpsError, match="--via takes server=host:port"):
            aws_rotation.parse_via(bad)
    with pytest.raises(OpsError, match="--via is for the servers of a cloud environment, not local"):
        secret_rotation.rotate("local", "platform", None, None, None, via={"postgres": ("127.0.0.1", 1)})


def test_on_aws_the_grace_covers_external_secrets_refresh_and_a_rollout(isolated_state, monkeypatch):
    sandbox = environments.load("sandbox")
    assert aws_rotation.refresh_seconds(sandbox) == 3600  # charts/base: secretStore.refreshInterval 1h
    assert aws_rotation.minimum_grace(sandbox) == 3600 + aws_rotation.ROLLOUT_SECONDS
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "configured")
    assert aws_rotation.precheck(sandbox, [], None, False) == aws_rotation.minimum_grace(sandbox)
    with pytest.raises(OpsError, match="shorter than External Secrets' refresh plus a rollout") as refused:
        secret_rotation.rotate("sandbox", "platform", None, 60, None)
    assert refused.value.exit_code == 1 and audit_results(isolated_state) == ["failed"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # an emulator: tests shorten the grace
    assert aws_rotation.precheck(sandbox, [], 0, False) == 0


def test_elasticache_refuses_a_third_password_before_changing_anything():
    """It keeps two: cutting one would lock out the readers holding it."""
    users = credential_servers.ElastiCacheUsers(("127.0.0.1", 1), client=None, group="voiceops-live")
    with pytest.raises(credential_servers.ServerError, match="platform-voice need more"):
        users.converge({"platform-voice": ["one", "two", "three"], "platform-text": ["one", "two"]})


def test_elasticache_user_ids_fit_the_limit_and_stay_apart_per_group_and_user():
    users = [local.fresh_values(declared(name), None)["redis-username"]
             for name in ("api-rest-credentials", "media-processing-credentials")]  # fmt: skip
    ids = {credential_servers.elasticache_user_id(group, user)
           for group in ("voiceops-sandbox-redis", "voiceops-live-redis") for user in users}  # fmt: skip
    assert len(ids) == 4
    # a letter first, no two hyphens in a row, no hyphen last (ElastiCache's rule for user ids)
    assert all(len(item) <= 40 and re.fullmatch(r"[a-z](-?[a-z0-9])*", item) for item in ids), ids


def test_on_aws_a_secret_a_third_party_issues_is_refused_before_anything_is_called(isolated_state):
    sandbox = environments.load("sandbox")
    assert aws_rotation.unsafe(secret_rotation.targets(sandbox, "platform", None), lambda entry: True) == []
    assert aws_rotation.unsafe(secret_rotation.targets(sandbox, "livekit", None), lambda entry: True) == []
    with pytest.raises(OpsError, match=r"nothing was changed: stt-credentials is issued by Deepgram"):
        secret_rotation.rotate("sandbox", "ai-services", None, None, None)
    assert audit_results(isolated_state) == ["failed"]


def test_with_the_cluster_answering_the_readers_are_followed_and_the_grace_can_be_short(monkeypatch):
    sandbox = environments.load("sandbox")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "configured")
    assert aws_rotation.precheck(sandbox, [], None, True) == aws_rotation.FOLLOWED_GRACE_SECONDS
    assert aws_rotation.precheck(sandbox, [], 10, True) == 10
    readers = aws_rotation.Readers(
        sandbox, secret_rotation.targets(sandbox, "platform", "api-rest-credentials")
    )
    (namespace,) = {namespace for namespace, _ in readers.secrets}
    assert readers.secrets == [(namespace, "api-rest-credentials")]
    assert readers.reads == {(namespace, "platform-api-rest"): {"api-rest-credentials"}}
    assert not readers.answer()  # no cluster here: the rotation waits out External Secrets' refresh instead
