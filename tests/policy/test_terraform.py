"""Terraform: module conventions and the plan-level policy path (checkov on a plan's JSON).
The seed requirements, Terraform's among them, are tested in test_requirements.py."""

from __future__ import annotations

import json
import re

import pytest

from voiceops import environments, infra_policy, scan, terraform

INFRA = infra_policy.INFRA
MODULE_DIRS = sorted(path.parent for path in INFRA.glob("modules/*/*/main.tf"))
STACK_DIRS = sorted(
    terraform.ROOT / env.terraform.stack for env in environments.load_all() if env.terraform is not None
)


@pytest.fixture(scope="module")
def tree():
    return infra_policy.load_tree()


def test_every_module_has_the_standard_files_and_a_readme_listing_its_interface(tree):
    for directory in MODULE_DIRS:
        relative = directory.relative_to(INFRA)
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (directory / name).is_file(), f"{relative} lacks {name}"
        readme = (directory / "README.md").read_text()
        variables = tree.infra.get(f"{relative}/variables.tf", {}).get("variable", {})
        outputs = tree.infra.get(f"{relative}/outputs.tf", {}).get("output", {})
        for name in [*variables, *outputs]:
            assert f"`{name}`" in readme, f"{relative}/README.md does not document {name}"


def test_variables_are_typed_and_described_never_any(tree):
    for file, parsed in tree.infra.items():
        for name, body in parsed.get("variable", {}).items():
            assert body.get("description"), f"{file}: variable {name} has no description"
            assert "type" in body, f"{file}: variable {name} has no type"
            assert "any" not in re.findall(r"\bany\b", str(body["type"])), f"{file}: variable {name} is `any`"


def test_modules_set_floors_and_stacks_pin_exactly(tree):
    for file, parsed in tree.infra.items():
        if not file.endswith("versions.tf"):
            continue
        for settings in parsed["terraform"].get("required_providers", [{}]):
            for provider, spec in settings.items():
                version = spec["version"]
                if file.startswith("stacks/"):
                    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{file}: {provider} not pinned exactly"
                else:
                    assert version.startswith(">="), f"{file}: {provider} should set a minimum version"


def test_every_stack_has_remote_state_and_reads_the_registry_named_for_it(tree):
    for directory in STACK_DIRS:
        relative = str(directory.relative_to(INFRA))
        backends = tree.infra[f"{relative}/backend.tf"]["terraform"]["backend"]
        kinds = {kind for backend in backends for kind in backend}
        assert kinds & {"s3", "azurerm"}, f"{relative} has no remote backend"
        owners = [
            env for env in environments.load_all() if env.terraform and env.terraform.stack.endswith(relative)
        ]
        assert len(owners) == 1, f"{relative}: no registry environment names this stack"
        providers = (directory / "providers.tf").read_text()
        named = re.search(r'environment = "([a-z-]+)"', providers)
        assert (named.group(1) if named else directory.name) == owners[0].name


def test_every_registry_stack_exists():
    for environment in environments.load_all():
        if environment.terraform:
            assert (terraform.ROOT / environment.terraform.stack / "main.tf").is_file(), environment.name


def test_no_environment_fact_is_typed_into_the_stacks():
    """CIDRs, regions and cluster names live in the registry; the stacks read them."""
    facts = set()
    for environment in environments.load_all():
        if environment.network:
            facts.add(environment.network.cidr)
        facts.add(environment.cluster.name)
    for path in INFRA.glob("stacks/*/*/*.tf"):
        text = path.read_text()
        for fact in facts:
            assert f'"{fact}"' not in text, (
                f"{path.relative_to(INFRA)} types {fact} instead of reading the registry"
            )


def _plan_with_database(multi_az: bool, encrypted: bool) -> dict:
    values = {
        "identifier": "voiceops-live-postgresql", "engine": "postgres", "engine_version": "15",
        "instance_class": "db.r6g.large", "multi_az": multi_az, "storage_encrypted": encrypted,
        "backup_retention_period": 30, "deletion_protection": True, "publicly_accessible": False,
        "iam_database_authentication_enabled": True, "monitoring_interval": 60,
        "enabled_cloudwatch_logs_exports": ["postgresql", "upgrade"], "auto_minor_version_upgrade": True,
        "copy_tags_to_snapshot": True, "performance_insights_enabled": True,
    }  # fmt: skip
    address = "module.platform.module.postgresql.aws_db_instance.this"
    resource = {"address": address, "mode": "managed", "type": "aws_db_instance", "name": "this",
                "provider_name": "registry.terraform.io/hashicorp/aws", "values": values}  # fmt: skip
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": {"resources": [resource]}},
        "resource_changes": [
            {
                **{key: resource[key] for key in ("address", "mode", "type", "name", "provider_name")},
                "change": {"actions": ["create"], "before": None, "after": values},
            }
        ],
        "configuration": {"root_module": {}},
    }


def test_plan_policy_rejects_a_single_az_unencrypted_database(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_plan_with_database(multi_az=False, encrypted=False)))
    result = scan.checkov(plan, "terraform_plan")
    failed = {finding.split()[0] for finding in result.findings}
    assert {"CKV_AWS_157", "CKV_AWS_16"} <= failed
    with pytest.raises(terraform.PlanRejected):
        terraform.check_plan(plan)


def test_plan_policy_passes_the_seed_database(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_plan_with_database(multi_az=True, encrypted=True)))
    failed = {finding.split()[0] for finding in scan.checkov(plan, "terraform_plan").findings}
    assert not failed & {"CKV_AWS_157", "CKV_AWS_16", "CKV_AWS_133", "CKV_AWS_293"}


def test_plan_summary_counts_actions():
    plan = {
        "resource_changes": [
            {"change": {"actions": ["create"]}},
            {"change": {"actions": ["delete", "create"]}},
            {"change": {"actions": ["update"]}},
            {"change": {"actions": ["no-op"]}},
            {"change": {"actions": ["delete"]}},
        ]
    }
    assert terraform.summarize_plan(plan) == {"create": 1, "update": 1, "delete": 1, "replace": 1}
