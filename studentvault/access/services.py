"""Writes for grants, caseloads, break-glass grants and access reviews.

Each service validates, saves and audits in one transaction. Invariants: a grant never widens
its role (categories outside the role are refused); a grant needs a purpose; a break-glass
grant needs a typed reason of at least 20 characters and lasts at most BREAK_GLASS_MAX_HOURS;
its opening is audited with ``alert`` set so monitoring raises it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory
from studentvault.people import services as people_services
from studentvault.people.auditing import record
from studentvault.people.models import Contract
from studentvault.people.roles import ScopeKind, get_role

from .models import AccessReview, BreakGlassGrant, Grant, GrantStudent
from .personas import Persona

BREAK_GLASS_MIN_REASON = 20


def _categories(role_code: str, categories: Sequence[str] | None) -> list[str]:
    role = get_role(role_code)
    if role is None:
        raise ValidationError({"role": f"unknown role {role_code!r}"})
    if categories is None:
        return sorted(c.value for c in role.categories)
    out: list[str] = []
    for code in categories:
        try:
            category = DataCategory(code)
        except ValueError:
            raise ValidationError({"categories": f"unknown data category {code!r}"}) from None
        if category not in role.categories:
            raise ValidationError(
                {"categories": f"the {role.label} role does not include {category.value}"}
            )
        out.append(category.value)
    return sorted(set(out))


@transaction.atomic
def grant_create(
    *,
    actor: Actor,
    user: Any,
    role: str,
    scope_kind: ScopeKind | str,
    purpose: str,
    scope_value: int | None = None,
    categories: Sequence[str] | None = None,
    caseload: Sequence[int] = (),
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    approved_by: Any = None,
    created_by: Any = None,
) -> Grant:
    """Give ``user`` a role over a scope. Caller needs ``access:grants:manage``."""
    kind = ScopeKind(scope_kind)
    if kind == ScopeKind.CONTRACT:
        raise ValidationError({"scope_kind": "vendor access comes from a contract, not a grant"})
    if not purpose.strip():
        raise ValidationError({"purpose": "state the purpose the access serves"})
    if kind in (ScopeKind.SCHOOL, ScopeKind.SECTION_ROSTER) and scope_value is None:
        raise ValidationError({"scope_value": f"a {kind.value} grant needs the id it covers"})
    if kind == ScopeKind.CASELOAD and not caseload:
        raise ValidationError({"caseload": "a caseload grant names at least one student"})
    start = valid_from or timezone.now()
    if valid_until is not None and valid_until <= start:
        raise ValidationError({"valid_until": "must be after valid_from"})
    grant = Grant.objects.create(
        user=user,
        role=role,
        scope_kind=kind.value,
        scope_value=scope_value,
        categories=_categories(role, categories),
        purpose=purpose,
        valid_from=start,
        valid_until=valid_until,
        approved_by=approved_by,
        created_by=created_by,
    )
    GrantStudent.objects.bulk_create(
        [GrantStudent(grant=grant, student_id=int(s)) for s in sorted(set(caseload))]
    )
    record(
        actor=actor,
        action="access:grant:create",
        target=f"grant:{grant.pk}",
        categories=grant.categories,
        purpose=purpose,
        details={"user": user.pk, "role": role, "scope": kind.value},
    )
    return grant


@transaction.atomic
def grant_revoke(*, actor: Actor, grant: Grant, reason: str) -> None:
    """Revoke a grant now (takes effect on the next decision)."""
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        grant.save(update_fields=["revoked_at"])
    record(
        actor=actor,
        action="access:grant:revoke",
        target=f"grant:{grant.pk}",
        details={"reason": reason},
    )


@transaction.atomic
def break_glass_open(
    *, actor: Actor, user: Any, reason: str, categories: Sequence[str], hours: int = 1
) -> BreakGlassGrant:
    """Open emergency district-wide read access for ``categories`` (audited, alerted)."""
    if len(reason.strip()) < BREAK_GLASS_MIN_REASON:
        raise ValidationError(
            {"reason": f"type the reason in at least {BREAK_GLASS_MIN_REASON} characters"}
        )
    limit = int(settings.BREAK_GLASS_MAX_HOURS)
    if not 1 <= hours <= limit:
        raise ValidationError({"hours": f"between 1 and {limit} hours"})
    cats: list[str] = []
    for code in categories:
        try:
            cats.append(DataCategory(code).value)
        except ValueError:
            raise ValidationError({"categories": f"unknown data category {code!r}"}) from None
    if not cats:
        raise ValidationError({"categories": "name the categories needed"})
    now = timezone.now()
    bg = BreakGlassGrant.objects.create(
        user=user,
        reason=reason.strip(),
        categories=sorted(set(cats)),
        opened_at=now,
        expires_at=now + dt.timedelta(hours=hours),
    )
    record(
        actor=actor,
        action="access:breakglass:open",
        target=f"break_glass:{bg.pk}",
        categories=bg.categories,
        purpose=bg.reason,
        details={"alert": True, "hours": hours, "user": user.pk},
    )
    return bg


@transaction.atomic
def break_glass_close(*, actor: Actor, grant: BreakGlassGrant) -> None:
    """Close a break-glass grant before it expires."""
    if grant.closed_at is None:
        grant.closed_at = timezone.now()
        grant.save(update_fields=["closed_at"])
    record(actor=actor, action="access:breakglass:close", target=f"break_glass:{grant.pk}")


@transaction.atomic
def access_review_record(
    *, actor: Actor, reviewer: Any, reviewed_user: Any, outcome: str, notes: str = ""
) -> AccessReview:
    """Record a periodic access review; outcome "revoked" revokes every current grant."""
    if outcome not in AccessReview.Outcome.values:
        raise ValidationError({"outcome": f"one of {', '.join(AccessReview.Outcome.values)}"})
    review = AccessReview.objects.create(
        reviewer=reviewer, reviewed_user=reviewed_user, outcome=outcome, notes=notes
    )
    if outcome == AccessReview.Outcome.REVOKED:
        for grant in Grant.objects.current().filter(user=reviewed_user):
            grant_revoke(actor=actor, grant=grant, reason=f"access review #{review.pk}")
    record(
        actor=actor,
        action="access:review:record",
        target=f"user:{reviewed_user.pk}",
        details={"outcome": outcome, "review": review.pk},
    )
    return review


@transaction.atomic
def persona_create(
    *,
    actor: Actor,
    persona: Persona,
    password: str | None,
    scope_ids: Mapping[str, int],
    school_codes: Mapping[str, str],
    caseload: Sequence[int] = (),
    contract: Contract | None = None,
    trained: bool = True,
) -> Any:
    """Create the account of a persona with its grant (demo set-up and tests).

    ``scope_ids`` maps the persona's scope symbol ("school_a", "section_a1") to a row id;
    ``school_codes`` maps school symbols to state codes.
    """
    user = people_services.staff_create(
        actor=actor,
        username=persona.username,
        email=persona.email,
        first_name=persona.first_name,
        last_name=persona.last_name,
        role=persona.role,
        password=password,
        school_codes=[school_codes[s] for s in persona.school_codes if s in school_codes],
        contract=contract,
    )
    if trained:
        people_services.training_record(
            actor=actor, user=user, completed_on=timezone.localdate(), course="Annual security"
        )
        people_services.policy_acknowledge(actor=actor, user=user)
    if persona.scope_kind != ScopeKind.CONTRACT:
        grant_create(
            actor=actor,
            user=user,
            role=persona.role,
            scope_kind=persona.scope_kind,
            scope_value=scope_ids.get(persona.scope_ref),
            caseload=caseload,
            purpose=persona.purpose,
        )
    return user


def user_by_username(username: str) -> Any:
    """The account named ``username`` (raises DoesNotExist)."""
    return get_user_model().objects.get(username=username)
