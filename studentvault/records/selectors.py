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

from django.apps import apps
from django.db import models
from django.db.models import Q

from studentvault import audit
from studentvault.access.policy import (
    Action,
    category_fields,
    contract_fields,
    current_school_year,
    decision_scope,
    may,
    may_each,
    student_scope_filter,
    vendor_contract,
)
from studentvault.audit.disclosures import prepare_disclosure
from studentvault.audit.writer import PreparedEntry, append_many
from studentvault.audit.writer import prepare as prepare_entry
from studentvault.core import rows
from studentvault.core.actors import Actor, ActorKind
from studentvault.core.categories import RESTRICTED_CATEGORIES, DataCategory
from studentvault.crypto.blind_index import index_for
from studentvault.people.models import Contract

from .codes import code_set
from .models import Assessment, Course, District, Enrollment, School, Student
from .models import Section as CourseSection
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


@decision_scope()  # the actor's facts are read once per call
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


@decision_scope()  # the actor's facts are read once per call
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
    for category, decision in may_each(actor, Action.READ, DataCategory, student).items():
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


@decision_scope()  # the actor's facts are read once per call
def visible_student_count(*, actor: Actor) -> int:
    """How many students the actor's enrollment grants reach (a count: not audited as a read)."""
    scope = student_scope_filter(actor, DataCategory.ENROLLMENT)
    return 0 if scope is None else Student.objects.filter(scope).distinct().count()


# --- API reads (studentvault.api) -----------------------------------------------------------
#
# The REST API releases raw values (codes, ISO dates), keyed by field name, only for the fields
# the actor may receive: staff get every field of each category ``may()`` allows for that
# student; vendors (client credentials or vendor staff) get the intersection with their
# contract's data elements (``access.policy.contract_fields``). Every API read is audited as
# ``records:student:read`` (channel "api") with the students and categories returned; every
# release to a vendor is also a FERPA 99.32 disclosure (``audit.disclosures.record_disclosure``),
# written with the read's entry, all or nothing (``_audit_release``).

API_PAGE_LIMIT = 50
API_STUDENT_CATEGORIES = (DataCategory.DEMOGRAPHICS, DataCategory.ENROLLMENT)
# Per-student API resources: the category and the models (lower-case names) it returns.
API_CATEGORY_MODELS: dict[DataCategory, tuple[str, ...]] = {
    DataCategory.ENROLLMENT: ("enrollment",),
    DataCategory.PROGRAMS: ("programparticipation",),
    DataCategory.SPECIAL_EDUCATION: (
        "disability",
        "specialeducationservice",
        "individualizededucationprogram",
    ),
    DataCategory.ENGLISH_LEARNERS: ("englishlearnerprofile", "englishproficiencyresult"),
    DataCategory.ASSESSMENTS: ("assessmentresult",),
    DataCategory.COURSES: ("sectionenrollment", "coursecompletion"),
}
# Student columns that are keys, not data elements.
_STUDENT_INTERNAL = frozenset({"id", "row_uid", "district", "sasid_index", "local_id_index"})


class PurposeRequired(ValueError):
    """A restricted category was asked for without a stated purpose."""


class FilterNotAllowed(ValueError):
    """A filter would reveal a category the actor may not read (``field`` names the filter)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class ApiStudentPage:
    """One page of the API's student list: released fields per student, and the next key."""

    students: list[dict[str, object]]
    next_after: int | None


@dataclass(frozen=True)
class ApiCategoryRecords:
    """A student's rows of one category, as released to one actor (rows keyed by model)."""

    student_id: int
    category: DataCategory
    records: dict[str, list[dict[str, object]]]
    fields: list[str]


def _is_vendor(actor: Actor) -> bool:
    return actor.kind == ActorKind.VENDOR or actor.role == "vendor"


def _released_fields(actor: Actor, categories: list[DataCategory]) -> set[str]:
    """ "model.field" names ``actor`` may receive in ``categories`` (already authorized)."""
    names = category_fields(frozenset(categories))
    if _is_vendor(actor):
        names &= contract_fields(actor)
    return names


def _api_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_api_value(v) for v in value]
    if isinstance(value, models.Model):
        return _natural_key(value)
    return str(value)


