"""Every check as a nox session; `nox` with no arguments runs the full offline gate: the
`gate` session, which runs the others in two lanes side by side (see LANES).

Sessions use the tools scripts/bootstrap.py installed (python=False): the project
venv, checkov's own venv and the pinned binaries in .tools/bin. Tags group them by
layer so CI can run one layer: `nox -t python`.
"""

import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nox

from voiceops.toolchain import tool_env

nox.options.default_venv_backend = "none"
nox.options.error_on_external_run = False
nox.options.sessions = ["gate"]

ENV = tool_env()
WORKFLOWS = ".github/workflows"
ACTIONS = ".github/actions"


def run(session: nox.Session, program: str, *args: str) -> None:
    """Run a pinned tool, found on the project PATH (.tools/bin, .venv/bin) first."""
    path = shutil.which(program, path=ENV["PATH"])
    if path is None:
        session.error(f"{program} not found: run python3 scripts/bootstrap.py")
    session.run(path, *args, env=ENV, external=True)


@nox.session(python=False, tags=["lint", "python"])
def ruff(session: nox.Session) -> None:
    """Python lint and formatting."""
    run(session, "ruff", "check", ".")
    run(session, "ruff", "format", "--check", ".")


@nox.session(python=False, tags=["lint", "yaml"])
def yamllint(session: nox.Session) -> None:
    """YAML lint of the registry, workflows and every other YAML file we own."""
    run(session, "yamllint", "--strict", ".")


@nox.session(python=False, tags=["python", "registry"])
def unit(session: nox.Session) -> None:
    """Unit tests: registry schema, toolchain, deploy safety, task CLI."""
    run(session, "python", "-m", "pytest", "tests/unit", *session.posargs)


@nox.session(python=False, tags=["python", "e2e"])
def e2e(session: nox.Session) -> None:
    """deploy, rollback and status on the cloud paths: stand-ins for the cluster and provider
    commands only, real helm template/lint, kustomize, checkov and a moto server."""
    run(session, "python", "-m", "pytest", "tests/e2e", *session.posargs)


@nox.session(python=False, tags=["python", "integration", "smoke"])
def local(session: nox.Session) -> None:
    """The README's main job with the integration tests: deploy `local` (real PostgreSQL, Redis,
    RabbitMQ and moto servers up, testinfra smoke tests), run the integration tests on those
    servers, the smoke tests again, then stop it."""
    run(session, "python", "-m", "pytest", "tests/integration", *session.posargs)


@nox.session(python=False, tags=["charts"])
def charts(session: nox.Session) -> None:
    """helm lint --strict of every local chart with every environment's values layers."""
    run(session, "invoke", "charts.lint")


@nox.session(python=False, tags=["charts"])
def manifests(session: nox.Session) -> None:
    """Render every environment, validate strictly and run the policy rules, then checkov and trivy."""
    run(session, "invoke", "render", "--all")
    run(session, "invoke", "charts.scan")


@nox.session(python=False, tags=["charts"])
def wiring(session: nox.Session) -> None:
    """Follow every reference each environment's releases make (Secrets, hosts, node pools, ...)."""
    run(session, "invoke", "wiring", "--all")


TERRAFORM_TESTS = (
    "tests/policy/test_terraform.py",
    "tests/policy/test_requirements.py",
    "tests/policy/test_provider_schemas.py",
    "tests/policy/test_recovery_plan.py",
)


@nox.session(python=False, tags=["charts", "python"])
def policy(session: nox.Session) -> None:
    """Policy tests over rendered manifests, the catalog and the upstream values files."""
    run(
        session,
        "python",
        "-m",
        "pytest",
        "tests/policy",
        *(f"--ignore={path}" for path in TERRAFORM_TESTS),
        *session.posargs,
    )


@nox.session(python=False, tags=["terraform"])
def terraform(session: nox.Session) -> None:
    """terraform fmt -check, `terraform test` of the logic modules, the seed requirements, the
    recovery plan against every environment's targets, and every block against the real provider
    schemas."""
    run(session, "invoke", "tf.fmt", "--check")
    run(session, "invoke", "tf.test")
    run(session, "invoke", "tf.requirements")
    run(session, "invoke", "dr.plan", "--all")
    run(session, "invoke", "tf.schemas")
    run(session, "invoke", "tf.docs", "--check")
    run(session, "python", "-m", "pytest", *TERRAFORM_TESTS, *session.posargs)


