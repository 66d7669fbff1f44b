"""render: every chart and overlay of an environment into build/rendered/<env>/, then checked."""

from datetime import date
from pathlib import Path

from invoke import task

from voiceops import chart_cache, chart_schemas, environments, output, render, toolchain, upstream_findings
from voiceops import scan as scanners
from voiceops.errors import OpsError
from voiceops.tasks import reports_errors


class GateFailed(OpsError):
    pass


@task(
    help={
        "env": "environment to render (see env.list)",
        "all": "render every environment of the registry",
        "only": "render only this release (repeatable)",
        "json": "print machine-readable JSON",
    },
    iterable=["only"],
)
@reports_errors
def render_(c, env=None, all=False, only=None, json=False):
    """Render charts and overlays into build/rendered/<env>/ and run the schema and policy gate.

    Give --env NAME, or --all for every environment.
    Example: invoke render --env production --only platform
    """
    with output.progress("rendering and checking " + ("every environment" if all else str(env))):
        results = render.render_targets(env, all, tuple(only or ()))
    if json:
        output.emit_json([render.summary(result) for result in results])
    else:
        output.table(
            "Rendered into build/rendered/",
            [
                "environment",
                "releases",
                "objects",
                "schema-checked",
                "custom resources (CRD-checked / no schema)",
                "unverified",
                "violations",
            ],
            [render.summary_row(result) for result in results],
        )
        for result in results:
            if result.render.unverified:
                names = ", ".join(item.name for item in result.render.unverified)
                output.console.print(
                    f"[yellow]{result.render.environment}: {len(result.render.unverified)} release(s) "
                    f"unverified, their charts are not in {render.CHART_CACHE.relative_to(render.ROOT)} "
                    f"(invoke charts.pull): {names}"
                )
            for violation in result.violations:
                output.console.print(
                    f"[red]{result.render.environment}: {violation.rule}: {violation.message}"
                )
            for error in result.schemas.errors:
                output.console.print(f"[red]{result.render.environment}: schema: {error}")
    failed = [result.render.environment for result in results if not result.passed]
    if failed:
        raise GateFailed(f"render gate failed for {', '.join(failed)}")


@task(
    name="pull",
    help={
        "from_": "build from a directory of chart source repositories (owner+name/ or owner/name/) "
        "instead of pulling from the chart repositories",
        "only": "only this release (repeatable)",
        "record": "write the sha256 of each published archive into charts/releases.lock.yaml",
    },
    iterable=["only"],
)
@reports_errors
def pull(c, from_=None, only=None, record=False):
    """Fill .cache/charts/ with every pinned upstream chart, verified against charts/releases.lock.yaml.

    Pulls from the chart repositories (as on GitHub's runners), or with --from builds each
    chart and its dependencies from their sources at the locked commits (an air-gapped
    mirror). Exit 5 when a chart could not be cached.

    Example: invoke charts.pull --from ~/chart-sources
    """
    if record and from_:
        raise OpsError("--record takes the sha256 of published archives: it cannot go with --from")
    sources = Path(from_).expanduser() if from_ else None
    if sources is not None and not sources.is_dir():
        raise OpsError(f"--from {from_}: no such directory")
    with output.progress("filling the chart cache"):
        report = chart_cache.pull(sources, tuple(only or ()), record)
    output.table(
        "Upstream chart cache (.cache/charts)",
        ["release", "archive", "verified by", "stubbed dependencies"],
        [
            [item.release, item.archive.name, item.verified_by, ", ".join(item.stubs) or None]
            for item in report.cached
        ],
    )
    for failure in report.failures:
        output.console.print(f"[red]{failure}")
    if report.failures:
        raise chart_cache.PullFailed(
            f"{len(report.failures)} of {len(report.failures) + len(report.cached)} charts not cached"
        )


@task(name="schemas")
@reports_errors
def schemas(c):
    """Regenerate the charts' values.schema.json from voiceops/chart_schemas.py.

    Example: invoke charts.schemas
    """
    written = chart_schemas.write_all()
    output.console.print(f"{len(written)} schema(s) rewritten" if written else "schemas up to date")


@task(name="lint", help={"env": "environment (default: all)"})
@reports_errors
def lint(c, env=None):
    """helm lint --strict every local chart with each environment's values layers.

    Default: every environment. Example: invoke charts.lint --env sandbox
    """
    targets = [environments.load(env)] if env else environments.load_all()
    failures = render.lint(targets)
    for environment, release, error in failures:
        output.console.print(f"[red]{environment}/{release}: {error}")
    if failures:
        raise GateFailed(f"{len(failures)} chart lint failure(s)")
    output.console.print(f"helm lint --strict passed for {len(targets)} environment(s)")


@task(
    name="scan",
    help={
        "path": "directory to scan (default build/rendered)",
        "framework": "checkov framework: kubernetes or terraform",
    },
)
@reports_errors
def scan(c, path="build/rendered", framework="kubernetes"):
    """checkov and trivy over rendered manifests (or Terraform); any finding or zero resources fails.

    Default: build/rendered (run invoke render first).
    Example: invoke charts.scan --path build/rendered/preview
    """
    directory = render.ROOT / path
    with output.progress(f"checkov and trivy over {path}"):
        results = [scanners.checkov(directory, framework), scanners.trivy(directory)]
    failed = False
    if framework == "kubernetes":
        accepted = upstream_findings.load()
        for problem in upstream_findings.expired(accepted, date.today()):
            output.console.print(f"[red]  {problem}")
            failed = True
        results = [upstream_findings.apply(result, directory, accepted) for result in results]
    for result in results:
        output.console.print(
            f"{result.scanner}: {result.resources} resources, {result.passed} checks passed, "
            f"{len(result.findings)} finding(s), {result.suppressed} accepted in upstream charts "
            f"({toolchain.shown(upstream_findings.FINDINGS_PATH)})"
        )
        for finding in result.findings:
            output.console.print(f"[red]  {finding}")
        failed = failed or bool(result.findings)
    if failed:
        raise GateFailed(f"scanners reported findings in {path}")