def _natural_key(row: models.Model) -> object:
    """How the API names a related row: state codes and course codes, never internal keys."""
    if isinstance(row, School | District):
        return row.state_code
    if isinstance(row, Assessment | Course):
        return row.code
    if isinstance(row, CourseSection):
        return f"{row.course.code}-{row.section_code}-{row.school_year}"
    return row.pk


def _student_columns(released: set[str]) -> list[str]:
    """The Student fields to load for a release of ``released`` ("model.field" names): those
    named, and ``row_uid``, which opening an encrypted field needs. No other encrypted value is
    then read, and so none is decrypted."""
    named = {name.split(".", 1)[1] for name in released if name.startswith("student.")}
    return sorted(named | {"row_uid"})


def _release_row(row: models.Model, released: set[str]) -> dict[str, object]:
    model_name = row._meta.model_name
    out: dict[str, object] = {}
    for model_field in row._meta.concrete_fields:
        if model_field.name in ("student", *_STUDENT_INTERNAL):
            continue
        if f"{model_name}.{model_field.name}" in released:
            out[model_field.name] = _api_value(getattr(row, model_field.name))
    return out


def _disclosure_contract(actor: Actor) -> Contract | None:
    """The contract a vendor's release is made under (None for staff); looked up before the
    audit transaction so the audit chain's lock is held as briefly as possible."""
    if not _is_vendor(actor):
        return None
    contract = vendor_contract(actor)
    if contract is None:  # may() allowed the read, so a contract exists; fail closed anyway
        raise StudentNotFound(0)
    return contract


def _audit_release(
    read: PreparedEntry,
    actor: Actor,
    contract: Contract | None,
    students: list[int],
    elements: set[str],
) -> None:
    """Write the read's audit entry and, for a vendor that received something, the 99.32
    disclosure (its entry and one row per student), all or nothing.

    Everything is prepared first; ``append_many`` then writes it in one statement on
    PostgreSQL (the append lock is held inside the server only) or in one transaction
    elsewhere (docs/adr/0065). The disclosure's entry comes first, the read's after it.
    """
    entries = [read]
    rows: list[dict[str, object]] = []
    if contract is not None and students and elements:
        disclosure, rows = prepare_disclosure(
            actor=actor,
            students=students,
            recipient=contract.vendor.name,
            recipient_kind="vendor",
            basis="; ".join(str(p) for p in contract.purposes) or contract.title,
            contract_ref=f"contract:{contract.pk}",
            elements=sorted(elements),
            channel="api",
        )
        entries = [disclosure, read]
    append_many(entries, rows)


def _used_fields(model_name: str, rows: list[dict[str, object]]) -> set[str]:
    return {f"{model_name}.{name}" for row in rows for name in row}


@decision_scope()  # the actor's facts are read once per call
def api_student_page(
    *,
    actor: Actor,
    school_code: str = "",
    grade_level: str = "",
    after_id: int = 0,
    limit: int = API_PAGE_LIMIT,
) -> ApiStudentPage:
    """Students the actor reaches in demographics or enrollment, by id, after ``after_id``.

    Each student carries only the fields of the categories the actor may read for that student
    (vendors: cut to the contract). Filters by school (state code) and grade use current-year
    enrollment and therefore need the enrollment category (``FilterNotAllowed`` otherwise).
    Audited as ``records:student:read`` (channel api); vendors' pages are also disclosures.
    """
    scopes = {c: student_scope_filter(actor, c) for c in API_STUDENT_CATEGORIES}
    reachable = [q for q in scopes.values() if q is not None]
    if not reachable:
        return ApiStudentPage([], None)
    combined = reachable[0]
    for q in reachable[1:]:
        combined |= q
    released = {c: _released_fields(actor, [c]) for c, q in scopes.items() if q is not None}
    # Only what some category the actor reads may release is loaded (and so decrypted).
    releasable: set[str] = set().union(*released.values())
    students = Student.objects.filter(combined).only(*_student_columns(releasable))
    if school_code or grade_level:
        enrollment_scope = scopes[DataCategory.ENROLLMENT]
        if enrollment_scope is None:
            raise FilterNotAllowed(
                "school" if school_code else "grade",
                "filtering by school or grade needs the enrollment category",
            )
        enrolled = Enrollment.objects.filter(school_year=current_school_year())
        if school_code:
            enrolled = enrolled.filter(school__state_code=school_code)
        if grade_level:
            enrolled = enrolled.filter(grade_level=grade_level)
        students = students.filter(enrollment_scope, pk__in=enrolled.values("student_id"))
    found = list(students.filter(pk__gt=after_id).order_by("pk")[: limit + 1])
    next_after = found[limit - 1].pk if len(found) > limit else None
    found = found[:limit]
    ids = [s.pk for s in found]
    allowed: dict[DataCategory, set[int]] = {
        c: set(Student.objects.filter(q, pk__in=ids).values_list("pk", flat=True))
        for c, q in scopes.items()
        if q is not None and ids
    }
    rows: list[dict[str, object]] = []
    used: set[str] = set()
    for student in found:
        fields_for = set().union(*(released[c] for c in allowed if student.pk in allowed[c]))
        row = _release_row(student, fields_for)
        used |= _used_fields("student", [row])
        rows.append({"id": student.pk, **row})
    categories = [c for c in allowed if allowed[c]]
    contract = _disclosure_contract(actor)
    _audit_release(
        prepare_entry(
            actor=actor,
            action="records:student:read",
            students=ids,
            categories=categories,
            details={"channel": "api", "resource": "students", "results": len(ids)},
        ),
        actor,
        contract,
        ids,
        used,
    )
    return ApiStudentPage(rows, next_after)


