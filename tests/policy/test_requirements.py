"""Seed requirements as data (infra/seed-requirements.yaml): every row's check holds and fails
once what it reads is taken away; checks read modules, not files; the file's schema and the
task reject what is malformed, unreasoned or broken, naming the row."""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
import yaml
from invoke import Context
from invoke.exceptions import Exit

from voiceops import infra_policy
from voiceops.tasks import tf

INFRA = infra_policy.INFRA
REQUIREMENTS = {item.id: item for item in infra_policy.load_requirements()}
CHECKED = sorted(name for name, item in REQUIREMENTS.items() if item.check is not None)
ROW = {
    "id": "vpc-cidr",
    "seed": "003",
    "section": "Network Architecture",
    "requirement": "VPC 10.0.0.0/16",
    "status": "implemented",
    "where": {"file": "environments/live.yaml", "field": "network.cidr"},
    "check": {"equals": "10.0.0.0/16"},
}


@pytest.fixture(scope="module")
def tree():
    return infra_policy.load_tree()


@pytest.mark.parametrize("requirement_id", CHECKED)
def test_requirement_holds(tree, requirement_id):
    assert infra_policy.problem(tree, REQUIREMENTS[requirement_id]) is None


@pytest.mark.parametrize("requirement_id", CHECKED)
def test_check_fails_once_the_requirement_is_taken_away(tree, requirement_id):
    broken = copy.deepcopy(tree)
    infra_policy.violate(broken, REQUIREMENTS[requirement_id])
    assert infra_policy.problem(broken, REQUIREMENTS[requirement_id]) is not None


@pytest.mark.parametrize(
    "where",
    [
        {"file": "charts/releases.yaml", "field": "releases.jaeger"},
        {"module": "modules/aws/postgresql", "address": "aws_db_instance.standby"},
        {"module": "modules/aws/postgresql", "address": "aws_db_instance.this", "attribute": "iops"},
    ],
)
def test_an_absent_check_fails_once_something_is_put_there(tree, where):
    row = infra_policy.Requirement.model_validate_json(
        json.dumps({**ROW, "where": where, "check": {"absent": True}})
    )
    assert infra_policy.problem(tree, row) is None
    broken = copy.deepcopy(tree)
    infra_policy.violate(broken, row)
    assert infra_policy.problem(broken, row) is not None


def test_every_deviation_and_exclusion_has_its_reason():
    for item in REQUIREMENTS.values():
        assert (item.status is infra_policy.Status.IMPLEMENTED) == (item.reason is None), item.id


def test_a_caller_overriding_a_required_default_is_caught(tree):
    broken = copy.deepcopy(tree)
    broken.module("modules/aws/platform")["module"]["postgresql"]["multi_az"] = False
    problems = {outcome.requirement.id: outcome.problem for outcome in infra_policy.evaluate(broken)}
    broken_rows = {name: problem for name, problem in problems.items() if problem}
    assert list(broken_rows) == ["rds-multi-az"]
    assert "modules/aws/platform module.postgresql: " in broken_rows["rds-multi-az"]


@pytest.mark.parametrize(
    ("file", "old", "new", "broken"),
    [
        ("modules/aws/postgresql/main.tf", "multi_az               = var.multi_az", "multi_az = false",
         "rds-multi-az-from-input"),
        ("modules/aws/postgresql/variables.tf", "default     = 30", "default     = 7",
         "rds-backup-retention"),
        ("modules/aws/redis/variables.tf", "default     = 3\n", "default     = 2\n",
         "redis-three-shards"),
        ("modules/azure/key-vault/main.tf", "purge_protection_enabled      = true",
         "purge_protection_enabled      = false", "key-vault-purge-protection"),
    ],
)  # fmt: skip
def test_editing_the_hcl_breaks_the_gate(tmp_path, file, old, new, broken):
    """Change the text of a .tf file and the requirements gate fails, naming the row."""
    copy_root = tmp_path / "terraform"
    shutil.copytree(INFRA, copy_root, ignore=shutil.ignore_patterns(".terraform"))
    target = copy_root / file
    assert target.read_text().count(old) == 1, f"{old!r} must occur once in {file}"
    target.write_text(target.read_text().replace(old, new))
    outcomes = infra_policy.evaluate(infra_policy.load_tree(copy_root))
    with pytest.raises(infra_policy.RequirementsBroken, match=rf"\b{re.escape(broken)} \("):
        infra_policy.enforce(outcomes)


def cut_block(text: str, opening: str) -> tuple[str, str]:
    """The top-level block that starts with `opening`, and the text without it."""
    start = text.index(opening)
    depth = 0
    for position in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0 and text[position] == "}":
            return text[start : position + 1], text[:start] + text[position + 1 :]
    raise ValueError(f"{opening} is not closed")


