"""Load a district written as CSV files (the layout of `studentvault generate`) into the database.

The layout is documented in docs/formats/synthetic-district.md: one file per model, the model's
fields as columns, foreign keys replaced by natural keys (sasid, school_code, ...). Values are
parsed by the kind of value their data element declares and checked against its code set.

Guarantees: the whole district loads in one transaction or not at all; an error names the file,
the line, the column and what kind of value was wrong, never the value itself; the target must
not hold the district already (re-loading is the import pipeline's job, with its upserts).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from django.db import models, transaction

from studentvault.core.elements import DataElement, data_element_of

from . import models as m
from .codes import code_set

BATCH_SIZE = 5000


class DistrictFileError(ValueError):
    """A district file cannot be loaded; the message says where and why, never the value."""

    def __init__(self, file: str, line: int | None, column: str | None, problem: str) -> None:
        place = file
        if line is not None:
            place += f" line {line}"
        if column is not None:
            place += f", column {column!r}"
        super().__init__(f"{place}: {problem}")
        self.file, self.line, self.column, self.problem = file, line, column, problem


@dataclass(frozen=True)
class FileSpec:
    """How one CSV file maps onto one model: which columns name each linked record."""

    file: str
    model: type[models.Model]
    links: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The natural key other files use to point at rows of this file (None: nobody points here).
    key: tuple[str, ...] | None = None
    required: bool = True


STUDENT: dict[str, tuple[str, ...]] = {"student": ("sasid",)}
SECTION_KEY: tuple[str, ...] = ("school_code", "school_year", "section_code")

FILES: tuple[FileSpec, ...] = (
    FileSpec("district.csv", m.District, key=("state_code",)),
    FileSpec("schools.csv", m.School, {"district": ("district_code",)}, key=("state_code",)),
    FileSpec("students.csv", m.Student, {"district": ("district_code",)}, key=("sasid",)),
    FileSpec("enrollments.csv", m.Enrollment, {**STUDENT, "school": ("school_code",)}),
    FileSpec("courses.csv", m.Course, {"district": ("district_code",)}, key=("code",)),
    FileSpec(
        "sections.csv",
        m.Section,
        {"course": ("course_code",), "school": ("school_code",)},
        key=SECTION_KEY,
    ),
    FileSpec("section_enrollments.csv", m.SectionEnrollment, {"section": SECTION_KEY, **STUDENT}),
    FileSpec("course_completions.csv", m.CourseCompletion, {**STUDENT, "section": SECTION_KEY}),
    FileSpec("programs.csv", m.ProgramParticipation, STUDENT),
    FileSpec("early_childhood_enrollments.csv", m.EarlyChildhoodEnrollment, STUDENT),
    FileSpec("early_childhood_assessments.csv", m.EarlyChildhoodAssessment, STUDENT),
    FileSpec("disabilities.csv", m.Disability, STUDENT),
    FileSpec("special_education_services.csv", m.SpecialEducationService, STUDENT),
    FileSpec("ieps.csv", m.IndividualizedEducationProgram, STUDENT),
    FileSpec(
        "discipline_incidents.csv", m.DisciplineIncident, {**STUDENT, "school": ("school_code",)}
    ),
    FileSpec("parent_contacts.csv", m.ParentContact, STUDENT),
    FileSpec("english_learner_profiles.csv", m.EnglishLearnerProfile, STUDENT),
    FileSpec("english_proficiency_results.csv", m.EnglishProficiencyResult, STUDENT),
    FileSpec("migrant_eligibilities.csv", m.MigrantEligibility, STUDENT),
    FileSpec("migrant_services.csv", m.MigrantService, STUDENT),
    FileSpec("concurrent_enrollments.csv", m.ConcurrentEnrollment, STUDENT),
    FileSpec("cte_participations.csv", m.CareerTechnicalParticipation, STUDENT),
    FileSpec("assessments.csv", m.Assessment, key=("code",)),
    FileSpec(
        "assessment_results.csv",
        m.AssessmentResult,
        {**STUDENT, "assessment": ("assessment_code",), "school": ("school_code",)},
    ),
)


def value_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The model's fields that hold values (not the row id, blind indexes or links)."""
    return [
        f
        for f in model._meta.concrete_fields
        if (element := data_element_of(f)) is not None and element.value_kind != "link"
    ]


