"""`invoke deploy`: the steps that bring an environment to the commit checked out, run
inside one approved, locked and audited run (voiceops.runs)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from voiceops import (
    catalog,
    cluster,
    environments,
    generate,
    gitops,
    local,
    output,
    protection,
    render,
    runs,
    smoke,
    terraform,
    toolchain,
)
from voiceops.environments import Cloud, Delivery, Environment
from voiceops.errors import OpsError
from voiceops.runs import AuditRecord, Run, Step


@dataclass(frozen=True)
class DeployRequest:
    environment: str
    dry_run: bool = False
    only: tuple[str, ...] = ()
    skip_infra: bool = False
    confirm: str | None = None
    auto_approve: bool = False


@dataclass
class DeployContext:
    request: DeployRequest
    environment: Environment
    run: Run


def deploy(request: DeployRequest, plan: Callable[[DeployContext], list[Step]]) -> AuditRecord:
    """Validate everything first (every registry file, the environment, the releases named by
    --only), then run the environment's steps inside one approved, locked, audited run."""
    environments.load_all()
    environment = environments.load(request.environment)
    catalog.select(catalog.releases_for(environment), request.only)
    run = Run("deploy", environment, asdict(request), request.confirm, request.dry_run)
    with run:
        run.execute(plan(DeployContext(request, environment, run)))
    incomplete = run.incomplete_error()
    if incomplete is not None:
        raise incomplete
    return run.record


def check_toolchain() -> str:
    statuses, cached = toolchain.check_all_cached()
    broken = [f"{s.tool.name} {s.status.lower()}" for s in statuses if not s.ok and not s.tool.optional]
    if broken:
        raise toolchain.ToolchainError(f"{', '.join(broken)} (run python3 scripts/bootstrap.py)")
    how = "unchanged since the last check" if cached else "checked"
    return f"{len(statuses)} tools {how}, required ones OK"


def validate_registry(context: DeployContext) -> str:
    registry = environments.load_all()
    # Terraform and Argo CD read the generated files: a registry edit must reach them first
    generated = generate.check()
    return (
        f"{context.environment.name} valid; registry of {len(registry)} environments consistent; "
        f"{generated} generated files current"
    )


def local_servers(context: DeployContext) -> str:
    if context.request.dry_run:
        states = ", ".join(f"{s.name} {s.state}" for s in local.status())
        return f"skipped (dry run): would start or recover what is not running ({states})"
    return local.summary(protection.up(report=lambda line: output.console.print(f"    {line}")))


def render_and_gate(context: DeployContext) -> str:
    """Render exactly what this deploy would apply and check it; runs in dry runs too."""
    result = render.render_environment(context.environment, context.request.only)
    gate = render.gate(context.environment, result)
    if not gate.passed:
        problems = [f"{v.rule}: {v.message}" for v in gate.violations] + gate.schemas.errors
        raise OpsError(f"policy gate: {len(problems)} problem(s), first: {problems[0]}")
    names = {
        item.name for item in catalog.select(catalog.releases_for(context.environment), context.request.only)
    }
    rendered = len([item for item in result.files if item.status == "rendered" and item.name in names])
    return (
        f"{rendered} of {len(names)} releases rendered ({len(result.unverified)} unverified: charts not "
        f"cached), {result.objects} objects in {toolchain.shown(result.directory)}; "
        f"{gate.schemas.validated} schema-checked, policy clean"
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
            f"{len(releases)} releases in {waves} waves not installed"
        )
    if context.request.dry_run:
        return f"skipped (dry run): would create the kind cluster, then install {len(releases)} releases"
    created = cluster.ensure_kind_cluster(context.environment)
    detail, undo = cluster.install_waves(
        context.environment, releases, lambda line: output.console.print(f"    {line}")
    )
    return f"{created}; {detail}", undo


def infrastructure(context: DeployContext) -> str:
    """Terraform plan, then apply of exactly that plan; a dry run stops after the plan."""
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
    output.console.print(f"    plan: {changes}")
    if context.request.dry_run:
        return f"skipped (dry run): plan saved, {changes}"
    approve_plan(context, changes)
    # Terraform applies forward only: a failure later in the deploy does not undo it.
    terraform.apply_saved(terraform.stack_for(environment.name), shown_sha256=meta["sha256"])
    return f"applied: {changes}"


def approve_plan(context: DeployContext, changes: str) -> None:
    """A plan is applied without a question only in the approved CI job or with --auto-approve;
    at a terminal the user types yes; anywhere else the deploy stops before applying."""
    environment = context.environment
    if context.request.auto_approve or runs.approved_ci_job(environment):
        return
    if not sys.stdin.isatty():
        raise runs.ApprovalRequired(
            f"the plan for {environment.name} ({changes}) was not applied: no terminal to confirm it; "
            "re-run with --auto-approve, or review it with --dry-run"
        )
    answer = output.ask(f"    apply this plan to {environment.name}? type yes to apply: ")
    if answer.strip() != "yes":
        raise runs.ApprovalRequired(
            f"the plan for {environment.name} was not applied (answer: {answer.strip()!r})"
        )


def cluster_releases(context: DeployContext) -> str | tuple[str, Callable[[], None]]:
    """Install the catalog in waves (helm), sync Argo CD (gitops), or note Terraform did it."""
    environment = context.environment
    releases = catalog.select(catalog.releases_for(environment), context.request.only)
    try:
        cluster.require_reachable(environment)
    except cluster.ClusterUnreachable as error:
        return f"skipped: {error.message}; {len(releases)} releases not installed"
    if context.request.dry_run:
        waves = len(catalog.waves(releases))
        return f"skipped (dry run): would install {len(releases)} releases in {waves} waves"
    if environment.delivery is Delivery.TERRAFORM:
        return "installed by the Terraform apply (helm_release, seed 000)"
    if environment.delivery is Delivery.GITOPS:
        names = [gitops.application_name(environment, release.name) for release in releases]
        for name in names:
            cluster.sync_application(environment, name, context.run.record.commit, context.run.record.actor)
        return cluster.wait_healthy(environment, names)
    return cluster.install_waves(environment, releases, lambda line: output.console.print(f"    {line}"))


def smoke_tests(context: DeployContext) -> str:
    if context.request.dry_run:
        return "skipped (dry run)"
    try:
        return smoke.run_smoke(context.environment)
    except cluster.ClusterUnreachable as error:
        return f"skipped: {error.message}"


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
