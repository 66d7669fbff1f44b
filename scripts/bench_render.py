"""Benchmark: wall time to render and validate (schemas + policy) every environment.

Run: .venv/bin/python scripts/bench_render.py [--runs N]. Prints numbers; asserts nothing.
The scanners (checkov, trivy) are timed separately with --scanners.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voiceops import environments, render, scan


def once(out_dir: Path) -> tuple[float, int]:
    started = time.perf_counter()
    registry = environments.load_all()
    results = render.render_all(registry, out_dir=out_dir)
    objects = 0
    for environment, result in zip(registry, results, strict=True):
        gate = render.gate(environment, result)
        if not gate.passed:
            raise SystemExit(f"{environment.name}: gate failed")
        objects += result.objects
    return time.perf_counter() - started, objects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scanners", action="store_true", help="also time checkov and trivy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        times = []
        for run in range(args.runs):
            seconds, objects = once(out)
            times.append(seconds)
            print(f"run {run + 1}: {seconds:.2f} s, {objects} objects, 8 environments")
        print(
            f"render + validate all environments: median {statistics.median(times):.2f} s,"
            f" best {min(times):.2f} s"
        )
        if args.scanners:
            for name, scanner in (
                ("checkov", lambda: scan.checkov(out, "kubernetes")),
                ("trivy", lambda: scan.trivy(out)),
            ):
                started = time.perf_counter()
                result = scanner()
                print(f"{name}: {time.perf_counter() - started:.2f} s, {result.resources} resources")


if __name__ == "__main__":
    main()
