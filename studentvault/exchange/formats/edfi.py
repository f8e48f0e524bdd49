"""``edfi``: Ed-Fi Data Standard 5.x XML interchange files.

Parsed with defusedxml: a document type declaration (DOCTYPE), entity declarations and external
references are refused before any element is read (no XXE, no "billion laughs").

Interchanges and what is stored (docs/formats/edfi.md has the whole mapping preset):

- EducationOrganization: ``LocalEducationAgency`` -> district, ``School`` -> school. Ed-Fi
  organization ids are longer than the state's 4-character codes: the preset keeps their last
  ``edorg_code_digits`` (4) digits; ``options.edorg_codes`` ({id: code}) overrides per id.
  Other elements (Course, Program, Location...) are counted as not stored.
- Student: ``Student`` -> student (partial: SASID = StudentUniqueId, names, birth date; the
  demographics of DS 5 live on StudentEducationOrganizationAssociation, not in this file).
- StudentProgram: every ``Student*ProgramAssociation`` -> program participation, program from
  ProgramType (preset ``programs``); types without a StudentVault program code are not stored.
- AssessmentMetadata: ``Assessment`` -> assessment (code = the State identification code).
- StudentAssessment: ``StudentAssessment`` -> assessment result; the school is the one school
  of the district whose grades include WhenAssessedGradeLevel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from studentvault.records import models as m
from studentvault.records.codes import code_set
from studentvault.records.district_files import FILES, FileSpec

from ..engine import CanonicalFile, Row
from ..errors import ImportRejected, Problem
from ..intake import ReceivedFile
from . import FormatOptions

SPECS: dict[str, FileSpec] = {spec.file: spec for spec in FILES}

GRADES: dict[str, str] = {
    "Infant/toddler": "002",
    "Preschool/Prekindergarten": "004",
    "Kindergarten": "007",
    "First grade": "010",
    "Second grade": "020",
    "Third grade": "030",
    "Fourth grade": "040",
    "Fifth grade": "050",
    "Sixth grade": "060",
    "Seventh grade": "070",
    "Eighth grade": "080",
    "Ninth grade": "090",
    "Tenth grade": "100",
    "Eleventh grade": "110",
    "Twelfth grade": "120",
}
SCHOOL_LEVELS = {
    "High School": "HS",
    "Middle School": "MS",
    "Junior High School": "MS",
    "Elementary School": "EL",
    "Early Childhood": "EC",
}
PROGRAMS = {
    "Bilingual": "english_learner",
    "English as a Second Language (ESL)": "english_learner",
    "Gifted and Talented": "gifted",
    "Homeless": "homeless",
    "Migrant Education": "migrant",
    "Section 504 Placement": "section_504",
    "Special Education": "special_education",
    "Title I Part A": "title_i",
    "Compensatory Services for Disadvantaged Students": "free_reduced_lunch",
}
LUNCH = {
    "Free Lunch": "01",
    "Free Breakfast": "01",
    "Reduced Price Lunch": "02",
    "Reduced Price Breakfast": "02",
}
SUBJECTS = {
    "Mathematics": "MATH",
    "Reading": "ELA",
    "English Language Arts": "ELA",
    "Writing": "ELA",
    "Science": "SCI",
    "Social Studies": "SS",
}
ASSESSMENT_KINDS = {
    "State summative assessment 3-8 general": "state",
    "College entrance": "college_entrance",
}
PERFORMANCE_LEVELS = {
    "Did Not Meet Standard": "1",
    "Met Standard": "4",
    "Advanced": "5",
    "Commended Performance": "5",
}
# Ed-Fi reporting methods that hold the scale score, in order of preference.
SCALE_METHODS = ("Scale score", "Vertical score")
INTERCHANGES = (
    "InterchangeEducationOrganization",
    "InterchangeStudent",
    "InterchangeAssessmentMetadata",
    "InterchangeStudentProgram",
    "InterchangeStudentAssessment",
)


def local(tag: str) -> str:
    """The element name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def descriptor(text: str | None) -> str:
    """The code value of an Ed-Fi descriptor URI (``uri://ed-fi.org/XDescriptor#Value``)."""
    return (text or "").strip().rsplit("#", 1)[-1]


