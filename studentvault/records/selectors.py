"""Reads of student data: every one authorized by the access module and audited.

No view, API endpoint or command touches a student model directly; they call these selectors
with the acting ``Actor``. Each selector asks ``studentvault.access.policy`` (the one decision
point), reads only what was allowed, and appends one audit entry naming the students and the
data categories it returned.

Invariants:
- a student who does not exist and a student the actor may not see give the same
  ``StudentNotFound`` (zulip's ``access_<thing>_by_id``): the error reveals nothing;
- search by identity uses blind indexes only: exact SASID, exact local ID, or exact last name
  together with birth date; there is no partial or LIKE search on PII;
- names are shown only where the actor may read demographics for that student;
- restricted categories (special education, discipline) are returned only with a stated purpose,
  which is written to the audit entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q

from studentvault import audit
from studentvault.access.policy import (
    Action,
    current_school_year,
    may,
    student_scope_filter,
)
from studentvault.core.actors import Actor
from studentvault.core.categories import RESTRICTED_CATEGORIES, DataCategory
from studentvault.crypto.blind_index import index_for

from .codes import code_set
from .models import Enrollment, Student
from .record_sections import Section, category_sections

SEARCH_LIMIT = 50


class StudentNotFound(LookupError):
    """No such student, or not one the actor may see (deliberately the same error)."""


@dataclass(frozen=True)
class StudentQuery:
    """What a staff member searches by. Identity criteria are exact (blind indexes)."""

    sasid: str = ""
    local_id: str = ""
    last_name: str = ""
    birth_date: dt.date | None = None
    school_id: int | None = None
    grade_level: str = ""

    def criteria(self) -> list[str]:
        """Names (never values) of the criteria used, for the audit entry."""
        return [
            name
            for name in ("sasid", "local_id", "last_name", "birth_date", "school_id", "grade_level")
            if getattr(self, name) not in ("", None)
        ]


@dataclass(frozen=True)
class StudentRow:
    """One line of a search result."""

    id: int
    display_name: str
    school: str
    grade: str


def _display_name(student: Student) -> str:
    preferred = f" ({student.preferred_name})" if student.preferred_name else ""
    return f"{student.last_name}, {student.first_name}{preferred}"


def _current_enrollments(ids: list[int], school_year: int) -> dict[int, Enrollment]:
    found: dict[int, Enrollment] = {}
    rows = (
        Enrollment.objects.filter(student_id__in=ids, school_year=school_year)
        .select_related("school")
        .order_by("entry_date")
    )
    for enrollment in rows:
        found[enrollment.student_id] = enrollment  # the latest entry wins
    return found


def student_search(
    *, actor: Actor, query: StudentQuery, limit: int = SEARCH_LIMIT
) -> tuple[list[StudentRow], bool]:
    """Students in the actor's enrollment scope matching ``query``; (rows, truncated).

    Who may call: any actor; the result is cut to the actor's grants. Audited as
    ``records:student:search`` with the students listed and the criteria names.
    """
    scope = student_scope_filter(actor, DataCategory.ENROLLMENT)
    if scope is None:
        return [], False
    students = Student.objects.filter(scope)
    if query.sasid:
        students = students.filter(sasid_index=index_for("sasid", query.sasid))
    if query.local_id:
        students = students.filter(local_id_index=index_for("local_id", query.local_id))
    if query.last_name or query.birth_date:
        if not (query.last_name and query.birth_date):
            raise ValueError("search by name needs both the last name and the birth date")
        students = students.filter(
            name_birth_index=index_for("name_birth", query.last_name, query.birth_date)
        )
    year = current_school_year()
    if query.school_id is not None or query.grade_level:
        enrolled = Q(enrollments__school_year=year)
        if query.school_id is not None:
            enrolled &= Q(enrollments__school_id=query.school_id)
        if query.grade_level:
            enrolled &= Q(enrollments__grade_level=query.grade_level)
        students = students.filter(enrolled)
    found = list(students.distinct().order_by("pk")[: limit + 1])
    truncated = len(found) > limit
    found = found[:limit]
    ids = [s.pk for s in found]
    demographics_scope = student_scope_filter(actor, DataCategory.DEMOGRAPHICS)
    named = (
        set(Student.objects.filter(demographics_scope, pk__in=ids).values_list("pk", flat=True))
        if demographics_scope is not None and ids
        else set()
    )
    enrollments = _current_enrollments(ids, year)
    grades = code_set("grade_level")
    rows = []
    for student in found:
        enrollment = enrollments.get(student.pk)
        rows.append(
            StudentRow(
                id=student.pk,
                display_name=_display_name(student) if student.pk in named else str(student),
                school=enrollment.school.name if enrollment else "—",
                grade=grades.label(enrollment.grade_level) if enrollment else "—",
            )
        )
    categories = [DataCategory.ENROLLMENT] + ([DataCategory.DEMOGRAPHICS] if named else [])
    audit.record(
        actor=actor,
        action="records:student:search",
        students=ids,
        categories=categories,
        details={"criteria": ",".join(query.criteria()) or "none", "results": len(ids)},
    )
    return rows, truncated


@dataclass
class StudentRecord:
    """A student's record as one actor may see it."""

    id: int
    display_name: str
    sections: list[Section]
    denied: list[tuple[DataCategory, str]] = field(default_factory=list)
    needs_purpose: list[DataCategory] = field(default_factory=list)
    purpose: str = ""


