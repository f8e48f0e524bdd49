"""``district``: the synthetic district files of ``studentvault generate``, with upserts.

The preset is the identity: the columns are those of docs/formats/synthetic-district.md. A file
is recognised by its name (``students.csv``...) or, failing that, by its header. The kind
formats (``assessment-results``, ``programs``, ``special-education``, ``english-learners``,
``migrant``) accept only the files of their kind, in the same layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from studentvault.records.district_files import FILES, FileSpec, columns_of
from studentvault.records.models import Student

from ..engine import CanonicalFile
from ..errors import ImportRejected, Problem
from ..intake import ReceivedFile, csv_rows
from . import FormatOptions

BY_NAME: dict[str, FileSpec] = {spec.file: spec for spec in FILES}


def _group(spec: FileSpec) -> int:
    """0: organizations, 1: students, 2: student records."""
    if spec.model is Student:
        return 1
    return 2 if "student" in spec.links else 0


# The order of FILES within each group of ``_group``.
ORDER: dict[str, int] = {spec.file: i for i, spec in enumerate(FILES)}


def _apply_order(spec: FileSpec, received: ReceivedFile) -> tuple[int, int, int]:
    """Organizations first, then students, then student records, so that every link points
    at a file applied earlier. Organizations keep the order of FILES (schools point at the
    district, sections at courses and schools). Records point only at those two groups; they
    go largest first, so that in a first load the worker processes that apply them side by
    side (exchange.workers) finish at about the same time."""
    group = _group(spec)
    return (group, -received.size if group == 2 else 0, ORDER[spec.file])


def checked_rows(
    received: ReceivedFile, header: list[str], rows: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    """The rows as they are (cells in the order of ``header``); a row with the wrong number of
    fields is refused."""
    width = len(header)
    for line, cells in rows:
        if len(cells) != width:
            raise ImportRejected(
                [Problem(received.name, line, None, f"expected {width} fields, found {len(cells)}")]
            )
        yield line, cells


def check_header(received: ReceivedFile, header: list[str], expected: list[str]) -> None:
    """Refuse a header with missing, unexpected or repeated columns (order does not matter)."""
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing or extra or repeated:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if extra:
            parts.append(f"unexpected columns {extra}")
        if repeated:
            parts.append(f"repeated columns {repeated}")
        raise ImportRejected([Problem(received.name, 1, None, "; ".join(parts))])


@dataclass
class DistrictFormat:
    """The synthetic district layout (all files, or any subset of them)."""

    name: str = "district"
    description: str = "Synthetic district CSV files (studentvault generate layout)"
    text: bool = True
    kinds: tuple[str, ...] = ()

    def preset(self) -> dict[str, str]:
        return {}

    def allowed(self) -> list[FileSpec]:
        return [s for s in FILES if not self.kinds or s.file in self.kinds]

    def expand(self, paths: list[Path]) -> list[Path]:
        out: list[Path] = []
        for path in paths:
            if path.is_dir():
                out += [path / s.file for s in self.allowed() if (path / s.file).exists()]
            else:
                out.append(path)
        return out

    def _spec_for(self, received: ReceivedFile, header: list[str]) -> FileSpec:
        allowed = self.allowed()
        for spec in allowed:
            if received.name == spec.file:
                return spec
        for spec in allowed:
            if sorted(header) == sorted(columns_of(spec)):
                return spec
        names = ", ".join(s.file for s in allowed)
        raise ImportRejected(
            [
                Problem(
                    received.name,
                    1,
                    None,
                    f"neither the file name nor the header matches a file of format "
                    f"{self.name!r} ({names})",
                )
            ]
        )

    def canonical_files(
        self, files: list[ReceivedFile], options: FormatOptions
    ) -> Iterator[CanonicalFile]:
        opened = []
        for received in files:
            header, rows = csv_rows(received)
            header = [options.columns.get(h, h) for h in header]
            spec = self._spec_for(received, header)
            check_header(received, header, columns_of(spec))
            opened.append((_apply_order(spec, received), received, spec, header, rows))
        seen: dict[str, str] = {}
        for _, received, spec, header, rows in sorted(opened, key=lambda o: o[0]):
            if spec.file in seen:
                raise ImportRejected(
                    [Problem(received.name, None, None, f"a second file for {spec.file}")]
                )
            seen[spec.file] = received.name
            yield CanonicalFile(
                name=received.name,
                spec=spec,
                rows=checked_rows(received, header, rows),
                header=header,
            )


KIND_FORMATS: tuple[DistrictFormat, ...] = (
    DistrictFormat(
        name="assessment-results",
        description="Assessment definitions and results (state, college-prep, entrance, growth)",
        kinds=("assessments.csv", "assessment_results.csv"),
    ),
    DistrictFormat(
        name="programs",
        description="Program participation (Title I, gifted, lunch, 504, homeless...)",
        kinds=("programs.csv",),
    ),
    DistrictFormat(
        name="special-education",
        description="Disabilities, special education services and IEPs",
        kinds=("disabilities.csv", "special_education_services.csv", "ieps.csv"),
    ),
    DistrictFormat(
        name="english-learners",
        description="English learner profiles and English proficiency results",
        kinds=("english_learner_profiles.csv", "english_proficiency_results.csv"),
    ),
    DistrictFormat(
        name="migrant",
        description="Migrant eligibility and migrant services",
        kinds=("migrant_eligibilities.csv", "migrant_services.csv"),
    ),
)
