"""Bad input gets a clear error naming the place, never the value, and imports nothing."""

from __future__ import annotations

import csv
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from studentvault.core.actors import Actor
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import import_files
from studentvault.records.models import Student

pytestmark = pytest.mark.django_db


def rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write(path: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\n").writerows(rows)


def files(district: Path) -> list[Path]:
    return [district / "district.csv", district / "schools.csv", district / "students.csv"]


def rejected(alice: Actor, paths: list[Path]) -> dict[str, object]:
    run = import_files(actor=alice, format_name="district", paths=paths)
    assert run.status == ImportRun.Status.REJECTED, run.report
    assert Student.objects.count() == 0
    problem = run.report["problems"][0]
    assert isinstance(problem, dict)
    return problem


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("birth_date", "31/02/2012", "expected a date as YYYY-MM-DD"),
        ("gender", "9", "not a code of code set 'gender'"),
        ("hispanic_latino", "yes", "expected 1 or 0"),
    ],
)
def test_one_bad_row_imports_nothing_and_names_the_row(
    alice: Actor, district_copy: Path, column: str, value: str, problem: str
) -> None:
    students = district_copy / "students.csv"
    rows = rows_of(students)
    rows[41][rows[0].index(column)] = value
    write(students, rows)
    found = rejected(alice, files(district_copy))
    assert (found["file"], found["line"], found["field"]) == ("students.csv", 42, column)
    assert problem in str(found["problem"])
    assert value not in str(found["problem"])


def test_duplicate_key_inside_one_file(alice: Actor, district_copy: Path) -> None:
    students = district_copy / "students.csv"
    rows = rows_of(students)
    rows.append(rows[3])
    write(students, rows)
    found = rejected(alice, files(district_copy))
    assert found["line"] == len(rows) and "duplicate key" in str(found["problem"])


def test_missing_and_extra_columns(alice: Actor, district_copy: Path) -> None:
    students = district_copy / "students.csv"
    rows = rows_of(students)
    gender = rows[0].index("gender")
    write(students, [[c for i, c in enumerate(r) if i != gender] + ["x"] for r in rows])
    found = rejected(alice, files(district_copy))
    assert "missing columns ['gender']" in str(found["problem"])
    assert "unexpected columns" in str(found["problem"])


@pytest.mark.parametrize("change", ["extra", "missing"])
def test_a_row_with_a_field_too_many_or_too_few_names_the_row(
    alice: Actor, district_copy: Path, change: str
) -> None:
    students = district_copy / "students.csv"
    rows = rows_of(students)
    width, bad = len(rows[0]), len(rows) - 2
    rows[bad] = [*rows[bad], "spare"] if change == "extra" else rows[bad][:-1]
    write(students, rows)
    found = rejected(alice, files(district_copy))
    assert (found["file"], found["line"], found["field"]) == ("students.csv", bad + 1, None)
    shown = width + 1 if change == "extra" else width - 1
    assert found["problem"] == f"expected {width} fields, found {shown}"


def test_wrong_delimiter(alice: Actor, district_copy: Path) -> None:
    students = district_copy / "students.csv"
    write(students, rows_of(students), delimiter=";")
    found = rejected(alice, files(district_copy))
    assert "wrong delimiter" in str(found["problem"]) and found["line"] == 1


def test_not_utf8_names_the_byte_offset(alice: Actor, district_copy: Path) -> None:
    students = district_copy / "students.csv"
    data = students.read_bytes()
    offset = data.index(b"\n") + 5
    students.write_bytes(data[:offset] + b"\xe9" + data[offset + 1 :])
    found = rejected(alice, files(district_copy))
    assert f"byte offset {offset}" in str(found["problem"])


def test_empty_file(alice: Actor, district_copy: Path) -> None:
    (district_copy / "students.csv").write_bytes(b"")
    found = rejected(alice, files(district_copy))
    assert found["problem"] == "the file is empty"


def test_zip_renamed_csv(alice: Actor, district_copy: Path) -> None:
    students = district_copy / "students.csv"
    archive = district_copy / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(students, "students.csv")
    os.replace(archive, students)
    found = rejected(alice, files(district_copy))
    assert "ZIP archive" in str(found["problem"])


def test_two_gigabyte_file_is_refused_without_reading_it(alice: Actor, tmp_path: Path) -> None:
    big = tmp_path / "students.csv"
    subprocess.run(["truncate", "-s", "2G", str(big)], check=True)
    assert big.stat().st_blocks == 0  # sparse: nothing was written, nothing needs reading
    found = rejected(alice, [big])
    assert "more than the limit" in str(found["problem"])


def test_dry_run_previews_and_stores_nothing(alice: Actor, district_copy: Path) -> None:
    run = import_files(
        actor=alice, format_name="district", paths=files(district_copy), dry_run=True
    )
    assert run.status == ImportRun.Status.PREVIEWED
    assert run.added == 1 + len(rows_of(district_copy / "schools.csv")) - 1 + 300
    assert run.report["preview"][0]["action"] == "add"
    assert Student.objects.count() == 0
