"""Each policy rule passes on what we render and fails when its rule is broken."""

import pytest

from voiceops import policy

ENVIRONMENTS = ["local", "production", "development", "azure-production", "live", "preview"]


def find(manifests, kind, name_part):
    return next(m for m in manifests if m["kind"] == kind and name_part in m["metadata"]["name"])


def rules_hit(manifests, production_class=False):
    return {violation.rule for violation in policy.check(manifests, production_class)}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_rendered_environment_passes_every_rule(rendered, environment):
    from voiceops import environments

    assert policy.check(rendered(environment), environments.load(environment).production_class) == []


def pod(manifest):
    return policy.pod_spec(manifest)


def break_root(manifests):
    pod(find(manifests, "Deployment", "api-rest"))["containers"][0]["securityContext"]["runAsNonRoot"] = False


def break_readonly(manifests):
    pod(find(manifests, "Deployment", "voice"))["containers"][0]["securityContext"][
        "readOnlyRootFilesystem"
    ] = False


def break_probe(manifests):
    del pod(find(manifests, "Deployment", "text"))["containers"][0]["readinessProbe"]


def break_limits(manifests):
    del pod(find(manifests, "CronJob", "analytics-rollup"))["containers"][0]["resources"]["limits"]


def break_replicas(manifests):
    find(manifests, "Deployment", "api-graphql")["spec"]["replicas"] = 3


def break_behavior(manifests):
    find(manifests, "HorizontalPodAutoscaler", "worker")["spec"]["behavior"]["scaleDown"][
        "stabilizationWindowSeconds"
    ] = 0


def break_pdb(manifests):
    manifests.remove(find(manifests, "PodDisruptionBudget", "integrations"))


def break_network_policy(manifests):
    manifests.remove(find(manifests, "NetworkPolicy", "media-processing"))


def break_default_deny(manifests):
    manifests.remove(
        next(m for m in manifests if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] == "default-deny")
    )


def break_monitor_label(manifests):
    del find(manifests, "ServiceMonitor", "api-rest")["metadata"]["labels"]["release"]


def break_config_map(manifests):
    manifests.append({"kind": "ConfigMap", "metadata": {"name": "leak"}, "data": {"REDIS_PASSWORD": "x"}})


def break_host_network(manifests):
    pod(find(manifests, "Deployment", "api-rest"))["hostNetwork"] = True


def break_drain(manifests):
    pod(find(manifests, "Deployment", "agent-service-worker"))["terminationGracePeriodSeconds"] = 30


def break_threshold(manifests):
    for variable in pod(find(manifests, "Deployment", "agent-service-worker"))["containers"][0]["env"]:
        if variable["name"] == "LIVEKIT_LOAD_THRESHOLD":
            variable["value"] = "0.9"


@pytest.mark.parametrize(
    ("breaker", "rule"),
    [
        (break_root, "restricted-security"),
        (break_readonly, "restricted-security"),
        (break_probe, "probes-and-resources"),
        (break_limits, "probes-and-resources"),
        (break_replicas, "hpa-owns-replicas"),
        (break_behavior, "hpa-owns-replicas"),
        (break_pdb, "disruption-budgets"),
        (break_network_policy, "network-policies"),
        (break_default_deny, "network-policies"),
        (break_monitor_label, "service-monitors-selected"),
        (break_config_map, "no-secrets-in-config-maps"),
        (break_host_network, "host-network-isolated"),
        (break_drain, "agents-drain"),
        (break_threshold, "agents-drain"),
    ],
)
def test_each_rule_fails_when_broken(rendered, breaker, rule):
    manifests = rendered("local")
    assert rule not in rules_hit(manifests)
    breaker(manifests)
    assert rule in rules_hit(manifests)


def test_production_applications_sync_by_hand(rendered):
    manifests = rendered("production")
    applications = [m for m in manifests if m["kind"] == "Application"]
    assert applications and all("automated" not in m["spec"]["syncPolicy"] for m in applications)
    applications[0]["spec"]["syncPolicy"]["automated"] = {"prune": True}
    assert "manual-sync-for-production" in rules_hit(manifests, production_class=True)


def test_development_applications_sync_automatically(rendered):
    applications = [m for m in rendered("development") if m["kind"] == "Application"]
    assert applications and all("automated" in m["spec"]["syncPolicy"] for m in applications)


def test_schema_validation_rejects_a_mistyped_field(rendered):
    manifests = rendered("local")
    deployment = find(manifests, "Deployment", "api-rest")
    assert policy.validate_schemas([deployment], "1.35.0").errors == []
    deployment["spec"]["template"]["spec"]["containers"][0]["bogusField"] = 1
    assert policy.validate_schemas([deployment], "1.35.0").errors
