"""The upstream chart cache (.cache/charts/) and the lock that says what may go in it.

`charts/releases.lock.yaml` records, for every upstream release of the catalog, the
chart repository and version, the public source the chart is built from
(repository@commit and path) with each dependency's own source, and the
published archive's sha256 once a pull has been made where the repository is
reachable. Two ways fill the cache:

- `pull_published`: `helm pull` from the chart repository (GitHub's runners), the
  archive checked against the lock's published sha256 when there is one;
- `build_from_sources`: package each chart from a directory of source
  repositories (an air-gapped mirror), every dependency taken from its own source
  at the locked commit. A dependency may be stubbed only where every environment
  that installs the chart disables it, which is checked, and each stub is named.

Sources never enter the repository: they are read with `git archive`.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, model_validator

from voiceops import catalog, environments, toolchain
from voiceops.environments import Strict, load_validated
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT, sha256_of, shown

LOCK_PATH = ROOT / "charts" / "releases.lock.yaml"
CACHE_DIR = ROOT / ".cache" / "charts"

Commit = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class InvalidLock(OpsError):
    pass


class PullFailed(OpsError):
    exit_code = 5


class Source(Strict):
    repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]  # GitHub owner/name
    commit: Commit
    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$")]

    def describe(self) -> str:
        return f"{self.repository}@{self.commit[:12]}"


class Dependency(Strict):
    name: str
    version: str
    source: Source | None = None
    # Stubbed dependencies: the values condition that disables them in every environment
    stub_condition: str | None = None
    dependencies: tuple[Dependency, ...] = ()

    @model_validator(mode="after")
    def source_or_stub(self) -> Dependency:
        if (self.source is None) == (self.stub_condition is None):
            raise ValueError(f"dependency {self.name}: give either source or stub_condition")
        return self


class LockedChart(Strict):
    repository: str
    name: str
    version: str
    source: Source
    # Chart.template.yaml: the chart's version is written at release time (cert-manager's make target)
    chart_file: Literal["Chart.yaml", "Chart.template.yaml"] = "Chart.yaml"
    published_sha256: Sha256 | None = None
    dependencies: tuple[Dependency, ...] = ()


class ChartLock(Strict):
    charts: dict[str, LockedChart]


@cache
def load_lock(path: Path = LOCK_PATH) -> ChartLock:
    lock = load_validated(path, ChartLock, InvalidLock)
    check_against_catalog(lock, path)
    return lock


def check_against_catalog(lock: ChartLock, path: Path = LOCK_PATH) -> None:
    """Every upstream release is locked at the catalog's repository, name and version; nothing else is."""
    upstream = {name: spec.chart for name, spec in catalog.load().releases.items() if not spec.chart.local}
    for name in sorted(set(upstream) ^ set(lock.charts)):
        where = "missing from the lock" if name in upstream else "not an upstream release of the catalog"
        raise InvalidLock(f"{shown(path)}: {name}: {where}")
    for name, chart in upstream.items():
        locked = lock.charts[name]
        if (locked.repository, locked.name, locked.version) != (chart.repository, chart.name, chart.version):
            raise InvalidLock(
                f"{shown(path)}: {name}: locks {locked.repository}/{locked.name}@{locked.version}, "
                f"the catalog pins {chart.describe()}"
            )


def archive_path(chart: LockedChart) -> Path:
    return CACHE_DIR / f"{chart.name}-{chart.version}.tgz"


@dataclass
class Cached:
    """One release's chart in the cache, and how it was verified."""

    release: str
    archive: Path
    verified_by: str
    stubs: list[str] = field(default_factory=list)