@decision_scope()  # the actor's facts are read once per call
def api_student_detail(*, actor: Actor, student_id: int) -> dict[str, object]:
    """One student's own fields (demographics, enrollment identifiers) the actor may receive.

    ``StudentNotFound`` when the student is missing or neither category is readable (the same
    error). Audited as ``records:student:read`` (channel api); vendor reads are disclosures.
    """
    decisions = may_each(actor, Action.READ, API_STUDENT_CATEGORIES, student_id)
    allowed = [c for c, decision in decisions.items() if decision]
    released = _released_fields(actor, allowed) if allowed else set()
    student = rows.by_pk(Student, student_id, only=_student_columns(released)) if allowed else None
    if not isinstance(student, Student):
        raise StudentNotFound(student_id)
    row = _release_row(student, released)
    contract = _disclosure_contract(actor)
    _audit_release(
        prepare_entry(
            actor=actor,
            action="records:student:read",
            students=[student.pk],
            categories=allowed,
            details={"channel": "api", "resource": "student"},
        ),
        actor,
        contract,
        [student.pk],
        _used_fields("student", [row]),
    )
    return {"id": student.pk, **row}


@decision_scope()  # the actor's facts are read once per call
def api_student_category(
    *, actor: Actor, student_id: int, category: DataCategory, purpose: str = ""
) -> ApiCategoryRecords:
    """A student's rows of one category (``API_CATEGORY_MODELS``) as the actor may receive them.

    ``StudentNotFound`` when the student is missing or out of the actor's reach for the
    category; ``PurposeRequired`` when staff ask for a restricted category without a purpose
    (a vendor's purpose is its contract's). Audited as ``records:student:read`` with the
    purpose; vendor reads are disclosures.
    """
    decision = may(actor, Action.READ, category, student_id)
    if not decision:
        raise StudentNotFound(student_id)
    if category in RESTRICTED_CATEGORIES and not purpose and not _is_vendor(actor):
        raise PurposeRequired(category.value)
    released = _released_fields(actor, [category])
    records: dict[str, list[dict[str, object]]] = {}
    used: set[str] = set()
    for model_name in API_CATEGORY_MODELS[category]:
        model = apps.get_model("records", model_name)
        query = model.objects.filter(student_id=student_id).order_by("pk")
        related = [
            f.name for f in model._meta.concrete_fields if f.is_relation and f.name != "student"
        ]
        if model_name in ("sectionenrollment", "coursecompletion"):
            related = [*related, "section__course"]
        rows = [_release_row(row, released) for row in query.select_related(*related)]
        records[model_name] = rows
        used |= _used_fields(model_name, rows)
    contract = _disclosure_contract(actor)
    _audit_release(
        prepare_entry(
            actor=actor,
            action="records:student:read",
            students=[student_id],
            categories=[category],
            purpose=purpose or decision.purpose,
            details={"channel": "api", "resource": category.value},
        ),
        actor,
        contract,
        [student_id],
        used,
    )
    return ApiCategoryRecords(student_id, category, records, sorted(used))
