"""Code sets of the student data model, read from the CSV files in ``codesets/``.

A code set is an ordered mapping from code to label (and, for some sets, one more column). The
files are the single source: model choices, import validation, the generator and the data
dictionary all read them here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


class UnknownCodeSet(LookupError):
    """No file in codesets/ has this name."""


@dataclass(frozen=True)
class Code:
    code: str
    label: str
    extra: dict[str, str]


@dataclass(frozen=True)
class CodeSet:
    """An ordered, immutable code set."""

    name: str
    codes: tuple[Code, ...]

    def __contains__(self, code: object) -> bool:
        return any(entry.code == code for entry in self.codes)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.codes)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def choices(self) -> list[tuple[str, str]]:
        """Django ``choices`` for a field holding this code set."""
        return [(entry.code, entry.label) for entry in self.codes]

    def label(self, code: str) -> str:
        for entry in self.codes:
            if entry.code == code:
                return entry.label
        raise KeyError(f"code {code!r} is not in code set {self.name!r}")

    def column(self, name: str) -> dict[str, str]:
        """The extra column ``name`` as a mapping from code to value."""
        return {entry.code: entry.extra[name] for entry in self.codes}


@cache
def code_set(name: str) -> CodeSet:
    """The code set stored in ``codesets/<name>.csv``."""
    try:
        text = (resources.files(__package__) / "codesets" / f"{name}.csv").read_text("utf-8")
    except FileNotFoundError:
        raise UnknownCodeSet(name) from None
    rows = list(csv.DictReader(text.splitlines()))
    codes = tuple(
        Code(
            code=row["code"],
            label=row["label"],
            extra={k: v for k, v in row.items() if k not in {"code", "label"}},
        )
        for row in rows
    )
    return CodeSet(name=name, codes=codes)


def all_code_set_names() -> list[str]:
    """Every code set shipped in codesets/, sorted."""
    folder = resources.files(__package__) / "codesets"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv"))
