"""The one decision point: who may do what with which category of which student.

``may(actor, action, category, student)`` answers every question; ``student_scope_filter``
and ``visible_students`` apply the same rule in SQL for lists. ``may`` checks a student's
scope by running that same filter on the one row, so the two cannot disagree.

Invariants:
- deny by default: no grant, no contract, or any failed gate gives a falsy ``Decision`` with a
  reason code; there is no superuser or staff-flag bypass (``is_superuser`` is never read);
- gates, in order: signed in; account active; password not expired; MFA passed when the role
  or a district-scope grant needs it; security training within TRAINING_VALID_DAYS (365) and
  the current POLICY_VERSION acknowledged (staff); an active contract (vendors);
- a grant narrows its role: categories = grant categories ∩ role categories, actions = the
  role's actions; scope = district | school (current-year enrollment) | section roster |
  caseload; a vendor's scope is its contract's schools and its categories the contract's;
- a break-glass grant allows a read only when no grant does, and each such allowance is
  audited as ``access:breakglass:use``;
- records is a higher layer: student models are looked up by label at call time
  (``apps.get_model``), never imported;
- inside ``decision_scope()`` (one selector call) the actor's account facts, contract, grants
  and open break-glass grants are read once and reused; outside it nothing is cached. Every
  decision is still taken against the student's row in SQL, per call.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Q, QuerySet
from django.utils import timezone

from studentvault.core import rows
from studentvault.core.actors import Actor, ActorKind
from studentvault.core.categories import DataCategory
from studentvault.core.elements import data_element_of
from studentvault.people.auditing import record as audit_record
from studentvault.people.expiry import password_expired
from studentvault.people.models import Contract, StaffProfile, Vendor, VendorClient
from studentvault.people.roles import Action, ScopeKind, get_role

from .models import BreakGlassGrant, Grant, GrantStudent

__all__ = [
    "Action",
    "Decision",
    "Reason",
    "StudentLike",
    "category_fields",
    "contract_fields",
    "current_school_year",
    "decision_scope",
    "may",
    "may_each",
    "mfa_required_for_user",
    "require",
    "scope_denial",
    "student_scope_filter",
    "vendor_contract",
    "visible_students",
]

STUDENT_MODEL = "records.Student"
ENROLLMENT_MODEL = "records.Enrollment"
SECTION_ENROLLMENT_MODEL = "records.SectionEnrollment"


class Reason(StrEnum):
    """Why a decision came out as it did (stable codes: tests, audit, API errors use them)."""

    ALLOWED = "allowed"
    BREAK_GLASS = "break_glass"
    NOT_AUTHENTICATED = "not_authenticated"
    SYSTEM_ACTOR = "system_actor_not_granted"
    ACCOUNT_INACTIVE = "account_inactive"
    NO_ROLE = "no_role"
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105 - a reason code, not a password
    MFA_REQUIRED = "mfa_required"
    TRAINING_EXPIRED = "training_expired"
    POLICY_NOT_ACKNOWLEDGED = "policy_not_acknowledged"
    CONTRACT_INACTIVE = "contract_inactive"
    NO_GRANT = "no_grant"
    CATEGORY_NOT_GRANTED = "category_not_granted"
    ACTION_NOT_GRANTED = "action_not_granted"
    OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`may`: truthy when allowed, always with a reason code."""

    allowed: bool
    reason: Reason
    grant_id: int | None = None
    break_glass_id: int | None = None
    contract_id: int | None = None
    purpose: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def _deny(reason: Reason) -> Decision:
    return Decision(allowed=False, reason=reason)


@runtime_checkable
class StudentLike(Protocol):
    """Anything that names a student by primary key (a Student row, a stub in tests)."""

    @property
    def pk(self) -> Any: ...


# --- per-call memo ------------------------------------------------------------------------

_T = TypeVar("_T")
_MEMO: ContextVar[dict[tuple[object, ...], object] | None] = ContextVar(
    "studentvault_access_memo", default=None
)


