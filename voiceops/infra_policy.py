"""Seed requirements of the Terraform code, checked on the HCL itself (python-hcl2).

Each requirement names its seed, the file that implements it and what must hold
there. `invoke tf.requirements` prints the table and fails on any broken one; the
policy tests prove every check fails once its requirement is taken away.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import yaml

from voiceops.errors import OpsError
from voiceops.toolchain import ROOT

INFRA = ROOT / "infra" / "terraform"
ENVIRONMENTS = ROOT / "environments"
MISSING = object()


class RequirementsBroken(OpsError):
    pass


def _clean(value: Any) -> Any:
    """python-hcl2 keeps quotes and ${} around values; strip them so checks compare plain values."""
    if isinstance(value, dict):
        return {_clean_key(key): _clean(item) for key, item in value.items() if not key.startswith("__")}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, str):
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            return value[1:-1]
        if value.startswith("${") and value.endswith("}") and value.count("${") == 1:
            return value[2:-1]
    return value


def _clean_key(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key.startswith('"') and key.endswith('"') else key


def parse_file(path: Path) -> dict[str, Any]:
    """One .tf file as {kind: {label...: body}}; repeated top-level blocks merged by kind."""
    with path.open() as handle:
        raw = hcl2.load(handle)
    merged: dict[str, Any] = {}
    for kind, blocks in raw.items():
        if not isinstance(blocks, list):
            merged[kind] = _clean(blocks)
            continue
        target = merged.setdefault(kind, {})
        for block in blocks:
            _merge(target, _clean(block))
    return merged


def _merge(target: dict, block: dict) -> None:
    for key, value in block.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


@dataclass
class Tree:
    """Every .tf file under infra/terraform (parsed) and every registry file (loaded)."""

    infra: dict[str, dict[str, Any]]  # path relative to infra/terraform -> parsed file
    registry: dict[str, dict[str, Any]]  # environment name -> registry document

    def get(self, file: str, *path: str) -> Any:
        """The value at `path` in `file`; a `key=value` step picks one of several repeated blocks."""
        node: Any = self.infra.get(file, MISSING)
        for step in path:
            if node is MISSING:
                return MISSING
            if isinstance(node, list):
                node = _select(node, step)
                continue
            node = node.get(step, MISSING) if isinstance(node, dict) else MISSING
        if isinstance(node, list) and len(node) == 1 and isinstance(node[0], dict):
            return node[0]
        return node

    def module_calls(self, module_dir: str) -> list[tuple[str, str, dict]]:
        """(file, name, body) of every module block whose source is infra/terraform/<module_dir>."""
        calls = []
        for file, parsed in self.infra.items():
            for name, body in parsed.get("module", {}).items():
                source = body.get("source", "")
                if (
                    isinstance(source, str)
                    and (INFRA / Path(file).parent / source).resolve() == (INFRA / module_dir).resolve()
                ):
                    calls.append((file, name, body))
        return calls


def _select(blocks: list, step: str) -> Any:
    if "=" in step:
        key, _, wanted = step.partition("=")
        for block in blocks:
            if isinstance(block, dict) and str(block.get(key)) == wanted:
                return block
        return MISSING
    # `dynamic` blocks parse as a list of one-key dicts: pick the one holding `step`
    holders = [block for block in blocks if isinstance(block, dict) and step in block]
    return holders[0][step] if len(holders) == 1 else MISSING


@cache
def _parsed(path: Path, mtime: float) -> dict[str, Any]:
    return parse_file(path)


def load_tree(infra: Path = INFRA, registry: Path = ENVIRONMENTS) -> Tree:
    files = {
        str(path.relative_to(infra)): copy.deepcopy(_parsed(path, path.stat().st_mtime))
        for path in sorted(infra.rglob("*.tf"))
        if ".terraform" not in path.parts
    }
    environments = {path.stem: yaml.safe_load(path.read_text()) for path in sorted(registry.glob("*.yaml"))}
    return Tree(files, environments)


# --- requirement kinds -------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    seed: str
    text: str
    where: str  # the file that implements it, relative to the repository
    check: Callable[[Tree], str | None]  # None when the requirement holds, else the problem
    # Takes the requirement away from a copy of the tree (the policy tests' breaker).
    remove: Callable[[Tree], None]


def _matches(actual: Any, expected: Any) -> bool:
    return expected(actual) if callable(expected) else actual == expected


def attribute(seed: str, text: str, file: str, path: tuple[str, ...], expected: Any) -> Requirement:
    """An attribute of a block in one file must hold a value (or pass a predicate)."""

    def check(tree: Tree) -> str | None:
        actual = tree.get(file, *path)
        if actual is MISSING:
            return f"{'.'.join(path)} is missing"
        if not _matches(actual, expected):
            return f"{'.'.join(path)} is {actual!r}"
        return None

    def remove(tree: Tree) -> None:
        parent = tree.get(file, *path[:-1])
        if isinstance(parent, dict):
            parent.pop(path[-1], None)

    return Requirement(seed, text, f"infra/terraform/{file}", check, remove)


def module_default(seed: str, text: str, module_dir: str, variable: str, expected: Any) -> Requirement:
    """A module variable's default must hold the value, and no caller may pass another."""
    file = f"{module_dir}/variables.tf"

    def check(tree: Tree) -> str | None:
        default = tree.get(file, "variable", variable, "default")
        if default is MISSING or not _matches(default, expected):
            return f"variable {variable} defaults to {None if default is MISSING else default!r}"
        for caller, name, body in tree.module_calls(module_dir):
            if variable in body and not _matches(body[variable], expected):
                return f"{caller}: module {name} sets {variable} = {body[variable]!r}"
        return None

    def remove(tree: Tree) -> None:
        block = tree.get(file, "variable", variable)
        if isinstance(block, dict):
            block.pop("default", None)

    return Requirement(seed, text, f"infra/terraform/{file}", check, remove)


