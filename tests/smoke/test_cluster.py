"""Smoke tests inside a deployed environment's pods (testinfra's kubectl:// backend).

`invoke smoke --env <cloud env>` and the deploy's smoke step run this file only when
the environment's cluster is reachable; without one it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import testinfra

from voiceops import cluster, environments
from voiceops.environments import NamespaceRole

ENVIRONMENT = os.environ.get("VOICEOPS_SMOKE_ENVIRONMENT")


@pytest.fixture(scope="module")
def environment():
    if not ENVIRONMENT:
        pytest.skip("VOICEOPS_SMOKE_ENVIRONMENT not set: run through invoke smoke --env <environment>")
    found = environments.load(ENVIRONMENT)
    try:
        cluster.require_reachable(found)
    except cluster.ClusterUnreachable as error:
        pytest.skip(error.message)
    return found


def running_pods(environment, role: NamespaceRole, selector: str) -> list[str]:
    namespace = environment.namespaces[role]
    result = cluster.kubectl(environment, "get", "pods", "-n", namespace, "-l", selector,
                             "--field-selector=status.phase=Running", "-o", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [f"{namespace}/{item['metadata']['name']}" for item in json.loads(result.stdout)["items"]]


def host(environment, pod: str):
    namespace, name = pod.split("/")
    return testinfra.get_host(
        f"kubectl://{name}?namespace={namespace}&context={cluster.context(environment)}"
    )


def test_livekit_listens_for_signalling_and_rtc_tcp(environment):
    pods = running_pods(environment, NamespaceRole.LIVEKIT, "app.kubernetes.io/name=livekit-server")
    assert pods, "no running LiveKit server"
    for pod in pods:
        sockets = host(environment, pod).socket
        assert sockets("tcp://7880").is_listening
        assert sockets("tcp://7881").is_listening


def test_agents_run_as_non_root_with_a_read_only_root(environment):
    pods = running_pods(environment, NamespaceRole.AGENTS, "app.kubernetes.io/name=agent-service")
    assert pods, "no running agent workers"
    for pod in pods:
        target = host(environment, pod)
        assert target.user().uid != 0
        assert target.run("touch /voiceops-smoke").rc != 0


def test_platform_api_answers_its_readiness_probe(environment):
    pods = running_pods(environment, NamespaceRole.PLATFORM, "app.kubernetes.io/component=api-rest")
    assert pods, "no running REST API"
    reply = host(environment, pods[0]).run("wget -qO- http://127.0.0.1:8080/readyz")
    assert reply.rc == 0, reply.stderr


def test_no_release_is_left_failed(environment):
    result = subprocess.run(
        ["helm", "--kube-context", cluster.context(environment), "list", "-A", "--failed", "-o", "json"],
        capture_output=True, text=True, check=False, env=cluster.toolchain.tool_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
