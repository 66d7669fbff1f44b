"""tools.check / tools.lock: the pinned toolchain; tools.workflow-scripts: the CI's shell scripts."""

from invoke import task
from invoke.exceptions import Exit

from voiceops import output, toolchain, workflow_scripts
from voiceops.tasks import reports_errors


@task(help={"json": "print machine-readable JSON"})
def check(c, json=False):
    """Table of every tool: required and found version, path, status; exit 5 if a required one is not OK.

    Example: invoke tools.check --json
    """
    statuses = toolchain.check_all()
    if json:
        output.emit_json(
            [
                {
                    "name": s.tool.name,
                    "required": s.tool.version,
                    "found": s.found,
                    "path": s.path,
                    "status": s.status,
                    "optional": s.tool.optional,
                }
                for s in statuses
            ]
        )
    else:
        output.table(
            "Toolchain (toolchain.toml)",
            ["tool", "required", "found", "path", "status", "used for"],
            [
                [
                    s.tool.name,
                    ("" if s.tool.pinned_exactly else ">= ") + s.tool.version,
                    s.found,
                    s.path,
                    s.status + (" (optional)" if s.tool.optional and not s.ok else ""),
                    s.tool.purpose,
                ]
                for s in statuses
            ],
        )
    failed = [s.tool.name for s in statuses if not s.ok and not s.tool.optional]
    if failed:
        raise Exit(
            f"error: required tools not OK: {', '.join(failed)} (run python3 scripts/bootstrap.py)", code=5
        )


@task(help={"upgrade": "also move every package the .in files leave unpinned to its newest release"})
@reports_errors
def lock(c, upgrade=False):
    """Re-resolve requirements/*.in into the hashed lock files bootstrap installs (uv; needs PyPI).

    Every package is pinned with == and the sha256 hashes of its files. Versions already locked
    are kept unless the .in files or --upgrade ask for others. uv reads PyPI (or UV_DEFAULT_INDEX),
    not pip's configuration.

    Example: invoke tools.lock --upgrade
    """
    manifest = toolchain.load_manifest()
    for lock_file in (manifest.venv_lock, manifest.checkov_lock):
        source = lock_file.with_suffix(".in")
        output.console.print(f"resolving {toolchain.shown(source)} ...")
        count = toolchain.relock(source, lock_file, upgrade=upgrade)
        output.console.print(f"wrote {toolchain.shown(lock_file)} ({count} packages, with hashes)")


@task(name="workflow-scripts")
@reports_errors
def scripts(c):
    """shellcheck the run script of every step of .github/workflows and .github/actions, as
    GitHub runs it (bash -e -o pipefail).
    Example: invoke tools.workflow-scripts
    """
    checked = workflow_scripts.check(workflow_scripts.default_files())
    output.console.print(f"{checked} workflow script(s): shellcheck finds nothing")
