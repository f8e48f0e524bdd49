"""The data dictionary is generated from field metadata and covers every policy category."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from studentvault.core.categories import DataCategory
from studentvault.core.elements import DataElement, Sensitivity, data_element_of
from studentvault.records import dictionary
from studentvault.records.codes import code_set


def test_every_field_of_the_student_data_model_has_metadata() -> None:
    assert dictionary.missing_metadata() == []
    for model in dictionary.student_data_models():
        for field in model._meta.concrete_fields:
            if field.name in {"id", "row_uid"} or field.name.endswith("_index"):
                continue
            element = data_element_of(field)
            assert element is not None, f"{model.__name__}.{field.name}"
            assert element.category in DataCategory
            assert element.sensitivity in Sensitivity
            assert element.description.strip()
            code_set("retention_class").label(element.retention)  # a known retention class
            if element.code_set:
                assert len(code_set(element.code_set)) > 0


def test_missing_metadata_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from studentvault.records.models import Student

    field = Student._meta.get_field("last_name")
    monkeypatch.delattr(field, "data_element")
    assert dictionary.missing_metadata() == ["Student.last_name"]


def test_json_lists_every_policy_category_with_fields(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("dictionary", "--format", "json")
    document = json.loads(capsys.readouterr().out)
    categories = {c["category"]: c for c in document["categories"]}
    assert set(categories) == {c.value for c in DataCategory}
    for category in categories.values():
        assert category["fields"], category["category"]
        for field in category["fields"]:
            for key in ("model", "field", "sensitivity", "description", "retention", "encrypted"):
                assert key in field
    names = {(f["model"], f["field"]) for c in categories.values() for f in c["fields"]}
    # spot checks from each part of the policy
    for expected in [
        ("Student", "sasid"),
        ("Student", "birth_date"),
        ("Enrollment", "exit_type"),
        ("Section", "educator_edid"),
        ("ProgramParticipation", "lunch_eligibility"),
        ("EarlyChildhoodAssessment", "score"),
        ("IndividualizedEducationProgram", "review_date"),
        ("DisciplineIncident", "days_removed"),
        ("ParentContact", "contact_restrictions"),
        ("EnglishLearnerProfile", "proficiency_level"),
        ("MigrantEligibility", "qualifying_arrival_date"),
        ("ConcurrentEnrollment", "institution"),
        ("CareerTechnicalParticipation", "status"),
        ("AssessmentResult", "growth_percentile"),
        ("AssessmentResult", "accommodations"),
    ]:
        assert expected in names
    sasid = next(f for f in categories["enrollment"]["fields"] if f["field"] == "sasid")
    assert sasid["state_name"] == "SASID"
    assert sasid["encrypted"] is True


def test_csv_and_markdown_forms(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("dictionary", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(dictionary.entries())
    call_command("dictionary", "--format", "md")
    markdown = capsys.readouterr().out
    for category in DataCategory:
        assert f"(`{category.value}`)" in markdown


def test_a_plain_identifying_field_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="plain_reason"):
        DataElement(
            category=DataCategory.DEMOGRAPHICS,
            sensitivity=Sensitivity.IDENTIFYING,
            description="x",
            retention="permanent",
            plain_reason="  ",
        )
    with pytest.raises(ValueError, match="description"):
        DataElement(
            category=DataCategory.DEMOGRAPHICS,
            sensitivity=Sensitivity.IDENTIFYING,
            description=" ",
            retention="permanent",
        )
    identifying = DataElement(
        category=DataCategory.DEMOGRAPHICS,
        sensitivity=Sensitivity.IDENTIFYING,
        description="x",
        retention="permanent",
    )
    assert identifying.encrypted
    directory = DataElement(
        category=DataCategory.ENROLLMENT,
        sensitivity=Sensitivity.DIRECTORY,
        description="x",
        retention="permanent",
    )
    assert not directory.encrypted
