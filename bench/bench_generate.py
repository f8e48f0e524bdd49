"""Time `studentvault generate --students 1000000` (issue 2: under 2 minutes on 2 cores).

Runs the real console command in a subprocess (the same code path as a user's), into a
temporary folder that is removed afterwards, then prints the wall time, rows and rows/s per
file (rows of the file over the whole run's time: the files are written together) and the
total bytes. `--students N` for a quicker run. The school year is explicit (`--school-year`,
default 2026) so that every run writes the same district whatever the date.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 120.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--school-year", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    command = Path(sys.executable).with_name("studentvault")
    work = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    try:
        report = work / "report.json"
        argv = [
            str(command),
            "generate",
            "--students",
            str(args.students),
            "--seed",
            str(args.seed),
            "--school-year",
            str(args.school_year),
            "--out",
            str(work / "district"),
            "--report-json",
            str(report),
            "--verbosity",
            "0",
        ]
        if args.workers is not None:
            argv += ["--workers", str(args.workers)]
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        facts = json.loads(report.read_text("utf-8"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows: dict[str, int] = facts["rows"]
    sizes: dict[str, int] = facts["bytes"]
    width = max(len(name) for name in rows)
    print(
        f"generate --students {args.students:,} (seed {args.seed}, school year "
        f"{args.school_year}, {facts['workers']} worker(s))"
    )
    for name, count in rows.items():
        print(
            f"  {name:<{width}}  {count:>10,} rows  {count / wall:>12,.0f} rows/s  "
            f"{sizes[name]:>13,} bytes"
        )
    total_rows, total_bytes = sum(rows.values()), sum(sizes.values())
    print(f"  total: {total_rows:,} rows, {total_bytes:,} bytes ({total_bytes / 2**20:,.0f} MiB)")
    print(
        f"  generator time {facts['seconds']:.1f} s; wall time with start-up {wall:.1f} s; "
        f"{total_rows / wall:,.0f} rows/s"
    )
    if args.students == 1_000_000:
        verdict = "meets" if wall < TARGET_SECONDS else "MISSES"
        print(f"  {verdict} the target of {TARGET_SECONDS:.0f} s for 1,000,000 students")
    return 0


if __name__ == "__main__":
    sys.exit(main())
