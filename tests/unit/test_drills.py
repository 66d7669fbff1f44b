"""dr.drill without servers: the RPO arithmetic, the report, and every refusal (nothing destroyed).
The drills themselves run against real servers in tests/integration."""

import json
import time

import pytest

from voiceops import drills, environments, protection
from voiceops.errors import OpsError
from voiceops.runs import ApprovalRequired, EnvironmentLock, EnvironmentLocked

FAILED_AT = 1_000.0


def written(count: int, every: float = 0.1) -> dict[int, float]:
    """Canary writes acknowledged every `every` seconds up to just before the failure."""
    return {n: FAILED_AT - (count - n + 1) * every for n in range(1, count + 1)}


def test_nothing_lost_gives_the_age_of_the_last_write():
    acknowledged = written(10)
    result = drills.measure(acknowledged, set(acknowledged), FAILED_AT)
    assert (result.returned, result.lost, result.lost_older_than_rpo) == (10, 0, 0)
    assert result.rpo_seconds == pytest.approx(0.1)


def test_a_lost_tail_is_the_rpo_and_not_a_gap():
    acknowledged = written(10)
    result = drills.measure(acknowledged, set(range(1, 7)), FAILED_AT)
    assert (result.returned, result.lost, result.lost_older_than_rpo) == (6, 4, 0)
    assert result.rpo_seconds == pytest.approx(0.5)  # write 6 was 0.5 s old at the failure


def test_a_write_lost_before_one_that_came_back_is_a_gap():
    acknowledged = written(10)
    result = drills.measure(acknowledged, set(range(1, 11)) - {3}, FAILED_AT)
    assert result.lost_older_than_rpo == 1


def test_nothing_back_has_no_rpo():
    result = drills.measure(written(5), set(), FAILED_AT)
    assert result.rpo_seconds is None and result.returned == 0


def test_writes_the_server_never_acknowledged_do_not_count():
    result = drills.measure(written(3), {1, 2, 3, 4, 5}, FAILED_AT)
    assert (result.acknowledged, result.returned) == (3, 3)


