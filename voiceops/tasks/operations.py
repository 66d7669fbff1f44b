"""invoke status / invoke rollback."""

from dataclasses import asdict

from invoke import task

from voiceops import cluster, operations, output
from voiceops.errors import OpsError
from voiceops.tasks import DEFAULT_ENVIRONMENT, ENV_HELP, reports_errors


@task(help={"env": ENV_HELP, "json": "print machine-readable JSON (missing values are null)"})
@reports_errors
def status(c, env=DEFAULT_ENVIRONMENT, json=False):
    """Releases (revision, health) and the last runs of an environment; exit 5 if its cluster is out of reach.

    Default --env local: the local servers. What is known without the cluster (the catalog,
    the audit trail) is printed either way.
    Example: invoke status --env production --json
    """
    result = operations.status(env)
    if json:
        output.emit_json(asdict(result))
    else:
        output.console.print(
            f"{result.environment}: {result.cloud}, delivered by {result.delivery}; cluster {result.cluster}"
        )
        output.table(
            f"Releases of {result.environment}",
            ["release", "namespace", "revision", "status"],
            [[item["name"], item["namespace"], item["revision"], item["status"]] for item in result.releases],
        )
        output.table(
            "Last runs (audit trail)",
            ["when", "action", "actor", "commit", "result", "seconds"],
            [[item["when"], item["action"], item["actor"], item["commit"], item["result"], item["seconds"]]
             for item in result.deploys] or [["-", "no runs recorded", "-", "-", "-", "-"]],
        )  # fmt: skip
        output.console.print(f"last drill: {operations.drill_line(result.last_drill)}")
    if result.unreachable:
        raise cluster.ClusterUnreachable(result.unreachable)


@task(
    help={
        "env": ENV_HELP,
        "release": "release to roll back (every release of a Helm environment when left out)",
        "to_revision": "Helm revision or Argo CD history id to return to (default: the previous one)",
        "confirm": "type the environment name to approve a production-class rollback",
    }
)
@reports_errors
def rollback(c, env=DEFAULT_ENVIRONMENT, release=None, to_revision=None, confirm=None):
    """Roll releases back (Helm, or Argo CD for GitOps environments), check their health, audit.

    Example: invoke rollback --env sandbox --release platform --to-revision 3
    """
    revision = None
    if to_revision is not None:
        try:
            revision = int(to_revision)
        except ValueError:
            raise OpsError(f"--to-revision must be a number, not {to_revision!r}") from None
    record = operations.rollback(env, release, revision, confirm)
    output.console.print(
        f"rollback {env}: {record.result} in {record.seconds:.1f}s (audit: {record.audit_file})"
    )
