"""Concurrent enrollment: college courses taken while in high school."""

from __future__ import annotations

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.CONCURRENT_ENROLLMENT, retention="transcript")


class ConcurrentEnrollment(Record):
    """A course the student took at a participating institution of higher education."""

    student = E.link("records.Student", "The student", related_name="concurrent_enrollments")
    school_year = E.year("School year of the course")
    institution = E.code(
        "concurrent_institution",
        "Participating institution of higher education",
        sensitivity=Sensitivity.SENSITIVE,
    )
    course_title = E.text(
        "Title of the college course", sensitivity=Sensitivity.SENSITIVE, max_length=120
    )
    credits = E.decimal("College credits attempted", sensitivity=Sensitivity.SENSITIVE)
