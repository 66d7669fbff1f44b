"""runbooks.check: every command the runbooks give names a real task, flag and nox session."""

import sys

from invoke import task

from voiceops import output, runbooks
from voiceops.errors import OpsError
from voiceops.tasks import reports_errors


class RunbooksFailed(OpsError):
    pass


@task
@reports_errors
def check(c):
    """Read every `invoke` command in runbooks/*.md (code blocks and inline code, placeholders
    and [optional parts] included) and check its task and flags against the task tree invoke
    loads, and every `nox -s` session against the noxfile; one line per problem.

    Example: invoke runbooks.check
    """
    report = runbooks.check_all()
    output.console.print(f"{report.commands} command(s) in {report.files} runbooks/*.md file(s) checked")
    if report.problems:
        print("\n".join(report.problems), file=sys.stderr)
        raise RunbooksFailed(f"{len(report.problems)} problem(s) in the runbooks' commands")