@nox.session(python=False, tags=["terraform"])
def infra_scan(session: nox.Session) -> None:
    """checkov and trivy over infra/terraform: zero unsuppressed findings."""
    run(session, "invoke", "tf.scan")


@nox.session(python=False, tags=["registry"])
def registry(session: nox.Session) -> None:
    """Every environments/*.yaml file against the strict schema and cross-file rules, the files
    generated from the registry and the catalog current (Terraform and Argo CD read them), and
    the secret bundles (secrets/bundles/) with the tree free of plaintext secrets, and every
    command in the runbooks naming a real task, flag and session."""
    run(session, "invoke", "env.list")
    run(session, "invoke", "env.generate", "--check")
    # the secret bundles against every environment, and no plaintext secret anywhere in the tree
    run(session, "invoke", "secrets.check")
    run(session, "invoke", "runbooks.check")


@nox.session(python=False, tags=["workflows"])
def workflows(session: nox.Session) -> None:
    """GitHub workflows and our composite actions: schema (offline, vendored), security lint, and
    shellcheck of every run script."""
    files = sorted(str(path) for path in Path(WORKFLOWS).glob("*.yml"))
    actions = sorted(str(path) for path in Path(ACTIONS).glob("*/action.yml"))
    if not files or not actions:
        session.error(f"no workflows under {WORKFLOWS} or no actions under {ACTIONS}")
    run(session, "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files)
    run(session, "check-jsonschema", "--builtin-schema", "vendor.github-actions", *actions)
    run(session, "zizmor", "--offline", "--min-severity", "low", WORKFLOWS, *actions)
    run(session, "invoke", "tools.workflow-scripts")


@nox.session(python=False, tags=["tools"])
def toolchain(session: nox.Session) -> None:
    """Every required tool present at its pinned version."""
    run(session, "invoke", "tools.check")


# The gate's two lanes, run side by side (two cores here). Each is led by one of the two long
# sessions and filled with checks so that both end at about the same time; seconds on a fresh
# clone with both lanes running: local 149, e2e 65, manifests 50, terraform 42, infra_scan 42,
# unit 28, policy 18, the rest a few each. No session needs another's output: local and e2e keep
# their state, plans and renders in temporary directories.
LANES = {
    "local+checks": ("ruff", "yamllint", "registry", "workflows", "toolchain", "local", "charts", "unit",
                     "policy"),
    "e2e+terraform": ("e2e", "manifests", "wiring", "terraform", "infra_scan"),
}  # fmt: skip
SESSION_START = re.compile(r"nox > Running session (\S+)")


@nox.session(python=False, tags=["gate"])
def gate(session: nox.Session) -> None:
    """The full offline gate: every other session, in the two lanes of LANES at once."""
    sessions = set(nox.registry.get()) - {"gate"}
    laned = [name for lane in LANES.values() for name in lane]
    if sorted(laned) != sorted(sessions):
        session.error(f"LANES must name every session once: {sorted(set(laned) ^ sessions) or 'duplicates'}")
    started = time.monotonic()
    lanes = {
        name: subprocess.Popen([sys.executable, "-m", "nox", "-s", *members], env=ENV, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, errors="replace")
        for name, members in LANES.items()
    }  # fmt: skip
    finished: dict[str, float] = {}
    session_starts: dict[str, list[tuple[str, float]]] = {name: [] for name in LANES}

    def relay(name: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            print(f"[{name}] {line}", end="", flush=True)
            if match := SESSION_START.search(line):
                session_starts[name].append((match.group(1), time.monotonic() - started))
        process.wait()
        finished[name] = time.monotonic() - started

    readers = [threading.Thread(target=relay, args=item) for item in lanes.items()]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    for name, process in lanes.items():
        starts = session_starts[name]
        ends = [at for _, at in starts[1:]] + [finished[name]]
        times = ", ".join(f"{member} {end - at:.0f}s" for (member, at), end in zip(starts, ends, strict=True))
        result = "passed" if process.returncode == 0 else "FAILED"
        session.log(f"lane {name}: {result} in {finished[name]:.0f}s ({times})")
    failed = [name for name, process in lanes.items() if process.returncode != 0]
    if failed:
        session.error(f"gate failed in lane(s): {', '.join(failed)}")
