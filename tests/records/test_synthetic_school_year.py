"""The synthetic district's school year: every date and year follows --school-year."""

from __future__ import annotations

import csv
import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from studentvault.access.policy import current_school_year
from studentvault.core.elements import data_element_of
from studentvault.records.district_files import FILES as LOADER_FILES
from studentvault.records.synthetic import FILES, GenerationError, generate, school_year_on
from studentvault.records.synthetic.layout import school_calendar, school_day
from studentvault.records.synthetic.text import DATE_TEXT

YEAR = 2030  # 2029-30: a year whose calendar dates fall on other weekdays than 2025-26's
SEED = 7
STUDENTS = 3_000


def columns_of_kind(kind: str) -> set[tuple[str, str]]:
    """(file, column) of every model field whose data element holds this kind of value (the
    encrypted date fields are binary columns, so the element says what they hold)."""
    found = set()
    for spec in LOADER_FILES:
        for field in spec.model._meta.concrete_fields:
            element = data_element_of(field)
            if element is not None and element.value_kind == kind:
                found.add((spec.file, field.name))
    return found


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def date(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, day)


def in_school_year(year: int) -> tuple[dt.date, dt.date]:
    """July 1 to June 30 of the school year named ``year``."""
    return date(year - 1, 7, 1), date(year, 6, 30)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("year") / "y2030"
    generate(seed=SEED, students=STUDENTS, out=out, school_year=YEAR)
    return out


