"""Run every benchmark in bench/ (bench_*.py) one after another and print what each measured.

`make bench` calls this. Benchmarks are scripts, not tests: they print figures and never fail
on time. Pass names to run a subset: `python bench/run.py generate audit`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        print(f"--- {script.stem}: {time.perf_counter() - started:.1f} s wall", flush=True)
        if result.returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that stopped with an error: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
