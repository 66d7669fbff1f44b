"""The release catalog (charts/releases.yaml): every Helm release, written once.

This module is the one place that decides, for one environment, which releases
apply, in which namespace, with which values files and in which wave. `invoke
render` and `invoke deploy` call it; Terraform and Argo CD read its result from
the files voiceops/resolved.py generates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, model_validator

from voiceops import connections, environments
from voiceops.environments import Cloud, Environment, NamespaceRole, RepoPath, Strict, load_validated
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT

CATALOG_PATH = ROOT / "charts" / "releases.yaml"

ReleaseName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,52}$")]
Timeout = Annotated[str, Field(pattern=r"^\d+m$")]


class InvalidCatalog(OpsError):
    pass


class UnknownRelease(OpsError):
    pass


class ChartSource(Strict):
    path: RepoPath | None = None
    repository: Annotated[str, Field(pattern=r"^(https|oci)://[a-z0-9./_-]+$")] | None = None
    name: str | None = None
    version: Annotated[str, Field(pattern=r"^v?\d+\.\d+\.\d+$")] | None = None

    @model_validator(mode="after")
    def one_kind(self) -> ChartSource:
        upstream = (self.repository, self.name, self.version)
        if self.path is not None and any(upstream):
            raise ValueError("give either path or repository/name/version, not both")
        if self.path is None and not all(upstream):
            raise ValueError("an upstream chart needs repository, name and a pinned version")
        return self

    @property
    def local(self) -> bool:
        return self.path is not None

    def describe(self) -> str:
        if self.path is not None:
            return self.path
        return f"{self.repository}/{self.name}@{self.version}"


# The one namespace every cluster has: the release that creates the others installs there.
DEFAULT_NAMESPACE = "default"


class ReleaseSpec(Strict):
    chart: ChartSource
    namespace: NamespaceRole | Literal["default"]
    wave: int = Field(ge=-50, le=50)
    clouds: tuple[Cloud, ...] = tuple(Cloud)
    timeout: Timeout = "10m"


class Catalog(Strict):
    releases: dict[ReleaseName, ReleaseSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def local_charts_exist(self) -> Catalog:
        for name, spec in self.releases.items():
            if spec.chart.path is not None and not (ROOT / spec.chart.path / "Chart.yaml").is_file():
                raise ValueError(f"{name}: chart.path {spec.chart.path} holds no Chart.yaml")
        return self


@dataclass(frozen=True)
class Release:
    """One catalog release as it applies to one environment."""

    name: str
    spec: ReleaseSpec
    namespace: str
    values_files: tuple[Path, ...]

    @property
    def wave(self) -> int:
        return self.spec.wave

    @property
    def chart(self) -> ChartSource:
        return self.spec.chart

    @property
    def timeout_seconds(self) -> int:
        return int(self.spec.timeout.removesuffix("m")) * 60


@cache
def load(path: Path = CATALOG_PATH) -> Catalog:
    loaded = load_validated(path, Catalog, InvalidCatalog)
    unknown = sorted(set(connections.load().consumers) - set(loaded.releases))
    if unknown:
        raise InvalidCatalog(
            f"charts/connections.yaml: consumers name releases {path.name} lacks: {', '.join(unknown)}"
        )
    return loaded


def releases_for(environment: Environment, catalog: Catalog | None = None) -> list[Release]:
    """The releases an environment gets, ordered by wave then name."""
    catalog = catalog or load()
    selected = []
    for name, spec in catalog.releases.items():
        namespace = (
            DEFAULT_NAMESPACE
            if spec.namespace == DEFAULT_NAMESPACE
            else environment.namespaces.get(spec.namespace)
        )
        if namespace is None or environment.cloud not in spec.clouds:
            continue
        layers = (ROOT / layer / f"{name}.yaml" for layer in environment.helm.values_layers)
        selected.append(Release(name, spec, namespace, tuple(path for path in layers if path.is_file())))
    return sorted(selected, key=lambda release: (release.wave, release.name))


# The local chart that materializes the environment's secrets reads them resolved
SECRETS_CHART = "base"


def file_values(environment: Environment, release: Release) -> dict[str, Path]:
    """Values given as whole files: the charts of this repository read the registry entry, the
    base chart the resolved environment too (its secrets)."""
    if not release.chart.local:
        return {}
    files = {"registry": environments.registry_file(environment.name)}
    if release.name == SECRETS_CHART:
        files["resolved"] = environments.resolved_file(environment.name)
    return files


def deep_merge(base: dict, layer: dict) -> dict:
    """Helm's merge of values layers: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in layer.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = deep_merge(merged[key], value) if both else value
    return merged


def merged_values(release: Release, defaults: dict | None = None) -> dict:
    """The release's values files over the chart's defaults, as helm merges them."""
    values = defaults or {}
    for path in release.values_files:
        values = deep_merge(values, yaml.safe_load(path.read_text()) or {})
    return values


def values_arguments(environment: Environment, release: Release) -> list[str]:
    """The values of a release as helm arguments: template, lint and upgrade all take these."""
    arguments = []
    for path in release.values_files:
        arguments += ["--values", str(path)]
    for name, path in file_values(environment, release).items():
        arguments += ["--set-file", f"{name}={path}"]
    return arguments + connections.set_arguments(environment, release.name)


def all_waves(catalog: Catalog | None = None) -> list[int]:
    return sorted({spec.wave for spec in (catalog or load()).releases.values()})


def select(releases: list[Release], only: tuple[str, ...]) -> list[Release]:
    """Keep the releases named in `only` (all when empty); unknown names are an error."""
    if not only:
        return releases
    known = {release.name for release in releases}
    unknown = sorted(set(only) - known)
    if unknown:
        raise UnknownRelease(
            f"release(s) {', '.join(unknown)} not in this environment; known: {', '.join(sorted(known))}"
        )
    return [release for release in releases if release.name in only]


def waves(releases: list[Release]) -> list[list[Release]]:
    """Group releases into install waves, lowest first."""
    grouped: dict[int, list[Release]] = {}
    for release in releases:
        grouped.setdefault(release.wave, []).append(release)
    return [grouped[wave] for wave in sorted(grouped)]
