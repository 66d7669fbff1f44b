"""Policy rules over rendered manifests: the platform's Helm and GitOps rules as code.

`invoke render` and `invoke deploy` run them on exactly what will be applied;
tests/policy proves that each rule fails when its rule is broken.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import jsonschema
import kubernetes_validate

# kubernetes-validate re-reads its multi-megabyte definitions file for every object;
# the schema files never change during a run, so read each once.
_module_globals = kubernetes_validate.validate.__globals__
_module_globals["schema_contents"] = functools.cache(_module_globals["schema_contents"])

Manifest = dict
Rule = Callable[[list[Manifest]], Iterable[str]]

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
SECRET_KEY = re.compile(r"(password|secret|token|api[_-]?key|private[_-]?key)", re.IGNORECASE)
AGENT_DRAIN_SECONDS = 3600


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


def ref(manifest: Manifest) -> str:
    metadata = manifest.get("metadata", {})
    namespace = metadata.get("namespace")
    return f"{manifest['kind']}/{namespace + '/' if namespace else ''}{metadata.get('name')}"


def ours(manifest: Manifest) -> bool:
    return manifest.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/part-of") == "voiceops"


def pod_spec(manifest: Manifest) -> dict | None:
    spec = manifest.get("spec", {})
    if manifest["kind"] in WORKLOAD_KINDS:
        return spec.get("template", {}).get("spec")
    if manifest["kind"] == "CronJob":
        return spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
    return None


def our_pods(manifests: list[Manifest]) -> Iterable[tuple[Manifest, dict]]:
    for manifest in manifests:
        spec = pod_spec(manifest)
        if spec is not None and ours(manifest):
            yield manifest, spec


def restricted_security(manifests: list[Manifest]) -> Iterable[str]:
    for manifest, spec in our_pods(manifests):
        pod = spec.get("securityContext", {})
        if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            yield f"{ref(manifest)}: pod seccompProfile is not RuntimeDefault"
        if spec.get("automountServiceAccountToken") is not False:
            yield f"{ref(manifest)}: service account token is mounted"
        for container in spec.get("containers", []):
            context = container.get("securityContext", {})
            if context.get("runAsNonRoot") is not True:
                yield f"{ref(manifest)}: container {container['name']} may run as root"
            if context.get("readOnlyRootFilesystem") is not True:
                yield f"{ref(manifest)}: container {container['name']} has a writable root filesystem"
            if context.get("allowPrivilegeEscalation") is not False:
                yield f"{ref(manifest)}: container {container['name']} allows privilege escalation"
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                yield f"{ref(manifest)}: container {container['name']} keeps capabilities"


def probes_and_resources(manifests: list[Manifest]) -> Iterable[str]:
    for manifest, spec in our_pods(manifests):
        for container in spec.get("containers", []):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(bound, {})):
                    yield f"{ref(manifest)}: container {container['name']} lacks cpu/memory {bound}"
            if manifest["kind"] == "CronJob":
                continue
            name = container["name"]
            liveness, readiness = container.get("livenessProbe"), container.get("readinessProbe")
            if not liveness or not readiness:
                yield f"{ref(manifest)}: container {name} needs liveness and readiness probes"
            elif liveness == readiness:
                yield f"{ref(manifest)}: container {name} shares one probe for liveness and readiness"


def hpa_owns_replicas(manifests: list[Manifest]) -> Iterable[str]:
    targets = {
        (m["metadata"].get("namespace"), m["spec"]["scaleTargetRef"]["name"])
        for m in manifests
        if m["kind"] == "HorizontalPodAutoscaler"
    }
    for manifest in manifests:
        key = (manifest.get("metadata", {}).get("namespace"), manifest.get("metadata", {}).get("name"))
        if manifest["kind"] == "Deployment" and key in targets and "replicas" in manifest.get("spec", {}):
            yield f"{ref(manifest)}: renders replicas although an HPA owns them"
    for manifest in manifests:
        if manifest["kind"] == "HorizontalPodAutoscaler" and ours(manifest):
            behavior = manifest["spec"].get("behavior", {})
            up = behavior.get("scaleUp", {}).get("stabilizationWindowSeconds")
            down = behavior.get("scaleDown", {}).get("stabilizationWindowSeconds")
            if up is None or down is None or down <= up:
                yield f"{ref(manifest)}: behavior must scale down more slowly than up"


def disruption_budgets(manifests: list[Manifest]) -> Iterable[str]:
    budgets = [m for m in manifests if m["kind"] == "PodDisruptionBudget"]
    for manifest, _ in our_pods(manifests):
        if manifest["kind"] != "Deployment":
            continue
        labels = manifest["spec"]["template"]["metadata"]["labels"]
        covering = [
            budget
            for budget in budgets
            if budget["metadata"].get("namespace") == manifest["metadata"].get("namespace")
            and budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        if not covering or any(int(b["spec"].get("minAvailable", 0)) < 1 for b in covering):
            yield f"{ref(manifest)}: needs a PodDisruptionBudget with minAvailable >= 1"


def network_policies(manifests: list[Manifest]) -> Iterable[str]:
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    for manifest, _ in our_pods(manifests):
        labels = (
            manifest["spec"]["template"]["metadata"]["labels"]
            if manifest["kind"] != "CronJob"
            else manifest["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        )
        selected = any(
            policy["metadata"].get("namespace") == manifest["metadata"].get("namespace")
            and policy["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
            and policy["spec"]["podSelector"].get("matchLabels")
            for policy in policies
        )
        if not selected:
            yield f"{ref(manifest)}: no NetworkPolicy selects its pods"
    for namespace in (m for m in manifests if m["kind"] == "Namespace"):
        name = namespace["metadata"]["name"]
        deny = [
            p
            for p in policies
            if p["metadata"].get("namespace") == name
            and p["spec"]["podSelector"] == {}
            and "ingress" not in p["spec"]
            and "egress" not in p["spec"]
        ]
        if not deny:
            yield f"Namespace/{name}: no default-deny NetworkPolicy"


def service_monitors_selected(manifests: list[Manifest]) -> Iterable[str]:
    for manifest in manifests:
        release = manifest.get("metadata", {}).get("labels", {}).get("release")
        if manifest["kind"] == "ServiceMonitor" and ours(manifest) and release != "kube-prometheus-stack":
            yield f"{ref(manifest)}: lacks the release label kube-prometheus-stack selects"


def no_secrets_in_config_maps(manifests: list[Manifest]) -> Iterable[str]:
    for manifest in manifests:
        if manifest["kind"] == "ConfigMap":
            for key in manifest.get("data", {}) or {}:
                if SECRET_KEY.search(key):
                    yield f"{ref(manifest)}: key {key} looks like a secret"
        if manifest["kind"] == "Secret" and ours(manifest):
            yield f"{ref(manifest)}: secrets are referenced (existingSecret), never rendered"


def host_network_isolated(manifests: list[Manifest]) -> Iterable[str]:
    levels = {
        m["metadata"]["name"]: m["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce")
        for m in manifests
        if m["kind"] == "Namespace"
    }
    for manifest, spec in our_pods(manifests):
        namespace = manifest["metadata"].get("namespace")
        if namespace in levels and levels[namespace] == "restricted" and spec.get("hostNetwork"):
            yield f"{ref(manifest)}: host networking in restricted namespace {namespace}"
        if spec.get("hostNetwork"):
            affinity = spec.get("affinity", {}).get("podAntiAffinity", {})
            if not affinity.get("requiredDuringSchedulingIgnoredDuringExecution"):
                yield f"{ref(manifest)}: host-networked pods need one-per-node anti-affinity"


def agents_drain(manifests: list[Manifest]) -> Iterable[str]:
    for manifest, spec in our_pods(manifests):
        env = {e["name"]: e.get("value") for c in spec.get("containers", []) for e in c.get("env", [])}
        if "LIVEKIT_DRAIN_TIMEOUT" not in env:
            continue
        if env.get("LIVEKIT_LOAD_THRESHOLD") != "0.7":
            yield f"{ref(manifest)}: agent load threshold is {env.get('LIVEKIT_LOAD_THRESHOLD')}, not 0.7"
        drain = int(env["LIVEKIT_DRAIN_TIMEOUT"])
        if drain < AGENT_DRAIN_SECONDS or spec.get("terminationGracePeriodSeconds", 30) < drain:
            yield f"{ref(manifest)}: grace period must cover a drain of at least {AGENT_DRAIN_SECONDS} s"


def manual_sync_for_production(production_class: bool) -> Rule:
    def rule(manifests: list[Manifest]) -> Iterable[str]:
        for manifest in manifests:
            automated = "automated" in manifest.get("spec", {}).get("syncPolicy", {})
            if manifest["kind"] == "Application" and production_class and automated:
                yield f"{ref(manifest)}: production-class applications sync by hand"

    return rule


RULES: dict[str, Rule] = {
    "restricted-security": restricted_security,
    "probes-and-resources": probes_and_resources,
    "hpa-owns-replicas": hpa_owns_replicas,
    "disruption-budgets": disruption_budgets,
    "network-policies": network_policies,
    "service-monitors-selected": service_monitors_selected,
    "no-secrets-in-config-maps": no_secrets_in_config_maps,
    "host-network-isolated": host_network_isolated,
    "agents-drain": agents_drain,
}


def check(manifests: list[Manifest], production_class: bool) -> list[Violation]:
    rules = {**RULES, "manual-sync-for-production": manual_sync_for_production(production_class)}
    return [Violation(name, message) for name, rule in rules.items() for message in rule(manifests)]


@dataclass
class SchemaReport:
    validated: int = 0
    # custom resources checked against the schema of a CRD rendered in the same environment
    custom_validated: int = 0
    # apiVersion/kind -> count of custom resources no rendered CRD describes
    custom_resources: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _strict(schema: object) -> object:
    """A CRD's structural schema as the API server applies it with strict field validation: an
    object with properties admits no other field unless it preserves unknown fields."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


