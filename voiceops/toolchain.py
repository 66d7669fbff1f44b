"""The project's toolchain: where each tool lives and whether it is the right one.

Standard library only: scripts/bootstrap.py imports this module before the
project venv exists, and `invoke tools.check` uses it afterwards, so both read
the same manifest (toolchain.toml) the same way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from voiceops.errors import OpsError

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "toolchain.toml"
TOOLS_BIN = ROOT / ".tools" / "bin"
# Build outputs (rendered manifests, plans); VOICEOPS_BUILD_DIR moves them, e.g. for a run
# beside the gate's own. Caches of the checkout stay in build/.
BUILD_ROOT = Path(os.environ.get("VOICEOPS_BUILD_DIR") or ROOT / "build")
TOOLCHAIN_CACHE = ROOT / "build" / "toolchain-check.json"


def sha256_of(path: Path) -> str:
    """A file's sha256, read in chunks (archives of tens of megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shown(path: Path) -> str:
    """A path as users see it: relative to the checkout when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def state_dir() -> Path:
    """Where runs keep locks, audit records and local data (VOICEOPS_STATE_DIR overrides)."""
    return Path(os.environ.get("VOICEOPS_STATE_DIR") or ROOT / ".state")


_VERSION_PATTERN = re.compile(r"(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class NpmBundle:
    """An npm package whose tarball carries a zip archive of binaries."""

    name: str
    package: str
    version: str
    sha256: str
    archive_member: str


@dataclass(frozen=True)
class Tool:
    name: str
    version: str
    source: str
    purpose: str
    optional: bool = False
    member: str = ""
    sha256: str = ""
    apt: str = ""
    install_hint: str = ""
    search: tuple[str, ...] = ()
    version_args: tuple[str, ...] = ()
    version_command: tuple[str, ...] = ()

    @property
    def pinned_exactly(self) -> bool:
        """Binaries we install are pinned; system tools only need a minimum."""
        return self.source != "system"


@dataclass(frozen=True)
class Manifest:
    python_minimum: str
    venv: Path
    venv_lock: Path
    checkov_venv: Path
    checkov_lock: Path
    bundles: dict[str, NpmBundle]
    tools: tuple[Tool, ...] = field(default_factory=tuple)
    # Node.js tools: package.json and package-lock.json here, installed under npm_prefix
    npm_directory: Path | None = None
    npm_prefix: Path | None = None

    def tool(self, name: str) -> Tool:
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(f"no tool named {name!r} in {MANIFEST.name}")


@dataclass(frozen=True)
class ToolStatus:
    tool: Tool
    path: str
    found: str
    status: str  # OK, MISSING, WRONG VERSION

    @property
    def ok(self) -> bool:
        return self.status == "OK"


def load_manifest(path: Path = MANIFEST) -> Manifest:
    data = tomllib.loads(path.read_text())
    bundles = {
        f"npm_bundle.{name}": NpmBundle(name=name, **spec)
        for name, spec in data.get("npm_bundle", {}).items()
    }
    tools = []
    for spec in data["tool"]:
        spec = dict(spec)
        for key in ("search", "version_args", "version_command"):
            if key in spec:
                spec[key] = tuple(spec[key])
        tool = Tool(**spec)
        if tool.source.startswith("npm_bundle.") and tool.source not in bundles:
            raise ValueError(f"{path.name}: tool {tool.name} names unknown source {tool.source}")
        if tool.source == "npm" and "npm_project" not in data:
            raise ValueError(f"{path.name}: tool {tool.name} comes from npm, but [npm_project] is missing")
        tools.append(tool)
    root = path.parent
    npm_project = data.get("npm_project")
    return Manifest(
        python_minimum=data["python"]["minimum"],
        venv=root / data["python"]["venv"],
        venv_lock=root / data["python"]["lock"],
        checkov_venv=root / data["checkov"]["venv"],
        checkov_lock=root / data["checkov"]["lock"],
        bundles=bundles,
        tools=tuple(tools),
        npm_directory=root / npm_project["directory"] if npm_project else None,
        npm_prefix=root / npm_project["prefix"] if npm_project else None,
    )


def locate(tool: Tool, manifest: Manifest) -> str | None:
    """The path the project uses for a tool, or None when it is not there."""
    if tool.source.startswith("npm_bundle.") or tool.source in ("checkov", "npm"):
        # bootstrap links checkov from its own venv, and the npm tools, into .tools/bin
        candidate = TOOLS_BIN / tool.name
    elif tool.source == "venv":
        candidate = manifest.venv / "bin" / tool.name
    else:
        search = os.pathsep.join([*tool.search, os.environ.get("PATH", "")])
        found = shutil.which(tool.name, path=search)
        return found
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def parse_version(text: str) -> str | None:
    match = _VERSION_PATTERN.search(text)
    return match.group(1) if match else None


def version_satisfies(found: str, required: str, exact: bool) -> bool:
    """Exact pins match as a prefix (4.1.4 == 4.1.4); system tools need a minimum."""
    found_parts = [int(p) for p in found.split(".")]
    required_parts = [int(p) for p in required.split(".")]
    if exact:
        return found_parts[: len(required_parts)] == required_parts
    width = len(required_parts)
    return found_parts[:width] >= required_parts


def probe_version(tool: Tool, path: str) -> str | None:
    command = list(tool.version_command) or [path, *tool.version_args]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "CHECKPOINT_DISABLE": "1"},  # terraform: no update check
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return parse_version(result.stdout + result.stderr)


def check_tool(tool: Tool, manifest: Manifest) -> ToolStatus:
    path = locate(tool, manifest)
    if path is None:
        return ToolStatus(tool, "-", "-", "MISSING")
    found = probe_version(tool, path)
    if found is None:
        return ToolStatus(tool, path, "-", "MISSING")
    if not version_satisfies(found, tool.version, tool.pinned_exactly):
        return ToolStatus(tool, path, found, "WRONG VERSION")
    return ToolStatus(tool, path, found, "OK")


def check_all(manifest: Manifest | None = None) -> list[ToolStatus]:
    from concurrent.futures import ThreadPoolExecutor

    manifest = manifest or load_manifest()
    # Version probes are independent processes; checkov alone takes seconds to start.
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda tool: check_tool(tool, manifest), manifest.tools))


def check_all_cached(manifest: Manifest | None = None) -> tuple[list[ToolStatus], bool]:
    """check_all, skipped when nothing it depends on changed since a check that passed:
    the same toolchain.toml and the same tool files (path, size, modification time).
    Returns the statuses and whether they came from the cache (build/, per checkout)."""
    manifest = manifest or load_manifest()
    key = _toolchain_fingerprint(manifest)
    try:
        cached = json.loads(TOOLCHAIN_CACHE.read_text())
    except (OSError, ValueError):
        cached = {}
    if key in cached:
        by_name = {tool.name: tool for tool in manifest.tools}
        return [ToolStatus(by_name[item["name"]], item["path"], item["found"], item["status"])
                for item in cached[key]], True  # fmt: skip
    statuses = check_all(manifest)
    if all(status.ok or status.tool.optional for status in statuses):
        rows = [{"name": s.tool.name, "path": s.path, "found": s.found, "status": s.status} for s in statuses]
        kept = dict(list(cached.items())[-3:])  # a few tool sets (a venv rebuilt, a second PATH)
        TOOLCHAIN_CACHE.parent.mkdir(parents=True, exist_ok=True)
        staged = TOOLCHAIN_CACHE.with_name(f"{TOOLCHAIN_CACHE.name}.{os.getpid()}")
        staged.write_text(json.dumps({**kept, key: rows}))
        staged.replace(TOOLCHAIN_CACHE)  # whole or not at all: gate sessions read it side by side
    return statuses, False


def _toolchain_fingerprint(manifest: Manifest) -> str:
    digest = hashlib.sha256(MANIFEST.read_bytes())
    for tool in manifest.tools:
        path = locate(tool, manifest)
        digest.update(f"{tool.name}={path}".encode())
        if path:
            stat = Path(path).resolve().stat()
            digest.update(f":{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def tool_env(manifest: Manifest | None = None) -> dict[str, str]:
    """An environment whose PATH finds the project's pinned tools first."""
    manifest = manifest or load_manifest()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(TOOLS_BIN), str(manifest.venv / "bin"), env.get("PATH", "")])
    return env