@contextmanager
def decision_scope() -> Iterator[None]:
    """Within the block, facts about actors (account, profile, contract, grants, break-glass
    grants, training) are read from the database once and reused. Selectors open one per call,
    so a decision never rests on facts older than the call that asks; nested blocks share the
    outer one."""
    if _MEMO.get() is not None:
        yield
        return
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def _memo(key: tuple[object, ...], compute: Callable[[], _T]) -> _T:
    """``compute()``, remembered under ``key`` inside a ``decision_scope`` (else not kept)."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[return-value]


# --- who is the actor ----------------------------------------------------------------------


def current_school_year(today: dt.date | None = None) -> int:
    """The school year in force, named by its ending year; July 1 starts the next one.

    CURRENT_SCHOOL_YEAR in settings wins when it is set (non-zero).
    """
    configured = int(getattr(settings, "CURRENT_SCHOOL_YEAR", 0) or 0)
    if configured:
        return configured
    day = today or timezone.localdate()
    return day.year + 1 if day.month >= 7 else day.year


def actor_user_id(actor: Actor) -> int | None:
    """The Django user id of a staff actor ("user:17"), else None."""
    if actor.kind != ActorKind.STAFF or not actor.id.startswith("user:"):
        return None
    try:
        return int(actor.id.removeprefix("user:"))
    except ValueError:
        return None


def actor_client_id(actor: Actor) -> str | None:
    """The OAuth client id of a vendor client actor ("client:<id>"), else None."""
    if actor.kind != ActorKind.VENDOR or not actor.id.startswith("client:"):
        return None
    return actor.id.removeprefix("client:")


def actor_mfa_verified(actor: Actor) -> bool:
    """True when the edge recorded a passed second factor for this actor's session."""
    return actor.extra.get("mfa") == "verified"


@dataclass
class _StaffFacts:
    user: Any
    profile: StaffProfile | None


def _load_staff(user_id: int) -> _StaffFacts | None:
    return _memo(("staff", user_id), lambda: _read_staff(user_id))


def _read_staff(user_id: int) -> _StaffFacts | None:
    user_model = get_user_model()
    user = user_model.objects.filter(pk=user_id).select_related("staff_profile").first()
    if user is None:
        return None
    profile = getattr(user, "staff_profile", None)
    return _StaffFacts(user=user, profile=profile)


def _contract_of(actor: Actor, facts: _StaffFacts | None) -> Contract | None:
    return _memo(("contract", actor.kind, actor.id), lambda: _read_contract(actor, facts))


def _read_contract(actor: Actor, facts: _StaffFacts | None) -> Contract | None:
    client_id = actor_client_id(actor)
    if client_id is not None:
        return _client_contract(client_id)
    if facts is not None and facts.profile is not None and facts.profile.contract_id:
        return Contract.objects.select_related("vendor").get(pk=facts.profile.contract_id)
    return None


def _client_contract(client_id: str) -> Contract | None:
    """The contract (with its vendor) an OAuth client is bound to, in one fixed statement: the
    ORM's compilation of the three-way join cost more CPU than the rest of an API read."""
    using = router.db_for_read(Contract)
    quote = connections[using].ops.quote_name
    application = VendorClient._meta.get_field("application").related_model
    assert application is not None and not isinstance(application, str)
    sql = (
        f"SELECT {rows.columns(Contract, 'c', using)}, {rows.columns(Vendor, 'v', using)} "  # noqa: S608 - names from the models
        f"FROM {quote(Contract._meta.db_table)} c "
        f"JOIN {quote(VendorClient._meta.db_table)} vc ON vc.contract_id = c.id "
        f"JOIN {quote(application._meta.db_table)} a ON a.id = vc.application_id "
        f"JOIN {quote(Vendor._meta.db_table)} v ON v.id = c.vendor_id "
        "WHERE a.client_id = %s"
    )
    found = rows.fetch(sql, [client_id], [(Contract, "c"), (Vendor, "v")], using)
    if not found:
        return None
    contract, vendor = found[0]
    assert isinstance(contract, Contract) and isinstance(vendor, Vendor)
    contract.vendor = vendor
    return contract


def _training_gate(user: Any) -> Reason | None:
    return _memo(("training", user.pk), lambda: _read_training_gate(user))


