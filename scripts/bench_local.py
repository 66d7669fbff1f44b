"""Benchmark: the local environment's everyday paths, in seconds.

Run: .venv/bin/python scripts/bench_local.py [--interrupts N]. Prints numbers; asserts nothing.
Uses a scratch state directory and stops everything it started. Measures: `local.up` from
nothing, `local.up` again (everything running: provisioning only), `local.down`, the
deploy's toolchain check uncached and cached, and N interrupted `deploy --env local` runs
(Ctrl-C during RabbitMQ's provisioning) each followed by the `local.up` that heals it.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceops import local, protection, toolchain  # noqa: E402  (needs the sys.path entry above)


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def interrupted_deploy() -> float:
    """Seconds from Ctrl-C to the interrupted deploy's exit."""
    deploy = subprocess.Popen(
        [sys.executable, "-m", "invoke", "deploy", "--env", "local"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    for line in deploy.stdout:
        if line.strip().startswith("rabbitmq: provisioning"):
            break
    sent = time.perf_counter()
    os.killpg(deploy.pid, signal.SIGINT)
    deploy.wait(timeout=120)
    return time.perf_counter() - sent


def quiet(line: str) -> None:
    """Progress lines are not what is measured."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interrupts", type=int, default=3)
    args = parser.parse_args()
    with local.scratch_state():
        print(f"local.up from nothing        {timed(lambda: protection.up(report=quiet)):6.2f} s")
        warm = [timed(lambda: protection.up(report=quiet)) for _ in range(3)]
        print(f"local.up again (median of 3) {statistics.median(warm):6.2f} s")
        toolchain.TOOLCHAIN_CACHE.unlink(missing_ok=True)
        print(f"toolchain check, uncached    {timed(toolchain.check_all_cached):6.2f} s")
        print(f"toolchain check, cached      {timed(toolchain.check_all_cached):6.2f} s")
        for run in range(args.interrupts):
            stop = interrupted_deploy()
            heal = timed(lambda: protection.up(report=quiet))
            print(
                f"interrupt {run + 1}: exit after Ctrl-C {stop:5.2f} s, healed by local.up in {heal:5.2f} s"
            )
        print(
            f"local.down                   {timed(lambda: local.down(keep_data=False, report=quiet)):6.2f} s"
        )


if __name__ == "__main__":
    main()
