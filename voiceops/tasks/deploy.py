"""invoke deploy: the project's main job."""

from invoke import task

from voiceops import deploy as deployment
from voiceops import output
from voiceops.tasks import reports_errors


@task(
    help={
        "env": "environment name (see env.list)",
        "dry_run": "change nothing; show what would run",
        "only": "deploy only this release (repeatable)",
        "skip_infra": "skip the Terraform plan/apply step",
        "confirm": "type the environment name to approve a production-class deploy",
    },
    iterable=["only"],
)
@reports_errors
def deploy(c, env, dry_run=False, only=None, skip_infra=False, confirm=None):
    """Deploy an environment: validate, infra, render and check, releases, smoke tests, audit."""
    request = deployment.DeployRequest(
        environment=env,
        dry_run=dry_run,
        only=tuple(only or ()),
        skip_infra=skip_infra,
        confirm=confirm,
    )
    record = deployment.deploy(request, deployment.plan_for)
    output.console.print(
        f"deploy {record.environment}: {record.result} in {record.seconds:.1f}s (audit: {record.audit_file})"
    )
