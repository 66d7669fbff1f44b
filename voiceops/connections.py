"""Connection facts (charts/connections.yaml): what only a stack knows after apply, and the chart
values of the releases that take it.

Render fills each consumer value with a placeholder; Terraform passes the stack's own value as a
helm_release `set`; Argo CD gets it from the cluster Secret annotations the stack writes, patched
into the Applications by the cluster's bootstrap (voiceops/gitops.py)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from voiceops import infra_policy
from voiceops.environments import Cloud, Environment, NamespaceRole, Strict, load_validated
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT

CONNECTIONS_PATH = ROOT / "charts" / "connections.yaml"
ANNOTATION_PREFIX = "connections.voiceops.io/"  # + fact, on the Argo CD cluster Secret
PLACEHOLDER_DOMAIN = "connection.invalid"  # RFC 2606: never resolves, so a render cannot connect
FACT_LOCAL = "local.connection_facts"  # the publishing module's map: fact -> value

FactName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")]
# helm --set paths; a key holding dots (an annotation) escapes them: a\.b/c
ValueKey = r"[A-Za-z0-9_-]+(\\\.[A-Za-z0-9_/-]+)*"
ValuePath = Annotated[str, Field(pattern=rf"^{ValueKey}(\.{ValueKey}|\[\d+\])*$")]


class InvalidConnections(OpsError):
    pass


class Service(Strict):
    namespace: NamespaceRole
    name: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")]
    port: int = Field(ge=1, le=65535)
    scheme: Literal["ws", "http"] | None = None  # the address as a URL of this scheme


class Fact(Strict):
    description: str
    service: Service | None = None  # None: the stack publishes it


class Consumer(Strict):
    value: ValuePath
    fact: FactName
    clouds: tuple[Cloud, ...] = tuple(Cloud)
    # only where the environment owns its cluster: the value feeds cluster-wide objects, which
    # the tenants of a shared cluster (LKE namespaces, previews) do not render
    cluster_owner: bool = False
    # constant values given with the fact: a path into a list makes Helm replace the whole list
    # the values files give, so the other fields of that entry come along here
    alongside: dict[ValuePath, str] = Field(default_factory=dict)


class Connections(Strict):
    facts: dict[FactName, Fact] = Field(min_length=1)
    publishers: dict[Cloud, Annotated[str, Field(pattern=r"^(modules|stacks)/[a-z0-9_/-]+$")]]
    consumers: dict[str, tuple[Consumer, ...]]

    @model_validator(mode="after")
    def facts_declared(self) -> Connections:
        for release, items in self.consumers.items():
            for item in items:
                if item.fact not in self.facts:
                    raise ValueError(f"consumers.{release}: fact {item.fact} is not declared under facts")
        for cloud, module in self.publishers.items():
            if not (infra_policy.INFRA / module).is_dir():
                raise ValueError(f"publishers.{cloud}: {module} is no directory under infra/terraform")
        return self


@cache
def load(path: Path = CONNECTIONS_PATH) -> Connections:
    return load_validated(path, Connections, InvalidConnections)


def consumers(environment: Environment, release: str) -> tuple[Consumer, ...]:
    """The facts one release takes in this environment."""
    owner = not environment.cluster.shared_with
    return tuple(
        item
        for item in load().consumers.get(release, ())
        if environment.cloud in item.clouds and (owner or not item.cluster_owner)
    )


def published_consumers(environment: Environment, release: str) -> tuple[Consumer, ...]:
    """The facts of a release that a stack publishes."""
    return tuple(item for item in consumers(environment, release) if load().facts[item.fact].service is None)


def static_parameters(environment: Environment, release: str) -> dict[str, str]:
    """Chart value -> what is known before apply: the addresses of the environment's services a
    release takes, and the constants given alongside any fact."""
    parameters = {}
    for item in consumers(environment, release):
        parameters |= item.alongside
        service = load().facts[item.fact].service
        if service is not None:
            namespace = environment.namespaces.get(service.namespace)
            if namespace is None:
                raise InvalidConnections(
                    f"{environment.name}: {release} takes {item.fact}, a service of namespace role "
                    f"{service.namespace}, which the environment does not have"
                )
            address = f"{service.name}.{namespace}.svc.cluster.local:{service.port}"
            parameters[item.value] = f"{service.scheme}://{address}" if service.scheme else address
    return parameters


def placeholder(fact: str) -> str:
    return f"{fact}.{PLACEHOLDER_DOMAIN}"


def values(environment: Environment, release: str) -> dict[str, str]:
    """Chart value -> what render, lint and a local install give it: a placeholder for each
    published fact (only the stack knows it), the address of each service."""
    filled = {item.value: placeholder(item.fact) for item in published_consumers(environment, release)}
    return filled | static_parameters(environment, release)


def set_arguments(environment: Environment, release: str) -> list[str]:
    return [
        argument
        for value, filled in values(environment, release).items()
        for argument in ("--set-string", f"{value}={filled}")
    ]


def annotation(fact: str) -> str:
    return ANNOTATION_PREFIX + fact


def published(cloud: Cloud, tree: infra_policy.Tree | None = None) -> dict[str, str] | None:
    """fact -> the Terraform expression publishing it, from the cloud's publisher module; None
    where the cloud has no publisher."""
    module = load().publishers.get(cloud)
    if module is None:
        return None
    facts = infra_policy.module_value(module, FACT_LOCAL, "", tree)
    return {str(name): str(value) for name, value in facts.items()} if isinstance(facts, dict) else {}
