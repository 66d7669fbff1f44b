"""runbooks.check: every command the runbooks give against the task tree invoke itself loads."""

from __future__ import annotations

import textwrap

import pytest
from invoke import Collection, Context, task
from invoke.exceptions import Exit

from voiceops import runbooks
from voiceops.runbooks import Report, TaskTree, invoke_problems, shell_commands, snippets
from voiceops.tasks import runbooks as runbooks_tasks


@pytest.fixture(scope="module")
def tree() -> TaskTree:
    return TaskTree.load()


@pytest.fixture(scope="module")
def sessions() -> frozenset[str]:
    return runbooks.nox_sessions()


def test_the_real_runbooks_pass():
    report = runbooks.check_all()
    assert report.problems == []
    assert report.files == len(list(runbooks.RUNBOOKS.glob("*.md")))
    assert report.commands >= 20


def test_a_broken_runbook_fails_naming_file_line_command_and_what_is_unknown(tmp_path, tree, sessions):
    broken = tmp_path / "broken.md"
    broken.write_text(
        textwrap.dedent("""\
        # Broken

        1. Rotate: `.venv/bin/invoke secrets.rotat --env <env>`
        2. Deploy:

            .venv/bin/invoke deploy --env production --confrm production

        ```bash
        invoke secrets.audit --env <env> --bundle <bundle>
        .venv/bin/nox -s unitt
        ```

        Fine: `invoke secrets.audit --env <env> [--json]`.
        """)
    )
    report = runbooks.check([broken], tree, sessions)
    assert report.files == 1
    assert report.commands == 5
    assert report.problems == [
        f"{broken}:3: no task 'secrets.rotat' (did you mean secrets.rotate?) in "
        "`.venv/bin/invoke secrets.rotat --env <env>`",
        f"{broken}:6: deploy has no flag --confrm (did you mean --confirm?) in "
        "`.venv/bin/invoke deploy --env production --confrm production`",
        f"{broken}:9: secrets.audit has no flag --bundle (its flags: --env, --json) in "
        "`invoke secrets.audit --env <env> --bundle <bundle>`",
        f"{broken}:10: no nox session 'unitt' (did you mean unit?) in `.venv/bin/nox -s unitt`",
    ]


def test_a_runbook_without_commands_fails(tmp_path, tree, sessions):
    empty = tmp_path / "empty.md"
    empty.write_text("# Nothing to run\n\nEvery step is an `invoke` command.\n")
    assert runbooks.check([empty], tree, sessions).problems == ["no invoke or nox command found in 1 file(s)"]


def test_a_command_that_is_not_shell_fails(tmp_path, tree, sessions):
    unquoted = tmp_path / "unquoted.md"
    unquoted.write_text("Run `invoke deploy --env 'local` and `invoke status`.\n")
    report = runbooks.check([unquoted], tree, sessions)
    assert report.commands == 1
    assert report.problems == [
        f"{unquoted}:1: not a shell command (No closing quotation) in `invoke deploy --env 'local`"
    ]


def test_placeholders_and_optional_parts():
    rotate = ".venv/bin/invoke secrets.rotate --env <env> --bundle <bundle>"
    assert shell_commands(f"{rotate} [--secret <secret>] [--grace <seconds>]") == [
        ("invoke", ["secrets.rotate", "--env", "<env>", "--bundle", "<bundle>", "--secret", "<secret>",
                    "--grace", "<seconds>"]),
    ]  # fmt: skip
    assert shell_commands("invoke rollback --env <env> --release <release> [--to-revision N]") == [
        ("invoke", ["rollback", "--env", "<env>", "--release", "<release>", "--to-revision", "N"]),
    ]


