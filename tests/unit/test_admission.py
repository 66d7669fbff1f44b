"""Pod Security admission: for every control of the baseline and restricted profiles, one pod
it admits and one it refuses, the refusal found in init and ephemeral containers too."""

import copy

import pytest

from voiceops import admission
from voiceops.admission import Level

RESTRICTED_POD = {
    "securityContext": {
        "runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"},
    },
    "containers": [{
        "name": "app", "image": "ghcr.io/voiceops/api:1",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "ports": [{"containerPort": 8080}],
    }],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}  # fmt: skip


def pod(change):
    spec = copy.deepcopy(RESTRICTED_POD)
    change(spec)
    return spec


def container(spec):
    return spec["containers"][0]


def context(spec):
    return container(spec)["securityContext"]


def set_in(mapping, key, value):
    mapping[key] = value


SAFE_SYSCTL = "net.ipv4.tcp_fin_timeout"

# control -> (a change the control admits, a change it refuses)
CASES = {
    "host-process": (
        lambda s: set_in(s["securityContext"], "windowsOptions", {"hostProcess": False}),
        lambda s: set_in(context(s), "windowsOptions", {"hostProcess": True}),
    ),
    "host-namespaces": (lambda s: set_in(s, "hostNetwork", False), lambda s: set_in(s, "hostPID", True)),
    "privileged-containers": (
        lambda s: set_in(context(s), "privileged", False),
        lambda s: set_in(context(s), "privileged", True),
    ),
    "capabilities": (
        lambda s: set_in(context(s), "capabilities", {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
        lambda s: set_in(context(s), "capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN"]}),
    ),
    "host-path-volumes": (
        lambda s: s["volumes"].append({"name": "data", "persistentVolumeClaim": {"claimName": "data"}}),
        lambda s: s["volumes"].append({"name": "logs", "hostPath": {"path": "/var/log"}}),
    ),
    "host-ports": (
        lambda s: set_in(container(s), "ports", [{"containerPort": 8080, "hostPort": 0}]),
        lambda s: set_in(container(s), "ports", [{"containerPort": 8080, "hostPort": 8080}]),
    ),
    "apparmor": (
        lambda s: set_in(context(s), "appArmorProfile", {"type": "RuntimeDefault"}),
        lambda s: set_in(s["securityContext"], "appArmorProfile", {"type": "Unconfined"}),
    ),
    "selinux": (
        lambda s: set_in(context(s), "seLinuxOptions", {"type": "container_t", "level": "s0:c1,c2"}),
        lambda s: set_in(context(s), "seLinuxOptions", {"type": "spc_t"}),
    ),
    "proc-mount": (
        lambda s: set_in(context(s), "procMount", "Default"),
        lambda s: set_in(context(s), "procMount", "Unmasked"),
    ),
    "seccomp": (
        lambda s: set_in(context(s), "seccompProfile", {"type": "Localhost", "localhostProfile": "p.json"}),
        lambda s: set_in(context(s), "seccompProfile", {"type": "Unconfined"}),
    ),
    "sysctls": (
        lambda s: set_in(s["securityContext"], "sysctls", [{"name": SAFE_SYSCTL, "value": "9"}]),
        lambda s: set_in(s["securityContext"], "sysctls", [{"name": "kernel.msgmax", "value": "65536"}]),
    ),
    "volume-types": (
        lambda s: s["volumes"].append({"name": "info", "downwardAPI": {"items": []}}),
        lambda s: s["volumes"].append({"name": "nfs", "nfs": {"server": "n", "path": "/"}}),
    ),
    "privilege-escalation": (
        lambda s: set_in(context(s), "allowPrivilegeEscalation", False),
        lambda s: context(s).pop("allowPrivilegeEscalation"),
    ),
    "running-as-non-root": (
        lambda s: (s["securityContext"].pop("runAsNonRoot"), set_in(context(s), "runAsNonRoot", True)),
        lambda s: s["securityContext"].pop("runAsNonRoot"),
    ),
    "running-as-non-root-user": (
        lambda s: set_in(context(s), "runAsUser", 1000),
        lambda s: set_in(context(s), "runAsUser", 0),
    ),
    "seccomp-restricted": (
        lambda s: (s["securityContext"].pop("seccompProfile"),
                   set_in(context(s), "seccompProfile", {"type": "RuntimeDefault"})),
        lambda s: s["securityContext"].pop("seccompProfile"),
    ),
    "capabilities-restricted": (
        lambda s: set_in(context(s), "capabilities", {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
        lambda s: set_in(context(s), "capabilities", {"drop": ["NET_RAW"]}),
    ),
}  # fmt: skip


def test_every_control_of_both_profiles_has_a_case():
    assert set(CASES) == set(admission.BASELINE) | set(admission.RESTRICTED)


def test_the_restricted_pod_is_admitted_everywhere():
    for level in Level:
        assert admission.refusals(RESTRICTED_POD, {}, level) == []


@pytest.mark.parametrize("control", sorted(CASES))
def test_each_control_admits_one_pod_and_refuses_another(control):
    admitted, refused = CASES[control]
    level = Level.BASELINE if control in admission.BASELINE else Level.RESTRICTED
    assert admission.refusals(pod(admitted), {}, Level.RESTRICTED) == []
    reasons = admission.refusals(pod(refused), {}, level)
    assert reasons and all(reason.startswith(f"{control}: ") for reason in reasons), reasons
    assert admission.refusals(pod(refused), {}, Level.PRIVILEGED) == []


@pytest.mark.parametrize("key", ["initContainers", "ephemeralContainers"])
def test_init_and_ephemeral_containers_are_checked_like_the_others(key):
    spec = copy.deepcopy(RESTRICTED_POD)
    spec[key] = [{"name": "helper", "image": "busybox:1.37", "securityContext": {"privileged": True}}]
    reasons = admission.refusals(spec, {}, Level.BASELINE)
    assert reasons == [f"privileged-containers: {key}[helper].securityContext.privileged is true"]


def test_baseline_admits_what_only_restricted_refuses():
    root = pod(lambda s: (s["securityContext"].pop("runAsNonRoot"), context(s).pop("capabilities")))
    assert admission.refusals(root, {}, Level.BASELINE) == []
    assert admission.refusals(root, {}, Level.RESTRICTED)


def test_an_apparmor_annotation_other_than_runtime_default_or_localhost_is_refused():
    key = "container.apparmor.security.beta.kubernetes.io/app"
    assert admission.refusals(RESTRICTED_POD, {key: "localhost/voice"}, Level.BASELINE) == []
    assert admission.refusals(RESTRICTED_POD, {key: "unconfined"}, Level.BASELINE) == [
        f"apparmor: annotation {key} is unconfined"
    ]


def test_a_namespace_without_an_enforce_label_is_privileged():
    assert admission.namespace_level(None) is Level.PRIVILEGED
    labelled = {"metadata": {"labels": {admission.ENFORCE_LABEL: "restricted"}}}
    assert admission.namespace_level(labelled) is Level.RESTRICTED