def crd_schemas(manifests: list[Manifest]) -> dict[str, dict]:
    """apiVersion/Kind -> the strict JSON schema of its spec/status, from every rendered CRD."""
    schemas = {}
    for manifest in manifests:
        if manifest.get("kind") != "CustomResourceDefinition":
            continue
        spec = manifest["spec"]
        for version in spec.get("versions") or []:
            schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
            properties = dict(schema.get("properties") or {})
            # the API server validates metadata itself; a CRD's schema rarely describes it
            properties.update(
                apiVersion={"type": "string"}, kind={"type": "string"}, metadata={"type": "object"}
            )
            key = f"{spec['group']}/{version['name']}/{spec['names']['kind']}"
            schemas[key] = _strict({**schema, "properties": properties})
    return schemas


# API groups the API server itself serves (no CRD ever defines them)
BUILT_IN_GROUPS = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "admissionregistration.k8s.io", "apiextensions.k8s.io",
    "apiregistration.k8s.io", "certificates.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
    "events.k8s.io", "flowcontrol.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io",
    "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io",
})  # fmt: skip


def _built_in_group(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return group in BUILT_IN_GROUPS


def validate_schemas(
    manifests: list[Manifest], kubernetes_version: str, cluster_crds: list[Manifest] = ()
) -> SchemaReport:
    """Strict validation against the cluster version's schemas; custom resources against the CRDs
    rendered with them (or by the owner of a shared cluster), and counted apart when no rendered
    CRD describes them."""
    report = SchemaReport()
    custom = crd_schemas([*cluster_crds, *manifests])
    validators: dict[str, jsonschema.Draft7Validator] = {}
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
            report.validated += 1
        except kubernetes_validate.SchemaNotFoundError:
            kind = f"{manifest.get('apiVersion')}/{manifest['kind']}"
            schema = custom.get(kind)
            if schema is None and _built_in_group(str(manifest.get("apiVersion"))):
                # a Kubernetes API group, but not this version of it: removed or not yet served
                report.errors.append(
                    f"{ref(manifest)}: {kind} is not served by Kubernetes {kubernetes_version}"
                )
                continue
            if schema is None:
                report.custom_resources[kind] = report.custom_resources.get(kind, 0) + 1
                continue
            validator = validators.setdefault(kind, jsonschema.Draft7Validator(schema))
            problems = sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))
            for problem in problems:
                report.errors.append(
                    f"{ref(manifest)}: {problem.message} at {'.'.join(map(str, problem.path))}"
                )
            report.custom_validated += 1
        except kubernetes_validate.ValidationError as error:
            report.errors.append(f"{ref(manifest)}: {error.message} at {'.'.join(map(str, error.path))}")
    return report
