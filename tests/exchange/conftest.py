"""Fixtures of the exchange tests: accounts acting as personas, a copy of the synthetic district."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from exchange_world import make_persona, school_codes, verified

from studentvault.core.actors import Actor

__all__ = ["make_persona", "school_codes", "verified"]


@pytest.fixture(autouse=True)
def fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db: None) -> Actor:
    """The district data steward (district scope, every category, change allowed)."""
    return verified(make_persona("alice"))


@pytest.fixture
def district_copy(synthetic_district_files: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "district"
    shutil.copytree(synthetic_district_files, copy)
    return copy
