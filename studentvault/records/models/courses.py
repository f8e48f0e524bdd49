"""Courses, sections with their educator of record (EDID), and courses completed."""

from __future__ import annotations

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.COURSES, retention="transcript")
PUBLIC = Sensitivity.DIRECTORY


class Course(Record):
    """A course of the district's catalog, mapped to the statewide standard course code."""

    district = E.link(
        "records.District",
        "The district offering the course",
        related_name="courses",
        db_index=False,  # course_code_unique starts with it
    )
    code = E.text(
        "Local course code",
        sensitivity=PUBLIC,
        max_length=20,
        state_name="Course",
        edfi_name="Course.CourseCode",
    )
    title = E.text(
        "Course title", sensitivity=PUBLIC, max_length=120, edfi_name="Course.CourseTitle"
    )
    subject = E.code(
        "subject", "Subject area", sensitivity=PUBLIC, edfi_name="Course.AcademicSubject"
    )
    sced_code = E.text(
        "Statewide standard course code (SCED)",
        sensitivity=PUBLIC,
        max_length=12,
        blank=True,
        edfi_name="Course.CourseIdentificationCode",
    )
    credits = E.decimal(
        "Credits the course is worth",
        sensitivity=PUBLIC,
        edfi_name="Course.MaximumAvailableCredits",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="course_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Section(Record):
    """One class of a course at a school in a school year, taught by an educator of record."""

    course = E.link("records.Course", "The course taught", related_name="sections")
    school = E.link(
        "records.School", "The school where it is taught", related_name="sections", db_index=False
    )  # section_unique starts with it
    school_year = E.year("School year of the section")
    section_code = E.text(
        "Local section identifier",
        sensitivity=PUBLIC,
        max_length=30,
        state_name="Section",
        edfi_name="Section.SectionIdentifier",
    )
    educator_edid = E.text(
        "State educator identifier (EDID) of the educator of record",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=8,
        state_name="EDID",
        edfi_name="Staff.StaffUniqueId",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "school_year", "section_code"], name="section_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Section {self.section_code}"


class SectionEnrollment(Record):
    """A student on a section's roster (the teacher-student data link)."""

    section = E.link(
        "records.Section", "The section", related_name="roster", db_index=False
    )  # roster_unique starts with it
    student = E.link(
        "records.Student",
        "The student on the roster",
        related_name="section_enrollments",
        edfi_name="StudentSectionAssociation.StudentReference",
    )
    begin_date = E.date(
        "First day on the roster",
        sensitivity=PUBLIC,
        edfi_name="StudentSectionAssociation.BeginDate",
    )
    end_date = E.date(
        "Last day on the roster",
        sensitivity=PUBLIC,
        null=True,
        edfi_name="StudentSectionAssociation.EndDate",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["section", "student"], name="roster_unique")]


class CourseCompletion(Record):
    """A course the student completed, with credits and the final mark (transcript line)."""

    student = E.link(
        "records.Student", "The student", related_name="course_completions", db_index=False
    )  # completion_unique starts with it
    section = E.link("records.Section", "The section completed", related_name="completions")
    credits_earned = E.decimal(
        "Credits earned",
        sensitivity=Sensitivity.SENSITIVE,
        edfi_name="CourseTranscript.EarnedCredits",
    )
    mark = E.code(
        "course_mark",
        "Final mark",
        sensitivity=Sensitivity.SENSITIVE,
        edfi_name="CourseTranscript.FinalLetterGradeEarned",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "section"], name="completion_unique")
        ]
