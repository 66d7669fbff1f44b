"""The recovery plan (infra/recovery.yaml, invoke dr.plan): every environment's targets are met
or carry a deviation; each mechanism stops counting once what its evidence reads is taken away,
and the scenario it met becomes a gap; stale and stray deviations fail; malformed files are
named."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from invoke import Context
from invoke.exceptions import Exit

from voiceops import environments, infra_policy, recovery_plan
from voiceops.drills import SCENARIOS
from voiceops.tasks import dr

PLAN = recovery_plan.load()
EVIDENCE = [(item.id, index) for item in PLAN.mechanisms for index in range(len(item.evidence))]
PLANNED = [item for item in environments.load_all() if recovery_plan.planned(item)]


@pytest.fixture(scope="module")
def tree():
    return infra_policy.load_tree()


def test_every_planned_environment_meets_each_target_or_says_why(tree):
    assert {item.name for item in PLANNED} == {
        "azure-production", "development", "live", "production", "sandbox", "staging"
    }  # fmt: skip
    for environment in PLANNED:
        assessments = recovery_plan.assess(environment, PLAN, tree)
        assert [item.scenario for item in assessments] == list(SCENARIOS)
        assert recovery_plan.failures(assessments) == [], environment.name
    assert recovery_plan.stray_deviations(PLAN) == []


def test_the_gaps_the_seeds_leave_are_recorded_not_hidden(tree):
    statuses = {
        (item.environment, item.scenario): item.status
        for environment in PLANNED for item in recovery_plan.assess(environment, PLAN, tree)
    }  # fmt: skip
    assert statuses[("live", "region-failover")] == "met"  # the recovery region is built
    assert statuses[("azure-production", "region-failover")] == "deviation"  # it is not
    assert statuses[("sandbox", "region-failover")] == "deviation"  # live alone has one


@pytest.mark.parametrize(("mechanism_id", "index"), EVIDENCE)
def test_a_mechanism_stops_counting_once_its_evidence_is_taken_away(tree, mechanism_id, index):
    mechanism = next(item for item in PLAN.mechanisms if item.id == mechanism_id)
    environment = next(item for item in PLANNED if item.cloud in mechanism.clouds)
    assert recovery_plan.candidate(environment, mechanism, tree).counts
    broken = copy.deepcopy(tree)
    infra_policy.violate(broken, mechanism.evidence[index])
    assert not recovery_plan.candidate(environment, mechanism, broken).counts


def test_without_its_replica_live_loses_region_failover(tree):
    mechanism = next(item for item in PLAN.mechanisms if item.id == "recovery-region-replica-promotion")
    broken = copy.deepcopy(tree)
    infra_policy.violate(broken, mechanism.evidence[0])
    [region] = [item for item in recovery_plan.assess(environments.load("live"), PLAN, broken)
                if item.scenario == "region-failover"]  # fmt: skip
    assert (region.status, region.best) == ("gap", None)
    assert "module.postgresql_replica" in region.as_json()["not_counted"][mechanism.id][0]


def test_a_mechanism_needs_what_it_requires_of_the_registry(tree):
    mechanism = next(item for item in PLAN.mechanisms if item.id == "recovery-region-replica-promotion")
    found = recovery_plan.candidate(environments.load("sandbox"), mechanism, tree)
    assert found.missing == ("environments/sandbox.yaml sets no regions.disaster_recovery",)


def test_a_deviation_for_a_met_target_is_stale(tree):
    stale = recovery_plan.Deviation(environment="live", scenario="database-failure", reason="x" * 40)
    plan = PLAN.model_copy(update={"deviations": (*PLAN.deviations, stale)})
    [database] = [item for item in recovery_plan.assess(environments.load("live"), plan, tree)
                  if item.scenario == "database-failure"]  # fmt: skip
    assert (database.status, database.passed) == ("stale deviation", False)


def test_a_target_missed_without_a_deviation_is_a_gap(tree):
    plan = PLAN.model_copy(update={"deviations": tuple(
        item for item in PLAN.deviations if (item.environment, item.scenario) != ("live", "cluster-failure")
    )})  # fmt: skip
    [cluster] = [item for item in recovery_plan.assess(environments.load("live"), plan, tree)
                 if item.scenario == "cluster-failure"]  # fmt: skip
    assert cluster.status == "gap"
    assert cluster.best is not None and cluster.best.rpo_seconds > cluster.rpo_target


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data["deviations"].append(dict(data["deviations"][0])), "a deviation is given twice"),
        (lambda data: data["deviations"][0].update(environment="qa"), "deviation for unknown environment qa"),
        (lambda data: data["mechanisms"][0].update(scenario="flood"), "mechanisms.0.scenario"),
        (lambda data: data["mechanisms"][0].update(evidence=[]), "mechanisms.0.evidence"),
        (lambda data: data["deviations"][0].update(reason="because"), "deviations.0.reason"),
    ],
)
def test_a_malformed_plan_is_named(tmp_path, change, message):
    data = yaml.safe_load(recovery_plan.PLAN_FILE.read_text())
    change(data)
    path = tmp_path / "recovery.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(recovery_plan.InvalidPlan, match=message):
        recovery_plan.load(path)


def test_the_task_prints_json_and_refuses_local(capsys):
    dr.plan(Context(), env="live", json=True)
    rows = json.loads(capsys.readouterr().out)
    assert [row["status"] for row in rows] == ["met", "met", "met", "deviation", "met"]
    assert rows[0]["mechanism"] == "rds-multi-az-failover"
    with pytest.raises(Exit) as raised:
        dr.plan(Context(), env="local")
    assert raised.value.code == 1 and "no recovery plan" in str(raised.value.message)
