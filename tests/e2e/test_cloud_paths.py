"""The cloud paths end to end: `deploy`, `rollback` and `status` for a Terraform-, a Helm- and
a GitOps-delivered environment, with stand-ins only for what needs a cluster or providers
(see conftest.py) and a real moto server for the AWS calls. Each case reads the audit record."""

from __future__ import annotations

import itertools
import json
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from voiceops import argocd, catalog, deploy, environments, operations, runs, terraform
from voiceops.deploy import DeployRequest
from voiceops.runs import ApprovalRequired, EnvironmentLocked, StepFailed
from voiceops.toolchain import ROOT

SANDBOX_BUCKET = "voiceops-sandbox-terraform-state"


@pytest.fixture
def smoke_suites(monkeypatch):
    """The in-cluster smoke suite needs a real API server (the kubernetes client): record its
    call instead, and answer as pytest does."""
    called: list[str] = []

    def run_smoke(environment):
        called.append(environment.name)
        return "12 passed in 3.1s"

    monkeypatch.setattr(deploy.smoke, "run_smoke", run_smoke)
    return called


@pytest.fixture(autouse=True)
def isolated_build(tmp_path, monkeypatch):
    """Plans and rendered manifests of these runs stay out of build/, which other gate sessions read."""
    monkeypatch.setattr(terraform, "BUILD", tmp_path / "build" / "terraform")
    monkeypatch.setattr(deploy.render, "BUILD_DIR", tmp_path / "build" / "rendered")


def audit(name: str, action: str = "deploy") -> dict:
    state = Path(runs.state_dir())
    files = sorted((state / "audit").glob(f"*-{name}-{action}.json"))
    assert files, f"no {action} audit record for {name}"
    return json.loads(files[-1].read_text())


def released(standins, name: str) -> bool:
    """The run's Lease was taken (it exists) and let go (no holder)."""
    lease = standins.state()["leases"].get(f"default/voiceops-run-{name}")
    return lease is not None and lease["spec"]["holderIdentity"] is None


def argv(call: dict) -> list[str]:
    """A call's arguments after the context the project always names first."""
    args = call["args"]
    return args[2:] if args[:1] in (["--kube-context"], ["--context"]) else args


# --- Terraform delivery (sandbox): plan, policy, apply, the AWS calls against moto ---------------


def test_terraform_delivered_deploy_applies_the_checked_plan_once(standins, aws, smoke_suites):
    sandbox = environments.load("sandbox")
    standins.reachable(sandbox)
    aws.state_bucket(SANDBOX_BUCKET)

    record = deploy.deploy(DeployRequest("sandbox", auto_approve=True), deploy.plan_for)

    assert record.result == "succeeded", record.error
    stored = audit("sandbox")
    assert [step["name"] for step in stored["steps"]] == [
        "validate environment", "check toolchain", "infrastructure (terraform)",
        "render and policy gate", "releases", "smoke tests",
    ]  # fmt: skip
    assert all(step["status"] == "ok" for step in stored["steps"]), stored["steps"]
    steps = {step["name"]: step for step in stored["steps"]}
    assert (
        steps["infrastructure (terraform)"]["detail"]
        == "applied: 1 to create, 1 to update, 0 to delete, 0 to replace"
    )
    assert steps["releases"]["detail"].startswith("installed by the Terraform apply")
    assert stored["cluster_lock"] == "Lease default/voiceops-run-sandbox; released"
    assert released(standins, "sandbox")
    assert smoke_suites == ["sandbox"]

    stack_calls = [call for call in standins.calls("terraform") if argv(call)[0].startswith("-chdir=")]
    # plan: init (providers), init (backend), plan, show; apply: init, init again, apply
    assert [argv(call)[1] for call in stack_calls] == [
        "init",
        "init",
        "plan",
        "show",
        "init",
        "init",
        "apply",
    ]
    stack_dir = f"-chdir={terraform.stack_for('sandbox').directory}"
    assert all(argv(call)[0] == stack_dir for call in stack_calls)
    apply = standins.calls("terraform", "apply")[0]
    assert argv(apply)[-1].endswith("build/terraform/sandbox/plan.tfplan")
    meta = json.loads((terraform.BUILD / "sandbox" / "plan.meta.json").read_text())
    assert meta["cloud_identity"].startswith("arn:aws:sts::123456789012:")  # moto's account
    assert meta["policy"]["resources"] == 2
    assert not (terraform.BUILD / "sandbox" / "plan.tfplan").exists(), "a saved plan applies once"
    # the render ran for real: our charts rendered by the real helm into build/rendered/sandbox
    assert len(list((deploy.render.BUILD_DIR / "sandbox").glob("*-platform.yaml"))) == 1


