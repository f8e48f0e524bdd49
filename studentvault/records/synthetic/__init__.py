"""The synthetic district generator: a whole district of made-up students as CSV files.

``generate(seed=..., students=..., out=..., school_year=...)`` writes one CSV file per model
of ``records.models`` (the layout is docs/formats/synthetic-district.md) and ``manifest.json``
with the seed, the school year, the row count and the SHA-256 of every file.

Guarantees:
- Same seed, student count and school year, same bytes, whatever the number of worker
  processes: students are generated in fixed chunks, each from a random stream seeded by
  (seed, chunk number), and the chunks are written in order.
- Every date and school year is derived from the school year (``layout.SchoolCalendar``):
  enrollments, sections and rosters are for that year (with a prior-year enrollment for most
  students), assessment results for the year before. Without ``school_year`` the generator
  takes the year in force today (July 1 starts the next one).
- Every code value comes from the code sets in records/codesets; every SASID and school code in
  a file exists in students.csv and schools.csv; SASIDs are ten digits and unique.
- Nothing here describes a real person: names are random combinations of common names, phone
  numbers are in the 555-01xx range kept for fiction, emails are at example.org.
The generator never touches the database (the district loader reads these files).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .layout import (
    ASSESSMENTS,
    COURSES,
    DISTRICT_CODE,
    MAX_SCHOOL_YEAR,
    MAX_STUDENTS,
    MIN_SCHOOL_YEAR,
    MIN_STUDENTS,
    PERIODS,
    Layout,
    build_layout,
    educator_edid,
    grade_code,
    school_year_on,
    section_code,
)
from .students import CHUNK_STUDENTS, chunk_count, generate_chunk
from .text import quoted
from .text import rows as csv_rows

__all__ = [
    "CHUNK_STUDENTS",
    "FILES",
    "MAX_SCHOOL_YEAR",
    "MAX_STUDENTS",
    "MIN_SCHOOL_YEAR",
    "MIN_STUDENTS",
    "GenerationError",
    "Summary",
    "generate",
    "school_year_on",
]

FORMAT_VERSION = 1

# File name -> header. Columns are the model's fields in model order, without ``id``, with each
# foreign key replaced by the natural key of the row it points to (a test checks this against
# the models).
FILES: dict[str, tuple[str, ...]] = {
    "district.csv": ("state_code", "name"),
    "schools.csv": ("district_code", "state_code", "name", "level", "low_grade", "high_grade"),
    "students.csv": (
        "district_code",
        "sasid",
        "local_id",
        "first_name",
        "middle_name",
        "last_name",
        "preferred_name",
        "birth_date",
        "gender",
        "hispanic_latino",
        "american_indian_alaska_native",
        "asian",
        "black_african_american",
        "white",
        "native_hawaiian_pacific_islander",
        "federal_race_ethnicity",
        "language_background",
        "directory_opt_out",
        "media_opt_out",
        "military_recruiter_opt_out",
    ),
    "enrollments.csv": (
        "sasid",
        "school_code",
        "school_year",
        "grade_level",
        "entry_date",
        "entry_type",
        "exit_date",
        "exit_type",
    ),
    "courses.csv": ("district_code", "code", "title", "subject", "sced_code", "credits"),
    "sections.csv": ("course_code", "school_code", "school_year", "section_code", "educator_edid"),
    "section_enrollments.csv": (
        "school_code",
        "school_year",
        "section_code",
        "sasid",
        "begin_date",
        "end_date",
    ),
    "course_completions.csv": (
        "sasid",
        "school_code",
        "school_year",
        "section_code",
        "credits_earned",
        "mark",
    ),
    "programs.csv": (
        "sasid",
        "program",
        "begin_date",
        "end_date",
        "lunch_eligibility",
        "gifted_areas",
    ),
    "early_childhood_enrollments.csv": ("sasid", "program", "begin_date", "end_date"),
    "early_childhood_assessments.csv": (
        "sasid",
        "instrument",
        "assessed_on",
        "domain",
        "score",
        "meets_expectations",
    ),
    "disabilities.csv": ("sasid", "disability_type", "is_primary"),
    "special_education_services.csv": (
        "sasid",
        "service_type",
        "provider",
        "minutes_per_week",
        "begin_date",
        "end_date",
    ),
    "ieps.csv": ("sasid", "begin_date", "review_date", "end_date", "setting"),
    "discipline_incidents.csv": (
        "sasid",
        "school_code",
        "incident_date",
        "incident_type",
        "action",
        "days_removed",
    ),
    "parent_contacts.csv": (
        "sasid",
        "name",
        "relationship",
        "phone",
        "email",
        "address",
        "contact_restrictions",
        "is_primary",
    ),
    "english_learner_profiles.csv": (
        "sasid",
        "school_year",
        "primary_language",
        "proficiency_level",
        "language_program",
        "first_us_school_date",
    ),
    "english_proficiency_results.csv": (
        "sasid",
        "school_year",
        "composite_score",
        "proficiency_level",
    ),
    "migrant_eligibilities.csv": (
        "sasid",
        "signature_date",
        "qualifying_arrival_date",
        "qualifying_move",
        "eligibility_expires",
    ),
    "migrant_services.csv": ("sasid", "service_type", "begin_date", "end_date"),
    "concurrent_enrollments.csv": (
        "sasid",
        "school_year",
        "institution",
        "course_title",
        "credits",
    ),
    "cte_participations.csv": ("sasid", "school_year", "program", "status"),
    "assessments.csv": ("code", "title", "kind", "subject"),
    "assessment_results.csv": (
        "sasid",
        "assessment_code",
        "school_code",
        "school_year",
        "grade_level",
        "scale_score",
        "performance_level",
        "accommodations",
        "not_tested_reason",
        "growth_percentile",
    ),
}
_DISTRICT_FILES = ("district.csv", "schools.csv", "courses.csv", "sections.csv", "assessments.csv")


class GenerationError(Exception):
    """The generator was asked for something it cannot do; the message says what and why."""


@dataclass
class Summary:
    """What a run wrote: rows per file, bytes, and where the time went (not in the manifest)."""

    out: Path
    seed: int
    students: int
    school_year: int
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 1


def _district_rows(layout: Layout) -> dict[str, tuple[int, str]]:
    """The files that describe the district rather than its students."""
    out: dict[str, tuple[int, str]] = {}
    out["district.csv"] = (1, csv_rows([[DISTRICT_CODE], quoted([layout.district_name])]))
    schools = layout.schools
    out["schools.csv"] = (
        len(schools),
        csv_rows(
            [
                [DISTRICT_CODE] * len(schools),
                [s.code for s in schools],
                quoted([s.name for s in schools]),
                [s.kind.level for s in schools],
                [grade_code(s.kind.low) for s in schools],
                [grade_code(s.kind.high) for s in schools],
            ]
        ),
    )
    out["courses.csv"] = (
        len(COURSES),
        csv_rows(
            [
                [DISTRICT_CODE] * len(COURSES),
                [c.code for c in COURSES],
                [c.title for c in COURSES],
                [c.subject for c in COURSES],
                [c.sced_code for c in COURSES],
                [c.credits for c in COURSES],
            ]
        ),
    )
    columns: list[list[str]] = [[], [], [], [], []]
    taught = [0] * len(schools)
    year = str(layout.calendar.school_year)
    for s, g, count in zip(
        layout.block_school.tolist(),
        layout.block_grade.tolist(),
        layout.block_sections.tolist(),
        strict=True,
    ):
        if g not in PERIODS:
            continue
        school = schools[s]
        for period in PERIODS[g]:
            for number in range(1, count + 1):
                columns[0].append(period.course.code)
                columns[1].append(school.code)
                columns[2].append(year)
                columns[3].append(section_code(period.course, g, number))
                # Each teacher of record takes five sections of a school.
                columns[4].append(educator_edid(school, taught[s] // 5))
                taught[s] += 1
    out["sections.csv"] = (len(columns[0]), csv_rows(columns))
    out["assessments.csv"] = (
        len(ASSESSMENTS),
        csv_rows(
            [
                [a.code for a in ASSESSMENTS],
                quoted([a.title for a in ASSESSMENTS]),
                [a.kind for a in ASSESSMENTS],
                [a.subject for a in ASSESSMENTS],
            ]
        ),
    )
    return out


# The layout a forked worker uses; set in the parent before the pool starts.
_WORKER_LAYOUT: Layout | None = None


def _worker_chunk(number: int) -> dict[str, tuple[int, str]]:
    if _WORKER_LAYOUT is None:
        raise GenerationError("worker started without a district layout")
    return generate_chunk(_WORKER_LAYOUT, number)


def _chunks(layout: Layout, workers: int) -> Iterator[dict[str, tuple[int, str]]]:
    """Every chunk's rows, in chunk order, made by ``workers`` processes."""
    numbers = range(chunk_count(layout.students))
    if workers <= 1 or len(numbers) <= 1:
        for number in numbers:
            yield generate_chunk(layout, number)
        return
    global _WORKER_LAYOUT
    _WORKER_LAYOUT = layout
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            # imap keeps chunk order; the output is the same for any number of workers.
            yield from pool.imap(_worker_chunk, numbers, chunksize=1)
    finally:
        _WORKER_LAYOUT = None


