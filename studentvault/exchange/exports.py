"""Exports: Data Pipeline-style state files and contract-limited OneRoster CSV for a vendor.

Invariants:
- the exporting account needs ``export`` on every category written, per student
  (``student_scope_filter(action="export")``); students outside that scope are not written;
- a vendor file holds only the data elements of the vendor's *active* contract (the contract's
  ``fields`` within its categories, or all fields of its categories: the rule of
  ``access.policy.contract_fields``) and only students with a current-year enrollment at a school
  the contract covers; every other OneRoster column is written empty. Only the student
  elements the contract releases are loaded, so no other encrypted value of the student is
  decrypted for a vendor file (tested);
- directory-information opt-outs: a student with ``directory_opt_out`` or ``media_opt_out`` is
  written to a vendor with every directory field empty (names, grade, school name), keeping
  only the opaque ``sourcedId`` and the non-directory fields the contract names; docs/adr/0073;
- every file is written 0600, cells through ``core.csv_safe``; one FERPA 99.32 disclosure row
  per student (``audit.disclosures.record_disclosure``) and an ``exchange:export:create`` audit
  entry are written in one transaction with the file's SHA-256; nothing is recorded as disclosed
  when writing fails, and a file is renamed into place only after the records commit.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from studentvault import audit
from studentvault.access.policy import (
    Action,
    category_fields,
    current_school_year,
    student_scope_filter,
)
from studentvault.audit.disclosures import record_disclosure
from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory
from studentvault.core.csv_safe import safe_row
from studentvault.people.models import Contract, Vendor
from studentvault.records.models import District, Enrollment, School, Student

STATE_RECIPIENT = "Colorado Department of Education"
STATE_BASIS = "State reporting: audit and evaluation of state-supported programs (34 CFR 99.35)"


class ExportRefused(PermissionError):
    """The export cannot be made (no active contract, nothing the actor may export...)."""


@dataclass
class ExportResult:
    """Files written (name -> SHA-256), students and data elements disclosed."""

    files: dict[str, str] = field(default_factory=dict)
    students: int = 0
    elements: list[str] = field(default_factory=list)
    directory_opt_outs: int = 0


def _write_private(path: Path, header: list[str], rows: Iterable[list[object]]) -> str:
    """Write a CSV file readable only by its owner (0600) under a temporary name; its SHA-256."""
    temp = path.with_name(f".{path.name}.partial")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(safe_row(row))
    return hashlib.sha256(temp.read_bytes()).hexdigest()


def _publish(paths: list[Path]) -> None:
    for path in paths:
        os.replace(path.with_name(f".{path.name}.partial"), path)


def _discard(paths: list[Path]) -> None:
    for path in paths:
        path.with_name(f".{path.name}.partial").unlink(missing_ok=True)


def _exportable(actor: Actor, categories: Iterable[DataCategory]) -> Any:
    q = None
    for category in categories:
        scope = student_scope_filter(actor, category, action=Action.EXPORT)
        if scope is None:
            raise ExportRefused(
                f"your grants do not allow exporting {category.value} data of any student"
            )
        q = scope if q is None else q & scope
    return q


def _mmddyyyy(day: dt.date | None) -> str:
    return day.strftime("%m%d%Y") if day else ""


def _flag(value: bool, code: str) -> str:
    return code if value else "00"


# --- state files -----------------------------------------------------------------------------

SDM_COLUMNS: list[tuple[str, str]] = [
    ("district", "School District/BOCES Code"),
    ("sasid", "SASID"),
    ("local_id", "LASID"),
    ("first_name", "First Name"),
    ("middle_name", "Middle Name"),
    ("last_name", "Last Name"),
    ("birth_date", "Birth Date"),
    ("gender", "Gender"),
    ("hispanic_latino", "Ethnicity: Hispanic or Latino"),
    ("american_indian_alaska_native", "Race: American Indian or Alaska Native"),
    ("asian", "Race: Asian"),
    ("black_african_american", "Race: Black or African American"),
    ("white", "Race: White"),
    ("native_hawaiian_pacific_islander", "Race: Native Hawaiian or other Pacific Islander"),
    ("federal_race_ethnicity", "Federal Race/Ethnicity Reporting Category"),
    ("language_background", "Language Background"),
]
# Colorado codes of the ethnicity and race flags when set (00 when not).
FLAG_CODES = {
    "hispanic_latino": "04",
    "american_indian_alaska_native": "01",
    "asian": "02",
    "black_african_american": "03",
    "white": "05",
    "native_hawaiian_pacific_islander": "06",
}
SSA_COLUMNS: list[tuple[str, str]] = [
    ("district", "School District/BOCES Code"),
    ("sasid", "SASID"),
    ("school", "School Code"),
    ("school_year", "School Year"),
    ("grade_level", "Grade Level"),
    ("entry_date", "Entry Date"),
    ("entry_type", "Entry Type"),
    ("exit_date", "Exit/Withdraw Date"),
    ("exit_type", "Exit/Withdraw Type"),
]


def _sdm_row(student: Student, district_code: str) -> list[object]:
    row: list[object] = []
    for name, _ in SDM_COLUMNS:
        if name == "district":
            row.append(district_code)
        elif name == "birth_date":
            row.append(_mmddyyyy(student.birth_date))
        elif name in FLAG_CODES:
            row.append(_flag(bool(getattr(student, name)), FLAG_CODES[name]))
        else:
            row.append(getattr(student, name) or "")
    return row


def export_state(*, actor: Actor, kind: str, out_dir: Path) -> ExportResult:
    """Write the Student Demographic (``sdm``) or Student School Association (``ssa``) file.

    Who may call: an account with ``export`` on demographics and enrollment; only students in
    that scope are written. Audited and recorded as a state submission disclosure.
    """
    if kind not in {"sdm", "ssa"}:
        raise ValueError("kind is sdm or ssa")
    categories = [DataCategory.DEMOGRAPHICS, DataCategory.ENROLLMENT]
    q = _exportable(actor, categories)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    districts = dict(District.objects.values_list("pk", "state_code"))
    year = current_school_year()
    students = list(Student.objects.filter(q).order_by("pk"))
    result = ExportResult()
    if kind == "sdm":
        name = f"student_demographic_{year}.csv"
        header = [label for _, label in SDM_COLUMNS]
        rows = [_sdm_row(s, districts.get(s.district_id, "")) for s in students]
        elements = [f"student.{n}" for n, _ in SDM_COLUMNS if n != "district"]
        ids = [s.pk for s in students]
    else:
        name = f"student_school_association_{year}.csv"
        header = [label for _, label in SSA_COLUMNS]
        sasids = {s.pk: s.sasid for s in students}
        enrollments = (
            Enrollment.objects.filter(student_id__in=list(sasids), school_year=year)
            .select_related("school__district")
            .order_by("student_id", "entry_date")
        )
        rows = []
        ids = []
        for e in enrollments:
            ids.append(e.student_id)
            rows.append(
                [
                    e.school.district.state_code,
                    sasids[e.student_id],
                    e.school.state_code,
                    e.school_year,
                    e.grade_level,
                    _mmddyyyy(e.entry_date),
                    e.entry_type,
                    _mmddyyyy(e.exit_date),
                    e.exit_type or "00",
                ]
            )
        elements = ["student.sasid"] + [
            f"enrollment.{n}" for n, _ in SSA_COLUMNS if n not in {"district", "sasid"}
        ]
    path = out_dir / name
    try:
        digest = _write_private(path, header, rows)
        with transaction.atomic():
            if ids:
                record_disclosure(
                    actor=actor,
                    students=sorted(set(ids)),
                    recipient=STATE_RECIPIENT,
                    recipient_kind="state",
                    basis=STATE_BASIS,
                    elements=elements,
                    channel="state_submission",
                )
            audit.record(
                actor=actor,
                action="exchange:export:create",
                students=sorted(set(ids)),
                categories=categories,
                target=f"export:state-{kind}",
                details={"file": name, "sha256": digest, "rows": len(rows)},
            )
    except BaseException:
        _discard([path])
        raise
    _publish([path])
    result.files[name] = digest
    result.students = len(set(ids))
    result.elements = sorted(elements)
    return result


# --- OneRoster for a vendor ------------------------------------------------------------------

# OneRoster users.csv / demographics.csv columns and the data element each one carries.
USERS_COLUMNS: list[tuple[str, str | None]] = [
    ("sourcedId", None),
    ("status", None),
    ("dateLastModified", None),
    ("enabledUser", None),
    ("orgSourcedIds", "enrollment.school"),
    ("role", None),
    ("username", None),
    ("userIds", None),
    ("givenName", "student.first_name"),
    ("familyName", "student.last_name"),
    ("middleName", "student.middle_name"),
    ("identifier", "student.local_id"),
    ("email", None),
    ("sms", None),
    ("phone", None),
    ("agentSourcedIds", None),
    ("grades", "enrollment.grade_level"),
    ("password", None),
]
DEMOGRAPHICS_COLUMNS: list[tuple[str, str | None]] = [
    ("sourcedId", None),
    ("status", None),
    ("dateLastModified", None),
    ("birthDate", "student.birth_date"),
    ("sex", "student.gender"),
    ("americanIndianOrAlaskaNative", "student.american_indian_alaska_native"),
    ("asian", "student.asian"),
    ("blackOrAfricanAmerican", "student.black_african_american"),
    ("nativeHawaiianOrOtherPacificIslander", "student.native_hawaiian_pacific_islander"),
    ("white", "student.white"),
    ("demographicRaceTwoOrMoreRaces", "student.federal_race_ethnicity"),
    ("hispanicOrLatinoEthnicity", "student.hispanic_latino"),
    ("countryOfBirthCode", None),
    ("stateOfBirthAbbreviation", None),
    ("cityOfBirth", None),
    ("publicSchoolResidenceStatus", None),
]
ORGS_COLUMNS = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier",
                "parentSourcedId"]  # fmt: skip
# Directory information (FERPA 99.3) among the columns above: withheld for opted-out students.
DIRECTORY_ELEMENTS = frozenset(
    {
        "student.first_name",
        "student.last_name",
        "student.middle_name",
        "enrollment.grade_level",
        "enrollment.school",
    }
)
SEX = {"01": "female", "02": "male", "03": "other"}


def vendor_contract(name: str) -> Contract:
    """The vendor's active contract (ExportRefused when there is none)."""
    vendor = Vendor.objects.filter(name=name).first()
    if vendor is None:
        raise ExportRefused(f"no vendor named {name!r}")
    for contract in Contract.objects.filter(vendor=vendor).select_related("vendor"):
        if contract.is_active():
            return contract
    raise ExportRefused(f"vendor {name!r} has no active contract")


