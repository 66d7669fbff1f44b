"""The secret bundles: strict validation with one-line errors, what each environment
materializes, and sealing against a throwaway key pair with a round trip that unseals it."""

import datetime
import json
import shutil
import subprocess

import pytest
import yaml

from voiceops import environments, keyvault_rotation, local, scan, sealing, secret_audit, secret_bundles
from voiceops.errors import OpsError
from voiceops.secret_bundles import InvalidBundle, NotSealed, Store


@pytest.fixture
def bundles(tmp_path):
    """A copy of the real bundles to break one field at a time."""
    directory = tmp_path / "bundles"
    shutil.copytree(secret_bundles.BUNDLES_DIR, directory)
    secret_bundles.load_all.cache_clear()
    yield directory
    secret_bundles.load_all.cache_clear()


def edit(directory, owner, change):
    path = directory / f"{owner}.yaml"
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document))
    secret_bundles.load_all.cache_clear()


def test_every_environment_gets_a_store_for_every_secret_its_releases_read():
    for environment in environments.load_all():
        materialized = secret_bundles.for_environment(environment)
        assert materialized, environment.name
        for item in materialized:
            assert item.declared.store in secret_bundles.CLOUD_STORES[environment.cloud]
    live = {item.name: item for item in secret_bundles.for_environment(environments.load("live"))}
    assert live["api-rest-credentials"].namespace == "platform"
    assert "cloudflared-tunnel" not in live  # the tunnel serves the Linode environments only
    entries = secret_bundles.resolved_entries(environments.load("live"))
    assert {
        "name": "temporal-db",
        "entry": "voiceops/live/temporal-db",
        "store": "secrets-manager",
    }.items() <= next(entry for entry in entries if entry["name"] == "temporal-db").items()


def test_the_owner_creates_the_entries_of_the_environments_its_cluster_hosts():
    entries = secret_bundles.store_entries(environments.load("sandbox"))
    assert {entry["environment"] for entry in entries} == {"sandbox", "preview"}
    assert secret_bundles.store_entries(environments.load("production")) == []  # sealed: no store entries


@pytest.mark.parametrize(
    ("owner", "change", "message"),
    [
        ("edge", lambda d: d["secrets"]["cloudflared-tunnel"].update(value="x"),
         "edge.yaml: secrets.cloudflared-tunnel.value: Extra inputs are not permitted"),
        ("edge", lambda d: d["secrets"]["cloudflared-tunnel"]["consumers"][0].update(release="nosuch"),
         "edge.yaml: secrets.cloudflared-tunnel.consumers.0.release: no release 'nosuch'"),
        ("edge", lambda d: d["stores"].update(aws="key-vault"),
         "edge.yaml: stores.aws: aws has no key-vault (it has secrets-manager)"),
        ("edge", lambda d: d["stores"].update(linode="vault"), "edge.yaml: stores.linode: Input should be"),
        ("edge", lambda d: d["secrets"]["cloudflared-tunnel"]["source"].update(generated=True),
         "source: Value error, either generated: true or an issuer"),
        ("edge", lambda d: d.update(owner="tunnel"), "edge.yaml: owner: 'tunnel' differs from the file name"),
        ("redis", lambda d: d["secrets"]["redis-auth"]["consumers"][0].update(env_reason=""),
         "env_reason: a consumer reading the secret from environment variables says why"),
        ("redis", lambda d: d["secrets"].update({"cloudflared-tunnel": d["secrets"]["redis-auth"]}),
         "redis.yaml: secrets.cloudflared-tunnel: already declared in secrets/bundles/edge.yaml"),
        ("redis", lambda d: d["secrets"]["redis-auth"].update(postgres_roles=["pg_monitor"]),
         "postgres_roles: only a secret holding postgres-username and postgres-password has a PostgreSQL"),
        ("observability",
         lambda d: d["secrets"]["postgres-exporter-credentials"].update(postgres_roles=["Mon"]),
         "postgres_roles.0: String should match pattern"),
    ],
)  # fmt: skip
def test_a_bad_bundle_is_one_line_naming_file_and_field(bundles, owner, change, message):
    edit(bundles, owner, change)
    with pytest.raises(InvalidBundle) as problem:
        secret_bundles.load_all(bundles)
    assert "\n" not in str(problem.value)
    assert message.replace("secrets/bundles/", "") in str(problem.value).replace(str(bundles) + "/", "")