def require(name: str, error: type[OpsError] = OpsError) -> str:
    """The path of a tool on the project PATH, or `error` saying how to get it."""
    path = shutil.which(name, path=tool_env()["PATH"])
    if path is None:
        raise error(f"{name} not found: run python3 scripts/bootstrap.py")
    return path


class ToolchainError(OpsError):
    pass


def relock(requirements_in: Path, lock: Path, upgrade: bool = False) -> int:
    """Resolve a top-level requirements file with uv into a lock file that pins every package
    with the sha256 hashes of all its published files; returns how many packages it pins.

    Versions already in the lock are kept unless the requirements file or `upgrade` asks for
    others. uv reads PyPI (or UV_DEFAULT_INDEX), not pip's configuration.
    """
    if importlib.util.find_spec("uv") is None:
        raise ToolchainError(f"uv is not installed in {sys.prefix}: run python3 scripts/bootstrap.py")
    command = [sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--generate-hashes"]
    # Markers such as python_full_version < "3.11.3" decide packages: resolve for the
    # interpreter the venvs are made with, as pip will install them.
    command += ["--python", sys.executable, "--custom-compile-command", "invoke tools.lock"]
    command += ["--output-file", shown(lock), shown(requirements_in)]
    if upgrade:
        command.append("--upgrade")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ToolchainError(f"resolving {shown(requirements_in)} failed: {result.stderr.strip()[-500:]}")
    return sum(1 for line in lock.read_text().splitlines() if "==" in line and line[:1].isalnum())
