"""The wiring gate: does everything a release refers to exist in the environment it is installed in?

Policy rules judge objects one by one; wiring follows references between them, over
everything an environment installs (its rendered releases, plus those of the environment
owning its cluster) and what its registry entry says about the cluster. Each reference
ends as:

  resolved     its target is rendered (or is built into every cluster of that cloud)
  dangling     nothing in the environment produces it: the release would not come up
  unverified   an upstream chart that could produce it is not in the chart cache
  unproduced   a Secret its bundle declares whose sealed value is not provisioned yet

  open         dangling, but recorded in charts/wiring-open.yaml (reason, expiry date)
               while its fix is under way; a row past its date counts as dangling again

`invoke wiring` fails on dangling references, and on a rule that checked nothing in an
environment that installs releases of its kind (a rule that sees nothing proves nothing).
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field

from voiceops import (
    admission,
    backups,
    catalog,
    cluster,
    connections,
    environments,
    gitops,
    infra_policy,
    render,
    secret_bundles,
)
from voiceops.environments import Cloud, Delivery, Environment, NodePool, Strict, load_validated
from voiceops.errors import OpsError
from voiceops.policy import Manifest, pod_spec
from voiceops.toolchain import shown

BUILD_DIR = render.ROOT / "build" / "wiring"
OPEN_PATH = render.ROOT / "charts" / "wiring-open.yaml"


class InvalidOpenList(OpsError):
    pass


class OpenDefect(Strict):
    rule: str
    environments: tuple[str, ...] = Field(min_length=1)
    source: str
    target: str
    reason: Annotated[str, Field(min_length=20)]
    expires: date


class OpenDefects(Strict):
    defects: tuple[OpenDefect, ...] = ()


def load_open(path: Path = OPEN_PATH) -> OpenDefects:
    known = load_validated(path, OpenDefects, InvalidOpenList)
    names = {environment.name for environment in environments.load_all()}
    for index, row in enumerate(known.defects):
        if row.rule not in RULES:
            raise InvalidOpenList(f"{shown(path)}: defects.{index}.rule: unknown rule {row.rule}")
        unknown = sorted(set(row.environments) - names)
        if unknown:
            raise InvalidOpenList(
                f"{shown(path)}: defects.{index}.environments: unknown {', '.join(unknown)}"
            )
    return known


def mark_open(report: WiringReport, known: OpenDefects, today: date) -> WiringReport:
    """Dangling references a current row names become open; everything else stays as it was."""
    keys = {
        (row.rule, environment, row.source, row.target)
        for row in known.defects
        if row.expires >= today
        for environment in row.environments
    }
    for rule in report.rules:
        rule.references = [
            replace(item, status=Status.OPEN)
            if item.status is Status.DANGLING
            and (item.rule, report.environment, item.source, item.target) in keys
            else item
            for item in rule.references
        ]
        # a row whose reference now resolves is done: it must go, or it would hide a relapse
        report.stale_rows += [
            f"{item.rule}: {item.source} -> {item.target}"
            for item in rule.references
            if item.status is Status.RESOLVED
            and (item.rule, report.environment, item.source, item.target) in keys
        ]
    return report


class Status(StrEnum):
    RESOLVED = "resolved"
    DANGLING = "dangling"
    UNVERIFIED = "unverified"
    UNPRODUCED = "unproduced"
    OPEN = "open"  # dangling, and recorded in charts/wiring-open.yaml with a reason and a date


@dataclass(frozen=True)
class Reference:
    rule: str
    source: str  # Kind/namespace/name of the object that refers
    target: str  # what it refers to
    status: Status
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.rule}: {self.source} -> {self.target}: {self.status.value}{detail}"


def ref(manifest: Manifest) -> str:
    metadata = manifest.get("metadata") or {}
    namespace = metadata.get("namespace")
    return f"{manifest['kind']}/{namespace + '/' if namespace else ''}{metadata.get('name')}"


POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod", "ReplicaSet"}


def pod_metadata(manifest: Manifest) -> dict:
    """The metadata its pods get: a bare Pod's own, else its pod template's (CronJobs: the job's)."""
    if manifest.get("kind") == "Pod":
        return manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    template = (
        spec.get("template") or ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    )
    return template.get("metadata") or {}


def pod_template(manifest: Manifest) -> dict | None:
    """The pod spec of any pod-making object (policy.pod_spec plus Jobs and bare Pods)."""
    if manifest["kind"] == "Job":
        return (manifest.get("spec") or {}).get("template", {}).get("spec")
    if manifest["kind"] == "Pod":
        return manifest.get("spec")
    return pod_spec(manifest)


def containers(spec: dict) -> Iterator[dict]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


@dataclass
class Installed:
    """What one environment puts into its cluster, and what the cluster holds besides."""

    environment: Environment
    manifests: list[Manifest]  # this environment's own rendered objects
    cluster: list[Manifest]  # everything in the cluster: ours plus the cluster owner's
    unverified_namespaces: frozenset[str] = frozenset()  # namespaces of uncached upstream releases
    releases: list[catalog.Release] = field(default_factory=list)
    # release -> its rendered objects as text; None where its chart is not cached
    rendered_text: dict[str, str | None] = field(default_factory=dict)

    def objects(self, kind: str) -> Iterator[Manifest]:
        return (item for item in self.cluster if item.get("kind") == kind)

    def has(self, kind: str, namespace: str | None, name: str) -> bool:
        return any(
            (item.get("metadata") or {}).get("name") == name
            and (namespace is None or (item.get("metadata") or {}).get("namespace") == namespace)
            for item in self.objects(kind)
        )

    def pods(self) -> Iterator[tuple[Manifest, dict]]:
        for manifest in self.manifests:
            if manifest.get("kind") in POD_KINDS:
                spec = pod_template(manifest)
                if spec is not None:
                    yield manifest, spec

    def missing(self, namespace: str | None) -> Status:
        """A target nothing renders: unverified if an uncached chart there (anywhere, for a
        cluster-scoped target) might render it."""
        if namespace in self.unverified_namespaces or (namespace is None and self.unverified_namespaces):
            return Status.UNVERIFIED
        return Status.DANGLING


def namespace_of(manifest: Manifest) -> str | None:
    return (manifest.get("metadata") or {}).get("namespace")


# --- Secrets and ConfigMaps -------------------------------------------------------------------

# Secrets that Kubernetes or a controller of the release creates at run time, by the object
# that asks for them: cert-manager writes spec.secretName, kube-webhook-certgen --secret-name.
SECRET_ARG = re.compile(r"^--secret-name=(?P<name>[a-z0-9.-]+)$")
# Commands that write a fixed Secret: Argo CD's `argocd admin redis-initial-password` (the
# chart's pre-install hook Job) creates argocd-redis when it does not exist.
SECRET_COMMANDS = {"redis-initial-password": "argocd-redis"}


def produced_secrets(installed: Installed) -> dict[tuple[str | None, str], str]:
    """(namespace, name) -> what produces it."""
    produced: dict[tuple[str | None, str], str] = {}
    for item in installed.cluster:
        kind, namespace = item.get("kind"), namespace_of(item)
        spec = item.get("spec") or {}
        name = (item.get("metadata") or {}).get("name")
        if kind == "Secret":
            produced[(namespace, name)] = ref(item)
        elif kind == "ExternalSecret":
            target = (spec.get("target") or {}).get("name") or name
            produced[(namespace, target)] = ref(item)
        elif kind == "SealedSecret":
            target = ((spec.get("template") or {}).get("metadata") or {}).get("name") or name
            produced[(namespace, target)] = ref(item)
        elif kind == "Certificate" and spec.get("secretName"):
            produced[(namespace, spec["secretName"])] = ref(item)
        elif kind in POD_KINDS:
            for container in containers(pod_template(item) or {}):
                for argument in [*(container.get("command") or []), *(container.get("args") or [])]:
                    match = SECRET_ARG.match(str(argument))
                    if match:
                        produced[(namespace, match["name"])] = ref(item)
                    if str(argument) in SECRET_COMMANDS:
                        produced[(namespace, SECRET_COMMANDS[str(argument)])] = ref(item)
    return produced


# How a pod spec names an object it reads: (volume source, its name field, env key ref, envFrom ref)
SECRET_FIELDS = ("secret", "secretName", "secretKeyRef", "secretRef")
CONFIG_MAP_FIELDS = ("configMap", "name", "configMapKeyRef", "configMapRef")


def _references(spec: dict, fields: tuple[str, str, str, str]) -> Iterator[tuple[str, bool]]:
    """(name, optional) of every Secret or ConfigMap a pod spec needs: volumes, projected volumes,
    env keys and envFrom, in every container."""
    volume_key, volume_name, env_key, env_from_key = fields
    for volume in spec.get("volumes") or []:
        if volume_key in volume:
            yield volume[volume_key].get(volume_name), bool(volume[volume_key].get("optional"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if volume_key in source:
                yield source[volume_key].get("name"), bool(source[volume_key].get("optional"))
    for container in containers(spec):
        for variable in container.get("env") or []:
            key = (variable.get("valueFrom") or {}).get(env_key)
            if key:
                yield key.get("name"), bool(key.get("optional"))
        for source in container.get("envFrom") or []:
            if env_from_key in source:
                yield source[env_from_key].get("name"), bool(source[env_from_key].get("optional"))


def _secret_references(spec: dict) -> Iterator[tuple[str, bool]]:
    yield from _references(spec, SECRET_FIELDS)
    for pull in spec.get("imagePullSecrets") or []:
        yield pull.get("name"), False


def _declared_secrets(installed: Installed) -> dict[tuple[str, str], secret_bundles.Materialized]:
    """(namespace, name) -> the bundle entry the environment materializes there."""
    return {
        (item.namespace, item.name): item for item in secret_bundles.for_environment(installed.environment)
    }


def _unproduced(installed: Installed, source: str, namespace: str | None, name: str,
                declared: dict[tuple[str, str], secret_bundles.Materialized]) -> Reference:  # fmt: skip
    """A Secret nothing renders: a bundle entry not provisioned yet (its sealed value is to come),
    unverified where an uncached chart may create it, else dangling: no bundle declares it."""
    target = f"Secret/{name}"
    item = declared.get((str(namespace), name))
    if item is not None:
        return Reference(
            "secrets", source, target, Status.UNPRODUCED,
            f"secrets/bundles/{item.declared.bundle}.yaml declares it; not provisioned: invoke secrets.seal "
            f"--env {installed.environment.name} --bundle {item.declared.bundle} --secret {name}",
        )  # fmt: skip
    if namespace in installed.unverified_namespaces:
        return Reference("secrets", source, target, Status.UNVERIFIED)
    return Reference("secrets", source, target, Status.DANGLING, "no bundle (secrets/bundles/) declares it")


def _env_secrets(spec: dict) -> set[str]:
    """The Secrets a pod reads into environment variables (env keys and envFrom)."""
    return {
        name for container in containers(spec)
        for name in [((item.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
                     for item in container.get("env") or []]
        + [(item.get("secretRef") or {}).get("name") for item in container.get("envFrom") or []]
        if name
    }  # fmt: skip


def secrets(installed: Installed) -> Iterator[Reference]:
    """Every Secret a pod needs is produced; a bundle's secret is read as files (seed 002)
    unless its bundle says why a consumer can only take environment variables."""
    produced = produced_secrets(installed)
    declared = _declared_secrets(installed)
    for manifest, spec in installed.pods():
        namespace = namespace_of(manifest)
        from_env = _env_secrets(spec)
        for name, optional in dict.fromkeys(_secret_references(spec)):
            if optional:
                continue
            producer = produced.get((namespace, name))
            item = declared.get((str(namespace), name))
            if (
                item is not None
                and name in from_env
                and all(consumer.as_files for consumer in item.declared.secret.consumers)
            ):
                yield Reference(
                    "secrets", ref(manifest), f"Secret/{name}", Status.DANGLING,
                    f"read into environment variables: mount it as files (seed 002), or say in "
                    f"secrets/bundles/{item.declared.bundle}.yaml why the chart allows nothing else",
                )  # fmt: skip
            elif producer:
                yield Reference("secrets", ref(manifest), f"Secret/{name}", Status.RESOLVED, producer)
            else:
                yield _unproduced(installed, ref(manifest), namespace, name, declared)
    # the Secrets the Prometheus Operator mounts into Alertmanager and Prometheus (spec.secrets)
    for manifest in installed.manifests:
        if manifest.get("kind") not in {"Alertmanager", "Prometheus"}:
            continue
        namespace = namespace_of(manifest)
        for name in (manifest.get("spec") or {}).get("secrets") or []:
            producer = produced.get((namespace, name))
            if producer:
                yield Reference("secrets", ref(manifest), f"Secret/{name}", Status.RESOLVED, producer)
            else:
                yield _unproduced(installed, ref(manifest), namespace, name, declared)
    for ingress in installed.manifests:
        if ingress.get("kind") != "Ingress":
            continue
        annotations = (ingress.get("metadata") or {}).get("annotations") or {}
        for tls in (ingress.get("spec") or {}).get("tls") or []:
            name, namespace = tls.get("secretName"), namespace_of(ingress)
            if not name:
                continue
            # cert-manager's ingress-shim issues the certificate an annotated Ingress asks for
            if (namespace, name) in produced or any(
                key.startswith("cert-manager.io/") for key in annotations
            ):
                yield Reference("secrets", ref(ingress), f"Secret/{name}", Status.RESOLVED, "cert-manager")
            else:
                yield Reference("secrets", ref(ingress), f"Secret/{name}", Status.UNPRODUCED)


# Created in every namespace by the control plane.
BUILT_IN_CONFIG_MAPS = frozenset({"kube-root-ca.crt"})


def config_maps(installed: Installed) -> Iterator[Reference]:
    for manifest, spec in installed.pods():
        namespace = namespace_of(manifest)
        for name, optional in dict.fromkeys(_references(spec, CONFIG_MAP_FIELDS)):
            if optional:
                continue
            target = f"ConfigMap/{name}"
            if name in BUILT_IN_CONFIG_MAPS or installed.has("ConfigMap", namespace, name):
                yield Reference("config-maps", ref(manifest), target, Status.RESOLVED)
            else:
                yield Reference("config-maps", ref(manifest), target, installed.missing(namespace))


# --- Host names -------------------------------------------------------------------------------

SERVICE_HOST = re.compile(
    r"(?<![A-Za-z0-9.-])(?P<service>[a-z0-9]([a-z0-9-]*[a-z0-9])?)\.(?P<namespace>[a-z0-9]([a-z0-9-]*[a-z0-9])?)"
    r"\.svc(\.cluster\.local)?\.?(:(?P<port>\d+))?(?![A-Za-z0-9-])"
)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _configuration_text(manifest: Manifest) -> Iterator[str]:
    """Where configuration lives: ConfigMap and Secret data, container env/args/command."""
    kind = manifest.get("kind")
    if kind == "ConfigMap":
        yield from _strings(manifest.get("data") or {})
    elif kind == "Secret":
        yield from _strings(manifest.get("stringData") or {})
        for encoded in (manifest.get("data") or {}).values():
            try:
                yield base64.b64decode(str(encoded)).decode()
            except (ValueError, UnicodeDecodeError):
                continue
    elif kind in POD_KINDS:
        for container in containers(pod_template(manifest) or {}):
            yield from _strings(container.get("args") or [])
            yield from _strings(container.get("command") or [])
            yield from (str(item.get("value")) for item in container.get("env") or [] if "value" in item)
    elif kind in {"Prometheus", "Alertmanager", "ServiceMonitor", "Application", "ExternalSecret"}:
        return
    else:
        yield from _strings(manifest.get("spec") or {})


def service_ports(service: Manifest) -> set[str]:
    ports = set()
    for port in (service.get("spec") or {}).get("ports") or []:
        ports.add(str(port.get("port")))
    return ports


# Services every cluster has: the API server and cluster DNS.
BUILT_IN_SERVICES: dict[tuple[str, str], Manifest] = {
    ("default", "kubernetes"): {"kind": "Service", "spec": {"ports": [{"name": "https", "port": 443}]}},
    ("kube-system", "kube-dns"): {"kind": "Service", "spec": {"ports": [{"name": "dns", "port": 53}]}},
}


def hosts(installed: Installed) -> Iterator[Reference]:
    services = dict(BUILT_IN_SERVICES) | {
        (namespace_of(item), (item.get("metadata") or {}).get("name")): item
        for item in installed.objects("Service")
    }
    for manifest in installed.manifests:
        seen = set()
        for text in _configuration_text(manifest):
            if "{{" in text and "}}" in text and ".svc" not in text:
                continue
            for match in SERVICE_HOST.finditer(text):
                key = (match["namespace"], match["service"], match["port"])
                if key in seen:
                    continue
                seen.add(key)
                target = f"Service/{match['namespace']}/{match['service']}" + (
                    f":{match['port']}" if match["port"] else ""
                )
                service = services.get((match["namespace"], match["service"]))
                if service is None:
                    yield Reference("hosts", ref(manifest), target, installed.missing(match["namespace"]))
                elif match["port"] and match["port"] not in service_ports(service):
                    yield Reference(
                        "hosts", ref(manifest), target, Status.DANGLING,
                        f"the Service serves {', '.join(sorted(service_ports(service))) or 'no port'}",
                    )  # fmt: skip
                else:
                    yield Reference("hosts", ref(manifest), target, Status.RESOLVED)
    for ingress in installed.manifests:
        if ingress.get("kind") != "Ingress":
            continue
        namespace = namespace_of(ingress)
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = (path.get("backend") or {}).get("service") or {}
                port = (backend.get("port") or {}).get("number") or (backend.get("port") or {}).get("name")
                target = f"Service/{namespace}/{backend.get('name')}:{port}"
                service = services.get((namespace, backend.get("name")))
                if service is None:
                    yield Reference("hosts", ref(ingress), target, installed.missing(namespace))
                    continue
                names = {str(item.get("name")) for item in (service.get("spec") or {}).get("ports") or []}
                status = Status.RESOLVED if str(port) in service_ports(service) | names else Status.DANGLING
                yield Reference("hosts", ref(ingress), target, status)


# --- Connectivity ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A pod template, as NetworkPolicies see it."""

    namespace: str | None
    labels: dict
    ports: dict  # container port name -> number


def _endpoint(manifest: Manifest) -> Endpoint:
    labels = pod_metadata(manifest).get("labels") or {}
    pod = pod_template(manifest) or {}
    ports = {
        str(port.get("name")): int(port["containerPort"])
        for container in containers(pod)
        for port in container.get("ports") or []
        if port.get("name") and port.get("containerPort")
    }
    return Endpoint(namespace_of(manifest), labels, ports)


OUTSIDE_NETWORK = "voiceops.io/outside-network"  # label of an Endpoint outside the cluster


def _within(network: str, block: str) -> bool:
    inner, outer = ipaddress.ip_network(network), ipaddress.ip_network(block)
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _namespace_labels(installed: Installed, namespace: str | None) -> dict:
    found = next(
        (
            item
            for item in installed.objects("Namespace")
            if (item.get("metadata") or {}).get("name") == namespace
        ),
        {},
    )
    return {
        "kubernetes.io/metadata.name": namespace or "",
        **((found.get("metadata") or {}).get("labels") or {}),
    }


def _peer_matches(installed: Installed, peer: dict, policy_namespace: str | None, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        if block.get("except"):
            return False
        if block.get("cidr") in ANYWHERE:
            return True
        # a load balancer outside the cluster, sending from its own network
        network = other.labels.get(OUTSIDE_NETWORK) if other.namespace is None else None
        return network is not None and _within(network, str(block.get("cidr")))
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        in_namespace = other.namespace == policy_namespace
    else:
        in_namespace = _label_selector_matches(
            namespace_selector, _namespace_labels(installed, other.namespace)
        )
    pod_selector = peer.get("podSelector")
    return in_namespace and (pod_selector is None or _label_selector_matches(pod_selector, other.labels))


def _port_matches(rule_ports: list[dict], port: int, endpoint: Endpoint) -> bool:
    if not rule_ports:
        return True
    for item in rule_ports:
        wanted = item.get("port")
        if wanted is None:
            return True
        number = endpoint.ports.get(wanted) if isinstance(wanted, str) else int(wanted)
        if number is not None and number <= port <= int(item.get("endPort") or number):
            return True
    return False


def _allowed(installed: Installed, subject: Endpoint, other: Endpoint, port: int, direction: str) -> bool:
    """Whether the NetworkPolicies of subject's namespace let traffic out to (Egress) or in from
    (Ingress) the other end; a pod no policy of that direction selects is not isolated."""
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    port_owner = other if direction == "Egress" else subject
    isolated = False
    for policy in installed.objects("NetworkPolicy"):
        spec = policy.get("spec") or {}
        if namespace_of(policy) != subject.namespace or direction not in (spec.get("policyTypes") or []):
            continue
        if not _label_selector_matches(spec.get("podSelector") or {}, subject.labels):
            continue
        isolated = True
        for rule in spec.get(rules_key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                _peer_matches(installed, peer, subject.namespace, other) for peer in peers
            )
            if peer_ok and _port_matches(rule.get("ports") or [], port, port_owner):
                return True
    return not isolated


def _target_port(service: Manifest, port: int, destination: Endpoint) -> int | None:
    for item in (service.get("spec") or {}).get("ports") or []:
        if int(item.get("port", 0)) == port:
            target = item.get("targetPort", port)
            return destination.ports.get(target) if isinstance(target, str) else int(target)
    return None


def connectivity(installed: Installed) -> Iterator[Reference]:
    """Every in-cluster connection a workload is configured for is allowed by the NetworkPolicies
    on both ends: egress from its namespace, ingress into the Service's pods."""
    services = {
        (namespace_of(item), (item.get("metadata") or {}).get("name")): item
        for item in installed.objects("Service")
    }
    pods = [(_endpoint(item)) for item in installed.cluster if item.get("kind") in POD_KINDS]
    for manifest in installed.manifests:
        if manifest.get("kind") not in POD_KINDS:
            continue
        source = _endpoint(manifest)
        for text in _configuration_text(manifest):
            for match in SERVICE_HOST.finditer(text):
                service = services.get((match["namespace"], match["service"]))
                if service is None or not match["port"]:
                    continue  # the hosts rule reports it
                selector = (service.get("spec") or {}).get("selector") or {}
                destinations = [pod for pod in pods if pod.namespace == match["namespace"] and selector
                                and _selector_matches(selector, pod.labels)]  # fmt: skip
                target = f"Service/{match['namespace']}/{match['service']}:{match['port']}"
                if not destinations:  # pods an operator makes (Prometheus, Alertmanager) are not rendered
                    detail = "no rendered pod behind the Service to check the policies against"
                    yield Reference("connectivity", ref(manifest), target, Status.UNVERIFIED, detail)
                    continue
                destination = destinations[0]
                port = _target_port(service, int(match["port"]), destination)
                if port is None:
                    continue
                if not _allowed(installed, source, destination, port, "Egress"):
                    detail = f"the NetworkPolicies of {source.namespace} deny egress to it on {port}"
                    yield Reference("connectivity", ref(manifest), target, Status.DANGLING, detail)
                elif not _allowed(installed, destination, source, port, "Ingress"):
                    detail = f"the NetworkPolicies of {destination.namespace} deny ingress on {port} from it"
                    yield Reference("connectivity", ref(manifest), target, Status.DANGLING, detail)
                else:
                    yield Reference("connectivity", ref(manifest), target, Status.RESOLVED)


# --- Service accounts -------------------------------------------------------------------------


def service_accounts(installed: Installed) -> Iterator[Reference]:
    for manifest, spec in installed.pods():
        namespace = namespace_of(manifest)
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        target = f"ServiceAccount/{namespace}/{name}"
        if name == "default" or installed.has("ServiceAccount", namespace, name):
            yield Reference("service-accounts", ref(manifest), target, Status.RESOLVED)
        else:
            yield Reference("service-accounts", ref(manifest), target, installed.missing(namespace))
    for binding in installed.manifests:
        if binding.get("kind") not in {"RoleBinding", "ClusterRoleBinding"}:
            continue
        for subject in binding.get("subjects") or []:
            if subject.get("kind") != "ServiceAccount":
                continue
            namespace = subject.get("namespace") or namespace_of(binding)
            target = f"ServiceAccount/{namespace}/{subject.get('name')}"
            if subject.get("name") == "default" or installed.has(
                "ServiceAccount", namespace, subject.get("name")
            ):
                yield Reference("service-accounts", ref(binding), target, Status.RESOLVED)
            else:
                yield Reference("service-accounts", ref(binding), target, installed.missing(namespace))


# --- Storage ----------------------------------------------------------------------------------

# StorageClasses each cloud's clusters come with, and the default among them. EKS Auto Mode
# ships none: its block storage needs a StorageClass naming ebs.csi.eks.amazonaws.com.
CLOUD_STORAGE_CLASSES: dict[Cloud, tuple[frozenset[str], str | None]] = {
    Cloud.AWS: (frozenset(), None),
    Cloud.AZURE: (
        frozenset({"default", "managed", "managed-csi", "managed-csi-premium", "managed-premium",
                   "azurefile", "azurefile-csi", "azurefile-csi-premium", "azurefile-premium"}),
        "default",
    ),
    Cloud.LINODE: (
        frozenset({"linode-block-storage", "linode-block-storage-retain"}),
        "linode-block-storage-retain",
    ),
    Cloud.LOCAL: (frozenset({"standard"}), "standard"),
}  # fmt: skip


def _claims(manifest: Manifest) -> Iterator[dict]:
    if manifest.get("kind") == "PersistentVolumeClaim":
        yield manifest.get("spec") or {}
    elif manifest.get("kind") == "StatefulSet":
        for template in (manifest.get("spec") or {}).get("volumeClaimTemplates") or []:
            yield template.get("spec") or {}


def storage(installed: Installed) -> Iterator[Reference]:
    built_in, cloud_default = CLOUD_STORAGE_CLASSES[installed.environment.cloud]
    rendered = {(item.get("metadata") or {}).get("name"): item for item in installed.objects("StorageClass")}
    rendered_default = next(
        (
            name
            for name, item in rendered.items()
            if ((item.get("metadata") or {}).get("annotations") or {}).get(
                "storageclass.kubernetes.io/is-default-class"
            )
            == "true"
        ),
        None,
    )
    default = rendered_default or cloud_default
    for manifest in installed.manifests:
        for claim in _claims(manifest):
            name = claim.get("storageClassName")
            if name is None:
                target = "the default StorageClass"
                status = Status.RESOLVED if default else Status.DANGLING
                detail = (
                    default or f"a {installed.environment.cloud.value} cluster has no default StorageClass"
                )
                yield Reference("storage", ref(manifest), target, status, detail)
            elif name == "":
                continue  # binds a pre-created PersistentVolume on purpose
            else:
                status = Status.RESOLVED if name in rendered or name in built_in else Status.DANGLING
                yield Reference("storage", ref(manifest), f"StorageClass/{name}", status)


# --- Scheduling -------------------------------------------------------------------------------

# Labels every node carries (kubelet's well-known labels); values checked only for the OS.
WELL_KNOWN_LABELS = frozenset({
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "node.kubernetes.io/instance-type", "kubernetes.io/arch",
})  # fmt: skip

# Architectures of the instance types in the registry; anything else is amd64.
ARM_INSTANCE = re.compile(r"^([a-z]+\d+g[a-z]*\.|Standard_[A-Z]+\d+p)")


def pool_labels(cloud: Cloud, pool: NodePool) -> dict[str, str]:
    """The labels a pool's nodes carry: ours (modules/logic/node-pools) and the cloud's own."""
    labels = {
        "voiceops/pool": pool.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "arm64" if ARM_INSTANCE.match(pool.instance_type) else "amd64",
        "node.kubernetes.io/instance-type": pool.instance_type,
    }
    if pool.gpu:
        labels["voiceops/gpu"] = "true"
    if cloud is Cloud.AZURE:
        labels |= {"agentpool": pool.name, "kubernetes.azure.com/agentpool": pool.name}
    if cloud is Cloud.AWS:
        labels |= {
            "karpenter.sh/nodepool": pool.name,
            "karpenter.sh/capacity-type": "spot" if pool.spot else "on-demand",
        }
    return labels


def cluster_pools(installed: Installed) -> list[NodePool]:
    """The node pools of the environment's cluster (the owner's, for a shared cluster)."""
    environment = installed.environment
    if environment.cluster.node_pools:
        return list(environment.cluster.node_pools)
    for owner in environment.cluster.shared_with:
        pools = environments.load(owner).cluster.node_pools
        if pools:
            return list(pools)
    return []


LOCAL_NODE = NodePool(name="kind", instance_type="kind", min_nodes=1, max_nodes=1, autoscaling=False)


def _expression_matches(expression: dict, labels: dict[str, str]) -> bool:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values or (
            key in WELL_KNOWN_LABELS - {"kubernetes.io/arch"} and key in labels
        )
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels or key in WELL_KNOWN_LABELS
    if operator == "DoesNotExist":
        return key not in labels
    return True  # Gt / Lt on numeric labels: not used by the platform


def _selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _tolerates(tolerations: list[dict], taint: str) -> bool:
    key, rest = taint.split("=", 1)
    value, effect = rest.split(":", 1)
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != effect:
            continue
        if toleration.get("operator") == "Exists" and toleration.get("key") in (None, key):
            return True
        if toleration.get("key") == key and toleration.get("value") == value:
            return True
    return False


def fitting_pools(spec: dict, nodes: list[tuple[NodePool, dict[str, str]]]) -> list[NodePool]:
    """The pools a pod may be scheduled on: its nodeSelector, required affinity and tolerations."""
    selector = spec.get("nodeSelector") or {}
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = (affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get(
        "nodeSelectorTerms"
    ) or [{}]
    tolerations = spec.get("tolerations") or []
    return [
        pool
        for pool, labels in nodes
        if _selector_matches(selector, labels)
        and any(
            all(_expression_matches(expression, labels) for expression in term.get("matchExpressions") or [])
            for term in required
        )
        and all(
            _tolerates(tolerations, taint) for taint in pool.taints if not taint.endswith("PreferNoSchedule")
        )
    ]


def scheduling(installed: Installed) -> Iterator[Reference]:
    environment = installed.environment
    pools = cluster_pools(installed) or ([LOCAL_NODE] if environment.cloud is Cloud.LOCAL else [])
    if not pools:
        return
    nodes = [(pool, pool_labels(environment.cloud, pool)) for pool in pools]
    for pool, _labels in nodes:
        if pool.gpu and not pool.taints:
            yield Reference(
                "scheduling", f"cluster/{environment.cluster.name}", f"pool/{pool.name}", Status.DANGLING,
                "a GPU pool without a taint takes any workload",
            )  # fmt: skip
    for manifest, spec in installed.pods():
        if manifest.get("kind") == "DaemonSet":
            continue  # a DaemonSet runs where it fits; an empty match is its choice
        selector = spec.get("nodeSelector") or {}
        affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        fitting = fitting_pools(spec, nodes)
        target = "a node pool" + (f" with {selector}" if selector else "")
        if fitting:
            yield Reference(
                "scheduling", ref(manifest), target, Status.RESOLVED, ", ".join(p.name for p in fitting)
            )
        else:
            yield Reference(
                "scheduling", ref(manifest), target, Status.DANGLING,
                f"no pool of {', '.join(p.name for p in pools)} fits its selector, affinity, tolerations",
            )  # fmt: skip
            continue
        for preference in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
            expressions = (preference.get("preference") or {}).get("matchExpressions") or []
            if not any(all(_expression_matches(e, labels) for e in expressions) for _pool, labels in nodes):
                yield Reference(
                    "scheduling", ref(manifest), f"preferred {expressions}", Status.UNVERIFIED,
                    "no pool of this cluster can satisfy the preference",
                )  # fmt: skip


# --- Monitoring -------------------------------------------------------------------------------


def _label_selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector; a null selector matches nothing, an empty one everything."""
    if selector is None:
        return False
    if not _selector_matches(selector.get("matchLabels") or {}, labels):
        return False
    return all(
        _expression_matches(expression, labels) for expression in selector.get("matchExpressions") or []
    )


MONITOR_SELECTORS = {
    "ServiceMonitor": ("serviceMonitorSelector", "serviceMonitorNamespaceSelector"),
    "PodMonitor": ("podMonitorSelector", "podMonitorNamespaceSelector"),
    "PrometheusRule": ("ruleSelector", "ruleNamespaceSelector"),
}


def monitors(installed: Installed) -> Iterator[Reference]:
    prometheuses = list(installed.objects("Prometheus"))
    namespaces = {
        (item.get("metadata") or {}).get("name"): (item.get("metadata") or {}).get("labels") or {}
        for item in installed.objects("Namespace")
    }
    for manifest in installed.manifests:
        kind = manifest.get("kind")
        if kind not in MONITOR_SELECTORS:
            continue
        selector_key, namespace_key = MONITOR_SELECTORS[kind]
        labels = (manifest.get("metadata") or {}).get("labels") or {}
        namespace = namespace_of(manifest)
        selecting = []
        for prometheus in prometheuses:
            spec = prometheus.get("spec") or {}
            namespace_selector = spec.get(namespace_key)
            same_namespace = namespace == namespace_of(prometheus)
            # the operator reads a null namespace selector as "the Prometheus's own namespace"
            in_namespace = (
                same_namespace
                if namespace_selector is None
                else _label_selector_matches(
                    namespace_selector,
                    {"kubernetes.io/metadata.name": namespace or "", **namespaces.get(namespace, {})},
                )
            )
            if in_namespace and _label_selector_matches(spec.get(selector_key), labels):
                selecting.append(ref(prometheus))
        if selecting:
            yield Reference("monitors", ref(manifest), "a Prometheus", Status.RESOLVED, ", ".join(selecting))
        elif not prometheuses and installed.unverified_namespaces:
            yield Reference("monitors", ref(manifest), "a Prometheus", Status.UNVERIFIED)
        else:
            detail = (
                "no Prometheus in this cluster" if not prometheuses else "no Prometheus selects its labels"
            )
            yield Reference("monitors", ref(manifest), "a Prometheus", Status.DANGLING, detail)


# --- Namespaces -------------------------------------------------------------------------------


BUILT_IN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
RELEASE_WAVE_MODULE = (
    render.ROOT / "infra" / "terraform" / "modules" / "kubernetes" / "release-wave" / "main.tf"
)


def installer_creates_namespaces(installed: Installed) -> bool:
    """Read from the installers themselves: helm's arguments, Argo CD's sync options, the
    Terraform module's helm_release."""
    delivery = installed.environment.delivery
    if delivery is Delivery.GITOPS:
        return "CreateNamespace=true" in gitops.SYNC_OPTIONS
    if delivery is Delivery.TERRAFORM:
        return re.search(r"create_namespace\s*=\s*true", RELEASE_WAVE_MODULE.read_text()) is not None
    return any(
        "--create-namespace" in cluster.upgrade_command(installed.environment, release)
        for release in installed.releases
    )


def namespaces(installed: Installed) -> Iterator[Reference]:
    """Every namespace the environment installs into has exactly one owner, there before the
    first release that needs it: a rendered Namespace (of a lower wave) or the installer
    (helm --create-namespace, Terraform's create_namespace, Argo CD's CreateNamespace) — not
    both, since Helm will not adopt an object another owner created."""
    rendered: dict[str, list[tuple[str, int]]] = {}
    waves = {release.name: release.wave for release in installed.releases}
    for item in installed.manifests:
        if item.get("kind") == "Namespace":
            owner = (item.get("metadata") or {}).get("labels", {}).get("app.kubernetes.io/instance", "")
            rendered.setdefault((item.get("metadata") or {}).get("name"), []).append(
                (ref(item), waves.get(owner, 0))
            )
    installer_creates = installer_creates_namespaces(installed)
    first_wave: dict[str, int] = {}
    for release in installed.releases:
        first_wave[release.namespace] = min(first_wave.get(release.namespace, release.wave), release.wave)
    source = f"environment/{installed.environment.name}"
    for namespace in sorted(set(first_wave) | set(rendered)):
        owners = [name for name, _wave in rendered.get(namespace, [])]
        if installer_creates and namespace in first_wave:
            owners.append(f"{installed.environment.delivery.value} create-namespace")
        target = f"Namespace/{namespace}"
        if len(owners) > 1:
            detail = " and ".join(owners) + ": Helm will not adopt what another created"
            yield Reference("namespaces", source, target, Status.DANGLING, detail)
        elif not owners:
            if namespace in BUILT_IN_NAMESPACES:
                yield Reference("namespaces", source, target, Status.RESOLVED, "built into every cluster")
            elif installed.has("Namespace", None, namespace):
                yield Reference("namespaces", source, target, Status.RESOLVED, "the cluster owner's")
            else:
                yield Reference(
                    "namespaces", source, target, installed.missing(namespace), "nothing creates it"
                )
        elif (
            rendered.get(namespace)
            and namespace in first_wave
            and rendered[namespace][0][1] >= first_wave[namespace]
        ):
            detail = (
                f"{owners[0]} comes at wave {rendered[namespace][0][1]}, "
                f"a release needs it at wave {first_wave[namespace]}"
            )
            yield Reference("namespaces", source, target, Status.DANGLING, detail)
        else:
            yield Reference("namespaces", source, target, Status.RESOLVED, owners[0])


# --- Cloud identities -------------------------------------------------------------------------

# Where each cloud's stack binds cloud roles to Kubernetes service accounts: a map whose entries
# name the namespace (module.context.namespaces.<role>) and the service account.
IDENTITY_BINDINGS: dict[Cloud, tuple[str, str, str]] = {
    Cloud.AWS: ("modules/aws/platform", "module.eks", "workload_roles"),
    Cloud.AZURE: ("stacks/azure/production", "module.workload_identity", "bindings"),
}
NAMESPACE_ROLE = re.compile(r"namespaces\.(?P<role>[a-z]+)")


def identity_bindings(cloud: Cloud) -> Iterator[tuple[str, str, str]]:
    """(binding, namespace role, service account) of every cloud-role binding the stack declares."""
    if cloud not in IDENTITY_BINDINGS:
        return
    bindings = infra_policy.module_value(*IDENTITY_BINDINGS[cloud])
    for name, binding in (bindings if isinstance(bindings, dict) else {}).items():
        role = NAMESPACE_ROLE.search(str(binding.get("namespace", "")))
        yield name, role["role"] if role else "", str(binding.get("service_account", ""))


def identities(installed: Installed) -> Iterator[Reference]:
    """A cloud role bound to a service account reaches a workload only if that account exists and
    a pod runs as it."""
    environment = installed.environment
    if environment.terraform is None:
        return
    used = {
        (namespace_of(manifest), spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
        for manifest, spec in installed.pods()
    }
    for name, role, account in identity_bindings(environment.cloud):
        namespace = environment.namespaces.get(role)
        if namespace is None:
            continue
        source, target = f"stack/{environment.name}/{name}", f"ServiceAccount/{namespace}/{account}"
        if (namespace, account) in used:
            yield Reference("identities", source, target, Status.RESOLVED)
        elif namespace in installed.unverified_namespaces:
            yield Reference("identities", source, target, Status.UNVERIFIED)
        else:
            yield Reference(
                "identities", source, target, Status.DANGLING, "no pod runs as this service account"
            )


# --- Metrics ---------------------------------------------------------------------------------

METRICS_PATH = render.ROOT / "charts" / "metrics.yaml"
PROMQL_NOISE = re.compile(
    r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]'  # strings, label matchers, ranges
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"  # grouping label lists
)
PROMQL_NAME = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()")
PROMQL_WORDS = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                          "group_left", "group_right", "inf", "nan", "atan2"})  # fmt: skip


def promql_metrics(expression: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords and labels left out)."""
    text = PROMQL_NOISE.sub(" ", expression)
    return {name for name in PROMQL_NAME.findall(text) if name.lower() not in PROMQL_WORDS}


# Alert and recording rule groups we write are named voiceops.<topic>.
OUR_RULE_GROUPS = "voiceops."
# Series Prometheus writes for every target itself.
PROMETHEUS_OWN_SERIES = frozenset({
    "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
})  # fmt: skip


class MetricEntry(Strict):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    kind: Literal["counter", "gauge", "histogram", "summary"]
    defined_in: str


class ReleaseMetrics(Strict):
    source: str
    metrics: tuple[MetricEntry, ...] = Field(min_length=1)


class MetricInventory(Strict):
    releases: dict[str, ReleaseMetrics]


class InvalidInventory(OpsError):
    pass


def load_inventory(path: Path = METRICS_PATH) -> MetricInventory:
    inventory = load_validated(path, MetricInventory, InvalidInventory)
    known = set(catalog.load().releases)
    for name in inventory.releases:
        if name not in known:
            raise InvalidInventory(f"{shown(path)}: releases.{name}: not a release of charts/releases.yaml")
    return inventory


def _exported_names(entry: MetricEntry) -> set[str]:
    """What Prometheus stores for a metric: a histogram adds _bucket, _sum and _count."""
    if entry.kind == "histogram":
        return {entry.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    if entry.kind == "summary":
        return {entry.name, entry.name + "_sum", entry.name + "_count"}
    return {entry.name}


def _adapter_rules(installed: Installed) -> dict[str, str]:
    """Custom metric name -> series the prometheus-adapter serves it from (its rendered config)."""
    served = {}
    for item in installed.objects("ConfigMap"):
        if (item.get("metadata") or {}).get("labels", {}).get(
            "app.kubernetes.io/name"
        ) != "prometheus-adapter":
            continue
        config = render.load_manifests(((item.get("data") or {}).get("config.yaml")) or "")
        for document in config:
            for rule in (document or {}).get("rules") or []:
                series = next(iter(promql_metrics(rule.get("seriesQuery", ""))), "")
                served[((rule.get("name") or {}).get("as")) or series] = series
    return served


def _pod_labels(installed: Installed) -> list[tuple[str | None, dict]]:
    """(namespace, pod template labels) of every pod-making object in the cluster."""
    found = []
    for item in installed.cluster:
        if item.get("kind") not in POD_KINDS:
            continue
        found.append((namespace_of(item), pod_metadata(item).get("labels") or {}))
    return found


def _monitored_namespaces(monitor: Manifest) -> set[str | None] | None:
    """The namespaces a monitor looks in; None for all of them."""
    selector = (monitor.get("spec") or {}).get("namespaceSelector") or {}
    if selector.get("any"):
        return None
    return set(selector.get("matchNames") or []) or {namespace_of(monitor)}


def scraped_releases(installed: Installed) -> set[str]:
    """Releases (their pods' app.kubernetes.io/instance) some ServiceMonitor or PodMonitor reaches."""
    pods = _pod_labels(installed)
    services = list(installed.objects("Service"))
    reached = set()
    for monitor in installed.cluster:
        kind = monitor.get("kind")
        if kind not in {"ServiceMonitor", "PodMonitor"}:
            continue
        namespaces = _monitored_namespaces(monitor)
        selector = (monitor.get("spec") or {}).get("selector") or {}
        if kind == "PodMonitor":
            matched = [
                labels
                for namespace, labels in pods
                if (namespaces is None or namespace in namespaces)
                and _label_selector_matches(selector, labels)
            ]
        else:
            matched = []
            for service in services:
                namespace = namespace_of(service)
                labels = (service.get("metadata") or {}).get("labels") or {}
                if (namespaces is not None and namespace not in namespaces) or not _label_selector_matches(
                    selector, labels
                ):
                    continue
                wanted = (service.get("spec") or {}).get("selector") or {}
                matched += [
                    pod for ns, pod in pods if ns == namespace and wanted and _selector_matches(wanted, pod)
                ]
        reached |= {labels.get("app.kubernetes.io/instance") or labels.get("release") for labels in matched}
    return reached - {None}


def metrics(installed: Installed) -> Iterator[Reference]:
    """Every metric an HPA, an adapter rule or an alert names is exported by a release of the
    cluster that Prometheus scrapes (charts/metrics.yaml lists what each release exports)."""
    inventory = load_inventory()
    cluster_releases = {release.name for release in installed.releases}
    for owner in installed.environment.cluster.shared_with:
        cluster_releases |= {release.name for release in catalog.releases_for(environments.load(owner))}
    exporters: dict[str, list[str]] = {}
    for release, listed in inventory.releases.items():
        if release in cluster_releases:
            for entry in listed.metrics:
                for name in _exported_names(entry):
                    exporters.setdefault(name, []).append(release)
    scraped = scraped_releases(installed)
    adapter = _adapter_rules(installed)

    def exported(source: str, metric: str) -> Reference:
        releases = exporters.get(metric, [])
        if not releases:
            return Reference(
                "metrics", source, metric, Status.DANGLING, "no release of this cluster exports it"
            )
        if not any(release in scraped for release in releases):
            detail = f"exported by {', '.join(releases)}, which no ServiceMonitor or PodMonitor scrapes"
            status = Status.UNVERIFIED if installed.unverified_namespaces else Status.DANGLING
            return Reference("metrics", source, metric, status, detail)
        return Reference("metrics", source, metric, Status.RESOLVED, ", ".join(releases))

    for hpa in installed.manifests:
        if hpa.get("kind") != "HorizontalPodAutoscaler":
            continue
        for metric in (hpa.get("spec") or {}).get("metrics") or []:
            if metric.get("type") not in {"Pods", "Object", "External"}:
                continue
            name = ((metric.get(metric["type"].lower()) or {}).get("metric") or {}).get("name")
            if name not in adapter:
                status = (
                    Status.UNVERIFIED if not adapter and installed.unverified_namespaces else Status.DANGLING
                )
                yield Reference("metrics", ref(hpa), name, status, "no prometheus-adapter rule serves it")
            else:
                yield exported(ref(hpa), adapter[name])
    for rule_set in installed.manifests:
        if rule_set.get("kind") != "PrometheusRule":
            continue
        for group in (rule_set.get("spec") or {}).get("groups") or []:
            if not str(group.get("name", "")).startswith(OUR_RULE_GROUPS):
                continue  # the charts' default rules come with the exporters they watch
            for rule in group.get("rules") or []:
                source = f"{ref(rule_set)}#{rule.get('alert') or rule.get('record')}"
                for metric in sorted(promql_metrics(str(rule.get("expr", "")))):
                    if ":" in metric or metric in PROMETHEUS_OWN_SERIES:
                        yield Reference("metrics", source, metric, Status.RESOLVED, "recorded by Prometheus")
                    else:
                        yield exported(source, metric)


# --- Egress ---------------------------------------------------------------------------------

EGRESS_REASON = "voiceops.io/egress-reason"
ANYWHERE = {"0.0.0.0/0", "::/0"}


def _opens_all_egress(rule: dict) -> bool:
    """An egress rule with no port limit towards every address (no `to`, or an ipBlock of all)."""
    if rule.get("ports"):
        return False
    peers = rule.get("to")
    if not peers:
        return True
    return any((peer.get("ipBlock") or {}).get("cidr") in ANYWHERE and not peer["ipBlock"].get("except")
               for peer in peers)  # fmt: skip


def egress(installed: Installed) -> Iterator[Reference]:
    """Seed 002: egress is controlled by network policy; a policy that opens all of it gives
    its reason in the voiceops.io/egress-reason annotation."""
    for policy in installed.manifests:
        if policy.get("kind") != "NetworkPolicy":
            continue
        spec = policy.get("spec") or {}
        if "Egress" not in (spec.get("policyTypes") or []):
            continue
        opens_all = any(_opens_all_egress(rule) for rule in spec.get("egress") or [])
        reason = ((policy.get("metadata") or {}).get("annotations") or {}).get(EGRESS_REASON)
        if opens_all and not reason:
            detail = f"opens all egress without a {EGRESS_REASON} annotation"
            yield Reference("egress", ref(policy), "controlled egress", Status.DANGLING, detail)
        else:
            yield Reference("egress", ref(policy), "controlled egress", Status.RESOLVED, reason or "")


# --- Admission --------------------------------------------------------------------------------


def admission_rule(installed: Installed) -> Iterator[Reference]:
    """Every pod is admitted by the Pod Security level its namespace enforces."""
    namespaces = {(item.get("metadata") or {}).get("name"): item for item in installed.objects("Namespace")}
    for manifest, spec in installed.pods():
        namespace = namespace_of(manifest)
        level = admission.namespace_level(namespaces.get(namespace))
        target = f"Pod Security {level.value} of {namespace}"
        refused = admission.refusals(spec, pod_metadata(manifest).get("annotations") or {}, level)
        if refused:
            yield Reference("admission", ref(manifest), target, Status.DANGLING, "; ".join(refused))
        else:
            yield Reference("admission", ref(manifest), target, Status.RESOLVED)


# --- Connection facts ------------------------------------------------------------------------


HELM_PARAMETERS = "/spec/sources/1/helm/parameters"


def bootstrap_parameters(environment: Environment) -> set[tuple[str, str]]:
    """(Application, Helm parameter) pairs the cluster's bootstrap patches in from the facts."""
    path = gitops.BOOTSTRAP_DIR / f"{environments.cluster_owner(environment).cluster.name}.yaml"
    pairs = set()
    for document in render.load_manifests(path.read_text()) if path.is_file() else []:
        source = ((document.get("spec") or {}).get("template") or {}).get("spec", {}).get("source") or {}
        if source.get("path") != gitops.overlay_path(environment):
            continue
        for patch in (source.get("kustomize") or {}).get("patches") or []:
            for operation in yaml.safe_load(patch.get("patch") or "[]") or []:
                if not str(operation.get("path", "")).startswith(HELM_PARAMETERS):
                    continue
                value = operation.get("value")
                for parameter in value if isinstance(value, list) else [value]:
                    pairs.add((patch["target"]["name"], parameter.get("name")))
    return pairs


LOOPBACK_ONLY = "nothing publishes it: the local servers listen on loopback, out of kind pods' reach"


def connection_facts(installed: Installed) -> Iterator[Reference]:
    """Every chart value that takes a connection fact: the chart uses the value (its placeholder
    reaches the rendered objects), the environment's stack publishes the fact, and it reaches
    the release (helm_release `set` from the stack, or the bootstrap's patch under GitOps)."""
    environment = installed.environment
    published = connections.published(environment.cloud)
    patched = bootstrap_parameters(environment) if environment.delivery is Delivery.GITOPS else set()
    module = connections.load().publishers.get(environment.cloud)
    for release in installed.releases:
        text = installed.rendered_text.get(release.name)
        application = gitops.application_name(environment, release.name)
        filled = connections.values(environment, release.name)
        for item in connections.consumers(environment, release.name):
            service = connections.load().facts[item.fact].service is not None
            if text is None:
                status, detail = Status.UNVERIFIED, "chart not cached"
            elif filled[item.value] not in text:
                status, detail = Status.DANGLING, "the chart does not use this value"
            elif service:  # an address of the environment: the hosts rule checks its Service
                status, detail = Status.RESOLVED, ""
            elif published is None:
                status, detail = Status.UNVERIFIED, LOOPBACK_ONLY
            elif item.fact not in published:
                status, detail = Status.DANGLING, f"{module} does not publish it"
            elif environment.delivery is Delivery.GITOPS and (application, item.value) not in patched:
                status, detail = Status.DANGLING, "the cluster's bootstrap does not patch it in"
            else:
                status, detail = Status.RESOLVED, ""
            source = f"release/{environment.name}/{release.name}#{item.value}"
            yield Reference("connections", source, f"fact/{item.fact}", status, detail)


# --- Entry ports ----------------------------------------------------------------------------
# LiveKit and SIP listen for the internet on the nodes' network: the ports their own config
# names (LiveKit's RTC range, TCP port and TURN; SIP's signalling port and RTP range) must be
# open in the cloud's firewall, security group or NSG.


@dataclass(frozen=True)
class PortRange:
    protocol: str  # TCP or UDP
    first: int
    last: int

    def __str__(self) -> str:
        ports = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        return f"{self.protocol} {ports}"

    def within(self, other: PortRange) -> bool:
        return (
            other.protocol in (self.protocol, "*") and other.first <= self.first and self.last <= other.last
        )


def _port_range(protocol: str, ports: object) -> PortRange:
    text = str(ports)
    if text == "*":
        return PortRange(protocol.upper(), 1, 65535)
    first, _, last = text.partition("-")
    return PortRange(protocol.upper(), int(first), int(last or first))


INTERNET_SOURCES = frozenset({"Internet", "0.0.0.0/0", "*"})


def public_openings(cloud: Cloud, sources: frozenset[str] = INTERNET_SOURCES) -> list[PortRange] | None:
    """What the cloud's Terraform admits to the nodes from the internet (or, on Azure, from the
    given sources); None where nothing does (a laptop's kind cluster)."""
    if cloud is Cloud.AWS:
        rules = infra_policy.module_value("modules/aws/platform", "local.public_media_ports", "")
        return [
            _port_range(rule["protocol"], f"{rule['from']}-{rule['to']}") for rule in dict(rules).values()
        ]
    if cloud is Cloud.AZURE:
        rules = infra_policy.module_value("modules/azure/network", "local.rules", "aks")
        return [_port_range(rule["protocol"], rule["ports"]) for rule in rules if rule["source"] in sources]
    if cloud is Cloud.LINODE:
        rules = infra_policy.module_value("modules/linode/firewall", "var.public_rules", "default")
        return [_port_range(rule["protocol"], rule["ports"]) for rule in dict(rules).values()]
    return None


# Azure: the cluster's load balancers keep the client's address and the frontend's (floating IP),
# so the aks subnet's own NSG must admit every port a LoadBalancer Service exposes, from the
# internet, or for an internal one from the Application Gateway's subnet. (EKS Auto Mode opens
# its load balancers' security groups itself; a NodeBalancer reaches the nodes on NodePorts the
# LKE firewall admits from the NodeBalancers' range.)
NSG_GUARDED_LOAD_BALANCERS = frozenset({Cloud.AZURE})
AZURE_INTERNAL = "service.beta.kubernetes.io/azure-load-balancer-internal"
GATEWAY_SOURCES = frozenset({"local.subnets.gateway"})


def load_balancer_ports(installed: Installed) -> Iterator[Reference]:
    cloud = installed.environment.cloud
    if cloud not in NSG_GUARDED_LOAD_BALANCERS:
        return
    public, internal = public_openings(cloud), public_openings(cloud, GATEWAY_SOURCES)
    for service in installed.manifests:
        spec = service.get("spec") or {}
        if service.get("kind") != "Service" or spec.get("type") != "LoadBalancer":
            continue
        is_internal = ((service.get("metadata") or {}).get("annotations") or {}).get(AZURE_INTERNAL) == "true"
        openings = (internal if is_internal else public) or []
        for port in spec.get("ports") or []:
            ports = _port_range(str(port.get("protocol") or "TCP"), port["port"])
            if any(ports.within(opening) for opening in openings):
                yield Reference("entry-ports", ref(service), str(ports), Status.RESOLVED)
            else:
                origin = "the Application Gateway's subnet" if is_internal else "the internet"
                detail = f"no NSG rule of the aks subnet admits it from {origin}"
                yield Reference("entry-ports", ref(service), str(ports), Status.DANGLING, detail)


MEDIA_CONFIG = ("LIVEKIT_CONFIG", "SIP_CONFIG_BODY")  # where LiveKit and livekit-sip read their config


def _media_config(installed: Installed, manifest: Manifest, item: dict) -> dict:
    text = item.get("value")
    reference = (item.get("valueFrom") or {}).get("configMapKeyRef")
    if text is None and reference:
        config_map = next(
            (cm for cm in installed.objects("ConfigMap")
             if namespace_of(cm) == namespace_of(manifest) and cm["metadata"]["name"] == reference["name"]),
            {},
        )  # fmt: skip
        text = (config_map.get("data") or {}).get(reference["key"])
    return yaml.safe_load(text or "") or {}


def listened_ports(config: dict) -> Iterator[tuple[str, PortRange]]:
    """(setting, ports) the server's config opens to the internet."""
    rtc, turn = config.get("rtc") or {}, config.get("turn") or {}
    if rtc.get("port_range_start"):
        yield "rtc.port_range", PortRange("UDP", int(rtc["port_range_start"]), int(rtc["port_range_end"]))
    if rtc.get("tcp_port"):
        yield "rtc.tcp_port", _port_range("TCP", rtc["tcp_port"])
    if rtc.get("udp_port"):
        yield "rtc.udp_port", _port_range("UDP", rtc["udp_port"])
    if turn.get("enabled") and turn.get("udp_port"):
        yield "turn.udp_port", _port_range("UDP", turn["udp_port"])
    if config.get("sip_port"):
        yield "sip_port", _port_range("UDP", config["sip_port"])
        yield "sip_port", _port_range("TCP", config["sip_port"])
    if config.get("rtp_port"):
        yield "rtp_port", _port_range("UDP", config["rtp_port"])


# Where nodes have no public address unless their pool asks for one (registry `public`); every
# LKE node has one.
PRIVATE_BY_DEFAULT = frozenset({Cloud.AWS, Cloud.AZURE})


def _listens_publicly(installed: Installed, manifest: Manifest, spec: dict) -> bool:
    return any(
        any(True for _ in listened_ports(_media_config(installed, manifest, item)))
        for container in containers(spec)
        for item in container.get("env") or []
        if item.get("name") in MEDIA_CONFIG
    )


NODE_PORT_RANGE = (30000, 32767)  # Kubernetes' default --service-node-port-range


def node_ports(installed: Installed) -> Iterator[Reference]:
    """A NodePort Service listens on every node: a port the firewall does not open is a Service
    nobody outside reaches (make it ClusterIP), one it opens is a deliberate entry."""
    openings = public_openings(installed.environment.cloud)
    if openings is None:
        return
    for service in installed.manifests:
        spec = service.get("spec") or {}
        if service.get("kind") != "Service" or spec.get("type") != "NodePort":
            continue
        for port in spec.get("ports") or []:
            first, last = (port["nodePort"],) * 2 if port.get("nodePort") else NODE_PORT_RANGE
            ports = PortRange(str(port.get("protocol") or "TCP").upper(), int(first), int(last))
            if any(ports.within(opening) for opening in openings):
                yield Reference("entry-ports", ref(service), str(ports), Status.RESOLVED)
            else:
                detail = (
                    f"a NodePort no {installed.environment.cloud.value} firewall rule admits from outside"
                )
                yield Reference("entry-ports", ref(service), str(ports), Status.DANGLING, detail)


def entry_ports(installed: Installed) -> Iterator[Reference]:
    yield from load_balancer_ports(installed)
    yield from node_ports(installed)
    openings = public_openings(installed.environment.cloud)
    if openings is None:
        return
    cloud = installed.environment.cloud
    nodes = [(pool, pool_labels(cloud, pool)) for pool in cluster_pools(installed)]
    for manifest, spec in installed.pods():
        if not spec.get("hostNetwork"):
            continue
        if cloud in PRIVATE_BY_DEFAULT and _listens_publicly(installed, manifest, spec):
            private = [pool.name for pool in fitting_pools(spec, nodes) if not pool.public]
            detail = (
                f"it may run on {', '.join(private)}, whose nodes have no public address" if private else ""
            )
            status = Status.DANGLING if private else Status.RESOLVED
            yield Reference("entry-ports", ref(manifest), "nodes with public addresses", status, detail)
        for container in containers(spec):
            for item in container.get("env") or []:
                if item.get("name") not in MEDIA_CONFIG:
                    continue
                for setting, ports in listened_ports(_media_config(installed, manifest, item)):
                    source = f"{ref(manifest)}#{setting}"
                    if any(ports.within(opening) for opening in openings):
                        yield Reference("entry-ports", source, str(ports), Status.RESOLVED)
                    else:
                        yield Reference(
                            "entry-ports", source, str(ports), Status.DANGLING,
                            f"no {installed.environment.cloud.value} firewall rule admits it from outside",
                        )  # fmt: skip


# --- Entry paths ----------------------------------------------------------------------------
# From DNS to pod. Every public route of the registry gets a DNS record from its stack; the record
# leads to the cloud's entry load balancer, which the stack attaches to the cluster by reference
# (a tag, an address it publishes as a fact), never by a value passed in by hand; that load
# balancer forwards to a rendered Ingress (through the API gateway's own Ingress where the route
# asks for it) or to a LoadBalancer Service, whose ports go to the Service's pods.


@dataclass(frozen=True)
class Attachment:
    """One argument of a stack that must take its value from the named source."""

    module: str
    address: str
    attribute: str
    source: str  # text the argument's expression must name
    what: str


@dataclass(frozen=True)
class Adoption:
    """A load balancer the stack creates and a rendered LoadBalancer Service adopts: the Service
    carries the fact in an annotation and serves the ports the stack forwards to it."""

    fact: str
    ports: tuple[str, str, str] | None  # (module, address, attribute) of the forwarded ports


@dataclass(frozen=True)
class EntryFront:
    attachments: tuple[Attachment, ...]
    adoptions: tuple[Adoption, ...] = ()
    # AWS: the tag the stack finds the controller-built load balancer by (module, local)
    load_balancer_tag: tuple[str, str] | None = None


AWS_PLATFORM, AZURE_STACK, LINODE_STACK = (
    "modules/aws/platform",
    "stacks/azure/production",
    "stacks/linode/platform",
)
ENTRY_FRONTS: dict[Cloud, EntryFront] = {
    Cloud.AWS: EntryFront(
        attachments=(
            Attachment(AWS_PLATFORM, "module.edge", "hosts", "entry_hosts", "DNS and CloudFront hosts"),
            Attachment(AWS_PLATFORM, "module.edge", "origin_domain_name", "local.entry_alb_dns_name",
                       "CloudFront's origin"),
            Attachment(AWS_PLATFORM, "local.entry_alb_dns_name", "", "data.aws_lb.ingress", "the ALB's name"),
            Attachment(AWS_PLATFORM, "aws_wafv2_web_acl_association.ingress_alb", "resource_arn",
                       "data.aws_lb.ingress", "the regional WAF"),
            Attachment(AWS_PLATFORM, "module.ingress_certificate", "hosts", "local.entry_hosts",
                       "the listeners' certificate"),
        ),
        load_balancer_tag=(AWS_PLATFORM, "local.entry_tag_key"),
    ),
    Cloud.AZURE: EntryFront(
        attachments=(
            Attachment(AZURE_STACK, "local.gateway_records", "", "entry_hosts", "the gateway's DNS records"),
            Attachment(AZURE_STACK, "module.app_gateway", "backend_address", "local.ingress_address",
                       "the Application Gateway's backend"),
            Attachment(AZURE_STACK, "local.connection_facts", "ingress-address", "local.ingress_address",
                       "the ingress controller's address"),
            Attachment(AZURE_STACK, "local.monitor_host", "", "entry_hosts", "the health checks' host"),
            Attachment(AZURE_STACK, "module.traffic_manager", "primary_target_id", "module.app_gateway",
                       "Traffic Manager's primary endpoint"),
            Attachment(AZURE_STACK, "azurerm_dns_a_record.this", "for_each",
                       "module.livekit_balancer.public_ip_address", "the DNS record of LiveKit's balancer"),
        ),
        adoptions=(
            Adoption("ingress-address", ("modules/azure/app-gateway", "var.backend_port", "default")),
            Adoption("livekit-public-ip", None),
        ),
    ),
    Cloud.LINODE: EntryFront(
        attachments=(
            Attachment(LINODE_STACK, "module.dns", "hosts", "entry_hosts", "DNS records"),
            Attachment(LINODE_STACK, "module.dns", "ingress_address", "module.ingress", "their target"),
            Attachment(LINODE_STACK, "local.connection_facts", "ingress-nodebalancer-id", "module.ingress",
                       "the NodeBalancer the ingress controller adopts"),
        ),
        adoptions=(
            Adoption("ingress-nodebalancer-id", ("modules/linode/ingress", "linode_firewall.this",
                                                 "inbound.ports")),
        ),
    ),
}  # fmt: skip


def _attachments(front: EntryFront) -> Iterator[Reference]:
    for item in front.attachments:
        expression = infra_policy.module_value(item.module, item.address, item.attribute)
        source = f"{item.module} {item.address}" + (f".{item.attribute}" if item.attribute else "")
        if expression is infra_policy.MISSING:
            yield Reference("entry-paths", source, item.source, Status.DANGLING, f"{item.what}: not there")
        elif item.source not in str(expression):
            yield Reference(
                "entry-paths", source, item.source, Status.DANGLING,
                f"{item.what}: {expression} is not taken from it (a value passed by hand goes stale)",
            )  # fmt: skip
        else:
            yield Reference("entry-paths", source, item.source, Status.RESOLVED)


def _service_serves(installed: Installed, namespace: str | None, name: str, port: object) -> str:
    """Why Service namespace/name does not serve the port; empty when it does."""
    service = next(
        (item for item in installed.objects("Service")
         if namespace_of(item) == namespace and item["metadata"]["name"] == name),
        None,
    )  # fmt: skip
    if service is None:
        return "no such Service"
    names = {str(item.get("name")) for item in (service.get("spec") or {}).get("ports") or []}
    if str(port) not in service_ports(service) | names:
        return f"the Service serves {', '.join(sorted(service_ports(service))) or 'no port'}"
    return ""


def _ingresses_for(installed: Installed, host: str) -> Iterator[tuple[Manifest, str, str, object]]:
    """(Ingress, its class, backend Service, port) of every path an Ingress routes for the host."""
    for ingress in installed.objects("Ingress"):
        spec = ingress.get("spec") or {}
        for rule in spec.get("rules") or []:
            if rule.get("host") != host:
                continue
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = (path.get("backend") or {}).get("service") or {}
                port = (backend.get("port") or {}).get("number") or (backend.get("port") or {}).get("name")
                yield ingress, str(spec.get("ingressClassName")), str(backend.get("name")), port


def _implements(installed: Installed, proxy: tuple[str | None, str], class_name: str) -> bool:
    """Whether the proxy Service's pods are the controller of an IngressClass (the same release's)."""
    namespace, name = proxy
    service = next(
        (item for item in installed.objects("Service")
         if namespace_of(item) == namespace and item["metadata"]["name"] == name),
        {},
    )  # fmt: skip
    release = ((service.get("spec") or {}).get("selector") or {}).get("app.kubernetes.io/instance")
    return any(
        item["metadata"]["name"] == class_name
        and ((item["metadata"].get("labels") or {}).get("app.kubernetes.io/instance")) == release
        for item in installed.objects("IngressClass")
    )


def _controllers(installed: Installed, class_name: str, outside: str) -> list[Endpoint]:
    """The pods implementing an IngressClass (its release's long-running pods); a load balancer
    outside the cluster, in the given network, where the cloud implements the class itself."""
    ingress_class = next(
        (item for item in installed.objects("IngressClass") if item["metadata"]["name"] == class_name), {}
    )
    labels = (ingress_class.get("metadata") or {}).get("labels") or {}
    wanted = {
        key: labels[key] for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance") if key in labels
    }
    pods = [
        _endpoint(item)
        for item in installed.cluster
        if item.get("kind") in {"Deployment", "DaemonSet", "StatefulSet"}
        and wanted
        and wanted.items() <= (pod_metadata(item).get("labels") or {}).items()
    ]
    return pods or [Endpoint(None, {OUTSIDE_NETWORK: outside}, {})]


def _hop_problem(installed: Installed, ingress: Manifest, class_name: str, backend: tuple[str, object],
                 outside: str) -> tuple[Status, str]:  # fmt: skip
    """Why the class's controller cannot reach the backend's pods (unverified where an uncached
    chart may render what is missing); resolved when it can."""
    namespace, (name, port) = namespace_of(ingress), backend
    target = f"{ref(ingress)} -> Service/{namespace}/{name}:{port}"
    if not any(item["metadata"]["name"] == class_name for item in installed.objects("IngressClass")):
        return installed.missing(None), f"{target}: IngressClass {class_name} is not rendered"
    problem = _service_serves(installed, namespace, name, port)
    if problem == "no such Service":
        return installed.missing(namespace), f"{target}: {problem}"
    if problem:
        return Status.DANGLING, f"{target}: {problem}"
    service = next(
        item for item in installed.objects("Service")
        if namespace_of(item) == namespace and item["metadata"]["name"] == name
    )  # fmt: skip
    selector = (service.get("spec") or {}).get("selector") or {}
    pods = [
        _endpoint(item) for item in installed.cluster
        if item.get("kind") in POD_KINDS and namespace_of(item) == namespace and selector
        and _selector_matches(selector, pod_metadata(item).get("labels") or {})
    ]  # fmt: skip
    if not pods:
        return installed.missing(namespace), f"{target}: no pod behind the Service"
    number = next(
        (int(item.get("port")) for item in (service.get("spec") or {}).get("ports") or []
         if str(port) in (str(item.get("port")), str(item.get("name")))),
        0,
    )  # fmt: skip
    container_port = _target_port(service, number, pods[0])
    if container_port is None:
        return Status.DANGLING, f"{target}: the Service's target port is not a port of its pods"
    for source in _controllers(installed, class_name, outside):
        where = source.namespace or "outside the cluster"
        if source.namespace is not None and not _allowed(
            installed, source, pods[0], container_port, "Egress"
        ):
            denied = f"the NetworkPolicies of {where} deny egress to port {container_port}"
            return Status.DANGLING, f"{target}: {denied}"
        if not _allowed(installed, pods[0], source, container_port, "Ingress"):
            return (
                Status.DANGLING,
                f"{target}: the NetworkPolicies of {namespace} deny port {container_port} from {where}",
            )
    return Status.RESOLVED, ""


def _route_problem(
    installed: Installed, host: str, public_class: str, wanted: tuple[str, str, int]
) -> tuple[Status, str]:
    """Follow a host from the public load balancer's Ingress to the route's Service port, through
    a gateway's own Ingress where the public one points at the gateway, each hop admitted by the
    NetworkPolicies; where it stops and why, or resolved."""
    paths = list(_ingresses_for(installed, host))
    public = [item for item in paths if item[1] == public_class]
    if not public:
        return Status.DANGLING, f"no Ingress of class {public_class} routes {host}"
    network = installed.environment.network
    outside = network.cidr if network else "0.0.0.0/0"
    for ingress, class_name, service, port in paths:
        status, problem = _hop_problem(installed, ingress, class_name, (service, port), outside)
        if status is not Status.RESOLVED:
            return status, problem
    namespace, name, number = wanted
    reached = [(namespace_of(item), service, str(port)) for item, _class, service, port in paths]
    if (namespace, name, str(number)) not in reached:
        return Status.DANGLING, f"no Ingress routes {host} to Service/{namespace}/{name}:{number}"
    hops = {(namespace_of(item), service) for item, _class, service, _port in public}
    inner = {class_name for _item, class_name, _service, _port in paths if class_name != public_class}
    # the public Ingress reaches the Service itself, or a gateway whose own Ingress does
    for hop in hops - {(namespace, name)}:
        if not any(_implements(installed, hop, class_name) for class_name in inner):
            return (
                Status.DANGLING,
                f"the public Ingress points at Service/{hop[0]}/{hop[1]}, and no gateway there routes {host}",
            )
    return Status.RESOLVED, ""


def _adopting_service(installed: Installed, fact: str) -> Manifest | None:
    filled = connections.placeholder(fact)
    for service in installed.objects("Service"):
        if filled in ((service.get("metadata") or {}).get("annotations") or {}).values():
            return service
    return None


def _forwarded_ports(location: tuple[str, str, str]) -> set[str]:
    module, address, attribute = location
    value = infra_policy.module_value(module, address, attribute)
    return {part.strip() for part in str(value).split(",") if part.strip()}


def _adoptions(installed: Installed, front: EntryFront) -> Iterator[Reference]:
    for adoption in front.adoptions:
        source = f"fact/{adoption.fact}"
        service = _adopting_service(installed, adoption.fact)
        if service is None:
            uncached = [
                release.name for release in installed.releases
                if installed.rendered_text.get(release.name) is None
                and release.namespace in installed.unverified_namespaces
                and any(item.fact == adoption.fact
                        for item in connections.consumers(installed.environment, release.name))
            ]  # fmt: skip
            status = Status.UNVERIFIED if uncached else Status.DANGLING
            detail = (
                f"{', '.join(uncached)} takes it: chart not cached" if uncached
                else "no rendered Service takes the load balancer the stack creates"
            )  # fmt: skip
            yield Reference("entry-paths", source, "a LoadBalancer Service", status, detail)
            continue
        spec = service.get("spec") or {}
        problems = []
        if spec.get("type") != "LoadBalancer":
            problems.append(f"type {spec.get('type', 'ClusterIP')}, not LoadBalancer")
        if adoption.ports is not None:
            missing = _forwarded_ports(adoption.ports) - service_ports(service)
            if missing:
                problems.append(
                    f"the stack forwards port {', '.join(sorted(missing))}, which it does not serve"
                )
        if not _selects_pods(installed, service):
            problems.append("its selector matches no pods")
        status = Status.DANGLING if problems else Status.RESOLVED
        yield Reference("entry-paths", source, ref(service), status, "; ".join(problems))


def _selects_pods(installed: Installed, service: Manifest) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and any(
        namespace_of(manifest) == namespace_of(service)
        and _selector_matches(selector, pod_metadata(manifest).get("labels") or {})
        for manifest in installed.cluster
        if manifest.get("kind") in POD_KINDS
    )


def _load_balancer_tag(installed: Installed, front: EntryFront, class_name: str) -> Iterator[Reference]:
    if front.load_balancer_tag is None:
        return
    module, address = front.load_balancer_tag
    key = str(infra_policy.module_value(module, address, ""))
    wanted = {"key": key, "value": installed.environment.cluster.name}
    owner = (
        installed.environment.cluster.shared_with[0] if installed.environment.cluster.shared_with else None
    )
    target = f"IngressClassParams/{class_name} tag {key}={wanted['value']}"
    params = [
        item for item in installed.objects("IngressClassParams") if item["metadata"]["name"] == class_name
    ]
    tagged = any(wanted in ((item.get("spec") or {}).get("tags") or []) for item in params)
    detail = (
        "" if tagged else f"the stack finds the ALB by this tag; {owner or 'the environment'} renders none"
    )
    yield Reference("entry-paths", f"{module} data.aws_lbs.ingress", target,
                    Status.RESOLVED if tagged else Status.DANGLING, detail)  # fmt: skip


def entry_paths(installed: Installed) -> Iterator[Reference]:
    environment = installed.environment
    front = ENTRY_FRONTS.get(environment.cloud)
    if front is None or environment.ingress is None or environment.terraform is None:
        return
    yield from _attachments(front)
    base = next((item for item in installed.manifests if item.get("kind") == "Ingress"), None)
    class_name = (base or {}).get("spec", {}).get("ingressClassName", "")
    yield from _load_balancer_tag(installed, front, class_name)
    yield from _adoptions(installed, front)
    if not any(item["metadata"]["name"] == class_name for item in installed.objects("IngressClass")):
        yield Reference(
            "entry-paths", f"environment/{environment.name}", f"IngressClass/{class_name or '?'}",
            installed.missing(None), "the public routes' IngressClass is not rendered",
        )  # fmt: skip
    for route in environment.ingress.routes:
        host = f"{route.host}.{environment.terraform.dns_zone}"
        namespace = environment.namespaces[route.role]
        status, problem = _route_problem(installed, host, class_name, (namespace, route.service, route.port))
        target = f"Service/{namespace}/{route.service}:{route.port}"
        yield Reference("entry-paths", f"dns/{host}", target, status, problem)


# --- Reloads ---------------------------------------------------------------------------------
# On a cloud's cluster an operator writes each bundle Secret (External Secrets from Secrets Manager
# or Key Vault, the Sealed Secrets controller from its sealed manifest) and rewrites it in place
# when the value is rotated. Helm renders none of them, so no checksum annotation rolls their
# readers: Reloader does, for the workloads whose annotation names the Secret.

RELOADER = "reloader"  # its release in charts/releases.yaml
# The clouds' stores; local's emulated one is not among them: no Reloader runs on a laptop
OPERATOR_STORES = frozenset({
    secret_bundles.Store.SECRETS_MANAGER, secret_bundles.Store.KEY_VAULT, secret_bundles.Store.SEALED_SECRET,
})  # fmt: skip
RELOAD_ANNOTATION = "secret.reloader.stakater.com/reload"
AUTO_ANNOTATIONS = ("reloader.stakater.com/auto", "secret.reloader.stakater.com/auto")
# What Reloader rolls; a Job's or CronJob's pods read the current Secret at each run
ROLLED_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
# namespaceSelector requirements read here: key=value, key==value, key (the label exists)
SELECTOR_REQUIREMENT = re.compile(r"^(?P<key>[A-Za-z0-9./_-]+)(?:==?(?P<value>[A-Za-z0-9._-]*))?$")


def _reloaded_secrets(manifest: Manifest) -> set[str] | None:
    """The Secrets a workload's Reloader annotations name: its own, or its pod template's where
    it carries none (as Reloader reads them); None when it reloads on every Secret it reads."""
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    if not any(key in annotations for key in (RELOAD_ANNOTATION, *AUTO_ANNOTATIONS)):
        annotations = pod_metadata(manifest).get("annotations") or {}
    if any(str(annotations.get(key)).lower() == "true" for key in AUTO_ANNOTATIONS):
        return None
    return {name.strip() for name in str(annotations.get(RELOAD_ANNOTATION, "")).split(",") if name.strip()}


def _reloader_release(installed: Installed) -> catalog.Release | None:
    """Reloader on the environment's cluster: its own release, or its cluster owner's."""
    owners = [environments.load(name) for name in installed.environment.cluster.shared_with]
    candidates = [*installed.releases, *(item for owner in owners for item in catalog.releases_for(owner))]
    return next((release for release in candidates if release.name == RELOADER), None)


def _listed(value: object) -> list[str]:
    """A chart value given as a list or as a comma-separated string."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _unwatched(installed: Installed, reloader: catalog.Release, namespace: str) -> str:
    """Why Reloader's values leave the namespace's Secrets unwatched; empty when they are watched."""
    values = catalog.merged_values(reloader).get("reloader") or {}
    if values.get("ignoreSecrets"):
        return "Reloader's values ignore Secrets"
    if not values.get("watchGlobally", True):
        watched = {reloader.namespace, *_listed(values.get("namespaces"))}
        return "" if namespace in watched else f"Reloader watches only {', '.join(sorted(watched))}"
    labels = _namespace_labels(installed, namespace)
    for requirement in _listed(values.get("namespaceSelector")):
        match = SELECTOR_REQUIREMENT.match(requirement)
        if match is None:
            return f"Reloader's namespaceSelector requirement {requirement!r} is not one this rule reads"
        present = match["key"] in labels
        if not present or (match["value"] is not None and labels[match["key"]] != match["value"]):
            return f"Namespace/{namespace} lacks {requirement}, which Reloader's namespaceSelector requires"
    return ""


def _operator_watches(installed: Installed, namespace: str, workload: str, secret: str) -> bool:
    """An Alertmanager the Prometheus Operator runs as StatefulSet alertmanager-<name>: its
    config-reloader watches every Secret spec.secrets mounts, so nothing needs rolling."""
    return any(
        namespace_of(item) == namespace
        and f"alertmanager-{(item.get('metadata') or {}).get('name')}" == workload
        and secret in ((item.get("spec") or {}).get("secrets") or [])
        for item in installed.manifests
        if item.get("kind") == "Alertmanager"
    )


def _reload(
    installed: Installed, reloader: catalog.Release | None, item: secret_bundles.Materialized,
    release: str, workload: str,
) -> Reference:  # fmt: skip
    target = f"Secret/{item.name}"
    manifest = next(
        (found for found in installed.manifests
         if found.get("kind") in POD_KINDS and namespace_of(found) == item.namespace
         and (found.get("metadata") or {}).get("name") == workload),
        None,
    )  # fmt: skip
    if manifest is None:
        source = f"workload/{item.namespace}/{workload}"
        if installed.rendered_text.get(release) is None and item.namespace in installed.unverified_namespaces:
            return Reference("reloads", source, target, Status.UNVERIFIED, f"{release}: chart not cached")
        if _operator_watches(installed, item.namespace, workload, item.name):
            return Reference("reloads", source, target, Status.RESOLVED, "the operator's config-reloader")
        detail = f"{release} renders no {workload}, which secrets/bundles/{item.declared.bundle}.yaml names"
        return Reference("reloads", source, target, Status.DANGLING, detail)
    source = ref(manifest)
    if manifest["kind"] not in ROLLED_KINDS:
        return Reference("reloads", source, target, Status.RESOLVED, "each run reads the current Secret")
    named = _reloaded_secrets(manifest)
    if named is not None and item.name not in named:
        detail = f"rotated in place by its operator, and no {RELOAD_ANNOTATION} annotation names it"
        return Reference("reloads", source, target, Status.DANGLING, detail)
    if reloader is None:
        detail = f"no {RELOADER} release on the cluster (charts/releases.yaml) rolls it"
        return Reference("reloads", source, target, Status.DANGLING, detail)
    problem = _unwatched(installed, reloader, item.namespace)
    status = Status.DANGLING if problem else Status.RESOLVED
    return Reference("reloads", source, target, status, problem or f"{RELOADER} in {reloader.namespace}")


def reloads(installed: Installed) -> Iterator[Reference]:
    """Every workload a bundle names as the reader of a Secret its operator rewrites is rolled by
    Reloader when the Secret changes: its annotation names the Secret, and a Reloader of the
    cluster watches its namespace."""
    reloader = _reloader_release(installed)
    for item in secret_bundles.for_environment(installed.environment):
        if item.declared.store not in OPERATOR_STORES:
            continue
        for consumer in item.declared.secret.consumers:
            if consumer.release in item.releases:
                for workload in consumer.workloads:
                    yield _reload(installed, reloader, item, consumer.release, workload)


# --- Images ----------------------------------------------------------------------------------
# An image has a source when it is an upstream image pinned by a tag other than `latest` (or by
# digest), or an image under the registry our own charts pull from (their `imageRegistry`) whose
# repository the services' CI builds and pushes. This repository holds no application source: the
# services' own repositories build the images, into the image repositories the stack creates for
# them; seed requirement images-built-and-pushed says where that list is declared.

BUILT_IMAGES_REQUIREMENT = "images-built-and-pushed"
DIGEST_PREFIX = "sha256:"


def built_images() -> frozenset[str]:
    """The image repositories the services' CI builds, read where the requirement points."""
    requirement = {item.id: item for item in infra_policy.load_requirements()}.get(BUILT_IMAGES_REQUIREMENT)
    where = requirement.where if requirement else None
    if where is None or where.module is None or where.address is None:
        return frozenset()  # nothing declared: every image of ours dangles
    value = infra_policy.module_value(where.module, where.address, where.attribute or "")
    return frozenset(str(item) for item in value) if isinstance(value, list) else frozenset()


def own_registries(installed: Installed) -> frozenset[str]:
    """The imageRegistry of each of our charts the environment installs: the chart's default,
    or the last values layer of the environment that sets it."""
    registries = set()
    for release in installed.releases:
        if release.chart.path is None:
            continue
        registry = ""
        for path in (render.ROOT / release.chart.path / "values.yaml", *release.values_files):
            registry = (yaml.safe_load(path.read_text()) or {}).get("imageRegistry", registry)
        if registry:
            registries.add(registry.rstrip("/"))
    return frozenset(registries)


def split_image(image: str) -> tuple[str, str, str]:
    """(name, tag, digest) of registry/path[:tag][@digest]; a port in the registry is no tag."""
    name, _, digest = image.partition("@")
    path, _, last = name.rpartition("/")
    repository, _, tag = last.partition(":")
    return f"{path}/{repository}" if path else repository, tag, digest


def _source(image: str, registries: frozenset[str], built: frozenset[str]) -> tuple[Status, str]:
    if not image:
        return Status.DANGLING, "the container names no image"
    name, tag, digest = split_image(image)
    if not digest.startswith(DIGEST_PREFIX) and tag in ("", "latest"):
        pin = f"tag {tag}" if tag else "no tag"
        return Status.DANGLING, f"{pin}: each node pulls whatever the registry holds when the pod starts"
    registry = next((item for item in registries if name.startswith(f"{item}/")), None)
    if registry is None:
        return Status.RESOLVED, "upstream, pinned by digest" if digest else f"upstream, pinned by tag {tag}"
    repository = name.removeprefix(f"{registry}/")
    if repository in built:
        return Status.RESOLVED, "built by the services' CI"
    return Status.DANGLING, (
        f"nothing builds {repository}: not among the image repositories {BUILT_IMAGES_REQUIREMENT} names"
    )


def images(installed: Installed) -> Iterator[Reference]:
    registries, built = own_registries(installed), built_images()
    for manifest, spec in installed.pods():
        for image in dict.fromkeys(str(container.get("image") or "") for container in containers(spec)):
            status, detail = _source(image, registries, built)
            yield Reference("images", ref(manifest), image, status, detail)


# --- Backups ---------------------------------------------------------------------------------


def backup_locations(installed: Installed) -> Iterator[Reference]:
    """Velero backs the cluster up to a location its stack provides (voiceops/backups.py), and,
    where its chart is cached, the render holds that location."""
    source = f"release/{installed.environment.name}/{backups.RELEASE}"
    for finding in backups.check(installed.environment):
        status = Status.RESOLVED if finding.ok else Status.DANGLING
        yield Reference("backups", source, finding.target, status, finding.problem)
    text = installed.rendered_text.get(backups.RELEASE)
    if text is not None:
        rendered = [item for item in installed.manifests if item.get("kind") == "BackupStorageLocation"]
        yield Reference(
            "backups", source, "BackupStorageLocation (rendered)",
            Status.RESOLVED if rendered else Status.DANGLING, "" if rendered else "the chart renders none",
        )  # fmt: skip


RULES: dict[str, Callable[[Installed], Iterable[Reference]]] = {
    "secrets": secrets,
    "config-maps": config_maps,
    "hosts": hosts,
    "connectivity": connectivity,
    "service-accounts": service_accounts,
    "storage": storage,
    "scheduling": scheduling,
    "monitors": monitors,
    "namespaces": namespaces,
    "admission": admission_rule,
    "egress": egress,
    "identities": identities,
    "metrics": metrics,
    "connections": connection_facts,
    "images": images,
    "reloads": reloads,
    "entry-ports": entry_ports,
    "entry-paths": entry_paths,
    "backups": backup_locations,
}

# A rule that finds nothing to check where the environment installs objects of these kinds
# is itself a failure: it means the rule no longer sees what it should.
EXPECTED_KINDS: dict[str, frozenset[str]] = {
    "secrets": frozenset(),
    "config-maps": frozenset(),
    "hosts": frozenset(),
    "connectivity": frozenset(),
    "service-accounts": frozenset(POD_KINDS),
    "storage": frozenset({"PersistentVolumeClaim"}),
    "scheduling": frozenset({"Deployment", "StatefulSet"}),
    "monitors": frozenset({"ServiceMonitor", "PodMonitor", "PrometheusRule"}),
    "namespaces": frozenset(POD_KINDS),
    "admission": frozenset(POD_KINDS),
    "egress": frozenset({"NetworkPolicy"}),
    "metrics": frozenset({"PrometheusRule"}),
    "images": frozenset(POD_KINDS),
    "reloads": frozenset(),  # only where an operator writes the Secrets: none on local
    "entry-paths": frozenset({"Ingress"}),
    "backups": frozenset(),  # Velero's location is read from its values, rendered or not
}


@dataclass
class RuleReport:
    rule: str
    references: list[Reference]
    blind: bool = False  # checked nothing although the environment installs its kinds

    def count(self, status: Status) -> int:
        return sum(1 for item in self.references if item.status is status)


@dataclass
class WiringReport:
    environment: str
    rules: list[RuleReport]
    unverified_releases: list[str]
    stale_rows: list[str] = field(default_factory=list)  # open rows whose reference resolves

    @property
    def dangling(self) -> list[Reference]:
        return [item for rule in self.rules for item in rule.references if item.status is Status.DANGLING]

    @property
    def blind_rules(self) -> list[str]:
        return [rule.rule for rule in self.rules if rule.blind]

    @property
    def passed(self) -> bool:
        return not self.dangling and not self.blind_rules and not self.stale_rows


def check(
    installed: Installed, rules: dict[str, Callable[[Installed], Iterable[Reference]]] = RULES
) -> WiringReport:
    kinds = {item.get("kind") for item in installed.manifests}
    reports = []
    for name, rule in rules.items():
        references = list(rule(installed))
        blind = not references and bool(EXPECTED_KINDS.get(name, frozenset()) & kinds)
        reports.append(RuleReport(name, references, blind))
    return WiringReport(installed.environment.name, reports, [])


def summary(report: WiringReport) -> dict:
    return {
        "environment": report.environment,
        "passed": report.passed,
        "unverified_releases": report.unverified_releases,
        "stale_open_rows": report.stale_rows,
        "rules": {
            rule.rule: {
                "checked": len(rule.references),
                "blind": rule.blind,
                **{status.value: rule.count(status) for status in Status},
            }
            for rule in report.rules
        },
        "references": [
            {"rule": item.rule, "source": item.source, "target": item.target,
             "status": item.status.value, "detail": item.detail}
            for rule in report.rules
            for item in rule.references
            if item.status is not Status.RESOLVED
        ],
    }  # fmt: skip


def installed_from(
    environment: Environment, rendered: dict[str, render.EnvironmentRender]
) -> tuple[Installed, list[str]]:
    """What an environment installs, from renders of it and of the environments owning its cluster."""
    manifests = render.rendered_documents(rendered[environment.name].directory)
    cluster = list(manifests)
    unverified: set[str] = set()
    unverified_namespaces: set[str] = set()
    for name in (environment.name, *environment.cluster.shared_with):
        if name not in rendered:
            continue
        if name != environment.name:
            cluster += render.rendered_documents(rendered[name].directory)
        # each environment's uncached releases, in that environment's namespaces
        namespaces = {
            release.name: release.namespace for release in catalog.releases_for(environments.load(name))
        }
        missing = {item.name for item in rendered[name].files if item.status == "unverified"}
        unverified |= missing
        unverified_namespaces |= {namespaces[release] for release in missing if release in namespaces}
    releases = catalog.releases_for(environment)
    texts = {
        item.name: None if item.path is None else item.path.read_text()
        for item in rendered[environment.name].files
    }
    installed = Installed(environment, manifests, cluster, frozenset(unverified_namespaces), releases, texts)
    return installed, sorted(unverified)


def run(
    targets: list[Environment], out_dir: Path = BUILD_DIR, today: date | None = None
) -> list[WiringReport]:
    """Render the targets (and the owners of their clusters) and check their wiring."""
    known = load_open()
    needed = {environment.name: environment for environment in targets}
    for environment in targets:
        for owner in environment.cluster.shared_with:
            needed.setdefault(owner, environments.load(owner))
    rendered = {item.environment: item for item in render.render_all(needed.values(), out_dir=out_dir)}
    reports = []
    for environment in targets:
        installed, unverified = installed_from(environment, rendered)
        report = mark_open(check(installed), known, today or date.today())
        report.unverified_releases = unverified
        reports.append(report)
    return reports
