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


def test_membership_statements_answer_as_the_orm_for_every_scope_kind(world: World) -> None:
    """The compiled membership statement (ADR 0079) and the ORM give the same answer for every
    grant and contract scope and every student, and a statement compiled once still sees
    rows that change after it was compiled: it caches SQL, never an answer."""
    from studentvault.access.policy import (
        _contract_scope,
        _grant_scope,
        _in_scope,
        _Scope,
        _scope_q,
    )
    from studentvault.records.models import Enrollment, Student

    assert world.contract is not None
    scopes = [_grant_scope(grant) for grant in Grant.objects.current()]
    scopes.append(_contract_scope(world.contract))
    scopes += [_Scope("district", (world.district.pk,)), _Scope("district", (-1,)), _Scope("none")]
    kinds = {scope.kind for scope in scopes}
    assert {"all", "district", "schools", "school_codes", "sections", "caseload", "none"} <= kinds
    for scope in scopes:
        for student in world.students.values():
            expected = Student.objects.filter(pk=student.pk).filter(_scope_q(scope, "")).exists()
            assert _in_scope(scope, student.pk) is expected, (scope.kind, student.pk)
        assert _in_scope(scope, 10**12) is False  # no such student
    school_a = next(s for s in scopes if s.kind == "schools")
    moved = world.students["s_b"]
    assert not _in_scope(school_a, moved.pk)
    Enrollment.objects.filter(student=moved).update(school=world.school_a)
    assert _in_scope(school_a, moved.pk)


def test_equal_scopes_share_one_statement_and_different_years_do_not(world: World) -> None:
    from studentvault.access.policy import _member_statement, _Scope

    first = _member_statement(_Scope("school_codes", ("0001",), school_year=2030), "default")
    again = _member_statement(_Scope("school_codes", ("0001",), school_year=2030), "default")
    other = _member_statement(_Scope("school_codes", ("0001",), school_year=2031), "default")
    assert first is not None and other is not None
    assert first is again
    assert other[1] != first[1] and 2031 in other[1] and 2030 not in other[1]


def test_a_student_key_no_column_can_hold_is_out_of_scope(world: World) -> None:
    bob = staff_actor(world.users["bob"])
    assert may(bob, "read", D.DEMOGRAPHICS, 2**80).reason == Reason.OUT_OF_SCOPE
