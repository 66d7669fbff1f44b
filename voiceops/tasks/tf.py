"""tf.*: Terraform stacks (fmt, test, scan, requirements, bootstrap, plan, apply, destroy)."""

from invoke import task
from rich.markup import escape

from voiceops import infra_policy, output, provider_schema_check, state_backend, terraform, terraform_docs
from voiceops.tasks import DEFAULT_ENVIRONMENT, reports_errors


@task(help={"check": "only report files that need formatting (non-zero exit if any)"})
@reports_errors
def fmt(c, check=False):
    """terraform fmt over infra/terraform (rewrites files unless --check).

    Example: invoke tf.fmt --check
    """
    files = terraform.fmt(check)
    verb = "would reformat" if check else "reformatted"
    output.console.print(
        f"terraform fmt: {verb} {len(files)} file(s)" + (f": {', '.join(files)}" if files else "")
    )


@task(name="test")
@reports_errors
def test_(c):
    """terraform test in every provider-free logic module (offline).

    Example: invoke tf.test
    """
    results = terraform.test_modules()
    output.table(
        "terraform test (modules/logic)",
        ["module", "passed", "failed", "seconds"],
        [[item.module, str(item.passed), str(item.failed), f"{item.seconds:.1f}"] for item in results],
    )


@task
@reports_errors
def scan(c):
    """checkov and trivy over infra/terraform: zero unsuppressed findings, and at least one resource seen.

    Example: invoke tf.scan
    """
    with output.progress("checkov and trivy over infra/terraform"):
        results = terraform.scan_infra()
    output.table(
        "Terraform scanners",
        ["scanner", "resources/files", "passed", "findings"],
        [[item.scanner, str(item.resources), str(item.passed), str(len(item.findings))] for item in results],
    )
    findings = [f"{item.scanner}: {finding}" for item in results for finding in item.findings]
    for finding in findings:
        output.console.print(f"[red]{finding}")
    if findings:
        raise terraform.PlanRejected(f"{len(findings)} finding(s) in infra/terraform")


@task
@reports_errors
def schemas(c):
    """Every resource, data source and provider block against its provider's pinned schema.

    Unknown types, arguments and blocks, missing required arguments, read-only attributes set,
    blocks written as attributes and back: one line per finding, non-zero exit if any. Schemas
    come from .tools/provider-schemas/ (python3 scripts/bootstrap.py fetches them).
    Example: invoke tf.schemas
    """
    result = provider_schema_check.check_stacks()
    for finding in result.findings:
        output.console.print(f"[red]{escape(str(finding))}", soft_wrap=True)
    if result.findings:
        raise provider_schema_check.SchemaViolations(
            f"{len(result.findings)} finding(s) against the provider schemas"
        )
    checked = ", ".join(f"{count} {label}" for label, count in sorted(result.checked.items()))
    output.console.print(
        f"provider schemas: {result.checked.total()} blocks clean ({checked}); "
        f"inside {result.undescribed} nested block(s) unchecked: no package describes them",
        soft_wrap=True,
    )


@task(help={"json": "print machine-readable JSON"})
@reports_errors
def requirements(c, json=False):
    """Seed requirements (infra/seed-requirements.yaml): status, where each is met, its check.

    A row is implemented, deviates or out-of-scope (the last two with their reason). Fails,
    naming the row, on a malformed row, a missing reason or a check that does not hold.
    Example: invoke tf.requirements --json
    """
    outcomes = infra_policy.evaluate()
    if json:
        output.emit_json([outcome.as_json() for outcome in outcomes])
    else:
        rows = []
        for outcome in outcomes:
            item = outcome.requirement
            text = escape(item.requirement)
            if item.reason:
                text += f"\n[dim]why: {escape(item.reason)}[/dim]"
            where = escape(str(item.where)) if item.where else None
            result = escape(outcome.problem) if outcome.problem else outcome.result
            rows.append([escape(item.id), item.seed, text, str(item.status), where, result])
        output.table("Seed requirements", ["id", "seed", "requirement", "status", "where", "result"], rows)
    infra_policy.enforce(outcomes)


@task(
    help={
        "env": "environment whose stack's state backend to create (see env.list; local has none)",
        "confirm": "type the environment name (production-class environments)",
        "dry_run": "show what would change, change nothing",
    }
)
@reports_errors
def bootstrap(c, env=DEFAULT_ENVIRONMENT, confirm=None, dry_run=False):
    """Create the state backend a stack's first plan needs: bucket or container, versioned, encrypted.

    S3 (AWS) and Linode: the state bucket, versioned, default-encrypted, public access blocked
    (AWS); Azure: the state container, blob versioning and soft delete. Names come from the
    registry, as tf.plan passes them to terraform init. A second run changes nothing. Exit 5
    without the cloud's credentials.
    Example: invoke tf.bootstrap --env sandbox --dry-run
    """
    result = state_backend.bootstrap(env, confirm, dry_run)
    record = result.record
    output.console.print(f"bootstrap {env}: {record.result}, {result.summary()} (audit: {record.audit_file})")


@task(help={"env": "environment whose stack to plan (see env.list; local has none)"})
@reports_errors
def plan(c, env=DEFAULT_ENVIRONMENT):
    """Plan a stack into build/terraform/<env>/ (saved plan and JSON), then policy-check the JSON.

    Needs the cloud's credentials and Terraform's providers (exit 5 without them).
    Example: invoke tf.plan --env sandbox
    """
    meta = terraform.plan(env)
    changes = ", ".join(f"{count} to {kind}" for kind, count in meta["changes"].items())
    output.console.print(
        f"plan {env} at {meta['commit']}: {changes}; policy clean ({meta['policy']['passed']} checks)"
    )


@task(
    help={
        "env": "environment to apply (see env.list)",
        "confirm": "type the environment name (production-class environments)",
    }
)
@reports_errors
def apply(c, env=DEFAULT_ENVIRONMENT, confirm=None):
    """Apply the saved plan of an environment (made by tf.plan at this commit); never plans anew.

    Example: invoke tf.apply --env live --confirm live
    """
    record = terraform.apply(env, confirm)
    output.console.print(
        f"apply {env}: {record.result} in {record.seconds:.1f}s (audit: {record.audit_file})"
    )


@task(
    help={
        "env": "environment to tear down (see env.list)",
        "confirm": "type the environment name: required for every destroy",
        "dry_run": "list the stages without changing anything",
    }
)
@reports_errors
def destroy(c, env=DEFAULT_ENVIRONMENT, confirm=None, dry_run=False):
    """Destroy a stack in stages: Kubernetes load balancers, then Helm releases, then the rest.

    Always needs --confirm with the environment name (exit 3 without it).
    Example: invoke tf.destroy --env sandbox --confirm sandbox --dry-run
    """
    for line in terraform.destroy(env, confirm, dry_run):
        output.console.print(line)


@task(help={"check": "fail if a README's generated section is out of date instead of rewriting it"})
@reports_errors
def docs(c, check=False):
    """Regenerate the inputs/outputs section of every module README from its HCL.

    Example: invoke tf.docs --check
    """
    directories = terraform_docs.module_dirs()
    if check:
        stale = [str(path.relative_to(terraform.INFRA)) for path in directories if terraform_docs.stale(path)]
        if stale:
            raise terraform.PlanRejected(
                f"module READMEs out of date (run invoke tf.docs): {', '.join(stale)}"
            )
        output.console.print(f"{len(directories)} module READMEs current")
        return
    changed = [path for path in directories if terraform_docs.write(path)]
    output.console.print(f"{len(changed)} of {len(directories)} module READMEs updated")