@pytest.fixture(scope="module")
def district_2026(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("year") / "y2026"
    generate(seed=SEED, students=STUDENTS, out=out, school_year=2026)
    return out


def test_calendar_of_2025_26_is_the_documented_one() -> None:
    calendar = school_calendar(2026)
    assert (calendar.school_year, calendar.prior_year) == (2026, 2025)
    expected = {
        "year_start": "2025-08-18",
        "fall_end": "2025-12-19",
        "spring_start": "2026-01-06",
        "prior_start": "2024-08-19",
        "prior_end": "2025-05-29",
    }
    for name, text in expected.items():
        assert DATE_TEXT[getattr(calendar, name)] == text, name


@pytest.mark.parametrize("year", range(2000, 2101))
def test_every_calendar_falls_on_school_days(year: int) -> None:
    calendar = school_calendar(year)

    def when(day_number: int) -> dt.date:
        return dt.date.fromisoformat(DATE_TEXT[day_number])

    start, fall_end, spring = (
        when(calendar.year_start),
        when(calendar.fall_end),
        when(calendar.spring_start),
    )
    prior_start, prior_end = when(calendar.prior_start), when(calendar.prior_end)
    assert start.weekday() == 0 and (start.year, start.month) == (year - 1, 8)
    assert 15 <= start.day <= 21
    assert fall_end.weekday() == 4 and (fall_end.year, fall_end.month) == (year - 1, 12)
    assert 15 <= fall_end.day <= 21
    assert spring.weekday() == 1 and (spring.year, spring.month) == (year, 1)
    assert 2 <= spring.day <= 8
    assert prior_start.weekday() == 0 and (prior_start.year, prior_start.month) == (year - 2, 8)
    assert prior_end.weekday() == 3 and (prior_end.year, prior_end.month) == (year - 1, 5)
    assert prior_end.day >= 25
    assert prior_start < prior_end < start < fall_end < spring


def test_school_day_refuses_a_date_of_the_wrong_half_year() -> None:
    assert DATE_TEXT[school_day(YEAR, "09-15", fall=True)] == "2029-09-15"
    assert DATE_TEXT[school_day(YEAR, "03-01", fall=False)] == "2030-03-01"
    with pytest.raises(ValueError, match="not in the fall"):
        school_day(YEAR, "04-01", fall=True)
    with pytest.raises(ValueError, match="not in the spring"):
        school_day(YEAR, "09-01", fall=False)


def test_same_seed_and_year_same_bytes_another_year_differs(district: Path, tmp_path: Path) -> None:
    generate(seed=SEED, students=STUDENTS, out=tmp_path / "again", school_year=YEAR, workers=2)
    assert file_bytes(tmp_path / "again") == file_bytes(district)
    generate(seed=SEED, students=STUDENTS, out=tmp_path / "other", school_year=YEAR + 1)
    assert (
        file_bytes(tmp_path / "other")["enrollments.csv"] != file_bytes(district)["enrollments.csv"]
    )


def test_manifest_records_the_school_year(district: Path) -> None:
    manifest = json.loads((district / "manifest.json").read_text("utf-8"))
    assert manifest["school_year"] == YEAR


def test_every_school_year_column_is_the_year_or_the_one_before(district: Path) -> None:
    expected = {
        "enrollments.csv": {str(YEAR - 1), str(YEAR)},
        "sections.csv": {str(YEAR)},
        "section_enrollments.csv": {str(YEAR)},
        "course_completions.csv": {str(YEAR)},
        "english_learner_profiles.csv": {str(YEAR)},
        "english_proficiency_results.csv": {str(YEAR)},
        "concurrent_enrollments.csv": {str(YEAR)},
        "cte_participations.csv": {str(YEAR)},
        # Results of the latest spring administration before a fall day of YEAR.
        "assessment_results.csv": {str(YEAR - 1)},
    }
    # Year fields, and the school_year of the section a roster or completion row points to.
    with_year = {name for name, header in FILES.items() if "school_year" in header}
    assert with_year == set(expected), "a file with a school_year column is not checked"
    assert columns_of_kind("year") <= {(name, "school_year") for name in expected}
    for name, years in expected.items():
        found = {row["school_year"] for row in read(district, name)}
        assert found == years, name


def test_every_date_falls_where_the_school_year_puts_it(district: Path) -> None:
    y = YEAR
    this_year = in_school_year(y)
    windows: dict[tuple[str, str], tuple[dt.date, dt.date]] = {
        # Oldest: a retained twelfth grader; youngest: a preschooler (October 1 cutoff).
        ("students.csv", "birth_date"): (date(y - 21, 1, 1), date(y - 5, 10, 1)),
        ("section_enrollments.csv", "begin_date"): this_year,
        ("section_enrollments.csv", "end_date"): this_year,
        ("programs.csv", "begin_date"): this_year,
        ("programs.csv", "end_date"): this_year,
        ("early_childhood_enrollments.csv", "begin_date"): this_year,
        ("early_childhood_enrollments.csv", "end_date"): this_year,
        ("early_childhood_assessments.csv", "assessed_on"): this_year,
        ("discipline_incidents.csv", "incident_date"): this_year,
        ("migrant_services.csv", "begin_date"): this_year,
        ("migrant_services.csv", "end_date"): this_year,
        ("special_education_services.csv", "begin_date"): (date(y - 1, 4, 1), date(y, 3, 31)),
        ("special_education_services.csv", "end_date"): this_year,
        # First IEPs go back to age three; reviews fall in the year to March 31.
        ("ieps.csv", "begin_date"): (date(y - 18, 1, 1), date(y, 3, 31)),
        ("ieps.csv", "review_date"): (date(y - 1, 4, 1), date(y, 3, 31)),
        ("ieps.csv", "end_date"): (date(y, 3, 31), date(y + 1, 3, 31)),
        ("migrant_eligibilities.csv", "signature_date"): (date(y - 3, 6, 1), date(y - 1, 12, 15)),
        ("migrant_eligibilities.csv", "qualifying_arrival_date"): (
            date(y - 4, 3, 1),
            date(y - 1, 12, 15),
        ),
        ("migrant_eligibilities.csv", "eligibility_expires"): (
            date(y - 1, 3, 1),
            date(y + 3, 1, 1),
        ),
        ("english_learner_profiles.csv", "first_us_school_date"): (
            date(y - 14, 8, 1),
            date(y, 1, 15),
        ),
    }
    # Preschoolers never leave during the year; few of a small district's migrant students do.
    always_blank = {
        ("early_childhood_enrollments.csv", "end_date"),
        ("migrant_services.csv", "end_date"),
    }
    # Enrollments: the dates of a row fall inside the row's own school year.
    assert set(windows) | {
        ("enrollments.csv", "entry_date"),
        ("enrollments.csv", "exit_date"),
    } == columns_of_kind("date"), "a date column of the district files is not checked"
    for (name, column), (low, high) in windows.items():
        values = [row[column] for row in read(district, name) if row[column]]
        assert values or (name, column) in always_blank, (name, column)
        days = [dt.date.fromisoformat(v) for v in values]
        outside = [d for d in days if not low <= d <= high]
        assert not outside, (name, column, min(outside), max(outside))
    seen = {str(y - 1): 0, str(y): 0}
    for row in read(district, "enrollments.csv"):
        low, high = in_school_year(int(row["school_year"]))
        for column in ("entry_date", "exit_date"):
            if row[column]:
                assert low <= dt.date.fromisoformat(row[column]) <= high, (
                    row["school_year"],
                    column,
                )
        seen[row["school_year"]] += 1
    assert seen[str(y - 1)] > 0.5 * STUDENTS and seen[str(y)] >= STUDENTS


def test_the_year_moves_the_dates_and_keeps_the_students(
    district: Path, district_2026: Path
) -> None:
    """The draw of the district does not depend on the year: the same students, born the
    same day of the year four years later (the leap-year cycle repeats every four years)."""
    later, earlier = read(district, "students.csv"), read(district_2026, "students.csv")
    assert len(later) == len(earlier) == STUDENTS
    for new, old in zip(later, earlier, strict=True):
        born_new, born_old = (dt.date.fromisoformat(r["birth_date"]) for r in (new, old))
        assert born_new == born_old.replace(year=born_old.year + 4)
        assert {k: v for k, v in new.items() if k != "birth_date"} == {
            k: v for k, v in old.items() if k != "birth_date"
        }
    assert read(district, "schools.csv") == read(district_2026, "schools.csv")
    starts = {
        r["entry_date"] for r in read(district, "enrollments.csv") if r["school_year"] == "2030"
    }
    assert "2029-08-20" in starts  # the third Monday of August 2029
    assert "2030-01-08" in {
        r["begin_date"] for r in read(district, "section_enrollments.csv")
    }  # the first Tuesday after New Year's Day 2030


def test_assessment_results_are_last_years_at_last_years_school(district: Path) -> None:
    ordinal = {k: int(v) for k, v in _grade_ordinals().items()}
    prior = {r["sasid"]: r for r in read(district, "enrollments.csv") if r["school_year"] == "2029"}
    results = read(district, "assessment_results.csv")
    assert results
    for r in results:
        enrollment = prior[r["sasid"]]  # only students enrolled in the district last year
        assert r["school_code"] == enrollment["school_code"]
        assert ordinal[r["grade_level"]] == ordinal[enrollment["grade_level"]]


def _grade_ordinals() -> dict[str, str]:
    from studentvault.records.codes import code_set

    return dict(code_set("grade_level").column("ordinal").items())


def test_without_a_year_the_generator_takes_the_current_one(tmp_path: Path) -> None:
    assert school_year_on(dt.date(2026, 6, 30)) == 2026
    assert school_year_on(dt.date(2026, 7, 1)) == 2027
    summary = generate(seed=1, students=100, out=tmp_path / "d")
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text("utf-8"))
    assert summary.school_year == manifest["school_year"] == school_year_on(dt.date.today())


