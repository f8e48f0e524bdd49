"""``may_each`` and ``decision_scope`` (ADR 0065): the same answers as ``may()`` per category,
the actor's facts read once inside a scope and never kept after it, break-glass uses audited."""

from __future__ import annotations

from access_world import SYSTEM, World, staff_actor
from django.db import connection
from django.test.utils import CaptureQueriesContext

from studentvault.access import services
from studentvault.access.models import Grant
from studentvault.access.policy import (
    Reason,
    category_fields,
    decision_scope,
    may,
    may_each,
    vendor_contract,
)
from studentvault.core.actors import ANONYMOUS
from studentvault.core.categories import DataCategory

D = DataCategory


def test_may_each_agrees_with_may_for_every_persona_category_and_student(world: World) -> None:
    actors = [staff_actor(user) for user in world.users.values()]
    actors += [staff_actor(world.users["bob"], mfa=False), ANONYMOUS, SYSTEM]
    for actor in actors:
        for student in world.students.values():
            for action in ("read", "export"):
                each = may_each(actor, action, list(D), student)
                assert list(each) == list(D)
                for category in D:
                    assert each[category] == may(actor, action, category, student), (
                        actor.username,
                        category,
                    )


def test_facts_are_read_once_inside_a_scope(world: World) -> None:
    bob = staff_actor(world.users["bob"])
    student = world.students["s_a"]
    with decision_scope():
        with CaptureQueriesContext(connection) as first:
            assert may(bob, "read", D.DEMOGRAPHICS, student)
        with CaptureQueriesContext(connection) as second:
            assert may(bob, "read", D.ENROLLMENT, student)
    assert len(first.captured_queries) > 1
    assert len(second.captured_queries) == 1  # only the student's row against the scope


def test_a_scope_does_not_outlive_its_block(world: World) -> None:
    bob = staff_actor(world.users["bob"])
    student = world.students["s_a"]
    with decision_scope():
        assert may(bob, "read", D.DEMOGRAPHICS, student)
    for grant in Grant.objects.current().filter(user=world.users["bob"]):
        services.grant_revoke(actor=SYSTEM, grant=grant, reason="moved school")
    assert may(bob, "read", D.DEMOGRAPHICS, student).reason == Reason.NO_GRANT
    with decision_scope():
        assert may_each(bob, "read", [D.DEMOGRAPHICS], student)[D.DEMOGRAPHICS].reason == (
            Reason.NO_GRANT
        )


def test_break_glass_use_through_may_each_is_audited_per_category(
    world: World, audit_events: list[dict]
) -> None:
    bob_user = world.users["bob"]
    bob = staff_actor(bob_user)
    outsider = world.students["s_b"]
    services.break_glass_open(
        actor=bob,
        user=bob_user,
        categories=["demographics", "enrollment"],
        reason="Fire drill evacuation roster for Birch Middle",
        hours=1,
    )
    decisions = may_each(bob, "read", [D.DEMOGRAPHICS, D.ENROLLMENT, D.DISCIPLINE], outsider)
    assert decisions[D.DEMOGRAPHICS].reason == Reason.BREAK_GLASS
    assert decisions[D.ENROLLMENT].reason == Reason.BREAK_GLASS
    assert not decisions[D.DISCIPLINE]
    uses = [e for e in audit_events if e["action"] == "access:breakglass:use"]
    assert sorted(tuple(e["categories"]) for e in uses) == [("demographics",), ("enrollment",)]
    assert all(e["students"] == [outsider.pk] for e in uses)


def test_vendor_contract_and_fields(world: World) -> None:
    vera = staff_actor(world.users["vera"])
    assert vendor_contract(vera) == world.contract
    assert vendor_contract(staff_actor(world.users["bob"])) is None
    assert vendor_contract(ANONYMOUS) is None
    fields = category_fields(frozenset({D.DEMOGRAPHICS}))
    fields.add("tampered.field")  # the caller's copy: the cached set is not changed
    assert "tampered.field" not in category_fields(frozenset({D.DEMOGRAPHICS}))
    assert category_fields(frozenset()) == set()
