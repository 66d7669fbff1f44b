"""Smoke tests as a step: testinfra suites under tests/smoke, run by pytest."""

from __future__ import annotations

import subprocess
import sys

from voiceops import cluster
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT, tool_env


class SmokeFailed(OpsError):
    pass


def run_smoke(environment: Environment) -> str:
    """Local: testinfra against this machine's servers. Cloud: testinfra inside the pods
    (kubectl://); ClusterUnreachable when the cluster does not answer."""
    env = tool_env()
    if environment.cloud is Cloud.LOCAL:
        suite, hosts = "test_local.py", "local://"
    else:
        cluster.require_reachable(environment)  # ClusterUnreachable (exit 5) when it does not answer
        suite, hosts = "test_cluster.py", f"kubectl://?context={cluster.context(environment)}"
        env = {**env, "VOICEOPS_SMOKE_ENVIRONMENT": environment.name}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--hosts={hosts}", str(ROOT / "tests" / "smoke" / suite)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    summary = (result.stdout.strip().splitlines() or ["no output"])[-1]
    if result.returncode != 0:
        failures = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
        raise SmokeFailed(f"{summary}; {'; '.join(failures[:3])}")
    return summary
