"""invoke smoke: the testinfra smoke tests of an environment."""

from invoke import task

from voiceops import environments, output
from voiceops import smoke as smoke_tests
from voiceops.tasks import DEFAULT_ENVIRONMENT, ENV_HELP, reports_errors


@task(help={"env": ENV_HELP})
@reports_errors
def smoke(c, env=DEFAULT_ENVIRONMENT):
    """Run the smoke tests against an environment; exit 5 when its cluster cannot be reached.

    Default --env local: testinfra against the servers on 127.0.0.1.
    Example: invoke smoke --env sandbox
    """
    output.console.print(smoke_tests.run_smoke(environments.load(env)))
