"""``colorado-sdm`` and ``colorado-ssa``: Data Pipeline-style Student Interchange files.

Student Demographic (SDM) -> students (keyed by SASID); Student School Association (SSA) ->
enrollments. The layout is the one ``exports.export_state`` writes (headers from the fields'
state names, ``exports.SDM_COLUMNS`` / ``SSA_COLUMNS``), so an exported file imports unchanged:

- delimiters ``,``, ``|`` or ``~`` (read from the header line); a header row is required;
- dates are 8 digits MMDDYYYY; an empty exit date stays empty;
- codes keep their leading zeros (gender 01/02/03, grade 3 digits, entry/exit types 2 digits);
- ethnicity and race flags are ``00`` (no) or the flag's state code (Hispanic 04, American
  Indian 01, Asian 02, Black 03, White 05, Pacific Islander 06);
- SSA writes exit type ``00`` for a stay without an exit date; read back, ``00`` without an exit
  date is "no exit" (empty), with an exit date it is "completed school year".

A wrong date or flag rejects the run with file, line and column, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from studentvault.records.district_files import FILES, FileSpec, describe_text

from ..engine import CanonicalFile, Row
from ..errors import ImportRejected, Problem
from ..exports import FLAG_CODES, SDM_COLUMNS, SSA_COLUMNS
from ..intake import ReceivedFile, csv_rows
from . import FormatOptions

SPECS: dict[str, FileSpec] = {spec.file: spec for spec in FILES}
DELIMITERS = (",", "|", "~")
DATE = re.compile(r"^(\d{2})(\d{2})(\d{4})$")


def _date(received: ReceivedFile, line: int, label: str, raw: str) -> str:
    if raw == "":
        return ""
    found = DATE.match(raw)
    if found is None:
        raise ImportRejected(
            [
                Problem(
                    received.name,
                    line,
                    label,
                    f"expected a date as MMDDYYYY, found {describe_text(raw)}",
                )
            ]
        )
    month, day, year = found.groups()
    return f"{year}-{month}-{day}"


def _flag(received: ReceivedFile, line: int, label: str, raw: str, code: str) -> str:
    if raw == "00":
        return "0"
    if raw == code:
        return "1"
    raise ImportRejected(
        [
            Problem(
                received.name,
                line,
                label,
                f"expected 00 or {code}, found {describe_text(raw)}",
            )
        ]
    )


@dataclass
class ColoradoFormat:
    """A Colorado Student Interchange file (``sdm``: Student Demographic; ``ssa``: SSA)."""

    name: str
    description: str
    kind: str
    text: bool = True

    def columns(self) -> list[tuple[str, str]]:
        return SDM_COLUMNS if self.kind == "sdm" else SSA_COLUMNS

    def preset(self) -> dict[str, str]:
        target = {"district": "district_code", "school": "school_code"}
        return {label: target.get(name, name) for name, label in self.columns()}

    def expand(self, paths: list[Path]) -> list[Path]:
        out: list[Path] = []
        for path in paths:
            out += (
                sorted(path.glob("*.csv")) + sorted(path.glob("*.txt")) if path.is_dir() else [path]
            )
        return out

    def canonical_files(
        self, files: list[ReceivedFile], options: FormatOptions
    ) -> Iterator[CanonicalFile]:
        preset = self.preset()
        for received in files:
            header, rows = csv_rows(received, allowed_delimiters=DELIMITERS)
            labels = [options.columns.get(h, h) for h in header]
            expected = list(preset)
            missing = [c for c in expected if c not in labels]
            extra = [c for c in labels if c not in expected]
            repeated = sorted({c for c in labels if labels.count(c) > 1})
            if missing or extra or repeated:
                parts = [f"missing columns {missing}"] if missing else []
                parts += [f"unexpected columns {extra}"] if extra else []
                parts += [f"repeated columns {repeated}"] if repeated else []
                raise ImportRejected([Problem(received.name, 1, None, "; ".join(parts))])
            yield CanonicalFile(
                name=received.name,
                spec=SPECS["students.csv" if self.kind == "sdm" else "enrollments.csv"],
                rows=self._rows(received, labels, rows),
                partial=self.kind == "sdm",
                source_names={preset[label]: label for label in expected},
                notes=[f"delimiter and headers of the Data Pipeline {self.kind.upper()} layout"],
            )

    def _rows(
        self,
        received: ReceivedFile,
        labels: list[str],
        rows: Iterator[tuple[int, list[str]]],
    ) -> Iterator[tuple[int, Row]]:
        preset = self.preset()
        names = [preset[label] for label in labels]
        by_name = dict(zip(names, labels, strict=True))
        for line, cells in rows:
            if len(cells) != len(labels):
                raise ImportRejected(
                    [
                        Problem(
                            received.name,
                            line,
                            None,
                            f"expected {len(labels)} fields, found {len(cells)}",
                        )
                    ]
                )
            raw = dict(zip(names, (c.strip() for c in cells), strict=True))
            row: Row = {}
            for name, value in raw.items():
                label = by_name[name]
                if name in {"birth_date", "entry_date", "exit_date"}:
                    row[name] = _date(received, line, label, value)
                elif name in FLAG_CODES:
                    row[name] = _flag(received, line, label, value, FLAG_CODES[name])
                elif name == "local_id" and value == "":
                    continue  # no LASID: the stored local ID is left as it is
                else:
                    row[name] = value
            if self.kind == "ssa" and row.get("exit_date") == "" and row.get("exit_type") == "00":
                row["exit_type"] = ""
            yield line, row


FORMATS: tuple[ColoradoFormat, ...] = (
    ColoradoFormat(
        name="colorado-sdm",
        description="Colorado Data Pipeline Student Demographic file (, | or ~ delimited)",
        kind="sdm",
    ),
    ColoradoFormat(
        name="colorado-ssa",
        description="Colorado Data Pipeline Student School Association file (, | or ~)",
        kind="ssa",
    ),
)
