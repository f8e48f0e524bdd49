"""Generated matrices: persona x category x student (in and out of scope), and persona x route.

Expectations come from an independent table (who is in whose scope, written by hand from the
synthetic world) and from roles.toml read directly, not from the code under test. Every allowed
read is audited (``require``); every refused one too.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from access_world import World, sign_in, staff_actor
from django.test import Client
from django.urls import NoReverseMatch, reverse

from studentvault.access.matrix import matrix
from studentvault.access.policy import require, visible_students
from studentvault.audit.models import AuditEntry
from studentvault.core.categories import DataCategory

ROLES = tomllib.loads(
    (Path(__file__).parents[2] / "studentvault" / "people" / "roles.toml").read_text()
)
STUDENTS = ["s_roster", "s_a", "s_case", "s_b", "s_old"]
SCHOOL_A_NOW = {"s_roster", "s_a", "s_case"}
IN_SCOPE: dict[str, set[str]] = {
    "alice": set(STUDENTS),
    "bob": SCHOOL_A_NOW,
    "carol": {"s_roster"},
    "dave": SCHOOL_A_NOW,
    "erin": {"s_case"},
    "frank": {"s_b"},
    "vera": SCHOOL_A_NOW,
}
VENDOR_CATEGORIES = {"demographics", "assessments"}
PERSONA_NAMES = sorted(IN_SCOPE)


def expected(persona: str, role: str, category: DataCategory, student: str) -> bool:
    categories = VENDOR_CATEGORIES if role == "vendor" else set(ROLES[role]["categories"])
    return category.value in categories and student in IN_SCOPE[persona]


@pytest.mark.parametrize("persona", PERSONA_NAMES)
def test_read_matrix(world: World, persona: str, audit_events: list[dict[str, Any]]) -> None:
    user = world.users[persona]
    actor = staff_actor(user)
    role = user.staff_profile.role
    for category in DataCategory:
        listed = set(visible_students(actor, category).values_list("pk", flat=True))
        for name in STUDENTS:
            student = world.students[name]
            audit_events.clear()
            decision = require(actor, "read", category, student, purpose="matrix")
            want = expected(persona, role, category, name)
            where = f"{persona} {category.value} {name}: {decision.reason}"
            assert bool(decision) is want, where
            assert (student.pk in listed) is want, f"list disagrees: {where}"
            entries = [e for e in audit_events if e["action"] == "records:student:read"]
            assert len(entries) == 1, where
            assert entries[0]["outcome"] == ("success" if want else "failure")
            assert entries[0]["students"] == [student.pk]
            assert entries[0]["categories"] == [category.value]


ROUTE_NAMES = [
    "manage:accounts",
    "manage:account_new",
    "people:sessions",
    "people:policy",
    "admin:index",
    "web:students",
    "web:dashboard",
]


def _route_rows() -> dict[tuple[str, str], dict[str, str]]:
    rows = {}
    for row in matrix():
        rows[(row["route"], row["role"])] = row["cells"]
    return rows


@pytest.mark.parametrize("route_name", ROUTE_NAMES)
@pytest.mark.parametrize("persona", PERSONA_NAMES)
def test_route_matrix_matches_enforcement(
    world: World, client: Client, persona: str, route_name: str
) -> None:
    try:
        path = reverse(route_name)
    except NoReverseMatch:
        pytest.skip(f"{route_name} is not mounted in this tree")
    user = world.users[persona]
    user.is_staff = True  # the admin's own check must not be what decides
    user.save()
    role = user.staff_profile.role
    cells = _route_rows()[(path, role)]
    sign_in(client, user)
    response = client.get(path)
    for category in DataCategory:
        cell = cells[category.value]
        if cell == "contract":
            continue
        allowed_somewhere = any(v == "allow" for v in cells.values())
        if allowed_somewhere:
            assert response.status_code == 200, f"{persona} {path}: {response.status_code}"
        else:
            assert response.status_code in (403, 404), f"{persona} {path}: {response.status_code}"
        break


def test_matrix_shows_who_may_use_the_import_screens() -> None:
    """The import screens' rule is in the matrix as enforced: allowed to roles that may change
    data, per category they may change (roles.toml read directly); refused to the others."""
    rows = {row["role"]: row for row in matrix() if row["route"] == "/imports/"}
    assert set(rows) == set(ROLES)
    refused = []
    for role, spec in ROLES.items():
        assert rows[role]["rule"] == "student_change"
        changes = "change" in spec["actions"]
        for category in DataCategory:
            want = "allow" if changes and category.value in spec["categories"] else "deny"
            assert rows[role]["cells"][category.value] == want, f"{role} {category.value}"
        if not changes:
            refused.append(role)
    assert refused  # the catalogue has roles that may not import (teachers among them)


def test_import_screens_refuse_by_the_route_rule_and_audit_it(world: World) -> None:
    teacher = Client()
    sign_in(teacher, world.users["carol"])
    assert teacher.get("/imports/", secure=True).status_code == 403
    denial = AuditEntry.objects.get(action="access:route:deny")
    assert denial.outcome == "denied" and denial.actor_id == f"user:{world.users['carol'].pk}"
    assert json.loads(denial.details) == {"reason": "action_not_granted", "route": "web:imports"}
    steward = Client()
    sign_in(steward, world.users["alice"])
    assert steward.get("/imports/", secure=True).status_code == 200


def test_refusals_of_every_route_rule_are_audited(world: World) -> None:
    """A refused signed-in user gets one audit entry (reason code and route name, no path);
    an allowed request gets none."""
    teacher = Client()
    sign_in(teacher, world.users["carol"])
    assert teacher.get(reverse("audit:alerts"), secure=True).status_code == 403
    entry = AuditEntry.objects.get(action="access:route:deny")
    assert entry.outcome == "denied" and entry.actor_id == f"user:{world.users['carol'].pk}"
    assert json.loads(entry.details) == {"reason": "permission_denied", "route": "audit:alerts"}
    steward = Client()
    sign_in(steward, world.users["alice"])
    assert steward.get(reverse("web:students"), secure=True).status_code == 200
    assert AuditEntry.objects.filter(action="access:route:deny").count() == 1