def test_results_do_not_depend_on_which_file_holds_a_block(tmp_path):
    """Move the database and one of its variables into a new file, rename main.tf: every row
    reads the same values as before."""
    copy_root = tmp_path / "terraform"
    shutil.copytree(INFRA, copy_root, ignore=shutil.ignore_patterns(".terraform"))
    module = copy_root / "modules" / "aws" / "postgresql"
    database, main = cut_block((module / "main.tf").read_text(), 'resource "aws_db_instance" "this" {')
    variable, variables = cut_block((module / "variables.tf").read_text(), 'variable "multi_az" {')
    (module / "main.tf").unlink()
    (module / "postgresql.tf").write_text(main)
    (module / "variables.tf").write_text(variables)
    (module / "database.tf").write_text(f"{database}\n\n{variable}\n")

    moved = infra_policy.load_tree(copy_root)
    assert "modules/aws/postgresql/main.tf" not in moved.infra
    on_the_module = {
        name
        for name, item in REQUIREMENTS.items()
        if item.where and item.where.module == "modules/aws/postgresql"
    }
    assert {"rds-multi-az", "rds-multi-az-from-input", "rds-encrypted"} <= on_the_module
    before = {outcome.requirement.id: outcome.problem for outcome in infra_policy.evaluate()}
    after = {outcome.requirement.id: outcome.problem for outcome in infra_policy.evaluate(moved)}
    assert after == before
    assert all(after[name] is None for name in on_the_module)


def write_rows(tmp_path, *rows):
    path = tmp_path / "seed-requirements.yaml"
    path.write_text(yaml.safe_dump({"requirements": list(rows)}, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "deviates"}, r"requirements\[0\] \(vpc-cidr\): status deviates needs a reason"),
        ({"status": "out-of-scope", "where": None, "check": None}, r"out-of-scope needs a reason"),
        ({"statuz": "implemented"}, r"requirements\[0\] \(vpc-cidr\): statuz: unknown field"),
        ({"where": {**ROW["where"], "fiel": "network"}}, r"\(vpc-cidr\): where\.fiel: unknown field"),
        ({"check": {"equalz": 1}}, r"check\.equalz: unknown field"),
        ({"check": {"equals": 1, "at_least": 1}}, r"check: give exactly one operator"),
        ({"check": {"at_least": "many"}}, r"check\.at_least: "),
        ({"where": {"module": "modules/aws/redis", "address": "main.tf"}}, r"'main\.tf' is no Terraform"),
        ({"where": {**ROW["where"], "field": "network..cidr"}}, r"where\.field: .* is no path"),
        ({"where": {"file": "environments/live.yaml"}}, r"where: give module \+ address"),
        ({"where": None, "check": None}, r"implemented requirement needs where and check"),
        ({"check": None}, r"where and check go together"),
        ({"reason": "it is"}, r"implemented requirement takes no reason"),
        ({"seed": 3}, r"requirements\[0\] \(vpc-cidr\): seed: "),
    ],
)
def test_a_malformed_row_is_named_with_its_file_and_field(tmp_path, change, message):
    row = {key: value for key, value in {**ROW, **change}.items() if value is not None}
    path = write_rows(tmp_path, row)
    with pytest.raises(infra_policy.InvalidRequirements, match=message) as raised:
        infra_policy.load_requirements(path)
    assert raised.value.message.startswith(f"{path}: ")


def test_an_id_given_twice_is_rejected(tmp_path):
    with pytest.raises(infra_policy.InvalidRequirements, match="id vpc-cidr given twice"):
        infra_policy.load_requirements(write_rows(tmp_path, ROW, ROW))


def test_the_task_fails_on_a_reasonless_row_naming_it(tmp_path, monkeypatch):
    reasonless = {**ROW, "id": "tracing", "status": "deviates"}
    monkeypatch.setattr(infra_policy, "REQUIREMENTS_FILE", write_rows(tmp_path, ROW, reasonless))
    with pytest.raises(Exit) as raised:
        tf.requirements(Context())
    assert raised.value.code == 1
    expected = r"error: \S+: requirements\[1\] \(tracing\): status deviates needs a reason"
    assert re.fullmatch(expected, raised.value.message)


def test_the_task_fails_on_an_implemented_row_whose_check_fails(tmp_path, monkeypatch, capsys):
    wrong = {**ROW, "id": "vpc-cidr-elsewhere", "check": {"equals": "10.9.0.0/16"}}
    monkeypatch.setattr(infra_policy, "REQUIREMENTS_FILE", write_rows(tmp_path, ROW, wrong))
    with pytest.raises(Exit) as raised:
        tf.requirements(Context(), json=True)
    assert raised.value.code == 1
    assert "1 seed requirement(s) broken: vpc-cidr-elsewhere (environments/live.yaml network.cidr is" in (
        raised.value.message
    )
    rows = yaml.safe_load(capsys.readouterr().out)
    results = [(row["id"], row["result"]) for row in rows]
    assert results == [("vpc-cidr", "ok"), ("vpc-cidr-elsewhere", "broken")]
