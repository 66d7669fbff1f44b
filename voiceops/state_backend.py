"""The Terraform state backend of an environment's stack, made ready before its first plan
(`invoke tf.bootstrap`): Terraform cannot create what its own `init` needs, so this is boto3
and the Azure SDK.

Names come from terraform.backend_config, the partial backend configuration `tf.plan` hands
to `terraform init`, itself derived from the registry: what is created here is what init uses.

- S3 (AWS) and Linode Object Storage (its S3 API): the bucket, versioning on, default
  encryption, public access blocked (AWS; Linode has no such API, its buckets are created
  private). Locking is Terraform's S3 lockfile (`use_lockfile`): a `<key>.tflock` object
  written with a conditional PUT beside the state, so the bucket is all it needs.
- Azure Storage (account `st<workload><stage>tf`): the state container through the Blob
  service API; blob versioning, blob soft delete and container soft delete through the
  management API, the only one exposing all three. Locking is a blob lease: nothing to create.

Everything is read first and only what differs is changed, so a second run changes nothing.
"""

from __future__ import annotations

import functools
import json
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voiceops import terraform
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.runs import AuditRecord, Run, RunIncomplete, Step

S3Client = Any  # boto3 generates its clients' classes at run time

# The backend's `encrypt = true` without a kms_key_id writes every state object with SSE-S3,
# whatever the bucket's default; the default matches it, and an existing KMS default is kept.
DEFAULT_ENCRYPTION = "AES256"
ENCRYPTED = {"AES256", "aws:kms", "aws:kms:dsse"}
# Codes of an S3 API that has no bucket default encryption (Linode's answers one of these).
ENCRYPTION_NOT_OFFERED = {"NotImplemented", "MethodNotAllowed", "UnsupportedOperation"}
PUBLIC_ACCESS_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# Days a deleted or overwritten state blob, or a deleted container, stays recoverable (Azure).
SOFT_DELETE_DAYS = 30
LINODE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")  # what the S3 backend reads on Linode
# The Azure CLI's variable; with it (an account key or SAS) the container is reached without Entra ID.
CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"


class StateBackendUnavailable(OpsError):
    """The backend's API cannot be reached or the credentials are refused; nothing was changed."""

    exit_code = 5


@dataclass
class Changes:
    """What one part of the backend needed: changed (or, in a dry run, would change), already
    right, and what the endpoint does not offer."""

    dry_run: bool
    made: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    not_offered: list[str] = field(default_factory=list)

    def need(self, satisfied: bool, description: str, change: Callable[[], object], done: str) -> None:
        """Record `done` as kept when satisfied; otherwise make the change (not in a dry run)."""
        if satisfied:
            self.kept.append(done)
            return
        if not self.dry_run:
            change()
        self.made.append(description)

    def detail(self) -> str:
        notes = "".join(f"; {note}" for note in self.not_offered)
        if self.dry_run:
            if self.made:
                return f"skipped (dry run): would {', '.join(self.made)}{notes}"
            return f"skipped (dry run): nothing to change ({', '.join(self.kept)}){notes}"
        if self.made:
            return f"{', '.join(self.made)}{notes}"
        return f"unchanged: {', '.join(self.kept)}{notes}"


@dataclass
class BootstrapResult:
    record: AuditRecord
    changes: int  # changes made (or, in a dry run, that would be made)
    unchecked: list[str]  # why a part could not be looked at here (a dry run without credentials)

    def summary(self) -> str:
        if self.unchecked:
            return f"not checked here: {'; '.join(self.unchecked)}"
        if self.record.result == "dry-run":
            return f"would make {self.changes} change(s)" if self.changes else "nothing to change"
        return f"{self.changes} change(s) made" if self.changes else "nothing changed: already in place"


# --- S3: AWS and Linode Object Storage ------------------------------------------------------


def missing_s3_credentials(cloud: Cloud) -> str | None:
    """None when the S3 API's credentials are configured, else what is missing."""
    if cloud is Cloud.AWS:
        return terraform.missing_credentials(Cloud.AWS)
    if all(os.environ.get(name) for name in LINODE_KEYS):
        return None
    return f"no Linode Object Storage keys ({' + '.join(LINODE_KEYS)}, as the S3 backend reads them)"


