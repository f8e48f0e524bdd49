"""Federal and state program participation: Title I, special education, gifted, free/reduced
lunch, English learner, migrant, homeless and Section 504, each with its dates."""

from __future__ import annotations

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.PROGRAMS, retention="program_records")
COUNTING = "the program code is counted in program participation reports; holds no identity"


class ProgramParticipation(Record):
    """A period during which a student took part in (or was eligible for) a program."""

    student = E.link(
        "records.Student", "The participating student", related_name="programs", db_index=False
    )  # program_period_unique starts with it
    program = E.code(
        "program",
        "The program",
        sensitivity=Sensitivity.SENSITIVE,
        edfi_name="StudentProgramAssociation.ProgramReference",
        plain_reason=COUNTING,
    )
    begin_date = E.date(
        "First day of participation",
        sensitivity=Sensitivity.SENSITIVE,
        edfi_name="GeneralStudentProgramAssociation.BeginDate",
        plain_reason=COUNTING,
    )
    end_date = E.date(
        "Last day of participation, if it has ended",
        sensitivity=Sensitivity.SENSITIVE,
        null=True,
        edfi_name="GeneralStudentProgramAssociation.EndDate",
        plain_reason=COUNTING,
    )
    lunch_eligibility = E.code(
        "lunch_eligibility",
        "Free or reduced-price lunch eligibility (lunch program only)",
        sensitivity=Sensitivity.SENSITIVE,
        blank=True,
        state_name="Free/Reduced Lunch Eligible",
        edfi_name="StudentSchoolFoodServiceProgramAssociation.SchoolFoodServiceProgramService",
    )
    gifted_areas = E.codes(
        "gifted_area",
        "Areas of giftedness (gifted program only)",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Gifted and Talented",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student", "program", "begin_date"], name="program_period_unique"
            )
        ]
        indexes = [models.Index(fields=["program", "begin_date"])]
