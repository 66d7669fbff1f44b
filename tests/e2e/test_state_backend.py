"""`tf.bootstrap`: each stack's state backend created against real servers (moto for S3, on
AWS and as Linode's S3 API; Azurite for the Azure Blob service), every setting read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from botocore.exceptions import ClientError

from voiceops import environments, runs, state_backend, terraform
from voiceops.errors import OpsError
from voiceops.runs import RunIncomplete

SANDBOX = terraform.backend_config(environments.load("sandbox"))
LINODE = terraform.backend_config(environments.load("production"))
AZURE = terraform.backend_config(environments.load("azure-production"))


def audit(name: str) -> dict:
    files = sorted((Path(runs.state_dir()) / "audit").glob(f"*-{name}-terraform-bootstrap.json"))
    return json.loads(files[-1].read_text())


def test_aws_bucket_is_versioned_encrypted_and_private_and_a_second_run_changes_nothing(aws):
    s3 = aws.client("s3")
    planned = state_backend.bootstrap("sandbox", None, dry_run=True)
    assert planned.record.result == "dry-run"
    assert planned.record.steps[0].detail.startswith(
        f"skipped (dry run): would create bucket {SANDBOX['bucket']}, enable versioning, "
    )
    assert "block all public access" in planned.record.steps[0].detail
    assert s3.list_buckets()["Buckets"] == [], "a dry run creates nothing"

    created = state_backend.bootstrap("sandbox", None, dry_run=False)
    assert created.record.result == "succeeded" and created.changes >= 3
    bucket = SANDBOX["bucket"]
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == SANDBOX["region"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert blocked == state_backend.PUBLIC_ACCESS_BLOCKED

    again = state_backend.bootstrap("sandbox", None, dry_run=False)
    assert again.changes == 0 and again.summary() == "nothing changed: already in place"
    assert again.record.steps[0].detail == (
        f"unchanged: bucket {bucket}, versioned, encrypted (AES256), public access blocked"
    )
    assert audit("sandbox")["result"] == "succeeded"


def test_a_bucket_made_by_hand_gets_only_what_it_lacks(aws):
    aws.client("s3").create_bucket(
        Bucket=SANDBOX["bucket"], CreateBucketConfiguration={"LocationConstraint": SANDBOX["region"]}
    )
    aws.state_bucket(SANDBOX["bucket"])  # versioned already
    detail = state_backend.bootstrap("sandbox", None, dry_run=False).record.steps[0].detail
    assert "create bucket" not in detail and "enable versioning" not in detail
    assert "block all public access" in detail


def test_linode_bucket_through_the_s3_api_needs_approval_and_no_public_access_block(aws):
    with pytest.raises(runs.ApprovalRequired, match="--confirm production"):
        state_backend.bootstrap("production", None, dry_run=False)
    result = state_backend.bootstrap("production", "production", dry_run=False)
    assert result.record.result == "succeeded"
    assert audit("production")["approval"].startswith("typed confirmation")
    s3 = aws.client("s3", LINODE["region"])
    bucket = LINODE["bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    with pytest.raises(ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=bucket)  # not an API Linode has
    assert state_backend.bootstrap("production", "production", dry_run=False).changes == 0


@pytest.mark.parametrize(
    ("name", "confirm", "missing"),
    [
        ("sandbox", None, "no aws credentials"),
        (
            "production",
            "production",
            "no Linode Object Storage keys (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY",
        ),
    ],
)
def test_without_credentials_one_line_and_exit_5(name, confirm, missing):
    with pytest.raises(RunIncomplete) as error:
        state_backend.bootstrap(name, confirm, dry_run=False)
    assert error.value.exit_code == 5
    assert error.value.message.startswith(f"{name}: state backend not ready: {missing}")
    assert "\n" not in error.value.message
    assert audit(name)["result"] == "incomplete"


def test_unknown_environment_and_one_without_a_stack_are_named():
    with pytest.raises(environments.UnknownEnvironment, match="unknown environment 'nosuch'; valid"):
        state_backend.bootstrap("nosuch", None, dry_run=False)
    with pytest.raises(OpsError, match="staging runs in production's cluster"):
        state_backend.bootstrap("staging", None, dry_run=False)


def test_azure_container_created_in_azurite_and_account_settings_exit_5(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    service = BlobServiceClient.from_connection_string(azurite)
    container = service.get_container_client(AZURE["container_name"])
    if container.exists():  # the session's Azurite outlives one test
        container.delete_container()

    planned = state_backend.bootstrap("azure-production", None, dry_run=True)
    assert (
        planned.record.steps[1].detail
        == f"skipped (dry run): would create container {AZURE['container_name']}"
    )
    assert not container.exists()

    for run in ("first", "second"):
        with pytest.raises(RunIncomplete, match="the Azure management API is not reachable here") as error:
            state_backend.bootstrap("azure-production", "azure-production", dry_run=False)
        assert error.value.exit_code == 5 and "\n" not in error.value.message
        steps = audit("azure-production")["steps"]
        assert steps[0]["detail"].startswith("skipped: the Azure management API is not reachable here")
        expected = "create container" if run == "first" else "unchanged: container"
        assert steps[1]["detail"].startswith(expected), steps[1]
    assert container.get_container_properties().name == AZURE["container_name"]


def test_a_connection_string_for_another_account_is_refused(azurite, monkeypatch):
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", azurite.replace(AZURE["storage_account_name"], "other")
    )
    with pytest.raises(runs.StepFailed, match="is for account 'other', the registry names"):
        state_backend.bootstrap("azure-production", "azure-production", dry_run=False)


def test_entra_id_credentials_come_from_the_variables_the_azurerm_backend_reads(monkeypatch):
    from azure.identity import ClientAssertionCredential, ClientSecretCredential, ManagedIdentityCredential

    monkeypatch.setenv("ARM_TENANT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("ARM_CLIENT_ID", "00000000-0000-0000-0000-000000000002")
    monkeypatch.setenv("ARM_USE_OIDC", "true")
    assert isinstance(state_backend.azure_credential(), ClientAssertionCredential)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL", raising=False)
    with pytest.raises(state_backend.StateBackendUnavailable, match="outside a GitHub Actions job"):
        state_backend.oidc_token()
    monkeypatch.setenv("ARM_CLIENT_SECRET", "not-a-secret")
    assert isinstance(state_backend.azure_credential(), ClientSecretCredential)
    monkeypatch.setenv("ARM_USE_MSI", "true")
    assert isinstance(state_backend.azure_credential(), ManagedIdentityCredential)
