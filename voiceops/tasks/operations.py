"""invoke status / invoke rollback."""

from dataclasses import asdict

from invoke import task

from voiceops import operations, output
from voiceops.tasks import reports_errors


@task(help={"env": "environment name (see env.list)", "json": "print machine-readable JSON"})
@reports_errors
def status(c, env, json=False):
    """Releases (revision, health) and the last deploys, applies and rollbacks of an environment."""
    result = operations.status(env)
    if json:
        output.emit_json(asdict(result))
        return
    output.console.print(
        f"{result.environment}: {result.cloud}, delivered by {result.delivery}; cluster {result.cluster}"
    )
    output.table(
        f"Releases of {result.environment}",
        ["release", "namespace", "revision", "status"],
        [
            [item["name"], item["namespace"], str(item["revision"]), item["status"]]
            for item in result.releases
        ],
    )
    output.table(
        "Last runs (audit trail)",
        ["when", "action", "actor", "commit", "result", "seconds"],
        [[item["when"], item["action"], item["actor"], item["commit"], item["result"], str(item["seconds"])]
         for item in result.deploys] or [["-", "no runs recorded", "-", "-", "-", "-"]],
    )  # fmt: skip


@task(
    help={
        "env": "environment name (see env.list)",
        "release": "release to roll back (every release of a Helm environment when left out)",
        "to_revision": "Helm revision or Argo CD history id to return to (default: the previous one)",
        "confirm": "type the environment name to approve a production-class rollback",
    }
)
@reports_errors
def rollback(c, env, release=None, to_revision=None, confirm=None):
    """Roll releases back (Helm, or Argo CD for GitOps environments), check their health, audit."""
    revision = None
    if to_revision is not None:
        try:
            revision = int(to_revision)
        except ValueError:
            raise operations.OpsError(f"--to-revision must be a number, not {to_revision!r}") from None
    record = operations.rollback(env, release, revision, confirm)
    output.console.print(
        f"rollback {env}: {record.result} in {record.seconds:.1f}s (audit: {record.audit_file})"
    )