def test_without_a_terminal_the_plan_is_kept_for_tf_apply_which_takes_the_run(standins, aws):
    aws.state_bucket(SANDBOX_BUCKET)
    with pytest.raises(StepFailed, match=r"1 to create, 1 to update.*not applied: no terminal") as error:
        deploy.deploy(DeployRequest("sandbox"), deploy.plan_for)
    assert error.value.exit_code == 3
    assert standins.calls("terraform", "apply") == []
    assert audit("sandbox")["result"] == "failed"
    # the reviewed plan is applied by tf.apply, in a run of its own
    record = terraform.apply("sandbox", None)
    assert record.result == "succeeded"
    stored = audit("sandbox", "terraform-apply")
    assert stored["steps"][0]["detail"].startswith("applied: 1 to create")
    assert stored["cluster_lock"].startswith("none: no cluster reachable")
    with pytest.raises(StepFailed, match="no saved plan"):
        terraform.apply("sandbox", None)
    assert audit("sandbox", "terraform-apply")["result"] == "failed"


def test_a_missing_state_bucket_stops_before_terraform_runs(standins, aws):
    standins.reachable(environments.load("sandbox"))
    with pytest.raises(StepFailed, match=f"state bucket {SANDBOX_BUCKET} does not exist in us-west-2"):
        deploy.deploy(DeployRequest("sandbox"), deploy.plan_for)
    assert [call for call in standins.calls("terraform") if argv(call)[0].startswith("-chdir=")] == []
    stored = audit("sandbox")
    assert stored["result"] == "failed"
    assert [step["status"] for step in stored["steps"]][-1] == "failed"
    assert released(standins, "sandbox")


def test_an_unversioned_state_bucket_is_refused(standins, aws):
    aws.state_bucket(SANDBOX_BUCKET, versioned=False)
    with pytest.raises(terraform.OpsError, match="is not versioned"):
        terraform.plan("sandbox")
    assert [call for call in standins.calls("terraform") if argv(call)[0].startswith("-chdir=")] == []


def test_plan_without_providers_says_so_in_one_line(aws, tmp_path, monkeypatch):
    """Real terraform init on an empty provider mirror: the same answer offline and online."""
    aws.state_bucket(SANDBOX_BUCKET)
    mirror = tmp_path / "empty-mirror"
    mirror.mkdir()
    config = tmp_path / "terraform.rc"
    config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    monkeypatch.setattr(terraform, "CLI_CONFIG", config)
    with pytest.raises(
        terraform.TerraformUnavailable, match="could not install the stack's providers"
    ) as error:
        terraform.plan("sandbox")
    assert "\n" not in error.value.message
    assert not (terraform.BUILD / "sandbox" / "plan.tfplan").exists()


# --- Helm delivery: waves in catalog order, parallel within a wave, undo newest first -----------


def upgrades(standins) -> list[dict]:
    return [call for call in standins.calls("helm", "upgrade") if call["code"] == 0]


def test_helm_waves_install_in_catalog_order_and_in_parallel(standins, helm_delivered, smoke_suites):
    standins.reachable(helm_delivered)
    # each install lasts a second: long enough for all of a wave's to overlap on a loaded machine
    standins.update(install_seconds=1.0)
    record = deploy.deploy(DeployRequest("sandbox", skip_infra=True), deploy.plan_for)
    assert record.result == "succeeded", record.error

    expected = catalog.waves(catalog.releases_for(helm_delivered))
    calls = {argv(call)[2]: call for call in upgrades(standins)}
    assert set(calls) == {release.name for wave in expected for release in wave}
    for earlier, later in itertools.pairwise(expected):
        assert max(calls[r.name]["end"] for r in earlier) <= min(calls[r.name]["start"] for r in later)
    for wave in expected:
        intervals = [(calls[r.name]["start"], calls[r.name]["end"]) for r in wave]
        most = max(sum(start <= moment < end for start, end in intervals) for moment, _ in intervals)
        assert most == min(8, len(wave)), f"wave {wave[0].wave}: {most} of {len(wave)} at once"
    for call in upgrades(standins):
        assert call["args"][:2] == ["--kube-context", "eks-voiceops-sandbox"]
        assert "--rollback-on-failure" in argv(call)
    rabbitmq = argv(calls["rabbitmq"])
    assert rabbitmq[3] == "oci://registry-1.docker.io/bitnamicharts/rabbitmq" and "--repo" not in rabbitmq
    stored = audit("sandbox")
    assert stored["result"] == "succeeded"
    assert stored["steps"][4]["detail"] == f"{len(calls)} releases installed in {len(expected)} waves"


