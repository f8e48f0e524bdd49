"""Career and technical education: program participation and concentration."""

from __future__ import annotations

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.CAREER_TECHNICAL_EDUCATION, retention="program_records")


class CareerTechnicalParticipation(Record):
    """A student's status in a CTE program for a school year (participant or concentrator)."""

    student = E.link(
        "records.Student", "The student", related_name="cte_participations", db_index=False
    )  # cte_unique starts with it
    school_year = E.year("School year")
    program = E.code(
        "cte_program",
        "CTE program (CIP code)",
        sensitivity=Sensitivity.SENSITIVE,
        plain_reason="counted in Perkins CTE reports; holds no identity",
    )
    status = E.code(
        "cte_status",
        "Participant or concentrator",
        sensitivity=Sensitivity.SENSITIVE,
        plain_reason="counted in Perkins CTE reports; holds no identity",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "school_year", "program"], name="cte_unique")
        ]
