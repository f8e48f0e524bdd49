"""Early childhood: preschool program enrollment dates and early childhood assessment results."""

from __future__ import annotations

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.EARLY_CHILDHOOD, retention="program_records")


class EarlyChildhoodEnrollment(Record):
    """A child's enrollment in an early childhood program."""

    student = E.link("records.Student", "The child", related_name="early_childhood_enrollments")
    program = E.code(
        "early_childhood_program",
        "Early childhood program",
        sensitivity=Sensitivity.SENSITIVE,
        plain_reason="counted in early childhood reports; holds no identity",
    )
    begin_date = E.date(
        "Enrollment start date",
        sensitivity=Sensitivity.SENSITIVE,
        plain_reason="counted in early childhood reports; holds no identity",
    )
    end_date = E.date(
        "Enrollment end date",
        sensitivity=Sensitivity.SENSITIVE,
        null=True,
        plain_reason="counted in early childhood reports; holds no identity",
    )


class EarlyChildhoodAssessment(Record):
    """A child's result in one domain of an early childhood assessment."""

    student = E.link("records.Student", "The child", related_name="early_childhood_assessments")
    instrument = E.text("Assessment instrument", sensitivity=Sensitivity.DIRECTORY, max_length=60)
    assessed_on = E.date("Date of the assessment checkpoint", sensitivity=Sensitivity.SENSITIVE)
    domain = E.code(
        "early_childhood_domain", "Developmental domain assessed", sensitivity=Sensitivity.DIRECTORY
    )
    score = E.number("Scale score in the domain", sensitivity=Sensitivity.SENSITIVE)
    meets_expectations = E.flag(
        "Whether the child meets widely held expectations in the domain",
        sensitivity=Sensitivity.SENSITIVE,
        plain_reason="counted in early childhood reports; holds no identity",
    )
