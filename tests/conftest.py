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
