"""gitops.*: Argo CD on the clusters of the GitOps environments."""

from invoke import task

from voiceops import argocd, output
from voiceops.tasks import DEFAULT_ENVIRONMENT, reports_errors


@task(
    help={
        "env": "a GitOps environment (development, staging, production, preview, azure-production)",
        "confirm": "type the environment name to approve a production-class bootstrap",
        "dry_run": "say what would be installed and applied, change nothing",
    }
)
@reports_errors
def bootstrap(c, env=DEFAULT_ENVIRONMENT, confirm=None, dry_run=False):
    """Install Argo CD (the catalog's pinned chart and values) on the environment's cluster and
    apply its root object; idempotent. Exit 5 when the cluster is out of reach.

    Example: invoke gitops.bootstrap --env staging --dry-run
    """
    record = argocd.bootstrap(env, confirm, dry_run)
    output.console.print(
        f"gitops.bootstrap {env}: {record.result} in {record.seconds:.1f}s (audit: {record.audit_file})"
    )
