"""Velero's backups of cluster state: where each environment that installs Velero backs up to,
and whether its stack really provides that place.

A backup location is written once, in the environment's values file; each cloud's stack makes
(AWS) or checks (Azure, Linode: an output precondition) the bucket it names. What is checked
here, from the repository alone (no chart render, no cloud):

- one default location, and a schedule that backs up to it;
- the object store plugin its provider needs, among the server's init containers;
- on AWS: the platform module makes the bucket from the values file, in the cluster's region,
  and the velero role's policy is the backups policy, not another release's;
- on Azure: the container is one of the storage module's, the velero identity holds a role on
  it, and the stack checks the account and resource group names;
- on Linode: the bucket is the object-storage module's `backups` bucket in the cluster's
  region, and the key Secret the location names is a bundle secret read by Velero.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from voiceops import catalog, infra_policy, secret_bundles, terraform
from voiceops.environments import Cloud, Environment

RELEASE = "velero"
PLUGINS = {"aws": "velero/velero-plugin-for-aws", "azure": "velero/velero-plugin-for-microsoft-azure"}
PROVIDERS = {Cloud.AWS: "aws", Cloud.AZURE: "azure", Cloud.LINODE: "aws"}  # Linode: the S3 API
AWS_MODULE = "modules/aws/platform"
AZURE_STACK = "stacks/azure/production"
LINODE_STACK = "stacks/linode/platform"
LINODE_BUCKETS = ("modules/linode/object-storage", "var.buckets", "default")


@dataclass(frozen=True)
class Finding:
    target: str  # what the location needs
    problem: str  # empty when provided

    @property
    def ok(self) -> bool:
        return not self.problem


def velero_release(environment: Environment) -> catalog.Release | None:
    return next((item for item in catalog.releases_for(environment) if item.name == RELEASE), None)


def locations(values: dict) -> list[dict]:
    configured = (values.get("configuration") or {}).get("backupStorageLocation") or []
    return [item for item in configured if isinstance(item, dict)]


def _contains(value: object, text: str) -> bool:
    return value is not infra_policy.MISSING and text in str(value)


def _aws(environment: Environment, location: dict) -> Iterator[Finding]:
    bucket = location.get("bucket", "")
    reads = infra_policy.module_value(AWS_MODULE, "local.velero_location", "")
    made = infra_policy.module_value(AWS_MODULE, "module.velero_bucket", "name")
    yield Finding(
        f"bucket {bucket} (modules/aws/platform/velero.tf)",
        "" if _contains(reads, "velero.yaml") and _contains(made, "velero_location.bucket")
        else "the AWS platform module does not make the bucket the values file names",
    )  # fmt: skip
    region = (location.get("config") or {}).get("region")
    primary = environment.regions.primary
    yield Finding(f"region {region}", "" if region == primary else f"the cluster's region is {primary}")
    roles = infra_policy.module_value(AWS_MODULE, "module.eks", "workload_roles")
    policy = roles.get(RELEASE, {}).get("policy_json") if isinstance(roles, dict) else None
    yield Finding(
        "role velero: the backups policy",
        "" if _contains(policy, "velero_backups") else f"the velero role's policy is {policy or 'missing'}",
    )


def _azure(location: dict) -> Iterator[Finding]:
    container = location.get("bucket", "")
    containers = infra_policy.module_value("modules/azure/storage", "var.containers", "default")
    yield Finding(
        f"container {container}",
        "" if isinstance(containers, list) and container in containers
        else "not a container of the storage module",
    )  # fmt: skip
    bindings = infra_policy.module_value(AZURE_STACK, "module.workload_identity", "bindings")
    roles = bindings.get(RELEASE, {}).get("roles", {}) if isinstance(bindings, dict) else {}
    scopes = [str(role.get("scope", "")) for role in roles.values()] if isinstance(roles, dict) else []
    yield Finding(
        f"identity velero: a role on container {container}",
        "" if any(f'container_ids["{container}"]' in scope for scope in scopes)
        else "the velero identity has no role on the container",
    )  # fmt: skip
    checked = infra_policy.module_value(AZURE_STACK, "output.velero_backup_location", "precondition")
    yield Finding(
        "storage account and resource group checked by the stack",
        "" if checked is not infra_policy.MISSING else "the Azure stack does not check the location's names",
    )


def _linode(environment: Environment, location: dict) -> Iterator[Finding]:
    settings = environment.terraform  # Velero is installed by the cluster's owner: its stack
    expected = f"{settings.workload}-{settings.stage}-backups" if settings else "(no stack)"
    buckets = infra_policy.module_value(*LINODE_BUCKETS)
    yield Finding(
        f"bucket {location.get('bucket', '')}",
        "" if location.get("bucket") == expected and isinstance(buckets, dict) and "backups" in buckets
        else f"the stack's backups bucket is {expected}",
    )  # fmt: skip
    endpoint = terraform.linode_s3_endpoint(environment.regions.primary)
    url = (location.get("config") or {}).get("s3Url")
    yield Finding(
        f"endpoint {url}", "" if url == endpoint else f"the cluster's region is served at {endpoint}"
    )
    name = (location.get("credential") or {}).get("name", "")
    declared = {item.name for item in secret_bundles.for_environment(environment) if RELEASE in item.releases}
    yield Finding(
        f"key Secret {name or '(none)'}",
        "" if name and name in declared else "no bundle secret read by velero carries the bucket's key",
    )


def check(environment: Environment) -> list[Finding]:
    """What the environment's backup location needs, each provided or not; empty when the
    environment does not install Velero."""
    release = velero_release(environment)
    if release is None:
        return []
    values = catalog.merged_values(release)
    defaults = [item for item in locations(values) if item.get("default")]
    if len(defaults) != 1:
        return [Finding("a default backup location", f"{len(defaults)} default location(s) in the values")]
    location = defaults[0]
    provider = location.get("provider", "")
    findings = [
        Finding(
            f"provider {provider}",
            ""
            if provider == PROVIDERS.get(environment.cloud)
            else f"{environment.cloud.value} takes {PROVIDERS.get(environment.cloud)}",
        )
    ]
    images = [str(item.get("image", "")) for item in values.get("initContainers") or []]
    plugin = PLUGINS.get(provider, "")
    findings.append(Finding(
        f"plugin {plugin or provider}",
        "" if plugin and any(image.startswith(f"{plugin}:") for image in images)
        else "no init container copies the provider's plugin in",
    ))  # fmt: skip
    name = location.get("name") or "default"
    schedules = values.get("schedules") or {}
    findings.append(Finding(
        f"a schedule backing up to {name}",
        "" if any((item.get("template") or {}).get("storageLocation") == name for item in schedules.values())
        else "no schedule names the location",
    ))  # fmt: skip
    if environment.cloud is Cloud.AWS:
        findings += _aws(environment, location)
    elif environment.cloud is Cloud.AZURE:
        findings += _azure(location)
    elif environment.cloud is Cloud.LINODE:
        findings += _linode(environment, location)
    return findings
