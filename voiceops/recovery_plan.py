"""`invoke dr.plan`: can each environment's recovery meet its targets, on paper?

infra/recovery.yaml lists, per scenario, the recovery mechanisms each cloud has, with the best
case each can give and where the repository builds it. For an environment, a mechanism counts
only when it exists on the environment's cloud, the environment sets what it requires, and
every check of its evidence holds. A scenario is met when one counted mechanism meets both
the RTO and the RPO target; otherwise it is a gap, unless a deviation of the file says why it
is accepted. A deviation for a scenario that is met is stale. The drills measure; this plans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from voiceops import environments, infra_policy
from voiceops.drills import SCENARIOS
from voiceops.environments import Cloud, Environment, Strict, load_yaml
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT, shown

PLAN_FILE = ROOT / "infra" / "recovery.yaml"
Scenario = Literal[
    "database-failure", "cache-failure", "broker-failure", "cluster-failure", "region-failover"
]


class InvalidPlan(OpsError):
    pass


class PlanFailed(OpsError):
    pass


class Mechanism(Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    scenario: Scenario
    clouds: tuple[Cloud, ...] = Field(min_length=1)
    description: str = Field(min_length=10)
    rto_seconds: int = Field(ge=0)
    rpo_seconds: int = Field(ge=0)
    basis: str = Field(min_length=10)
    requires: tuple[str, ...] = ()  # registry fields (dotted) the environment must set
    evidence: tuple[infra_policy.Evidence, ...] = Field(min_length=1)


class Deviation(Strict):
    environment: str
    scenario: Scenario
    reason: str = Field(min_length=40)


class PlanFile(Strict):
    mechanisms: tuple[Mechanism, ...]
    deviations: tuple[Deviation, ...] = ()

    @model_validator(mode="after")
    def unique(self) -> PlanFile:
        ids = [item.id for item in self.mechanisms]
        if len(ids) != len(set(ids)):
            raise ValueError("a mechanism id is given twice")
        pairs = [(item.environment, item.scenario) for item in self.deviations]
        if len(pairs) != len(set(pairs)):
            raise ValueError("a deviation is given twice for one environment and scenario")
        return self


def load(path: Path = PLAN_FILE) -> PlanFile:
    data = load_yaml(path, InvalidPlan)
    try:
        plan = PlanFile.model_validate_json(json.dumps(data, default=str))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        )
        raise InvalidPlan(f"{shown(path)}: {problems}") from None
    known = {item.name for item in environments.load_all()}
    for deviation in plan.deviations:
        if deviation.environment not in known:
            raise InvalidPlan(f"{shown(path)}: deviation for unknown environment {deviation.environment}")
    return plan


@dataclass(frozen=True)
class Candidate:
    mechanism: Mechanism
    missing: tuple[str, ...]  # why it does not count here: unset registry fields, failing checks

    @property
    def counts(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class Assessment:
    environment: str
    scenario: str
    rto_target: int
    rpo_target: int
    candidates: tuple[Candidate, ...]
    deviation: str | None

    @property
    def meeting(self) -> Mechanism | None:
        """The counted mechanism that meets both targets with the smallest RTO."""
        fitting = [
            item.mechanism for item in self.candidates
            if item.counts and item.mechanism.rto_seconds <= self.rto_target
            and item.mechanism.rpo_seconds <= self.rpo_target
        ]  # fmt: skip
        return min(fitting, key=lambda item: (item.rto_seconds, item.rpo_seconds), default=None)

    @property
    def best(self) -> Mechanism | None:
        """What the plan shows: the meeting mechanism, else the counted one closest to the targets."""
        counted = [item.mechanism for item in self.candidates if item.counts]
        return self.meeting or min(
            counted, key=lambda item: (item.rpo_seconds, item.rto_seconds), default=None
        )

    @property
    def status(self) -> str:
        if self.meeting is not None:
            return "stale deviation" if self.deviation else "met"
        return "deviation" if self.deviation else "gap"

    @property
    def passed(self) -> bool:
        return self.status in ("met", "deviation")

    def as_json(self) -> dict:
        best = self.best
        not_counted = {item.mechanism.id: list(item.missing) for item in self.candidates if not item.counts}
        return {
            "environment": self.environment, "scenario": self.scenario, "status": self.status,
            "rto_target_seconds": self.rto_target, "rpo_target_seconds": self.rpo_target,
            "mechanism": best.id if best else None,
            "rto_seconds": best.rto_seconds if best else None,
            "rpo_seconds": best.rpo_seconds if best else None,
            "basis": best.basis if best else None,
            "deviation": self.deviation,
            "not_counted": not_counted,
        }  # fmt: skip


def _registry_value(environment: Environment, dotted: str) -> object:
    value: object = environment.model_dump(mode="json")
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def candidate(environment: Environment, mechanism: Mechanism, tree: infra_policy.Tree) -> Candidate:
    missing = [f"environments/{environment.name}.yaml sets no {field}" for field in mechanism.requires
               if _registry_value(environment, field) in (None, "", [], {})]  # fmt: skip
    missing += [found for item in mechanism.evidence if (found := infra_policy.problem(tree, item))]
    return Candidate(mechanism, tuple(missing))


def assess(
    environment: Environment, plan: PlanFile | None = None, tree: infra_policy.Tree | None = None
) -> list[Assessment]:
    """Each scenario of an environment with recovery targets, against the mechanisms it has."""
    target = environment.disaster_recovery
    if target is None or environment.cloud is Cloud.LOCAL:
        return []
    plan, tree = plan or load(), tree or infra_policy.load_tree()
    deviations = {(item.environment, item.scenario): item.reason for item in plan.deviations}
    assessments = []
    for scenario in SCENARIOS:
        candidates = tuple(
            candidate(environment, item, tree) for item in plan.mechanisms
            if item.scenario == scenario and environment.cloud in item.clouds
        )  # fmt: skip
        assessments.append(Assessment(
            environment.name, scenario, target.rto_seconds, target.rpo_seconds, candidates,
            deviations.get((environment.name, scenario)),
        ))  # fmt: skip
    return assessments


def planned(environment: Environment) -> bool:
    """Whether the plan covers the environment: a cloud environment with recovery targets."""
    return environment.disaster_recovery is not None and environment.cloud is not Cloud.LOCAL


def failures(assessments: list[Assessment]) -> list[Assessment]:
    return [item for item in assessments if not item.passed]


def stray_deviations(plan: PlanFile) -> list[str]:
    """Deviations for an environment the plan does not cover (local, or no targets)."""
    covered = {item.name for item in environments.load_all() if planned(item)}
    return [
        f"{item.environment} {item.scenario}" for item in plan.deviations if item.environment not in covered
    ]
