"""dr: disaster-recovery drills that destroy and restore for real, measuring RTO and RPO."""

import json as json_module
from dataclasses import asdict
from datetime import UTC, datetime

from invoke import task

from voiceops import drills, environments, output, recovery_plan
from voiceops.tasks import ENV_HELP, reports_errors


@task(
    help={
        "env": ENV_HELP,
        "scenario": f"what fails: {', '.join(drills.SCENARIOS)}",
        "json": "print the report as JSON",
        "keep": "keep what the drill made (local: the canary's writes; AWS: the restored instances)",
        "resume": "an AWS drill's id: complete that drill, making only what it has not made yet",
        "confirm": "the environment's name, for one that needs approval",
    }
)
@reports_errors
def drill(c, env="local", scenario="", json=False, keep=False, resume=None, confirm=None):
    """Destroy a server for real (kill it, delete its data), restore it from the standing
    protection alone, verify the canary's writes and the data, and report RTO and RPO against
    the registry's targets (Markdown and JSON under .state/reports/dr/). Exits 1 when data
    older than the achieved RPO is lost or a target is missed. Approval, lock and audit as for
    a deploy.

    On AWS the provider's recovery APIs restore into new drill-<id>-… instances (production is
    only read); with AWS_ENDPOINT_URL (an emulator) the report is marked emulated, without RTO
    or RPO. cluster-failure on any cloud: Velero restores RabbitMQ into a scratch namespace.
    The other scenarios on Azure and Linode, and broker-failure on the clouds: exit 5.
    Example: invoke dr.drill --env local --scenario database-failure
    """
    if not scenario:
        raise drills.DrillFailed(f"give --scenario: one of {', '.join(drills.SCENARIOS)}")
    report = drills.drill(env, scenario, confirm, keep, report=output.console.print, resume=resume)
    if json:
        output.emit_json(asdict(report))
        return
    output.console.print(drills.summary(report))


@task(
    help={
        "env": ENV_HELP,
        "server": f"the server to restore: {', '.join(drills.RESTORABLE)}",
        "before": "restore to the last commit (PostgreSQL) or newest backup (Redis, RabbitMQ) before this "
        "time, an ISO 8601 time with its offset, e.g. 2026-12-04T13:30:00+00:00 (default: the latest)",
        "force": "stop a server that is still running (its data is set aside, not deleted)",
        "confirm": "the environment's name, for one that needs approval",
    }
)
@reports_errors
def restore(c, env="local", server="", before="", force=False, confirm=None):
    """Restore one local server from its standing protection after a real failure: its damaged
    data is moved aside (kept), the server restored (to the latest state, or to --before),
    every data check read, protection started again. Audited; approval and lock as a deploy.
    Example: invoke dr.restore --env local --server postgres
    """
    if not server:
        raise drills.DrillFailed(f"give --server: one of {', '.join(drills.RESTORABLE)}")
    run = drills.restore(env, server, drills.parse_time(before) if before else None, force, confirm)
    output.console.print(f"{server} restored in {run.record.seconds:.1f}s; audit: {run.record.audit_file}")


@task(help={"month": "the month, 1-12 (default: this month, UTC)"})
@reports_errors
def due(c, month=0):
    """The environments whose drills are due this month, as JSON (the drill workflow's matrix):
    the registry's disaster_recovery.drill_schedule, monthly or quarterly.
    Example: invoke dr.due --month 4
    """
    chosen = int(month) or datetime.now(UTC).month
    print(json_module.dumps(drills.due(chosen), separators=(",", ":")))


@task(
    name="plan",
    help={
        "env": ENV_HELP,
        "all": "every environment with recovery targets on a cloud",
        "json": "print machine-readable JSON",
    },
)
@reports_errors
def plan(c, env="", all=False, json=False):
    """For each scenario, the best case of the recovery mechanisms the environment's stack really
    builds (infra/recovery.yaml: each one's evidence checked in the repository) against the
    registry's RTO and RPO targets. Fails on a gap: no mechanism meets a target and no recorded
    deviation says why; or on a deviation for a target that is met.
    Example: invoke dr.plan --all
    """
    if bool(env) == bool(all):
        raise recovery_plan.PlanFailed("give --env E or --all")
    chosen = [item for item in environments.load_all() if recovery_plan.planned(item)] if all else [
        environments.load(env)
    ]  # fmt: skip
    if not all and not recovery_plan.planned(chosen[0]):
        raise recovery_plan.PlanFailed(
            f"{env}: no recovery plan (local is measured by invoke dr.drill; an environment without "
            "disaster_recovery targets has nothing to meet)"
        )
    loaded = recovery_plan.load()
    assessments = [item for environment in chosen for item in recovery_plan.assess(environment, loaded)]
    if json:
        output.emit_json([item.as_json() for item in assessments])
    else:
        rows = []
        for item in assessments:
            best = item.best
            rows.append([
                item.environment, item.scenario, best.id if best else None,
                f"{output.duration(best.rto_seconds)} / {output.duration(item.rto_target)}" if best else None,
                f"{output.duration(best.rpo_seconds)} / {output.duration(item.rpo_target)}" if best else None,
                item.status,
            ])  # fmt: skip
        output.table(
            "Recovery plan (infra/recovery.yaml)",
            ["environment", "scenario", "best mechanism", "RTO / target", "RPO / target", "result"],
            rows,
        )
    failed = recovery_plan.failures(assessments)
    stray = recovery_plan.stray_deviations(loaded) if all else []
    if failed or stray:
        problems = [f"{item.environment} {item.scenario}: {item.status}" for item in failed]
        problems += [f"{item}: deviation for an environment the plan does not cover" for item in stray]
        raise recovery_plan.PlanFailed(f"{len(problems)} problem(s): " + "; ".join(problems))
