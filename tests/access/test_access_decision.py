"""The decision point: gates, grants, scopes, vendors, break-glass; may() agrees with SQL."""

from __future__ import annotations

import datetime as dt

import pytest
from access_world import SYSTEM, World, staff_actor
from django.utils import timezone

from studentvault.access import services
from studentvault.access.policy import (
    Reason,
    contract_fields,
    may,
    student_scope_filter,
    visible_students,
)
from studentvault.core.actors import ANONYMOUS, Actor
from studentvault.core.categories import DataCategory

D = DataCategory


def test_principal_reads_school_a_not_school_b(world: World) -> None:
    bob = staff_actor(world.users["bob"])
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"])
    denied = may(bob, "read", D.DEMOGRAPHICS, world.students["s_b"])
    assert not denied and denied.reason == Reason.OUT_OF_SCOPE
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_old"]).reason == Reason.OUT_OF_SCOPE


def test_category_outside_role_is_denied(world: World) -> None:
    carol = staff_actor(world.users["carol"])
    decision = may(carol, "read", D.SPECIAL_EDUCATION, world.students["s_roster"])
    assert decision.reason == Reason.CATEGORY_NOT_GRANTED


def test_action_outside_role_is_denied(world: World) -> None:
    carol = staff_actor(world.users["carol"])
    assert may(carol, "export", D.DEMOGRAPHICS, world.students["s_roster"]).reason == (
        Reason.ACTION_NOT_GRANTED
    )


def test_teacher_sees_only_roster(world: World) -> None:
    carol = staff_actor(world.users["carol"])
    assert may(carol, "read", D.DEMOGRAPHICS, world.students["s_roster"])
    assert not may(carol, "read", D.DEMOGRAPHICS, world.students["s_a"])
    ids = set(visible_students(carol, D.DEMOGRAPHICS).values_list("pk", flat=True))
    assert ids == {world.students["s_roster"].pk}


def test_caseload(world: World) -> None:
    erin = staff_actor(world.users["erin"])
    assert may(erin, "read", D.SPECIAL_EDUCATION, world.students["s_case"].pk)
    assert not may(erin, "read", D.SPECIAL_EDUCATION, world.students["s_a"].pk)


def test_no_superuser_bypass(world: World) -> None:
    carol_user = world.users["carol"]
    carol_user.is_superuser = True
    carol_user.is_staff = True
    carol_user.save()
    carol = staff_actor(carol_user)
    assert not may(carol, "read", D.DEMOGRAPHICS, world.students["s_b"])
    assert not may(carol, "read", D.SPECIAL_EDUCATION, world.students["s_roster"])


def test_anonymous_and_system_denied(world: World) -> None:
    assert may(ANONYMOUS, "read", D.DEMOGRAPHICS, 1).reason == Reason.NOT_AUTHENTICATED
    assert may(SYSTEM, "read", D.DEMOGRAPHICS, 1).reason == Reason.SYSTEM_ACTOR
    assert student_scope_filter(ANONYMOUS, D.DEMOGRAPHICS) is None
    assert not visible_students(ANONYMOUS, D.DEMOGRAPHICS).exists()


def test_inactive_account_denied(world: World) -> None:
    bob_user = world.users["bob"]
    bob = staff_actor(bob_user)
    services_people = pytest.importorskip("studentvault.people.services")
    services_people.staff_deactivate(actor=SYSTEM, user=bob_user, reason="left the district")
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"]).reason == (
        Reason.ACCOUNT_INACTIVE
    )


def test_training_gate(world: World) -> None:
    bob_user = world.users["bob"]
    bob = staff_actor(bob_user)
    bob_user.training_records.update(completed_on=timezone.localdate() - dt.timedelta(days=366))
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"]).reason == (
        Reason.TRAINING_EXPIRED
    )
    bob_user.training_records.update(completed_on=timezone.localdate() - dt.timedelta(days=364))
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"])


def test_policy_version_gate(world: World, settings: object) -> None:
    bob = staff_actor(world.users["bob"])
    settings.POLICY_VERSION = "2099-1"  # type: ignore[attr-defined]
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"]).reason == (
        Reason.POLICY_NOT_ACKNOWLEDGED
    )


def test_password_expired_gate(world: World, settings: object) -> None:
    bob_user = world.users["bob"]
    bob = staff_actor(bob_user)
    bob_user.staff_profile.password_changed_at = timezone.now() - dt.timedelta(days=91)
    bob_user.staff_profile.save()
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"]).reason == (
        Reason.PASSWORD_EXPIRED
    )
    settings.PASSWORD_MAX_AGE_DAYS = 0  # type: ignore[attr-defined]
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"])


def test_mfa_gate_for_district_roles(world: World) -> None:
    alice_no_mfa = staff_actor(world.users["alice"], mfa=False)
    assert may(alice_no_mfa, "read", D.DEMOGRAPHICS, world.students["s_b"]).reason == (
        Reason.MFA_REQUIRED
    )
    assert may(staff_actor(world.users["alice"]), "read", D.DEMOGRAPHICS, world.students["s_b"])
    # A principal's role does not need MFA...
    assert may(
        staff_actor(world.users["bob"], mfa=False), "read", D.DEMOGRAPHICS, world.students["s_a"]
    )


