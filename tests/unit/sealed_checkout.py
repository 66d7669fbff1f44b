"""A Linode environment's store as the tests use it: a clone of a real git remote, holding the
sealed manifests and the resolved environment, and the cluster's sealing key pair in an emulated
bucket (AWS_ENDPOINT_URL must name a moto server)."""

import subprocess
from pathlib import Path

import pytest

from voiceops import sealing_keys, secret_bundles, state_backend


def git(where: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, check=True).stdout


def make_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: str) -> Path:
    """The clone; the sealed manifests and the resolved environment are written there, not in
    this repository."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(tmp_path, "clone", "--quiet", str(remote), str(work))
    for key, value in (("user.name", "rotation tests"), ("user.email", "rotation@example.invalid")):
        git(work, "config", key, value)
    (work / "README.md").write_text("the platform\n")
    git(work, "add", "README.md")
    git(work, "commit", "--quiet", "-m", "start")
    git(work, "push", "--quiet", "origin", "main")
    monkeypatch.setattr(secret_bundles, "SEALED_DIR", work / "secrets" / "sealed")
    monkeypatch.setattr(secret_bundles, "SEALING_DIR", work / "secrets" / "sealing")
    target = sealing_keys.target(environment)
    state_backend.s3_client(target.owner, target.owner.regions.primary).create_bucket(Bucket=target.bucket)
    sealing_keys.ensure(environment, bits=2048)
    return work


def deliver(work: Path, message: str = "rotate") -> None:
    """Commit what the rotation wrote and push it to the remote's main."""
    git(work, "add", "secrets", "environments")
    git(work, "commit", "--quiet", "-m", message)
    git(work, "push", "--quiet", "origin", "main")
