"""OneRoster: the Moodle fixtures import with every row accounted for (stored, refused with a
reason, read into another record or not stored with a reason); a new student without a birth
date is refused by line and element while an existing one is updated; EDIDs, demographics and
rosters; re-import changes nothing (docs/adr/0075)."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from studentvault.core.actors import Actor
from studentvault.crypto.blind_index import index_for
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import import_files, mapping_save, report_text
from studentvault.records.models import (
    Course,
    District,
    School,
    Section,
    SectionEnrollment,
    Student,
)

pytestmark = pytest.mark.django_db

FIXTURES = Path("/work/shared/data/oneroster-moodle-fixtures")
FOLDERS = ["v1p1_full_data_set", "v1p2_full_dataset", "oneroster_test_data"]


def source_rows(path: Path) -> list[dict[str, str]]:
    """The data rows of a CSV file, counted independently of the importer."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [r for r in csv.DictReader(handle) if any((v or "").strip() for v in r.values())]


def accounted(run: ImportRun) -> Counter[str]:
    """Rows of each source file the report accounts for, whatever became of them."""
    total: Counter[str] = Counter()
    for f in run.report["files"]:
        base = f["name"].split(" (")[0]
        total[base] += f["added"] + f["changed"] + f["unchanged"] + f["refused"]
        total[base] += sum(f["skipped"].values()) + sum(f["merged"].values())
    return total


def district_with_school() -> School:
    district = District.objects.create(state_code="0880", name="Test district")
    return School.objects.create(
        district=district,
        state_code="0123",
        name="Test high school",
        level="HS",
        low_grade="090",
        high_grade="120",
    )


def make_student(district: District, local_id: str, **more: Any) -> Student:
    values: dict[str, Any] = {
        "district": district,
        "sasid": "",
        "local_id": local_id,
        "first_name": "Old",
        "last_name": "Name",
        "birth_date": dt.date(2009, 5, 1),
        "gender": "01",
        "white": True,
        "federal_race_ethnicity": "05",
        "language_background": "eng",
    }
    values.update(more)
    return Student.objects.create(**values)


@pytest.mark.parametrize("folder", FOLDERS)
def test_moodle_fixtures_import_with_every_row_accounted_for(alice: Actor, folder: str) -> None:
    path = FIXTURES / folder
    run = import_files(actor=alice, format_name="oneroster", paths=[path])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    counted = accounted(run)
    for f in path.glob("*.csv"):
        assert counted[f.name] == len(source_rows(f)), f.name
    # Nothing exists yet: no district, so no student, course or section can be made, and each
    # of those rows is refused with a reason naming what is missing.
    assert run.added == Student.objects.count() == Section.objects.count() == 0
    assert run.report["refused"] > 0
    assert all(r["reason"] and r["line"] >= 2 for f in run.report["files"] for r in f["refusals"])
    again = import_files(actor=alice, format_name="oneroster", paths=[path])
    assert (again.added, again.changed) == (0, 0)
    assert again.report["refused"] == run.report["refused"]


def test_v1p2_updates_an_existing_student_and_refuses_new_ones_without_birth_date(
    alice: Actor,
) -> None:
    school = district_with_school()
    existing = make_student(school.district, "mary.jones")
    path = FIXTURES / "v1p2_full_dataset"
    run = import_files(actor=alice, format_name="oneroster", paths=[path])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    roles = {r["userSourcedId"]: r["role"] for r in source_rows(path / "roles.csv")}
    users = source_rows(path / "users.csv")
    students = [u for u in users if roles.get(u["sourcedId"]) == "student"]
    assert len(students) == 3
    files = {f["name"]: f for f in run.report["files"]}
    counts = files["users.csv (students)"]
    # The one student already in StudentVault is updated; the others have no birth date.
    assert counts["changed"] == 1 and counts["added"] == 0
    assert counts["refused"] == len(students) - 1
    assert {r["field"] for r in counts["refusals"]} == {"birthDate (demographics.csv)"}
    assert sum(counts["skipped"].values()) == len(users) - len(students)
    assert counts["changed"] + counts["refused"] + sum(counts["skipped"].values()) == len(users)
    existing.refresh_from_db()
    assert (existing.first_name, existing.last_name, existing.preferred_name) == (
        "Mary",
        "Jones",
        "MJ",
    )
    assert any("prefferedGivenName" in n for n in counts["notes"])
    assert "refused line" in report_text(run)
    assert Student.objects.count() == 1
    again = import_files(actor=alice, format_name="oneroster", paths=[path])
    assert (again.added, again.changed) == (0, 0) and again.unchanged == 1


def test_org_codes_mapping_makes_the_course_and_the_student_with_demographics(
    alice: Actor,
) -> None:
    school = district_with_school()
    mapping_save(
        actor=alice,
        format_name="oneroster",
        name="gotham",
        columns={},
        options={"org_codes": {"ORG_1": school.state_code}},
    )
    path = FIXTURES / "oneroster_test_data"
    run = import_files(actor=alice, format_name="oneroster", paths=[path], mapping="gotham")
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    student = Student.objects.get(local_id_index=index_for("local_id", "bruce.wayne"))
    assert student.birth_date == dt.date(2010, 4, 17)
    assert School.objects.get().name == "Gotham High School"
    course = Course.objects.get()
    assert (course.code, course.subject) == ("COURSE_001", "ELA")  # SCED area 01
    # The class has no teacher with an EDID: the section (and its roster) are refused.
    files = {f["name"]: f for f in run.report["files"]}
    assert files["classes.csv"]["refused"] == 1
    assert "EDID" in files["classes.csv"]["refusals"][0]["field"]
    assert files["enrollments.csv"]["refused"] == 1
    counted = accounted(run)
    for f in path.glob("*.csv"):
        assert counted[f.name] == len(source_rows(f)), f.name


