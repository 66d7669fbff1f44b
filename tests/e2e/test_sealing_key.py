"""Secret stores against a real AWS API (moto's): the Sealed Secrets key pair we bring to the
Linode cluster, with moto's S3 standing in for Linode Object Storage (stored and read back before
its certificate is committed, found again by every environment on the cluster, the round trip
through it), and the audit of Secrets Manager entries."""

import base64
import datetime

import pytest

from voiceops import argocd, environments, sealing, sealing_keys, secret_audit, secret_bundles


@pytest.fixture
def sealing_dir(tmp_path, monkeypatch):
    directory = tmp_path / "sealing"
    monkeypatch.setattr(secret_bundles, "SEALING_DIR", directory)
    return directory


def test_the_key_is_stored_before_its_certificate_is_committed(aws, sealing_dir):
    target = sealing_keys.target("production")
    assert target.bucket.endswith("-sealing-keys")  # the object-storage module's bucket
    with pytest.raises(sealing_keys.SealingKeyUnavailable, match="not reachable"):  # the stack's bucket
        sealing_keys.ensure("production", bits=2048)
    assert not target.certificate.exists()

    s3 = aws.client("s3", "us-east-1")
    s3.create_bucket(Bucket=target.bucket)
    assert sealing_keys.ensure("production", dry_run=True).startswith("would make")
    assert not target.certificate.exists() and s3.list_objects_v2(Bucket=target.bucket)["KeyCount"] == 0
    assert sealing_keys.ensure("production", bits=2048).startswith("made: ")
    certificate = target.certificate.read_bytes()
    assert target.certificate == sealing_dir / "lke-voiceops.pem"
    assert b"PRIVATE KEY" not in certificate

    # staging shares production's cluster: the same key, as gitops.bootstrap applies it
    manifest = sealing_keys.key_manifest("staging")
    assert manifest["metadata"]["labels"] == {sealing.ACTIVE_KEY_LABEL: "active"}
    assert manifest["metadata"]["namespace"] == target.namespace
    assert base64.b64decode(manifest["data"]["tls.crt"]) == certificate
    private_key = base64.b64decode(manifest["data"]["tls.key"])
    bound = sealing.label("staging", "cloudflared-tunnel")
    assert sealing.unseal(private_key, sealing.seal(certificate, b"token", bound), bound) == b"token"

    assert sealing_keys.ensure("production").startswith("in place: ")  # idempotent
    assert target.certificate.read_bytes() == certificate

    # a committed certificate whose key is gone is refused, never silently replaced
    s3.delete_object(Bucket=target.bucket, Key=sealing_keys.object_key(target, certificate))
    with pytest.raises(sealing_keys.SealingKeyError, match="is missing"):
        sealing_keys.ensure("production")
    assert target.certificate.read_bytes() == certificate


def test_without_credentials_nothing_is_made(sealing_dir, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(sealing_keys.SealingKeyUnavailable) as problem:
        sealing_keys.ensure("production")
    assert problem.value.exit_code == 5 and not sealing_dir.exists()
    with pytest.raises(sealing_keys.SealingKeyError, match="needs no sealing key"):
        sealing_keys.ensure("live")


def test_the_bootstrap_applies_the_key_before_the_controller_is_installed(aws, sealing_dir, standins):
    target = sealing_keys.target("staging")
    aws.client("s3", "us-east-1").create_bucket(Bucket=target.bucket)
    sealing_keys.ensure("production", bits=2048)
    standins.reachable(environments.load("production"))
    record = argocd.bootstrap("staging", confirm="staging")
    assert record.result == "succeeded", record.error
    applied = list(standins.state()["applied"])
    key = next(name for name in applied if name.startswith("Secret/"))
    assert key.startswith(f"Secret/{target.namespace}/sealed-secrets-key-")
    assert applied.index(key) < applied.index("ApplicationSet/system/bootstrap-staging")


def test_the_audit_reads_secrets_manager_entries_as_the_stack_creates_them(aws):
    live = environments.load("live")
    client = aws.client("secretsmanager", live.regions.primary)
    entries = {item["entry"] for item in secret_bundles.resolved_entries(live)}
    for entry in sorted(entries - {"voiceops/live/grafana-admin"}):
        client.create_secret(Name=entry)  # as Terraform creates it: no value yet
    client.put_secret_value(SecretId="voiceops/live/temporal-db", SecretString='{"password": "x"}')
    today = datetime.datetime.now(datetime.UTC).date()
    rows = {row.secret: row for row in secret_audit.audit(live, secret_audit.reader_for(live), today)}
    assert rows["temporal-db"].status == "ok" and rows["temporal-db"].rotated is not None
    assert rows["grafana-admin"].status == "missing"
    assert rows["api-rest-credentials"].status == "not provisioned"
    later = secret_audit.audit(live, secret_audit.reader_for(live), today + datetime.timedelta(days=91))
    assert {row.secret for row in later if row.status == "overdue"} == {"temporal-db"}
