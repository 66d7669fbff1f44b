"""The generated files: committed ones current, and every kind of staleness caught."""

import json

import pytest

from voiceops import catalog, environments, generate, resolved


def test_committed_generated_files_are_current():
    assert generate.check() > 10


def test_stale_missing_and_leftover_files_are_each_named(tmp_path):
    files = {tmp_path / "a.json": "{}\n", tmp_path / "b.json": "[]\n"}
    assert generate.write(files, [tmp_path]) == sorted(files)
    assert generate.stale(files, [tmp_path]) == []

    (tmp_path / "a.json").write_text('{"edited": true}\n')
    (tmp_path / "b.json").unlink()
    (tmp_path / "removed-environment.json").write_text("{}\n")
    problems = generate.stale(files, [tmp_path])
    assert [problem.rsplit(": ", 1)[1] for problem in problems] == [
        "differs from what the registry and catalog give",
        "missing",
        "nothing generates it any more",
    ]
    generate.write(files, [tmp_path])
    assert generate.stale(files, [tmp_path]) == []
    assert not (tmp_path / "removed-environment.json").exists()


def test_check_names_the_first_stale_file_and_the_fix(monkeypatch, tmp_path):
    stale_path = tmp_path / "live.json"
    stale_path.write_text("{}\n")
    monkeypatch.setattr(generate, "generated_files", lambda: {stale_path: '{"name": "live"}\n'})
    monkeypatch.setattr(generate, "owned_directories", lambda: [tmp_path])
    with pytest.raises(generate.StaleGeneratedFiles, match=r"live.json: differs .*run invoke env.generate"):
        generate.check()


@pytest.mark.parametrize("name", environments.names())
def test_resolved_file_holds_what_the_catalog_selects(name):
    """Terraform iterates these lists as they are: each wave holds exactly the catalog's releases."""
    environment = environments.load(name)
    document = json.loads(resolved.resolved_file(name).read_text())
    assert document["environment"] == environment.model_dump(mode="json")
    releases = catalog.releases_for(environment)
    assert [entry["name"] for entry in document["releases"]] == [release.name for release in releases]
    if environment.terraform is None:
        assert "release_waves" not in document
        return
    waves = document["release_waves"]
    assert sorted(int(wave) for wave in waves) == catalog.all_waves()
    for release in releases:
        entry = waves[str(release.wave)][release.name]
        assert entry["namespace"] == release.namespace
        assert entry["timeout_seconds"] == release.timeout_seconds
        stack = resolved.ROOT / environment.terraform.stack
        assert all((stack / path).resolve().is_file() for path in entry["values_files"])
        assert all((stack / path).resolve().is_file() for path in entry["file_values"].values())