def write(folder: Path, name: str, rows: list[list[str]]) -> None:
    with (folder / name).open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def small_set(folder: Path, birth: str = "2011-02-03") -> Path:
    folder.mkdir(exist_ok=True)
    write(
        folder,
        "orgs.csv",
        [
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "name",
                "type",
                "identifier",
                "parentSourcedId",
            ],
            ["d1", "active", "", "Test district", "district", "0880", ""],
            ["s1", "active", "", "Test high school", "school", "0123", "d1"],
        ],
    )
    write(
        folder,
        "academicSessions.csv",
        [
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "title",
                "type",
                "startDate",
                "endDate",
                "parentSourcedId",
                "schoolYear",
            ],
            ["t1", "active", "", "Fall", "term", "2026-08-20", "2026-12-20", "", "2027"],
        ],
    )
    write(
        folder,
        "courses.csv",
        [
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "schoolYearSourcedId",
                "title",
                "courseCode",
                "grades",
                "orgSourcedId",
                "subjects",
                "subjectCodes",
            ],
            ["c1", "active", "", "", "Algebra I", "ALG1", "09", "d1", "Mathematics", ""],
        ],
    )
    write(
        folder,
        "classes.csv",
        [
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "title",
                "grades",
                "courseSourcedId",
                "classCode",
                "classType",
                "location",
                "schoolSourcedId",
                "termSourcedIds",
                "subjects",
                "subjectCodes",
                "periods",
            ],
            [
                "k1",
                "active",
                "",
                "Algebra I - 1",
                "09",
                "c1",
                "ALG1-1",
                "scheduled",
                "",
                "s1",
                "t1",
                "",
                "",
                "",
            ],
        ],
    )
    header = [
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ]
    write(
        folder,
        "users.csv",
        [
            header,
            [
                "u1",
                "active",
                "",
                "true",
                "s1",
                "student",
                "",
                "",
                "Ada",
                "Test",
                "",
                "S1001",
                "",
                "",
                "",
                "",
                "09",
                "",
            ],
            [
                "u2",
                "active",
                "",
                "true",
                "s1",
                "student",
                "",
                "",
                "Bo",
                "Test",
                "",
                "S1002",
                "",
                "",
                "",
                "",
                "09",
                "",
            ],
            [
                "u3",
                "active",
                "",
                "true",
                "s1",
                "teacher",
                "",
                "{EDID:12345678}",
                "Cy",
                "Teach",
                "",
                "t.cy",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
        ],
    )
    write(
        folder,
        "demographics.csv",
        [
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "birthDate",
                "sex",
                "americanIndianOrAlaskaNative",
                "asian",
                "blackOrAfricanAmerican",
                "nativeHawaiianOrOtherPacificIslander",
                "white",
                "demographicRaceTwoOrMoreRaces",
                "hispanicOrLatinoEthnicity",
            ],
            [
                "u1",
                "active",
                "",
                birth,
                "female",
                "false",
                "true",
                "false",
                "false",
                "true",
                "true",
                "false",
            ],
        ],
    )
    write(
        folder,
        "enrollments.csv",
        [
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "classSourcedId",
                "schoolSourcedId",
                "userSourcedId",
                "role",
                "primary",
                "beginDate",
                "endDate",
            ],
            ["e1", "active", "", "k1", "s1", "u1", "student", "false", "", ""],
            ["e2", "active", "", "k1", "s1", "u2", "student", "false", "", ""],
            ["e3", "active", "", "k1", "s1", "u3", "teacher", "true", "", ""],
        ],
    )
    return folder


def test_full_mapping_edid_demographics_rosters_and_idempotence(
    alice: Actor, tmp_path: Path
) -> None:
    district_with_school()
    folder = small_set(tmp_path / "set")
    run = import_files(actor=alice, format_name="oneroster", paths=[folder])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    ada = Student.objects.get(local_id_index=index_for("local_id", "S1001"))
    assert (ada.gender, ada.asian, ada.white, ada.hispanic_latino) == ("01", True, True, False)
    assert ada.federal_race_ethnicity == "07"  # two or more races, derived
    section = Section.objects.get()
    assert (section.educator_edid, section.school_year, section.section_code) == (
        "12345678",
        2027,
        "ALG1-1",
    )
    roster = SectionEnrollment.objects.get()
    assert roster.student_id == ada.pk and roster.begin_date == dt.date(2026, 8, 20)
    files = {f["name"]: f for f in run.report["files"]}
    # Bo has no birth date and is not in StudentVault: refused, and so is his roster line.
    refusals = files["users.csv (students)"]["refusals"]
    assert [(r["line"], r["field"]) for r in refusals] == [(3, "birthDate (demographics.csv)")]
    assert "a new student needs" in refusals[0]["reason"]
    assert files["enrollments.csv"]["refused"] == 1
    assert files["enrollments.csv"]["merged"] == {
        "teacher enrollment (gives the section's educator)": 1
    }
    again = import_files(actor=alice, format_name="oneroster", paths=[folder])
    assert (again.added, again.changed) == (0, 0)
    assert again.unchanged == run.added + run.unchanged


def test_bad_value_still_rejects_the_whole_run(alice: Actor, tmp_path: Path) -> None:
    district_with_school()
    folder = small_set(tmp_path / "set", birth="03/02/2011")
    run = import_files(actor=alice, format_name="oneroster", paths=[folder])
    assert run.status == ImportRun.Status.REJECTED
    problem = run.report["problems"][0]
    assert (problem["file"], problem["line"], problem["field"]) == (
        "users.csv (students)",
        2,
        "birth_date",
    )
    assert "03/02/2011" not in str(problem)
    assert Student.objects.count() == 0 and Section.objects.count() == 0
