"""Organizations: the district (the LEP) and its schools, with their state codes."""

from __future__ import annotations

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.ENROLLMENT, retention="organization")
PUBLIC = Sensitivity.DIRECTORY


class District(Record):
    """A Local Education Provider (school district or BOCES) as the state knows it."""

    state_code = E.text(
        "Four-digit district code the state assigns",
        sensitivity=PUBLIC,
        max_length=4,
        state_name="School District/BOCES Code",
        edfi_name="LocalEducationAgency.LocalEducationAgencyId",
    )
    name = E.text(
        "Name of the district",
        sensitivity=PUBLIC,
        max_length=120,
        edfi_name="EducationOrganization.NameOfInstitution",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["state_code"], name="district_state_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state_code})"


class School(Record):
    """A school of the district, identified by its four-digit state school code."""

    district = E.link(
        "records.District",
        "The district the school belongs to",
        related_name="schools",
        db_index=False,  # school_code_unique_in_district starts with it
        edfi_name="School.LocalEducationAgencyReference",
    )
    state_code = E.text(
        "Four-digit school code the state assigns",
        sensitivity=PUBLIC,
        max_length=4,
        state_name="School Code",
        edfi_name="School.SchoolId",
    )
    name = E.text(
        "Name of the school",
        sensitivity=PUBLIC,
        max_length=120,
        edfi_name="EducationOrganization.NameOfInstitution",
    )
    level = E.code(
        "school_level",
        "Level of the school (elementary, middle, high...)",
        sensitivity=PUBLIC,
        edfi_name="School.SchoolCategory",
    )
    low_grade = E.code(
        "grade_level",
        "Lowest grade the school serves",
        sensitivity=PUBLIC,
        edfi_name="School.GradeLevel",
    )
    high_grade = E.code(
        "grade_level",
        "Highest grade the school serves",
        sensitivity=PUBLIC,
        edfi_name="School.GradeLevel",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["district", "state_code"], name="school_code_unique_in_district"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state_code})"
