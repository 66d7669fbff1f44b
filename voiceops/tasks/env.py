"""env.list / env.show: the environment registry."""

from invoke import task

from voiceops import environments, output
from voiceops.tasks import DEFAULT_ENVIRONMENT, ENV_HELP, reports_errors


@task(name="list", help={"json": "print machine-readable JSON"})
@reports_errors
def list_(c, json=False):
    """List the registered environments: cloud, delivery, region, cluster, approvals, RTO / RPO.

    Example: invoke env.list --json
    """
    registry = environments.load_all()
    if json:
        output.emit_json([environment.model_dump(mode="json") for environment in registry])
        return
    output.table(
        "Environments (environments/*.yaml)",
        ["name", "cloud", "delivery", "region", "cluster", "k8s", "approvals", "RTO / RPO"],
        [environments.summary_row(environment) for environment in registry],
    )


@task(help={"env": ENV_HELP, "json": "print JSON instead of YAML"})
@reports_errors
def show(c, env=DEFAULT_ENVIRONMENT, json=False):
    """Show one environment as validated by the registry schema (a wrong field is named).

    Example: invoke env.show --env azure-production --json
    """
    environment = environments.load(env)
    if json:
        output.emit_json(environment.model_dump(mode="json"))
    else:
        output.console.print(environments.to_yaml(environment), end="")
