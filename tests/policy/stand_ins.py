"""What an upstream chart the gate cannot pull would render, reduced to what the entry rules
read: names, labels, selectors and ports as the pinned charts render them, and the parts our
values decide (node selectors, tolerations, load balancer annotations) read from the
environment's own values files, so a values change still reaches the rules under test."""

import re

import yaml

from voiceops import catalog, connections
from voiceops.wiring import Installed

_ESCAPED_DOT = re.compile(r"(?<!\\)\.")


def release_values(installed: Installed, name: str) -> dict:
    """The release's values files merged in order, with the connection placeholders set."""
    release = next(item for item in catalog.releases_for(installed.environment) if item.name == name)
    values = catalog.merged_values(release)
    for value_path, filled in connections.values(installed.environment, name).items():
        if "[" in value_path:  # list items: no stand-in reads them
            continue
        *parents, last = [key.replace("\\.", ".") for key in _ESCAPED_DOT.split(value_path)]
        node = values
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = filled
    return values


def _labels(release: str, name: str, **extra: str) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release, **extra}


def _workload(name: str, namespace: str, labels: dict, spec: dict) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": spec}},
    }  # fmt: skip


def _service(name: str, namespace: str, selector: dict, ports: list, **spec) -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(selector),
                     "annotations": spec.pop("annotations", {})},
        "spec": {"selector": selector, "ports": ports, **spec},
    }  # fmt: skip


def _ingress_class(name: str, labels: dict, controller: str) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": name, "labels": labels}, "spec": {"controller": controller},
    }  # fmt: skip


def kong(installed: Installed) -> list[dict]:
    """kong 2.52: the proxy Deployment (proxy 8000, status 8100), its ClusterIP Service on 80 and
    its IngressClass."""
    namespace = installed.environment.namespaces["platform"]
    selector = _labels("kong", "kong", **{"app.kubernetes.io/component": "app"})
    ports = [{"name": "proxy", "containerPort": 8000, "protocol": "TCP"},
             {"name": "status", "containerPort": 8100, "protocol": "TCP"}]  # fmt: skip
    return [
        _workload("kong-kong", namespace, selector, {"containers": [{"name": "proxy", "ports": ports}]}),
        _service("kong-kong-proxy", namespace, selector,
                 [{"name": "kong-proxy", "port": 80, "targetPort": 8000, "protocol": "TCP"}]),
        _ingress_class("kong", _labels("kong", "kong"), "ingress-controllers.konghq.com/kong"),
    ]  # fmt: skip


def ingress_nginx(installed: Installed) -> list[dict]:
    """ingress-nginx 4.14: the controller Deployment, its LoadBalancer Service (annotations from
    our values) and the nginx IngressClass."""
    namespace = installed.environment.namespaces["system"]
    values = release_values(installed, "ingress-nginx")
    service_values = (values.get("controller") or {}).get("service") or {}
    selector = _labels("ingress-nginx", "ingress-nginx", **{"app.kubernetes.io/component": "controller"})
    ports = [{"name": "http", "containerPort": 80, "protocol": "TCP"},
             {"name": "https", "containerPort": 443, "protocol": "TCP"}]  # fmt: skip
    return [
        _workload("ingress-nginx-controller", namespace, selector,
                  {"containers": [{"name": "controller", "ports": ports}]}),
        _service("ingress-nginx-controller", namespace, selector,
                 [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                  {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
                 type="LoadBalancer", annotations=dict(service_values.get("annotations") or {})),
        _ingress_class("nginx", _labels("ingress-nginx", "ingress-nginx"), "k8s.io/ingress-nginx"),
    ]  # fmt: skip


def livekit_server(installed: Installed) -> list[dict]:
    """livekit-server 1.9: the host-networked server (node selector and tolerations from our
    values), its signalling Service on 7880 and the TURN LoadBalancer Service on 443."""
    namespace = installed.environment.namespaces["livekit"]
    values = release_values(installed, "livekit-server")
    selector = _labels("livekit-server", "livekit-server")
    ports = [{"name": "http", "containerPort": 7880, "protocol": "TCP"},
             {"name": "rtc-tcp", "containerPort": 7881, "hostPort": 7881, "protocol": "TCP"},
             {"name": "turn-tls", "containerPort": 3478, "hostPort": 3478, "protocol": "TCP"}]  # fmt: skip
    config = {
        "name": "LIVEKIT_CONFIG",
        "valueFrom": {"configMapKeyRef": {"name": "livekit-server", "key": "config.yaml"}},
    }
    spec = {"hostNetwork": True, "containers": [{"name": "livekit-server", "ports": ports, "env": [config]}]}
    spec |= {key: values[key] for key in ("nodeSelector", "tolerations") if values.get(key)}
    turn = (values.get("livekit") or {}).get("turn") or {}
    return [
        _workload("livekit-server", namespace, selector, spec),
        {"apiVersion": "v1", "kind": "ConfigMap",  # the chart writes its `livekit` values as the config
         "metadata": {"name": "livekit-server", "namespace": namespace},
         "data": {"config.yaml": yaml.safe_dump(values.get("livekit") or {})}},
        _service("livekit-server", namespace, selector,
                 [{"name": "http", "port": 7880, "targetPort": "http", "protocol": "TCP"}]),
        _service("livekit-server-turn", namespace, selector,
                 [{"port": 443, "targetPort": 3478, "protocol": "TCP"}],
                 type="LoadBalancer", annotations=dict(turn.get("loadBalancerAnnotations") or {})),
    ]  # fmt: skip


def _key(item: dict) -> tuple:
    return item["kind"], item["metadata"].get("namespace"), item["metadata"]["name"]


def with_upstream(installed: Installed, *charts) -> Installed:
    """The environment with the given charts' stand-ins in its cluster, in place of what the
    cached charts rendered where they are cached, so the tests read the same either way."""
    objects = [item for chart in charts for item in chart(installed)]
    replaced = {_key(item) for item in objects}
    installed.manifests = [*(item for item in installed.manifests if _key(item) not in replaced), *objects]
    installed.cluster = [*(item for item in installed.cluster if _key(item) not in replaced), *objects]
    return installed
