"""The chart lock and `charts.pull --from`: real git sources, real `helm package`."""

import subprocess
import tarfile

import pytest
import yaml

from voiceops import chart_cache, toolchain
from voiceops.chart_cache import ChartLock, Dependency, LockedChart, PullFailed, Source


def git(repository, *args):
    return subprocess.run(
        ["git", "-C", str(repository), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def sources(tmp_path):
    """A source directory laid out like a mirror: owner+name/ holding one git repository with a
    chart (voice 1.2.0) and its dependency (helper 0.3.0)."""
    repository = tmp_path / "sources" / "example+charts"
    chart = repository / "charts" / "voice"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "voice",
                "version": "1.2.0",
                "dependencies": [
                    {"name": "helper", "version": "0.3.0", "repository": "https://example.org/charts"},
                    {
                        "name": "extras",
                        "version": "2.0.0",
                        "repository": "https://example.org/charts",
                        "condition": "extras.enabled",
                    },
                ],
            }
        )
    )
    (chart / "values.yaml").write_text("extras:\n  enabled: false\n")
    (chart / "templates" / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: voice}\n"
    )
    helper = repository / "charts" / "helper"
    helper.mkdir(parents=True)
    # released as 0.3.0, though its Chart.yaml at the tag still says 0.1.0
    (helper / "Chart.yaml").write_text("apiVersion: v2\nname: helper\nversion: 0.1.0\n")
    git(repository, "init", "-q")
    git(repository, "add", ".")
    git(repository, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "charts")
    return tmp_path / "sources", git(repository, "rev-parse", "HEAD").strip()


def locked(commit, stub_condition="extras.enabled"):
    def source(path):
        return Source(repository="example/charts", commit=commit, path=path)

    return LockedChart(
        repository="https://example.org/charts", name="voice", version="1.2.0", source=source("charts/voice"),
        dependencies=(Dependency(name="helper", version="0.3.0", source=source("charts/helper")),
                      Dependency(name="extras", version="2.0.0", stub_condition=stub_condition)),
    )  # fmt: skip


def test_builds_a_chart_with_its_dependencies_from_sources(sources, tmp_path, monkeypatch):
    monkeypatch.setattr(chart_cache, "CACHE_DIR", tmp_path / "cache")
    directory, commit = sources
    cached = chart_cache.build_from_sources(directory, "voice", locked(commit))
    assert cached.archive == tmp_path / "cache" / "voice-1.2.0.tgz"
    assert cached.stubs == ["voice/extras (extras.enabled: false)"]
    assert commit[:12] in cached.verified_by
    with tarfile.open(cached.archive) as archive:
        helper = yaml.safe_load(archive.extractfile("voice/charts/helper/Chart.yaml").read())
    assert helper["version"] == "0.3.0"
    rendered = subprocess.run(
        ["helm", "template", "voice", str(cached.archive)],
        env=toolchain.tool_env(),
        capture_output=True,
        text=True,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert "kind: ConfigMap" in rendered.stdout


def test_a_commit_the_sources_do_not_hold_is_refused(sources, tmp_path, monkeypatch):
    monkeypatch.setattr(chart_cache, "CACHE_DIR", tmp_path / "cache")
    directory, _ = sources
    with pytest.raises(PullFailed, match=r"example/charts@0000000000"):
        chart_cache.build_from_sources(directory, "voice", locked("0" * 40))
    assert not (tmp_path / "cache" / "voice-1.2.0.tgz").exists()


def test_a_source_missing_from_the_directory_is_named(tmp_path):
    with pytest.raises(PullFailed, match=r"example/charts: not under .*example\+charts/"):
        chart_cache.source_repository(tmp_path, "example/charts")


def test_a_stub_is_refused_where_an_environment_enables_the_subchart(tmp_path):
    """argo-cd's redis-ha is stubbed because every environment disables it; a values file that
    enabled it would make the stub a lie."""
    chart_dir = tmp_path / "argo-cd"
    chart_dir.mkdir()
    (chart_dir / "values.yaml").write_text("redis-ha:\n  enabled: true\n")
    stub = Dependency(name="redis-ha", version="4.34.11", stub_condition="redis-ha.enabled")
    with pytest.raises(PullFailed, match=r"redis-ha is stubbed, but redis-ha.enabled is not false in"):
        chart_cache.check_stub_disabled("argo-cd", chart_dir, stub)
    (chart_dir / "values.yaml").write_text("redis-ha:\n  enabled: false\n")
    chart_cache.check_stub_disabled("argo-cd", chart_dir, stub)


def test_the_lock_covers_exactly_the_catalogs_upstream_releases():
    lock = chart_cache.load_lock()
    chart_cache.check_against_catalog(lock)
    drifted = ChartLock(
        charts={**lock.charts, "loki": lock.charts["loki"].model_copy(update={"version": "6.0.0"})}
    )
    with pytest.raises(chart_cache.InvalidLock, match=r"loki: locks .*@6.0.0, the catalog pins .*@6.46.0"):
        chart_cache.check_against_catalog(drifted)
    missing = ChartLock(charts={name: chart for name, chart in lock.charts.items() if name != "kong"})
    with pytest.raises(chart_cache.InvalidLock, match=r"kong: missing from the lock"):
        chart_cache.check_against_catalog(missing)


def test_a_dependency_needs_a_source_or_a_stub_condition():
    with pytest.raises(ValueError, match="give either source or stub_condition"):
        Dependency(name="helper", version="0.3.0")


def test_recording_a_published_digest_keeps_the_rest_of_the_lock(tmp_path, monkeypatch):
    lock = tmp_path / "releases.lock.yaml"
    text = chart_cache.LOCK_PATH.read_text()
    lock.write_text(text)
    monkeypatch.setattr(chart_cache, "LOCK_PATH", lock)
    chart_cache.record_published_sha256("tempo", "a" * 64)
    chart_cache.record_published_sha256("tempo", "b" * 64)
    written = lock.read_text()
    assert written.count("published_sha256") == 1
    assert written.replace(f"    published_sha256: {'b' * 64}\n", "") == text
    # a digest written further down the entry by hand is replaced where it stands
    moved = text.replace("    name: tempo\n", f"    name: tempo\n    published_sha256: {'c' * 64}\n")
    lock.write_text(moved)
    chart_cache.record_published_sha256("tempo", "d" * 64)
    assert lock.read_text() == moved.replace("c" * 64, "d" * 64)
    assert chart_cache.load_lock(lock).charts["tempo"].published_sha256 == "d" * 64