def generate(
    *,
    seed: int,
    students: int,
    out: Path,
    school_year: int | None = None,
    workers: int = 1,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write the synthetic district of ``students`` students drawn from ``seed`` into ``out``.

    ``school_year`` (named by its ending year: 2026 is 2025-26) decides every date; without
    it the year in force today is used, so pass it wherever the output must not change with
    the date (tests, benchmarks, published samples).

    Files are written under temporary names and renamed when all are complete, so a failed run
    never leaves a half-written district that looks whole. ``out`` must be empty or missing
    unless ``overwrite`` is set (then only the generator's own files are replaced).
    ``progress`` is called with the number of students written after each chunk.
    """
    started = time.perf_counter()
    year = school_year_on(date.today()) if school_year is None else school_year
    try:
        layout = build_layout(seed, students, year)
    except ValueError as error:
        raise GenerationError(str(error)) from None
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GenerationError(f"--out {out} exists and is not a directory")
    ours = {*FILES, "manifest.json"}
    if out.exists():
        others = sorted(p.name for p in out.iterdir() if p.name not in ours)
        mine = sorted(p.name for p in out.iterdir() if p.name in ours)
        if others:
            raise GenerationError(
                f"--out {out} holds files the generator did not write ({', '.join(others[:3])}"
                f"{'...' if len(others) > 3 else ''}); choose an empty or new directory"
            )
        if mine and not overwrite:
            raise GenerationError(
                f"--out {out} already holds a generated district; pass --overwrite to replace it"
            )
    out.mkdir(parents=True, exist_ok=True)

    summary = Summary(
        out=out, seed=seed, students=students, school_year=year, workers=max(1, workers)
    )
    partial = {name: out / f".{name}.part" for name in FILES}
    handles = {name: open(path, "wb") for name, path in partial.items()}  # noqa: SIM115
    digests = {name: hashlib.sha256() for name in FILES}
    counts = dict.fromkeys(FILES, 0)
    sizes = dict.fromkeys(FILES, 0)

    def write(name: str, data: str) -> None:
        encoded = data.encode("utf-8")
        handles[name].write(encoded)
        digests[name].update(encoded)
        sizes[name] += len(encoded)

    try:
        for name, header in FILES.items():
            write(name, ",".join(header) + "\n")
        for name, (count, text) in _district_rows(layout).items():
            write(name, text)
            counts[name] += count
        done = 0
        for part in _chunks(layout, summary.workers):
            for name, (count, text) in part.items():
                if name in _DISTRICT_FILES or name not in FILES:
                    raise GenerationError(f"a chunk produced rows for unexpected file {name}")
                write(name, text)
                counts[name] += count
            done = min(students, done + CHUNK_STUDENTS)
            if progress is not None:
                progress(done)
        for handle in handles.values():
            handle.close()
        for name, path in partial.items():
            os.replace(path, out / name)
    except BaseException:
        for handle in handles.values():
            handle.close()
        for path in partial.values():
            path.unlink(missing_ok=True)
        raise

    summary.rows = counts
    summary.bytes = sizes
    summary.sha256 = {name: d.hexdigest() for name, d in digests.items()}
    manifest = {
        "format_version": FORMAT_VERSION,
        "generator": "studentvault.records.synthetic",
        "seed": seed,
        "students": students,
        "school_year": year,
        "district_code": DISTRICT_CODE,
        "files": {name: {"rows": counts[name], "sha256": summary.sha256[name]} for name in FILES},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    summary.seconds = time.perf_counter() - started
    return summary