def block(seed: str, text: str, file: str, path: tuple[str, ...]) -> Requirement:
    """A block must exist (a resource, a module call)."""

    def check(tree: Tree) -> str | None:
        return None if tree.get(file, *path) is not MISSING else f"{'.'.join(path)} is missing"

    def remove(tree: Tree) -> None:
        parent = tree.get(file, *path[:-1])
        if isinstance(parent, dict):
            parent.pop(path[-1], None)

    return Requirement(seed, text, f"infra/terraform/{file}", check, remove)


def registry(seed: str, text: str, environment: str, path: tuple[str, ...], expected: Any) -> Requirement:
    """A registry fact every stack reads (environments/<env>.yaml)."""

    def check(tree: Tree) -> str | None:
        node = _registry_node(tree, environment, path)
        if node is MISSING or not _matches(node, expected):
            return f"{'.'.join(path)} is {None if node is MISSING else node!r}"
        return None

    def remove(tree: Tree) -> None:
        parent = _registry_node(tree, environment, path[:-1])
        if isinstance(parent, dict):
            parent.pop(path[-1], None)

    return Requirement(seed, text, f"environments/{environment}.yaml", check, remove)


def _registry_node(tree: Tree, environment: str, path: tuple[str, ...]) -> Any:
    """Walk a registry document; in a list (node pools) a step names the item by its `name`."""
    node: Any = tree.registry.get(environment, MISSING)
    for step in path:
        if isinstance(node, list):
            node = next(
                (item for item in node if isinstance(item, dict) and item.get("name") == step), MISSING
            )
        else:
            node = node.get(step, MISSING) if isinstance(node, dict) else MISSING
    return node


