"""What Argo CD applies, written out from the resolved environments.

Per GitOps environment, kustomize/overlays/<env>/ holds its AppProject and one
Application per release, with exactly the values files that exist; per cluster,
kustomize/argocd/<cluster>.yaml bootstraps the overlays of the environments it
runs (previews through a pull-request ApplicationSet). Argo CD renders nothing
of its own: the gate validates these very manifests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from voiceops import catalog, connections, environments, resolved
from voiceops.environments import Delivery, Environment, NamespaceRole
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT

REPO_URL = "https://github.com/voiceops/platform.git"
TARGET_REVISION = "main"
KUSTOMIZE_DIR = ROOT / "kustomize"
BOOTSTRAP_DIR = KUSTOMIZE_DIR / "argocd"
OVERLAYS_DIR = KUSTOMIZE_DIR / "overlays"
IN_CLUSTER = "https://kubernetes.default.svc"
PART_OF = {"app.kubernetes.io/part-of": "voiceops"}
PREVIEW_SUFFIX = "-pr-{{ .number }}"  # filled by the pull-request generator
# Cluster-scoped kinds the releases create (CRDs, webhooks, RBAC, ingress classes, namespaces)
CLUSTER_RESOURCES = [
    {"group": "", "kind": "Namespace"},
    {"group": "scheduling.k8s.io", "kind": "PriorityClass"},
    {"group": "cert-manager.io", "kind": "ClusterIssuer"},
    {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"},
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration"},
    {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration"},
    {"group": "networking.k8s.io", "kind": "IngressClass"},
]
SYNC_OPTIONS = ["ServerSideApply=true", "CreateNamespace=false"]
AUTOMATED = {"automated": {"prune": True, "selfHeal": True}}
CONNECTIONS_LABEL = "voiceops.io/connections"  # on the cluster Secret the stack writes
CONNECTIONS_GENERATOR = {"clusters": {"selector": {"matchLabels": {CONNECTIONS_LABEL: "true"}}}}
PULL_REQUESTS = {
    "pullRequest": {
        "github": {"owner": "voiceops", "repo": "platform", "labels": ["preview"]},
        "requeueAfterSeconds": 300,
    }
}


def argocd_namespace(environment: Environment) -> str:
    """Argo CD runs in the system namespace of the cluster's owner."""
    return environments.cluster_owner(environment).namespaces[NamespaceRole.SYSTEM]


def application_name(environment: Environment, release: str) -> str:
    return f"{environment.name}-{release}"[:63].rstrip("-")


def project_name(environment: Environment) -> str:
    return f"voiceops-{environment.name}"


def sync_policy(environment: Environment, options: list[str]) -> dict:
    # production-class environments sync by hand after review (seed 002)
    automated = {} if environment.production_class else AUTOMATED
    return {**automated, "syncOptions": options}


def parameter(name: str, value: str) -> dict:
    """A Helm parameter kept a string, as `--set-string` keeps it."""
    return {"name": name, "value": value, "forceString": True}


def application(environment: Environment, release: dict) -> dict:
    chart = release["chart"]
    helm: dict = {
        "releaseName": release["name"],
        "valueFiles": [f"$values/{path}" for path in release["values_files"]],
    }
    if release["parameters"]:
        helm["parameters"] = [parameter(name, value) for name, value in release["parameters"].items()]
    if "path" in chart:
        chart_source = {"repoURL": REPO_URL, "targetRevision": TARGET_REVISION, "path": chart["path"]}
        helm["fileParameters"] = [
            {"name": name, "path": os.path.relpath(path, chart["path"])}
            for name, path in release["file_values"].items()
        ]
    else:
        chart_source = {
            "repoURL": chart["repository"].removeprefix("oci://"),
            "chart": chart["name"],
            "targetRevision": chart["version"],
        }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": application_name(environment, release["name"]),
            "namespace": argocd_namespace(environment),
            "labels": {
                **PART_OF,
                "voiceops.io/environment": environment.name,
                "voiceops.io/release": release["name"],
            },
            # catalog waves become sync waves: operators before the objects that need their CRDs
            "annotations": {"argocd.argoproj.io/sync-wave": str(release["wave"])},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": project_name(environment),
            "destination": {"server": IN_CLUSTER, "namespace": release["namespace"]},
            "sources": [
                {"repoURL": REPO_URL, "targetRevision": TARGET_REVISION, "ref": "values"},
                {**chart_source, "helm": helm},
            ],
            "syncPolicy": {
                **sync_policy(environment, SYNC_OPTIONS),
                "retry": {"limit": 3, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "5m"}},
            },
        },
    }


