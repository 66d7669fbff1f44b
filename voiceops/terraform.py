"""Terraform stacks: which stack builds an environment, where its state lives, and
fmt / test / plan / apply / destroy around the terraform CLI.

Plans are saved under build/terraform/<env>/ with their JSON and a metadata file;
apply only takes a saved plan made at the current commit, and production-class
environments need the approvals the registry names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from voiceops import cluster, environments, generate, output, scan, toolchain
from voiceops.environments import Cloud, Environment
from voiceops.errors import OpsError
from voiceops.runs import ApprovalRequired, AuditRecord, Run, Step, actor, git_commit
from voiceops.toolchain import ROOT, shown

INFRA = ROOT / "infra" / "terraform"
LOGIC_MODULES = INFRA / "modules" / "logic"
BUILD = toolchain.BUILD_ROOT / "terraform"
CLI_CONFIG = INFRA / "terraform.rc"
PLAN_MAX_AGE = timedelta(hours=24)

# What each cloud's provider reads for credentials; any one of a group is enough.
CREDENTIALS: dict[Cloud, tuple[tuple[str, ...], ...]] = {
    Cloud.AWS: (("AWS_ACCESS_KEY_ID",), ("AWS_PROFILE",), ("AWS_WEB_IDENTITY_TOKEN_FILE",)),
    Cloud.AZURE: (
        ("ARM_CLIENT_ID", "ARM_USE_OIDC"),
        ("ARM_CLIENT_ID", "ARM_CLIENT_SECRET"),
        ("ARM_USE_MSI",),
    ),
    # The Linode provider, and Object Storage keys for the S3-compatible state bucket
    Cloud.LINODE: (("LINODE_TOKEN", "AWS_ACCESS_KEY_ID"),),
}
CREDENTIAL_FILES = {
    Cloud.AWS: ("~/.aws/credentials", "~/.aws/config"),
    Cloud.AZURE: ("~/.azure/azureProfile.json",),
}


class TerraformUnavailable(OpsError):
    """Terraform cannot run here (binary, providers or credentials missing); nothing was changed."""

    exit_code = 5


class PlanRejected(OpsError):
    pass


@dataclass(frozen=True)
class Stack:
    environment: Environment  # the environment owning the stack (and its approvals)
    directory: Path

    @property
    def work_dir(self) -> Path:
        return BUILD / self.environment.name

    @property
    def plan_file(self) -> Path:
        return self.work_dir / "plan.tfplan"

    @property
    def plan_json(self) -> Path:
        return self.work_dir / "plan.json"

    @property
    def plan_meta(self) -> Path:
        return self.work_dir / "plan.meta.json"


def stack_for(name: str) -> Stack:
    """The stack building `name`; environments living in another's cluster are sent to the owner."""
    environment = environments.load(name)
    if environment.cluster.shared_with:
        owner = environment.cluster.shared_with[0]
        raise OpsError(
            f"{name} runs in {owner}'s cluster and has no stack of its own: use --env {owner} "
            f"(its approvals apply)"
        )
    if environment.terraform is None:
        raise OpsError(f"{name} has no Terraform stack ({environment.cloud.value} environment)")
    directory = ROOT / environment.terraform.stack
    if not (directory / "main.tf").is_file():
        raise OpsError(f"{environment.terraform.stack}: stack named by environments/{name}.yaml is missing")
    return Stack(environment, directory)


def linode_s3_endpoint(region: str) -> str:
    """The S3 API of Linode Object Storage in a region (its cluster is the region's first)."""
    return f"https://{region}-1.linodeobjects.com"


def backend_config(environment: Environment) -> dict[str, str]:
    """Where the stack keeps its state, derived from the registry (partial backend config)."""
    settings = environment.terraform
    if settings is None:
        raise OpsError(f"{environment.name} has no Terraform stack")
    base = f"{settings.workload}-{settings.stage}"
    region = environment.regions.primary
    if settings.state_backend == "s3":
        return {
            "bucket": f"{base}-terraform-state",
            "key": f"{environment.name}/terraform.tfstate",
            "region": region,
        }
    if settings.state_backend == "azurerm":
        return {
            "resource_group_name": f"rg-{base}-tfstate",
            "storage_account_name": f"st{settings.workload}{settings.stage}tf"[:24],
            "container_name": "tfstate",
            "key": f"{environment.name}.tfstate",
        }
    # Linode Object Storage through the S3 backend; the bucket is the object-storage module's terraform-state
    return {
        "bucket": f"{base}-terraform-state",
        "key": f"{environment.name}/terraform.tfstate",
        "region": region,
        "endpoints": f'{{ s3 = "{linode_s3_endpoint(region)}" }}',
    }


