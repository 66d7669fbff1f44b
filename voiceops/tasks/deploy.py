"""invoke deploy: the project's main job."""

from invoke import task

from voiceops import deploy as deployment
from voiceops import output
from voiceops.tasks import DEFAULT_ENVIRONMENT, ENV_HELP, reports_errors


@task(
    help={
        "env": ENV_HELP,
        "dry_run": "change nothing: plan, render and check, and say what would run (no approval needed)",
        "only": "deploy only this release (repeatable; checked before anything starts)",
        "skip_infra": "skip the Terraform plan/apply step",
        "confirm": "type the environment name to approve a production-class deploy",
        "auto_approve": "apply the Terraform plan without asking (the approved CI job needs no flag)",
    },
    iterable=["only"],
)
@reports_errors
def deploy(
    c, env=DEFAULT_ENVIRONMENT, dry_run=False, only=None, skip_infra=False, confirm=None, auto_approve=False
):
    """Deploy an environment: validate, infrastructure, render and check, releases, smoke tests, audit.

    Default --env local (real servers on 127.0.0.1). On a cloud environment the Terraform plan
    is shown and applied after a typed yes, or at once with --auto-approve.
    Example: invoke deploy --env sandbox --dry-run
    """
    request = deployment.DeployRequest(
        environment=env,
        dry_run=dry_run,
        only=tuple(only or ()),
        skip_infra=skip_infra,
        confirm=confirm,
        auto_approve=auto_approve,
    )
    record = deployment.deploy(request, deployment.plan_for)
    output.console.print(
        f"deploy {record.environment}: {record.result} in {record.seconds:.1f}s (audit: {record.audit_file})"
    )
