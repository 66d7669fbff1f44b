"""The environment registry: environments/<name>.yaml, validated by a strict schema.

Every layer (Terraform stacks, Helm values, Kustomize overlays, approvals, DR
drills, deploy) reads an environment from here and nowhere else.
"""

from __future__ import annotations

import ipaddress
import json
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voiceops.errors import OpsError
from voiceops.output import duration
from voiceops.toolchain import ROOT, shown

ENVIRONMENTS_DIR = ROOT / "environments"

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")]
KubernetesVersion = Annotated[str, Field(pattern=r"^1\.\d{2}$")]
RepoPath = Annotated[str, Field(pattern=r"^[a-z0-9_./-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Cloud(StrEnum):
    LOCAL = "local"
    AWS = "aws"
    AZURE = "azure"
    LINODE = "linode"


class Delivery(StrEnum):
    """How releases reach the cluster."""

    HELM = "helm"  # invoke deploy installs the catalog with helm directly
    TERRAFORM = "terraform"  # the Terraform stack's helm_release resources (seed 000)
    GITOPS = "gitops"  # Argo CD syncs the Kustomize overlay (seeds 001, 002, 004)


class NamespaceRole(StrEnum):
    """What a namespace hosts; each catalog release names the role it installs into."""

    SYSTEM = "system"  # ingress, cert-manager, secret operators, Argo CD, backups, runtime security
    OBSERVABILITY = "observability"  # metrics, logs, traces, dashboards
    LIVEKIT = "livekit"  # host-networked media servers (LiveKit, egress, SIP)
    AGENTS = "agents"  # AI agent workers
    PLATFORM = "platform"  # API, Temporal workers and the platform microservices
    AI = "ai"  # GPU inference (speech-to-text, TTS, VAD, vLLM)


class Regions(Strict):
    primary: str
    secondary: tuple[str, ...] = ()
    disaster_recovery: str | None = None


class NodePool(Strict):
    name: Name
    instance_type: str
    min_nodes: int = Field(ge=0, le=100)
    max_nodes: int = Field(ge=0, le=100)
    taints: tuple[
        Annotated[str, Field(pattern=r"^[a-z0-9./-]+=[a-z0-9-]+:(NoSchedule|NoExecute|PreferNoSchedule)$")],
        ...,
    ] = ()
    autoscaling: bool = True
    gpu: bool = False
    spot: bool = False  # EKS Auto Mode capacity type (seed 003: the general pool runs on spot)
    # nodes with public addresses, for the host-networked media servers (LiveKit, SIP): EKS puts
    # the pool in the public subnets, AKS gives each node a public IP (LKE's nodes all have one)
    public: bool = False

    @model_validator(mode="after")
    def bounds_ordered(self) -> NodePool:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes {self.min_nodes} exceeds max_nodes {self.max_nodes}")
        if not self.autoscaling and self.min_nodes != self.max_nodes:
            raise ValueError("a pool without autoscaling needs min_nodes == max_nodes")
        return self


# Sources no API server may admit: the documentation ranges (RFC 5737, RFC 3849) stand in for an
# address nobody chose.
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
RunnerLabel = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]


class ApiAccess(Strict):
    """How delivery reaches the cluster's API server: the jobs that touch the cluster run on the
    self-hosted runners these labels select, inside the cluster's network; a public endpoint, if
    any, admits only the sources listed besides (a platform team's VPN, a runner's static egress)."""

    runner_labels: tuple[RunnerLabel, ...] = Field(min_length=1)
    allowed_cidrs: tuple[str, ...] = ()

    @field_validator("allowed_cidrs")
    @classmethod
    def public_sources_only(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            network = ipaddress.ip_network(value, strict=True)
            if network.prefixlen == 0:
                raise ValueError(f"{value} admits every address")
            if any(network.overlaps(documentation) for documentation in DOCUMENTATION_NETWORKS):
                raise ValueError(f"{value} is a documentation range, not a real source")
            if not network.is_global:
                raise ValueError(f"{value} is not a public address: a public endpoint never sees it")
        return values

    @model_validator(mode="after")
    def self_hosted(self) -> ApiAccess:
        # GitHub-hosted runners take their addresses from a pool every GitHub user shares: no
        # endpoint restricted to declared sources can admit them without admitting everyone's jobs
        if "self-hosted" not in self.runner_labels:
            raise ValueError("runner_labels must select self-hosted runners (label self-hosted)")
        return self


class Cluster(Strict):
    name: Name
    kubernetes_version: KubernetesVersion
    # An environment living in another environment's cluster (LKE namespaces, previews)
    shared_with: tuple[Name, ...] = ()
    node_pools: tuple[NodePool, ...] = ()
    # the cluster owner's; its tenants reach the cluster the same way
    api_access: ApiAccess | None = None

    @model_validator(mode="after")
    def pool_names_unique(self) -> Cluster:
        names = [pool.name for pool in self.node_pools]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"node pool names repeat: {', '.join(repeated)}")
        return self


class Network(Strict):
    cidr: str
    # Named subnets, each inside `cidr`; AWS lays them out per availability zone.
    subnets: dict[Name, tuple[str, ...]] = Field(default_factory=dict)
    availability_zones: int = Field(default=3, ge=1, le=6)

    @field_validator("cidr")
    @classmethod
    def valid_cidr(cls, value: str) -> str:
        ipaddress.ip_network(value, strict=True)
        return value

    @model_validator(mode="after")
    def subnets_inside(self) -> Network:
        network = ipaddress.ip_network(self.cidr)
        seen: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
        for name, cidrs in self.subnets.items():
            for cidr in cidrs:
                subnet = ipaddress.ip_network(cidr, strict=True)
                if not subnet.subnet_of(network):  # type: ignore[arg-type]
                    raise ValueError(f"subnet {name} {cidr} lies outside {self.cidr}")
                for other_name, other in seen:
                    if subnet.overlaps(other):
                        raise ValueError(f"subnet {name} {cidr} overlaps {other_name} {other}")
                seen.append((name, subnet))
        return self


class Terraform(Strict):
    stack: RepoPath
    state_backend: Literal["s3", "azurerm", "linode-object-storage"]
    # Resource names are <workload>-<stage>-...: seed 004 names everything *-voiceassistant-prod.
    workload: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{2,19}$")]
    stage: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,9}$")]
    dns_zone: Annotated[str, Field(pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")]


class Helm(Strict):
    # Values directories applied in order on top of each chart's defaults; a layer
    # holds <release>.yaml for each catalog release it changes (charts/releases.yaml).
    values_layers: tuple[RepoPath, ...] = Field(min_length=1)


class Kustomize(Strict):
    overlay: RepoPath


class Approvals(Strict):
    required: int = Field(ge=0, le=5)
    github_environment: Name | None = None


class DisasterRecovery(Strict):
    # seconds: the local drills measure targets of seconds, the clouds' seeds give hours
    rto_seconds: int = Field(gt=0)
    rpo_seconds: int = Field(gt=0)
    drill_schedule: Literal["monthly", "quarterly", "none"]
    source: str  # the seed document the targets come from
    # Address space of the recovery region's network (data replicas land there)
    network_cidr: str | None = None

    @field_validator("network_cidr")
    @classmethod
    def valid_cidr(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_network(value, strict=True)
        return value


DNS_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
HostLabel = Annotated[str, Field(pattern=rf"^{DNS_LABEL}(\.{DNS_LABEL})*$")]


class Route(Strict):
    """One public name of the environment and the Service behind it."""

    name: Name
    host: HostLabel  # under terraform.dns_zone: the stack makes its DNS record
    role: NamespaceRole  # the Service's namespace
    service: Name
    port: int = Field(ge=1, le=65535)
    path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9/_.-]*$")] = "/"
    gateway: bool = False  # through the API gateway where the cloud has one (Kong on AWS, seed 003)


class Ingress(Strict):
    """What the environment serves from the internet: every layer takes its routes from here
    (DNS records, the cloud's load balancer, the Ingress objects)."""

    routes: tuple[Route, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def names_unique(self) -> Ingress:
        for field in ("name", "host"):
            values = [getattr(route, field) for route in self.routes]
            repeated = sorted({value for value in values if values.count(value) > 1})
            if repeated:
                raise ValueError(f"route {field}s repeat: {', '.join(repeated)}")
        return self


class PodAutoscaling(Strict):
    min_replicas: int = Field(ge=1)
    max_replicas: int = Field(ge=1)
    cpu_target_percent: int = Field(ge=10, le=100)
    memory_target_percent: int = Field(ge=10, le=100)

    @model_validator(mode="after")
    def bounds_ordered(self) -> PodAutoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}")
        return self


class Environment(Strict):
    name: Name
    description: str
    cloud: Cloud
    production_class: bool
    ephemeral: bool = False
    delivery: Delivery
    regions: Regions
    cluster: Cluster
    # Role -> namespace. A role the environment leaves out is served by the cluster
    # owner (the shared LKE cluster's system namespace) and its releases are skipped.
    namespaces: dict[NamespaceRole, Name] = Field(min_length=1)
    network: Network | None = None
    terraform: Terraform | None = None
    helm: Helm
    kustomize: Kustomize | None = None
    approvals: Approvals
    disaster_recovery: DisasterRecovery | None = None
    autoscaling: PodAutoscaling
    ingress: Ingress | None = None

    @model_validator(mode="after")
    def consistent(self) -> Environment:
        if self.production_class and self.approvals.required < 2:
            raise ValueError("a production-class environment needs approvals.required >= 2")
        if self.production_class and self.approvals.github_environment is None:
            raise ValueError("a production-class environment needs approvals.github_environment")
        if self.cloud is not Cloud.LOCAL and not self.ephemeral and self.disaster_recovery is None:
            raise ValueError("a lasting cloud environment needs disaster_recovery targets")
        if self.delivery is Delivery.GITOPS and self.kustomize is None:
            raise ValueError("gitops delivery needs a kustomize overlay")
        if self.cloud is not Cloud.LOCAL and not self.cluster.shared_with and self.terraform is None:
            raise ValueError("a cloud environment owning its cluster needs a terraform stack")
        owner = self.cloud is not Cloud.LOCAL and not self.cluster.shared_with
        if owner and self.cluster.api_access is None:
            raise ValueError(
                "cluster.api_access: a cloud environment owning its cluster says how delivery reaches it"
            )
        if not owner and self.cluster.api_access is not None:
            raise ValueError("cluster.api_access belongs to the cluster's owner")
        livekit = self.namespaces.get(NamespaceRole.LIVEKIT)
        others = {name for role, name in self.namespaces.items() if role is not NamespaceRole.LIVEKIT}
        if livekit in others:
            # host networking needs the privileged Pod Security level; nothing else may share it
            raise ValueError(f"namespaces: livekit namespace {livekit!r} must not host another role")
        if self.delivery is Delivery.TERRAFORM and self.terraform is None:
            raise ValueError("terraform delivery needs a terraform stack")
        public_pools = any(pool.public for pool in self.cluster.node_pools)
        if public_pools and self.cloud not in (Cloud.AWS, Cloud.AZURE):
            raise ValueError("cluster.node_pools: public is for EKS and AKS pools (every LKE node is public)")
        if self.ingress is not None:
            if self.terraform is None:
                raise ValueError("ingress: public routes need a dns_zone (terraform.dns_zone)")
            for route in self.ingress.routes:
                if route.role not in self.namespaces:
                    raise ValueError(f"ingress.routes {route.name}: no {route.role} namespace to route to")
        return self


ModelT = TypeVar("ModelT", bound=BaseModel)


class UnknownEnvironment(OpsError):
    pass


class InvalidEnvironment(OpsError):
    pass


def _format_error(path: Path, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{field}: {message}")
    relative = shown(path)
    return f"{relative}: " + "; ".join(problems)


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML reader for files we own: a key given twice is an error, never "last one wins"."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path, error: type[OpsError]) -> object:
    """One YAML file we own, strictly: a syntax error or a duplicate key raises `error` naming
    the file and the line."""
    relative = shown(path)
    try:
        return yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark else ""
        reason = getattr(problem, "problem", None) or "not valid YAML"
        raise error(f"{relative}:{where} {reason}") from problem


def load_validated(path: Path, model: type[ModelT], error: type[OpsError]) -> ModelT:
    """A YAML file we own against its strict model; every problem named by field, in one line."""
    data = load_yaml(path, error)
    try:
        # JSON mode: strict types, yet YAML lists and strings fill tuples, enums and dates
        return model.model_validate_json(json.dumps(data, default=str))
    except ValidationError as problem:
        fields = "; ".join(
            ".".join(str(part) for part in item["loc"]) + ": " + item["msg"] for item in problem.errors()
        )
        raise error(f"{shown(path)}: {fields}") from problem


def parse_file(path: Path) -> Environment:
    """Load and validate one registry file; errors name the file and the field."""
    relative = shown(path)
    data = load_yaml(path, InvalidEnvironment)
    if not isinstance(data, dict):
        raise InvalidEnvironment(f"{relative}: expected a mapping at the top level")
    try:
        # JSON mode: strict types, yet YAML lists and strings fill tuples and enums
        environment = Environment.model_validate_json(json.dumps(data, default=str))
    except ValidationError as error:
        raise InvalidEnvironment(_format_error(path, error)) from error
    if environment.name != path.stem:
        raise InvalidEnvironment(f"{relative}: name: {environment.name!r} differs from the file name")
    return environment


def registry_file(name: str, directory: Path | None = None) -> Path:
    return (directory or ENVIRONMENTS_DIR) / f"{name}.yaml"


def resolved_file(name: str) -> Path:
    """The environment resolved (voiceops/resolved.py), beside the registry it is generated from."""
    return ENVIRONMENTS_DIR / "resolved" / f"{name}.json"


def names(directory: Path | None = None) -> list[str]:
    return sorted(path.stem for path in (directory or ENVIRONMENTS_DIR).glob("*.yaml"))


def load(name: str, directory: Path | None = None) -> Environment:
    return _load(name, directory or ENVIRONMENTS_DIR)


@cache
def _load(name: str, directory: Path) -> Environment:
    path = registry_file(name, directory)
    if not path.is_file():
        valid = ", ".join(names(directory))
        raise UnknownEnvironment(f"unknown environment {name!r}; valid environments: {valid}")
    return parse_file(path)


def load_all(directory: Path | None = None) -> list[Environment]:
    environments = [load(name, directory) for name in names(directory)]
    check_registry(environments)
    return environments


def check_registry(environments: list[Environment]) -> None:
    """Rules that span files: a shared cluster must be owned by the environment it names."""
    by_name = {environment.name: environment for environment in environments}
    for environment in environments:
        for owner_name in environment.cluster.shared_with:
            owner = by_name.get(owner_name)
            where = f"environments/{environment.name}.yaml: cluster.shared_with"
            if owner is None:
                raise InvalidEnvironment(f"{where}: names unknown environment {owner_name!r}")
            if owner.cluster.shared_with:
                raise InvalidEnvironment(f"{where}: {owner_name} does not own its cluster")
            if (owner.cluster.name, owner.cluster.kubernetes_version) != (
                environment.cluster.name,
                environment.cluster.kubernetes_version,
            ):
                raise InvalidEnvironment(f"{where}: cluster name or version differs from {owner_name}'s")
            if owner.cloud != environment.cloud:
                raise InvalidEnvironment(f"{where}: {owner_name} is on another cloud")


def cluster_owner(environment: Environment) -> Environment:
    """The environment whose Terraform stack owns this environment's cluster."""
    if environment.cluster.shared_with:
        return load(environment.cluster.shared_with[0])
    return environment


def delivery_runners() -> dict[str, list[str]]:
    """Environment -> the runner labels its delivery jobs run on: those of its cluster's owner
    (none for local, which no workflow delivers)."""
    runners = {}
    for environment in load_all():
        access = cluster_owner(environment).cluster.api_access
        if access is not None:
            runners[environment.name] = list(access.runner_labels)
    return runners


def summary_row(environment: Environment) -> list[str]:
    recovery = environment.disaster_recovery
    targets = f"{duration(recovery.rto_seconds)} / {duration(recovery.rpo_seconds)}" if recovery else "-"
    region = environment.regions.primary
    if environment.regions.secondary:
        region += " (+" + ", ".join(environment.regions.secondary) + ")"
    if environment.regions.disaster_recovery:
        region += f" (DR {environment.regions.disaster_recovery})"
    return [
        environment.name,
        environment.cloud.value,
        environment.delivery.value,
        region,
        environment.cluster.name,
        environment.cluster.kubernetes_version,
        str(environment.approvals.required),
        targets,
    ]


def to_yaml(environment: Environment) -> str:
    return yaml.safe_dump(environment.model_dump(mode="json", exclude_defaults=False), sort_keys=False)
