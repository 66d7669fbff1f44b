"""The gate's own checks fail when what they check is broken, and CI runs the README's gate."""

import re
import subprocess
from pathlib import Path

import yaml

from voiceops import drills
from voiceops import environments as registry
from voiceops.toolchain import ROOT, tool_env

GOOD_STEP = "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2\n"


def workflow(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "wf.yml"
    path.write_text(body)
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=tool_env(), timeout=120)


def base(steps: str, jobs_extra: str = "") -> str:
    return (
        "name: t\non: [pull_request]\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        f"    permissions:\n      contents: read\n{jobs_extra}    steps:\n{steps}"
        "        with:\n          persist-credentials: false\n"
    )


def test_schema_check_passes_a_valid_workflow_and_rejects_a_broken_one(tmp_path):
    good = workflow(tmp_path, base(GOOD_STEP))
    assert run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(good)).returncode == 0
    broken = workflow(tmp_path, base(GOOD_STEP, jobs_extra="    runs_on_typo: x\n"))
    assert run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(broken)).returncode != 0


def test_zizmor_rejects_an_action_pinned_by_tag(tmp_path):
    pinned = workflow(tmp_path, base(GOOD_STEP))
    assert run("zizmor", "--offline", "--min-severity", "low", str(pinned)).returncode == 0
    unpinned = workflow(tmp_path, base("      - uses: actions/checkout@v4\n"))
    result = run("zizmor", "--offline", "--min-severity", "low", str(unpinned))
    assert result.returncode != 0
    assert "unpinned" in result.stdout + result.stderr


