"""Render what an environment applies into build/rendered/<env>/.

Every local chart of the catalog is rendered with `helm template` and the
environment's values layers; GitOps environments also get their Kustomize
overlay, which holds the Argo CD Applications (voiceops/gitops.py). Upstream charts are rendered
from the chart cache (.cache/charts, filled by `helm pull` where the network
allows); when a chart is not there it is reported, never silently dropped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from filelock import FileLock

from voiceops import catalog, environments, policy, toolchain
from voiceops.environments import Delivery, Environment
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT

BUILD_DIR = toolchain.BUILD_ROOT / "rendered"
CHART_CACHE = ROOT / ".cache" / "charts"
COMMON_CHART = ROOT / "charts" / "common"
DEPENDENCY_LOCK = ROOT / "build" / "chart-dependencies.lock"


class RenderFailed(OpsError):
    pass


@dataclass(frozen=True)
class RenderedFile:
    """One rendered release (or overlay) of one environment."""

    name: str
    source: str
    status: str  # rendered | unverified (an upstream chart not in the cache)
    path: Path | None = None
    objects: int = 0
    detail: str = ""
    crds: Path | None = None  # the release's CustomResourceDefinitions, in a file of their own


@dataclass
class EnvironmentRender:
    environment: str
    directory: Path
    files: list[RenderedFile] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return sum(item.objects for item in self.files)

    @property
    def unverified(self) -> list[RenderedFile]:
        return [item for item in self.files if item.status != "rendered"]


_dependency_lock = threading.Lock()
_dependencies_built: set[Path] = set()


def _run(command: list[str], what: str) -> str:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=toolchain.tool_env(), cwd=ROOT, check=False
        )
    except FileNotFoundError as error:
        raise RenderFailed(f"{what}: {command[0]} not found; run `python3 scripts/bootstrap.py`") from error
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip().splitlines()
        message = [line for line in output if "[ERROR]" in line or line.startswith("Error")] or output
        raise RenderFailed(f"{what}: " + (" ".join(message[-3:]) if message else f"exit {result.returncode}"))
    return result.stdout


def build_dependencies(chart_dir: Path) -> None:
    """Vendor the common library into a chart (file:// dependency, offline): once per process,
    and only when the vendored copy is missing or older than the library, under a lock shared
    by every process of this checkout (gate sessions run side by side and read these files)."""
    with _dependency_lock:
        if chart_dir in _dependencies_built or not (chart_dir / "Chart.yaml").is_file():
            return
        if "dependencies:" in (chart_dir / "Chart.yaml").read_text():
            DEPENDENCY_LOCK.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(DEPENDENCY_LOCK):
                if not _vendored_current(chart_dir):
                    _run(
                        ["helm", "dependency", "build", "--skip-refresh", str(chart_dir)],
                        f"{chart_dir.name} dependencies",
                    )
        _dependencies_built.add(chart_dir)


def _vendored_current(chart_dir: Path) -> bool:
    """Whether every vendored dependency archive is newer than every file of the library."""
    archives = list((chart_dir / "charts").glob("*.tgz"))
    if not archives:
        return False
    library = max(path.stat().st_mtime for path in COMMON_CHART.rglob("*") if path.is_file())
    return min(path.stat().st_mtime for path in archives) >= library


# libyaml's parser where PyYAML was built with it: rendered environments hold thousands of objects
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ManifestLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """YAML as Kubernetes reads it: a plain `=` is a string, not YAML 1.1's value tag (CRD enums hold it)."""


_ManifestLoader.yaml_implicit_resolvers = {
    first: [resolver for resolver in resolvers if resolver[0] != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_manifests(text: str) -> list:
    return list(yaml.load_all(text, Loader=_ManifestLoader))


def count_objects(text: str) -> int:
    return sum(1 for document in load_manifests(text) if isinstance(document, dict) and document.get("kind"))


def kube_version(environment: Environment) -> str:
    return f"{environment.cluster.kubernetes_version}.0"


# Built-in APIs every supported cluster serves that `helm template` does not report by itself;
# charts gate on them (prometheus-adapter falls back to the removed apiregistration v1beta1; Kong
# creates its IngressClass only where the kind is reported).
CLUSTER_API_VERSIONS = frozenset({
    "apiregistration.k8s.io/v1", "apiregistration.k8s.io/v1/APIService", "networking.k8s.io/v1/IngressClass",
})  # fmt: skip


def template_command(
    environment: Environment, release: catalog.Release, chart: str, api_versions: frozenset[str] = frozenset()
) -> list[str]:
    """`helm template` as the install sees it: CRDs included, and the API versions the CRDs of
    earlier waves add (so capability-gated objects such as ServiceMonitors appear). Test hooks
    are left out: neither `helm upgrade --install` nor Argo CD creates them, and we never run
    `helm test`."""
    command = [
        "helm", "template", release.name, chart,
        "--namespace", release.namespace,
        "--kube-version", kube_version(environment),
        "--include-crds", "--skip-tests",
    ]  # fmt: skip
    for api_version in sorted(api_versions | CLUSTER_API_VERSIONS):
        command += ["--api-versions", api_version]
    return command + catalog.values_arguments(environment, release)


# Built-in kinds that live outside namespaces; a custom resource's scope comes from its CRD.
CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "CSIDriver", "CSINode",
    "CustomResourceDefinition", "FlowSchema", "IngressClass", "MutatingWebhookConfiguration", "Namespace",
    "Node", "PersistentVolume", "PriorityClass", "PriorityLevelConfiguration", "RuntimeClass", "StorageClass",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
    "VolumeAttachment",
})  # fmt: skip


@dataclass(frozen=True)
class CustomKinds:
    """What the CRDs of the waves rendered so far add: API versions, and which kinds are cluster-scoped."""

    api_versions: frozenset[str] = frozenset()
    cluster_scoped: frozenset[str] = frozenset()

    def adding(self, text: str) -> CustomKinds:
        api_versions, cluster_scoped = set(self.api_versions), set(self.cluster_scoped)
        for document in load_manifests(text):
            if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                continue
            spec = document.get("spec") or {}
            kind = spec["names"]["kind"]
            if spec.get("scope") == "Cluster":
                cluster_scoped.add(kind)
            for version in spec.get("versions") or []:
                group_version = f"{spec['group']}/{version['name']}"
                api_versions |= {group_version, f"{group_version}/{kind}"}
        return CustomKinds(frozenset(api_versions), frozenset(cluster_scoped))


def in_release_namespace(text: str, namespace: str, custom: CustomKinds) -> str:
    """The objects as Helm installs them: a namespaced object the chart leaves without a namespace
    lands in the release's namespace (helm template leaves it out, the scanners would read `default`).
    Helm's own output is kept as it is when every object already names its namespace."""
    documents = [document for document in load_manifests(text) if isinstance(document, dict)]
    cluster_scoped = CLUSTER_SCOPED_KINDS | custom.adding(text).cluster_scoped
    placed = False
    for document in documents:
        metadata = document.get("metadata") or {}
        if document.get("kind") not in cluster_scoped and not metadata.get("namespace"):
            document["metadata"] = {**metadata, "namespace": namespace}
            placed = True
    if not placed:
        return text
    return "".join("---\n" + yaml.safe_dump(document, sort_keys=False) for document in documents)


def cached_chart(source: catalog.ChartSource) -> Path | None:
    candidate = CHART_CACHE / f"{source.name}-{source.version}.tgz"
    return candidate if candidate.is_file() else None


def render_release(
    environment: Environment, release: catalog.Release, directory: Path, custom: CustomKinds = CustomKinds()
) -> RenderedFile:
    source = release.chart.describe()
    if release.chart.path is not None:
        chart_dir = ROOT / release.chart.path
        build_dependencies(chart_dir)
        chart = str(chart_dir)
    else:
        cached = cached_chart(release.chart)
        if cached is None:
            return RenderedFile(
                release.name,
                source,
                "unverified",
                detail=f"not in {toolchain.shown(CHART_CACHE)}: run invoke charts.pull",
            )
        chart = str(cached)
    command = template_command(environment, release, chart, custom.api_versions)
    text = in_release_namespace(
        _run(command, f"{environment.name}/{release.name}"), release.namespace, custom
    )
    stem = f"{release.wave + 50:03d}-{release.name}"
    text, crds_text = split_crds(text)
    path = directory / f"{stem}.yaml"
    path.write_text(text)
    crds = None
    if crds_text:
        crds = directory / f"{stem}.crds.yaml"
        crds.write_text(crds_text)
    objects = count_objects(text) + (count_objects(crds_text) if crds_text else 0)
    return RenderedFile(release.name, source, "rendered", path, objects, crds=crds)


DOCUMENT_START = re.compile(r"(?m)^---[ \t]*\n")
CRD_DOCUMENT = re.compile(r"(?m)^kind:[ \t]*CustomResourceDefinition[ \t]*$")


def split_crds(text: str) -> tuple[str, str]:
    """(the release's objects, its CRDs). CRDs go to a file of their own, as Helm keeps them apart
    (crds/): checkov drops a whole file whose CRDs run to megabytes, objects and all."""
    documents = [part for part in DOCUMENT_START.split(text) if part.strip()]
    crds = [part for part in documents if CRD_DOCUMENT.search(part)]
    if not crds:
        return text, ""
    rest = [part for part in documents if not CRD_DOCUMENT.search(part)]
    return "".join("---\n" + part for part in rest), "".join("---\n" + part for part in crds)


def render_gitops(environment: Environment, directory: Path) -> list[RenderedFile]:
    """The Kustomize overlay: the AppProject and the Argo CD Applications, as Argo CD applies them."""
    if environment.kustomize is None:
        raise RenderFailed(f"{environment.name}: gitops delivery without a kustomize overlay")
    overlay = environment.kustomize.overlay
    overlay_text = _run(["kubectl", "kustomize", str(ROOT / overlay)], f"{environment.name} overlay")
    overlay_path = directory / "000-argocd-overlay.yaml"
    overlay_path.write_text(overlay_text)
    return [RenderedFile("argocd-overlay", overlay, "rendered", overlay_path, count_objects(overlay_text))]


def render_environment(
    environment: Environment, only: tuple[str, ...] = (), out_dir: Path | None = None, workers: int = 4
) -> EnvironmentRender:
    releases = catalog.select(catalog.releases_for(environment), only)
    directory = (out_dir or BUILD_DIR) / environment.name
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    result = EnvironmentRender(environment.name, directory)
    # wave by wave: a wave renders with the API versions the CRDs of the waves before it add
    custom = CustomKinds()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for wave in catalog.waves(releases):
            rendered = list(
                pool.map(
                    lambda release, known=custom: render_release(environment, release, directory, known), wave
                )
            )
            result.files.extend(rendered)
            for item in rendered:
                if item.crds is not None:
                    custom = custom.adding(item.crds.read_text())
    if environment.delivery is Delivery.GITOPS and not only:
        result.files.extend(render_gitops(environment, directory))
    return result


def render_all(
    environments: Iterable[Environment], out_dir: Path | None = None, workers: int = 4
) -> list[EnvironmentRender]:
    environments = list(environments)
    with ThreadPoolExecutor(max_workers=max(1, min(len(environments), 2))) as pool:
        return list(
            pool.map(lambda env: render_environment(env, out_dir=out_dir, workers=workers), environments)
        )


def rendered_documents(directory: Path) -> list[dict]:
    """Every object of a rendered environment."""
    return [
        document
        for path in sorted(directory.glob("*.yaml"))
        for document in load_manifests(path.read_text())
        if isinstance(document, dict) and document.get("kind")
    ]


@dataclass
class GateResult:
    render: EnvironmentRender
    schemas: policy.SchemaReport
    violations: list[policy.Violation]

    @property
    def passed(self) -> bool:
        return not self.violations and not self.schemas.errors


def gate(
    environment: Environment, render: EnvironmentRender, cluster_crds: list[dict] | None = None
) -> GateResult:
    """Strict schema validation and the policy rules over what was rendered. Custom resources are
    checked against the CRDs of the whole cluster: a shared cluster's owner installs them."""
    manifests = rendered_documents(render.directory)
    schemas = policy.validate_schemas(manifests, kube_version(environment), cluster_crds or [])
    return GateResult(render, schemas, policy.check(manifests, environment.production_class))


def owner_crds(environment: Environment, renders: dict[str, EnvironmentRender]) -> list[dict]:
    """The CRDs the environments owning this one's cluster rendered in the same run."""
    return [
        document
        for owner in environment.cluster.shared_with
        if owner in renders
        for document in rendered_documents(renders[owner].directory)
        if document.get("kind") == "CustomResourceDefinition"
    ]


def render_targets(env: str | None, everything: bool, only: tuple[str, ...]) -> list[GateResult]:
    """Render and gate one environment or all of them."""
    if bool(env) == bool(everything):
        raise RenderFailed("give either --env NAME or --all")
    targets = environments.load_all() if everything else [environments.load(env)]  # type: ignore[arg-type]
    if everything and only:
        raise RenderFailed("--only needs a single --env")
    renders = render_all(targets) if everything else [render_environment(targets[0], only)]
    by_name = {environment.name: environment for environment in targets}
    rendered = {result.environment: result for result in renders}
    return [
        gate(by_name[result.environment], result, owner_crds(by_name[result.environment], rendered))
        for result in renders
    ]


def summary(result: GateResult) -> dict:
    return {
        "environment": result.render.environment,
        "directory": toolchain.shown(result.render.directory),
        "objects": result.render.objects,
        "schema_checked": result.schemas.validated,
        "custom_resources_validated": result.schemas.custom_validated,
        "custom_resources_without_schema": result.schemas.custom_resources,
        "unverified": [item.name for item in result.render.unverified],
        "releases": {item.name: item.objects for item in result.render.files if item.status == "rendered"},
        "violations": [f"{v.rule}: {v.message}" for v in result.violations],
        "schema_errors": result.schemas.errors,
        "passed": result.passed,
    }


def summary_row(result: GateResult) -> list[str]:
    rendered = [item for item in result.render.files if item.status == "rendered"]
    custom = sum(result.schemas.custom_resources.values())
    return [
        result.render.environment,
        f"{len(rendered)}/{len(result.render.files)}",
        str(result.render.objects),
        str(result.schemas.validated),
        f"{result.schemas.custom_validated} / {custom}",
        str(len(result.render.unverified)),
        str(len(result.violations) + len(result.schemas.errors)),
    ]


def lint_command(environment: Environment, release: catalog.Release) -> list[str]:
    """helm lint --strict of a chart of ours with the same values `helm template` and the install get."""
    chart = str(ROOT / str(release.chart.path))
    version = kube_version(environment)
    command = ["helm", "lint", "--strict", chart, "--namespace", release.namespace, "--kube-version", version]
    return command + catalog.values_arguments(environment, release)


def lint(environments_: Iterable[Environment], workers: int = 4) -> list[tuple[str, str, str]]:
    """helm lint --strict of every local chart with every environment's values; (env, release, error)."""
    jobs = [
        (environment, release)
        for environment in environments_
        for release in catalog.releases_for(environment)
        if release.chart.local
    ]
    for _, release in jobs:
        build_dependencies(ROOT / str(release.chart.path))

    def run(job: tuple[Environment, catalog.Release]) -> tuple[str, str, str] | None:
        environment, release = job
        try:
            _run(lint_command(environment, release), f"lint {environment.name}/{release.name}")
        except RenderFailed as error:
            return environment.name, release.name, str(error)
        return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [failure for failure in pool.map(run, jobs) if failure is not None]