def backend_file(stack: Stack) -> Path:
    stack.work_dir.mkdir(parents=True, exist_ok=True)
    path = stack.work_dir / "backend.hcl"
    lines = []
    for key, value in backend_config(stack.environment).items():
        lines.append(f"{key} = {value}" if value.startswith("{") else f'{key} = "{value}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def missing_credentials(cloud: Cloud, env: dict[str, str] | None = None) -> str | None:
    """None when credentials for the cloud are configured, else what is missing."""
    env = os.environ if env is None else env
    if any(all(env.get(name) for name in group) for group in CREDENTIALS[cloud]):
        return None
    if any(Path(path).expanduser().is_file() for path in CREDENTIAL_FILES.get(cloud, ())):
        return None
    wanted = " or ".join("+".join(group) for group in CREDENTIALS[cloud])
    return f"no {cloud.value} credentials ({wanted})"


def terraform_binary() -> str:
    return toolchain.require("terraform", TerraformUnavailable)


def terraform_env(stack: Stack | None = None) -> dict[str, str]:
    env = {**os.environ, **toolchain.tool_env(), "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    env["TF_CLI_CONFIG_FILE"] = str(CLI_CONFIG)
    if stack is not None:
        # Per environment, outside the stack directory: two environments never share providers or backends.
        env["TF_DATA_DIR"] = str(stack.work_dir / ".terraform")
    return env


def run_terraform(
    stack: Stack | None, directory: Path, *args: str, data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = terraform_env(stack)
    if data_dir is not None:
        env["TF_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [terraform_binary(), f"-chdir={directory}", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _last_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip(" │╷╵") for line in (result.stderr or result.stdout).splitlines()]
    errors = [line for line in lines if line.startswith("Error:")]
    return (errors[0] if errors else next((line for line in reversed(lines) if line), "no output")).strip()


def check_aws_state_backend(stack: Stack) -> str:
    """Who the AWS credentials are, and a versioned state bucket: one clear line before
    `terraform init` would fail on either with a page of provider output."""
    import boto3  # slow to import, and only AWS stacks need it
    from botocore.exceptions import BotoCoreError, ClientError

    name, config = stack.environment.name, backend_config(stack.environment)
    session = boto3.session.Session(region_name=config["region"])
    try:
        identity = session.client("sts").get_caller_identity()["Arn"]
    except (BotoCoreError, ClientError) as error:
        raise TerraformUnavailable(
            f"{name}: AWS credentials not usable ({error}); nothing was changed"
        ) from None
    s3, bucket = session.client("s3"), config["bucket"]
    try:
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchBucket", "404"):
            raise OpsError(
                f"{name}: state bucket {bucket} does not exist in {config['region']}; "
                f"create it first: invoke tf.bootstrap --env {name}; nothing was changed"
            ) from None
        raise TerraformUnavailable(
            f"{name}: state bucket {bucket} not readable as {identity}: {error}"
        ) from None
    except BotoCoreError as error:
        raise TerraformUnavailable(f"{name}: AWS not reachable ({error}); nothing was changed") from None
    if versioning != "Enabled":
        raise OpsError(
            f"{name}: state bucket {bucket} is not versioned, so a damaged state could not be "
            f"recovered; invoke tf.bootstrap --env {name} turns it on; nothing was changed"
        )
    return identity


def preflight(stack: Stack) -> str:
    """Binary, credentials, the state bucket (AWS), then `terraform init` (providers and
    backend); nothing changes yet. Returns who the cloud sees."""
    terraform_binary()
    problem = missing_credentials(stack.environment.cloud)
    if problem:
        raise TerraformUnavailable(f"{stack.environment.name}: {problem}; nothing was changed")
    caller = "credentials present"
    if stack.environment.cloud is Cloud.AWS:
        caller = check_aws_state_backend(stack)
    # Providers first (no backend): offline this fails fast and says why.
    providers = run_terraform(stack, stack.directory, "init", "-backend=false", "-input=false", "-no-color")
    if providers.returncode != 0:
        text = providers.stderr + providers.stdout
        if "registry.terraform.io" in text or "provider" in text.lower():
            raise TerraformUnavailable(
                f"{stack.environment.name}: terraform init could not install the stack's providers "
                "(registry unreachable, no mirror in infra/terraform/terraform.rc); nothing was changed"
            )
        raise OpsError(f"{stack.environment.name}: terraform init failed: {_last_error(providers)}")
    backend = run_terraform(
        stack, stack.directory, "init", "-reconfigure", "-input=false", "-no-color",
        f"-backend-config={backend_file(stack)}",
    )  # fmt: skip
    if backend.returncode != 0:
        raise OpsError(f"{stack.environment.name}: state backend unreachable: {_last_error(backend)}")
    return caller


# --- offline checks -------------------------------------------------------------------------


def fmt(check: bool) -> list[str]:
    """terraform fmt over infra/terraform; with check, the files that need formatting are an error."""
    args = ["fmt", "-recursive", "-list=true"] + (["-check"] if check else [])
    result = run_terraform(None, INFRA, *args)
    files = [line for line in result.stdout.splitlines() if line.strip()]
    if check and result.returncode != 0:
        raise OpsError(
            f"terraform fmt: {len(files)} file(s) need formatting: {', '.join(files)} (run invoke tf.fmt)"
        )
    if result.returncode not in (0, 3):
        raise OpsError(f"terraform fmt failed: {_last_error(result)}")
    return files


@dataclass(frozen=True)
class ModuleTests:
    module: str
    passed: int
    failed: int
    seconds: float


def test_modules() -> list[ModuleTests]:
    """`terraform test` in every provider-free logic module (offline, no init)."""
    results = []
    for directory in sorted(path for path in LOGIC_MODULES.iterdir() if (path / "tests").is_dir()):
        started = time.monotonic()
        # Local submodules still need `init` (module install only; no providers, offline).
        data_dir = BUILD / "tests" / directory.name
        init = run_terraform(
            None, directory, "init", "-backend=false", "-input=false", "-no-color", data_dir=data_dir
        )
        if init.returncode != 0:
            raise OpsError(f"terraform init failed in modules/logic/{directory.name}: {_last_error(init)}")
        result = run_terraform(None, directory, "test", "-no-color", data_dir=data_dir)
        counts = re.search(r"(\d+) passed, (\d+) failed", result.stdout)
        if result.returncode != 0 or counts is None:
            raise OpsError(f"terraform test failed in modules/logic/{directory.name}: {_last_error(result)}")
        passed, failed = int(counts.group(1)), int(counts.group(2))
        results.append(ModuleTests(directory.name, passed, failed, round(time.monotonic() - started, 2)))
    if not results:
        raise OpsError("no logic modules with tests found under infra/terraform/modules/logic")
    return results


def scan_infra() -> list[scan.ScanResult]:
    """checkov and trivy over infra/terraform (inline skips with reasons are the only suppressions)."""
    return [scan.checkov(INFRA, "terraform"), scan.trivy(INFRA)]


# --- plan / apply / destroy ----------------------------------------------------------------


def summarize_plan(plan: dict) -> dict[str, int]:
    """Counts of create / update / delete / replace from `terraform show -json`."""
    counts: Counter[str] = Counter()
    for change in plan.get("resource_changes", []):
        actions = change.get("change", {}).get("actions", [])
        if actions == ["no-op"] or actions == ["read"]:
            continue
        key = "replace" if {"create", "delete"} <= set(actions) else actions[0]
        counts[key] += 1
    return {kind: counts.get(kind, 0) for kind in ("create", "update", "delete", "replace")}


def check_plan(plan_json: Path) -> scan.ScanResult:
    """The same policy path as the code scan: checkov's terraform_plan framework on the plan JSON."""
    result = scan.checkov(plan_json, "terraform_plan")
    if result.findings:
        raise PlanRejected(f"plan policy: {len(result.findings)} finding(s), first: {result.findings[0]}")
    return result


def plan(name: str) -> dict:
    """Plan the environment's stack into a saved plan plus its JSON, then check the JSON."""
    stack = stack_for(name)
    generate.check()  # the stack reads environments/resolved/<env>.json: never plan from a stale one
    caller = preflight(stack)
    output.console.print(f"==> terraform plan {stack.directory.relative_to(ROOT)}")
    result = run_terraform(
        stack,
        stack.directory,
        "plan",
        "-input=false",
        "-no-color",
        "-lock-timeout=5m",
        f"-out={stack.plan_file}",
    )
    if result.returncode != 0:
        raise OpsError(f"{name}: terraform plan failed: {_last_error(result)}")
    shown = run_terraform(stack, stack.directory, "show", "-json", str(stack.plan_file))
    if shown.returncode != 0:
        raise OpsError(f"{name}: terraform show failed: {_last_error(shown)}")
    stack.plan_json.write_text(shown.stdout)
    check = check_plan(stack.plan_json)
    meta = {
        "environment": name,
        "commit": git_commit(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "actor": actor(),
        "cloud_identity": caller,
        "sha256": hashlib.sha256(stack.plan_file.read_bytes()).hexdigest(),
        "changes": summarize_plan(json.loads(shown.stdout)),
        "policy": {"resources": check.resources, "passed": check.passed},
    }
    stack.plan_meta.write_text(json.dumps(meta, indent=2) + "\n")
    (stack.work_dir / "plan.md").write_text(plan_markdown(meta))
    return meta


def plan_markdown(meta: dict) -> str:
    """The pull-request comment of a plan."""
    rows = "\n".join(f"| {kind} | {count} |" for kind, count in meta["changes"].items())
    return (
        f"### terraform plan: {meta['environment']} at `{meta['commit']}`\n\n"
        f"| change | resources |\n| --- | --- |\n{rows}\n\n"
        f"Plan policy (checkov on the plan JSON): {meta['policy']['passed']} checks passed, no findings.\n"
    )


def saved_plan(stack: Stack, now: datetime | None = None) -> dict:
    """The saved plan's metadata, if it may be applied: same commit, unchanged, not stale."""
    if not stack.plan_meta.is_file() or not stack.plan_file.is_file():
        raise OpsError(
            f"{stack.environment.name}: no saved plan; run invoke tf.plan --env {stack.environment.name}"
        )
    meta = json.loads(stack.plan_meta.read_text())
    if meta["sha256"] != hashlib.sha256(stack.plan_file.read_bytes()).hexdigest():
        raise OpsError(f"{stack.environment.name}: the saved plan changed since it was checked; plan again")
    head = git_commit()
    if meta["commit"] != head:
        raise OpsError(
            f"{stack.environment.name}: the saved plan was made at {meta['commit']}, "
            f"HEAD is {head}; plan again"
        )
    age = (now or datetime.now(UTC)) - datetime.fromisoformat(meta["created"])
    if age > PLAN_MAX_AGE:
        raise OpsError(f"{stack.environment.name}: the saved plan is {age.days} day(s) old; plan again")
    return meta


def apply_saved(stack: Stack, shown_sha256: str | None = None) -> dict:
    """Apply the saved plan (never a fresh one). The caller holds the environment's run; with
    `shown_sha256`, only the very plan that was shown and approved."""
    meta = saved_plan(stack)
    if shown_sha256 is not None and meta["sha256"] != shown_sha256:
        raise PlanRejected(
            f"{stack.environment.name}: the saved plan changed after it was approved; plan again"
        )
    preflight(stack)  # credentials, providers and backend, as the plan had them
    output.console.print(f"==> terraform apply {shown(stack.plan_file)}")
    result = run_terraform(stack, stack.directory, "apply", "-input=false", "-no-color", str(stack.plan_file))
    stack.plan_file.unlink(missing_ok=True)  # a saved plan applies once
    if result.returncode != 0:
        raise OpsError(f"{stack.environment.name}: terraform apply failed: {_last_error(result)}")
    return meta


def apply(name: str, confirm: str | None) -> AuditRecord:
    """`tf.apply`: the saved plan, applied inside an approved, locked, audited run."""
    stack = stack_for(name)
    arguments = {"plan": shown(stack.plan_file)}
    with Run("terraform-apply", stack.environment, arguments, confirm) as run:

        def apply_step() -> str:
            changes = apply_saved(stack)["changes"]
            return "applied: " + ", ".join(f"{count} to {kind}" for kind, count in changes.items())

        run.execute([Step("apply saved plan", apply_step)])
    return run.record


def destroy_stages(stack: Stack) -> list[tuple[str, list[str]]]:
    """Destroy in stages: what Kubernetes created first, then the releases, then the rest."""
    stages: list[tuple[str, list[str]]] = [("load balancers created by Kubernetes Services", [])]
    if stack.environment.cloud is Cloud.AWS:
        waves = [
            "wave_applications",
            "wave_media",
            "wave_cluster_services",
            "wave_cluster_objects",
            "wave_operators",
        ]
        stages.append(
            ("Helm releases, newest wave first", [f"-target=module.platform.module.{wave}" for wave in waves])
        )
    stages.append(("every remaining resource", []))
    return stages


def destroy(name: str, confirm: str | None, dry_run: bool) -> list[str]:
    """Tear a stack down in stages inside an approved, locked, audited run. Always needs the
    typed environment name."""
    stack = stack_for(name)
    if confirm != name:
        raise ApprovalRequired(f"destroying {name} needs --confirm {name}; nothing was changed")
    stages = destroy_stages(stack)
    if dry_run:
        return [f"would destroy: {title}" for title, _ in stages]

    def destroy_stage(title: str, targets: list[str]) -> str:
        if not targets and title.startswith("load balancers"):
            return cluster.delete_load_balancers(stack.environment)
        result = run_terraform(
            stack, stack.directory, "destroy", "-auto-approve", "-input=false", "-no-color", *targets
        )
        if result.returncode != 0:
            raise OpsError(f"{name}: destroy stage '{title}' failed: {_last_error(result)}")
        return f"{title}: destroyed"

    def stage_step(title: str, targets: list[str]) -> Step:
        return Step(f"destroy: {title}", lambda: destroy_stage(title, targets))

    steps = [Step("terraform init (providers and backend)", lambda: f"initialised as {preflight(stack)}")]
    steps += [stage_step(title, targets) for title, targets in stages]
    with Run(
        "terraform-destroy", stack.environment, {"stages": [title for title, _ in stages]}, confirm
    ) as run:
        run.execute(steps)
    return [step.detail for step in run.record.steps[1:]]
