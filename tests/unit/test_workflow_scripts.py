"""tools.workflow-scripts: every run script of our workflows passes shellcheck, and one with a
fault (as GitHub would run it) is named."""

import pytest

from voiceops import workflow_scripts


def test_the_workflows_scripts_pass():
    assert workflow_scripts.check(workflow_scripts.default_files()) >= 30


def test_pipefail_only_where_bash_is_named_as_github_runs_it(tmp_path):
    workflow = tmp_path / "shells.yml"
    workflow.write_text(
        "defaults:\n  run:\n    shell: bash\n"
        "jobs:\n  named:\n    steps:\n      - run: one\n"
        "  sh:\n    defaults:\n      run:\n        shell: sh\n    steps:\n      - run: two\n"
        "      - {shell: bash, run: three}\n"
    )
    found = {script.text.splitlines()[-1]: script.text for script in workflow_scripts.scripts([workflow])}
    assert set(found) == {"one", "three"}  # `two` runs in sh
    assert all("set -o pipefail" in text for text in found.values())
    unnamed = tmp_path / "unnamed.yml"
    unnamed.write_text("jobs:\n  plain:\n    steps:\n      - run: four\n")
    assert "pipefail" not in workflow_scripts.scripts([unnamed])[0].text


def test_a_faulty_script_is_named_with_its_step(tmp_path):
    workflow = tmp_path / "broken.yml"
    workflow.write_text(
        "jobs:\n  build:\n    steps:\n"
        "      - name: unquoted\n        run: rm -rf $TARGET/build\n"
        '      - name: expression\n        run: echo "${{ inputs.x }}"\n'
        "      - name: python\n        shell: python\n        run: print($nothing)\n"
    )
    found = workflow_scripts.scripts([workflow])
    assert [script.text.splitlines()[-1] for script in found] == ["rm -rf $TARGET/build", 'echo "EXPRESSION"']
    with pytest.raises(workflow_scripts.ScriptProblems, match=r"1 workflow script\(s\).*'unquoted'.*SC2086"):
        workflow_scripts.check([workflow])
