"""infra/terraform against the pinned provider schemas (`invoke tf.schemas`), offline from the
cache that scripts/bootstrap.py fills; broken copies of modules show each kind of finding."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from voiceops import provider_schema_check, provider_schemas
from voiceops.provider_schema_check import INFRA, ProviderSchema, check_stacks


@pytest.fixture(scope="module")
def schemas() -> dict[str, ProviderSchema]:
    try:
        return provider_schema_check.load_schemas()
    except provider_schemas.SchemasUnavailable as error:
        missing = str(error)
    pytest.fail(f"provider schemas are not cached: {missing}", pytrace=False)


def copy_of(tmp_path: Path, module: str) -> Path:
    """A module or stack directory copied under tmp_path, symlinks resolved."""
    target = tmp_path / module
    shutil.copytree(INFRA / module, target, symlinks=False)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} should contain {old!r} once"
    path.write_text(text.replace(old, new))


def messages(root: Path, schemas: dict[str, ProviderSchema]) -> list[str]:
    return [str(finding) for finding in check_stacks(root, schemas).findings]


def test_the_tree_matches_every_provider_schema(schemas):
    result = check_stacks(schemas=schemas)
    assert not result.findings, "\n".join(map(str, result.findings))
    providers = {label.split()[0] for label in result.checked}
    assert providers == {"aws", "azurerm", "helm", "kubernetes", "linode", "random"}
    assert result.checked.total() > 150


def test_the_extracted_schemas_know_blocks_attributes_and_read_only_attributes(schemas):
    aws, helm, azurerm = schemas["aws"], schemas["helm"], schemas["azurerm"]
    assert "versioning" in aws.resources["aws_s3_bucket"]["blocks"]
    assert "arn" in aws.resources["aws_eks_cluster"]["computed"]
    assert "subnet_ids" in aws.resources["aws_eks_cluster"]["blocks"]["vpc_config"]["required"]
    # helm 3.x: `set` and the provider's `kubernetes` are attributes holding objects
    assert "set" in helm.resources["helm_release"]["object_lists"]
    assert "kubernetes" in helm.provider["objects"]
    assert not helm.resources["helm_release"].get("blocks")
    # a list(object) attribute Terraform also takes as blocks
    assert "security_rule" in azurerm.resources["azurerm_network_security_group"]["attributes_as_blocks"]


def test_a_misspelled_argument_is_named_with_its_line_and_the_likely_intent(tmp_path, schemas):
    module = copy_of(tmp_path, "modules/azure/monitoring")
    edit(module / "main.tf", "  retention_in_days   =", "  retention_in_dayz   =")
    assert messages(tmp_path, schemas) == [
        f"{module / 'main.tf'}:6: azurerm_log_analytics_workspace.this.retention_in_dayz: "
        "unknown argument retention_in_dayz in azurerm 4.50.0 (did you mean retention_in_days?)"
    ]


def test_an_unknown_resource_type_is_found(tmp_path, schemas):
    module = copy_of(tmp_path, "modules/aws/waf")
    edit(module / "main.tf", 'resource "aws_cloudwatch_log_group"', 'resource "aws_cloudwatch_loggroup"')
    [finding] = messages(tmp_path, schemas)
    assert finding.endswith(
        "aws_cloudwatch_loggroup.this: unknown resource type aws_cloudwatch_loggroup in aws 6.25.0 "
        "(did you mean aws_cloudwatch_log_group?)"
    )


def test_a_missing_required_argument_is_found(tmp_path, schemas):
    module = copy_of(tmp_path, "modules/kubernetes/release-wave")
    edit(module / "main.tf", "  chart            = each.value.chart\n", "")
    [finding] = messages(tmp_path, schemas)
    assert finding.endswith("main.tf:1: helm_release.this: missing required argument chart")


def test_a_required_argument_inside_a_dynamic_block_is_checked(tmp_path, schemas):
    module = copy_of(tmp_path, "modules/linode/lke")
    edit(module / "main.tf", "      type        = pool.value.type\n", "")
    [finding] = messages(tmp_path, schemas)
    assert "linode_lke_cluster.this.pool: missing required argument type" in finding


def test_an_attribute_written_as_a_block_is_found(tmp_path, schemas):
    stack = copy_of(tmp_path, "stacks/aws/_root")
    edit(stack / "providers.tf", 'provider "helm" {\n  kubernetes = {', 'provider "helm" {\n  kubernetes {')
    [finding] = messages(tmp_path, schemas)
    assert finding.endswith(
        "provider.helm.kubernetes: kubernetes is an attribute, not a block: write kubernetes = { ... }"
    )


def test_helm_3_set_written_as_a_block_is_found(tmp_path, schemas):
    module = copy_of(tmp_path, "modules/kubernetes/release-wave")
    edit(
        module / "main.tf",
        "  max_history       = 10\n",
        '  max_history       = 10\n  set {\n    name  = "a"\n    value = "b"\n  }\n',
    )
    [finding] = messages(tmp_path, schemas)
    assert finding.endswith("helm_release.this.set: set is an attribute, not a block: write set = [{ ... }]")


def test_a_block_written_as_an_attribute_is_found(tmp_path, schemas):
    module = copy_of(tmp_path, "modules/aws/waf")
    edit(module / "main.tf", "  default_action {\n    allow {}\n  }", "  default_action = { allow = {} }")
    [finding] = messages(tmp_path, schemas)
    assert "aws_wafv2_web_acl.this.default_action: default_action is a block, not an attribute" in finding


def test_a_read_only_attribute_set_is_found(tmp_path, schemas):
    module = copy_of(tmp_path, "modules/aws/waf")
    edit(module / "main.tf", "  tags = var.tags\n}", '  tags = var.tags\n  arn  = "arn:aws:wafv2:x"\n}')
    [finding] = messages(tmp_path, schemas)
    assert "aws_wafv2_web_acl.this.arn: arn is read-only: the provider computes it" in finding


def test_without_the_cache_the_message_says_to_run_bootstrap(tmp_path, monkeypatch):
    monkeypatch.setattr(provider_schemas, "CACHE", tmp_path)
    with pytest.raises(provider_schemas.SchemasUnavailable, match=r"run python3 scripts/bootstrap\.py"):
        provider_schema_check.load_schemas()


def test_a_stack_pin_other_than_the_schema_version_needs_a_note(tmp_path, schemas):
    stack = copy_of(tmp_path, "stacks/linode/platform")
    edit(stack / "versions.tf", 'version = "3.8.0"', 'version = "3.5.0"')
    [finding] = messages(tmp_path, schemas)
    assert "required_providers.linode: pinned to 3.5.0 but checked against the 3.8.0 schema" in finding


def test_an_argument_newer_than_the_schema_can_be_accepted_with_its_reason(tmp_path, schemas):
    module = copy_of(tmp_path, "modules/azure/monitoring")
    edit(module / "main.tf", "  sku                 =", "  skew                =")
    azurerm = schemas["azurerm"]
    package = dataclasses.replace(
        azurerm.package, accepted={"azurerm_log_analytics_workspace.skew": "added after 4.50.0"}
    )
    accepting = {**schemas, "azurerm": dataclasses.replace(azurerm, package=package)}
    assert messages(tmp_path, accepting) == []
