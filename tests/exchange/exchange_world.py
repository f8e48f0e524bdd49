"""Accounts acting as personas for the exchange tests.

Kept out of conftest.py so test modules can import it by a name no other folder uses.
"""

from __future__ import annotations

from typing import Any

from studentvault.access.actors import actor_for_user
from studentvault.access.personas import PERSONAS_BY_NAME
from studentvault.access.services import persona_create
from studentvault.core.actors import Actor
from studentvault.records.models import School


def verified(user: Any) -> Actor:
    """The actor of ``user`` after a passed second factor (as the CLI gives after --otp)."""
    actor = actor_for_user(user)
    return Actor(
        kind=actor.kind,
        id=actor.id,
        username=actor.username,
        role=actor.role,
        extra={"mfa": "verified"},
    )


def make_persona(name: str, **scope: Any) -> Any:
    return persona_create(
        actor=Actor.system("tests"),
        persona=PERSONAS_BY_NAME[name],
        password="x-Tests-Only-1234",
        scope_ids=scope.get("scope_ids", {}),
        school_codes=scope.get("school_codes", {}),
        caseload=scope.get("caseload", ()),
        contract=scope.get("contract"),
    )


def school_codes() -> dict[str, str]:
    schools = list(School.objects.order_by("state_code"))
    return {"school_a": schools[0].state_code, "school_b": schools[1].state_code}