# Generated secrets rotated with alternating users whose users the rotation does not set on a
# server, and why each is still rotated that way
DERIVED_USERS = {
    "rabbitmq-credentials": "RabbitMQ's administrator, which RabbitMQ takes from the boot definitions",
    "rabbitmq-definitions": "the boot definitions, derived from the users of every other secret",
    "platform-redis-acl": "Linode's Redis's ACL file, derived from the users of every other secret",
    "postgres-exporter-auth": "the exporter's auth module on Linode, derived from its login's secret",
}


def test_a_generated_secret_with_alternating_users_holds_users_the_rotation_sets():
    """Else a rotation writes a value no server accepts (as the exporter's and Temporal's once)."""
    for name, declared in secret_bundles.declared(environments.Cloud.AWS).items():
        secret = declared.secret
        if secret.source.generated and secret.rotation.strategy is secret_bundles.Strategy.ALTERNATING_USERS:
            assert local.accounts(dict.fromkeys(secret.keys, "x")) or name in DERIVED_USERS, name


def test_a_cloud_without_a_store_for_a_secret_it_reads_is_refused(bundles):
    edit(bundles, "edge", lambda d: d["secrets"]["cloudflared-tunnel"]["consumers"][0].pop("clouds"))
    with pytest.raises(
        InvalidBundle, match=r"cloudflared-tunnel\.stores: no store on aws, where live installs platform"
    ):
        secret_bundles.for_environment(environments.load("live"), bundles)


def test_unknown_bundle_or_secret_names_what_exists():
    with pytest.raises(secret_bundles.UnknownSecret, match="no bundle 'nosuch' \\(bundles: agent-service, "):
        secret_bundles.find("nosuch", "x")
    with pytest.raises(
        secret_bundles.UnknownSecret, match="no secret 'x' in bundle redis \\(it has redis-auth\\)"
    ):
        secret_bundles.find("redis", "x")


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("", None, "nothing on standard input"),
        ("not json", None, "not a JSON object"),
        ('{"password": 1}', None, "string value"),
        ('{"pasword": "x"}', None, "no key 'pasword'"),
        ("x", "pasword", "no key 'pasword'"),
    ],
)
def test_piped_values_are_checked_before_anything_is_sealed(text, key, message):
    with pytest.raises(NotSealed, match=message):
        secret_bundles.parse_values(text, ("password", "sentinel-password"), key)


def test_on_azure_every_holder_of_the_caches_access_key_is_in_one_bundle():
    """Azure Cache for Redis's access keys are shared: the secrets holding a Redis user move to a
    new key together, and secrets.rotate rotates one bundle at a time."""
    for environment in environments.load_all():
        if environment.cloud is environments.Cloud.AZURE:
            holders = {item.declared.bundle for item in secret_bundles.for_environment(environment)
                       if keyvault_rotation.holds_redis(item.declared)}  # fmt: skip
            assert len(holders) <= 1, f"{environment.name}: holders of the cache's key in {sorted(holders)}"


def test_a_sealed_value_unseals_with_the_clusters_key_only(tmp_path):
    certificate, private_key = sealing.new_key_pair("test-sealing", bits=2048)  # a throwaway pair
    production = environments.load("production")
    sealed_dir = tmp_path / "sealed"
    values = secret_bundles.parse_values(
        json.dumps({"password": "first-plaintext-value"}), ("password", "sentinel-password"), None
    )
    [path] = secret_bundles.seal_values(
        production, "redis", "redis-auth", values, certificate, sealed_dir=sealed_dir
    )
    assert path == sealed_dir / "production" / "production-rtc.redis-auth.yaml"
    # the second key later: the first stays sealed as it was
    first = yaml.safe_load(path.read_text())["spec"]["encryptedData"]["password"]
    keys = ("password", "sentinel-password")
    later = secret_bundles.parse_values("second-plaintext-value\n", keys, "sentinel-password")
    secret_bundles.seal_values(production, "redis", "redis-auth", later, certificate, sealed_dir=sealed_dir)
    manifest = yaml.safe_load(path.read_text())
    assert manifest["kind"] == "SealedSecret" and manifest["metadata"]["namespace"] == "production-rtc"
    data = manifest["spec"]["encryptedData"]
    assert data["password"] == first and "first-plaintext-value" not in path.read_text()
    bound = sealing.label("production-rtc", "redis-auth")
    assert sealing.unseal(private_key, data["password"], bound) == b"first-plaintext-value"
    assert sealing.unseal(private_key, data["sentinel-password"], bound) == b"second-plaintext-value"
    # bound to its namespace and name, and to this key pair
    with pytest.raises(sealing.SealingError):
        sealing.unseal(private_key, data["password"], sealing.label("production", "redis-auth"))
    _, other_key = sealing.new_key_pair("another-cluster", bits=2048)
    with pytest.raises(sealing.SealingError):
        sealing.unseal(other_key, data["password"], bound)