def allowed_elements(contract: Contract) -> set[str]:
    """The "model.field" elements of the contract (as ``access.policy.contract_fields``)."""
    in_categories = category_fields(contract.category_set)
    if contract.fields:
        return {str(f).lower() for f in contract.fields} & in_categories
    return in_categories


def _bool(value: bool) -> str:
    return "true" if value else "false"


def export_oneroster(*, actor: Actor, vendor: str, out_dir: Path) -> ExportResult:
    """OneRoster 1.2 CSV (manifest, orgs, academicSessions, users, demographics) for a vendor.

    Who may call: an account with ``export`` on the contract's categories; the file holds the
    contract's elements, for the contract's schools, within the account's export scope.
    """
    contract = vendor_contract(vendor)
    allowed = allowed_elements(contract)
    if not allowed:
        raise ExportRefused("the contract names no data elements")
    categories = sorted(
        contract.category_set & {DataCategory.DEMOGRAPHICS, DataCategory.ENROLLMENT}
    )
    if DataCategory.ENROLLMENT not in categories:
        raise ExportRefused("a roster export needs a contract that covers enrollment")
    q = _exportable(actor, categories)
    year = current_school_year()
    enrollments = Enrollment.objects.filter(school_year=year, exit_date__isnull=True)
    if contract.schools != ["*"]:
        enrollments = enrollments.filter(school__state_code__in=[str(s) for s in contract.schools])
    current: dict[int, Enrollment] = {}
    for e in enrollments.select_related("school").order_by("entry_date"):
        current[e.student_id] = e
    # Only the student elements the contract releases are loaded, and so decrypted; with the
    # opt-out flags, which decide what is withheld.
    released = sorted(
        element.split(".", 1)[1]
        for _, element in USERS_COLUMNS + DEMOGRAPHICS_COLUMNS
        if element in allowed and element.startswith("student.")
    )
    students = list(
        Student.objects.filter(q, pk__in=list(current))
        .only("row_uid", "directory_opt_out", "media_opt_out", *released)
        .order_by("pk")
    )
    schools = sorted({current[s.pk].school_id for s in students})
    school_rows = {
        s.pk: s for s in School.objects.filter(pk__in=schools).select_related("district")
    }
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
    written: set[str] = set()
    opted_out = 0

    # How each filled column's value is made from the student and the current enrollment. A
    # value is made only when its element is released for that student (see row).
    user_values: dict[str, Callable[[Student, Enrollment], object]] = {
        "sourcedId": lambda s, e: str(s.row_uid),
        "status": lambda s, e: "active",
        "dateLastModified": lambda s, e: now,
        "enabledUser": lambda s, e: "true",
        "orgSourcedIds": lambda s, e: str(school_rows[e.school_id].row_uid),
        "role": lambda s, e: "student",
        "givenName": lambda s, e: s.first_name,
        "familyName": lambda s, e: s.last_name,
        "middleName": lambda s, e: s.middle_name,
        "identifier": lambda s, e: s.local_id,
        "grades": lambda s, e: e.grade_level,
    }
    demographic_values: dict[str, Callable[[Student, Enrollment], object]] = {
        "sourcedId": lambda s, e: str(s.row_uid),
        "status": lambda s, e: "active",
        "dateLastModified": lambda s, e: now,
        "birthDate": lambda s, e: s.birth_date.isoformat() if s.birth_date else "",
        "sex": lambda s, e: SEX.get(s.gender, ""),
        "americanIndianOrAlaskaNative": lambda s, e: _bool(s.american_indian_alaska_native),
        "asian": lambda s, e: _bool(s.asian),
        "blackOrAfricanAmerican": lambda s, e: _bool(s.black_african_american),
        "nativeHawaiianOrOtherPacificIslander": lambda s, e: _bool(
            s.native_hawaiian_pacific_islander
        ),
        "white": lambda s, e: _bool(s.white),
        "demographicRaceTwoOrMoreRaces": lambda s, e: _bool(s.federal_race_ethnicity == "07"),
        "hispanicOrLatinoEthnicity": lambda s, e: _bool(s.hispanic_latino),
    }

    def row(
        columns: list[tuple[str, str | None]],
        values: dict[str, Callable[[Student, Enrollment], object]],
        s: Student,
        e: Enrollment,
    ) -> list[object]:
        """The student's cells: empty where the column has no value, where the contract does
        not release its element, and for directory elements of an opted-out student."""
        withheld = s.directory_opt_out or s.media_opt_out
        cells: list[object] = []
        for column, element in columns:
            make = values.get(column)
            if make is None or (
                element is not None
                and (element not in allowed or (withheld and element in DIRECTORY_ELEMENTS))
            ):
                cells.append("")
                continue
            if element is not None:
                written.add(element)
            cells.append(make(s, e))
        return cells

    users = []
    demographics = []
    for s in students:
        e = current[s.pk]
        if s.directory_opt_out or s.media_opt_out:
            opted_out += 1
        users.append(row(USERS_COLUMNS, user_values, s, e))
        demographics.append(row(DEMOGRAPHICS_COLUMNS, demographic_values, s, e))
    orgs = [
        [str(o.row_uid), "active", now, o.name, "school", o.state_code, str(o.district.row_uid)]
        for o in school_rows.values()
    ]
    sessions = [[f"sy-{year}", "active", now, f"{year - 1}-{year}", "schoolYear",
                 f"{year - 1}-07-01", f"{year}-06-30", "", str(year)]]  # fmt: skip
    manifest = [
        ["manifest.version", "1.0"],
        ["oneroster.version", "1.2"],
        ["file.academicSessions", "bulk"],
        ["file.orgs", "bulk"],
        ["file.users", "bulk"],
        ["file.demographics", "bulk"],
        ["file.classes", "absent"],
        ["file.courses", "absent"],
        ["file.enrollments", "absent"],
    ]
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    session_header = ["sourcedId", "status", "dateLastModified", "title", "type", "startDate",
                      "endDate", "parentSourcedId", "schoolYear"]  # fmt: skip
    plan: list[tuple[str, list[str], list[list[object]]]] = [
        ("manifest.csv", ["propertyName", "value"], [list(r) for r in manifest]),
        ("orgs.csv", ORGS_COLUMNS, [list(r) for r in orgs]),
        ("academicSessions.csv", session_header, [list(r) for r in sessions]),
        ("users.csv", [c for c, _ in USERS_COLUMNS], users),
        ("demographics.csv", [c for c, _ in DEMOGRAPHICS_COLUMNS], demographics),
    ]
    paths = [out_dir / name for name, _, _ in plan]
    result = ExportResult(directory_opt_outs=opted_out)
    try:
        for name, header, rows in plan:
            result.files[name] = _write_private(out_dir / name, header, rows)
        ids = [s.pk for s in students]
        with transaction.atomic():
            if ids and written:
                record_disclosure(
                    actor=actor,
                    students=ids,
                    recipient=contract.vendor.name,
                    recipient_kind="vendor",
                    basis="; ".join(str(p) for p in contract.purposes),
                    contract_ref=f"contract:{contract.pk}",
                    elements=sorted(written),
                    channel="export",
                )
            audit.record(
                actor=actor,
                action="exchange:export:create",
                students=ids,
                categories=categories,
                target=f"contract:{contract.pk}",
                details={
                    "format": "oneroster",
                    "vendor": contract.vendor.name,
                    "files": ",".join(f"{k}:{v}" for k, v in result.files.items())[:1000],
                    "students": len(ids),
                    "directory_opt_outs": opted_out,
                },
            )
    except BaseException:
        _discard(paths)
        raise
    _publish(paths)
    result.students = len(students)
    result.elements = sorted(written)
    return result