def test_command_defaults_to_the_configured_current_school_year(
    tmp_path: Path, settings: Any
) -> None:
    settings.CURRENT_SCHOOL_YEAR = 2031
    out = StringIO()
    call_command("generate", students=100, seed=1, out=tmp_path / "d", workers=1, stdout=out)
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text("utf-8"))
    assert manifest["school_year"] == current_school_year() == 2031
    assert "school year 2031" in out.getvalue()
    settings.CURRENT_SCHOOL_YEAR = 0
    call_command("generate", students=100, seed=1, out=tmp_path / "e", stdout=StringIO())
    manifest = json.loads((tmp_path / "e" / "manifest.json").read_text("utf-8"))
    assert manifest["school_year"] == current_school_year() == school_year_on(dt.date.today())


@pytest.mark.parametrize("year", [26, 1999, 2101])
def test_a_school_year_out_of_range_is_named(tmp_path: Path, year: int) -> None:
    with pytest.raises(GenerationError, match=f"--school-year must be between .* got {year}"):
        generate(seed=1, students=100, out=tmp_path / "x", school_year=year)
    assert not (tmp_path / "x").exists()
    with pytest.raises(CommandError, match="--school-year must be between"):
        call_command("generate", students=100, out=tmp_path / "x", school_year=year)
    assert not (tmp_path / "x").exists()