def test_sealing_is_refused_where_the_cloud_keeps_the_value_in_a_store(tmp_path):
    certificate, _ = sealing.new_key_pair("test-sealing", bits=2048)
    values = {"password": b"x"}
    with pytest.raises(NotSealed, match="live keeps temporal-db in secrets-manager"):
        secret_bundles.seal_values(environments.load("live"), "temporal", "temporal-db", values, certificate,
                                   sealed_dir=tmp_path)  # fmt: skip
    assert not any(tmp_path.iterdir())
    assert secret_bundles.Store.SEALED_SECRET in secret_bundles.CLOUD_STORES[environments.Cloud.LINODE]
    assert Store.KEY_VAULT not in secret_bundles.CLOUD_STORES[environments.Cloud.AWS]


def test_the_plaintext_check_finds_a_committed_secret_value_anywhere(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "values.yaml").write_text("existingSecret: redis-auth\n")  # a reference: no value
    assert scan.plaintext_secrets(tmp_path) == []
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n"
    )
    _, private_key = sealing.new_key_pair("leak", bits=2048)
    (tmp_path / "sealing.key").write_bytes(private_key)
    (tmp_path / "notes.txt").write_text("github token ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" + "\n")
    findings = scan.plaintext_secrets(tmp_path)
    assert "deep/er/secret.yaml: Secret db stringData.password" in findings
    assert "sealing.key: a private key" in findings
    assert any(item.startswith("notes.txt:1: github-pat") for item in findings), findings


def test_the_audit_of_sealed_secrets_reads_when_each_was_sealed(tmp_path, monkeypatch):
    monkeypatch.setattr(secret_bundles, "SEALED_DIR", tmp_path / "sealed")
    production = environments.load("production")
    certificate, _ = sealing.new_key_pair("test-sealing", bits=2048)
    secret_bundles.seal_values(production, "edge", "cloudflared-tunnel", {"token": b"t"}, certificate)
    secret_bundles.seal_values(
        production, "redis", "redis-auth", {"password": b"p"}, certificate
    )  # one key of two
    reader = secret_audit.reader_for(production)
    today = datetime.datetime.now(datetime.UTC).date()
    rows = {row.secret: row for row in secret_audit.audit(production, reader, today)}
    assert rows["cloudflared-tunnel"].status == "ok"
    assert rows["cloudflared-tunnel"].due == rows["cloudflared-tunnel"].rotated.date() + datetime.timedelta(
        days=90
    )
    assert rows["redis-auth"].status == "not provisioned" and rows["redis-auth"].created is not None
    assert rows["api-rest-credentials"].status == "not provisioned"
    later = {
        row.secret: row.status
        for row in secret_audit.audit(production, reader, today + datetime.timedelta(days=91))
    }
    assert later["cloudflared-tunnel"] == "overdue"


def test_the_audit_says_plainly_where_a_store_cannot_be_read(monkeypatch, tmp_path):
    for variable in ("ARM_CLIENT_ID", "ARM_USE_MSI", "VOICEOPS_KEYVAULT_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.azure either
    with pytest.raises(OpsError) as problem:
        secret_audit.reader_for(environments.load("azure-production"))
    assert problem.value.exit_code == 5
    assert str(problem.value).startswith("azure-production: no azure credentials")
    assert str(problem.value).endswith("Key Vault cannot be read; not audited")
