"""``studentvault generate``: write a synthetic district as CSV files (no database involved).

Without ``--school-year`` the district is for the school year in force
(``access.policy.current_school_year``, which honours CURRENT_SCHOOL_YEAR), the year whose
enrollments and sections the access grants use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from studentvault.access.policy import current_school_year
from studentvault.records.synthetic import (
    MAX_SCHOOL_YEAR,
    MAX_STUDENTS,
    MIN_SCHOOL_YEAR,
    MIN_STUDENTS,
    GenerationError,
    generate,
)


class Command(BaseCommand):
    help = (
        "Write a synthetic district (one CSV file per student data model, plus manifest.json) "
        "into --out. The same --seed, --students and --school-year always give the same bytes."
    )
    # A file generator: it needs neither the database nor the URL configuration.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--students",
            type=int,
            required=True,
            help=f"number of students ({MIN_STUDENTS}..{MAX_STUDENTS})",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--out", type=Path, required=True, help="directory to write")
        parser.add_argument(
            "--school-year",
            type=int,
            default=None,
            help=(
                f"school year named by its ending year, {MIN_SCHOOL_YEAR}..{MAX_SCHOOL_YEAR} "
                "(2027 is 2026-27; default: the current school year)"
            ),
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=min(2, os.cpu_count() or 1),
            help="worker processes (default: up to 2); the output does not depend on it",
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="replace a district generated earlier in --out",
        )
        parser.add_argument(
            "--report-json",
            type=Path,
            default=None,
            help="also write rows, bytes and seconds of this run to this JSON file",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        students: int = options["students"]
        if options["workers"] < 1:
            raise CommandError(f"--workers must be at least 1, got {options['workers']}")
        bar = tqdm(
            total=students,
            unit="student",
            unit_scale=True,
            desc="generate",
            disable=options["verbosity"] == 0,
        )

        def progress(done: int) -> None:
            bar.update(done - bar.n)

        chosen: int | None = options["school_year"]
        school_year = current_school_year() if chosen is None else chosen
        try:
            summary = generate(
                seed=options["seed"],
                students=students,
                out=options["out"],
                school_year=school_year,
                workers=options["workers"],
                overwrite=options["overwrite"],
                progress=progress,
            )
        except GenerationError as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
        total_rows = sum(summary.rows.values())
        total_bytes = sum(summary.bytes.values())
        width = max(len(name) for name in summary.rows)
        for name, rows in summary.rows.items():
            self.stdout.write(
                f"{name:<{width}}  {rows:>10,} rows  {summary.bytes[name]:>13,} bytes"
            )
        self.stdout.write(
            f"wrote {total_rows:,} rows ({total_bytes:,} bytes) for {students:,} students "
            f"(seed {summary.seed}, school year {summary.school_year}) into {summary.out} "
            f"in {summary.seconds:.1f} s "
            f"with {summary.workers} worker(s)"
        )
        if options["report_json"] is not None:
            report = {
                "students": students,
                "seed": summary.seed,
                "school_year": summary.school_year,
                "workers": summary.workers,
                "seconds": summary.seconds,
                "rows": summary.rows,
                "bytes": summary.bytes,
            }
            options["report_json"].write_text(json.dumps(report, indent=2) + "\n", "utf-8")