def test_a_failure_in_wave_5_rolls_back_completed_waves_newest_first(standins, helm_delivered):
    standins.reachable(helm_delivered)
    # base existed before at revision 2: it is rolled back, the others (new) are uninstalled
    standins.update(helm={"platform/base": [{"revision": 1, "status": "superseded", "chart": "base"},
                                            {"revision": 2, "status": "deployed", "chart": "base"}]},
                    fail=["livekit-server"])  # fmt: skip
    with pytest.raises(StepFailed, match=r"wave 5 failed \(livekit-server: Error: UPGRADE FAILED"):
        deploy.deploy(DeployRequest("sandbox", skip_infra=True), deploy.plan_for)

    waves = {release.name: release.wave for release in catalog.releases_for(helm_delivered)}
    undone = [call for call in standins.calls("helm") if argv(call)[0] in ("uninstall", "rollback")]
    undone_waves = [waves[argv(call)[1]] for call in undone]
    assert undone_waves == sorted(undone_waves, reverse=True), "newest wave first"
    assert undone_waves[0] == 5 and undone_waves[-1] == min(waves.values())
    installed_before_failure = {argv(call)[2] for call in upgrades(standins)}
    assert {argv(call)[1] for call in undone} == installed_before_failure
    rollback = next(call for call in undone if argv(call)[1] == "base")
    assert argv(rollback)[:3] == ["rollback", "base", "2"]
    state = standins.state()["helm"]
    # upgraded to revision 3 in wave -10, then rolled back: revision 4 is revision 2 again
    assert state["platform/base"][-1] == {
        "revision": 4,
        "status": "deployed",
        "chart": "base",
        "rolled_back_to": 2,
    }
    assert set(state) == {"platform/base"}, "new releases were uninstalled"

    stored = audit("sandbox")
    assert stored["result"] == "failed" and "wave 5 failed" in stored["error"]
    assert [step["status"] for step in stored["steps"]][-1] == "failed"
    assert released(standins, "sandbox")


def test_a_lease_held_by_another_deployer_refuses_the_run(standins, helm_delivered):
    standins.reachable(helm_delivered)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "voiceops-run-sandbox", "namespace": "default", "resourceVersion": "7"},
             "spec": {"holderIdentity": "ci@runner-7:4242", "leaseDurationSeconds": 1800,
                      "acquireTime": now, "renewTime": now}}  # fmt: skip
    standins.update(leases={"default/voiceops-run-sandbox": lease})
    with pytest.raises(EnvironmentLocked, match=r"holds the cluster lease \(ci@runner-7:4242") as error:
        deploy.deploy(DeployRequest("sandbox", skip_infra=True), deploy.plan_for)
    assert error.value.exit_code == 4
    assert upgrades(standins) == []
    stored = audit("sandbox")
    assert stored["result"] == "refused" and stored["steps"] == []
    assert (
        standins.state()["leases"]["default/voiceops-run-sandbox"]["spec"]["holderIdentity"]
        == "ci@runner-7:4242"
    )
    with runs.EnvironmentLock("sandbox"):  # the file lock was let go
        pass


def test_an_expired_lease_is_taken_over(standins, helm_delivered, smoke_suites):
    standins.reachable(helm_delivered)
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "voiceops-run-sandbox", "namespace": "default", "resourceVersion": "7"},
             "spec": {"holderIdentity": "ci@runner-7:4242", "leaseDurationSeconds": 1800,
                      "renewTime": "2026-01-01T00:00:00.000000Z"}}  # fmt: skip
    standins.update(leases={"default/voiceops-run-sandbox": lease})
    record = deploy.deploy(DeployRequest("sandbox", skip_infra=True, only=("base",)), deploy.plan_for)
    assert record.result == "succeeded"
    assert standins.calls("kubectl", "create") == [], "the expired Lease was taken over, not made anew"
    assert audit("sandbox")["cluster_lock"] == "Lease default/voiceops-run-sandbox; released"
    assert released(standins, "sandbox")


