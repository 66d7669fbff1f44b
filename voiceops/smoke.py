"""Smoke tests as a step: testinfra suites under tests/smoke, run by pytest."""

from __future__ import annotations

import subprocess
import sys

from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT, tool_env


class SmokeFailed(OpsError):
    pass


def run_smoke(environment: Environment) -> str:
    if environment.cloud is not Cloud.LOCAL:
        raise SmokeFailed(f"smoke tests for {environment.name} need its cluster, which is not reachable here")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--hosts=local://", str(ROOT / "tests" / "smoke")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=tool_env(), cwd=ROOT, check=False)
    summary = (result.stdout.strip().splitlines() or ["no output"])[-1]
    if result.returncode != 0:
        failures = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
        raise SmokeFailed(f"{summary}; {'; '.join(failures[:3])}")
    return summary
