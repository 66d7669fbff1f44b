"""`invoke deploy`: approvals, one deploy per environment at a time, steps with
timings, undo of completed changes on failure, and an audit record of every run."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from voiceops import catalog, environments, local, output, render, smoke, toolchain
from voiceops.environments import Cloud, Delivery, Environment
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT, state_dir

APPROVAL_VARIABLE = "VOICEOPS_APPROVED_ENVIRONMENT"


class ApprovalRequired(OpsError):
    exit_code = 3


class DeployLocked(OpsError):
    exit_code = 4


class StepFailed(OpsError):
    pass


class DeployIncomplete(OpsError):
    """A step the environment needs could not run here (no credentials, providers or cluster)."""

    exit_code = 5


@dataclass(frozen=True)
class DeployRequest:
    environment: str
    dry_run: bool = False
    only: tuple[str, ...] = ()
    skip_infra: bool = False
    confirm: str | None = None


@dataclass
class StepRecord:
    name: str
    status: str = "pending"  # ok, skipped, failed, undone
    seconds: float = 0.0
    detail: str = ""
    essential: bool = False


@dataclass
class Step:
    """One stage of a deploy. `run` returns a one-line detail; it may return an undo."""

    name: str
    run: Callable[[], str | tuple[str, Callable[[], None]]]
    # A deploy whose essential step was skipped for want of credentials or a cluster is incomplete.
    essential: bool = False


@dataclass
class DeployContext:
    request: DeployRequest
    environment: Environment


def actor() -> str:
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def check_approval(environment: Environment, confirm: str | None) -> str:
    """Production-class work needs the typed environment name, or the approved CI job's flag.

    The CI flag is the environment variable VOICEOPS_APPROVED_ENVIRONMENT, which only the
    deploy workflow's job sets, and only inside the GitHub environment that carries the
    registry's required reviewers.
    """
    if environment.approvals.required == 0 and not environment.production_class:
        return "not required"
    if confirm is not None:
        if confirm != environment.name:
            raise ApprovalRequired(
                f"--confirm {confirm!r} does not match the environment name {environment.name!r}"
            )
        return f"typed confirmation by {actor()}"
    approved = os.environ.get(APPROVAL_VARIABLE)
    if approved and os.environ.get("CI") == "true" and approved == environment.approvals.github_environment:
        return f"GitHub environment {approved} ({environment.approvals.required} reviewers)"
    raise ApprovalRequired(
        f"{environment.name} needs {environment.approvals.required} approvals: "
        f"re-run with --confirm {environment.name}, or deploy through the approved CI job"
    )


class EnvironmentLock:
    """A file lock per environment; the holder is written beside it for the error message."""

    def __init__(self, environment: str) -> None:
        locks = state_dir() / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        self.environment = environment
        self.lock = FileLock(locks / f"{environment}.lock")
        self.holder_file = locks / f"{environment}.holder.json"

    def __enter__(self) -> EnvironmentLock:
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            holder = self._read_holder()
            raise DeployLocked(
                f"another deploy to {self.environment} is running ({holder}); "
                "wait for it to finish, nothing was changed"
            ) from None
        self.holder_file.write_text(
            json.dumps(
                {
                    "actor": actor(),
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.holder_file.unlink(missing_ok=True)
        self.lock.release()

    def _read_holder(self) -> str:
        try:
            data = json.loads(self.holder_file.read_text())
        except (OSError, ValueError):
            return "holder unknown"
        return f"pid {data['pid']} by {data['actor']}@{data['host']} since {data['since']}"


def write_audit(record: dict) -> Path:
    audit_dir = state_dir() / "audit"
    audit_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = audit_dir / f"{stamp}-{record['environment']}-{record['action']}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def run_steps(steps: list[Step], records: list[StepRecord]) -> None:
    """Run steps in order; on failure undo what earlier steps changed, newest first."""
    undo_stack: list[tuple[StepRecord, Callable[[], None]]] = []
    for step in steps:
        record = StepRecord(step.name, essential=step.essential)
        records.append(record)
        started = time.monotonic()
        output.console.print(f"[bold]==>[/bold] {step.name} ...")
        try:
            result = step.run()
        except OpsError as error:
            record.status, record.detail = "failed", error.message
            record.seconds = round(time.monotonic() - started, 3)
            for done, undo in reversed(undo_stack):
                output.console.print(f"    undoing {done.name}")
                undo()
                done.status = "undone"
            raise StepFailed(f"{step.name} failed: {error.message}") from error
        detail, undo = (result, None) if isinstance(result, str) else result
        record.status = "skipped" if detail.startswith("skipped") else "ok"
        record.detail = detail
        record.seconds = round(time.monotonic() - started, 3)
        if undo is not None:
            undo_stack.append((record, undo))
        shown = detail if record.status == "skipped" else f"ok: {detail}"
        output.console.print(f"    {shown} ({record.seconds:.1f}s)")


def deploy(request: DeployRequest, plan: Callable[[DeployContext], list[Step]]) -> dict:
    """Validate, approve, lock, run the environment's steps and write the audit record."""
    environment = environments.load(request.environment)
    approval = check_approval(environment, request.confirm)
    context = DeployContext(request, environment)
    records: list[StepRecord] = []
    record = {
        "action": "deploy",
        "environment": environment.name,
        "actor": actor(),
        "commit": git_commit(),
        "arguments": asdict(request),
        "approval": approval,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "steps": [],
        "result": "running",
    }
    started = time.monotonic()
    with EnvironmentLock(environment.name), cluster_lock(environment, record):
        try:
            run_steps(plan(context), records)
            missing = [item.name for item in records if item.essential and item.detail.startswith("skipped:")]
            record["result"] = "dry-run" if request.dry_run else "incomplete" if missing else "succeeded"
            if missing and not request.dry_run:
                record["error"] = f"not done here: {', '.join(missing)}"
        except OpsError as error:
            record["result"] = "failed"
            record["error"] = error.message
            raise
        except KeyboardInterrupt:
            record["result"] = "interrupted"
            raise
        finally:
            record["steps"] = [asdict(item) for item in records]
            record["seconds"] = round(time.monotonic() - started, 3)
            record["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
            record["audit_file"] = str(write_audit(record))
    if record["result"] == "incomplete":
        raise DeployIncomplete(
            f"deploy {environment.name} incomplete: {record['error']} (see the skipped steps above; "
            f"audit: {record['audit_file']})"
        )
    return record


def cluster_lock(environment: Environment, record: dict) -> AbstractContextManager[object]:
    """Beside the file lock, a Kubernetes Lease when the environment's cluster is reachable,
    so deploys from different machines exclude each other too."""
    if environment.cloud is Cloud.LOCAL:
        return nullcontext()
    from voiceops import cluster

    try:
        cluster.require_reachable(environment)
    except cluster.ClusterUnreachable as error:
        record["cluster_lock"] = f"none: {error.message}"
        return nullcontext()
    record["cluster_lock"] = f"Lease voiceops-deploy-{environment.name}"
    return cluster.ClusterLease(environment)


def check_toolchain() -> str:
    statuses = toolchain.check_all()
    broken = [f"{s.tool.name} {s.status.lower()}" for s in statuses if not s.ok and not s.tool.optional]
    if broken:
        raise OpsError(f"{', '.join(broken)} (run python3 scripts/bootstrap.py)")
    return f"{len(statuses)} tools checked, required ones OK"


def validate_registry(context: DeployContext) -> str:
    registry = environments.load_all()
    return f"{context.environment.name} valid; registry of {len(registry)} environments consistent"


def local_servers(context: DeployContext) -> str:
    if context.request.dry_run:
        states = ", ".join(f"{s.name} {s.state}" for s in local.status())
        return f"skipped (dry run): would start or recover what is not running ({states})"
    lines: list[str] = []
    local.up(report=lines.append)
    return "; ".join(lines)


def render_and_gate(context: DeployContext) -> str:
    """Render exactly what this deploy would apply and check it; runs in dry runs too."""
    result = render.render_environment(context.environment, context.request.only)
    gate = render.gate(context.environment, result)
    if not gate.passed:
        problems = [f"{v.rule}: {v.message}" for v in gate.violations] + gate.schemas.errors
        raise OpsError(f"policy gate: {len(problems)} problem(s), first: {problems[0]}")
    rendered = [item for item in result.files if item.status == "rendered"]
    return (
        f"{len(rendered)} releases, {result.objects} objects in {result.directory.relative_to(render.ROOT)}; "
        f"{gate.schemas.validated} schema-checked, policy clean; "
        f"{len(result.missing)} upstream charts not cached (no network)"
    )


def local_cluster(context: DeployContext) -> str | tuple[str, Callable[[], None]]:
    """With docker and kind: a kind cluster and the catalog installed in waves. Without: one line."""
    manifest = toolchain.load_manifest()
    releases = catalog.select(catalog.releases_for(context.environment), context.request.only)
    waves = len(catalog.waves(releases))
    missing = [
        name for name in ("docker", "kind") if not toolchain.check_tool(manifest.tool(name), manifest).ok
    ]
    if missing:
        return (
            f"skipped: no local Kubernetes cluster reachable ({' and '.join(missing)} not available); "
            f"{len(releases)} releases in {waves} waves rendered and checked, not installed"
        )
    if context.request.dry_run:
        return f"skipped (dry run): would create the kind cluster, then install {len(releases)} releases"
    from voiceops import cluster

    created = cluster.ensure_kind_cluster(context.environment)
    detail, undo = cluster.install_waves(
        context.environment, releases, lambda line: output.console.print(f"    {line}")
    )
    return f"{created}; {detail}", undo


def infrastructure(context: DeployContext) -> str:
    """Terraform plan, then apply of exactly that plan; a dry run stops after the plan."""
    from voiceops import terraform

    environment = context.environment
    if context.request.skip_infra:
        return "skipped (--skip-infra)"
    if environment.cluster.shared_with:
        owner = environment.cluster.shared_with[0]
        return f"nothing to do: {environment.name} is in {owner}'s cluster (its stack: --env {owner})"
    try:
        meta = terraform.plan(environment.name)
    except terraform.TerraformUnavailable as error:
        return f"skipped: {error.message}"
    changes = ", ".join(f"{count} to {kind}" for kind, count in meta["changes"].items())
    if context.request.dry_run:
        return f"skipped (dry run): plan saved, {changes}"
    # Terraform applies forward only: a failure later in the deploy does not undo it.
    terraform.apply(environment.name, context.request.confirm)
    return f"applied: {changes}"


def cluster_releases(context: DeployContext) -> str | tuple[str, Callable[[], None]]:
    """Install the catalog in waves (helm), sync Argo CD (gitops), or note Terraform did it."""
    from voiceops import cluster

    environment = context.environment
    releases = catalog.select(catalog.releases_for(environment), context.request.only)
    try:
        cluster.require_reachable(environment)
    except cluster.ClusterUnreachable as error:
        return f"skipped: {error.message}; {len(releases)} releases rendered and checked, not installed"
    if context.request.dry_run:
        waves = len(catalog.waves(releases))
        return f"skipped (dry run): would install {len(releases)} releases in {waves} waves"
    if environment.delivery is Delivery.TERRAFORM:
        return "installed by the Terraform apply (helm_release, seed 000)"
    if environment.delivery is Delivery.GITOPS:
        names = [cluster.application_name(environment, release.name) for release in releases]
        for name in names:
            cluster.sync_application(environment, name, git_commit())
        return cluster.wait_healthy(environment, names)
    return cluster.install_waves(environment, releases, lambda line: output.console.print(f"    {line}"))


def smoke_tests(context: DeployContext) -> str:
    if context.request.dry_run:
        return "skipped (dry run)"
    return smoke.run_smoke(context.environment)


def plan_for(context: DeployContext) -> list[Step]:
    """The steps `invoke deploy` runs for an environment, in order."""
    common = [
        Step("validate environment", lambda: validate_registry(context)),
        Step("check toolchain", check_toolchain),
    ]
    if context.environment.cloud is Cloud.LOCAL:
        return [
            *common,
            Step("local servers", lambda: local_servers(context)),
            Step("render and policy gate", lambda: render_and_gate(context)),
            Step("local cluster", lambda: local_cluster(context)),
            Step("smoke tests", lambda: smoke_tests(context)),
        ]
    return [
        *common,
        Step("infrastructure (terraform)", lambda: infrastructure(context), essential=True),
        Step("render and policy gate", lambda: render_and_gate(context)),
        Step("releases", lambda: cluster_releases(context), essential=True),
        Step("smoke tests", lambda: smoke_tests(context)),
    ]
