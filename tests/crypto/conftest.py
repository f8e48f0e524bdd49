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