def columns_of(spec: FileSpec) -> list[str]:
    """The header the file must have, in order."""
    columns: list[str] = []
    for f in spec.model._meta.concrete_fields:
        element = data_element_of(f)
        if element is None:
            continue
        if element.value_kind == "link":
            columns += [c for c in spec.links[f.name] if c not in columns]
        else:
            columns.append(f.name)
    return columns


# --- parsing values by their kind --------------------------------------------------------------


def describe_text(raw: str) -> str:
    """What kind of text was found, without repeating it (it may be PII)."""
    if raw.isdigit():
        return f"{len(raw)} digits"
    return f"text of {len(raw)} characters"


@cache
def _codes(name: str) -> frozenset[str]:
    """The codes of code set ``name`` as a set (membership is checked for every cell)."""
    return frozenset(entry.code for entry in code_set(name))


def parse_value(raw: str, f: models.Field[Any, Any], element: DataElement) -> Any:
    """The Python value of ``raw`` for field ``f``; raises ValueError with a safe reason."""
    empty = raw == ""
    kind = element.value_kind
    if empty:
        if kind == "codes":
            return []
        if kind == "flag":
            raise ValueError("a yes/no value (1 or 0) is required, found nothing")
        if f.null:
            return None
        if f.blank:
            return ""
        raise ValueError("a value is required, found nothing")
    if kind == "code":
        assert element.code_set is not None
        if raw not in _codes(element.code_set):
            raise ValueError(f"not a code of code set {element.code_set!r} ({describe_text(raw)})")
        return raw
    if kind == "codes":
        assert element.code_set is not None
        codes = raw.split("|")
        for code in codes:
            if code not in _codes(element.code_set):
                raise ValueError(f"not a code of code set {element.code_set!r}")
        return codes
    if kind == "date":
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD, found {describe_text(raw)}") from None
    if kind == "flag":
        if raw not in {"0", "1"}:
            raise ValueError(f"expected 1 or 0, found {describe_text(raw)}")
        return raw == "1"
    if kind in {"number", "year"}:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, found {describe_text(raw)}") from None
    if kind == "decimal":
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"expected a number, found {describe_text(raw)}") from None
    max_length = getattr(f, "max_length", None)
    if max_length and len(raw) > max_length:
        raise ValueError(f"longer than {max_length} characters ({len(raw)})")
    return raw


def parse_column(raws: Sequence[str], f: models.Field[Any, Any], element: DataElement) -> list[Any]:
    """``[parse_value(raw, f, element) for raw in raws]``, parsing each distinct text once
    (a column repeats its codes, dates and flags). Raises the ValueError of the first distinct
    text that does not parse (not necessarily the first row's: callers that report a row parse
    it again with :func:`parse_value`).

    A list of codes is parsed per row, so that no two rows share one list object; every other
    kind of value is immutable (text, None, bool, int, Decimal, date) and may be shared.
    """
    if element.value_kind == "codes":
        return [parse_value(raw, f, element) for raw in raws]
    parsed = {raw: parse_value(raw, f, element) for raw in set(raws)}
    return [parsed[raw] for raw in raws]


# Older private names, kept for callers that used them.
_describe = describe_text
_parse = parse_value


# --- loading ------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What a load wrote: rows per file."""

    rows: dict[str, int] = field(default_factory=dict)

    @property
    def students(self) -> int:
        return self.rows.get("students.csv", 0)


