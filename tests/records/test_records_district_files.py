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


def test_parse_column_is_parse_value_of_each_cell_and_no_two_rows_share_a_list() -> None:
    """Each distinct text of a column is parsed once; the column is what parse_value gives cell
    by cell, every kind of value included, and a list of codes is never shared between rows."""
    from studentvault.core.elements import data_element_of
    from studentvault.records.district_files import parse_column, parse_value, value_fields
    from studentvault.records.models import AssessmentResult, Student

    samples = {
        "birth_date": ["2011-03-04", "2011-03-04", "2012-12-31"],
        "gender": ["01", "02", "01"],
        "white": ["1", "0", "1"],
        "preferred_name": ["", "Zeph", ""],
        "federal_race_ethnicity": ["05", "05", "04"],
        "accommodations": ["", "ET|TTS", "ET|TTS"],
        "scale_score": ["712", "712", "650"],
    }
    fields = {f.name: f for model in (Student, AssessmentResult) for f in value_fields(model)}
    tried = 0
    for name, raws in samples.items():
        if name not in fields:
            continue
        f = fields[name]
        element = data_element_of(f)
        assert element is not None
        column = parse_column(raws, f, element)
        assert column == [parse_value(raw, f, element) for raw in raws], name
        if element.value_kind == "codes":
            assert column[1] is not column[2]
        tried += 1
    assert tried >= 6
    f = fields["birth_date"]
    element = data_element_of(f)
    assert element is not None
    with pytest.raises(ValueError, match="expected a date"):
        parse_column(["2011-03-04", "31/12/2011"], f, element)