def s3_client(environment: Environment, region: str) -> S3Client:
    import boto3  # slow to import, and only S3 backends need it
    from botocore.config import Config

    if environment.cloud is not Cloud.LINODE:
        return boto3.client("s3", region_name=region)
    # The variables boto3 itself reads for another S3 API (an emulator) win over the registry's.
    endpoint = (
        os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or terraform.linode_s3_endpoint(region)
    )
    # Linode refuses the checksums newer botocore adds unasked (the backend sets skip_s3_checksum).
    config = Config(
        request_checksum_calculation="when_required", response_checksum_validation="when_required"
    )
    # The endpoint names the region, so a bucket is created without a location constraint: S3
    # APIs take that from requests signed for us-east-1 (the signing region selects nothing here).
    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint, config=config)


def _check_aws_identity(environment: Environment, region: str) -> None:
    """Refused credentials are one line (exit 5), not an access-denied answer about the bucket."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.client("sts", region_name=region).get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise StateBackendUnavailable(
            f"{environment.name}: AWS credentials not usable ({error}); nothing was changed"
        ) from None


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _bucket_exists(s3: S3Client, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if _error_code(error) in ("404", "NoSuchBucket", "NotFound"):
            return False
        if _error_code(error) in ("403", "AccessDenied"):
            raise OpsError(
                f"bucket {bucket}: access denied: the credentials may not use it, or another "
                "account owns the name (bucket names are global)"
            ) from None
        raise
    return True


def _create_bucket(s3: S3Client, environment: Environment, bucket: str, region: str) -> None:
    if environment.cloud is Cloud.LINODE:
        s3.create_bucket(Bucket=bucket, ACL="private")  # the endpoint decides the region
    elif region == "us-east-1":
        s3.create_bucket(Bucket=bucket)  # us-east-1 refuses its own name as a location constraint
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def _default_encryption(s3: S3Client, bucket: str) -> str | None:
    """The bucket's default encryption algorithm, None when it has none."""
    from botocore.exceptions import ClientError

    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as error:
        if _error_code(error) == "ServerSideEncryptionConfigurationNotFoundError":
            return None
        raise
    return rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else None


