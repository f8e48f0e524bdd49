"""Accounts acting as personas, and synthetic student values, for the exchange tests.

Kept out of conftest.py so test modules can import it by a name no other folder uses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from studentvault.access.actors import actor_for_user
from studentvault.access.personas import PERSONAS_BY_NAME
from studentvault.access.services import persona_create
from studentvault.core.actors import Actor
from studentvault.records.models import District, School


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


def student_values(district: District, n: int) -> dict[str, Any]:
    """The parsed values of synthetic student ``n`` (SASID ``99`` + n in 8 digits) of
    ``district``, as the engine gives them to the bulk writer."""
    return {
        "district_id": district.pk,
        "sasid": f"99{n:08d}",
        "local_id": f"L-{n:06d}",
        "first_name": "Zephyrine",
        "middle_name": "",
        "last_name": f"Quillfeather{n}",
        "preferred_name": "" if n % 2 else "Zeph",
        "birth_date": dt.date(2011, 1 + n % 12, 1 + n % 28),
        "gender": "02",
        "hispanic_latino": False,
        "white": True,
        "federal_race_ethnicity": "05",
        "language_background": "eng",
    }