def _rows(path: Path, spec: FileSpec) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DistrictFileError(
                spec.file, 1, None, "the file is empty (no header row)"
            ) from None
        expected = columns_of(spec)
        if header != expected:
            missing = [c for c in expected if c not in header]
            extra = [c for c in header if c not in expected]
            raise DistrictFileError(
                spec.file,
                1,
                None,
                f"header does not match: missing {missing}, unexpected {extra}"
                if missing or extra
                else "header columns are out of order",
            )
        for number, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise DistrictFileError(
                    spec.file, number, None, f"expected {len(header)} fields, found {len(row)}"
                )
            yield number, dict(zip(header, row, strict=True))


def load_district(
    directory: Path, *, progress: Callable[[str, int], None] | None = None
) -> LoadReport:
    """Load every file of ``directory`` in one transaction. Callers audit the load."""
    missing = [s.file for s in FILES if s.required and not (directory / s.file).exists()]
    if missing:
        raise DistrictFileError(str(directory), None, None, f"missing files: {missing}")
    report = LoadReport()
    # natural key -> primary key, per file that others point at
    keys: dict[str, dict[tuple[str, ...], int]] = {}
    link_source = {
        "district": "district.csv",
        "school": "schools.csv",
        "student": "students.csv",
        "course": "courses.csv",
        "section": "sections.csv",
        "assessment": "assessments.csv",
    }
    with transaction.atomic():
        district_file = directory / "district.csv"
        for _, row in _rows(district_file, FILES[0]):
            if m.District.objects.filter(state_code=row.get("state_code", "")).exists():
                raise DistrictFileError(
                    "district.csv", 2, "state_code", "this district is already loaded"
                )
        for spec in FILES:
            report.rows[spec.file] = _load_file(directory / spec.file, spec, keys, link_source)
            if progress:
                progress(spec.file, report.rows[spec.file])
    return report


def _load_file(
    path: Path,
    spec: FileSpec,
    keys: dict[str, dict[tuple[str, ...], int]],
    link_source: dict[str, str],
) -> int:
    fields = [(f, data_element_of(f)) for f in value_fields(spec.model)]
    own_keys: dict[tuple[str, ...], int] = {}
    seen: set[tuple[str, ...]] = set()
    batch: list[tuple[tuple[str, ...] | None, models.Model]] = []
    count = 0

    def flush() -> None:
        objects = [obj for _, obj in batch]
        spec.model._default_manager.bulk_create(objects, batch_size=BATCH_SIZE)
        for key, obj in batch:
            if key is not None:
                own_keys[key] = obj.pk
        batch.clear()

    for line, row in _rows(path, spec):
        values: dict[str, Any] = {}
        for f, element in fields:
            assert element is not None
            try:
                values[f.attname] = parse_value(row[f.name], f, element)
            except ValueError as problem:
                raise DistrictFileError(spec.file, line, f.name, str(problem)) from None
        for link, columns in spec.links.items():
            source = link_source[link]
            natural = tuple(row[c] for c in columns)
            target = keys.get(source, {}).get(natural)
            if target is None:
                raise DistrictFileError(
                    spec.file, line, columns[-1], f"refers to a record not found in {source}"
                )
            values[f"{link}_id"] = target
        key = tuple(row[c] for c in spec.key) if spec.key else None
        if key is not None:
            if key in seen:
                raise DistrictFileError(
                    spec.file,
                    line,
                    spec.key[-1] if spec.key else None,
                    "duplicate key: an earlier line of this file has the same key",
                )
            seen.add(key)
        obj = spec.model(**values)
        if isinstance(obj, m.Student):
            given = obj.federal_race_ethnicity
            try:
                obj.derive_federal_race_ethnicity()
            except ValueError as problem:
                raise DistrictFileError(spec.file, line, "white", str(problem)) from None
            if given != obj.federal_race_ethnicity:
                raise DistrictFileError(
                    spec.file,
                    line,
                    "federal_race_ethnicity",
                    "does not match the Hispanic/Latino and race flags of the same line",
                )
        batch.append((key, obj))
        count += 1
        if len(batch) >= BATCH_SIZE:
            flush()
    flush()
    if spec.key is not None:
        keys[spec.file] = own_keys
    return count