def _read_training_gate(user: Any) -> Reason | None:
    days = int(getattr(settings, "TRAINING_VALID_DAYS", 365))
    cutoff = timezone.localdate() - dt.timedelta(days=days)
    if not user.training_records.filter(completed_on__gt=cutoff).exists():
        return Reason.TRAINING_EXPIRED
    version = str(getattr(settings, "POLICY_VERSION", ""))
    if not user.policy_acknowledgements.filter(policy_version=version).exists():
        return Reason.POLICY_NOT_ACKNOWLEDGED
    return None


def mfa_required_for_user(user: Any) -> bool:
    """MFA is mandatory for the user's role, or when any of their grants has district scope
    or an administrative role (vendors always)."""
    profile: StaffProfile | None = getattr(user, "staff_profile", None)
    if profile is None or profile.mfa_required:
        return True
    for grant in _current_grants(user.pk):
        role = get_role(grant.role)
        if grant.scope_kind == ScopeKind.DISTRICT or role is None or role.requires_mfa:
            return True
    return False


def _current_grants(user_id: int) -> list[Grant]:
    return _memo(
        ("grants", user_id),
        lambda: list(Grant.objects.current().filter(user_id=user_id).order_by("pk")),
    )


def _account_gates(actor: Actor, facts: _StaffFacts) -> Reason | None:
    """The gates every staff actor passes before any grant is looked at."""
    user = facts.user
    profile = facts.profile
    if not user.is_active or profile is None or not profile.active:
        return (
            Reason.ACCOUNT_INACTIVE
            if profile is not None or not user.is_active
            else (Reason.NO_ROLE)
        )
    if get_role(profile.role) is None:
        return Reason.NO_ROLE
    if password_expired(user):
        return Reason.PASSWORD_EXPIRED
    if mfa_required_for_user(user) and not actor_mfa_verified(actor):
        return Reason.MFA_REQUIRED
    return _training_gate(user)


# --- scope in SQL --------------------------------------------------------------------------


def _model(label: str) -> Any:
    return apps.get_model(label)


@dataclass(frozen=True)
class _Scope:
    """Which students a grant or contract reaches, as plain values.

    A scope's ``Q`` (``_scope_q``) is a function of these fields alone, so a statement
    compiled for one scope is right for every equal scope (``_member_statement``). The
    school year and the day are fields because school and section scopes depend on them.
    """

    kind: str  # "all", "district", "schools", "school_codes", "sections", "caseload", "none"
    values: tuple[int | str, ...] = ()
    school_year: int = 0
    day: dt.date | None = None


_ALL_STUDENTS = _Scope("all")


def _grant_scope(grant: Grant) -> _Scope:
    kind, value = grant.scope_kind, grant.scope_value
    if kind == ScopeKind.DISTRICT:
        return _ALL_STUDENTS if value is None else _Scope("district", (value,))
    if kind == ScopeKind.SCHOOL and value is not None:
        return _Scope("schools", (value,), school_year=current_school_year())
    if kind == ScopeKind.SECTION_ROSTER and value is not None:
        return _Scope("sections", (value,), day=timezone.localdate())
    if kind == ScopeKind.CASELOAD:
        return _Scope("caseload", (grant.pk,))
    return _Scope("none")  # malformed grant: matches nobody


def _contract_scope(contract: Contract) -> _Scope:
    if contract.covers_all_schools:
        return _ALL_STUDENTS
    codes = tuple(str(code) for code in contract.schools)
    return _Scope("school_codes", codes, school_year=current_school_year())


def _scope_q(scope: _Scope, prefix: str) -> Q:
    """The students of ``scope`` as a ``Q`` on the Student model, or on a model that links to
    a student when ``prefix`` is ``"student__"``."""
    if scope.kind == "all":
        return Q(**{f"{prefix}pk__isnull": False})
    if scope.kind == "district":
        return Q(**{f"{prefix}district_id": scope.values[0]})
    if scope.kind == "schools":
        linked = _model(ENROLLMENT_MODEL).objects.filter(
            school_id__in=scope.values, school_year=scope.school_year
        )
    elif scope.kind == "school_codes":
        linked = _model(ENROLLMENT_MODEL).objects.filter(
            school__state_code__in=scope.values, school_year=scope.school_year
        )
    elif scope.kind == "sections":
        linked = (
            _model(SECTION_ENROLLMENT_MODEL)
            .objects.filter(section_id__in=scope.values)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=scope.day))
        )
    elif scope.kind == "caseload":
        linked = GrantStudent.objects.filter(grant_id__in=scope.values)
    else:
        return Q(**{f"{prefix}pk__in": []})
    return Q(**{f"{prefix}pk__in": linked.values("student_id")})


