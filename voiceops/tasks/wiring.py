"""wiring: every reference an environment's releases make resolves to something it installs."""

from invoke import task

from voiceops import environments, output, wiring
from voiceops.errors import OpsError
from voiceops.tasks import reports_errors


class WiringFailed(OpsError):
    pass


@task(
    name="wiring",
    help={
        "env": "environment to check (see env.list)",
        "all": "check every environment of the registry",
        "json": "print machine-readable JSON",
        "verbose": "list every reference, resolved ones included",
    },
)
@reports_errors
def wiring_(c, env=None, all=False, json=False, verbose=False):
    """Render an environment (and the owner of its cluster) and follow every reference: Secrets,
    ConfigMaps, in-cluster host names and ports, service accounts, storage classes, node pools,
    Prometheus selection, namespace owners. Fails on a dangling reference or a blind rule.

    Secrets no chart renders are counted as unproduced and do not fail the run.
    Example: invoke wiring --env live
    """
    if bool(env) == bool(all):
        raise WiringFailed("give either --env NAME or --all")
    targets = environments.load_all() if all else [environments.load(env)]
    with output.progress("rendering and following references of " + ("every environment" if all else env)):
        reports = wiring.run(targets)
    if json:
        output.emit_json([wiring.summary(report) for report in reports])
    else:
        statuses = list(wiring.Status)
        output.table(
            "Wiring (build/wiring/)",
            ["environment", "rule", "checked", *(status.value for status in statuses)],
            [
                [report.environment, rule.rule + (" (blind)" if rule.blind else ""),
                 str(len(rule.references)),
                 *(str(rule.count(status)) for status in statuses)]
                for report in reports
                for rule in report.rules
            ],
        )  # fmt: skip
        for report in reports:
            if report.unverified_releases:
                output.console.print(
                    f"[yellow]{report.environment}: unverified, charts not cached (invoke charts.pull): "
                    + ", ".join(report.unverified_releases)
                )
            for row in report.stale_rows:
                stale = f"[red]{report.environment}: resolved, yet still in charts/wiring-open.yaml: {row}"
                output.console.print(stale, soft_wrap=True)
            for rule in report.rules:
                for reference in rule.references:
                    if reference.status is wiring.Status.DANGLING:
                        output.console.print(f"[red]{report.environment}: {reference}", soft_wrap=True)
                    elif verbose or reference.status is wiring.Status.UNVERIFIED:
                        output.console.print(f"{report.environment}: {reference}", soft_wrap=True)
    failed = [report.environment for report in reports if not report.passed]
    if failed:
        raise WiringFailed(f"wiring failed for {', '.join(failed)}")