def test_district_scope_grant_makes_mfa_mandatory(world: World) -> None:
    bob_user = world.users["bob"]
    services.grant_create(
        actor=SYSTEM,
        user=bob_user,
        role="principal",
        scope_kind="district",
        purpose="acting district role",
        categories=["demographics"],
    )
    assert (
        may(staff_actor(bob_user, mfa=False), "read", D.DEMOGRAPHICS, world.students["s_a"]).reason
        == Reason.MFA_REQUIRED
    )


def test_expired_and_revoked_grants_do_not_count(world: World) -> None:
    bob_user = world.users["bob"]
    bob = staff_actor(bob_user)
    grant = bob_user.access_grants.get()
    grant.valid_until = timezone.now() - dt.timedelta(seconds=1)
    grant.save()
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"]).reason == Reason.NO_GRANT
    grant.valid_until = None
    grant.save()
    services.grant_revoke(actor=SYSTEM, grant=grant, reason="moved school")
    assert may(bob, "read", D.DEMOGRAPHICS, world.students["s_a"]).reason == Reason.NO_GRANT


def test_break_glass_is_audited_and_expires(world: World, audit_events: list[dict]) -> None:
    bob_user = world.users["bob"]
    bob = staff_actor(bob_user)
    assert not may(bob, "read", D.DEMOGRAPHICS, world.students["s_b"])
    bg = services.break_glass_open(
        actor=bob,
        user=bob_user,
        categories=["demographics"],
        reason="Fire drill evacuation roster for Birch Middle",
        hours=1,
    )
    assert any(e["action"] == "access:breakglass:open" and e["alert"] for e in audit_events)
    decision = may(bob, "read", D.DEMOGRAPHICS, world.students["s_b"])
    assert decision and decision.reason == Reason.BREAK_GLASS
    uses = [e for e in audit_events if e["action"] == "access:breakglass:use"]
    assert uses and uses[0]["students"] == [world.students["s_b"].pk]
    bg.expires_at = timezone.now() - dt.timedelta(seconds=1)
    bg.opened_at = bg.expires_at - dt.timedelta(hours=1)
    bg.save()
    assert not may(bob, "read", D.DEMOGRAPHICS, world.students["s_b"])


def test_break_glass_needs_reason(world: World) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="reason"):
        services.break_glass_open(
            actor=SYSTEM, user=world.users["bob"], reason="because", categories=["demographics"]
        )


def test_vendor_contract_scope_categories_and_end(world: World) -> None:
    vera = staff_actor(world.users["vera"])
    assert may(vera, "read", D.ASSESSMENTS, world.students["s_a"])
    assert may(vera, "read", D.ASSESSMENTS, world.students["s_b"]).reason == Reason.OUT_OF_SCOPE
    assert may(vera, "read", D.SPECIAL_EDUCATION, world.students["s_a"]).reason == (
        Reason.CATEGORY_NOT_GRANTED
    )
    assert may(vera, "change", D.ASSESSMENTS, world.students["s_a"]).reason == (
        Reason.ACTION_NOT_GRANTED
    )
    assert world.contract is not None
    world.contract.ends_on = timezone.localdate() - dt.timedelta(days=1)
    world.contract.starts_on = world.contract.ends_on - dt.timedelta(days=30)
    world.contract.save()
    assert may(vera, "read", D.ASSESSMENTS, world.students["s_a"]).reason == (
        Reason.CONTRACT_INACTIVE
    )
    assert contract_fields(vera) == set()


def test_vendor_fields_are_cut_to_contract(world: World) -> None:
    vera = staff_actor(world.users["vera"])
    fields = contract_fields(vera)
    assert "student.first_name" in fields
    assert "student.birth_date" not in fields  # demographics, but not named by the contract
    assert not any(f.startswith("disability.") for f in fields)


def test_scope_filter_with_prefix(world: World) -> None:
    from studentvault.records.models import Enrollment

    bob = staff_actor(world.users["bob"])
    q = student_scope_filter(bob, D.ENROLLMENT, prefix="student__")
    assert q is not None
    students = set(Enrollment.objects.filter(q).values_list("student_id", flat=True))
    assert world.students["s_b"].pk not in students
    assert world.students["s_a"].pk in students


def test_unknown_action_or_category_is_an_error(world: World) -> None:
    bob = staff_actor(world.users["bob"])
    with pytest.raises(ValueError):
        may(bob, "delete", D.DEMOGRAPHICS, 1)
    with pytest.raises(ValueError):
        may(bob, "read", "health", 1)


def test_vendor_client_actor(world: World) -> None:
    from studentvault.access.actors import actor_for_client
    from studentvault.people.services import vendor_client_create

    assert world.contract is not None
    app, _secret = vendor_client_create(actor=SYSTEM, contract=world.contract, name="api")
    client = actor_for_client(app.client_id)
    assert isinstance(client, Actor)
    assert may(client, "read", D.DEMOGRAPHICS, world.students["s_a"])
    assert not may(client, "read", D.DEMOGRAPHICS, world.students["s_b"])
