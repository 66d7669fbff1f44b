"""Smoke tests inside a deployed environment's pods (testinfra's kubectl:// backend).

`invoke smoke --env <cloud env>` and the deploy's smoke step run this file only when
the environment's cluster is reachable; without one it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

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


TOOLBOX_IMAGE = "busybox:1.37.0"  # nc, wget and nslookup; nothing else


@pytest.fixture(scope="module")
def api(environment):
    from kubernetes import client, config

    config.load_kube_config(context=cluster.context(environment))
    return client


@pytest.fixture(scope="module")
def namespaces(environment):
    return sorted(set(environment.namespaces.values()))


@pytest.fixture(scope="module")
def toolbox(environment, api):
    """A small restricted pod in the platform namespace to probe services from inside the cluster."""
    namespace = environment.namespaces[NamespaceRole.PLATFORM]
    name = "voiceops-smoke-toolbox"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "smoke-toolbox",
                                              "app.kubernetes.io/part-of": "voiceops"}},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "toolbox", "image": TOOLBOX_IMAGE, "command": ["sleep", "600"],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                              "limits": {"cpu": "100m", "memory": "64Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
        },
    }  # fmt: skip
    core = api.CoreV1Api()
    core.create_namespaced_pod(namespace, pod)
    try:
        for _ in range(60):
            if core.read_namespaced_pod(name, namespace).status.phase == "Running":
                break
            time.sleep(2)
        yield host(environment, f"{namespace}/{name}")
    finally:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)


def test_every_deployment_is_available(api, namespaces):
    apps = api.AppsV1Api()
    for namespace in namespaces:
        for deployment in apps.list_namespaced_deployment(namespace).items:
            wanted = deployment.spec.replicas or 0
            assert (deployment.status.available_replicas or 0) >= wanted, (
                f"{namespace}/{deployment.metadata.name}"
            )


def test_our_workloads_have_an_hpa_and_a_pdb(api, namespaces):
    for namespace in namespaces:
        selector = "app.kubernetes.io/part-of=voiceops"
        apps, autoscaling = api.AppsV1Api(), api.AutoscalingV2Api()
        deployments = {
            item.metadata.name
            for item in apps.list_namespaced_deployment(namespace, label_selector=selector).items
        }
        hpas = {
            item.spec.scale_target_ref.name
            for item in autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace).items
        }
        pdbs = api.PolicyV1Api().list_namespaced_pod_disruption_budget(namespace).items
        assert deployments <= hpas, f"{namespace}: without HPA: {sorted(deployments - hpas)}"
        assert len(pdbs) >= len(deployments), f"{namespace}: fewer PDBs than workloads"


def test_no_pod_is_restarting(api, namespaces):
    for namespace in namespaces:
        for pod in api.CoreV1Api().list_namespaced_pod(namespace).items:
            for status in pod.status.container_statuses or []:
                waiting = status.state.waiting.reason if status.state and status.state.waiting else None
                assert waiting != "CrashLoopBackOff", f"{namespace}/{pod.metadata.name} is crash-looping"
                assert status.restart_count <= 3, (
                    f"{namespace}/{pod.metadata.name} restarted {status.restart_count}x"
                )


def test_the_toolbox_reaches_the_platform_api_by_service_name(toolbox, environment):
    namespace = environment.namespaces[NamespaceRole.PLATFORM]
    assert toolbox.run(f"nslookup platform-api-rest.{namespace}.svc.cluster.local").rc == 0
    assert toolbox.run(f"nc -z -w 5 platform-api-rest.{namespace}.svc.cluster.local 8080").rc == 0


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
