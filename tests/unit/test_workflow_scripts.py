"""tools.workflow-scripts: every run script of our workflows passes shellcheck, and one with a
fault (as GitHub would run it) is named."""

import pytest

from voiceops import workflow_scripts


def test_the_workflows_scripts_pass():
    assert workflow_scripts.check(workflow_scripts.default_files()) >= 30


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