def at_least(minimum: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and value >= minimum


def contains(*items: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(item in value for item in items)


# --- the requirements ----------------------------------------------------------------------

AWS = "modules/aws"
AZ = "modules/azure"
LIN = "modules/linode"
RDS = ("resource", "aws_db_instance", "this")
REDIS = ("resource", "aws_elasticache_replication_group", "this")
EKS = ("resource", "aws_eks_cluster", "this")
AKS = ("resource", "azurerm_kubernetes_cluster", "this")
PG = ("resource", "azurerm_postgresql_flexible_server", "primary")
AZREDIS = ("resource", "azurerm_redis_cache", "this")
STORAGE = ("resource", "azurerm_storage_account", "this")
VAULT = ("resource", "azurerm_key_vault", "this")
BLOB_POLICY = ("resource", "azurerm_storage_management_policy", "this", "rule", "actions", "base_blob")

REQUIREMENTS: tuple[Requirement, ...] = (
    # Seed 003 / 000: AWS network
    registry("003", "VPC 10.0.0.0/16 over three zones", "live", ("network", "cidr"), "10.0.0.0/16"),
    registry(
        "003",
        "public subnets 10.0.1-3.0/24",
        "live",
        ("network", "subnets", "public"),
        ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"],
    ),
    registry(
        "003",
        "private subnets 10.0.10/20/30.0/24",
        "live",
        ("network", "subnets", "private"),
        ["10.0.10.0/24", "10.0.20.0/24", "10.0.30.0/24"],
    ),
    attribute(
        "003",
        "a NAT gateway per zone",
        f"{AWS}/network/main.tf",
        ("resource", "aws_nat_gateway", "this", "for_each"),
        "local.public",
    ),
    attribute(
        "003",
        "each private subnet routes through its own zone's NAT gateway",
        f"{AWS}/network/main.tf",
        ("resource", "aws_route", "private_nat", "for_each"),
        "local.private",
    ),
    attribute(
        "003",
        "VPC flow logs of all traffic",
        f"{AWS}/network/main.tf",
        ("resource", "aws_flow_log", "this", "traffic_type"),
        "ALL",
    ),
    # EKS
    attribute("000", "EKS Auto Mode", f"{AWS}/eks/main.tf", (*EKS, "compute_config", "enabled"), True),
    attribute(
        "000",
        "EKS secrets encrypted with KMS",
        f"{AWS}/eks/main.tf",
        (*EKS, "encryption_config", "resources"),
        ["secrets"],
    ),
    attribute(
        "000",
        "EKS private API endpoint",
        f"{AWS}/eks/main.tf",
        (*EKS, "vpc_config", "endpoint_private_access"),
        True,
    ),
    attribute(
        "000",
        "EKS access entries (no aws-auth ConfigMap)",
        f"{AWS}/eks/main.tf",
        (*EKS, "access_config", "authentication_mode"),
        "API",
    ),
    block(
        "003",
        "Pod Identity for workloads (IRSA successor)",
        f"{AWS}/eks/main.tf",
        ("resource", "aws_eks_pod_identity_association", "workload"),
    ),
    attribute(
        "000",
        "EKS multi-AZ: subnets in at least two zones",
        f"{AWS}/eks/variables.tf",
        ("variable", "subnet_ids", "validation", "condition"),
        "length(var.subnet_ids) >= 2",
    ),
    # ElastiCache
    module_default("003", "Redis cluster mode with 3 shards", f"{AWS}/redis", "shards", 3),
    module_default("003", "Redis 1 replica per shard", f"{AWS}/redis", "replicas_per_shard", 1),
    attribute(
        "003",
        "Redis shards come from the shards input",
        f"{AWS}/redis/main.tf",
        (*REDIS, "num_node_groups"),
        "var.shards",
    ),
    attribute(
        "003", "Redis cluster mode enabled", f"{AWS}/redis/main.tf", (*REDIS, "cluster_mode"), "enabled"
    ),
    attribute("000", "Redis Multi-AZ", f"{AWS}/redis/main.tf", (*REDIS, "multi_az_enabled"), True),
    attribute(
        "000",
        "Redis automatic failover",
        f"{AWS}/redis/main.tf",
        (*REDIS, "automatic_failover_enabled"),
        True,
    ),
    attribute(
        "003", "Redis TLS in transit", f"{AWS}/redis/main.tf", (*REDIS, "transit_encryption_enabled"), True
    ),
    attribute(
        "003",
        "Redis AUTH token",
        f"{AWS}/redis/main.tf",
        (*REDIS, "auth_token"),
        "random_password.auth.result",
    ),
    attribute(
        "003", "Redis encrypted at rest", f"{AWS}/redis/main.tf", (*REDIS, "at_rest_encryption_enabled"), True
    ),
    module_default(
        "000", "Redis daily snapshots kept", f"{AWS}/redis", "snapshot_retention_days", at_least(1)
    ),
    module_default("003", "Redis 7.0 on cache.r6g.large", f"{AWS}/redis", "node_type", "cache.r6g.large"),
    # RDS
    module_default("003", "RDS PostgreSQL Multi-AZ", f"{AWS}/postgresql", "multi_az", True),
    attribute(
        "003",
        "RDS Multi-AZ taken from its input",
        f"{AWS}/postgresql/main.tf",
        (*RDS, "multi_az"),
        "var.multi_az",
    ),
    module_default(
        "003",
        "RDS backups kept 30 days (point-in-time recovery)",
        f"{AWS}/postgresql",
        "backup_retention_days",
        30,
    ),
    attribute(
        "003",
        "RDS backup retention taken from its input",
        f"{AWS}/postgresql/main.tf",
        (*RDS, "backup_retention_period"),
        "var.backup_retention_days",
    ),
    attribute("003", "RDS storage encrypted", f"{AWS}/postgresql/main.tf", (*RDS, "storage_encrypted"), True),
    module_default("003", "RDS db.r6g.large", f"{AWS}/postgresql", "instance_class", "db.r6g.large"),
    module_default("003", "RDS 100 GB gp3 to start", f"{AWS}/postgresql", "allocated_storage_gb", 100),
    attribute(
        "003",
        "RDS storage autoscaling",
        f"{AWS}/postgresql/main.tf",
        (*RDS, "max_allocated_storage"),
        "var.max_allocated_storage_gb",
    ),
    attribute(
        "000",
        "RDS deletion protection in production-class environments (live)",
        f"{AWS}/platform/main.tf",
        ("module", "postgresql", "deletion_protection"),
        "local.production",
    ),
    # S3, ECR, Secrets Manager, WAF, security services
    attribute(
        "000",
        "egress bucket: versioning",
        f"{AWS}/bucket/main.tf",
        ("resource", "aws_s3_bucket_versioning", "this", "versioning_configuration", "status"),
        "Enabled",
    ),
    attribute(
        "000",
        "egress bucket: SSE-KMS",
        f"{AWS}/bucket/main.tf",
        (
            "resource",
            "aws_s3_bucket_server_side_encryption_configuration",
            "this",
            "rule",
            "apply_server_side_encryption_by_default",
            "sse_algorithm",
        ),
        "aws:kms",
    ),
    attribute(
        "000",
        "egress bucket: public access blocked",
        f"{AWS}/bucket/main.tf",
        ("resource", "aws_s3_bucket_public_access_block", "this", "restrict_public_buckets"),
        True,
    ),
    attribute(
        "000",
        "egress bucket: lifecycle (IA 30 d, Glacier 90 d, expiry 365 d)",
        f"{AWS}/platform/main.tf",
        ("module", "egress_bucket", "lifecycle_rules"),
        {"infrequent_access_days": 30, "glacier_days": 90, "expire_days": 365},
    ),
    attribute(
        "003",
        "ECR scan on push",
        f"{AWS}/ecr/main.tf",
        ("resource", "aws_ecr_repository", "this", "image_scanning_configuration", "scan_on_push"),
        True,
    ),
    attribute(
        "003",
        "Secrets Manager entries encrypted with KMS",
        f"{AWS}/secrets/main.tf",
        ("resource", "aws_secretsmanager_secret", "this", "kms_key_id"),
        "var.kms_key_arn",
    ),
    block("003", "WAF in front of the ALB", f"{AWS}/platform/main.tf", ("module", "alb_waf")),
    attribute(
        "003",
        "the WAF is attached to the ingress ALB",
        f"{AWS}/platform/main.tf",
        ("resource", "aws_wafv2_web_acl_association", "ingress_alb", "web_acl_arn"),
        "module.alb_waf.arn",
    ),
    attribute(
        "003",
        "WAF known-bad-inputs rules (Log4Shell)",
        f"{AWS}/waf/main.tf",
        (
            "resource",
            "aws_wafv2_web_acl",
            "this",
            "rule",
            "name=AWSManagedRulesKnownBadInputsRuleSet",
            "priority",
        ),
        20,
    ),
    attribute(
        "003",
        "CloudTrail across regions with log validation",
        f"{AWS}/security-baseline/main.tf",
        ("resource", "aws_cloudtrail", "this", "enable_log_file_validation"),
        True,
    ),
    module_default("003", "GuardDuty on", f"{AWS}/security-baseline", "enable_guardduty", True),
    module_default("003", "Security Hub on", f"{AWS}/security-baseline", "enable_security_hub", True),
    module_default("003", "CloudTrail on", f"{AWS}/security-baseline", "enable_cloudtrail", True),
    # MSK, OpenSearch, edge, recovery region
    attribute(
        "003",
        "MSK TLS between clients and brokers",
        f"{AWS}/kafka/main.tf",
        ("resource", "aws_msk_cluster", "this", "encryption_info", "encryption_in_transit", "client_broker"),
        "TLS",
    ),
    attribute(
        "003",
        "MSK encrypted at rest with KMS",
        f"{AWS}/kafka/main.tf",
        ("resource", "aws_msk_cluster", "this", "encryption_info", "encryption_at_rest_kms_key_arn"),
        "var.kms_key_arn",
    ),
    attribute(
        "003",
        "MSK brokers in the private subnets",
        f"{AWS}/platform/main.tf",
        ("module", "kafka", "subnet_ids"),
        "module.network.private_subnet_ids",
    ),
    attribute(
        "003",
        "OpenSearch encrypted at rest",
        f"{AWS}/opensearch/main.tf",
        ("resource", "aws_opensearch_domain", "this", "encrypt_at_rest", "enabled"),
        True,
    ),
    attribute(
        "003",
        "OpenSearch node-to-node encryption",
        f"{AWS}/opensearch/main.tf",
        ("resource", "aws_opensearch_domain", "this", "node_to_node_encryption", "enabled"),
        True,
    ),
    attribute(
        "003",
        "OpenSearch in the private subnets",
        f"{AWS}/platform/main.tf",
        ("module", "opensearch", "subnet_ids"),
        "module.network.private_subnet_ids",
    ),
    attribute(
        "003",
        "CloudFront redirects to HTTPS",
        f"{AWS}/edge/main.tf",
        (
            "resource",
            "aws_cloudfront_distribution",
            "this",
            "default_cache_behavior",
            "viewer_protocol_policy",
        ),
        "redirect-to-https",
    ),
    block("003", "Route 53 zone", f"{AWS}/edge/main.tf", ("resource", "aws_route53_zone", "this")),
    registry(
        "003",
        "recovery region us-east-1 beside us-west-2",
        "live",
        ("regions", "disaster_recovery"),
        "us-east-1",
    ),
    attribute(
        "003",
        "RDS cross-region read replica",
        f"{AWS}/postgresql-replica/main.tf",
        ("resource", "aws_db_instance", "this", "replicate_source_db"),
        "var.source_db_arn",
    ),
    attribute(
        "003",
        "S3 cross-region replication of recordings",
        f"{AWS}/platform/main.tf",
        ("module", "egress_bucket", "replication"),
        lambda value: "egress_replica" in str(value),
    ),
    registry("003", "RPO 15 minutes, RTO 4 hours", "live", ("disaster_recovery", "rpo_minutes"), 15),
    # Seed 000: releases from the catalog through helm_release
    attribute(
        "000",
        "releases installed by helm_release from the release catalog",
        f"{AWS}/platform/releases.tf",
        ("module", "catalog", "source"),
        "../../logic/release-catalog",
    ),
    attribute(
        "000",
        "helm_release atomic with the catalog's timeout",
        "modules/kubernetes/release-wave/main.tf",
        ("resource", "helm_release", "this", "atomic"),
        True,
    ),
    # Seed 004: Azure
    registry(
        "004",
        "livekit pool tainted livekit=true:NoSchedule, 2-10 x Standard_D8s_v3",
        "azure-production",
        ("cluster", "node_pools", "livekit", "taints"),
        ["livekit=true:NoSchedule"],
    ),
    registry(
        "004",
        "agents pool tainted agents=true:NoSchedule, 4-20 nodes",
        "azure-production",
        ("cluster", "node_pools", "agents", "taints"),
        ["agents=true:NoSchedule"],
    ),
    registry(
        "004",
        "agents pool scales to 20 nodes",
        "azure-production",
        ("cluster", "node_pools", "agents", "max_nodes"),
        20,
    ),
    attribute(
        "004",
        "AKS pools carry their taints",
        f"{AZ}/aks/main.tf",
        ("resource", "azurerm_kubernetes_cluster_node_pool", "this", "node_taints"),
        "each.value.node_taints",
    ),
    attribute("004", "Azure CNI", f"{AZ}/aks/main.tf", (*AKS, "network_profile", "network_plugin"), "azure"),
    attribute(
        "004",
        "Azure network policy",
        f"{AZ}/aks/main.tf",
        (*AKS, "network_profile", "network_policy"),
        "azure",
    ),
    attribute(
        "004",
        "Entra ID integration with Azure RBAC",
        f"{AZ}/aks/main.tf",
        (*AKS, "azure_active_directory_role_based_access_control", "azure_rbac_enabled"),
        True,
    ),
    attribute(
        "004",
        "autoscaler: scale-down utilisation 0.5",
        f"{AZ}/aks/main.tf",
        (*AKS, "auto_scaler_profile", "scale_down_utilization_threshold"),
        "0.5",
    ),
    attribute(
        "004",
        "PostgreSQL zone-redundant HA",
        f"{AZ}/postgresql/main.tf",
        (*PG, "high_availability", "mode"),
        "ZoneRedundant",
    ),
    module_default("004", "PostgreSQL 2 read replicas", f"{AZ}/postgresql", "read_replicas", 2),
    attribute(
        "004",
        "PostgreSQL private (VNet-injected, no public access)",
        f"{AZ}/postgresql/main.tf",
        (*PG, "public_network_access_enabled"),
        False,
    ),
    attribute(
        "004",
        "PostgreSQL geo-redundant backups",
        f"{AZ}/postgresql/main.tf",
        (*PG, "geo_redundant_backup_enabled"),
        True,
    ),
    attribute("004", "Redis Premium", f"{AZ}/redis/main.tf", (*AZREDIS, "sku_name"), "Premium"),
    module_default("004", "Redis P2", f"{AZ}/redis", "capacity", 2),
    module_default("004", "Redis clustered in 3 shards", f"{AZ}/redis", "shard_count", 3),
    attribute(
        "004", "Blob storage GRS", f"{AZ}/storage/main.tf", (*STORAGE, "account_replication_type"), "GRS"
    ),
    module_default(
        "004",
        "containers conversations, uploads, recordings, backups",
        f"{AZ}/storage",
        "containers",
        contains("conversations", "uploads", "recordings", "backups"),
    ),
    module_default(
        "004",
        "lifecycle: cool 30 d, archive 90 d, delete 365 d",
        f"{AZ}/storage",
        "lifecycle_days",
        {"cool": 30, "archive": 90, "delete": 365},
    ),
    attribute(
        "004",
        "lifecycle rule applies the cool tier",
        f"{AZ}/storage/main.tf",
        (*BLOB_POLICY, "tier_to_cool_after_days_since_modification_greater_than"),
        "var.lifecycle_days.cool",
    ),
    attribute(
        "004",
        "Key Vault purge protection",
        f"{AZ}/key-vault/main.tf",
        (*VAULT, "purge_protection_enabled"),
        True,
    ),
    attribute(
        "004",
        "Key Vault soft delete retention",
        f"{AZ}/key-vault/main.tf",
        (*VAULT, "soft_delete_retention_days"),
        "var.soft_delete_retention_days",
    ),
    attribute(
        "004",
        "Application Gateway WAF_v2",
        f"{AZ}/app-gateway/main.tf",
        ("resource", "azurerm_application_gateway", "this", "sku", "tier"),
        "WAF_v2",
    ),
    attribute(
        "004",
        "separate WAF policy attached to the gateway",
        f"{AZ}/app-gateway/main.tf",
        ("resource", "azurerm_application_gateway", "this", "firewall_policy_id"),
        "azurerm_web_application_firewall_policy.this.id",
    ),
    attribute(
        "004",
        "WAF OWASP CRS 3.2",
        f"{AZ}/app-gateway/main.tf",
        (
            "resource",
            "azurerm_web_application_firewall_policy",
            "this",
            "managed_rules",
            "managed_rule_set",
            "type=OWASP",
            "version",
        ),
        "3.2",
    ),
    attribute(
        "004",
        "Standard Load Balancer for LiveKit",
        f"{AZ}/livekit-balancer/main.tf",
        ("resource", "azurerm_lb", "this", "sku"),
        "Standard",
    ),
    attribute(
        "004",
        "ACR Premium",
        f"{AZ}/container-registry/main.tf",
        ("resource", "azurerm_container_registry", "this", "sku"),
        "Premium",
    ),
    registry(
        "004",
        "ACR geo-replicated to West EU",
        "azure-production",
        ("regions", "secondary"),
        contains("westeurope", "southeastasia"),
    ),
    attribute(
        "004",
        "ACR replicas follow the registry's secondary region",
        "stacks/azure/production/main.tf",
        ("module", "registry", "replica_locations"),
        ["module.context.regions.secondary[0]"],
    ),
    module_default("004", "Log Analytics 30 days", f"{AZ}/monitoring", "retention_days", 30),
    module_default("004", "audit logs 90 days", f"{AZ}/monitoring", "audit_retention_days", 90),
    block(
        "004",
        "Application Insights",
        f"{AZ}/monitoring/main.tf",
        ("resource", "azurerm_application_insights", "this"),
    ),
    block(
        "004",
        "Traffic Manager across the regions",
        "stacks/azure/production/main.tf",
        ("module", "traffic_manager"),
    ),
    registry(
        "004",
        "subnets kept inside 10.0.0.0/16 (seed's 10.1-10.3.x rejected)",
        "azure-production",
        ("network", "subnets", "db"),
        ["10.0.16.0/24"],
    ),
    # Seed 002: Linode
    registry(
        "002",
        "baseline pool g6-standard-8",
        "production",
        ("cluster", "node_pools", "baseline", "instance_type"),
        "g6-standard-8",
    ),
    registry(
        "002",
        "baseline pool autoscales to 10",
        "production",
        ("cluster", "node_pools", "baseline", "max_nodes"),
        10,
    ),
    registry(
        "002", "GPU pool of 2 RTX6000 nodes", "production", ("cluster", "node_pools", "gpu", "min_nodes"), 2
    ),
    attribute(
        "002",
        "LKE pools autoscale within their bounds",
        f"{LIN}/lke/main.tf",
        (
            "resource",
            "linode_lke_cluster",
            "this",
            "dynamic",
            "pool",
            "content",
            "dynamic",
            "autoscaler",
            "content",
            "max",
        ),
        "autoscaler.value.max",
    ),
    attribute(
        "002",
        "Cloud Firewall drops unlisted inbound traffic",
        f"{LIN}/firewall/main.tf",
        ("resource", "linode_firewall", "this", "inbound_policy"),
        "DROP",
    ),
    module_default(
        "002",
        "managed PostgreSQL per service, analytics with TimescaleDB",
        f"{LIN}/databases",
        "databases",
        lambda value: (
            isinstance(value, dict)
            and value.get("analytics", {}).get("timescaledb") is True
            and "users" in value
        ),
    ),
    module_default(
        "002",
        "buckets for analytics exports, backups, Terraform state",
        f"{LIN}/object-storage",
        "buckets",
        lambda value: (
            isinstance(value, dict) and {"analytics-exports", "backups", "terraform-state"} <= set(value)
        ),
    ),
    block("002", "Linode DNS zone", f"{LIN}/dns/main.tf", ("resource", "linode_domain", "this")),
    registry("002", "RPO 24 hours, RTO 4 hours", "production", ("disaster_recovery", "rpo_minutes"), 1440),
)


@dataclass(frozen=True)
class Outcome:
    requirement: Requirement
    problem: str | None


def evaluate(tree: Tree | None = None) -> list[Outcome]:
    tree = tree or load_tree()
    return [Outcome(requirement, requirement.check(tree)) for requirement in REQUIREMENTS]


def enforce(tree: Tree | None = None) -> list[Outcome]:
    outcomes = evaluate(tree)
    broken = [outcome for outcome in outcomes if outcome.problem]
    if broken:
        first = broken[0]
        raise RequirementsBroken(
            f"{len(broken)} seed requirement(s) broken; first: seed {first.requirement.seed} "
            f"{first.requirement.text} ({first.requirement.where}: {first.problem})"
        )
    return outcomes