def readme_quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```(?:\w+)?\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_quick_start_has_two_commands_and_ci_runs_the_second():
    commands = readme_quick_start()
    assert len(commands) == 2
    assert "invoke deploy --env local" in commands[0]
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci_script


def test_deploy_workflow_keeps_production_behind_approved_environments():
    workflow = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    continuous = workflow["jobs"]["continuous"]["strategy"]["matrix"]["environment"]
    assert continuous == ["sandbox", "development"]
    assert not any(registry.load(name).production_class for name in continuous)
    approved = workflow["jobs"]["approved"]
    assert approved["environment"] == "${{ inputs.environment }}"
    deploy_step = next(step for step in approved["steps"] if step.get("name") == "deploy")
    assert deploy_step["env"]["VOICEOPS_APPROVED_ENVIRONMENT"] == "${{ inputs.environment }}"
    assert "VOICEOPS_APPROVED_ENVIRONMENT" not in str(workflow["jobs"]["continuous"])


def test_terraform_workflow_plans_every_stack_and_applies_only_behind_environments():
    workflow = yaml.safe_load((ROOT / ".github/workflows/terraform.yml").read_text())
    stacks = {env.name for env in registry.load_all() if env.terraform}
    for job in ("plan", "apply"):
        assert {
            item["environment"] for item in workflow["jobs"][job]["strategy"]["matrix"]["include"]
        } == stacks
        for item in workflow["jobs"][job]["strategy"]["matrix"]["include"]:
            assert item["cloud"] == registry.load(item["environment"]).cloud.value
    apply = workflow["jobs"]["apply"]
    assert (
        apply["environment"] == "${{ matrix.environment }}" and apply["if"] == "github.event_name == 'push'"
    )
    step = next(step for step in apply["steps"] if step.get("name") == "apply the reviewed plan")
    assert step["env"]["VOICEOPS_APPROVED_ENVIRONMENT"] == "${{ matrix.environment }}"
    assert "tf.apply" in step["run"]
    assert "VOICEOPS_APPROVED_ENVIRONMENT" not in str(workflow["jobs"]["plan"])
    # the saved plan travels from the plan job to the apply job
    assert any("download-artifact" in str(step.get("uses")) for step in apply["steps"])


CLUSTER_COMMANDS = (
    "invoke deploy",
    "invoke tf.plan",
    "invoke tf.apply",
    "invoke dr.drill",
    "invoke secrets.rotate",
)


def test_jobs_that_reach_a_cluster_run_on_its_self_hosted_runners():
    """A job that deploys or plans reaches the cluster's API server, which admits only the
    runners inside its network: its runs-on comes from the registry (invoke env.runners)."""
    checked = 0
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        jobs = yaml.safe_load(path.read_text())["jobs"]
        for name, job in jobs.items():
            commands = " ".join(str(step.get("run", "")) for step in job.get("steps", []))
            if not any(command in commands for command in CLUSTER_COMMANDS):
                continue
            checked += 1
            assert "route" in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"]), (
                path,
                name,
            )
            assert job["runs-on"].startswith("${{ fromJSON(needs.route.outputs.runners)["), (path, name)
    assert checked >= 6  # deploy (continuous, approved), terraform (plan, apply), dr-drills, secret-rotation


def test_drill_workflow_drills_what_the_registry_schedules_behind_approved_environments():
    workflow = yaml.safe_load((ROOT / ".github/workflows/dr-drills.yml").read_text())
    route, drill = workflow["jobs"]["route"], workflow["jobs"]["drill"]
    assert "invoke dr.due" in route["steps"][-1]["run"]  # the schedule is the registry's
    assert drill["strategy"]["matrix"]["environment"] == "${{ fromJSON(needs.route.outputs.environments) }}"
    assert drill["strategy"]["matrix"]["scenario"] == list(drills.SCENARIOS)
    assert drill["environment"] == "${{ matrix.environment }}"  # its reviewers approve the job
    assert drill["concurrency"]["group"] == "deploy-${{ matrix.environment }}"  # never beside a deploy
    step = next(step for step in drill["steps"] if step.get("name") == "drill")
    assert step["env"]["VOICEOPS_APPROVED_ENVIRONMENT"] == "${{ matrix.environment }}"
    assert "VOICEOPS_APPROVED_ENVIRONMENT" not in str(route)
    kept = next(step for step in drill["steps"] if "upload-artifact" in str(step.get("uses")))
    assert kept["if"] == "always()" and ".state/reports/dr/" in kept["with"]["path"]


def test_rotation_workflow_runs_behind_the_environments_reviewers_and_never_beside_a_deploy():
    workflow = yaml.safe_load((ROOT / ".github/workflows/secret-rotation.yml").read_text())
    assert set(workflow["on"]) == {"workflow_dispatch"}  # only on demand
    route, rotate = workflow["jobs"]["route"], workflow["jobs"]["rotate"]
    assert rotate["environment"] == "${{ inputs.environment }}"  # its reviewers approve the job
    assert rotate["concurrency"]["group"] == "deploy-${{ inputs.environment }}"
    step = next(step for step in rotate["steps"] if step.get("name") == "rotate")
    assert "invoke secrets.rotate" in step["run"] and "${{" not in step["run"]  # inputs only through env
    assert step["env"]["VOICEOPS_APPROVED_ENVIRONMENT"] == "${{ inputs.environment }}"
    assert "VOICEOPS_APPROVED_ENVIRONMENT" not in str(route)
    names = [step.get("name") for step in rotate["steps"]]
    assert names.index("audit") > names.index("rotate")  # seed 002: verified after the rotation
    # Linode keeps the values in git: a paused rotation's sealed values go to main through a pull
    # request, and its audit waits for the run that finishes it
    assert "paused=true" in step["run"] and "git status --porcelain -- secrets/sealed" in step["run"]
    proposed = rotate["steps"][names.index("propose the sealed values (Linode)")]
    assert names.index("rotate") < names.index("propose the sealed values (Linode)") < names.index("audit")
    assert "gh pr create --base main" in proposed["run"] and "${{" not in proposed["run"]
    # with a token of its own, so that the pull request's checks run; the job's own stays read-only
    assert proposed["env"]["GH_TOKEN"] == "${{ secrets.SECRET_ROTATION_TOKEN }}"
    assert rotate["permissions"]["contents"] == "read" and "x-access-token" not in proposed["run"]
    waiting = names.index("no rotation waiting on a pull request")
    # one rotation of an environment at a time: they change the same resolved environment
    assert (
        waiting < names.index("rotate")
        and 'startswith(\\"secret-rotation/$TARGET/\\")' in rotate["steps"][waiting]["run"]
    )
    assert 'branch="secret-rotation/$TARGET/$BUNDLE"' in proposed["run"]
    assert 'GIT_CONFIG_GLOBAL="$RUNNER_TEMP/' in proposed["run"]  # the runner user's git config untouched
    assert 'if [ "$GITHUB_REF" != "refs/heads/main" ]' in route["steps"][-1]["run"]  # from main only
    assert rotate["steps"][names.index("audit")]["if"] == "steps.rotate.outputs.paused != 'true'"
    kept = next(step for step in rotate["steps"] if "upload-artifact" in str(step.get("uses")))
    assert kept["if"] == "always()" and ".state/audit/" in kept["with"]["path"]
