"""Benchmark: secret rotation on `local` under load.

Run: .venv/bin/python scripts/bench_rotation.py [--rate 240] [--seconds 40] [--grace 5]
Prints numbers; asserts nothing. Uses a scratch state directory and stops everything it
started. Consumers of two platform secrets (PostgreSQL, Redis and RabbitMQ users each) open a
fresh connection per operation at --rate operations per second in total, reading the current
credential from the emulated Secrets Manager before each one; meanwhile `invoke secrets.rotate
--bundle platform` runs back to back, as the operator would run it, until --seconds have
passed. Prints the operations, the failures (with their errors) and, per rotation, its time
and the seconds spent on each server.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceops import credential_load, local  # noqa: E402  (needs the sys.path entry above)

ENTRIES = (f"{local.PREFIX}/api-rest-credentials", f"{local.PREFIX}/voice-credentials")


def rotate(grace: float) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "secrets.rotate", "--bundle", "platform", "--grace", str(grace)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"rotation failed:\n{(result.stdout + result.stderr)[-3000:]}")
    spent = re.search(r"rotated in [\d.]+s \(([^)]*)\)", result.stdout)
    return time.perf_counter() - started, spent.group(1) if spent else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=240.0, help="operations per second in total")
    parser.add_argument("--seconds", type=float, default=40.0, help="how long the load runs")
    parser.add_argument("--grace", type=float, default=5.0, help="each rotation's grace period")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="voiceops-bench-"))
    state.chmod(0o755)  # as root, PostgreSQL runs as the postgres user and must reach its data
    os.environ["VOICEOPS_STATE_DIR"] = str(state)
    try:
        layout = local.up(report=lambda _line: None)
        loads = [
            credential_load.CredentialLoad(layout, entry, args.rate / len(ENTRIES), workers=6, processes=2)
            for entry in ENTRIES
        ]
        rotations = []
        started = time.perf_counter()
        for load in loads:
            load.__enter__()
        try:
            time.sleep(2)  # the load runs before the first rotation starts
            while time.perf_counter() - started < args.seconds - 2:
                rotations.append(rotate(args.grace))
            time.sleep(max(0.0, args.seconds - (time.perf_counter() - started)))
        finally:
            for load in loads:
                load.__exit__()
        elapsed = time.perf_counter() - started
        operations = [operation for load in loads for operation in load.operations]
        failures = [operation for operation in operations if operation.error]
        per_server = collections.Counter(operation.server for operation in operations)
        servers = ", ".join(f"{server} {count}" for server, count in sorted(per_server.items()))
        rate = len(operations) / elapsed
        print(f"load: {len(operations)} operations in {elapsed:.1f}s = {rate:.0f}/s ({servers})")
        print(f"failures: {len(failures)}")
        for error, count in collections.Counter(operation.error for operation in failures).most_common(5):
            print(f"  {count} x {error}")
        for number, (seconds, spent) in enumerate(rotations, 1):
            print(f"rotation {number}: {seconds:.1f}s (grace {args.grace:.0f}s included); servers: {spent}")
    finally:
        local.down(keep_data=False, report=lambda _line: None)


if __name__ == "__main__":
    main()
