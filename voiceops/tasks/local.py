"""local.up / local.down / local.status: the embedded local environment's servers."""

from invoke import task

from voiceops import local, output
from voiceops.tasks import reports_errors


@task
@reports_errors
def up(c):
    """Start (or recover) PostgreSQL, Redis, RabbitMQ and the AWS emulator on 127.0.0.1."""
    local.up(report=lambda line: output.console.print(f"  {line}"))


@task(help={"purge": "also delete the data directory (databases, queues, credentials)"})
@reports_errors
def down(c, purge=False):
    """Stop the local servers; data is kept unless --purge."""
    local.down(keep_data=not purge, report=lambda line: output.console.print(f"  {line}"))


@task
@reports_errors
def status(c):
    """Show each local server: port and state."""
    output.table(
        f"Local servers ({local.local_dir()})",
        ["server", "port", "state"],
        [[s.name, s.port or "-", s.state] for s in local.status()],
    )