def test_shell_around_the_commands():
    assert shell_commands("$ FOO=1 invoke env.list && .venv/bin/nox -s unit -- -k runners") == [
        ("invoke", ["env.list"]),
        ("nox", ["-s", "unit", "--", "-k", "runners"]),
    ]
    assert shell_commands("invoke secrets.seal --env <env> --key token < token 2>&1 | tee out  # seal") == [
        ("invoke", ["secrets.seal", "--env", "<env>", "--key", "token"]),
    ]
    assert shell_commands("invoke") == []  # the word, not a command
    assert shell_commands("terraform plan") == []
    with pytest.raises(ValueError, match="No closing quotation"):
        shell_commands("invoke deploy --env 'local")


def test_snippets_come_from_code_blocks_and_inline_code_with_their_lines():
    markdown = textwrap.dedent("""\
        Intro with `invoke status` and a span that wraps: `invoke deploy
        --env local`.

            invoke env.list \\
              --json
            invoke env.show

        ```yaml
        not: invoke env.list
        ```

        ~~~
        invoke tf.plan --env live
        ~~~
        1. A list item's paragraph:

            `invoke smoke` runs the tests.
        """)
    assert list(snippets(markdown)) == [
        (1, "invoke status"),
        (1, "invoke deploy --env local"),
        (4, "invoke env.list --json"),
        (6, "invoke env.show"),
        (13, "invoke tf.plan --env live"),
        (17, "invoke smoke"),
    ]


@pytest.mark.parametrize(
    ("command", "problems"),
    [
        ("deploy -e local -ds", []),  # short flags, and two booleans together
        ("deploy -elocal --env=local --only base --only api", []),
        ("deploy --help", []),  # a core flag after a task
        ("--list secrets env.list", []),  # a core flag (with its value) before the task
        ("env.list tools.check --json", []),  # two tasks, the flag belongs to the second
        (
            "secrets.sealing_key --env production",
            ["no task 'secrets.sealing_key' (did you mean secrets.sealing-key?)"],
        ),
        ("rollback --to_revision 3", ["rollback has no flag --to_revision (did you mean --to-revision?)"]),
        ("env.runners --env local", ["env.runners has no flag --env (it takes none)"]),
        ("status --json=yes", ["--json of status takes no value"]),
        ("secrets.rotate --env", ["--env of secrets.rotate needs a value"]),
        ("--nosuch env.list", ["invoke has no core flag --nosuch"]),
        ("<task> --env <env>", ["no task '<task>'"]),
        ("nosuch --x env.list --y", ["no task 'nosuch'", "env.list has no flag --y (its flags: --json)"]),
    ],
)
def test_the_parser_reads_words_as_invoke_does(tree, command, problems):
    assert invoke_problems(command.split(), tree) == problems


@task(aliases=["hi"], positional=["name"])
def greet(c, name, loud=True):
    """A task with a positional argument and a boolean that defaults to true."""


def test_aliases_positionals_and_inverse_flags():
    small = TaskTree.of(Collection(greet))
    assert invoke_problems(["hi", "greet", "--no-loud"], small) == []  # greet is the name, not a task
    assert invoke_problems(["greet", "ann", "--loud", "greet", "bob"], small) == []
    assert invoke_problems(["greet", "ann", "--quiet"], small) == [
        "greet has no flag --quiet (its flags: --name, --loud, --no-loud)"
    ]


def test_the_task_prints_the_counts_and_exits_1_with_one_line_per_problem(monkeypatch, capsys):
    problems = [
        "runbooks/a.md:3: no task 'x' in `invoke x`",
        "runbooks/b.md:9: deploy has no flag --y in `invoke deploy --y`",
    ]
    monkeypatch.setattr(runbooks, "check_all", lambda: Report(files=2, commands=7, problems=problems))
    with pytest.raises(Exit) as stopped:
        runbooks_tasks.check(Context())
    assert stopped.value.code == 1
    assert stopped.value.message == "error: 2 problem(s) in the runbooks' commands"
    shown = capsys.readouterr()
    assert "7 command(s) in 2 runbooks/*.md file(s) checked" in shown.out
    assert shown.err.splitlines() == problems