def _public_access_block(s3: S3Client, bucket: str) -> dict[str, bool]:
    from botocore.exceptions import ClientError

    try:
        return dict(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"])
    except ClientError as error:
        if _error_code(error) == "NoSuchPublicAccessBlockConfiguration":
            return {}
        raise


def ensure_s3_bucket(environment: Environment, config: dict[str, str], dry_run: bool) -> Changes:
    """The state bucket, versioned, encrypted by default and (AWS) closed to the public."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, region = config["bucket"], config["region"]
    s3 = s3_client(environment, region)
    changes = Changes(dry_run)
    if environment.cloud is Cloud.AWS:
        _check_aws_identity(environment, region)
    try:
        exists = _bucket_exists(s3, bucket)
        create = functools.partial(_create_bucket, s3, environment, bucket, region)
        changes.need(exists, f"create bucket {bucket}", create, f"bucket {bucket}")
        created_now = not exists
        # A bucket a dry run would create has nothing to read yet: everything below is needed.
        versioning = (
            None if created_now and dry_run else s3.get_bucket_versioning(Bucket=bucket).get("Status")
        )
        changes.need(
            versioning == "Enabled",
            "enable versioning",
            lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
            "versioned",
        )
        _ensure_encryption(s3, environment, bucket, changes, created_now)
        if environment.cloud is Cloud.AWS:
            blocked = {} if created_now and dry_run else _public_access_block(s3, bucket)
            changes.need(
                all(blocked.get(name) for name in PUBLIC_ACCESS_BLOCKED),
                "block all public access",
                lambda: s3.put_public_access_block(
                    Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCKED
                ),
                "public access blocked",
            )
    except ClientError as error:
        raise OpsError(f"bucket {bucket}: {_error_code(error)}: {error}") from None
    except BotoCoreError as error:
        raise StateBackendUnavailable(
            f"{environment.name}: S3 API not reachable ({error}); nothing was changed"
        ) from None
    return changes


def _ensure_encryption(
    s3: S3Client, environment: Environment, bucket: str, changes: Changes, created_now: bool
) -> None:
    from botocore.exceptions import ClientError

    try:
        algorithm = None if created_now and changes.dry_run else _default_encryption(s3, bucket)
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": DEFAULT_ENCRYPTION}}
        changes.need(
            algorithm in ENCRYPTED,
            f"set default encryption {DEFAULT_ENCRYPTION}",
            lambda: s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]}
            ),
            f"encrypted ({algorithm})",
        )
    except ClientError as error:
        if environment.cloud is not Cloud.LINODE or _error_code(error) not in ENCRYPTION_NOT_OFFERED:
            raise
        changes.not_offered.append(
            f"default encryption not offered by Linode Object Storage ({_error_code(error)})"
        )


# --- Azure Storage -----------------------------------------------------------------------------


def azure_credential() -> Any:
    """Entra ID credentials from the variables the azurerm provider and backend read (ARM_*)."""
    from azure.identity import ClientAssertionCredential, ClientSecretCredential, ManagedIdentityCredential

    tenant, client = os.environ.get("ARM_TENANT_ID", ""), os.environ.get("ARM_CLIENT_ID", "")
    if os.environ.get("ARM_USE_MSI"):
        return ManagedIdentityCredential(client_id=client or None)
    if secret := os.environ.get("ARM_CLIENT_SECRET"):
        return ClientSecretCredential(tenant, client, secret)
    return ClientAssertionCredential(tenant, client, oidc_token)  # ARM_USE_OIDC


def oidc_token() -> str:
    """The federated token: ARM_OIDC_TOKEN, or the one GitHub's runner gives a job allowed
    `id-token: write`, for Entra ID's token exchange (as the azurerm provider fetches it)."""
    if token := os.environ.get("ARM_OIDC_TOKEN"):
        return token
    url, bearer = (
        os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
        os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    )
    if not url or not bearer or not url.startswith("https://"):
        raise StateBackendUnavailable("ARM_USE_OIDC without ARM_OIDC_TOKEN outside a GitHub Actions job")
    audience = "api://AzureADTokenExchange"
    headers = {"Authorization": f"Bearer {bearer}"}
    request = urllib.request.Request(f"{url}&audience={audience}", headers=headers)  # noqa: S310 (https only)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (https only)
        return json.load(response)["value"]


def _azure_error(account: str, error: Exception) -> OpsError:
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, ClientAuthenticationError | ServiceRequestError):
        return StateBackendUnavailable(
            f"storage account {account} not usable ({message}); nothing was changed"
        )
    return OpsError(f"storage account {account}: {message}")


def ensure_azure_container(config: dict[str, str], dry_run: bool) -> Changes | str:
    """The state container, through the Blob service API. A connection string (the Azure CLI's
    variable) reaches it with an account key; otherwise Entra ID, as the backend's
    use_azuread_auth. Returns a `skipped:` line when neither is configured."""
    from azure.core.exceptions import AzureError
    from azure.storage.blob import BlobServiceClient

    account, container = config["storage_account_name"], config["container_name"]
    connection_string = os.environ.get(CONNECTION_STRING)
    if connection_string:
        fields = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
        if fields.get("AccountName") != account:
            raise OpsError(
                f"{CONNECTION_STRING} is for account {fields.get('AccountName')!r}, "
                f"the registry names {account!r}"
            )
        service = BlobServiceClient.from_connection_string(connection_string)
    elif problem := terraform.missing_credentials(Cloud.AZURE):
        return f"skipped: {problem} nor {CONNECTION_STRING}; container {container} not checked"
    else:
        service = BlobServiceClient(f"https://{account}.blob.core.windows.net", credential=azure_credential())
    changes = Changes(dry_run)
    client = service.get_container_client(container)
    try:
        changes.need(
            client.exists(),
            f"create container {container}",
            client.create_container,
            f"container {container}",
        )
    except AzureError as error:
        raise _azure_error(account, error) from None
    return changes


