"""Crypto tests: no unwrapped key survives a test (each test also gets its own KEK, since
tests/conftest.py gives each test its own STUDENTVAULT_HOME)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from studentvault.core.events import security_event
from studentvault.crypto.kek import clear_kek_cache
from studentvault.crypto.keysets import clear_caches


@pytest.fixture(autouse=True)
def fresh_key_caches() -> Iterator[None]:
    clear_caches()
    clear_kek_cache()
    yield
    clear_caches()
    clear_kek_cache()


@pytest.fixture
def security_events() -> Iterator[list[dict[str, Any]]]:
    """Every security event sent during the test, in order."""
    seen: list[dict[str, Any]] = []

    def receive(sender: object, **kwargs: Any) -> None:
        seen.append({"action": kwargs["action"], "outcome": kwargs["outcome"], **kwargs["details"]})

    security_event.connect(receive, dispatch_uid="tests.crypto.security_events")
    yield seen
    security_event.disconnect(dispatch_uid="tests.crypto.security_events")


SYNTHETIC_LAST_NAMES = ("Quillfeather", "Marrowdale", "Ostrander-Vey", "Brightwater", "Koval")
SYNTHETIC_FIRST_NAMES = ("Zephyrine", "Thaddeus", "Marisol", "Oluwaseun", "Ingeborg")


def synthetic_students(count: int, *, district: Any = None, start: int = 0) -> list[Any]:
    """Unsaved synthetic students (invented names, SASIDs 9900000000 + n)."""
    import datetime as dt

    from studentvault.records.models import District, Student

    if district is None:
        district = District.objects.create(state_code="9999", name="Synthetic Test District")
    students = []
    for n in range(start, start + count):
        students.append(
            Student(
                district=district,
                sasid=f"99{n:08d}",
                local_id=f"L-{n:06d}",
                first_name=SYNTHETIC_FIRST_NAMES[n % 5],
                last_name=SYNTHETIC_LAST_NAMES[(n // 5) % 5] + ("" if n < 25 else str(n)),
                birth_date=dt.date(2008 + n % 10, 1 + n % 12, 1 + n % 28),
                gender="01" if n % 2 else "02",
                language_background="eng",
                white=True,
                federal_race_ethnicity="05",
            )
        )
    return students
