"""The shell scripts of our GitHub workflows and composite actions (each step's `run`), checked
with shellcheck as GitHub runs them: bash -e, with -o pipefail where `shell: bash` is named (on
the step, or as the job's or workflow's default). Expressions (`${{ }}`) are evaluated before
the shell sees the script, so each becomes a plain word here."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from voiceops import toolchain
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT, shown

WORKFLOWS_DIR = ROOT / ".github" / "workflows"
ACTIONS_DIR = ROOT / ".github" / "actions"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
HEADER = "#!/usr/bin/env bash\nset -e\n"
NAMED_BASH = "set -o pipefail\n"


class ScriptProblems(OpsError):
    pass


class ToolMissing(OpsError):
    exit_code = 5


@dataclass(frozen=True)
class Script:
    where: str  # file and step, for the report
    text: str


def _default_shell(document: dict) -> str | None:
    return ((document.get("defaults") or {}).get("run") or {}).get("shell")


def _steps(document: dict) -> list[tuple[str, dict, str | None]]:
    """Each step with where it is and the shell it runs in unless it names its own."""
    workflow_shell = _default_shell(document)
    found = [
        (f"jobs.{job}", step, _default_shell(body) or workflow_shell)
        for job, body in (document.get("jobs") or {}).items()
        for step in body.get("steps") or []
    ]
    found += [("runs", step, None) for step in (document.get("runs") or {}).get("steps") or []]
    return found


def scripts(paths: list[Path]) -> list[Script]:
    """Every bash `run` of these files (a step with another shell is left to that shell)."""
    found = []
    for path in paths:
        document = yaml.safe_load(path.read_text()) or {}
        for place, step, default in _steps(document):
            shell = step.get("shell", default)
            if "run" not in step or shell not in (None, "bash"):
                continue
            name = step.get("name") or step.get("id") or step["run"].splitlines()[0]
            header = HEADER + (NAMED_BASH if shell == "bash" else "")
            found.append(
                Script(
                    f"{shown(path)} {place} step {name!r}", header + EXPRESSION.sub("EXPRESSION", step["run"])
                )
            )
    return found


def default_files() -> list[Path]:
    return sorted(WORKFLOWS_DIR.glob("*.yml")) + sorted(ACTIONS_DIR.glob("*/action.yml"))


def check(paths: list[Path]) -> int:
    """shellcheck every script; the number checked, or one line per script it faults."""
    shellcheck = toolchain.require("shellcheck", ToolMissing)
    problems = []
    found = scripts(paths)
    for script in found:
        result = subprocess.run(
            [shellcheck, "--format=gcc", "--severity=style", "-"], input=script.text, capture_output=True,
            text=True, check=False, timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            first = (result.stdout.strip().splitlines() or [result.stderr.strip()])[0]
            problems.append(f"{script.where}: {first.removeprefix('-:')}")
    if problems:
        raise ScriptProblems(
            f"{len(problems)} workflow script(s) faulted by shellcheck: " + "; ".join(problems)
        )
    return len(found)
