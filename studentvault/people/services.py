"""Writes for accounts, training, policy acknowledgements, vendors and contracts.

Every service validates, saves and writes its audit entry in one transaction; bad input
raises ``ValidationError`` naming the field and the reason, and nothing is half-saved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory

from .auditing import record
from .models import (
    ALL_SCHOOLS,
    Contract,
    Designation,
    PolicyAcknowledgement,
    StaffProfile,
    TrainingRecord,
    Vendor,
    VendorClient,
)
from .roles import get_role
from .sessions import end_all_sessions


@transaction.atomic
def staff_create(
    *,
    actor: Actor,
    username: str,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    password: str | None = None,
    school_codes: Sequence[str] = (),
    contract: Contract | None = None,
) -> Any:
    """Create a staff account with its profile. Without a password the account cannot sign
    in until a reset link is used. Caller needs ``people:accounts:manage``."""
    if get_role(role) is None:
        raise ValidationError({"role": f"unknown role {role!r}"})
    if role == "vendor" and contract is None:
        raise ValidationError({"contract": "vendor staff must be bound to a contract"})
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "an account with this username already exists"})
    user = user_model(username=username, email=email, first_name=first_name, last_name=last_name)
    if password:
        from django.contrib.auth.password_validation import validate_password

        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    StaffProfile.objects.create(
        user=user,
        role=role,
        school_codes=list(school_codes),
        contract=contract,
        password_changed_at=timezone.now() if password else None,
    )
    record(
        actor=actor,
        action="people:account:create",
        target=f"user:{user.pk}",
        details={"role": role},
    )
    return user


@transaction.atomic
def staff_deactivate(*, actor: Actor, user: Any, reason: str) -> None:
    """Deactivate an account: it can no longer sign in, and every session of it ends now."""
    if not reason.strip():
        raise ValidationError({"reason": "say why the account is deactivated"})
    user.is_active = False
    user.save(update_fields=["is_active"])
    StaffProfile.objects.filter(user=user).update(active=False, deactivated_at=timezone.now())
    ended = end_all_sessions(user_id=user.pk, reason="deactivated")
    record(
        actor=actor,
        action="people:account:deactivate",
        target=f"user:{user.pk}",
        details={"reason": reason, "sessions_ended": ended},
    )


@transaction.atomic
def staff_reactivate(*, actor: Actor, user: Any) -> None:
    """Reactivate a deactivated account (its grants are not restored automatically)."""
    user.is_active = True
    user.save(update_fields=["is_active"])
    StaffProfile.objects.filter(user=user).update(active=True, deactivated_at=None)
    record(actor=actor, action="people:account:reactivate", target=f"user:{user.pk}")


@transaction.atomic
def staff_role_change(*, actor: Actor, user: Any, role: str) -> None:
    """Change the role on a staff profile (grants keep their own role)."""
    if get_role(role) is None:
        raise ValidationError({"role": f"unknown role {role!r}"})
    StaffProfile.objects.filter(user=user).update(role=role)
    record(
        actor=actor, action="people:account:role", target=f"user:{user.pk}", details={"role": role}
    )


@transaction.atomic
def training_record(
    *, actor: Actor, user: Any, completed_on: dt.date, course: str
) -> TrainingRecord:
    """Record a completed annual security training (not in the future)."""
    if completed_on > timezone.localdate():
        raise ValidationError({"completed_on": "a training cannot be completed in the future"})
    if not course.strip():
        raise ValidationError({"course": "name the course"})
    row = TrainingRecord.objects.create(user=user, completed_on=completed_on, course=course)
    record(
        actor=actor,
        action="people:training:record",
        target=f"user:{user.pk}",
        details={"completed_on": completed_on.isoformat()},
    )
    return row


@transaction.atomic
def policy_acknowledge(*, actor: Actor, user: Any, version: str | None = None) -> None:
    """Record the user's acknowledgement of the current (or given) policy version."""
    version = version or str(settings.POLICY_VERSION)
    PolicyAcknowledgement.objects.get_or_create(user=user, policy_version=version)
    record(
        actor=actor,
        action="people:policy:acknowledge",
        target=f"user:{user.pk}",
        details={"version": version},
    )


@transaction.atomic
def vendor_create(*, actor: Actor, name: str, designation: str) -> Vendor:
    """Register a vendor with its designation."""
    if designation not in Designation.values:
        raise ValidationError(
            {"designation": f"must be one of {', '.join(Designation.values)}, not {designation!r}"}
        )
    vendor = Vendor.objects.create(name=name, designation=designation)
    record(actor=actor, action="people:vendor:create", target=f"vendor:{vendor.pk}")
    return vendor


def _check_categories(categories: Sequence[str]) -> list[str]:
    out: list[str] = []
    for code in categories:
        try:
            out.append(DataCategory(code).value)
        except ValueError:
            raise ValidationError({"categories": f"unknown data category {code!r}"}) from None
    if not out:
        raise ValidationError({"categories": "a contract covers at least one data category"})
    return out


@transaction.atomic
def contract_create(
    *,
    actor: Actor,
    vendor: Vendor,
    title: str,
    starts_on: dt.date,
    ends_on: dt.date,
    categories: Sequence[str],
    schools: Sequence[str],
    purposes: Sequence[str],
    signed_on: dt.date | None = None,
    privacy_obligations_signed: bool = False,
    sdtsa_clauses_attested: bool = False,
    fields: Sequence[str] = (),
    destruction_terms: str = "",
) -> Contract:
    """Record a vendor contract; it grants access only once signed and attested (see model)."""
    if ends_on < starts_on:
        raise ValidationError({"ends_on": "a contract cannot end before it starts"})
    if not schools:
        raise ValidationError({"schools": f'list school codes, or ["{ALL_SCHOOLS}"] for all'})
    if not purposes:
        raise ValidationError({"purposes": "state at least one purpose"})
    cats = _check_categories(categories)
    for item in fields:
        if item.count(".") != 1:
            raise ValidationError({"fields": f'{item!r} is not of the form "model.field"'})
    contract = Contract.objects.create(
        vendor=vendor,
        title=title,
        starts_on=starts_on,
        ends_on=ends_on,
        signed_on=signed_on,
        privacy_obligations_signed=privacy_obligations_signed,
        sdtsa_clauses_attested=sdtsa_clauses_attested,
        categories=cats,
        schools=list(schools),
        purposes=list(purposes),
        fields=[f.lower() for f in fields],
        destruction_terms=destruction_terms,
    )
    record(
        actor=actor,
        action="people:contract:create",
        target=f"contract:{contract.pk}",
        categories=cats,
        details={"vendor": vendor.pk},
    )
    return contract


@transaction.atomic
def vendor_client_create(*, actor: Actor, contract: Contract, name: str) -> tuple[Any, str]:
    """Create an OAuth2 client-credentials application bound to ``contract``.

    Returns the application and its client secret (shown once; stored hashed).
    """
    from oauth2_provider.generators import generate_client_secret
    from oauth2_provider.models import get_application_model

    secret = generate_client_secret()
    application_model = get_application_model()
    app = application_model.objects.create(
        name=name,
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
    )
    VendorClient.objects.create(application=app, contract=contract)
    record(
        actor=actor,
        action="people:vendor_client:create",
        target=f"contract:{contract.pk}",
        details={"client": app.client_id},
    )
    return app, secret
