"""The data categories of the Student Data Collection Policy, the unit of everything.

Every field of the student data model belongs to exactly one category. The category decides who
may read the field, which key family encrypts it, how long it is kept and whether a vendor may
receive it. The list follows part A of the policy ("Collection categories"); discipline and
parent contacts, which the policy lists under special education, are categories of their own
because they are read by different people (deans, front offices) and kept for different times.
"""

from __future__ import annotations

from enum import StrEnum


class DataCategory(StrEnum):
    """A policy collection category. The value is the stable code used in keys, grants, files."""

    DEMOGRAPHICS = "demographics"
    ENROLLMENT = "enrollment"
    COURSES = "courses"
    PROGRAMS = "programs"
    EARLY_CHILDHOOD = "early_childhood"
    SPECIAL_EDUCATION = "special_education"
    DISCIPLINE = "discipline"
    PARENT_CONTACTS = "parent_contacts"
    ENGLISH_LEARNERS = "english_learners"
    MIGRANT = "migrant"
    CONCURRENT_ENROLLMENT = "concurrent_enrollment"
    CAREER_TECHNICAL_EDUCATION = "career_technical_education"
    ASSESSMENTS = "assessments"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def policy_heading(self) -> str:
        """The heading of the policy's part A under which this category's elements are listed."""
        return _POLICY_HEADINGS[self]


_LABELS: dict[DataCategory, str] = {
    DataCategory.DEMOGRAPHICS: "Student demographics",
    DataCategory.ENROLLMENT: "Enrollment",
    DataCategory.COURSES: "Courses and course educators",
    DataCategory.PROGRAMS: "Federal and state program participation",
    DataCategory.EARLY_CHILDHOOD: "Early childhood",
    DataCategory.SPECIAL_EDUCATION: "Special education (IDEA and state)",
    DataCategory.DISCIPLINE: "Discipline incidents",
    DataCategory.PARENT_CONTACTS: "Parent and guardian contacts",
    DataCategory.ENGLISH_LEARNERS: "English learners",
    DataCategory.MIGRANT: "Migrant education",
    DataCategory.CONCURRENT_ENROLLMENT: "Concurrent enrollment",
    DataCategory.CAREER_TECHNICAL_EDUCATION: "Career and technical education",
    DataCategory.ASSESSMENTS: "Assessments",
}

_POLICY_HEADINGS: dict[DataCategory, str] = {
    DataCategory.DEMOGRAPHICS: "Student Demographics",
    DataCategory.ENROLLMENT: "Enrollment",
    DataCategory.COURSES: "Enrollment (Courses completed, Course Educator ID)",
    DataCategory.PROGRAMS: "Federal and State Program Participation",
    DataCategory.EARLY_CHILDHOOD: "Early Childhood",
    DataCategory.SPECIAL_EDUCATION: "Special Education (Federal IDEA and State)",
    DataCategory.DISCIPLINE: "Special Education (Federal IDEA and State): Discipline incidents",
    DataCategory.PARENT_CONTACTS: (
        "Special Education (Federal IDEA and State): Parent contact information"
    ),
    DataCategory.ENGLISH_LEARNERS: "English Language Learners (ELL)",
    DataCategory.MIGRANT: "Migrant",
    DataCategory.CONCURRENT_ENROLLMENT: "Concurrent Enrollment",
    DataCategory.CAREER_TECHNICAL_EDUCATION: "Career and Technical Education",
    DataCategory.ASSESSMENTS: "Colorado Measures of Academic Success (CMAS) and other assessments",
}

# Categories whose contents are shown only after the reader states a purpose (staff UI prompt).
RESTRICTED_CATEGORIES: frozenset[DataCategory] = frozenset(
    {DataCategory.SPECIAL_EDUCATION, DataCategory.DISCIPLINE}
)