def test_a_production_class_deploy_without_approval_runs_nothing(standins, monkeypatch):
    standins.reachable(environments.load("live"))
    with pytest.raises(ApprovalRequired, match="live needs 2 approvals") as error:
        deploy.deploy(DeployRequest("live"), deploy.plan_for)
    assert error.value.exit_code == 3
    assert standins.calls() == []
    stored = audit("live")
    assert stored["result"] == "refused" and stored["approval"] == "not checked"


@pytest.fixture
def interruptible():
    """Ctrl-C raises KeyboardInterrupt even when the tests run as a background job, whose shell
    leaves SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_is_audited_and_lets_go_of_lease_and_lock(standins, helm_delivered, interruptible):
    standins.reachable(helm_delivered)
    standins.update(interrupt_on="livekit-server")
    with pytest.raises(KeyboardInterrupt):
        deploy.deploy(DeployRequest("sandbox", skip_infra=True), deploy.plan_for)
    stored = audit("sandbox")
    assert stored["result"] == "interrupted"
    assert stored["steps"][-1]["name"] == "releases" and stored["steps"][-1]["status"] == "interrupted"
    assert released(standins, "sandbox")
    with runs.EnvironmentLock("sandbox"):
        pass


# --- rollback and status: Helm (sandbox) and Argo CD (production, development) ------------------


def test_helm_rollback_and_status(standins):
    sandbox = environments.load("sandbox")
    standins.reachable(sandbox)
    history = [{"revision": 1, "status": "superseded", "chart": "platform"},
               {"revision": 2, "status": "deployed", "chart": "platform"}]  # fmt: skip
    standins.update(helm={"platform/platform": history})
    record = operations.rollback("sandbox", "platform", None, None)
    assert record.result == "succeeded"
    call = standins.calls("helm", "rollback")[0]
    assert argv(call)[:2] == ["rollback", "platform"] and call["args"][0] == "--kube-context"
    assert standins.state()["helm"]["platform/platform"][-1]["rolled_back_to"] == 1
    stored = audit("sandbox", "rollback")
    assert stored["steps"][-1]["detail"] == "platform rolled back to revision previous, status deployed"

    status = operations.status("sandbox")
    assert status.cluster == "reachable (context eks-voiceops-sandbox)"
    assert status.releases == [
        {"name": "platform", "namespace": "platform", "revision": "3", "status": "deployed"}
    ]
    assert status.deploys[0]["action"] == "rollback" and status.deploys[0]["result"] == "succeeded"


def applications(environment, automated: bool) -> dict:
    """The Applications of the environment's committed overlay, as Argo CD would hold them once synced."""
    overlay = ROOT / environment.kustomize.overlay / "applications.yaml"
    apps = {}
    for app in yaml.safe_load_all(overlay.read_text()):
        assert ("automated" in app["spec"]["syncPolicy"]) is automated
        app["status"] = {"sync": {"status": "Synced", "revision": "1111aaaa2222"},
                         "health": {"status": "Healthy"},
                         "history": [{"id": 0, "revision": "0000aaaa1111"},
                                     {"id": 1, "revision": "1111aaaa2222"}]}  # fmt: skip
        apps[app["metadata"]["name"]] = app
    return apps


def test_gitops_deploy_syncs_every_application_to_the_commit(standins, smoke_suites):
    development = environments.load("development")
    standins.reachable(development)
    standins.update(applications=applications(development, automated=True))
    record = deploy.deploy(DeployRequest("development"), deploy.plan_for)
    assert record.result == "succeeded", record.error
    synced = standins.state()["applications"]
    assert all(app["status"]["sync"]["revision"] == record.commit for app in synced.values())
    assert all(app["status"]["operationState"]["operation"]["initiatedBy"]["username"] == record.actor
               for app in synced.values())  # fmt: skip
    stored = audit("development")
    assert stored["steps"][2]["detail"].startswith("nothing to do: development is in production's cluster")
    assert stored["steps"][4]["detail"] == f"{len(synced)} application(s) synced and healthy"
    # the overlay went through the real kustomize
    assert (deploy.render.BUILD_DIR / "development" / "000-argocd-overlay.yaml").stat().st_size > 0