# A primary key no row has, compiled into a membership statement and then replaced.
_PK_SLOT = -7_300_000_000_000_000_017


@functools.lru_cache(maxsize=4096)
def _member_statement(scope: _Scope, using: str) -> tuple[str, tuple[Any, ...], int] | None:
    """``SELECT 1 ... WHERE pk = <student> AND <scope>``, compiled once per scope and database:
    (SQL, parameters, position of the student's key among them). None when the scope can match
    nobody (the ORM finds the condition empty and runs no query)."""
    students = _model(STUDENT_MODEL).objects.using(using).filter(pk=_PK_SLOT)
    query = students.filter(_scope_q(scope, "")).query.exists()
    try:
        sql, params = query.get_compiler(using=using).as_sql()
    except EmptyResultSet:
        return None
    slots = [i for i, value in enumerate(params) if value == _PK_SLOT]
    if len(slots) != 1:  # cannot happen with the scopes above; never guess
        raise RuntimeError(f"membership statement of scope kind {scope.kind} has no key slot")
    return sql, tuple(params), slots[0]


def _in_scope(scope: _Scope, pk: int) -> bool:
    """Is student ``pk`` in ``scope``? One statement, the same answer as
    ``Student.objects.filter(pk=pk).filter(_scope_q(scope, "")).exists()``."""
    model = _model(STUDENT_MODEL)
    using = router.db_for_read(model)
    statement = _member_statement(scope, using)
    if statement is None or not rows.key_in_range(model._meta.pk, pk, using):
        return False
    sql, params, slot = statement
    bound: list[Any] = list(params)
    bound[slot] = pk
    with connections[using].cursor() as cursor:
        cursor.execute(sql, bound)
        return cursor.fetchone() is not None


def _grant_covers(grant: Grant, action: Action, category: DataCategory) -> Reason | None:
    role = get_role(grant.role)
    if role is None:
        return Reason.NO_GRANT
    if category not in role.categories or category.value not in grant.categories:
        return Reason.CATEGORY_NOT_GRANTED
    if action not in role.actions:
        return Reason.ACTION_NOT_GRANTED
    return None


def _open_break_glass(user_id: int, category: DataCategory) -> BreakGlassGrant | None:
    for bg in _memo(("break_glass", user_id), lambda: _read_open_break_glass(user_id)):
        if category.value in bg.categories:
            return bg
    return None


def _read_open_break_glass(user_id: int) -> list[BreakGlassGrant]:
    now = timezone.now()
    return list(
        BreakGlassGrant.objects.filter(
            user_id=user_id, closed_at__isnull=True, opened_at__lte=now, expires_at__gt=now
        ).order_by("pk")
    )


@dataclass
class _Resolved:
    """What an actor may reach for one action and category, before looking at a student."""

    denial: Reason | None
    scopes: list[tuple[_Scope, Decision]]


