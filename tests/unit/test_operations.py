"""status and rollback without a cluster, the audit trail, and the deploy Lease rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from voiceops import cluster, operations, runs
from voiceops.errors import OpsError
from voiceops.runs import ApprovalRequired


@pytest.fixture
def no_cluster(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICEOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.delenv("VOICEOPS_APPROVED_ENVIRONMENT", raising=False)
    return tmp_path / "state"


def _audit(state, name: str, environment: str, result: str) -> None:
    audit = state / "audit"
    audit.mkdir(parents=True, exist_ok=True)
    record = {"environment": environment, "action": "deploy", "actor": "ci", "commit": "abc",
              "result": result, "started": name, "seconds": 1.0}  # fmt: skip
    (audit / f"{name}-{environment}-deploy.json").write_text(json.dumps(record))


def test_audit_trail_is_newest_first_and_exact_about_the_environment(no_cluster):
    _audit(no_cluster, "20261101T000000000000Z", "staging", "succeeded")
    _audit(no_cluster, "20261102T000000000000Z", "staging", "failed")
    _audit(no_cluster, "20261103T000000000000Z", "production", "succeeded")
    trail = operations.audit_trail("staging")
    assert [item["result"] for item in trail] == ["failed", "succeeded"]


def test_status_without_a_cluster_lists_the_catalog_and_says_why(no_cluster):
    result = operations.status("development")
    assert result.cluster.startswith("unreachable: no cluster reachable through kube context 'lke-voiceops'")
    assert {item["name"] for item in result.releases} >= {"agent-service", "livekit-server", "platform"}
    assert all(item["status"] == "unknown" for item in result.releases)


def test_rollback_checks_its_arguments_before_touching_anything(no_cluster):
    with pytest.raises(ApprovalRequired):
        operations.rollback("live", "base", None, None)
    with pytest.raises(OpsError, match="--to-revision needs --release"):
        operations.rollback("sandbox", None, 3, None)
    with pytest.raises(OpsError, match="revision number"):
        operations.rollback("sandbox", "base", 0, None)
    with pytest.raises(OpsError, match="not in this environment"):
        operations.rollback("sandbox", "nosuch", None, None)
    with pytest.raises(OpsError, match="revert the commit in git"):
        operations.rollback("development", None, None, None)
    with pytest.raises(OpsError, match="no Kubernetes releases"):
        operations.rollback("local", None, None, None)


def test_rollback_without_a_cluster_says_so_and_is_audited_as_failed(no_cluster):
    with pytest.raises(runs.StepFailed, match="kube context 'eks-voiceops-sandbox'") as error:
        operations.rollback("sandbox", "base", None, None)
    assert error.value.exit_code == 5
    stored = json.loads(next((no_cluster / "audit").glob("*-sandbox-rollback.json")).read_text())
    assert stored["result"] == "failed" and "no cluster reachable" in stored["error"]
    assert [step["status"] for step in stored["steps"]] == ["failed"]


def test_a_lease_is_held_until_it_expires():
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    fresh = {
        "holderIdentity": "ci@runner-1",
        "renewTime": "2026-11-22T11:50:00.000000Z",
        "leaseDurationSeconds": 1800,
    }
    assert runs.lease_holder(fresh, now) == "ci@runner-1"
    assert runs.lease_holder(fresh, now + timedelta(minutes=21)) is None
    assert runs.lease_holder({"holderIdentity": None}, now) is None
    assert runs.lease_holder({}, now) is None


def test_helm_upgrade_is_atomic_with_the_catalog_timeout_and_the_render_values():
    from voiceops import catalog, environments

    environment = environments.load("sandbox")
    releases = {release.name: release for release in catalog.releases_for(environment)}
    command = cluster.upgrade_command(environment, releases["kube-prometheus-stack"])
    assert command[:3] == ["upgrade", "--install", "kube-prometheus-stack"]
    assert {"--rollback-on-failure", "--wait"} <= set(command)
    assert "--create-namespace" not in command  # the `namespaces` release owns every namespace
    assert command[command.index("--timeout") + 1] == "15m"
    assert command[command.index("--version") + 1] == releases["kube-prometheus-stack"].chart.version
    local = cluster.upgrade_command(environment, releases["base"])
    assert local[local.index("--set-file") + 1].endswith("environments/sandbox.yaml")