def test_gitops_rollback_needs_approval_and_syncs_the_previous_revision(standins):
    production = environments.load("production")
    standins.reachable(production)
    standins.update(applications=applications(production, automated=False))
    with pytest.raises(ApprovalRequired):
        operations.rollback("production", "platform", None, None)
    record = operations.rollback("production", "platform", None, "production")
    assert record.result == "succeeded" and record.approval.startswith("typed confirmation")
    app = standins.state()["applications"]["production-platform"]
    assert app["status"]["sync"]["revision"] == "0000aaaa1111"
    assert [entry["result"] for entry in operations.audit_trail("production")] == ["succeeded", "refused"]

    status = operations.status("production")
    rows = {row["name"]: row for row in status.releases}
    assert rows["production-platform"]["revision"] == "0000aaaa1111"
    assert rows["production-platform"]["status"] == "Synced/Healthy"


def test_a_lease_lost_during_a_run_stops_it_and_is_not_cleared(standins, helm_delivered):
    """Leases are renewed between steps; one taken over meanwhile (ours expired) stops the run,
    and the other holder's Lease is left as it is."""
    standins.reachable(helm_delivered)
    key = "default/voiceops-run-sandbox"

    def taken_over() -> str:
        lease = standins.state()["leases"][key]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lease["spec"].update(holderIdentity="ci@runner-9:99", acquireTime=now, renewTime=now)
        lease["metadata"]["resourceVersion"] = "99"
        standins.update(leases={key: lease})
        return "another deployer took the lease"

    steps = [runs.Step("slow step", taken_over), runs.Step("next step", lambda: "never runs")]
    with pytest.raises(EnvironmentLocked, match=r"lease of sandbox was lost \(ci@runner-9:99\)"):
        deploy.deploy(DeployRequest("sandbox", skip_infra=True), lambda context: steps)
    stored = audit("sandbox")
    assert stored["result"] == "failed" and [step["name"] for step in stored["steps"]] == ["slow step"]
    assert stored["cluster_lock"].endswith("not released: no longer ours")
    assert standins.state()["leases"][key]["spec"]["holderIdentity"] == "ci@runner-9:99"


def test_a_plan_replaced_after_approval_is_not_applied(standins, aws, monkeypatch):
    """Another `tf.plan` between the question and the apply: the approved plan is gone."""
    aws.state_bucket(SANDBOX_BUCKET)
    original = deploy.approve_plan

    def approve_then_plan_again(context, changes):
        original(context, changes)
        terraform.plan("sandbox")

    monkeypatch.setattr(deploy, "approve_plan", approve_then_plan_again)
    with pytest.raises(StepFailed, match="changed after it was approved"):
        deploy.deploy(DeployRequest("sandbox", auto_approve=True), deploy.plan_for)
    assert standins.calls("terraform", "apply") == []


def test_gitops_bootstrap_installs_argo_cd_and_applies_the_root_once(standins):
    staging = environments.load("staging")
    with pytest.raises(StepFailed) as unreachable:  # no cluster: one line, exit 5, nothing installed
        argocd.bootstrap("staging", confirm="staging")
    assert unreachable.value.exit_code == 5 and standins.calls("helm", "upgrade") == []
    standins.reachable(environments.load("production"))  # the cluster staging lives in
    record = argocd.bootstrap("staging", confirm="staging")
    assert record.result == "succeeded", record.error
    installed = [argv(call) for call in standins.calls("helm", "upgrade")]
    assert [args[2] for args in installed] == ["namespaces", "argo-cd"]
    assert installed[1][installed[1].index("--version") :][:2] == ["--version", "9.1.3"]
    root = standins.state()["applied"]["ApplicationSet/system/bootstrap-staging"]
    assert root["spec"]["template"]["spec"]["source"]["path"] == "kustomize/overlays/staging"
    again = argocd.bootstrap("staging", confirm="staging")  # idempotent: upgrades in place, same root
    assert again.result == "succeeded"
    assert len(standins.calls("kubectl", "apply")) == 2
    assert list(standins.state()["applied"]) == ["ApplicationSet/system/bootstrap-staging"]
    assert {key: len(history) for key, history in standins.state()["helm"].items()} == {
        "default/namespaces": 2, "system/argo-cd": 2,
    }  # fmt: skip
    with pytest.raises(argocd.NotGitOps, match="delivered by terraform"):
        argocd.bootstrap("live")
    assert staging.delivery is environments.Delivery.GITOPS


def test_a_preview_bootstrap_leaves_argo_cd_to_the_sandbox_stack(standins):
    standins.reachable(environments.load("sandbox"))
    record = argocd.bootstrap("preview")
    assert record.result == "succeeded", record.error
    assert standins.calls("helm", "upgrade") == []  # Terraform's helm_release installs Argo CD there
    assert list(standins.state()["applied"]) == ["ApplicationSet/system/voiceops-preview"]