def _resolve(actor: Actor, action: Action, category: DataCategory) -> _Resolved:
    if actor.kind == ActorKind.ANONYMOUS:
        return _Resolved(Reason.NOT_AUTHENTICATED, [])
    if actor.kind == ActorKind.SYSTEM:
        return _Resolved(Reason.SYSTEM_ACTOR, [])
    facts: _StaffFacts | None = None
    user_id = actor_user_id(actor)
    if actor.kind == ActorKind.STAFF:
        if user_id is None:
            return _Resolved(Reason.NOT_AUTHENTICATED, [])
        facts = _load_staff(user_id)
        if facts is None:
            return _Resolved(Reason.ACCOUNT_INACTIVE, [])
        gate = _account_gates(actor, facts)
        if gate is not None:
            return _Resolved(gate, [])
    contract = _contract_of(actor, facts)
    if actor.kind == ActorKind.VENDOR or (
        facts is not None and facts.profile is not None and facts.profile.role == "vendor"
    ):
        if contract is None or not contract.is_active():
            return _Resolved(Reason.CONTRACT_INACTIVE, [])
        if category not in contract.category_set:
            return _Resolved(Reason.CATEGORY_NOT_GRANTED, [])
        if action != Action.READ:
            return _Resolved(Reason.ACTION_NOT_GRANTED, [])
        decision = Decision(
            allowed=True,
            reason=Reason.ALLOWED,
            contract_id=contract.pk,
            purpose="; ".join(str(p) for p in contract.purposes),
        )
        return _Resolved(None, [(_contract_scope(contract), decision)])
    assert user_id is not None
    grants = _current_grants(user_id)
    scopes: list[tuple[_Scope, Decision]] = []
    worst = Reason.NO_GRANT
    for grant in grants:
        problem = _grant_covers(grant, action, category)
        if problem is None:
            decision = Decision(
                allowed=True, reason=Reason.ALLOWED, grant_id=grant.pk, purpose=grant.purpose
            )
            scopes.append((_grant_scope(grant), decision))
        elif problem == Reason.ACTION_NOT_GRANTED or worst == Reason.NO_GRANT:
            worst = problem
    if action == Action.READ:
        bg = _open_break_glass(user_id, category)
        if bg is not None:
            decision = Decision(
                allowed=True, reason=Reason.BREAK_GLASS, break_glass_id=bg.pk, purpose=bg.reason
            )
            scopes.append((_ALL_STUDENTS, decision))
    if not scopes:
        return _Resolved(worst, [])
    return _Resolved(None, scopes)


def _student_pk(student: int | StudentLike) -> int:
    if isinstance(student, bool):
        raise TypeError("a student is an id or an object with a pk, not a bool")
    if isinstance(student, int):
        return student
    return int(student.pk)


def may(
    actor: Actor,
    action: Action | str,
    category: DataCategory | str,
    student: int | StudentLike,
) -> Decision:
    """May ``actor`` take ``action`` on ``category`` data of ``student``? Deny by default.

    Every view, API endpoint, export, report and SFTP operation asks this. Uses of a
    break-glass grant are audited here; the read itself is audited by the caller (selectors).
    """
    return may_each(actor, action, [category], student)[DataCategory(category)]


def may_each(
    actor: Actor,
    action: Action | str,
    categories: Iterable[DataCategory | str],
    student: int | StudentLike,
) -> dict[DataCategory, Decision]:
    """``may()`` for several categories of one student, in the order given.

    The same decision as one ``may()`` per category; the actor's facts are read once and each
    distinct scope (a grant's, a contract's) is tested against the student's row once.
    """
    act = Action(action)
    pk = _student_pk(student)
    in_scope: dict[_Scope, bool] = {}  # each distinct scope is asked once
    answers: dict[DataCategory, Decision] = {}
    with decision_scope():
        for category in categories:
            cat = DataCategory(category)
            answers[cat] = _decide(actor, act, cat, pk, in_scope)
    return answers


def _decide(
    actor: Actor,
    action: Action,
    category: DataCategory,
    pk: int,
    in_scope: dict[_Scope, bool],
) -> Decision:
    resolved = _resolve(actor, action, category)
    if resolved.denial is not None:
        return _deny(resolved.denial)
    for scope, decision in resolved.scopes:
        if scope not in in_scope:
            in_scope[scope] = _in_scope(scope, pk)
        if in_scope[scope]:
            if decision.reason == Reason.BREAK_GLASS:
                audit_record(
                    actor=actor,
                    action="access:breakglass:use",
                    students=[pk],
                    categories=[category.value],
                    purpose=decision.purpose,
                    target=f"break_glass:{decision.break_glass_id}",
                    details={"alert": True},
                )
            return decision
    return _deny(Reason.OUT_OF_SCOPE)


def require(
    actor: Actor,
    action: Action | str,
    category: DataCategory | str,
    student: int | StudentLike,
    *,
    purpose: str = "",
    target: str = "",
) -> Decision:
    """``may()`` plus the audit entry: every answer is recorded, allowed or refused.

    For single-category operations (exports, SFTP, API fields); the entry is
    ``records:student:<action>`` with outcome success or failure and the reason code.
    """
    decision = may(actor, action, category, student)
    audit_record(
        actor=actor,
        action=f"records:student:{Action(action).value}",
        outcome="success" if decision else "failure",
        students=[_student_pk(student)],
        categories=[DataCategory(category).value],
        purpose=purpose or decision.purpose,
        target=target,
        details={"reason": decision.reason.value},
    )
    return decision


