"""Import formats: each module turns its source files into canonical rows for the engine.

A format has a ``name``, a one-line ``description``, a column-mapping ``preset`` (source header
-> canonical column of the synthetic district layout) and ``canonical_files(files, options)``.
A saved ``ColumnMapping`` (custom mapping) is merged over the preset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..engine import CanonicalFile
from ..intake import ReceivedFile


@dataclass
class FormatOptions:
    """What a run passes to a format: custom column mapping and format options."""

    columns: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


class ImportFormat(Protocol):
    name: str
    description: str
    text: bool

    def preset(self) -> dict[str, str]: ...

    def expand(self, paths: list[Path]) -> list[Path]: ...

    def canonical_files(
        self, files: list[ReceivedFile], options: FormatOptions
    ) -> Iterator[CanonicalFile]: ...


def registry() -> dict[str, ImportFormat]:
    """Every import format by name."""
    from . import colorado, district, edfi, oneroster

    formats: list[ImportFormat] = [
        district.DistrictFormat(),
        edfi.EdFiFormat(),
        oneroster.OneRosterFormat(),
        *colorado.FORMATS,
        *district.KIND_FORMATS,
    ]
    return {f.name: f for f in formats}


def get_format(name: str) -> ImportFormat:
    """The format called ``name``; ValueError listing the known names otherwise."""
    formats = registry()
    if name not in formats:
        raise ValueError(f"unknown import format {name!r}; known: {', '.join(sorted(formats))}")
    return formats[name]
