"""Loading a district folder: all or nothing, errors that name the place and not the value."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from studentvault.records.district_files import FILES, DistrictFileError, columns_of, load_district
from studentvault.records.models import (
    AssessmentResult,
    District,
    Enrollment,
    ParentContact,
    Student,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def district(synthetic_district_files: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "district"
    shutil.copytree(synthetic_district_files, copy)
    return copy


def _count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_generated_files_have_the_loader_header(district: Path) -> None:
    for spec in FILES:
        with (district / spec.file).open(newline="", encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == columns_of(spec), spec.file


def test_loads_every_file_with_matching_counts(district: Path) -> None:
    report = load_district(district)
    assert report.students == 300 == Student.objects.count()
    for spec in FILES:
        assert report.rows[spec.file] == _count_rows(district / spec.file), spec.file
        assert spec.model.objects.count() == report.rows[spec.file], spec.file
    assert Enrollment.objects.count() >= 300
    assert AssessmentResult.objects.exists()
    assert ParentContact.objects.exists()


def _break(path: Path, line: int, column: str, value: str) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize(
    ("file", "column", "value", "problem"),
    [
        ("students.csv", "birth_date", "31/02/2012", "expected a date as YYYY-MM-DD"),
        ("students.csv", "gender", "9", "not a code of code set 'gender'"),
        ("enrollments.csv", "sasid", "0000000000", "refers to a record not found"),
        ("assessment_results.csv", "scale_score", "high", "expected a whole number"),
        ("students.csv", "hispanic_latino", "yes", "expected 1 or 0"),
    ],
)
def test_one_bad_value_loads_nothing_and_names_the_place(
    district: Path, file: str, column: str, value: str, problem: str
) -> None:
    _break(district / file, 5, column, value)
    with pytest.raises(DistrictFileError) as caught:
        load_district(district)
    message = str(caught.value)
    assert message.startswith(f"{file} line 5, column '{column}'")
    assert problem in message
    if len(value) > 1:
        assert value not in message  # the error names the place, never the value
    assert not District.objects.exists()
    assert not Student.objects.exists()


def test_error_never_repeats_a_name(district: Path) -> None:
    with (district / "students.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    last_name = rows[3][header.index("last_name")]
    _break(district / "students.csv", 4, "last_name", last_name * 61)
    with pytest.raises(DistrictFileError) as caught:
        load_district(district)
    assert "longer than" in str(caught.value)
    assert last_name not in str(caught.value)


def test_duplicate_key_and_reload_are_refused(district: Path) -> None:
    with (district / "students.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows.append(rows[2])
    with (district / "students.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    with pytest.raises(DistrictFileError, match="duplicate key"):
        load_district(district)
    assert not Student.objects.exists()


def test_loading_the_same_district_twice_is_refused(district: Path) -> None:
    load_district(district)
    with pytest.raises(DistrictFileError, match="already loaded"):
        load_district(district)
    assert Student.objects.count() == 300


def test_missing_file_and_wrong_header(district: Path) -> None:
    (district / "ieps.csv").unlink()
    with pytest.raises(DistrictFileError, match="missing files"):
        load_district(district)
    shutil.copy(district / "disabilities.csv", district / "ieps.csv")
    with pytest.raises(DistrictFileError, match="header does not match"):
        load_district(district)
    assert not Student.objects.exists()
