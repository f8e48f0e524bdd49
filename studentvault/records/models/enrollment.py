"""Enrollment: a student's membership in a school for a school year, with entry and exit."""

from __future__ import annotations

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.ENROLLMENT, retention="permanent")
SCOPING = "a coded field used to scope access and count students; holds no identity"


class Enrollment(Record):
    """One student school association: a stay at one school in one school year."""

    student = E.link(
        "records.Student", "The enrolled student", related_name="enrollments", db_index=False
    )  # enrollment_unique_stay starts with it
    school = E.link(
        "records.School",
        "The school of enrollment",
        related_name="enrollments",
        db_index=False,  # the (school, school_year, grade_level) index starts with it
        state_name="School Code",
        edfi_name="StudentSchoolAssociation.SchoolReference",
    )
    school_year = E.year(
        "School year, named by its ending calendar year (2026 = 2025-26)",
        edfi_name="StudentSchoolAssociation.SchoolYear",
    )
    grade_level = E.code(
        "grade_level",
        "Grade level (state three-digit code)",
        sensitivity=Sensitivity.DIRECTORY,
        state_name="Grade Level",
        edfi_name="StudentSchoolAssociation.EntryGradeLevel",
    )
    entry_date = E.date(
        "Date the student entered the school",
        sensitivity=Sensitivity.DIRECTORY,
        state_name="Entry Date",
        edfi_name="StudentSchoolAssociation.EntryDate",
    )
    entry_type = E.code(
        "entry_type",
        "How the student entered the school",
        sensitivity=Sensitivity.DIRECTORY,
        state_name="Entry Type",
        edfi_name="StudentSchoolAssociation.EntryType",
    )
    exit_date = E.date(
        "Date the student left the school, if they have",
        sensitivity=Sensitivity.DIRECTORY,
        null=True,
        state_name="Exit/Withdraw Date",
        edfi_name="StudentSchoolAssociation.ExitWithdrawDate",
    )
    exit_type = E.code(
        "exit_type",
        "Why the student left the school",
        sensitivity=Sensitivity.SENSITIVE,
        blank=True,
        state_name="Exit/Withdraw Type",
        edfi_name="StudentSchoolAssociation.ExitWithdrawType",
        plain_reason=SCOPING,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student", "school", "school_year", "entry_date"],
                name="enrollment_unique_stay",
            )
        ]
        indexes = [models.Index(fields=["school", "school_year", "grade_level"])]

    def __str__(self) -> str:
        return f"Enrollment #{self.pk}"
