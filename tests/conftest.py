"""Shared test set-up: every test gets its own STUDENTVAULT_HOME (keys, certificates, files)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import LazySettings


@pytest.fixture(autouse=True)
def studentvault_home(tmp_path: Path, settings: LazySettings) -> Iterator[Path]:
    """A fresh, private home folder for whatever a test keeps on disk."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    settings.STUDENTVAULT_HOME = home
    yield home


@pytest.fixture(scope="session")
def synthetic_district_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic district written by `studentvault generate` (once per test session)."""
    from django.core.management import call_command

    folder = tmp_path_factory.mktemp("synthetic") / "district"
    call_command("generate", students=300, seed=7, out=str(folder))
    return folder


@pytest.fixture
def opened_columns(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The (table, column) of every encrypted value opened while the test runs; clear it before
    the step to watch. ``monkeypatch.undo()`` stops the watch."""
    from typing import Any

    from studentvault.crypto.fields import EncryptedMixin

    opened: list[tuple[str, str]] = []
    original = EncryptedMixin.open

    def watch(self: EncryptedMixin, sealed: Any, *, row_uid: object, row: object) -> Any:
        opened.append(self.location())
        return original(self, sealed, row_uid=row_uid, row=row)

    monkeypatch.setattr(EncryptedMixin, "open", watch)
    return opened
