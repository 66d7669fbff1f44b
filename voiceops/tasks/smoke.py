"""invoke smoke: the testinfra smoke tests of an environment."""

from invoke import task

from voiceops import environments, output
from voiceops import smoke as smoke_tests
from voiceops.tasks import reports_errors


@task(help={"env": "environment name (see env.list)"})
@reports_errors
def smoke(c, env):
    """Run the smoke tests against an environment (local: its servers on 127.0.0.1)."""
    output.console.print(smoke_tests.run_smoke(environments.load(env)))
