"""secrets: the bundles under secrets/bundles/ (declared once, never with values), sealing, audit."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from invoke import task

from voiceops import (
    aws_rotation,
    environments,
    generate,
    output,
    scan,
    sealing_keys,
    secret_audit,
    secret_bundles,
    secret_rotation,
)
from voiceops.errors import OpsError
from voiceops.tasks import ENV_HELP, reports_errors
from voiceops.toolchain import ROOT, shown


class SecretsFailed(OpsError):
    pass


def _provisioned(environment: environments.Environment, item: secret_bundles.Materialized) -> str:
    if item.declared.store is not secret_bundles.Store.SEALED_SECRET:
        return "the store's entry (ask the cloud)"
    data = secret_bundles.sealed_data(environment, item.namespace, item.name)
    missing = [key for key in item.declared.secret.keys if key not in data]
    return "sealed" if not missing else "not provisioned: " + ", ".join(missing)


@task(name="list", help={"env": ENV_HELP, "json": "print machine-readable JSON"})
@reports_errors
def list_(c, env="local", json=False):
    """The secrets an environment reads, from the bundles: namespace, keys, store and entry,
    where the value comes from, rotation, and whether a sealed value is provisioned.
    Example: invoke secrets.list --env production
    """
    environment = environments.load(env)
    items = secret_bundles.for_environment(environment)
    rows = []
    for item in items:
        secret, store = item.declared.secret, item.declared.store
        rows.append({
            "secret": item.name, "namespace": item.namespace, "bundle": item.declared.bundle,
            "keys": list(secret.keys), "store": store.value if store else "",
            "entry": secret_bundles.entry_name(environment, store, item.name) if store else "",
            "source": "generated" if secret.source.generated else secret.source.issuer,
            "rotation": f"{secret.rotation.period.value}, {secret.rotation.strategy.value}",
            "provisioned": _provisioned(environment, item),
        })  # fmt: skip
    if json:
        output.emit_json(rows)
        return
    output.table(
        f"Secrets of {env} (secrets/bundles/)",
        ["secret", "namespace", "bundle", "store", "source", "rotation", "provisioned"],
        [[row[key] for key in ("secret", "namespace", "bundle", "store", "source", "rotation", "provisioned")]
         for row in rows],
    )  # fmt: skip


@task(help={"strict": "fail when a sealed secret is not provisioned yet"})
@reports_errors
def check(c, strict=False):
    """Validate every bundle (strict schema, known releases, stores each cloud has) against every
    environment, fail on any plaintext secret value committed anywhere in the repository, and
    report the sealed secrets not provisioned yet.
    Example: invoke secrets.check
    """
    bundles = secret_bundles.load_all()
    with output.progress("looking for plaintext secrets in every tracked file"):
        plaintext = scan.plaintext_secrets(ROOT)
    if plaintext:
        raise SecretsFailed(f"{len(plaintext)} plaintext secret(s) committed: " + "; ".join(plaintext))
    pending = []
    for environment in environments.load_all():
        pending += [f"{environment.name}: {item.namespace}/{item.name}"
                    for item in secret_bundles.not_provisioned(environment)]  # fmt: skip
    count = sum(len(bundle.secrets) for bundle in bundles.values())
    output.console.print(f"{len(bundles)} bundle(s), {count} secret(s): valid in every environment")
    if pending:
        output.console.print(f"not provisioned ({len(pending)}): " + ", ".join(pending), soft_wrap=True)
        if strict:
            raise SecretsFailed(f"{len(pending)} sealed secret(s) not provisioned (invoke secrets.seal)")


@task(
    help={
        "env": "environment whose cluster the value is sealed for (a Linode environment)",
        "bundle": "bundle (file name under secrets/bundles/ without .yaml)",
        "secret": "secret of the bundle",
        "key": "seal standard input as this one key's raw value (default: a JSON object of key -> value)",
        "certificate": "sealing certificate (default: secrets/sealing/<cluster>.pem)",
    }
)
@reports_errors
def seal(c, env="", bundle="", secret="", key=None, certificate=None):
    """Seal a value read from standard input (never from an argument) into the secret's
    SealedSecret manifests under secrets/sealed/<env>/, against the cluster's own certificate;
    the resolved environment is regenerated so the base chart renders it.
    Example: invoke secrets.seal --env staging --bundle edge --secret cloudflared-tunnel --key token < token
    """
    if not (env and bundle and secret):
        raise SecretsFailed("give --env, --bundle and --secret; the value comes on standard input")
    environment = environments.load(env)
    declared = secret_bundles.find(bundle, secret)
    secret_bundles.seal_targets(environment, bundle, secret)
    if sys.stdin.isatty():
        raise SecretsFailed("pipe the value in on standard input (never pass it as an argument)")
    values = secret_bundles.parse_values(sys.stdin.read(), declared.secret.keys, key)
    path = secret_bundles.sealing_certificate(environment) if certificate is None else Path(certificate)
    if not path.is_file():
        raise secret_bundles.NoSealingCertificate(
            f"no sealing certificate {shown(path)}: bring the cluster's key pair first (secrets/README.md)"
        )
    written = secret_bundles.seal_values(environment, bundle, secret, values, path.read_bytes())
    generate.write(generate.generated_files(), generate.owned_directories())
    for item in written:
        output.console.print(f"sealed {', '.join(sorted(values))} into {shown(item)}")


@task(
    name="sealing-key",
    help={
        "env": "a Linode environment (its cluster's key)",
        "dry_run": "say what would be made, change nothing",
    },
)
@reports_errors
def sealing_key(c, env="", dry_run=False):
    """Bring the cluster's Sealed Secrets key pair: make it, store the private key in the
    cluster's sealing-keys bucket (read back before anything else), and write the certificate
    to secrets/sealing/<cluster>.pem for sealing offline. Idempotent: an existing pair is checked.
    Example: invoke secrets.sealing-key --env production
    """
    if not env:
        raise SecretsFailed("give --env: the Linode environment whose cluster gets the key")
    with output.progress("checking the sealing key in the backup store"):
        message = sealing_keys.ensure(env, dry_run=dry_run)
    output.console.print(message)


@task(help={"env": ENV_HELP, "json": "print machine-readable JSON"})
@reports_errors
def audit(c, env="local", json=False):
    """Every secret of the environment with its age, last rotation and next due date, read from
    its store; fails when any is overdue, not provisioned or missing from its store.
    Example: invoke secrets.audit --env local
    """
    environment = environments.load(env)
    reader = secret_audit.reader_for(environment)
    with output.progress(f"reading {env}'s secret store"):
        rows = secret_audit.audit(environment, reader, datetime.datetime.now(datetime.UTC).date())
    if json:
        output.emit_json([row.as_json() for row in rows])
    else:
        output.table(
            f"Secrets of {env}: rotation",
            ["secret", "namespace", "store", "created", "last rotation", "next due", "status"],
            [[row.secret, row.namespace, row.store,
              row.created.date().isoformat() if row.created else "",
              row.rotated.date().isoformat() if row.rotated else "",
              row.due.isoformat() if row.due else "", row.status] for row in rows],
        )  # fmt: skip
    failing = secret_audit.problems(rows)
    if failing:
        statuses = [row.status for row in failing]
        summary = ", ".join(f"{statuses.count(status)} {status}" for status in dict.fromkeys(statuses))
        raise secret_audit.AuditFailed(f"{env}: {summary} of {len(rows)} secret(s)")


@task(
    help={
        "env": ENV_HELP,
        "bundle": "the bundle whose secrets rotate (a file of secrets/bundles/, e.g. platform)",
        "secret": "only this secret of the bundle",
        "grace": f"seconds the previous credentials stay valid after the switch (local: default "
        f"{secret_rotation.DEFAULT_GRACE_SECONDS:.0f}; AWS and Azure: External Secrets' refresh plus a "
        "rollout, and no less; Linode: Argo CD's sync plus a rollout, from the run that finds the values "
        "on main)",
        "confirm": "the environment's name, for one that needs approval",
        "via": "reach servers through tunnels, e.g. postgres=127.0.0.1:15432,rabbitmq=127.0.0.1:5672 "
        "(AWS and Azure: postgres, redis, rabbitmq, rabbitmq-management; Linode: rabbitmq, "
        "rabbitmq-management and redis, redis-1, ... one per Redis server, else port-forwards)",
    }
)
@reports_errors
def rotate(c, env="local", bundle="", secret="", grace=None, confirm=None, via=""):
    """Rotate a bundle's secrets without downtime: pending version, set on the servers, test,
    promote, retire the previous credential after the grace period. Re-run after a crash: it
    completes the rotation in flight. On Linode it pauses (exit 5) after the promotion until the
    sealed files are committed and on origin/main; run it again then. On Azure the Key Vault gets
    only promoted values. Approval, lock and audit as for a deploy.
    Example: invoke secrets.rotate --env local --bundle platform --secret api-rest-credentials
    """
    if not bundle:
        raise SecretsFailed("give --bundle: the bundle whose secrets rotate (see secrets.list)")
    try:
        grace_seconds = None if grace is None else float(grace)
    except ValueError:
        raise SecretsFailed(f"--grace must be a number of seconds, not {grace!r}") from None
    record, server_seconds = secret_rotation.rotate(
        env, bundle, secret or None, grace_seconds, confirm, report=output.console.print,
        via=aws_rotation.parse_via(via),
    )  # fmt: skip
    spent = ", ".join(f"{server} {seconds:.1f}s" for server, seconds in sorted(server_seconds.items()))
    output.console.print(
        f"rotated in {record.seconds:.1f}s ({spent or 'no server changed'}); audit: {record.audit_file}"
    )
