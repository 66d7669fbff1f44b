"""Files generated from the registry and the catalog, committed, and checked for staleness.

`invoke env.generate` writes them; `invoke env.generate --check` (run by the gate)
fails when a committed file differs from what the registry and catalog give, or
when one is left over from a removed environment.
"""

from __future__ import annotations

from pathlib import Path

from voiceops import gitops, resolved
from voiceops.errors import OpsError
from voiceops.toolchain import shown


class StaleGeneratedFiles(OpsError):
    pass


def generated_files() -> dict[Path, str]:
    return {**resolved.resolved_files(), **gitops.files()}


def owned_directories() -> list[Path]:
    return [resolved.resolved_dir(), *gitops.owned_directories()]


def leftovers(files: dict[Path, str], owned: list[Path]) -> list[Path]:
    """Files in directories we generate entirely that nothing generates any more."""
    found = {path for directory in owned if directory.is_dir() for path in directory.iterdir()}
    return sorted(path for path in found - set(files) if path.is_file())


def stale(files: dict[Path, str], owned: list[Path]) -> list[str]:
    """One line per stale file: missing, differing, or left over."""
    problems = []
    for path, text in files.items():
        if not path.is_file():
            problems.append(f"{shown(path)}: missing")
        elif path.read_text() != text:
            problems.append(f"{shown(path)}: differs from what the registry and catalog give")
    problems += [f"{shown(path)}: nothing generates it any more" for path in leftovers(files, owned)]
    return problems


def write(files: dict[Path, str], owned: list[Path]) -> list[Path]:
    """Write what changed and remove the leftovers; the paths touched."""
    touched = []
    for path, text in files.items():
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            touched.append(path)
    for path in leftovers(files, owned):
        path.unlink()
        touched.append(path)
    return touched


def check() -> int:
    """Raise when any generated file is stale; the number of files checked otherwise."""
    files = generated_files()
    problems = stale(files, owned_directories())
    if problems:
        raise StaleGeneratedFiles(
            f"{len(problems)} generated file(s) stale ({problems[0]}"
            + (f"; and {len(problems) - 1} more" if len(problems) > 1 else "")
            + "): run invoke env.generate"
        )
    return len(files)
