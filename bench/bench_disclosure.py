"""Benchmark of the disclosure-control engine (issue 7): run ``python bench/bench_disclosure.py``.

Prints
1. the heuristic against the exact (integer-programming) method over random small tables:
   total suppressed cells, heuristic / exact, per-table worst case;
2. protecting + auditing the enrollment table school x grade x race/ethnicity with all
   marginal totals (district total included) of a 1,000,000-student district: read from a
   generated district (``--district DIR``: enrollments.csv of the latest school year and
   students.csv, as written by ``studentvault generate --students 1000000``), else a
   synthetic table with ``--schools`` schools (default 960, the generator's count) of
   lognormal sizes; plus the same for smaller synthetic districts (``--scales``) to show how
   the time grows. Prints protect and audit time (wall clock and CPU), cells suppressed and
   the verdict; a run that exceeds ``--time-limit`` seconds is reported as not finished.

Options: --compare N (random small tables, default 200; 0 skips), --lp-paths S (the
heuristic and exact-interval audit of an S-school table with cold scipy LPs, then with the
warm-started HiGHS model, side by side), --district DIR,
--schools S (default 960), --scales a,b,c (extra district sizes, default 20,40),
--skip-large, --time-limit SECONDS (default 600).
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import FrameType

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studentvault.reporting.disclosure import (
    CellKind,
    CountTable,
    Dimension,
    Reason,
    build_problem,
    get_rule_set,
    protect_table,
)
from studentvault.reporting.disclosure import audit as audit_module
from studentvault.reporting.disclosure.engine import PRUNE_MAX_CELLS
from studentvault.reporting.disclosure.suppress import (
    exact_pattern,
    heuristic_pattern,
)

RACES = ("hispanic", "white", "black", "asian", "multiracial", "american_indian", "pacific")
RACE_SHARE = np.array([0.35, 0.40, 0.10, 0.06, 0.05, 0.03, 0.01])


def random_small_table(rng: np.random.Generator) -> CountTable:
    ndim = int(rng.integers(2, 4))
    sizes = [int(rng.integers(2, 5)) for _ in range(ndim)]
    while np.prod([s + 1 for s in sizes]) > 80:
        sizes[-1] -= 1
    dims = [
        Dimension.flat("abc"[k], [f"{'abc'[k]}{i}" for i in range(s)]) for k, s in enumerate(sizes)
    ]
    small = rng.integers(1, 16, size=sizes)
    large = rng.integers(16, 80, size=sizes)
    leaves = np.where(rng.random(sizes) < 0.3, small, large)
    return CountTable.from_leaf_counts(dims, leaves)


def compare(count: int) -> None:
    rng = np.random.default_rng(2026)
    rules = get_rule_set()
    exact_total = heuristic_total = 0
    exact_students = heuristic_students = 0
    worst = 1.0
    equal = 0
    timed_out = 0
    seconds_exact = seconds_heuristic = 0.0
    compared = 0
    for _ in range(count):
        table = random_small_table(rng)
        problem = build_problem(table, rules, CellKind.STUDENT)
        if not problem.sensitive.any():
            continue
        started = time.perf_counter()
        exact = exact_pattern(problem, time_limit=20.0)
        seconds_exact += time.perf_counter() - started
        if exact is None:
            timed_out += 1
            continue
        started = time.perf_counter()
        heuristic, audit = heuristic_pattern(problem, prune=table.size <= PRUNE_MAX_CELLS)
        seconds_heuristic += time.perf_counter() - started
        assert audit.passed and problem.audit(exact, fast=False).passed
        compared += 1
        exact_total += int(exact.sum())
        heuristic_total += int(heuristic.sum())
        exact_students += int(problem.values[exact].sum())
        heuristic_students += int(problem.values[heuristic].sum())
        worst = max(worst, heuristic.sum() / exact.sum())
        equal += int(heuristic.sum() == exact.sum())
    print(f"heuristic vs exact over {compared} random 2-D/3-D tables (<= 80 cells, Colorado rules)")
    print(f"  suppressed cells: exact {exact_total}, heuristic {heuristic_total}")
    print(f"  ratio heuristic/exact (cells): {heuristic_total / exact_total:.3f}")
    print(f"  ratio heuristic/exact (students in them): {heuristic_students / exact_students:.3f}")
    print(f"  same count as optimum: {equal}/{compared}; worst single table: {worst:.2f}x")
    print(f"  exact method timed out: {timed_out}")
    print(f"  time: exact {seconds_exact:.1f} s, heuristic {seconds_heuristic:.1f} s")


def district_table(schools: int, students: int, seed: int = 7) -> CountTable:
    rng = np.random.default_rng(seed)
    size = rng.lognormal(np.log(students / schools), 0.5, schools)
    leaves = np.zeros((schools, 14, len(RACES)), dtype=np.int64)
    for s in range(schools):
        grades = rng.dirichlet(np.full(14, 20.0))
        mix = rng.dirichlet(RACE_SHARE * 30.0)
        leaves[s] = rng.poisson(size[s] * np.outer(grades, mix))
    dims = [
        Dimension.flat("school", [f"school-{i:03d}" for i in range(schools)], total="District"),
        Dimension.flat("grade", ["K", *[str(g) for g in range(1, 13)], "PK"], total="All grades"),
        Dimension.flat("race", list(RACES), total="All students"),
    ]
    return CountTable.from_leaf_counts(dims, leaves)


def district_from_files(folder: Path) -> CountTable:
    """School x grade x federal race/ethnicity of the latest school year of a generated district.

    One count per student: the enrollment of the latest school year without an exit date (else
    the last one listed). Codes are the generator's (grade_level, federal_race_ethnicity).
    """
    with (folder / "students.csv").open(newline="") as handle:
        race = {row["sasid"]: row["federal_race_ethnicity"] for row in csv.DictReader(handle)}
    latest: dict[str, tuple[str, str, bool]] = {}
    year = ""
    with (folder / "enrollments.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    year = max(row["school_year"] for row in rows)
    for row in rows:
        if row["school_year"] != year:
            continue
        current = latest.get(row["sasid"])
        open_ = not row["exit_date"]
        if current is None or open_ or not current[2]:
            latest[row["sasid"]] = (row["school_code"], row["grade_level"], open_)
    counts: Counter[tuple[str, ...]] = Counter(
        (school, grade, race[sasid]) for sasid, (school, grade, _) in latest.items()
    )
    schools = sorted({key[0] for key in counts})
    grades = sorted({key[1] for key in counts})
    races = sorted({key[2] for key in counts})
    dims = [
        Dimension.flat("school", schools, total="District"),
        Dimension.flat("grade", grades, total="All grades"),
        Dimension.flat("race", races, total="All students"),
    ]
    return CountTable.from_mapping(dims, dict(counts))


class _TimeLimit(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _TimeLimit


def large(table: CountTable, label: str, time_limit: int) -> None:
    shape = " x ".join(str(len(d.leaves)) for d in table.dimensions)
    print(f"{label}: {shape} leaves, {int(table.values.flat[0]):,} students, {table.size:,} cells")
    print(f"  load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    cpu = time.process_time()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(time_limit)
    try:
        result = protect_table(table)
    except _TimeLimit:
        print(
            f"  NOT FINISHED within {time_limit} s (wall); CPU {time.process_time() - cpu:.1f} s"
            " (target 10 s)"
        )
        return
    finally:
        signal.alarm(0)
    total = time.perf_counter() - started
    cpu_total = time.process_time() - cpu
    suppressed = len(result.suppressed)
    print(
        f"  primary {result.count(Reason.PRIMARY):,}, complementary"
        f" {result.count(Reason.COMPLEMENTARY):,} (suppressed {suppressed:,} cells,"
        f" {sum(c.value for c in result.suppressed):,} students), method {result.method},"
        f" audit {'PASS' if result.publishable else 'FAIL'}"
    )
    print(
        f"  protect {result.seconds_protect:.1f} s, audit {result.seconds_audit:.1f} s wall"
        f" ({result.audit.linear_programs:,} LPs, largest component"
        f" {result.audit.largest_component:,} cells); total {total:.1f} s wall,"
        f" {cpu_total:.1f} s CPU (target 10 s)"
    )
    print(f"  load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def lp_paths(schools: int) -> None:
    """Old LP path (cold scipy LPs, column generation) against warm-started HiGHS, same table."""
    table = district_table(schools, 4_000 * schools)
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    exact_problem = replace(problem, dimensions=None)  # exact intervals for every hidden cell
    reference: tuple[np.ndarray, np.ndarray] | None = None
    for label, warm in (("cold scipy LPs", 0), ("warm HiGHS", audit_module.WARM_MAX_VARIABLES)):
        saved = audit_module.WARM_MAX_VARIABLES
        audit_module.WARM_MAX_VARIABLES = warm
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            hidden, _ = heuristic_pattern(exact_problem)
            wall_p, cpu_p = time.perf_counter() - wall, time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            audit = exact_problem.audit(hidden, fast=False)
            wall_a, cpu_a = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            audit_module.WARM_MAX_VARIABLES = saved
        bounds = (audit.intervals.lo[hidden], audit.intervals.hi[hidden])
        same = (
            ""
            if reference is None
            else (
                "; intervals identical to cold"
                if all(
                    np.array_equal(a, b, equal_nan=True)
                    for a, b in zip(reference, bounds, strict=True)
                )
                else "; INTERVALS DIFFER from cold"
            )
        )
        reference = reference or bounds
        print(
            f"{schools} schools, {label}: suppressed {int(hidden.sum()):,}"
            f" ({int(problem.sensitive.sum()):,} primary), {'PASS' if audit.passed else 'FAIL'};"
            f" protect {wall_p:.1f} s wall / {cpu_p:.1f} s CPU, audit {wall_a:.1f} s wall /"
            f" {cpu_a:.1f} s CPU{same}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=int, default=200)
    parser.add_argument("--district", type=Path)
    parser.add_argument("--schools", type=int, default=960)
    parser.add_argument("--scales", default="20,40")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--time-limit", type=int, default=600)
    parser.add_argument("--lp-paths", type=int, default=0, help="schools: cold vs warm LPs")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare)
    if args.lp_paths:
        lp_paths(args.lp_paths)
    for schools in [int(s) for s in args.scales.split(",") if s]:
        label = f"synthetic district, {schools} schools"
        large(district_table(schools, 4_000 * schools), label, args.time_limit)
    if not args.skip_large:
        if args.district is not None:
            table = district_from_files(args.district)
            large(table, f"generated district {args.district}", args.time_limit)
        else:
            table = district_table(args.schools, 1_000_000)
            large(table, f"synthetic district, {args.schools} schools", args.time_limit)


if __name__ == "__main__":
    main()