def _run(command: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=toolchain.tool_env(), capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise PullFailed(f"{what}: {lines[-1]}")
    return result


# --- from the published chart repositories ------------------------------------------------------


def pull_published(release: str, chart: LockedChart, record: bool) -> Cached:
    """`helm pull` one chart; the archive enters the cache only if its sha256 is the locked one."""
    with tempfile.TemporaryDirectory() as scratch:
        if chart.repository.startswith("oci://"):
            command = ["helm", "pull", f"{chart.repository}/{chart.name}", "--version", chart.version]
        else:
            command = ["helm", "pull", chart.name, "--repo", chart.repository, "--version", chart.version]
        _run([*command, "--destination", scratch], f"{release}: helm pull {chart.repository}")
        pulled = Path(scratch) / archive_path(chart).name
        digest = sha256_of(pulled)
        if chart.published_sha256 is not None and digest != chart.published_sha256:
            raise PullFailed(f"{release}: published archive sha256 {digest} differs from the lock's")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        shutil.move(pulled, archive_path(chart))
    if chart.published_sha256 is not None:
        return Cached(release, archive_path(chart), "published sha256 matches the lock")
    if record:
        record_published_sha256(release, digest)
        return Cached(release, archive_path(chart), f"published sha256 {digest[:12]} recorded in the lock")
    return Cached(
        release, archive_path(chart), "unverified: the lock has no published sha256 (pull with --record)"
    )


def record_published_sha256(release: str, digest: str) -> None:
    """Write one published sha256 into the lock, keeping every other line as it is."""
    lines = LOCK_PATH.read_text().splitlines(keepends=True)
    header = f"  {release}:\n"
    if header not in lines:
        raise InvalidLock(f"{shown(LOCK_PATH)}: {release}: not found")
    first = lines.index(header) + 1
    last = first
    while last < len(lines) and lines[last].startswith("    "):
        last += 1
    entry = f"    published_sha256: {digest}\n"
    existing = [index for index in range(first, last) if lines[index].startswith("    published_sha256:")]
    if existing:
        lines[existing[0]] = entry
    else:
        lines.insert(first, entry)
    LOCK_PATH.write_text("".join(lines))
    load_lock.cache_clear()


# --- from chart sources -------------------------------------------------------------------------


def source_repository(sources_dir: Path, repository: str) -> Path:
    """The git repository of `owner/name` under the sources directory: owner+name/repo (a mirror),
    owner+name or owner/name (a clone)."""
    owner_name = repository.replace("/", "+")
    for candidate in (sources_dir / owner_name / "repo", sources_dir / owner_name, sources_dir / repository):
        if candidate.is_dir():
            return candidate
    raise PullFailed(f"{repository}: not under {sources_dir} (expected {owner_name}/ or {repository}/)")


def extract(sources_dir: Path, source: Source, destination: Path) -> None:
    """The source's directory at its commit, written to `destination` (git checks the content by hash)."""
    repository = source_repository(sources_dir, source.repository)
    what = f"{source.repository}@{source.commit[:12]}:{source.path}"
    archive = subprocess.run(
        ["git", "-C", str(repository), "archive", "--format=tar", source.commit, source.path],
        capture_output=True,
    )  # fmt: skip
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip().splitlines()
        raise PullFailed(f"{what}: {message[-1] if message else 'git archive failed'}")
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(scratch, filter="data")
        extracted = Path(scratch) / source.path
        if destination.exists():
            shutil.rmtree(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not extracted.is_dir():
            raise PullFailed(f"{what}: not a chart directory")
        shutil.move(extracted, destination)


def _condition_value(values: dict, condition: str) -> object:
    """Helm's dependency condition: the first of its comma-separated paths that exists."""
    for path in condition.split(","):
        node: object = values
        for key in path.strip().split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            return node
    return None


def check_stub_disabled(release: str, chart_dir: Path, dependency: Dependency) -> None:
    """A stub stands in for a subchart only where every environment installing the chart disables it."""
    defaults = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
    for environment in environments.load_all():
        for selected in catalog.releases_for(environment):
            if selected.name != release:
                continue
            values = catalog.merged_values(selected, defaults)
            if _condition_value(values, str(dependency.stub_condition)) is not False:
                raise PullFailed(
                    f"{release}: dependency {dependency.name} is stubbed, but {dependency.stub_condition} "
                    f"is not false in {environment.name}: lock its source instead"
                )


def write_stub(directory: Path, dependency: Dependency) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    chart = {"apiVersion": "v2", "name": dependency.name, "version": dependency.version.lstrip("v"),
             "description": "stub: disabled in every environment"}  # fmt: skip
    (directory / "Chart.yaml").write_text(yaml.safe_dump(chart))


def add_dependencies(
    sources_dir: Path, release: str, chart_dir: Path, dependencies: tuple[Dependency, ...]
) -> list[str]:
    """Place every locked dependency under chart_dir/charts/; the names of the stubs."""
    stubs = []
    for dependency in dependencies:
        target = chart_dir / "charts" / dependency.name
        if dependency.source is None:
            check_stub_disabled(release, chart_dir, dependency)
            write_stub(target, dependency)
            stubs.append(f"{release}/{dependency.name} ({dependency.stub_condition}: false)")
            continue
        extract(sources_dir, dependency.source, target)
        _set_chart_version(target / "Chart.yaml", dependency.version)
        stubs += add_dependencies(sources_dir, release, target, dependency.dependencies)
    # the archives helm would have fetched are directories now
    for leftover in (chart_dir / "charts").glob("*.tgz") if (chart_dir / "charts").is_dir() else ():
        leftover.unlink()
    return stubs


def _set_chart_version(chart_yaml: Path, version: str) -> None:
    """Some sources write their version at release time; the locked version is the released one."""
    text = chart_yaml.read_text()
    current = yaml.safe_load(text).get("version")
    if str(current) != version:
        chart_yaml.write_text(re.sub(r"(?m)^version:.*$", f"version: {version}", text, count=1))


def build_from_sources(sources_dir: Path, release: str, chart: LockedChart) -> Cached:
    """Package one chart from its source and its dependencies' sources into the cache."""
    with tempfile.TemporaryDirectory() as scratch:
        chart_dir = Path(scratch) / chart.name
        extract(sources_dir, chart.source, chart_dir)
        if chart.chart_file != "Chart.yaml":
            shutil.copy(chart_dir / chart.chart_file, chart_dir / "Chart.yaml")
        declared = str(yaml.safe_load((chart_dir / "Chart.yaml").read_text()).get("version"))
        if chart.chart_file == "Chart.yaml" and declared != chart.version:
            raise PullFailed(
                f"{release}: {chart.source.describe()} holds version {declared}, not {chart.version}"
            )
        stubs = add_dependencies(sources_dir, release, chart_dir, chart.dependencies)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        _run(
            ["helm", "package", str(chart_dir), "--destination", str(CACHE_DIR),
             "--version", chart.version, "--app-version", _app_version(chart_dir, chart)],
            f"{release}: helm package",
        )  # fmt: skip
    verified = f"source {chart.source.describe()} (content checked by git's commit hash)"
    return Cached(release, archive_path(chart), verified, stubs)


def _app_version(chart_dir: Path, chart: LockedChart) -> str:
    declared = yaml.safe_load((chart_dir / "Chart.yaml").read_text()).get("appVersion")
    return chart.version if chart.chart_file != "Chart.yaml" or declared is None else str(declared)


@dataclass
class PullReport:
    cached: list[Cached] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def pull(sources_dir: Path | None = None, only: tuple[str, ...] = (), record: bool = False) -> PullReport:
    """Fill the cache for every upstream release (or those in `only`); a chart that fails stops
    nothing else and is named in the report."""
    lock = load_lock()
    unknown = sorted(set(only) - set(lock.charts))
    if unknown:
        raise InvalidLock(f"not upstream releases of the catalog: {', '.join(unknown)}")
    report = PullReport()
    for release, chart in lock.charts.items():
        if only and release not in only:
            continue
        try:
            if sources_dir is None:
                report.cached.append(pull_published(release, chart, record))
            else:
                report.cached.append(build_from_sources(sources_dir, release, chart))
        except PullFailed as error:
            report.failures.append(str(error))
    return report
