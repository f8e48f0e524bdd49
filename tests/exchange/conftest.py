"""Fixtures of the exchange tests: accounts acting as personas, a copy of the synthetic district."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from studentvault.access.actors import actor_for_user
from studentvault.access.personas import PERSONAS_BY_NAME
from studentvault.access.services import persona_create
from studentvault.core.actors import Actor
from studentvault.records.models import School


@pytest.fixture(autouse=True)
def fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


@pytest.fixture
def alice(db: None) -> Actor:
    """The district data steward (district scope, every category, change allowed)."""
    return verified(make_persona("alice"))


@pytest.fixture
def district_copy(synthetic_district_files: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "district"
    shutil.copytree(synthetic_district_files, copy)
    return copy


def school_codes() -> dict[str, str]:
    schools = list(School.objects.order_by("state_code"))
    return {"school_a": schools[0].state_code, "school_b": schools[1].state_code}