class _LineParser(DefusedXMLParser):  # type: ignore[misc]
    """A defused parser that remembers the line on which each element starts."""

    def __init__(self) -> None:
        super().__init__(forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self.lines: dict[int, int] = {}

    def _start(self, tag: str, attr_list: Any) -> Element:
        element: Element = super()._start(tag, attr_list)
        self.lines[id(element)] = self.parser.CurrentLineNumber
        return element


def parse_xml(received: ReceivedFile) -> tuple[Element, dict[int, int]]:
    """The root element and element lines of a file; refuses DTDs, entities, external refs."""
    parser = _LineParser()
    try:
        with received.path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                parser.feed(chunk)
        root: Element = parser.close()
    except DefusedXmlException as refused:
        raise ImportRejected(
            [
                Problem(
                    received.name,
                    None,
                    None,
                    f"refused XML: {type(refused).__name__} (a DOCTYPE, entity declaration or "
                    "external reference; Ed-Fi files need none)",
                )
            ]
        ) from None
    except ParseError as problem:
        line = problem.position[0] if problem.position else None
        raise ImportRejected(
            [Problem(received.name, line, None, f"not well-formed XML: {problem.msg}")]
        ) from None
    return root, parser.lines


def _text(element: Element, *path: str) -> str:
    node: Element | None = element
    for name in path:
        if node is None:
            return ""
        node = next((c for c in node if local(c.tag) == name), None)
    return (node.text or "").strip() if node is not None else ""


def _all(element: Element, name: str) -> list[Element]:
    return [c for c in element.iter() if local(c.tag) == name]


@dataclass
class _Context:
    """What one run learns from earlier files (organization codes, grades, assessment codes)."""

    options: dict[str, Any]
    district_code: str = ""
    school_grades: dict[str, set[str]] = field(default_factory=dict)
    assessment_codes: dict[str, str] = field(default_factory=dict)
    used_codes: dict[str, str] = field(default_factory=dict)

    def org_code(self, edorg_id: str) -> str:
        explicit = {str(k): str(v) for k, v in self.options.get("edorg_codes", {}).items()}
        if edorg_id in explicit:
            return explicit[edorg_id]
        digits = int(self.options.get("edorg_code_digits", 4))
        return edorg_id[-digits:]


@dataclass
class EdFiFormat:
    """Ed-Fi XML interchange files (Data Standard 5.x)."""

    name: str = "edfi"
    description: str = (
        "Ed-Fi XML interchange (EducationOrganization, Student, programs, assessments)"
    )
    text: bool = True

    def preset(self) -> dict[str, str]:
        return {
            "Student.StudentUniqueId": "sasid",
            "Student.Name.FirstName": "first_name",
            "Student.Name.MiddleName": "middle_name",
            "Student.Name.LastSurname": "last_name",
            "Student.Name.PreferredFirstName": "preferred_name",
            "Student.BirthData.BirthDate": "birth_date",
            "School.SchoolId": "state_code (last 4 digits)",
            "School.NameOfInstitution": "name",
            "LocalEducationAgency.LocalEducationAgencyId": "state_code (last 4 digits)",
            "Student*ProgramAssociation.ProgramReference.ProgramType": "program",
            "Assessment.AssessmentIdentificationCode[State]": "code",
            "StudentAssessment.WhenAssessedGradeLevel": "grade_level",
            "StudentAssessment.ScoreResult[Scale score|Vertical score]": "scale_score",
            "StudentAssessment.PerformanceLevel": "performance_level",
        }

    def expand(self, paths: list[Path]) -> list[Path]:
        out: list[Path] = []
        for path in paths:
            out += sorted(path.glob("*.xml")) if path.is_dir() else [path]
        return out

    def canonical_files(
        self, files: list[ReceivedFile], options: FormatOptions
    ) -> Iterator[CanonicalFile]:
        parsed = []
        for received in files:
            root, lines = parse_xml(received)
            kind = local(root.tag)
            if kind not in INTERCHANGES:
                raise ImportRejected(
                    [
                        Problem(
                            received.name,
                            1,
                            None,
                            "not an Ed-Fi interchange this importer reads: "
                            + ", ".join(INTERCHANGES),
                        )
                    ]
                )
            parsed.append((INTERCHANGES.index(kind), received, root, lines))
        context = _Context(options=dict(options.options))
        existing = list(m.District.objects.values_list("state_code", flat=True))
        if len(existing) == 1:
            context.district_code = existing[0]
        for school in m.School.objects.all():
            grades = {g.code for g in code_set("grade_level").codes}
            low, high = school.low_grade, school.high_grade
            context.school_grades[school.state_code] = {g for g in grades if low <= g <= high}
        for _, received, root, lines in sorted(parsed, key=lambda p: p[0]):
            kind = local(root.tag)
            if kind == "InterchangeEducationOrganization":
                yield from self._organizations(received, root, lines, context)
            elif kind == "InterchangeStudent":
                yield self._students(received, root, lines, context)
            elif kind == "InterchangeAssessmentMetadata":
                yield self._assessments(received, root, lines, context)
            elif kind == "InterchangeStudentProgram":
                yield self._programs(received, root, lines, context)
            else:
                yield self._results(received, root, lines, context)

    # --- interchanges -------------------------------------------------------------------

    def _code(self, context: _Context, received: ReceivedFile, line: int, edorg_id: str) -> str:
        code = context.org_code(edorg_id)
        previous = context.used_codes.setdefault(code, edorg_id)
        if previous != edorg_id:
            raise ImportRejected(
                [
                    Problem(
                        received.name,
                        line,
                        "EducationOrganizationId",
                        "two organizations get the same 4-character state code; give "
                        "options.edorg_codes in a saved mapping",
                    )
                ]
            )
        return code

    def _organizations(
        self, received: ReceivedFile, root: Element, lines: dict[int, int], context: _Context
    ) -> Iterator[CanonicalFile]:
        districts: list[tuple[int, Row]] = []
        schools: list[tuple[int, Element]] = []
        skipped: Counter[str] = Counter()
        for element in root:
            kind = local(element.tag)
            line = lines.get(id(element), 0)
            if kind == "LocalEducationAgency":
                code = self._code(context, received, line, _text(element, "LocalEducationAgencyId"))
                context.district_code = code
                districts.append(
                    (line, {"state_code": code, "name": _text(element, "NameOfInstitution")})
                )
            elif kind == "School":
                schools.append((line, element))
            else:
                skipped[f"{kind} (no StudentVault record)"] += 1
        school_rows: list[tuple[int, Row]] = []
        grade_order = [g.code for g in code_set("grade_level").codes]
        for line, element in schools:
            code = self._code(context, received, line, _text(element, "SchoolId"))
            grades = [
                GRADES.get(descriptor(g.text), "") for g in element if local(g.tag) == "GradeLevel"
            ]
            known = sorted((g for g in grades if g), key=grade_order.index)
            context.school_grades[code] = set(known)
            lea = element.find("{*}LocalEducationAgencyReference")
            lea_id = _text(
                element,
                "LocalEducationAgencyReference",
                "LocalEducationAgencyIdentity",
                "LocalEducationAgencyId",
            )
            if not lea_id and lea is not None:
                lea_id = (lea.get("ref") or "").rsplit("_", 1)[-1]
            school_rows.append(
                (
                    line,
                    {
                        "district_code": context.org_code(lea_id)
                        if lea_id
                        else context.district_code,
                        "state_code": code,
                        "name": _text(element, "NameOfInstitution"),
                        "level": SCHOOL_LEVELS.get(
                            descriptor(_text(element, "SchoolCategory")), "?"
                        ),
                        "low_grade": known[0] if known else "",
                        "high_grade": known[-1] if known else "",
                    },
                )
            )
        if districts:
            yield CanonicalFile(
                name=f"{received.name} (LocalEducationAgency)",
                spec=SPECS["district.csv"],
                rows=districts,
                partial=True,
                skipped=skipped,
                notes=[
                    f"organization ids mapped to state codes by their last "
                    f"{context.options.get('edorg_code_digits', 4)} digits unless "
                    "options.edorg_codes says otherwise"
                ],
                source_records=len(districts),
            )
        yield CanonicalFile(
            name=f"{received.name} (School)",
            spec=SPECS["schools.csv"],
            rows=school_rows,
            partial=True,
            skipped=Counter() if districts else skipped,
            source_records=len(school_rows),
        )

    def _students(
        self, received: ReceivedFile, root: Element, lines: dict[int, int], context: _Context
    ) -> CanonicalFile:
        rows: list[tuple[int, Row]] = []
        skipped: Counter[str] = Counter()
        for element in root:
            if local(element.tag) != "Student":
                skipped[f"{local(element.tag)} (no StudentVault record)"] += 1
                continue
            row: Row = {
                "sasid": _text(element, "StudentUniqueId"),
                "first_name": _text(element, "Name", "FirstName"),
                "middle_name": _text(element, "Name", "MiddleName"),
                "last_name": _text(element, "Name", "LastSurname"),
                "preferred_name": _text(element, "Name", "PreferredFirstName"),
                "birth_date": _text(element, "BirthData", "BirthDate"),
                "district_code": context.district_code,
            }
            rows.append((lines.get(id(element), 0), row))
        return CanonicalFile(
            name=received.name,
            spec=SPECS["students.csv"],
            rows=rows,
            partial=True,
            skipped=skipped,
            notes=[
                "DS 5 keeps sex, race, ethnicity and language on "
                "StudentEducationOrganizationAssociation: not in this file, left as stored",
                "PersonalTitlePrefix, GenerationCodeSuffix and PreferredLastSurname are not stored",
            ],
            source_records=len(rows),
        )

    def _assessments(
        self, received: ReceivedFile, root: Element, lines: dict[int, int], context: _Context
    ) -> CanonicalFile:
        rows: list[tuple[int, Row]] = []
        skipped: Counter[str] = Counter()
        for element in root:
            kind = local(element.tag)
            if kind != "Assessment":
                skipped[f"{kind} (no StudentVault record)"] += 1
                continue
            identifier = _text(element, "AssessmentIdentifier")
            code = identifier
            for ident in element:
                if (
                    local(ident.tag) == "AssessmentIdentificationCode"
                    and descriptor(_text(ident, "AssessmentIdentificationSystem")) == "State"
                ):
                    code = _text(ident, "IdentificationCode")
            context.assessment_codes[identifier] = code
            rows.append(
                (
                    lines.get(id(element), 0),
                    {
                        "code": code,
                        "title": _text(element, "AssessmentTitle"),
                        "kind": ASSESSMENT_KINDS.get(
                            descriptor(_text(element, "AssessmentCategory")), "state"
                        ),
                        "subject": SUBJECTS.get(descriptor(_text(element, "AcademicSubject")), "?"),
                    },
                )
            )
        return CanonicalFile(
            name=received.name,
            spec=SPECS["assessments.csv"],
            rows=rows,
            skipped=skipped,
            source_records=len(rows),
        )

    def _programs(
        self, received: ReceivedFile, root: Element, lines: dict[int, int], context: _Context
    ) -> CanonicalFile:
        rows: list[tuple[int, Row]] = []
        skipped: Counter[str] = Counter()
        for element in root:
            kind = local(element.tag)
            if not (kind.startswith("Student") and kind.endswith("ProgramAssociation")):
                skipped[f"{kind} (no StudentVault record)"] += 1
                continue
            program_type = descriptor(
                _text(element, "ProgramReference", "ProgramIdentity", "ProgramType")
            )
            program = PROGRAMS.get(program_type)
            if program is None:
                skipped[f"{kind} of program type {program_type!r} (no StudentVault program)"] += 1
                continue
            lunch = ""
            if program == "free_reduced_lunch":
                services = [
                    LUNCH.get(descriptor(s.text), "")
                    for s in _all(element, "SchoolFoodServiceProgramService")
                ]
                lunch = min((s for s in services if s), default="")
            rows.append(
                (
                    lines.get(id(element), 0),
                    {
                        "sasid": _text(
                            element, "StudentReference", "StudentIdentity", "StudentUniqueId"
                        ),
                        "program": program,
                        "begin_date": _text(element, "BeginDate"),
                        "end_date": _text(element, "EndDate"),
                        "lunch_eligibility": lunch,
                        "gifted_areas": "",
                    },
                )
            )
        return CanonicalFile(
            name=received.name,
            spec=SPECS["programs.csv"],
            rows=rows,
            skipped=skipped,
            source_records=len(rows) + sum(skipped.values()),
        )

    def _school_for_grade(self, context: _Context, grade: str) -> str:
        schools = [code for code, grades in context.school_grades.items() if grade in grades]
        return schools[0] if len(schools) == 1 else ""

    def _results(
        self, received: ReceivedFile, root: Element, lines: dict[int, int], context: _Context
    ) -> CanonicalFile:
        rows: list[tuple[int, Row]] = []
        skipped: Counter[str] = Counter()
        for element in root:
            kind = local(element.tag)
            if kind != "StudentAssessment":
                skipped[f"{kind} (no StudentVault record)"] += 1
                continue
            grade = GRADES.get(descriptor(_text(element, "WhenAssessedGradeLevel")), "?")
            scores = {
                descriptor(_text(s, "AssessmentReportingMethod")): _text(s, "Result")
                for s in element
                if local(s.tag) == "ScoreResult"
            }
            scale = next((scores[m_] for m_ in SCALE_METHODS if m_ in scores), "")
            level = ""
            for node in element:
                if local(node.tag) == "PerformanceLevel":
                    level = PERFORMANCE_LEVELS.get(descriptor(_text(node, "PerformanceLevel")), "?")
            identifier = _text(
                element, "AssessmentReference", "AssessmentIdentity", "AssessmentIdentifier"
            )
            year = _text(element, "SchoolYear")
            rows.append(
                (
                    lines.get(id(element), 0),
                    {
                        "sasid": _text(
                            element, "StudentReference", "StudentIdentity", "StudentUniqueId"
                        ),
                        "assessment_code": context.assessment_codes.get(identifier, identifier),
                        "school_code": self._school_for_grade(context, grade),
                        "school_year": year.rsplit("-", 1)[-1],
                        "grade_level": grade,
                        "scale_score": scale,
                        "performance_level": level,
                        "accommodations": "",
                        "not_tested_reason": "",
                        "growth_percentile": scores.get("Student Growth Percentile", ""),
                    },
                )
            )
        return CanonicalFile(
            name=received.name,
            spec=SPECS["assessment_results.csv"],
            rows=rows,
            skipped=skipped,
            notes=[
                "the school is the one school whose grades include WhenAssessedGradeLevel",
                "raw scores, Lexile measures and objective assessments are not stored",
            ],
            source_records=len(rows),
        )