def ensure_azure_account_settings(config: dict[str, str], dry_run: bool) -> Changes | str:
    """Blob versioning, blob and container soft delete on the state account: settings only the
    management API exposes. Returns a `skipped:` line without management credentials."""
    account, group = config["storage_account_name"], config["resource_group_name"]
    subscription = os.environ.get("ARM_SUBSCRIPTION_ID")
    problem = terraform.missing_credentials(Cloud.AZURE) or (
        None if subscription else "no ARM_SUBSCRIPTION_ID"
    )
    if problem or not subscription:
        return (
            f"skipped: the Azure management API is not reachable here ({problem}); blob versioning "
            f"and soft delete of {account} not checked"
        )
    from azure.core.exceptions import AzureError, ResourceNotFoundError
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.storage.models import DeleteRetentionPolicy

    client = StorageManagementClient(azure_credential(), subscription)
    changes = Changes(dry_run)
    try:
        properties = client.blob_services.get_service_properties(group, account)
    except ResourceNotFoundError:
        raise OpsError(
            f"storage account {account} not found in resource group {group}: create it (StorageV2, "
            "shared keys off) before tf.bootstrap; nothing was changed"
        ) from None
    except AzureError as error:
        raise _azure_error(account, error) from None

    def retained(policy: DeleteRetentionPolicy | None) -> bool:
        return bool(policy and policy.enabled and (policy.days or 0) >= SOFT_DELETE_DAYS)

    wanted = {
        "blob versioning": bool(properties.is_versioning_enabled),
        f"blob soft delete ({SOFT_DELETE_DAYS} days)": retained(properties.delete_retention_policy),
        f"container soft delete ({SOFT_DELETE_DAYS} days)": retained(
            properties.container_delete_retention_policy
        ),
    }
    missing = [name for name, present in wanted.items() if not present]

    def apply() -> None:
        properties.is_versioning_enabled = True
        properties.delete_retention_policy = DeleteRetentionPolicy(enabled=True, days=SOFT_DELETE_DAYS)
        properties.container_delete_retention_policy = DeleteRetentionPolicy(
            enabled=True, days=SOFT_DELETE_DAYS
        )
        try:
            client.blob_services.set_service_properties(group, account, properties)
        except AzureError as error:
            raise _azure_error(account, error) from None

    changes.need(not missing, f"turn on {', '.join(missing)}", apply, ", ".join(wanted))
    return changes


# --- the task ---------------------------------------------------------------------------------


def _skip_or_detail(outcome: Changes | str, counted: list[Changes]) -> str:
    if isinstance(outcome, str):
        return outcome
    counted.append(outcome)
    return outcome.detail()


def bootstrap_steps(
    environment: Environment, config: dict[str, str], dry_run: bool, counted: list[Changes]
) -> list[Step]:
    """The steps making the environment's backend ready; each is essential to a first plan."""
    if environment.cloud is Cloud.AZURE:

        def account_settings() -> str:
            return _skip_or_detail(ensure_azure_account_settings(config, dry_run), counted)

        def state_container() -> str:
            return _skip_or_detail(ensure_azure_container(config, dry_run), counted)

        account, container = config["storage_account_name"], config["container_name"]
        return [
            Step(f"state account {account}: versioning and soft delete", account_settings, essential=True),
            Step(f"state container {container}", state_container, essential=True),
        ]

    def bucket_step() -> str:
        if problem := missing_s3_credentials(environment.cloud):
            return f"skipped: {problem}; bucket {config['bucket']} not checked"
        return _skip_or_detail(ensure_s3_bucket(environment, config, dry_run), counted)

    return [Step(f"state bucket {config['bucket']}", bucket_step, essential=True)]


def bootstrap(name: str, confirm: str | None, dry_run: bool) -> BootstrapResult:
    """`tf.bootstrap`: the stack's state backend, inside an approved, locked, audited run."""
    stack = terraform.stack_for(name)
    environment = stack.environment
    config = terraform.backend_config(environment)
    counted: list[Changes] = []
    with Run("terraform-bootstrap", environment, {"backend": config}, confirm, dry_run) as run:
        run.execute(bootstrap_steps(environment, config, dry_run, counted))
    unchecked = [
        step.detail.removeprefix("skipped: ")
        for step in run.record.steps
        if step.detail.startswith("skipped:")
    ]
    if run.record.result == "incomplete":
        reasons = "; ".join(unchecked)
        raise RunIncomplete(f"{name}: state backend not ready: {reasons} (audit: {run.record.audit_file})")
    return BootstrapResult(run.record, sum(len(changes.made) for changes in counted), unchecked)
