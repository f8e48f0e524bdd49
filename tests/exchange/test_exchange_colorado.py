"""Colorado Data Pipeline files: what the state export writes imports back exactly (SDM and
SSA, decrypted values compared), with , | and ~ delimiters; bad dates and flags are refused."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from exchange_world import verified

from studentvault.access.policy import current_school_year
from studentvault.core.actors import Actor
from studentvault.exchange.exports import SDM_COLUMNS, export_state
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import import_files
from studentvault.records.district_files import FILES, load_district
from studentvault.records.models import District, Enrollment, School, Student
from studentvault.web import demo

pytestmark = pytest.mark.django_db

STUDENT_FIELDS = [n for n, _ in SDM_COLUMNS if n != "district"]
STAY_FIELDS = ["grade_level", "entry_date", "entry_type", "exit_date", "exit_type"]


@pytest.fixture
def steward(synthetic_district_files: Path) -> Actor:
    load_district(synthetic_district_files)
    demo.ensure_accounts(actor=Actor.system("tests"))
    return verified(get_user_model().objects.get(username="alice"))


def snapshot() -> tuple[dict[str, tuple[Any, ...]], set[tuple[Any, ...]]]:
    students = {
        s.sasid: tuple(getattr(s, n) for n in STUDENT_FIELDS) for s in Student.objects.all()
    }
    stays = {
        (e.student.sasid, e.school.state_code, e.school_year, *(getattr(e, n) for n in STAY_FIELDS))
        for e in Enrollment.objects.filter(school_year=current_school_year()).select_related(
            "student", "school"
        )
    }
    return students, stays


def rewrite(path: Path, delimiter: str) -> Path:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    out = path.with_name(f"{path.stem}-{'pipe' if delimiter == '|' else 'tilde'}.txt")
    with out.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out


@pytest.mark.parametrize("delimiter", [",", "|", "~"])
def test_state_export_imports_back_exactly(steward: Actor, tmp_path: Path, delimiter: str) -> None:
    sdm = export_state(actor=steward, kind="sdm", out_dir=tmp_path)
    ssa = export_state(actor=steward, kind="ssa", out_dir=tmp_path)
    sdm_path = tmp_path / next(iter(sdm.files))
    ssa_path = tmp_path / next(iter(ssa.files))
    if delimiter != ",":
        sdm_path, ssa_path = rewrite(sdm_path, delimiter), rewrite(ssa_path, delimiter)
    students, stays = snapshot()
    assert len(students) == 300 and stays
    # An empty district: the students and every record hanging off them go; schools stay.
    for spec in reversed(FILES):
        if spec.model not in (District, School):
            spec.model._default_manager.all().delete()
    assert Enrollment.objects.count() == 0

    run = import_files(actor=steward, format_name="colorado-sdm", paths=[sdm_path])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    assert run.added == len(students)
    run = import_files(actor=steward, format_name="colorado-ssa", paths=[ssa_path])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    assert run.added == len(stays)
    assert snapshot() == (students, stays)
    # Leading zeros are kept through the file.
    assert {s.gender for s in Student.objects.all()} <= {"01", "02", "03"}

    again = import_files(actor=steward, format_name="colorado-ssa", paths=[ssa_path])
    assert (again.added, again.changed, again.unchanged) == (0, 0, len(stays))
    again = import_files(actor=steward, format_name="colorado-sdm", paths=[sdm_path])
    assert (again.added, again.changed, again.unchanged) == (0, 0, len(students))


@pytest.mark.parametrize(
    ("label", "value", "problem"),
    [
        ("Birth Date", "2012-01-31", "expected a date as MMDDYYYY"),
        ("Race: Asian", "05", "expected 00 or 02"),
        ("Gender", "7", "not a code of code set 'gender'"),
    ],
)
def test_bad_state_values_name_line_and_column(
    steward: Actor, tmp_path: Path, label: str, value: str, problem: str
) -> None:
    result = export_state(actor=steward, kind="sdm", out_dir=tmp_path)
    path = tmp_path / next(iter(result.files))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[7][rows[0].index(label)] = value
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    before = Student.objects.count()
    run = import_files(actor=steward, format_name="colorado-sdm", paths=[path])
    assert run.status == ImportRun.Status.REJECTED
    found = run.report["problems"][0]
    assert found["line"] == 8 and found["field"] in {label, "gender"}
    assert problem in found["problem"] and value not in found["problem"]
    assert Student.objects.count() == before


def test_wrong_delimiter_is_named(steward: Actor, tmp_path: Path) -> None:
    path = tmp_path / "sdm.csv"
    path.write_text(";".join(label for _, label in SDM_COLUMNS) + "\n")
    run = import_files(actor=steward, format_name="colorado-sdm", paths=[path])
    assert run.status == ImportRun.Status.REJECTED
    assert "wrong delimiter" in run.report["problems"][0]["problem"]
