"""Deploy safety: approvals, one deploy per environment, undo on failure, audit records."""

import json

import pytest

from voiceops import deploy, environments, runs
from voiceops.deploy import DeployRequest
from voiceops.errors import OpsError
from voiceops.runs import (
    ApprovalRequired,
    EnvironmentLock,
    EnvironmentLocked,
    Run,
    Step,
    StepFailed,
    check_approval,
)


def test_non_production_needs_no_approval():
    assert check_approval(environments.load("sandbox"), None) == "not required"


def test_production_refuses_without_approval(monkeypatch):
    monkeypatch.delenv(runs.APPROVAL_VARIABLE, raising=False)
    with pytest.raises(ApprovalRequired, match="production needs 2 approvals"):
        check_approval(environments.load("production"), None)


def test_production_accepts_the_typed_name_only():
    assert "typed confirmation" in check_approval(environments.load("production"), "production")
    with pytest.raises(ApprovalRequired, match="does not match"):
        check_approval(environments.load("production"), "prod")


def test_production_accepts_the_approved_ci_job(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv(runs.APPROVAL_VARIABLE, "live")
    assert "GitHub environment live" in check_approval(environments.load("live"), None)
    monkeypatch.setenv(runs.APPROVAL_VARIABLE, "production")
    with pytest.raises(ApprovalRequired):
        check_approval(environments.load("live"), None)


def test_second_lock_names_the_holder():
    with (
        EnvironmentLock("staging"),
        pytest.raises(EnvironmentLocked, match=r"another run on staging is in progress \(pid \d+"),
        EnvironmentLock("staging"),
    ):
        pass
    with EnvironmentLock("staging"):  # released after the first one ended
        pass


def test_failure_undoes_completed_changes_newest_first():
    undone = []

    def change(name):
        return lambda: (f"{name} done", lambda: undone.append(name))

    def broken():
        raise OpsError("boom")

    steps = [Step("first", change("first")), Step("second", change("second")), Step("third", broken)]
    run = Run("deploy", environments.load("local"), {})
    with pytest.raises(StepFailed, match="third failed: boom"), run:
        run.execute(steps)
    assert undone == ["second", "first"]
    assert [r.status for r in run.record.steps] == ["undone", "undone", "failed"]
    assert run.record.result == "failed"


def test_deploy_writes_an_audit_record(isolated_state):
    def plan(context):
        return [Step("noop", lambda: "nothing to do")]

    record = deploy.deploy(DeployRequest(environment="local"), plan)
    stored = json.loads((isolated_state / "audit").glob("*-local-deploy.json").__next__().read_text())
    assert stored["result"] == "succeeded" == record.result
    assert stored["steps"] == [
        {"name": "noop", "status": "ok", "seconds": stored["steps"][0]["seconds"], "detail": "nothing to do",
         "essential": False}
    ]  # fmt: skip
    assert stored["actor"] and stored["commit"]


def test_failed_deploy_is_audited_and_releases_the_lock(isolated_state):
    def broken():
        raise OpsError("server refused")

    with pytest.raises(StepFailed):
        deploy.deploy(DeployRequest(environment="local"), lambda context: [Step("broken", broken)])
    stored = json.loads(next((isolated_state / "audit").glob("*.json")).read_text())
    assert stored["result"] == "failed"
    assert "server refused" in stored["error"]
    with EnvironmentLock("local"):
        pass


def test_production_deploy_without_approval_runs_nothing_and_is_recorded(isolated_state, monkeypatch):
    monkeypatch.delenv(runs.APPROVAL_VARIABLE, raising=False)
    planned = []
    with pytest.raises(ApprovalRequired):
        deploy.deploy(DeployRequest(environment="azure-production"), lambda context: planned.append(1) or [])
    assert planned == []
    stored = json.loads(next((isolated_state / "audit").glob("*-azure-production-deploy.json")).read_text())
    assert stored["result"] == "refused" and "needs 2 approvals" in stored["error"]
    assert not (isolated_state / "locks" / "azure-production.holder.json").exists()


def test_interrupted_deploy_releases_the_lock_and_says_so(isolated_state):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deploy.deploy(DeployRequest(environment="local"), lambda context: [Step("slow", interrupted)])
    stored = json.loads(next((isolated_state / "audit").glob("*.json")).read_text())
    assert stored["result"] == "interrupted"
    with EnvironmentLock("local"):
        pass


def test_cloud_deploy_without_credentials_or_cluster_is_incomplete_not_succeeded(isolated_state, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(isolated_state))
    monkeypatch.setenv("KUBECONFIG", str(isolated_state / "no-kubeconfig"))
    with pytest.raises(
        runs.RunIncomplete, match=r"incomplete: not done here: infrastructure \(terraform\), releases"
    ):
        deploy.deploy(DeployRequest(environment="sandbox"), deploy.plan_for)
    stored = json.loads(next((isolated_state / "audit").glob("*-sandbox-deploy.json")).read_text())
    assert stored["result"] == "incomplete"
    steps = {step["name"]: step for step in stored["steps"]}
    assert steps["infrastructure (terraform)"]["detail"].startswith("skipped: sandbox: no aws credentials")
    assert steps["render and policy gate"]["status"] == "ok"
    assert "no cluster reachable" in steps["releases"]["detail"]
    assert stored["cluster_lock"].startswith("none: no cluster reachable")


def test_a_namespace_environment_leaves_infrastructure_to_the_cluster_owner(isolated_state, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(isolated_state / "no-kubeconfig"))
    with pytest.raises(runs.RunIncomplete, match=r"not done here: releases \(see"):
        deploy.deploy(DeployRequest(environment="development"), deploy.plan_for)
    stored = json.loads(next((isolated_state / "audit").glob("*-development-deploy.json")).read_text())
    infra = next(step for step in stored["steps"] if step["name"] == "infrastructure (terraform)")
    assert infra["status"] == "ok" and "production's cluster" in infra["detail"]