_REASON_TEXT = {
    "category_not_granted": "your grants do not include this category",
    "out_of_scope": "this student is outside the scope of your grant for this category",
    "no_grant": "you hold no grant for this category",
    "training_expired": "your annual security training has lapsed",
    "policy_not_acknowledged": "you have not acknowledged the current policy",
    "mfa_required": "sign in with your second factor first",
    "password_expired": "your password has expired",
    "contract_inactive": "the contract is not active",
    "action_not_granted": "your grant does not allow reading",
}


def student_record(*, actor: Actor, student_id: int, purpose: str = "") -> StudentRecord:
    """The record of one student, cut to the categories ``actor`` may read.

    Restricted categories need ``purpose``; without it they are listed in ``needs_purpose``.
    Raises ``StudentNotFound`` when the student does not exist or no category is readable.
    Audited as ``records:student:read`` with the categories returned and the purpose.
    """
    student = Student.objects.filter(pk=student_id).first()
    if student is None:
        raise StudentNotFound(student_id)
    allowed: list[DataCategory] = []
    denied: list[tuple[DataCategory, str]] = []
    for category in DataCategory:
        decision = may(actor, Action.READ, category, student)
        if decision:
            allowed.append(category)
        else:
            denied.append((category, _REASON_TEXT.get(decision.reason, decision.reason)))
    if not allowed:
        raise StudentNotFound(student_id)
    needs_purpose = [c for c in allowed if c in RESTRICTED_CATEGORIES and not purpose]
    shown = [c for c in allowed if c not in needs_purpose]
    sections = category_sections(student, shown)
    audit.record(
        actor=actor,
        action="records:student:read",
        students=[student.pk],
        categories=shown,
        purpose=purpose,
    )
    name = (
        _display_name(student) if DataCategory.DEMOGRAPHICS in shown else f"Student #{student.pk}"
    )
    return StudentRecord(
        id=student.pk,
        display_name=name,
        sections=sections,
        denied=denied,
        needs_purpose=needs_purpose,
        purpose=purpose,
    )


def visible_student_count(*, actor: Actor) -> int:
    """How many students the actor's enrollment grants reach (a count: not audited as a read)."""
    scope = student_scope_filter(actor, DataCategory.ENROLLMENT)
    return 0 if scope is None else Student.objects.filter(scope).distinct().count()
