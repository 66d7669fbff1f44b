"""Accepted findings in upstream charts: keyed by check, release and object, with a reason and an expiry."""

from datetime import date

import pytest
import yaml

from voiceops import scan, upstream_findings
from voiceops.scan import Finding

TEMPO = [
    {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "tempo", "namespace": "observability"},
    },
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "tempo", "namespace": "observability"},
        "spec": {
            "selector": {"matchLabels": {"app": "tempo"}},
            "template": {
                "metadata": {"labels": {"app": "tempo"}},
                "spec": {"containers": [{"name": "tempo", "image": "grafana/tempo:2.9.0"}]},
            },
        },
    },
]


def write_findings(path, rows):
    path.write_text(yaml.safe_dump({"findings": rows}, sort_keys=False))
    upstream_findings.load.cache_clear()
    return upstream_findings.load(path)


def row(check, objects, release="tempo", expires="2099-01-01"):
    reason = "the chart offers no value for it; upstream change requested"
    return {"check": check, "release": release, "objects": objects, "reason": reason, "expires": expires}


@pytest.fixture
def rendered(tmp_path):
    directory = tmp_path / "rendered" / "live"
    directory.mkdir(parents=True)
    (directory / "050-tempo.yaml").write_text("".join("---\n" + yaml.safe_dump(d) for d in TEMPO))
    return tmp_path / "rendered"


def test_trivy_findings_are_placed_on_their_object_and_accepted_by_exact_key(rendered, tmp_path):
    result = scan.trivy(rendered)
    where = {upstream_findings.located(finding, rendered) for finding in result.items}
    assert where == {("tempo", "Deployment/tempo")}
    first = result.items[0].check
    accepted = write_findings(tmp_path / "findings.yaml", [row(first, ["Deployment/tempo"])])
    applied = upstream_findings.apply(result, rendered, accepted)
    assert applied.suppressed == sum(1 for item in result.items if item.check == first) >= 1
    assert {item.check for item in applied.items} == {item.check for item in result.items} - {first}

    other_object = write_findings(tmp_path / "findings.yaml", [row(first, ["Deployment/loki"])])
    assert upstream_findings.apply(result, rendered, other_object).suppressed == 0


def test_a_trivy_finding_without_a_line_is_placed_on_the_object_its_message_names(tmp_path):
    directory = tmp_path / "rendered" / "live"
    directory.mkdir(parents=True)
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "temporal-config", "namespace": "platform"},
        "data": {"config.yaml": "persistence:\n  password: {{ .Env.STORE_PASSWORD }}\n"},
    }
    (directory / "055-temporal.yaml").write_text("---\n" + yaml.safe_dump(config))
    [finding] = [item for item in scan.trivy(directory).items if item.check == "KSV-0109"]
    assert finding.line == 0
    assert upstream_findings.located(finding, directory) == ("temporal", "ConfigMap/temporal-config")


def test_checkov_resources_name_their_object(rendered):
    finding = Finding(
        "CKV_K8S_43", "live/050-tempo.yaml", "Image should use digest", "Deployment.observability.tempo"
    )
    assert upstream_findings.located(finding, rendered) == ("tempo", "Deployment/tempo")
    outside = Finding("CKV_K8S_43", "live/overlay.yaml", "Image should use digest", "Deployment.x.tempo")
    assert upstream_findings.located(outside, rendered) is None


def test_our_own_charts_cannot_be_accepted_here(tmp_path):
    with pytest.raises(upstream_findings.InvalidFindings, match=r"platform is not an upstream release"):
        write_findings(
            tmp_path / "findings.yaml", [row("CKV_K8S_43", ["Deployment/api"], release="platform")]
        )


@pytest.mark.parametrize(
    ("change", "field"),
    [({"reason": "because"}, "reason"), ({"expires": "someday"}, "expires"), ({"objects": []}, "objects")],
)
def test_a_row_without_a_real_reason_date_or_object_is_refused(tmp_path, change, field):
    with pytest.raises(upstream_findings.InvalidFindings, match=rf"findings\.0\.{field}"):
        write_findings(tmp_path / "findings.yaml", [{**row("CKV_K8S_43", ["Deployment/tempo"]), **change}])


def test_an_expired_row_is_reported(tmp_path):
    accepted = write_findings(
        tmp_path / "findings.yaml", [row("CKV_K8S_43", ["Deployment/tempo"], expires="2026-01-31")]
    )
    assert upstream_findings.expired(accepted, date(2026, 1, 31)) == []
    [problem] = upstream_findings.expired(accepted, date(2026, 2, 1))
    assert problem.startswith("CKV_K8S_43 tempo expired on 2026-01-31")


def test_the_committed_file_is_valid():
    upstream_findings.load.cache_clear()
    upstream_findings.load()
