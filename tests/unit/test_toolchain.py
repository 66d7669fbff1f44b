"""The toolchain manifest and the version checks behind tools.check and bootstrap."""

import os
import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from voiceops import toolchain
from voiceops.toolchain import Tool, check_tool, load_manifest, parse_version, version_satisfies

LOCK_FILES = [load_manifest().venv_lock, load_manifest().checkov_lock]
PINNED = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[0-9][^\s;*]*)(\s*;.+)?")
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


def test_manifest_pins_every_installed_binary_by_sha256():
    manifest = load_manifest()
    bundled = [tool for tool in manifest.tools if tool.source.startswith("npm_bundle.")]
    assert {tool.name for tool in bundled} == {"helm", "kubectl"}
    for tool in bundled:
        assert len(tool.sha256) == 64
    for bundle in manifest.bundles.values():
        assert len(bundle.sha256) == 64


def lock_entries(lock):
    """The requirement entries of a lock file, each with its continuation lines joined."""
    joined = lock.read_text().replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("lock", LOCK_FILES, ids=lambda lock: lock.name)
def test_every_locked_package_is_pinned_with_sha256_hashes(lock):
    # bootstrap installs with --require-hashes: an entry without a hash would fail there, late.
    entries = lock_entries(lock)
    assert entries
    for entry in entries:
        requirement, *hashes = entry.split(" --hash=")
        assert PINNED.fullmatch(requirement.strip()), f"{lock.name}: not pinned with ==: {entry[:80]}"
        assert hashes, f"{lock.name}: no --hash=sha256: for {requirement.strip()} (run invoke tools.lock)"
        assert all(SHA256.fullmatch(digest.strip()) for digest in hashes), f"{lock.name}: {entry[:80]}"


@pytest.mark.parametrize("lock", LOCK_FILES, ids=lambda lock: lock.name)
def test_lock_holds_what_its_in_file_asks_for(lock):
    pins = (PINNED.match(entry) for entry in lock_entries(lock))
    locked = {canonicalize_name(pin["name"]): pin["version"] for pin in pins if pin}
    source = lock.with_suffix(".in")
    for line in source.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is missing from {lock.name} (run invoke tools.lock)"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock.name} locks {requirement.name}=={version}, {source.name} asks for {requirement.specifier}"
            " (run invoke tools.lock)"
        )


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("v4.1.4+g05fa379", "4.1.4"),
        ("Client Version: v1.35.2\nKustomize Version: v5.7.1", "1.35.2"),
        ("Terraform v1.11.4\non linux_amd64", "1.11.4"),
        ("Redis server v=7.0.15 sha=00000000:0", "7.0.15"),
        ("3.10.8-1.1+deb12u1", "3.10.8"),
        ("no digits here", None),
    ],
)
def test_parse_version(text, version):
    assert parse_version(text) == version


def test_exact_pins_and_minimums():
    assert version_satisfies("4.1.4", "4.1.4", exact=True)
    assert not version_satisfies("4.1.5", "4.1.4", exact=True)
    assert version_satisfies("15.18", "15", exact=True)
    assert version_satisfies("1.12.0", "1.11", exact=False)
    assert not version_satisfies("1.10.9", "1.11", exact=False)


def fake_system_tool(tmp_path, name, printed):
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\necho '{printed}'\n")
    script.chmod(0o755)
    return Tool(name=name, version="2.0", source="system", purpose="test", version_args=("--version",))


def test_check_tool_reports_ok_wrong_version_and_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    manifest = load_manifest()
    assert check_tool(fake_system_tool(tmp_path, "demo-ok", "demo 2.1.0"), manifest).status == "OK"
    assert (
        check_tool(fake_system_tool(tmp_path, "demo-old", "demo 1.9.0"), manifest).status == "WRONG VERSION"
    )
    absent = Tool(name="demo-absent-tool", version="1.0", source="system", purpose="test")
    assert check_tool(absent, manifest).status == "MISSING"


def test_state_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEOPS_STATE_DIR", str(tmp_path / "s"))
    assert toolchain.state_dir() == tmp_path / "s"
