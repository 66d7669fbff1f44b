"""tf.* safety: which stack an environment uses, where state lives, credentials and
provider checks, and the rules around saved plans, approvals and destroy."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from voiceops import environments, terraform
from voiceops.environments import Cloud
from voiceops.errors import OpsError
from voiceops.runs import ApprovalRequired, StepFailed, git_commit

NO_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "ARM_CLIENT_ID",
                  "ARM_USE_MSI", "LINODE_TOKEN", "VOICEOPS_APPROVED_ENVIRONMENT")  # fmt: skip


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in NO_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(terraform, "BUILD", tmp_path / "build")
    return tmp_path


def test_stacks_come_from_the_registry():
    assert terraform.stack_for("live").directory.name == "live"
    assert (
        terraform.stack_for("production").directory.relative_to(terraform.INFRA).as_posix()
        == "stacks/linode/platform"
    )
    assert terraform.stack_for("azure-production").directory.relative_to(terraform.INFRA).as_posix() == (
        "stacks/azure/production"
    )


def test_an_environment_in_another_clusters_stack_is_sent_to_its_owner():
    with pytest.raises(OpsError, match="use --env production"):
        terraform.stack_for("development")
    with pytest.raises(OpsError, match="no Terraform stack"):
        terraform.stack_for("local")
    with pytest.raises(environments.UnknownEnvironment):
        terraform.stack_for("nosuch")


def test_backends_follow_the_registry():
    live = terraform.backend_config(environments.load("live"))
    assert live == {
        "bucket": "voiceops-live-terraform-state",
        "key": "live/terraform.tfstate",
        "region": "us-west-2",
    }
    azure = terraform.backend_config(environments.load("azure-production"))
    assert (
        azure["storage_account_name"] == "stvoiceassistantprodtf" and len(azure["storage_account_name"]) <= 24
    )
    linode = terraform.backend_config(environments.load("production"))
    # the object-storage module's terraform-state bucket holds the stack's own state
    assert linode["bucket"] == "voiceops-platform-terraform-state"
    assert linode["endpoints"] == '{ s3 = "https://fr-par-1.linodeobjects.com" }'


def test_backend_file_is_valid_hcl(clean_env):
    import hcl2

    path = terraform.backend_file(terraform.stack_for("production"))
    parsed = hcl2.loads(path.read_text())
    assert parsed["bucket"] == '"voiceops-platform-terraform-state"'


def test_credentials_per_cloud(clean_env):
    assert terraform.missing_credentials(Cloud.AWS, {}) is not None
    assert terraform.missing_credentials(Cloud.AWS, {"AWS_PROFILE": "deploy"}) is None
    assert terraform.missing_credentials(Cloud.AZURE, {"ARM_CLIENT_ID": "x"}) is not None
    assert terraform.missing_credentials(Cloud.AZURE, {"ARM_CLIENT_ID": "x", "ARM_USE_OIDC": "true"}) is None
    assert "LINODE_TOKEN" in terraform.missing_credentials(Cloud.LINODE, {"LINODE_TOKEN": "t"})
    credentials = clean_env / "home" / ".aws" / "credentials"
    credentials.parent.mkdir(parents=True)
    credentials.write_text("[default]\n")
    assert terraform.missing_credentials(Cloud.AWS, {}) is None


def test_plan_without_credentials_stops_before_terraform_runs(clean_env):
    with pytest.raises(terraform.TerraformUnavailable, match="no aws credentials") as error:
        terraform.plan("sandbox")
    assert error.value.exit_code == 5
    assert not (terraform.BUILD / "sandbox" / "plan.tfplan").exists()


def _saved_plan(stack, commit: str, created: datetime) -> None:
    stack.work_dir.mkdir(parents=True, exist_ok=True)
    stack.plan_file.write_bytes(b"plan")
    meta = {"environment": stack.environment.name, "commit": commit, "created": created.isoformat(),
            "sha256": hashlib.sha256(b"plan").hexdigest(), "changes": {}}  # fmt: skip
    stack.plan_meta.write_text(json.dumps(meta))


def test_apply_needs_a_saved_plan(clean_env):
    with pytest.raises(OpsError, match=re.escape("no saved plan; run invoke tf.plan --env sandbox")):
        terraform.apply("sandbox", None)


def test_apply_refuses_a_plan_from_another_commit(clean_env):
    stack = terraform.stack_for("sandbox")
    _saved_plan(stack, "0123456789ab", datetime.now(UTC))
    with pytest.raises(OpsError, match="made at 0123456789ab"):
        terraform.apply("sandbox", None)


def test_apply_refuses_a_tampered_or_stale_plan(clean_env):
    stack = terraform.stack_for("sandbox")
    _saved_plan(stack, git_commit(), datetime.now(UTC) - timedelta(days=2))
    with pytest.raises(OpsError, match="2 day"):
        terraform.saved_plan(stack)
    _saved_plan(stack, git_commit(), datetime.now(UTC))
    stack.plan_file.write_bytes(b"other plan")
    with pytest.raises(OpsError, match="changed since it was checked"):
        terraform.saved_plan(stack)


def test_apply_of_a_current_plan_still_needs_credentials(clean_env):
    stack = terraform.stack_for("sandbox")
    _saved_plan(stack, git_commit(), datetime.now(UTC))
    with pytest.raises(StepFailed, match="no aws credentials") as error:
        terraform.apply("sandbox", None)
    assert error.value.exit_code == 5
    assert stack.plan_file.exists(), "a refused apply keeps the saved plan"


def test_production_apply_needs_approval_before_anything_else(clean_env):
    with pytest.raises(ApprovalRequired, match="live needs 2 approvals"):
        terraform.apply("live", None)
    with pytest.raises(ApprovalRequired, match="does not match"):
        terraform.apply("live", "sandbox")


def test_destroy_needs_the_typed_name_and_runs_in_stages(clean_env):
    with pytest.raises(OpsError, match="needs --confirm sandbox"):
        terraform.destroy("sandbox", None, dry_run=True)
    stages = terraform.destroy("live", "live", dry_run=True)
    assert stages == [
        "would destroy: load balancers created by Kubernetes Services",
        "would destroy: Helm releases, newest wave first",
        "would destroy: every remaining resource",
    ]
    assert len(terraform.destroy("production", "production", dry_run=True)) == 2


def test_destroy_targets_the_waves_newest_first():
    _, targets = terraform.destroy_stages(terraform.stack_for("sandbox"))[1]
    assert targets[0] == "-target=module.platform.module.wave_applications"
    assert targets[-1] == "-target=module.platform.module.wave_operators"


def test_fmt_check_passes_on_the_repository():
    assert terraform.fmt(check=True) == []


def test_fmt_check_names_the_file_that_needs_formatting(tmp_path, monkeypatch):
    (tmp_path / "main.tf").write_text("locals {\n  a = 1\n  bb    = 2\n}\n")
    monkeypatch.setattr(terraform, "INFRA", tmp_path)
    with pytest.raises(OpsError, match=r"1 file\(s\) need formatting: main.tf"):
        terraform.fmt(check=True)
    terraform.fmt(check=False)
    assert terraform.fmt(check=True) == []


def test_module_readme_goes_stale_when_an_input_changes(tmp_path):
    from voiceops import terraform_docs

    (tmp_path / "variables.tf").write_text(
        'variable "size" {\n  description = "Nodes."\n  type = number\n}\n'
    )
    (tmp_path / "outputs.tf").write_text('output "id" {\n  description = "Id."\n  value = 1\n}\n')
    (tmp_path / "README.md").write_text(f"# module\n\nIntro.\n\n{terraform_docs.MARKER}\n")
    assert terraform_docs.stale(tmp_path)
    assert terraform_docs.write(tmp_path) is True
    assert (
        not terraform_docs.stale(tmp_path)
        and "| `size` | `number` | required | Nodes. |" in (tmp_path / "README.md").read_text()
    )
    (tmp_path / "variables.tf").write_text(
        'variable "size" {\n  description = "Node count."\n  type = number\n}\n'
    )
    assert terraform_docs.stale(tmp_path)


def test_module_readmes_show_defaults_as_hcl_literals():
    from voiceops.terraform_docs import hcl_literal

    assert hcl_literal(None) == "null" and hcl_literal(True) == "true" and hcl_literal(False) == "false"
    assert hcl_literal({"min": 2, "max": 10}) == "{ min = 2, max = 10 }"
    assert hcl_literal(["api", "graphql"]) == '["api", "graphql"]'
    assert hcl_literal({"rtc-tcp": {"port": 7881}}) == '{ "rtc-tcp" = { port = 7881 } }'
    assert hcl_literal("db.r6g.large") == '"db.r6g.large"' and hcl_literal({}) == "{}"
