"""env.list / env.show: the environment registry."""

from invoke import task

from voiceops import environments, output
from voiceops.tasks import reports_errors


@task(name="list", help={"json": "print machine-readable JSON"})
@reports_errors
def list_(c, json=False):
    """List the registered environments."""
    registry = environments.load_all()
    if json:
        output.emit_json([environment.model_dump(mode="json") for environment in registry])
        return
    output.table(
        "Environments (environments/*.yaml)",
        ["name", "cloud", "delivery", "region", "cluster", "k8s", "approvals", "RTO / RPO"],
        [environments.summary_row(environment) for environment in registry],
    )


@task(help={"env": "environment name (see env.list)", "json": "print JSON instead of YAML"})
@reports_errors
def show(c, env, json=False):
    """Show one environment as validated by the registry schema."""
    environment = environments.load(env)
    if json:
        output.emit_json(environment.model_dump(mode="json"))
    else:
        output.console.print(environments.to_yaml(environment), end="")