def test_a_canary_counts_only_acknowledged_writes_and_stops_at_its_first_failure():
    calls = []

    def connect():
        def write(sequence: int, at: float) -> None:
            calls.append(sequence)
            if sequence == 5:
                raise ConnectionError("server gone")

        return write

    canary = drills.Canary(connect, interval=0.001)
    canary.start()
    deadline = time.monotonic() + 5
    while len(calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    canary.stop()
    canary.join()
    assert sorted(canary.acknowledged) == [1, 2, 3, 4]
    assert calls == [1, 2, 3, 4, 5] and "server gone" in canary.error


def report(**changes) -> drills.Report:
    result = drills.Report(
        "abc", "database-failure", "local", "0" * 40, "postgres", "WAL", "2026-01-01T00:00:00+00:00"
    )
    result.phases = [drills.Phase("prepare", "2026-01-01T00:00:00+00:00", 2.0, "ready")]
    result.rto, result.rpo = drills.Target(3.0, 120, True), drills.Target(0.01, 5, True)
    result.canary = drills.measure(written(10), set(written(10)), FAILED_AT)
    result.data = {"roles": {"before": "27 roles", "after": "27 roles", "match": True}}
    result.result = "pass"
    for name, value in changes.items():
        setattr(result, name, value)
    return result


def test_a_report_is_one_json_and_one_markdown_file_and_status_finds_the_newest(isolated_state):
    older = report()
    older.write()
    newer = report(started="2026-01-02T00:00:00.250+00:00", result="fail", problems=["RTO 200.0s misses"])
    json_path, markdown_path = newer.write()
    assert json.loads(json_path.read_text())["rto"] == {
        "achieved_seconds": 3.0,
        "target_seconds": 120,
        "met": True,
    }
    text = markdown_path.read_text()
    assert text.startswith("# Drill database-failure on local: FAIL")
    assert "| roles | 27 roles | 27 roles | yes |" in text and "- RTO 200.0s misses" in text
    assert json_path.name == "20260102T000000250000Z-local-database-failure.json"
    assert drills.last_report("local")["started"] == "2026-01-02T00:00:00.250+00:00"
    assert drills.last_report("live") is None


def test_the_summary_line_gives_rto_rpo_and_the_canary():
    line = drills.summary(report())
    assert line == (
        "database-failure on local: pass; RTO 3.0s (target 120s), RPO 0.010s (target 5s); "
        "10/10 canary writes came back"
    )


def audit_results(state) -> list[str]:
    return [json.loads(path.read_text())["result"] for path in sorted((state / "audit").glob("*.json"))]


def test_an_unknown_scenario_or_environment_is_refused_before_anything():
    with pytest.raises(OpsError, match="unknown scenario 'flood'; one of: database-failure"):
        drills.drill("local", "flood", None, False)
    with pytest.raises(OpsError, match="nowhere"):
        drills.drill("nowhere", "database-failure", None, False)


def test_a_production_class_drill_without_approval_is_refused_and_recorded(isolated_state):
    with pytest.raises(ApprovalRequired) as refused:
        drills.drill("production", "database-failure", None, False)
    assert refused.value.exit_code == 3
    assert audit_results(isolated_state) == ["refused"]


def test_a_drill_while_a_deploy_holds_the_environment_is_refused(isolated_state):
    with EnvironmentLock("local"), pytest.raises(EnvironmentLocked) as refused:
        drills.drill("local", "database-failure", None, False)
    assert refused.value.exit_code == 4


@pytest.mark.parametrize(
    ("name", "scenario", "reason"),
    [
        ("local", "database-failure", "the servers are not all running"),
        ("local", "cluster-failure", "no Kubernetes cluster to lose"),
        ("local", "region-failover", "nothing to fail over to"),
        ("staging", "database-failure", "which no emulator here can stand in for"),
        ("azure-production", "region-failover", "which no emulator here can stand in for"),
    ],
)
def test_what_an_environment_cannot_run_stops_with_exit_5(isolated_state, name, scenario, reason):
    with pytest.raises(OpsError) as stopped:
        drills.drill(name, scenario, name, False)
    assert stopped.value.exit_code == 5 and reason in stopped.value.message
    assert "nothing" in stopped.value.message and "destroyed" in stopped.value.message
    assert not drills.reports_dir().exists()


def test_snapshots_are_found_by_their_time_and_only_the_newest_are_kept(isolated_state):
    for _ in range(protection.KEEP + 2):
        protection._keep(
            "redis", protection.datetime.now(protection.UTC), lambda path: path.write_text("x"), "rdb"
        )
    found = protection.snapshots("redis")
    assert len(found) == protection.KEEP
    assert [item.taken for item in found] == sorted(item.taken for item in found)
    assert protection.newest("redis") == found[-1] and found[-1].age < 60
    assert not list((protection.snapshot_dir() / "redis").glob(".*"))  # no temporary file left


def test_a_restore_time_needs_its_offset_and_a_known_server(isolated_state):
    assert drills.parse_time("2026-12-04T13:30:00+01:00").utcoffset().total_seconds() == 3600
    with pytest.raises(OpsError, match="give the time's offset too"):
        drills.parse_time("2026-12-04T13:30:00")
    with pytest.raises(OpsError, match="not an ISO 8601 time"):
        drills.parse_time("yesterday")
    with pytest.raises(OpsError, match="unknown server 'mysql'; one of: postgres, redis, rabbitmq"):
        drills.restore("local", "mysql", None, False, None)


def test_a_restore_on_a_cloud_or_without_the_local_environment_stops_with_exit_5(isolated_state):
    for name, reason in (("staging", "not built yet"), ("local", "no layout file")):
        with pytest.raises(OpsError) as stopped:
            drills.restore(name, "postgres", None, False, name)
        assert stopped.value.exit_code == 5 and reason in stopped.value.message
    assert audit_results(isolated_state) == ["failed", "failed"]


def test_drills_fall_due_as_each_registry_entry_schedules_them():
    scheduled = {
        e.name: e.disaster_recovery.drill_schedule for e in environments.load_all() if e.disaster_recovery
    }
    assert scheduled["azure-production"] == "monthly" and scheduled["local"] == "none"
    february, april = set(drills.due(2)), set(drills.due(4))
    assert february == {name for name, schedule in scheduled.items() if schedule == "monthly"}
    assert april == {name for name, schedule in scheduled.items() if schedule != "none"}
    assert "live" in april and "live" not in february and "local" not in april
    with pytest.raises(OpsError, match="--month must be 1 to 12"):
        drills.due(13)
