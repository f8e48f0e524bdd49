"""The column reference of docs/formats/synthetic-district.md, made from the models.

``column_reference()`` renders one table per file from the fields' own data elements
(description, kind of value, code set), so the document cannot drift from the models: a test
compares the document's generated part with this output. Run
``python -m studentvault.records.synthetic.reference`` (with Django settings) to print it.
"""

from __future__ import annotations

from django.db import models

from studentvault.core.elements import data_element_of

from .. import models as m
from . import FILES

MODEL_OF_FILE: dict[str, type[models.Model]] = {
    "district.csv": m.District,
    "schools.csv": m.School,
    "students.csv": m.Student,
    "enrollments.csv": m.Enrollment,
    "courses.csv": m.Course,
    "sections.csv": m.Section,
    "section_enrollments.csv": m.SectionEnrollment,
    "course_completions.csv": m.CourseCompletion,
    "programs.csv": m.ProgramParticipation,
    "early_childhood_enrollments.csv": m.EarlyChildhoodEnrollment,
    "early_childhood_assessments.csv": m.EarlyChildhoodAssessment,
    "disabilities.csv": m.Disability,
    "special_education_services.csv": m.SpecialEducationService,
    "ieps.csv": m.IndividualizedEducationProgram,
    "discipline_incidents.csv": m.DisciplineIncident,
    "parent_contacts.csv": m.ParentContact,
    "english_learner_profiles.csv": m.EnglishLearnerProfile,
    "english_proficiency_results.csv": m.EnglishProficiencyResult,
    "migrant_eligibilities.csv": m.MigrantEligibility,
    "migrant_services.csv": m.MigrantService,
    "concurrent_enrollments.csv": m.ConcurrentEnrollment,
    "cte_participations.csv": m.CareerTechnicalParticipation,
    "assessments.csv": m.Assessment,
    "assessment_results.csv": m.AssessmentResult,
}

# A link to a model is written as that model's natural key: column -> what it holds.
NATURAL_KEYS: dict[type[models.Model], tuple[tuple[str, str], ...]] = {
    m.District: (("district_code", "state code of the district (district.csv state_code)"),),
    m.School: (("school_code", "state code of the school (schools.csv state_code)"),),
    m.Student: (("sasid", "SASID of the student (students.csv sasid)"),),
    m.Course: (("course_code", "local course code (courses.csv code)"),),
    m.Assessment: (("assessment_code", "code of the assessment (assessments.csv code)"),),
    m.Section: (
        ("school_code", "school of the section (sections.csv school_code)"),
        ("school_year", "school year of the section (sections.csv school_year)"),
        ("section_code", "section identifier (sections.csv section_code)"),
    ),
}

_KIND_TEXT = {
    "text": "text",
    "code": "code",
    "codes": "codes joined by `\\|`",
    "date": "date YYYY-MM-DD",
    "flag": "1/0",
    "number": "whole number",
    "decimal": "decimal",
    "year": "school year (2026 = 2025-26)",
}


def file_columns(name: str) -> list[tuple[str, str, str, str]]:
    """(column, kind, code set, description) of each column of a file, in file order."""
    found: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()
    for field in MODEL_OF_FILE[name]._meta.concrete_fields:
        facts = data_element_of(field)
        if facts is None:
            continue  # row id, row_uid and blind indexes are not data
        if facts.value_kind == "link":
            for column, meaning in NATURAL_KEYS[field.related_model]:  # type: ignore[index]
                if column not in seen:
                    seen.add(column)
                    found.append((column, "key", "", f"{facts.description}: {meaning}"))
            continue
        blank = " (may be empty)" if field.null or field.blank else ""
        kind = _KIND_TEXT.get(facts.value_kind, facts.value_kind) + blank
        found.append((field.name, kind, facts.code_set or "", facts.description))
        seen.add(field.name)
    return found


def column_reference() -> str:
    """Markdown tables of every file's columns."""
    parts: list[str] = []
    for name in FILES:
        parts.append(f"### {name}\n")
        parts.append("| column | value | code set | meaning |")
        parts.append("| --- | --- | --- | --- |")
        for column, kind, codes, meaning in file_columns(name):
            code_text = f"`{codes}`" if codes else ""
            parts.append(f"| `{column}` | {kind} | {code_text} | {meaning} |")
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover - a helper for whoever edits the document
    print(column_reference())
