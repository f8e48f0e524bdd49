"""English learners: primary language, proficiency level, program, proficiency test results."""

from __future__ import annotations

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.ENGLISH_LEARNERS, retention="program_records")
COUNTING = "counted in English learner reports; holds no identity"


class EnglishLearnerProfile(Record):
    """The student's English learner status and language program for a school year."""

    student = E.link(
        "records.Student", "The student", related_name="english_learner_profiles", db_index=False
    )  # el_profile_unique starts with it
    school_year = E.year("School year of the status")
    primary_language = E.code(
        "language",
        "Primary language",
        sensitivity=Sensitivity.SENSITIVE,
        edfi_name="StudentEducationOrganizationAssociation.Language",
    )
    proficiency_level = E.code(
        "english_proficiency",
        "English language proficiency level (state code)",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Language Proficiency",
        edfi_name="StudentEducationOrganizationAssociation.LimitedEnglishProficiency",
        plain_reason=COUNTING,
    )
    language_program = E.code(
        "language_program",
        "Language instruction program",
        sensitivity=Sensitivity.SENSITIVE,
        blank=True,
        state_name="Language Instruction Program",
        edfi_name="StudentLanguageInstructionProgramAssociation",
    )
    first_us_school_date = E.date(
        "Date first enrolled in a U.S. school",
        sensitivity=Sensitivity.SENSITIVE,
        null=True,
        state_name="Date First Enrolled in US School",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "school_year"], name="el_profile_unique")
        ]


class EnglishProficiencyResult(Record):
    """A result on the annual English language proficiency assessment (such as ACCESS)."""

    student = E.link(
        "records.Student",
        "The student",
        related_name="english_proficiency_results",
        db_index=False,  # elp_result_unique starts with it
    )
    school_year = E.year("School year of the test")
    composite_score = E.number("Composite scale score", sensitivity=Sensitivity.SENSITIVE)
    proficiency_level = E.decimal(
        "Composite proficiency level (1.0-6.0)", sensitivity=Sensitivity.SENSITIVE
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "school_year"], name="elp_result_unique")
        ]
