"""local.up / local.down / local.status: the embedded local environment's servers."""

from invoke import task

from voiceops import environments, local, output, protection
from voiceops.runs import Run, Step
from voiceops.tasks import DEFAULT_ENVIRONMENT, reports_errors


def _say(line: str) -> None:
    output.console.print(f"    {line}")


@task
@reports_errors
def up(c):
    """Start (or recover) and provision PostgreSQL, Redis, RabbitMQ and the AWS emulator on 127.0.0.1.

    Safe to re-run after an interrupt or a crash: every run converges. Holds the local lock.

    Example: invoke local.up
    """
    with Run("local-up", environments.load(DEFAULT_ENVIRONMENT), {}) as run:
        run.execute([Step("local servers", lambda: local.summary(protection.up(report=_say)))])


@task(help={"purge": "also delete the data directory (databases, queues, credentials)"})
@reports_errors
def down(c, purge=False):
    """Stop every local server this checkout started, epmd included; data is kept unless --purge.

    Finds them even when .state/local is gone. Refused (exit 4) while a deploy holds the lock.

    Example: invoke local.down --purge
    """
    with Run("local-down", environments.load(DEFAULT_ENVIRONMENT), {"purge": purge}) as run:
        run.execute([Step("stop local servers", lambda: _down_summary(purge))])


def _down_summary(purge: bool) -> str:
    lines: list[str] = []
    local.down(keep_data=not purge, report=lines.append)
    return "; ".join(lines)


@task
@reports_errors
def status(c):
    """Show each local server: port and state, read from the running processes themselves.

    Example: invoke local.status
    """
    output.table(
        f"Local servers ({local.local_dir()})",
        ["server", "port", "state"],
        [[s.name, s.port, s.state] for s in local.status()],
    )
