"""values.schema.json for our charts, generated from one description of each value.

The workload shape (charts/common/templates/_workload.tpl) is described once here
and reused by every chart that renders workloads; `invoke charts.schemas` writes
the files and a unit test fails when a committed schema drifts from this source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voiceops.environments import NamespaceRole
from voiceops.toolchain import ROOT

Schema = dict[str, Any]
# empty, or host[:port]
HOST_PORT = r"^([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?)?$"

CHARTS_DIR = ROOT / "charts"


def _obj(description: str, properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _str(description: str, pattern: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "description": description}
    if pattern:
        schema["pattern"] = pattern
    return schema


def _int(description: str, minimum: int = 0, maximum: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "description": description, "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _bool(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def _map(description: str, values: Schema) -> Schema:
    return {"type": "object", "description": description, "additionalProperties": values}


QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$"
PORT = _int("a TCP port", 1, 65535)

RESOURCE_AMOUNTS = _obj(
    "CPU and memory amounts",
    {"cpu": _str("CPU (e.g. 250m)", QUANTITY), "memory": _str("memory (e.g. 512Mi)", QUANTITY)},
    ("cpu", "memory"),
)

PROBE = _obj(
    "an HTTP probe",
    {
        "path": _str("HTTP path", r"^/"),
        "port": {"type": ["integer", "string"], "description": "container port number or name"},
        "initialDelaySeconds": _int("seconds before the first probe"),
        "periodSeconds": _int("seconds between probes", 1),
        "timeoutSeconds": _int("seconds before a probe times out", 1),
        "failureThreshold": _int("failures before the probe fails", 1),
    },
    ("path", "port", "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"),
)

WORKLOAD_PROPERTIES: dict[str, Schema] = {
    "enabled": _bool("render this workload"),
    "image": _obj(
        "container image under imageRegistry (or under its own registry)",
        {
            "registry": _str(
                "registry of an upstream image; empty means imageRegistry",
                r"^([a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*)?$",
            ),
            "repository": _str("image repository below the registry", r"^[a-z0-9][a-z0-9._/-]*$"),
            "tag": _str("image tag; empty means the chart's appVersion", r"^[A-Za-z0-9._-]*$"),
            "digest": _str("sha256 digest; when set it wins over the tag", r"^(sha256:[a-f0-9]{64})?$"),
        },
        ("repository",),
    ),
    "command": {"type": "array", "items": {"type": "string"}, "description": "container command"},
    "args": {"type": "array", "items": {"type": "string"}, "description": "container arguments"},
    "env": _map("non-secret environment variables (secrets go in existingSecret)", {"type": "string"}),
    "existingSecret": _str(
        "name of a Secret mounted read-only at /var/run/secrets/voiceops; secrets are never values",
        r"^([a-z0-9][a-z0-9.-]*)?$",
    ),
    "ports": _map("named TCP container ports, also served by the Service", PORT),
    "extraPorts": {
        "type": "array",
        "description": "extra container ports that the Service does not serve (e.g. UDP media)",
        "items": _obj(
            "a container port",
            {
                "name": _str("port name", r"^[a-z][a-z0-9-]{0,14}$"),
                "containerPort": PORT,
                "protocol": {"enum": ["TCP", "UDP"], "description": "protocol"},
            },
            ("name", "containerPort", "protocol"),
        ),
    },
    "service": _obj("the ClusterIP Service", {"enabled": _bool("render a Service for ports")}),
    "probes": _obj(
        "separate liveness and readiness probes, so readiness can fail during a drain",
        {"liveness": PROBE, "readiness": PROBE},
        ("liveness", "readiness"),
    ),
    "resources": _obj(
        "requests and limits (required: every container is sized)",
        {"requests": RESOURCE_AMOUNTS, "limits": RESOURCE_AMOUNTS},
        ("requests", "limits"),
    ),
    "gpu": _int("NVIDIA GPUs to request (nvidia.com/gpu)", 0, 8),
    "replicas": _int("replicas when autoscaling is off (the HPA owns replicas otherwise)", 1),
    "autoscaling": _obj(
        "HorizontalPodAutoscaler; empty bounds and targets come from the registry's autoscaling",
        {
            "enabled": _bool("render an HPA (and no replicas field)"),
            "minReplicas": {"type": ["integer", "null"], "minimum": 1, "description": "lower bound"},
            "maxReplicas": {"type": ["integer", "null"], "minimum": 1, "description": "upper bound"},
            "cpuTargetPercent": {"type": ["integer", "null"], "minimum": 10, "description": "CPU target"},
            "memoryTargetPercent": {
                "type": ["integer", "null"],
                "minimum": 10,
                "description": "memory target",
            },
            "cpuOnly": _bool("scale on CPU alone (no memory metric)"),
            "customMetrics": {
                "type": "array",
                "description": "per-pod metrics served by prometheus-adapter",
                "items": _obj(
                    "a Pods metric",
                    {
                        "name": _str("metric name", r"^[a-z_][a-z0-9_]*$"),
                        "targetAverageValue": _str("target average per pod", QUANTITY),
                    },
                    ("name", "targetAverageValue"),
                ),
            },
            "behavior": {"type": "object", "description": "HPA scaleUp/scaleDown behavior"},
        },
    ),
    "pdb": _obj(
        "PodDisruptionBudget",
        {
            "enabled": _bool("render a PDB"),
            "minAvailable": {"type": ["integer", "string"], "description": "pods kept during disruption"},
        },
    ),
    "serviceMonitor": _obj(
        "Prometheus ServiceMonitor",
        {
            "enabled": _bool("render a ServiceMonitor"),
            "port": _str("named port to scrape"),
            "path": _str("metrics path", r"^/"),
            "interval": _str("scrape interval", r"^[0-9]+[sm]$"),
        },
    ),
    "networkPolicy": _obj(
        "explicit allows on top of the namespace default-deny",
        {
            "enabled": _bool("render a NetworkPolicy"),
            "allowFromIngress": _bool("accept traffic from the ingress controller namespace"),
            "egressPorts": {"type": "array", "items": PORT, "description": "TCP ports reachable anywhere"},
        },
    ),
    "nodeSelector": _map("node labels the pods require", {"type": "string"}),
    "tolerations": {"type": "array", "items": {"type": "object"}, "description": "taints tolerated"},
    "affinity": {"type": "object", "description": "node and pod affinity"},
    "topologySpread": _bool("spread pods across zones"),
    "onePerNode": _bool("at most one pod per node (host-networked servers)"),
    "terminationGracePeriodSeconds": _int("seconds a pod may take to drain", 0, 86400),
    "hostNetwork": _bool("use the node's network (media servers only; needs the livekit namespace)"),
    "runAsUser": _int("non-root UID and GID", 10000),
    "tmpSize": _str("size limit of the writable /tmp", QUANTITY),
    "scannerExceptions": _map(
        "checkov check ID -> the reason this workload is exempt (rendered as checkov.io/skip annotations)",
        {"type": "string", "minLength": 20},
    ),
    "podAnnotations": _map("extra pod annotations", {"type": "string"}),
    "priorityClassName": _str("priority class (charts/base defines them)"),
    "restartPolicy": {"enum": ["Always", "OnFailure", "Never"], "description": "pod restart policy"},
}


def workload(description: str, partial: bool = False) -> Schema:
    required = () if partial else ("enabled", "image", "resources", "autoscaling", "pdb", "serviceMonitor")
    return _obj(description, WORKLOAD_PROPERTIES, required)


COMMON_TOP: dict[str, Schema] = {
    "common": {"type": "object", "description": "the common library chart's values (Helm adds this key)"},
    "registry": _str("the environment registry file: --set-file registry=environments/<env>.yaml"),
    "imageRegistry": _str(
        "registry holding the platform's images", r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$"
    ),
    "monitoring": _obj(
        "how kube-prometheus-stack finds our monitors",
        {"prometheusRelease": _str("the kube-prometheus-stack release name (its `release` label)")},
        ("prometheusRelease",),
    ),
}


def _chart(title: str, properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema = _obj(title, {**COMMON_TOP, **properties}, ("registry", *required))
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": title, **schema}


JOB_PROPERTIES: dict[str, Schema] = {
    **WORKLOAD_PROPERTIES,
    "schedule": _str("cron schedule (CronJobs only)", r"^[0-9*/,\- ]+$"),
    "suspend": _bool("keep the CronJob as a template for on-demand runs (kubectl create job --from)"),
    "backoffLimit": _int("retries before the Job fails"),
    "activeDeadlineSeconds": _int("seconds the Job may run", 60),
}
JOB = _obj("a CronJob", JOB_PROPERTIES, ("enabled", "image", "resources", "schedule"))

SCHEMAS: dict[str, Schema] = {
    "agent-service": _chart(
        "LiveKit agent workers (seed 000)",
        {
            "livekit": _obj(
                "how workers join LiveKit",
                {
                    "url": _str(
                        "LiveKit server URL; empty: the livekit namespace of the registry", r"^(wss?://.*)?$"
                    ),
                    "loadThreshold": {
                        "type": "number",
                        "minimum": 0.1,
                        "maximum": 1,
                        "description": "load above which a worker stops taking jobs",
                    },
                    "drainTimeoutSeconds": _int("seconds a worker drains its jobs on shutdown", 0, 86400),
                },
                ("url", "loadThreshold", "drainTimeoutSeconds"),
            ),
            "worker": workload("the agent worker Deployment"),
        },
        ("livekit", "worker"),
    ),
    "sip-service": _chart(
        "LiveKit SIP bridge (seed 000)",
        {
            "sip": _obj(
                "SIP and RTP ports",
                {
                    "sipPort": PORT,
                    "rtpPortStart": PORT,
                    "rtpPortEnd": PORT,
                    "livekitUrl": _str(
                        "LiveKit server URL; empty: the livekit namespace of the registry", r"^(wss?://.*)?$"
                    ),
                    "redis": _obj(
                        "the Redis LiveKit uses, which SIP shares (exactly one address)",
                        {
                            "address": _str("host:port of a single or Sentinel-fronted Redis", HOST_PORT),
                            "clusterAddress": _str("host:port of a cluster-mode Redis", HOST_PORT),
                            "tls": _bool("the Redis speaks TLS"),
                        },
                        ("address", "clusterAddress", "tls"),
                    ),
                },
                ("sipPort", "rtpPortStart", "rtpPortEnd", "livekitUrl", "redis"),
            ),
            "server": workload("the SIP server Deployment"),
        },
        ("sip", "server"),
    ),
    "platform": _chart(
        "Platform microservices (seed 001)",
        {
            "service": workload("the shape every service starts from (a YAML anchor)"),
            "services": _map("the platform's services by name", workload("one service")),
            "job": _obj("the shape every job starts from (a YAML anchor)", JOB_PROPERTIES),
            "cronJobs": _map("scheduled, backup and on-demand batch jobs (seeds 001 and 003)", JOB),
        },
        ("services",),
    ),
    "ai-services": _chart(
        "GPU inference services (seeds 001 and 002)",
        {
            "gpuService": workload("the shape every GPU service starts from (a YAML anchor)"),
            "services": _map("the AI services by name", workload("one service", partial=True)),
        },
        ("services",),
    ),
}


ROLES = ("system", "observability", "livekit", "agents", "platform", "ai")


def _per_role(description: str, item: Schema) -> Schema:
    return _obj(description, {role: item for role in ROLES}, ROLES)


QUOTA = _obj(
    "a ResourceQuota",
    {
        "requestsCpu": _str("summed CPU requests", QUANTITY),
        "requestsMemory": _str("summed memory requests", QUANTITY),
        "limitsCpu": _str("summed CPU limits", QUANTITY),
        "limitsMemory": _str("summed memory limits", QUANTITY),
        "pods": _str("pod count", r"^[0-9]+$"),
    },
    ("requestsCpu", "requestsMemory", "limitsCpu", "limitsMemory", "pods"),
)

SCHEMAS["base"] = _chart(
    "Cluster and namespace foundation (seeds 000 and 002)",
    {
        "parts": _obj(
            "what this release renders: the catalog installs the chart as `namespaces` and as `base`",
            {
                "namespaces": _bool("namespaces with their quotas, limit ranges and NetworkPolicies"),
                "cluster": _bool("cluster-wide objects and ingress"),
            },
            ("namespaces", "cluster"),
        ),
        # the ApplicationSet fills in the pull request's number before Helm sees the value
        "namespaceSuffix": _str(
            "appended to every namespace name (a preview's -pr-<N>)", r"^(-[a-z0-9-]+)?$"
        ),
        "podSecurity": _per_role(
            "Pod Security level enforced per namespace role",
            {"enum": ["restricted", "baseline", "privileged"], "description": "Pod Security Standard"},
        ),
        "quotas": _per_role("ResourceQuota per namespace role", QUOTA),
        "limitRange": _obj(
            "defaults for containers that set no resources",
            {"defaultRequest": RESOURCE_AMOUNTS, "default": RESOURCE_AMOUNTS},
            ("defaultRequest", "default"),
        ),
        "priorityClasses": _map(
            "PriorityClasses by name",
            _obj(
                "a PriorityClass",
                {
                    "value": _int("priority", 0, 1000000000),
                    "preempts": _bool("may preempt lower priorities"),
                    "description": _str("what runs at this priority"),
                },
                ("value", "preempts", "description"),
            ),
        ),
        "clusterIssuers": _obj(
            "cert-manager ClusterIssuers",
            {
                "enabled": _bool("render the Let's Encrypt issuers"),
                "email": _str("ACME e-mail", r"^[^@ ]+@[^@ ]+$"),
            },
            ("enabled", "email"),
        ),
        "ingress": _obj(
            "how the environment's public routes (registry ingress.routes) enter the cluster",
            {
                "className": _str("IngressClass of the public load balancer's controller"),
                "clusterIssuer": _str(
                    "ClusterIssuer signing the hosts' certificates; empty where the load balancer in "
                    "front terminates TLS with the stack's certificate"
                ),
                "gateway": _obj(
                    "the API gateway that routes marked gateway: true pass through (empty: none)",
                    {
                        "className": _str("the gateway's IngressClass"),
                        "role": {"enum": list(ROLES), "description": "namespace role of the gateway"},
                        "service": _str("the gateway's proxy Service", r"^([a-z][a-z0-9-]*)?$"),
                        "port": _int("the proxy Service's plain-HTTP port", 0, 65535),
                        "healthPort": _int("the gateway pods' readiness port", 0, 65535),
                        "healthPath": _str("the gateway's readiness path", r"^(/.*)?$"),
                        "podLabels": _map("labels of the gateway's proxy pods", {"type": "string"}),
                        "containerPorts": {
                            "type": "array",
                            "description": "container ports the load balancer reaches on the proxy pods",
                            "items": PORT,
                        },
                    },
                ),
                "alb": _obj(
                    "EKS Auto Mode's Application Load Balancer (empty off AWS)",
                    {
                        "certificateArn": _str("ACM certificate of the listeners (connection fact)"),
                        "sslPolicy": _str("listener TLS policy"),
                        "tagKey": _str("tag the stack finds the load balancer by (value: the cluster name)"),
                    },
                ),
            },
            ("className", "clusterIssuer", "gateway", "alb"),
        ),
        "resolved": _str(
            "the resolved environment and its secrets: --set-file resolved=environments/resolved/<env>.json"
        ),
        "secretStore": _obj(
            "where External Secrets reads the bundles' secrets (secrets/bundles/)",
            {
                "refreshInterval": _str("how often each entry is re-read", r"^[0-9]+[smh]$"),
                "serviceAccount": _str("the controller's service account (Azure workload identity)"),
                "vaultUrl": _str("Azure: the Key Vault's URL (connection fact key-vault-url)"),
                "credentialsSecret": _str(
                    "local: the Secret holding the emulated store's access key", r"^([a-z][a-z0-9-]*)?$"
                ),
            },
            ("refreshInterval", "serviceAccount", "vaultUrl", "credentialsSecret"),
        ),
    },
    ("podSecurity", "quotas", "limitRange", "priorityClasses", "clusterIssuers", "ingress", "secretStore"),
)


SCHEMAS["observability"] = _chart(
    "Grafana dashboards as code (seed 002)",
    {
        "dashboards": _obj(
            "dashboards provisioned through the Grafana sidecar",
            {
                "sidecarLabel": _str("label the Grafana sidecar watches"),
                "folder": _str("Grafana folder"),
            },
            ("sidecarLabel", "folder"),
        ),
        "podMonitors": _map(
            "PodMonitors for workloads whose upstream chart renders none, by name",
            _obj(
                "a scrape target",
                {
                    "namespaceRole": {
                        "enum": [role.value for role in NamespaceRole],
                        "description": "namespace role",
                    },
                    "podLabels": _map("labels of the pods to scrape", {"type": "string"}),
                    "port": _str("name of the metrics container port", r"^[a-z0-9-]+$"),
                    "path": _str("metrics path", r"^/"),
                    "interval": _str("scrape interval", r"^[0-9]+[smh]$"),
                },
                ("namespaceRole", "podLabels", "port", "path", "interval"),
            ),
        ),
    },
    ("dashboards", "podMonitors"),
)


def schema_path(chart: str) -> Path:
    return CHARTS_DIR / chart / "values.schema.json"


def render(schema: Schema) -> str:
    return json.dumps(schema, indent=2) + "\n"


def write_all() -> list[Path]:
    written = []
    for chart, schema in SCHEMAS.items():
        path = schema_path(chart)
        text = render(schema)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def stale() -> list[str]:
    """Charts whose committed values.schema.json differs from this module."""
    return [
        chart
        for chart, schema in SCHEMAS.items()
        if not schema_path(chart).is_file() or schema_path(chart).read_text() != render(schema)
    ]
