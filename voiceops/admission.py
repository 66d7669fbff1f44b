"""Pod Security admission as the API server applies it: the baseline and restricted profiles of
the Pod Security Standards (Kubernetes "latest" policy version), control by control.

Each control reads a pod spec (and the pod's annotations) and returns the reasons it refuses
it; init and ephemeral containers are checked like the others. A namespace's level comes
from its `pod-security.kubernetes.io/enforce` label; without one the cluster default
(privileged) admits anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum


class Level(StrEnum):
    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"


ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"

Control = Callable[[dict, dict], Iterator[str]]


def _containers(spec: dict) -> Iterator[tuple[str, dict]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            yield f"{key}[{container.get('name')}]", container


def _context(container: dict) -> dict:
    return container.get("securityContext") or {}


def _pod_context(spec: dict) -> dict:
    return spec.get("securityContext") or {}


# --- baseline ---------------------------------------------------------------------------------


def host_process(spec: dict, _annotations: dict) -> Iterator[str]:
    if (_pod_context(spec).get("windowsOptions") or {}).get("hostProcess"):
        yield "securityContext.windowsOptions.hostProcess is true"
    for where, container in _containers(spec):
        if (_context(container).get("windowsOptions") or {}).get("hostProcess"):
            yield f"{where}.securityContext.windowsOptions.hostProcess is true"


def host_namespaces(spec: dict, _annotations: dict) -> Iterator[str]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"{field} is true"


def privileged(spec: dict, _annotations: dict) -> Iterator[str]:
    for where, container in _containers(spec):
        if _context(container).get("privileged"):
            yield f"{where}.securityContext.privileged is true"


BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})  # fmt: skip


def capabilities_baseline(spec: dict, _annotations: dict) -> Iterator[str]:
    for where, container in _containers(spec):
        added = set((_context(container).get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPABILITIES:
            yield f"{where} adds {', '.join(sorted(added - BASELINE_CAPABILITIES))}"


def host_path_volumes(spec: dict, _annotations: dict) -> Iterator[str]:
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            yield f"volume {volume.get('name')} is a hostPath"


def host_ports(spec: dict, _annotations: dict) -> Iterator[str]:
    for where, container in _containers(spec):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                yield f"{where} uses hostPort {port['hostPort']}"


APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _profiles(spec: dict, field: str) -> Iterator[tuple[str, str | None]]:
    """(where, type) of a profile field (seccompProfile, appArmorProfile): the pod's, then each
    container's; None where it is not set."""
    yield "securityContext", (_pod_context(spec).get(field) or {}).get("type")
    for where, container in _containers(spec):
        yield f"{where}.securityContext", (_context(container).get(field) or {}).get("type")


def app_armor(spec: dict, annotations: dict) -> Iterator[str]:
    for where, profile in _profiles(spec, "appArmorProfile"):
        if profile is not None and profile not in APPARMOR_TYPES:
            yield f"{where}.appArmorProfile.type is {profile}"
    for key, value in annotations.items():
        if (
            key.startswith(APPARMOR_ANNOTATION)
            and value != "runtime/default"
            and not value.startswith("localhost/")
        ):
            yield f"annotation {key} is {value}"


SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def _selinux(options: dict | None, where: str) -> Iterator[str]:
    options = options or {}
    if options.get("type", "") not in SELINUX_TYPES:
        yield f"{where}seLinuxOptions.type is {options['type']}"
    for field in ("user", "role"):
        if options.get(field):
            yield f"{where}seLinuxOptions.{field} is set"


def selinux(spec: dict, _annotations: dict) -> Iterator[str]:
    yield from _selinux(_pod_context(spec).get("seLinuxOptions"), "securityContext.")
    for where, container in _containers(spec):
        yield from _selinux(_context(container).get("seLinuxOptions"), f"{where}.securityContext.")


def proc_mount(spec: dict, _annotations: dict) -> Iterator[str]:
    for where, container in _containers(spec):
        mount = _context(container).get("procMount")
        if mount not in (None, "Default"):
            yield f"{where}.securityContext.procMount is {mount}"


