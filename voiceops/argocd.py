"""`invoke gitops.bootstrap`: put Argo CD on a GitOps environment's cluster and hand it the
environment's root object, so that everything after comes from git.

Argo CD cannot install itself, and it runs in a namespace the `namespaces` release creates: the
cluster owner's `namespaces` and `argo-cd` releases are installed with Helm exactly as the catalog
gives them (the values files Argo CD later reconciles them with), then the environment's bootstrap
object from kustomize/argocd/<cluster>.yaml is applied server-side. Every step is idempotent: a
second run upgrades in place and re-applies the same object.
"""

from __future__ import annotations

import yaml

from voiceops import catalog, cluster, environments, gitops, render, sealing_keys, secret_bundles
from voiceops.environments import Cloud, Delivery, Environment
from voiceops.errors import OpsError
from voiceops.runs import AuditRecord, Run, Step
from voiceops.toolchain import shown

# installed before Argo CD can take over: the namespaces (Argo CD's own among them), then Argo CD
BOOTSTRAP_RELEASES = ("namespaces", "argo-cd")


class NotGitOps(OpsError):
    pass


def root_object(environment: Environment) -> dict:
    """The environment's bootstrap Application or ApplicationSet, as generated."""
    owner = environments.cluster_owner(environment)
    path = gitops.BOOTSTRAP_DIR / f"{owner.cluster.name}.yaml"
    overlay = gitops.overlay_path(environment)
    for document in render.load_manifests(path.read_text()) if path.is_file() else []:
        spec = document.get("spec") or {}
        source = spec.get("source") or ((spec.get("template") or {}).get("spec") or {}).get("source") or {}
        if source.get("path") == overlay:
            return document
    raise OpsError(f"{path.name} holds no bootstrap for {environment.name}: run `invoke env.generate`")


def bootstrap_releases(environment: Environment) -> list[catalog.Release]:
    """The cluster owner's releases Argo CD needs before it runs, in install order; none where
    the owner's Terraform stack installs them (the previews on the sandbox cluster)."""
    owner = environments.cluster_owner(environment)
    if owner.delivery is Delivery.TERRAFORM:
        return []
    releases = {release.name: release for release in catalog.releases_for(owner)}
    missing = [name for name in BOOTSTRAP_RELEASES if name not in releases]
    if missing:
        raise OpsError(
            f"{owner.name} does not install {', '.join(missing)}: the catalog must give its cluster Argo CD"
        )
    return [releases[name] for name in BOOTSTRAP_RELEASES]


def _install(environment: Environment, release: catalog.Release) -> str:
    owner = environments.cluster_owner(environment)
    result = cluster.helm(owner, *cluster.upgrade_command(owner, release))
    if result.returncode != 0:
        raise OpsError(f"helm upgrade --install {release.name}: {cluster.last_line(result)}")
    return f"{release.name} installed in {release.namespace} ({release.chart.describe()})"


def _apply_root(environment: Environment) -> str:
    document = root_object(environment)
    result = cluster.kubectl(
        environment, "apply", "--server-side", "--field-manager", "voiceops-bootstrap", "-f", "-",
        stdin=yaml.safe_dump(document, sort_keys=False),
    )  # fmt: skip
    if result.returncode != 0:
        raise OpsError(
            f"applying {document['kind']}/{document['metadata']['name']}: {cluster.last_line(result)}"
        )
    name = f"{document['kind']}/{document['metadata']['name']}"
    return f"{name} applied: Argo CD syncs {gitops.overlay_path(environment)}"


def _install_sealing_key(environment: Environment) -> str:
    """The key pair we brought (voiceops/sealing_keys.py), from the backup store into the
    controller's namespace before Argo CD installs the controller, which then adopts it."""
    manifest = sealing_keys.key_manifest(environment.name)
    if manifest is None:
        return (
            f"no sealing certificate committed ({shown(secret_bundles.sealing_certificate(environment))}): "
            "nothing is sealed for this cluster yet"
        )
    result = cluster.kubectl(
        environment, "apply", "--server-side", "--field-manager", "voiceops-bootstrap", "-f", "-",
        stdin=yaml.safe_dump(manifest, sort_keys=False),
    )  # fmt: skip
    if result.returncode != 0:
        raise OpsError(f"applying the sealing key: {cluster.last_line(result)}")
    return f"Secret/{manifest['metadata']['namespace']}/{manifest['metadata']['name']} applied"


def bootstrap(name: str, confirm: str | None = None, dry_run: bool = False) -> AuditRecord:
    environment = environments.load(name)
    if environment.delivery is not Delivery.GITOPS:
        raise NotGitOps(
            f"{name} is delivered by {environment.delivery.value}, not Argo CD: nothing to bootstrap"
        )
    releases = bootstrap_releases(environment)
    root = root_object(environment)
    with Run("gitops.bootstrap", environment, {"dry_run": dry_run}, confirm, dry_run) as run:
        if dry_run:
            planned = [f"install {release.name} ({release.chart.describe()})" for release in releases]
            planned.append(f"apply {root['kind']}/{root['metadata']['name']}")
            run.execute([Step("plan (dry run)", lambda: "would " + "; ".join(planned))])
        else:
            steps = [Step("cluster reachable", lambda: cluster.answers(environment), essential=True)]
            steps += [
                Step(
                    f"install {release.name}",
                    lambda release=release: _install(environment, release),
                    essential=True,
                )
                for release in releases
            ]
            if environments.cluster_owner(environment).cloud is Cloud.LINODE:
                steps.append(
                    Step("the sealing key", lambda: _install_sealing_key(environment), essential=True)
                )
            steps.append(Step("apply the root", lambda: _apply_root(environment), essential=True))
            run.execute(steps)
    return run.record