def student_scope_filter(
    actor: Actor,
    category: DataCategory | str,
    *,
    action: Action | str = Action.READ,
    prefix: str = "",
) -> Q | None:
    """The students ``actor`` may reach for ``action`` on ``category``, as a ``Q``.

    Field paths are relative to the Student model; pass ``prefix="student__"`` to filter a
    model that links to a student. None means nobody: the caller returns ``.none()``.
    Break-glass reach is included (district-wide); its per-student use is audited by ``may``.
    """
    resolved = _resolve(actor, Action(action), DataCategory(category))
    if resolved.denial is not None or not resolved.scopes:
        return None
    combined = Q()
    first = True
    for scope, _ in resolved.scopes:
        q = _scope_q(scope, prefix)
        combined = q if first else combined | q
        first = False
    return combined


def scope_denial(
    actor: Actor, category: DataCategory | str, *, action: Action | str = Action.READ
) -> Reason | None:
    """Why ``actor`` can reach no student at all for ``category`` (None when some)."""
    return _resolve(actor, Action(action), DataCategory(category)).denial


def change_denial(actor: Actor) -> Reason | None:
    """Why ``actor`` may change no category of any student (None when it may change some).

    Decides who may use the import screens (route rule ``student_change``); the import engine
    still checks every row it writes with ``may``.
    """
    first: Reason | None = None
    for category in DataCategory:
        denial = scope_denial(actor, category, action=Action.CHANGE)
        if denial is None:
            return None
        first = first or denial
    return first or Reason.NO_GRANT


def visible_students(
    actor: Actor, category: DataCategory | str, *, action: Action | str = Action.READ
) -> QuerySet[Any]:
    """Students ``actor`` may reach for ``category`` (the list form of :func:`may`)."""
    model = _model(STUDENT_MODEL)
    q = student_scope_filter(actor, category, action=action)
    if q is None:
        return model.objects.none()  # type: ignore[no-any-return]
    return model.objects.filter(q)  # type: ignore[no-any-return]


# --- fields ------------------------------------------------------------------------------


def category_fields(categories: frozenset[DataCategory]) -> set[str]:
    """Every data element "model.field" of the records app in ``categories`` (a new set)."""
    out: set[str] = set()
    for category in categories:
        out |= _fields_by_category().get(category, frozenset())
    return out


@functools.cache
def _fields_by_category() -> dict[DataCategory, frozenset[str]]:
    """Field metadata is fixed once the apps are loaded: read it once per process."""
    found: dict[DataCategory, set[str]] = {}
    if not apps.is_installed("studentvault.records"):
        return {}
    for model in apps.get_app_config("records").get_models():
        for field in model._meta.get_fields():
            element = data_element_of(field)
            if element is not None:
                found.setdefault(element.category, set()).add(
                    f"{model._meta.model_name}.{field.name}"
                )
    return {category: frozenset(names) for category, names in found.items()}


def vendor_contract(actor: Actor) -> Contract | None:
    """The contract a vendor client, or a staff account bound to one, acts under (active or
    not); None otherwise. Read once per ``decision_scope``."""
    user_id = actor_user_id(actor)
    if user_id is not None:
        return _contract_of(actor, _load_staff(user_id))
    if actor_client_id(actor) is not None:
        return _contract_of(actor, None)
    return None


def contract_fields(actor: Actor) -> set[str]:
    """The data elements ("model.field", model in lower case) a vendor actor may receive.

    Empty for an actor without an active contract. When the contract lists fields, only
    those that belong to its categories; otherwise every field of its categories.
    """
    facts: _StaffFacts | None = None
    user_id = actor_user_id(actor)
    if user_id is not None:
        facts = _load_staff(user_id)
    contract = _contract_of(actor, facts)
    if contract is None or not contract.is_active():
        return set()
    in_categories = category_fields(contract.category_set)
    if contract.fields:
        return {str(f).lower() for f in contract.fields} & in_categories
    return in_categories
