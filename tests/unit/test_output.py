"""Terminal output as a person sees it: the spinner and the plan question at a real
terminal (a pseudo-terminal), and nothing animated in a pipe."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys, time
from voiceops import output
with output.progress("working"):
    time.sleep(0.4)
    answer = output.ask("apply? type yes: ")
print("ANSWER=" + answer, flush=True)
"""


def test_spinner_and_question_at_a_terminal():
    pid, fd = pty.fork()
    if pid == 0:  # the child: a task at a terminal
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-c", SCRIPT])  # noqa: S606 (our interpreter, fixed code)
    seen, answered, deadline = b"", False, time.monotonic() + 20
    try:
        while time.monotonic() < deadline and b"ANSWER=" not in seen:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
            if not answered and b"apply? type yes: " in seen:
                os.write(fd, b"yes\n")
                answered = True
    finally:
        os.kill(pid, 9) if b"ANSWER=" not in seen else os.waitpid(pid, 0)
    assert b"working" in seen, seen[-300:]  # the spinner ran
    assert b"ANSWER=yes" in seen, seen[-300:]  # and stopped for the question


def test_no_spinner_in_a_pipe():
    result = subprocess.run(
        [sys.executable, "-c", "from voiceops import output\nwith output.progress('x'): pass\nprint('ok')"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout == "ok\n" and result.stderr == ""
