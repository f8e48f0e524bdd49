"""Assessments: definitions (state tests, college-prep and entrance exams, alternate tests) and
student results (scale score, performance level, accommodations, not-tested reason, growth)."""

from __future__ import annotations

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.ASSESSMENTS, retention="assessment_results")
PUBLIC = Sensitivity.DIRECTORY
COUNTING = "counted in assessment performance reports; holds no identity"


class Assessment(Record):
    """An assessment the district administers, such as CMAS Math grade 4 or the SAT."""

    code = E.text(
        "Short code of the assessment",
        sensitivity=PUBLIC,
        max_length=30,
        state_name="TestCode",
        edfi_name="Assessment.AssessmentIdentifier",
    )
    title = E.text(
        "Title of the assessment",
        sensitivity=PUBLIC,
        max_length=120,
        edfi_name="Assessment.AssessmentTitle",
    )
    kind = E.code(
        "assessment_kind",
        "Kind of assessment (state, college prep, college entrance, alternate...)",
        sensitivity=PUBLIC,
        edfi_name="Assessment.AssessmentCategory",
    )
    subject = E.code(
        "subject",
        "Subject assessed",
        sensitivity=PUBLIC,
        state_name="Subject",
        edfi_name="Assessment.AcademicSubject",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code"], name="assessment_code_unique")]

    def __str__(self) -> str:
        return str(self.title)


class AssessmentResult(Record):
    """A student's result on one assessment in one school year."""

    student = E.link(
        "records.Student", "The student", related_name="assessment_results", db_index=False
    )  # result_unique starts with it
    assessment = E.link("records.Assessment", "The assessment taken", related_name="results")
    school = E.link(
        "records.School",
        "The school responsible for the student at testing",
        related_name="assessment_results",
        state_name="ResponsibleSchoolCode",
    )
    school_year = E.year(
        "School year of the administration", state_name="AssessmentYear", db_index=False
    )  # the (school_year, assessment, school) index starts with it
    grade_level = E.code(
        "grade_level",
        "Grade level when assessed",
        sensitivity=PUBLIC,
        state_name="GradeLevelWhenAssessed",
        edfi_name="StudentAssessment.WhenAssessedGradeLevel",
    )
    scale_score = E.number(
        "Scale score",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="SS",
        edfi_name="StudentAssessment.ScoreResult",
    )
    performance_level = E.code(
        "performance_level",
        "Performance level",
        sensitivity=Sensitivity.SENSITIVE,
        blank=True,
        state_name="PerfLVL",
        edfi_name="StudentAssessment.PerformanceLevel",
        plain_reason=COUNTING,
    )
    accommodations = E.codes(
        "accommodation",
        "Testing accommodations used",
        sensitivity=Sensitivity.RESTRICTED,
        state_name="AccommodationType",
        edfi_name="StudentAssessment.Accommodation",
    )
    not_tested_reason = E.code(
        "not_tested_reason",
        "Why the student was not tested, if not tested",
        sensitivity=Sensitivity.SENSITIVE,
        blank=True,
        state_name="NotTestedReason",
        edfi_name="StudentAssessment.ReasonNotTested",
    )
    growth_percentile = E.number(
        "Student growth percentile (1-99)",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="SGP",
        edfi_name="StudentAssessment.ScoreResult (Student Growth Percentile)",
        plain_reason=COUNTING,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student", "assessment", "school_year"], name="result_unique"
            )
        ]
        indexes = [models.Index(fields=["school_year", "assessment", "school"])]
