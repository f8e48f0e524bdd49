"""The Ed-Fi Grand Bend sample imports with counts that match the source files; hostile XML
(external entities, entity expansion) is refused and stores nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from studentvault.core.actors import Actor
from studentvault.crypto.blind_index import index_for
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import import_files
from studentvault.records.models import (
    Assessment,
    AssessmentResult,
    District,
    ProgramParticipation,
    School,
    Student,
)

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "ed-fi-grand-bend" / "ds-5.2"
if not SAMPLE.exists():
    SAMPLE = Path("/work/shared/data/ed-fi-grand-bend/ds-5.2")


def children(file: str) -> list[str]:
    root = ET.parse(SAMPLE / file).getroot()  # noqa: S314 - the published sample, not input
    return [child.tag.rsplit("}", 1)[-1] for child in root]


def test_grand_bend_imports_with_counts_matching_the_files(alice: Actor) -> None:
    run = import_files(actor=alice, format_name="edfi", paths=[SAMPLE])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    students = children("Student.xml").count("Student")
    assert students == 960
    assert Student.objects.count() == students
    organizations = children("EducationOrganization.xml")
    assert District.objects.count() == organizations.count("LocalEducationAgency") == 1
    assert School.objects.count() == organizations.count("School") == 3
    assert Assessment.objects.count() == children("AssessmentMetadata-StateAssessment.xml").count(
        "Assessment"
    )
    assert AssessmentResult.objects.count() == children(
        "StudentAssessment-StateAssessment.xml"
    ).count("StudentAssessment")
    programs = [t for t in children("StudentProgram.xml") if t.endswith("ProgramAssociation")]
    files = {f["name"]: f for f in run.report["files"]}
    program_file = files["StudentProgram.xml"]
    not_stored = sum(program_file["skipped"].values())
    # Every association is either stored or counted as not stored, with its reason.
    assert ProgramParticipation.objects.count() + not_stored == len(programs)
    assert program_file["added"] == ProgramParticipation.objects.count()
    assert all("no StudentVault program" in reason for reason in program_file["skipped"])
    one = Student.objects.get(sasid_index=index_for("sasid", "604822"))
    assert (one.first_name, one.last_name, str(one.birth_date)) == ("Lisa", "Woods", "2008-09-13")

    again = import_files(actor=alice, format_name="edfi", paths=[SAMPLE])
    assert again.status == ImportRun.Status.COMMITTED
    assert (again.added, again.changed, again.unchanged) == (0, 0, run.added)


XXE = """<?xml version="1.0"?>
<!DOCTYPE InterchangeStudent [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<InterchangeStudent xmlns="http://ed-fi.org/5.2.0"><Student>
<StudentUniqueId>1</StudentUniqueId><Name><FirstName>&secret;</FirstName>
<LastSurname>X</LastSurname></Name><BirthData><BirthDate>2010-01-01</BirthDate></BirthData>
</Student></InterchangeStudent>
"""

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    + '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    + '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    + ']>\n<InterchangeStudent xmlns="http://ed-fi.org/5.2.0">&lol3;</InterchangeStudent>\n'
)


@pytest.mark.parametrize("document", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_hostile_xml_is_refused_and_nothing_is_stored(
    alice: Actor, tmp_path: Path, document: str
) -> None:
    path = tmp_path / "Student.xml"
    path.write_text(document)
    run = import_files(actor=alice, format_name="edfi", paths=[path])
    assert run.status == ImportRun.Status.REJECTED
    assert "refused XML" in run.report["problems"][0]["problem"]
    assert Student.objects.count() == 0


def test_bad_row_in_xml_names_the_line_and_stores_nothing(alice: Actor, tmp_path: Path) -> None:
    path = tmp_path / "Student.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<InterchangeStudent xmlns="http://ed-fi.org/5.2.0">\n'
        "<Student><StudentUniqueId>111</StudentUniqueId><Name><FirstName>A</FirstName>"
        "<LastSurname>B</LastSurname></Name><BirthData><BirthDate>2010-01-01</BirthDate>"
        "</BirthData></Student>\n"
        "<Student><StudentUniqueId>112</StudentUniqueId><Name><FirstName>C</FirstName>"
        "<LastSurname>D</LastSurname></Name><BirthData><BirthDate>01/02/2010</BirthDate>"
        "</BirthData></Student>\n</InterchangeStudent>\n"
    )
    District.objects.create(state_code="9999", name="Test district")
    run = import_files(actor=alice, format_name="edfi", paths=[path])
    assert run.status == ImportRun.Status.REJECTED
    problem = run.report["problems"][0]
    assert (problem["line"], problem["field"]) == (4, "birth_date")
    assert "01/02/2010" not in str(problem)
    assert Student.objects.count() == 0
