"""A vendor export holds exactly the contract's fields and schools; opt-outs; disclosures; 0600."""

from __future__ import annotations

import csv
import stat
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from exchange_world import verified

from studentvault.access.policy import current_school_year
from studentvault.audit.models import AuditEntry, Disclosure
from studentvault.core.actors import Actor
from studentvault.exchange.exports import (
    SEX,
    ExportRefused,
    ExportResult,
    allowed_elements,
    export_oneroster,
    export_state,
)
from studentvault.people.models import Contract
from studentvault.records.district_files import load_district
from studentvault.records.models import Enrollment, Student
from studentvault.web import demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(synthetic_district_files: Path) -> dict[str, Any]:
    load_district(synthetic_district_files)
    demo.ensure_accounts(actor=Actor.system("tests"))
    users = get_user_model().objects
    return {name: verified(users.get(username=name)) for name in ("alice", "bob")}


def export_under(fields: list[str], actor: Any, out_dir: Path) -> tuple[Contract, ExportResult]:
    """The vendor export of the world's contract, its elements set to ``fields`` first."""
    contract = Contract.objects.get()
    contract.fields = fields
    contract.save()
    return contract, export_oneroster(actor=actor, vendor=contract.vendor.name, out_dir=out_dir)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_vendor_export_has_exactly_the_contract_fields_and_schools(
    world: dict[str, Any], tmp_path: Path
) -> None:
    contract = Contract.objects.get()
    contract.fields = ["student.first_name", "student.last_name", "enrollment.grade_level",
                       "enrollment.school"]  # fmt: skip
    contract.save()
    opted = (
        Enrollment.objects.filter(
            school__state_code__in=contract.schools,
            school_year=current_school_year(),
            exit_date__isnull=True,
        )
        .order_by("student_id")
        .first()
    )
    assert opted is not None
    Student.objects.filter(pk=opted.student_id).update(directory_opt_out=True)
    result = export_oneroster(actor=world["alice"], vendor=contract.vendor.name, out_dir=tmp_path)

    expected = set(
        Enrollment.objects.filter(
            school__state_code__in=contract.schools,
            school_year=current_school_year(),
            exit_date__isnull=True,
        ).values_list("student__row_uid", flat=True)
    )
    users = read(tmp_path / "users.csv")
    assert {u["sourcedId"] for u in users} == {str(u) for u in expected}
    assert result.elements == sorted(contract.fields)
    for column in ("identifier", "password", "email", "middleName"):
        assert all(u[column] == "" for u in users), column
    assert all(d["birthDate"] == "" and d["sex"] == "" for d in read(tmp_path / "demographics.csv"))
    orgs = read(tmp_path / "orgs.csv")
    assert [o["identifier"] for o in orgs] == contract.schools
    withheld = next(u for u in users if u["sourcedId"] == str(opted.student.row_uid))
    assert (withheld["givenName"], withheld["familyName"], withheld["grades"]) == ("", "", "")
    open_ids = {
        str(u)
        for u in Student.objects.filter(directory_opt_out=False, media_opt_out=False).values_list(
            "row_uid", flat=True
        )
    }
    others = [u for u in users if u["sourcedId"] in open_ids]
    assert others and all(u["givenName"] and u["grades"] for u in others)
    closed = [u for u in users if u["sourcedId"] not in open_ids]
    assert result.directory_opt_outs == len(closed)
    assert all(u["givenName"] == u["familyName"] == "" for u in closed)
    for name in result.files:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    disclosures = Disclosure.objects.filter(recipient=contract.vendor.name)
    assert disclosures.count() == len(users)
    assert disclosures.first().elements == sorted(contract.fields)
    entry = AuditEntry.objects.filter(action="exchange:export:create").get()
    assert len(entry.student_list) == len(users)


def test_state_files_need_export_rights(world: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ExportRefused):
        export_state(actor=world["bob"], kind="sdm", out_dir=out)
    assert not out.exists()
    result = export_state(actor=world["alice"], kind="sdm", out_dir=out)
    rows = read(out / next(iter(result.files)))
    assert len(rows) == Student.objects.count() == result.students
    assert all(len(r["Birth Date"]) == 8 and r["Gender"] in {"01", "02", "03"} for r in rows)
    assert Disclosure.objects.filter(recipient_kind="state").count() == result.students


def test_a_vendor_export_decrypts_only_the_student_elements_its_contract_releases(
    world: dict[str, Any], tmp_path: Path, opened_columns: list[tuple[str, str]]
) -> None:
    stored = {str(s.row_uid): s for s in Student.objects.all()}  # read before the watched step
    opened_columns.clear()
    fields = ["student.first_name", "enrollment.grade_level", "enrollment.school"]
    _, result = export_under(fields, world["alice"], tmp_path)
    assert result.students > 0
    assert set(opened_columns) == {("records_student", "first_name")}
    assert len(opened_columns) == result.students
    entry = AuditEntry.objects.filter(action="exchange:export:create").get()  # the read, audited
    assert len(entry.student_list) == result.students
    users = read(tmp_path / "users.csv")
    for user in users:
        student = stored[user["sourcedId"]]
        withheld = student.directory_opt_out or student.media_opt_out
        assert user["givenName"] == ("" if withheld else student.first_name)
        assert user["familyName"] == user["identifier"] == ""


def test_a_vendor_export_of_demographics_writes_the_stored_values(
    world: dict[str, Any], tmp_path: Path, opened_columns: list[tuple[str, str]]
) -> None:
    stored = {str(s.row_uid): s for s in Student.objects.all()}  # read before the watched step
    opened_columns.clear()
    fields = ["student.birth_date", "student.gender", "student.asian",
              "student.federal_race_ethnicity", "enrollment.school"]  # fmt: skip
    contract, result = export_under(fields, world["alice"], tmp_path)
    released = set(allowed_elements(contract))
    assert released == set(contract.fields)  # the contract's categories cover them all
    assert result.elements == sorted(released)
    assert set(opened_columns) == {("records_student", "birth_date")}
    rows = read(tmp_path / "demographics.csv")
    assert len(rows) == result.students > 0
    for demographics in rows:
        s = stored[demographics["sourcedId"]]
        expected = {
            "birthDate": s.birth_date.isoformat(),
            "sex": SEX.get(s.gender, ""),
            "asian": "true" if s.asian else "false",
            "demographicRaceTwoOrMoreRaces": "true"
            if s.federal_race_ethnicity == "07"
            else "false",
            "white": "",  # not in the contract
            "hispanicOrLatinoEthnicity": "",
        }
        assert {k: demographics[k] for k in expected} == expected
