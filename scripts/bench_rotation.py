"""Benchmark: secret rotation on `local` under load.

Run: .venv/bin/python scripts/bench_rotation.py [--rate 240] [--per-connection 3] [--seconds 40]
Prints numbers; asserts nothing. Uses a scratch state directory and stops everything it
started. Consumers of two platform secrets (PostgreSQL, Redis and RabbitMQ users each) do
--rate operations per second in total, --per-connection of them on each fresh connection,
reading the current credential from the emulated Secrets Manager before each connection;
meanwhile `invoke secrets.rotate --bundle platform` runs back to back, as an operator would
run it, until --seconds have passed. Prints the connections and operations, the failures
(with their errors) and, per rotation, its time and the seconds spent on each server.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceops import credential_load, local, protection  # noqa: E402  (needs the sys.path entry above)

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
    parser.add_argument("--per-connection", type=int, default=3, help="operations on each fresh connection")
    parser.add_argument("--seconds", type=float, default=40.0, help="how long the load runs")
    parser.add_argument("--grace", type=float, default=5.0, help="each rotation's grace period")
    args = parser.parse_args()
    with local.scratch_state():
        layout = protection.up(report=lambda _line: None)
        loads = [
            credential_load.CredentialLoad(
                layout,
                entry,
                args.rate / args.per_connection / len(ENTRIES),
                workers=6,
                processes=2,
                per_connection=args.per_connection,
            )
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
        connections = [connection for load in loads for connection in load.connections]
        operations = sum(load.operations() for load in loads)
        failures = [connection for connection in connections if connection.error]
        per_server = collections.Counter(connection.server for connection in connections)
        servers = ", ".join(f"{server} {count}" for server, count in sorted(per_server.items()))
        opened = len(connections)
        print(f"connections: {opened} in {elapsed:.1f}s = {opened / elapsed:.0f}/s ({servers})")
        print(f"operations: {operations} = {operations / elapsed:.0f}/s")
        print(f"failed connections: {len(failures)}")
        for error, count in collections.Counter(connection.error for connection in failures).most_common(5):
            print(f"  {count} x {error}")
        for number, (seconds, spent) in enumerate(rotations, 1):
            print(f"rotation {number}: {seconds:.1f}s (grace {args.grace:.0f}s included); servers: {spent}")


if __name__ == "__main__":
    main()
