"""The task tree as users call it: one-line errors and non-zero exits on bad input."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INVOKE = [sys.executable, "-m", "invoke"]


def invoke(*args):
    return subprocess.run([*INVOKE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_task_tree_lists_the_tasks():
    listing = invoke("--list").stdout
    for name in ("deploy", "env.list", "env.show", "tools.check", "tools.lock"):
        assert name in listing


def test_unknown_environment_is_one_line_and_non_zero():
    result = invoke("deploy", "--env", "nosuch")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]]
    assert lines[0].startswith("error: unknown environment 'nosuch'; valid environments: azure-production")


def test_production_deploy_without_approval_exits_3():
    result = invoke("deploy", "--env", "production")
    assert result.returncode == 3
    assert "--confirm production" in result.stderr


def test_env_show_json_round_trips():
    result = invoke("env.show", "--env", "azure-production", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["regions"]["secondary"] == ["westeurope", "southeastasia"]


def test_env_list_json_has_every_environment():
    data = json.loads(invoke("env.list", "--json").stdout)
    assert len(data) == 8


def test_second_concurrent_deploy_is_refused_naming_the_holder(isolated_state):
    import os

    from voiceops.runs import EnvironmentLock

    with EnvironmentLock("local"):
        result = subprocess.run(
            [*INVOKE, "deploy", "--env", "local"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "VOICEOPS_STATE_DIR": str(isolated_state)},
        )
    assert result.returncode == 4
    assert f"pid {os.getpid()}" in result.stderr
    assert "nothing was changed" in result.stderr
