"""dr: disaster-recovery drills that destroy and restore for real, measuring RTO and RPO."""

from dataclasses import asdict

from invoke import task

from voiceops import drills, output
from voiceops.tasks import ENV_HELP, reports_errors


@task(
    help={
        "env": ENV_HELP,
        "scenario": f"what fails: {', '.join(drills.SCENARIOS)}",
        "json": "print the report as JSON",
        "keep": "keep the canary's writes after the drill, for inspection",
        "confirm": "the environment's name, for one that needs approval",
    }
)
@reports_errors
def drill(c, env="local", scenario="", json=False, keep=False, confirm=None):
    """Destroy a server for real (kill it, delete its data), restore it from the standing
    protection alone, verify the canary's writes and the data, and report RTO and RPO against
    the registry's targets (Markdown and JSON under .state/reports/dr/). Exits 1 when data
    older than the achieved RPO is lost or a target is missed. Approval, lock and audit as for
    a deploy.
    Example: invoke dr.drill --env local --scenario database-failure
    """
    if not scenario:
        raise drills.DrillFailed(f"give --scenario: one of {', '.join(drills.SCENARIOS)}")
    report = drills.drill(env, scenario, confirm, keep, report=output.console.print)
    if json:
        output.emit_json(asdict(report))
        return
    output.console.print(drills.summary(report))
