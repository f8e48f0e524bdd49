"""``keysets.pin_cached``: a forked import worker keeps the keysets its parent cached and never
asks the database about them again; a keyset it does not hold is still read (and a worker
refuses that read)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import F

from studentvault.core.actors import Actor
from studentvault.crypto import keysets
from studentvault.crypto.keysets import category_keys, ensure_keysets
from studentvault.crypto.models import Keyset

pytestmark = pytest.mark.django_db


class Asked(Exception):
    pass


def refuse(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
    raise Asked(sql)


def test_pinned_keysets_are_not_checked_again_however_old(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_keysets(actor=Actor.system("test"))
    settings.CRYPTO_KEYSET_CACHE_SECONDS = 0  # every use would check the stored version
    held = category_keys("demographics")
    with connection.execute_wrapper(refuse), pytest.raises(Asked):
        category_keys("demographics")  # unpinned: it asks
    monkeypatch.setattr(keysets, "_pinned", False)  # restored after the test
    keysets.pin_cached()
    with connection.execute_wrapper(refuse):
        assert category_keys("demographics") is held
    # A keyset the process did not hold is still read from the database.
    with connection.execute_wrapper(refuse), pytest.raises(Asked):
        category_keys("assessments")


def test_pinned_a_change_stored_by_another_process_is_not_seen_and_unpinned_it_is(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_keysets(actor=Actor.system("test"))
    settings.CRYPTO_KEYSET_CACHE_SECONDS = 0
    held = category_keys("demographics")
    # As a rotation in another process would leave it: the stored version moved on.
    Keyset.objects.filter(name="demographics").update(version=F("version") + 1)
    monkeypatch.setattr(keysets, "_pinned", False)
    keysets.pin_cached()
    assert category_keys("demographics") is held
    monkeypatch.setattr(keysets, "_pinned", False)
    again = category_keys("demographics")
    assert again is not held and again.version == held.version + 1
