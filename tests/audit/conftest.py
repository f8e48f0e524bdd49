"""Fixtures of the audit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from studentvault.audit import sites


@pytest.fixture(autouse=True)
def fresh_site_cache() -> Iterator[None]:
    sites.clear_cache()
    yield
    sites.clear_cache()
