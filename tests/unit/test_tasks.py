"""The task CLI as users meet it: every task's --help, one-line errors, the exit-code
contract (README, "Exit codes") and machine-readable output. Each case is a real
`invoke` process; they run side by side to keep the suite quick."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from invoke import Program

from voiceops.runs import EnvironmentLock

ROOT = Path(__file__).resolve().parents[2]
INVOKE = [sys.executable, "-m", "invoke"]
NO_CLOUD = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "ARM_CLIENT_ID", "ARM_USE_MSI",
            "LINODE_TOKEN", "VOICEOPS_APPROVED_ENVIRONMENT", "CI")  # fmt: skip


def clean_env(state: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in NO_CLOUD}
    return env | {"VOICEOPS_STATE_DIR": str(state), "HOME": str(state / "home"),
                  "KUBECONFIG": str(state / "no-kubeconfig")}  # fmt: skip


def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*INVOKE, *args]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL
    )


def task_names() -> list[str]:
    listing = invoke("--list", "--list-format=flat").stdout
    return re.findall(r"^  (\S+)\s", listing, flags=re.MULTILINE)


def test_task_tree_lists_the_tasks():
    names = task_names()
    for name in (
        "deploy",
        "status",
        "rollback",
        "env.list",
        "env.show",
        "tools.check",
        "local.down",
        "tf.apply",
    ):
        assert name in names


def test_every_task_has_help_with_an_example(capsys):
    """In one process (invoke's own Program, as the `invoke` command runs it): quick for ~30 tasks."""
    spec = importlib.util.spec_from_file_location("voiceops_tasks_entry", ROOT / "tasks.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    program = Program(namespace=entry.namespace)
    missing = []
    for name in task_names():
        program.run(["invoke", name, "--help"], exit=False)
        shown = capsys.readouterr()
        if "Docstring:" not in shown.out or "Example: invoke" not in shown.out or shown.err:
            missing.append(f"{name}: {shown.err.strip() or 'no example'}")
    assert missing == []


# (arguments, exit code, text in the error line or output) — the README's exit-code table.
CONTRACT = [
    (
        ("deploy", "--env", "nosuch"),
        1,
        "error: unknown environment 'nosuch'; valid environments: azure-production",
    ),
    (("env.show", "--env", "prod"), 1, "error: unknown environment 'prod'"),
    (("deploy", "--env", "local", "--only", "nosuch"), 1, "error: release(s) nosuch not in this environment"),
    (("deploy", "--env", "production"), 3, "--confirm production"),
    (("rollback", "--env", "live", "--release", "base"), 3, "live needs 2 approvals"),
    (("tf.apply", "--env", "live"), 3, "live needs 2 approvals"),
    (("tf.destroy", "--env", "sandbox"), 3, "needs --confirm sandbox"),
    (("status", "--env", "sandbox"), 5, "no cluster reachable through kube context 'eks-voiceops-sandbox'"),
    (("smoke", "--env", "sandbox"), 5, "no cluster reachable"),
    (("rollback", "--env", "sandbox", "--release", "base"), 5, "no cluster reachable"),
    (("tf.plan", "--env", "sandbox"), 5, "no aws credentials"),
    (
        # an environment no other case locks: these run side by side
        ("tf.bootstrap", "--env", "azure-production", "--confirm", "azure-production"),
        5,
        "azure-production: state backend not ready: the Azure management API is not reachable here",
    ),
    (("tf.bootstrap", "--env", "live"), 3, "live needs 2 approvals"),
    (
        ("tf.destroy", "--env", "sandbox", "--confirm", "sandbox", "--dry-run"),
        0,
        "would destroy: every remaining",
    ),
    (("deploy", "--env", "production", "--dry-run", "--only", "base"), 0, "deploy production: dry-run"),
    (("status",), 0, "local: local, delivered by helm"),
    (("secrets.seal", "--env", "production", "--bundle", "nosuch", "--secret", "x"), 1, "no bundle 'nosuch'"),
    (
        ("secrets.seal", "--env", "production", "--bundle", "edge", "--secret", "nosuch"),
        1,
        "no secret 'nosuch' in bundle edge (it has cloudflared-tunnel)",
    ),
    (
        ("secrets.seal", "--env", "live", "--bundle", "platform", "--secret", "api-rest-credentials"),
        1,
        "live keeps api-rest-credentials in secrets-manager, not in a sealed manifest",
    ),
    (
        ("secrets.seal", "--env", "production", "--bundle", "edge", "--secret", "cloudflared-tunnel"),
        1,
        "nothing on standard input",
    ),
    (("secrets.list", "--env", "production", "--json"), 0, "not provisioned: token"),
]


@pytest.fixture(scope="module")
def contract_results(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda case: invoke(*case[0], env=clean_env(state)), CONTRACT))


@pytest.mark.parametrize("index", range(len(CONTRACT)), ids=[" ".join(case[0]) for case in CONTRACT])
def test_exit_code_contract(contract_results, index):
    _, code, text = CONTRACT[index]
    result = contract_results[index]
    assert result.returncode == code, result.stdout[-500:] + result.stderr
    if code == 0:
        assert text in result.stdout
    else:
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and text in lines[-1], result.stderr


def test_a_mistyped_only_is_refused_before_any_server_starts(contract_results):
    index = next(i for i, case in enumerate(CONTRACT) if "--only" in case[0])
    assert "local servers" not in contract_results[index].stdout


def test_status_json_is_valid_with_nulls_and_survives_a_closed_pipe(tmp_path):
    env = clean_env(tmp_path)
    result = invoke("status", "--env", "sandbox", "--json", env=env)
    assert result.returncode == 5
    data = json.loads(result.stdout)
    assert all(item["revision"] is None for item in data["releases"])
    assert data["unreachable"].startswith("no cluster reachable")
    # a reader that has gone before anything is written, as `| head -c 0` would be
    reader = subprocess.Popen([*INVOKE, "status", "--env", "local", "--json"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    reader.stdout.close()
    errors = reader.stderr.read().decode()
    reader.wait(timeout=60)
    assert "Traceback" not in errors and "Error" not in errors, errors


def test_second_concurrent_run_is_refused_naming_the_holder(isolated_state):
    env = clean_env(isolated_state)
    with EnvironmentLock("local"):
        results = [invoke("deploy", "--env", "local", env=env), invoke("local.down", env=env)]
    for result in results:
        assert result.returncode == 4, result.stderr
        assert f"pid {os.getpid()}" in result.stderr and "nothing was changed" in result.stderr


def test_env_show_json_round_trips():
    result = invoke("env.show", "--env", "azure-production", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["regions"]["secondary"] == ["westeurope", "southeastasia"]


def test_env_list_json_has_every_environment():
    assert len(json.loads(invoke("env.list", "--json").stdout)) == 8


def test_a_secret_value_is_never_taken_from_the_command_line(tmp_path):
    before = sorted(path.relative_to(ROOT) for path in (ROOT / "secrets").rglob("*"))
    for extra in (["--value", "hunter2"], ["hunter2"]):
        arguments = ["--env", "production", "--bundle", "edge", "--secret", "cloudflared-tunnel", *extra]
        result = invoke("secrets.seal", *arguments, env=clean_env(tmp_path))
        assert result.returncode == 1 and "hunter2" not in result.stdout
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(path.relative_to(ROOT) for path in (ROOT / "secrets").rglob("*")) == before