def app_project(environment: Environment, releases: list[dict]) -> dict:
    charts = [release["chart"] for release in releases]
    repositories = sorted(
        {chart["repository"].removeprefix("oci://") for chart in charts if "repository" in chart}
    )
    namespaces = sorted({release["namespace"] for release in releases})
    if environment.ephemeral:
        namespaces = [
            namespace if namespace == catalog.DEFAULT_NAMESPACE else namespace + "-pr-*"
            for namespace in namespaces
        ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": project_name(environment), "namespace": argocd_namespace(environment)},
        "spec": {
            "description": f"Releases of the {environment.name} environment",
            "sourceRepos": [REPO_URL, *repositories],
            "destinations": [{"server": IN_CLUSTER, "namespace": namespace} for namespace in namespaces],
            "clusterResourceWhitelist": CLUSTER_RESOURCES,
        },
    }


class _ManifestDumper(yaml.SafeDumper):
    """Block sequences indented under their key, multi-line strings as literal blocks (yamllint's style)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ManifestDumper.add_representer(str, _string)


def dump(notice: str, documents: list[dict]) -> str:
    body = "---\n".join(
        yaml.dump(document, Dumper=_ManifestDumper, sort_keys=False, width=1000) for document in documents
    )
    return f"# {notice}\n{body}"


def overlay_path(environment: Environment) -> str:
    if environment.kustomize is None:  # the registry requires one for gitops delivery
        raise OpsError(f"{environment.name}: gitops delivery without a kustomize overlay")
    return environment.kustomize.overlay


def overlay_files(environment: Environment, releases: list[dict]) -> dict[Path, str]:
    directory = ROOT / overlay_path(environment)
    notice = resolved.NOTICE.format(name=environment.name)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["appproject.yaml", "applications.yaml"],
    }
    return {
        directory / "kustomization.yaml": dump(notice, [kustomization]),
        directory / "appproject.yaml": dump(notice, [app_project(environment, releases)]),
        directory / "applications.yaml": dump(
            notice, [application(environment, entry) for entry in releases]
        ),
    }


def bootstrap(environment: Environment, releases: list[dict]) -> dict:
    """The object that points a cluster's Argo CD at the environment's overlay."""
    source = {"repoURL": REPO_URL, "targetRevision": TARGET_REVISION, "path": overlay_path(environment)}
    destination = {"server": IN_CLUSTER, "namespace": argocd_namespace(environment)}
    if not environment.ephemeral:
        spec = {
            "project": "default",
            "source": source,
            "destination": destination,
            "syncPolicy": sync_policy(environment, ["ServerSideApply=true"]),
        }
        patches = connection_patches(environment, releases)
        if not patches:
            return {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": f"bootstrap-{environment.name}", "namespace": destination["namespace"]},
                "spec": spec,
            }
        # The stack's connection facts live on the Argo CD cluster Secret it writes: the clusters
        # generator reads its annotations and the patches hand them to the consuming releases
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": f"bootstrap-{environment.name}", "namespace": destination["namespace"]},
            "spec": {
                "goTemplate": True,
                "goTemplateOptions": ["missingkey=error"],
                "generators": [CONNECTIONS_GENERATOR],
                "template": {
                    "metadata": {"name": f"bootstrap-{environment.name}"},
                    "spec": {**spec, "source": {**source, "kustomize": {"patches": patches}}},
                },
            },
        }
    # One preview per open pull request labelled `preview`, at the pull request's head: every
    # object of the overlay gets the pull request's number, and closing the pull request prunes it.
    project = project_name(environment)
    # the facts first: the patches after them rename the Applications they target
    connection = connection_patches(environment, releases)
    patches = [
        *connection,
        _patch({"kind": "AppProject", "name": project}, {"/metadata/name": project + PREVIEW_SUFFIX}),
    ]
    for release in releases:
        name = application_name(environment, release["name"])
        if release["namespace"] == catalog.DEFAULT_NAMESPACE:
            # the namespace owner stays in `default` and creates the pull request's namespaces
            suffix = [{"name": "namespaceSuffix", "value": PREVIEW_SUFFIX}]
            patches.append(
                _patch(
                    {"kind": "Application", "name": name},
                    {"/metadata/name": name + PREVIEW_SUFFIX, "/spec/project": project + PREVIEW_SUFFIX},
                    {"/spec/sources/1/helm/parameters": suffix},
                )
            )
            continue
        patches.append(
            _patch(
                {"kind": "Application", "name": name},
                {
                    "/metadata/name": name + PREVIEW_SUFFIX,
                    "/spec/project": project + PREVIEW_SUFFIX,
                    "/spec/destination/namespace": release["namespace"] + PREVIEW_SUFFIX,
                },
            )
        )
    source = {**source, "targetRevision": "{{ .head_sha }}", "kustomize": {"patches": patches}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": f"voiceops-{environment.name}", "namespace": destination["namespace"]},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            # each pull request, with the facts of the cluster where the connections need them
            "generators": [
                {"matrix": {"generators": [PULL_REQUESTS, CONNECTIONS_GENERATOR]}}
                if connection
                else PULL_REQUESTS
            ],
            "template": {
                "metadata": {
                    "name": f"{environment.name}{PREVIEW_SUFFIX}",
                    "labels": {**PART_OF, "voiceops.io/ephemeral": "true"},
                },
                "spec": {
                    "project": "default",
                    "source": source,
                    "destination": destination,
                    "syncPolicy": {**AUTOMATED, "syncOptions": ["ServerSideApply=true"]},
                },
            },
        },
    }


def fact_parameter(fact: str) -> str:
    """A Go template reading one fact from the cluster Secret's annotations; an unpublished fact
    fails the generator instead of installing an empty value."""
    key = json.dumps(connections.annotation(fact))
    lines = [  # one action a line, the line breaks trimmed by `{{-`
        f"{{{{ if not (hasKey .metadata.annotations {key}) }}}}",
        f"{{{{- fail {json.dumps(f'the stack has not published {fact}')} }}}}{{{{ end }}}}",
        f"{{{{- index .metadata.annotations {key} }}}}",
    ]
    return "\n".join(lines)


def connection_patches(environment: Environment, releases: list[dict]) -> list[dict]:
    """Per release that takes connection facts: its Helm parameters, filled by the generator."""
    patches = []
    for release in releases:
        if not release["connections"]:
            continue
        parameters = [
            parameter(item["value"], fact_parameter(item["fact"])) for item in release["connections"]
        ]
        path = "/spec/sources/1/helm/parameters"
        if release["parameters"]:  # appended after the Application's own
            operations = [{"op": "add", "path": f"{path}/-", "value": item} for item in parameters]
        else:
            operations = [{"op": "add", "path": path, "value": parameters}]
        patches.append({
            "target": {"kind": "Application", "name": application_name(environment, release["name"])},
            "patch": yaml.dump(operations, Dumper=_ManifestDumper, sort_keys=False, width=1000),
        })  # fmt: skip
    return patches


def _patch(target: dict, replacements: dict[str, str], additions: dict[str, object] | None = None) -> dict:
    # a JSON 6902 patch written as a YAML list, one operation a line
    operations = [{"op": "replace", "path": path, "value": value} for path, value in replacements.items()]
    operations += [{"op": "add", "path": path, "value": value} for path, value in (additions or {}).items()]
    lines = [f"- {json.dumps(operation, separators=(',', ':'))}\n" for operation in operations]
    return {"target": target, "patch": "".join(lines)}


def files() -> dict[Path, str]:
    """Every overlay file and bootstrap file the GitOps environments need."""
    generated: dict[Path, str] = {}
    bootstraps: dict[str, list[dict]] = {}
    for environment in environments.load_all():
        if environment.delivery is not Delivery.GITOPS:
            continue
        releases = resolved.resolve(environment)["releases"]
        generated.update(overlay_files(environment, releases))
        cluster = environments.cluster_owner(environment).cluster.name
        bootstraps.setdefault(cluster, []).append(bootstrap(environment, releases))
    notice = "Generated by `invoke env.generate` from environments/*.yaml: do not edit."
    for cluster, documents in sorted(bootstraps.items()):
        generated[BOOTSTRAP_DIR / f"{cluster}.yaml"] = dump(notice, documents)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f"{cluster}.yaml" for cluster in sorted(bootstraps)],
    }
    generated[BOOTSTRAP_DIR / "kustomization.yaml"] = dump(notice, [kustomization])
    return generated


def owned_directories() -> list[Path]:
    """Directories whose every file is generated: a file nothing generates is left over."""
    return [BOOTSTRAP_DIR, *sorted(path for path in OVERLAYS_DIR.iterdir() if path.is_dir())]
