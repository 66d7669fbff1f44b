"""env.list, env.show, env.generate: the environment registry and what is generated from it."""

import json as json_module

from invoke import task

from voiceops import environments, output, toolchain
from voiceops import generate as generated
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


@task
@reports_errors
def runners(c):
    """Print, as one line of JSON, the runner labels each environment's delivery jobs run on
    (the cluster owner's cluster.api_access): workflows route their jobs with it.

    Example: invoke env.runners
    """
    print(json_module.dumps(environments.delivery_runners(), separators=(",", ":")))


@task(help={"check": "change nothing; exit 1 when a committed file is stale (the gate runs this)"})
@reports_errors
def generate(c, check=False):
    """Write the resolved environments (environments/resolved/) and the Argo CD overlays and
    bootstraps (kustomize/) from the registry and the release catalog.

    Example: invoke env.generate --check
    """
    if check:
        checked = generated.check()
        output.console.print(f"{checked} generated files are current")
        return
    touched = generated.write(generated.generated_files(), generated.owned_directories())
    for path in touched:
        output.console.print(f"{'wrote' if path.exists() else 'removed'} {toolchain.shown(path)}")
    output.console.print(f"{len(touched)} file(s) changed")