def seccomp_baseline(spec: dict, _annotations: dict) -> Iterator[str]:
    for where, profile in _profiles(spec, "seccompProfile"):
        if profile == "Unconfined":
            yield f"{where}.seccompProfile.type is Unconfined"


SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})  # fmt: skip


def sysctls(spec: dict, _annotations: dict) -> Iterator[str]:
    for sysctl in _pod_context(spec).get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"sysctl {sysctl.get('name')} is not in the safe set"


# --- restricted -------------------------------------------------------------------------------

RESTRICTED_VOLUMES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
    "secret",
})  # fmt: skip


def volume_types(spec: dict, _annotations: dict) -> Iterator[str]:
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if kinds - RESTRICTED_VOLUMES:
            yield f"volume {volume.get('name')} is a {', '.join(sorted(kinds - RESTRICTED_VOLUMES))} volume"


def privilege_escalation(spec: dict, _annotations: dict) -> Iterator[str]:
    for where, container in _containers(spec):
        if _context(container).get("allowPrivilegeEscalation") is not False:
            yield f"{where}.securityContext.allowPrivilegeEscalation is not false"


def run_as_non_root(spec: dict, _annotations: dict) -> Iterator[str]:
    pod = _pod_context(spec).get("runAsNonRoot")
    if pod is False:
        yield "securityContext.runAsNonRoot is false"
    for where, container in _containers(spec):
        own = _context(container).get("runAsNonRoot")
        if own is False:
            yield f"{where}.securityContext.runAsNonRoot is false"
        elif own is None and pod is not True:
            yield f"{where}: runAsNonRoot is set neither on the pod nor on the container"


def run_as_user(spec: dict, _annotations: dict) -> Iterator[str]:
    if _pod_context(spec).get("runAsUser") == 0:
        yield "securityContext.runAsUser is 0"
    for where, container in _containers(spec):
        if _context(container).get("runAsUser") == 0:
            yield f"{where}.securityContext.runAsUser is 0"


SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def seccomp_restricted(spec: dict, _annotations: dict) -> Iterator[str]:
    profiles = list(_profiles(spec, "seccompProfile"))
    pod = profiles[0][1]
    for index, (where, profile) in enumerate(profiles):
        if profile is not None and profile not in SECCOMP_TYPES:
            yield f"{where}.seccompProfile.type is {profile}"
        elif index and profile is None and pod not in SECCOMP_TYPES:
            container = where.removesuffix(".securityContext")
            yield f"{container}: no RuntimeDefault or Localhost seccomp profile on the pod or the container"


def capabilities_restricted(spec: dict, _annotations: dict) -> Iterator[str]:
    for where, container in _containers(spec):
        capabilities = _context(container).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield f"{where} does not drop ALL capabilities"
        added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            yield f"{where} adds {', '.join(sorted(added))} (only NET_BIND_SERVICE may be added)"


BASELINE: dict[str, Control] = {
    "host-process": host_process,
    "host-namespaces": host_namespaces,
    "privileged-containers": privileged,
    "capabilities": capabilities_baseline,
    "host-path-volumes": host_path_volumes,
    "host-ports": host_ports,
    "apparmor": app_armor,
    "selinux": selinux,
    "proc-mount": proc_mount,
    "seccomp": seccomp_baseline,
    "sysctls": sysctls,
}
RESTRICTED: dict[str, Control] = {
    "volume-types": volume_types,
    "privilege-escalation": privilege_escalation,
    "running-as-non-root": run_as_non_root,
    "running-as-non-root-user": run_as_user,
    "seccomp-restricted": seccomp_restricted,
    "capabilities-restricted": capabilities_restricted,
}


def controls(level: Level) -> dict[str, Control]:
    if level is Level.PRIVILEGED:
        return {}
    return BASELINE if level is Level.BASELINE else {**BASELINE, **RESTRICTED}


def refusals(spec: dict, annotations: dict, level: Level) -> list[str]:
    """Why a pod with this spec would be refused in a namespace enforcing `level` (empty: admitted)."""
    return [
        f"{name}: {reason}"
        for name, control in controls(level).items()
        for reason in control(spec, annotations)
    ]


def namespace_level(namespace: dict | None) -> Level:
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    return Level(labels.get(ENFORCE_LABEL, Level.PRIVILEGED.value))
