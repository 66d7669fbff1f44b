"""Benchmark: the database-failure drill on a large local database.

Run: .venv/bin/python scripts/bench_drill.py [--size-mb 1024]
Prints numbers; asserts nothing. Uses a scratch state directory and stops everything it
started. Fills a table of the local PostgreSQL to --size-mb, lets the standing protection take
its scheduled base backup (as the daily schedule would, before the failure), then runs
`invoke dr.drill --scenario database-failure --json` as an operator would and prints the
drill's RTO, RPO, restore throughput, lost canary writes and each phase's time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceops import drills, local, protection  # noqa: E402  (needs the sys.path entry above)

BATCH_ROWS = 200_000


def fill(layout: local.Layout, size_mb: int) -> tuple[int, float]:
    """Rows and megabytes of the bench table once it holds at least size_mb."""
    with drills.DatabaseDrill(layout, "bench")._connect() as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS bench_bulk (id bigint PRIMARY KEY, payload text)")
        rows, megabytes = 0, 0.0
        while megabytes < size_mb:
            admin.execute(  # rows of about 900 bytes
                "INSERT INTO bench_bulk SELECT g, repeat(md5(g::text), 28) FROM generate_series(%s, %s) g",
                (rows + 1, rows + BATCH_ROWS),
            )
            rows += BATCH_ROWS
            (size,) = admin.execute("SELECT pg_total_relation_size('bench_bulk')").fetchone()
            megabytes = size / 1e6
            print(f"  {rows} rows, {megabytes:.0f} MB", flush=True)
        admin.execute("CHECKPOINT")
        return rows, megabytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the database to restore")
    args = parser.parse_args()
    with local.scratch_state():
        layout = protection.up(report=lambda _line: None)
        started = time.perf_counter()
        rows, megabytes = fill(layout, args.size_mb)
        print(f"filled: {rows} rows, {megabytes:.0f} MB in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        protection.take_base_backup(layout)
        print(f"scheduled base backup: {time.perf_counter() - started:.1f}s")
        drill = subprocess.run(
            [sys.executable, "-m", "invoke", "dr.drill", "--scenario", "database-failure", "--json"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        try:
            report = json.loads(drill.stdout[drill.stdout.index("{") :])
        except ValueError:
            raise SystemExit(
                f"the drill printed no report:\n{(drill.stdout + drill.stderr)[-3000:]}"
            ) from None
        canary = report["canary"]
        print(f"drill: {report['result']} (exit {drill.returncode}); report {report['files'][1]}")
        print(f"RTO: {report['rto']['achieved_seconds']:.1f}s (target {report['rto']['target_seconds']}s)")
        print(f"RPO: {report['rpo']['achieved_seconds']:.3f}s (target {report['rpo']['target_seconds']}s)")
        print(f"restore throughput: {report['restore_throughput_mb_s']:.0f} MB/s (base backup copy)")
        print(
            f"canary: {canary['acknowledged']} acknowledged, {canary['returned']} came back, "
            f"{canary['lost']} lost, {canary['lost_older_than_rpo']} lost older than the RPO"
        )
        for phase in report["phases"]:
            print(f"  {phase['name']:<10} {phase['seconds']:7.2f}s  {phase['detail']}")
        for problem in report["problems"]:
            print(f"problem: {problem}")


if __name__ == "__main__":
    main()
