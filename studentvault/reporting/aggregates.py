"""Aggregates of the student data, computed in SQL by GROUP BY over plain coded columns.

Invariants:
- every field a report groups or filters on is stored in plain text: ``require_plain`` walks
  each lookup path and raises ``ReportDefinitionError`` when a field on it is encrypted (an
  encrypted column holds a different ciphertext for every row and cannot be grouped, and a
  report must not decrypt rows one by one). Each selector checks its paths before it runs;
- the selectors take the population as a ``Q`` on the student (prefix ``student__``) and never
  widen it; who may report on whom is decided by the caller (``services.report_run``) through
  ``studentvault.access.policy``;
- the functions here return counts only (never a student id); ``count_table`` turns grouped
  rows into a ``CountTable`` and is shared by the SQL path and the file path of the bench.

Counting rules (docs/adr/0050-report-definitions.md, 0051-count-date.md): enrollment and
program participation are counted on the count date, October 1 of the school year (Colorado's
Student October count); a student is counted once per school and grade where a stay covers
that date. Assessment results are counted for the school year of the administration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from studentvault.core.categories import DataCategory
from studentvault.core.elements import data_element_of
from studentvault.records.codes import code_set
from studentvault.records.models import (
    AssessmentResult,
    Enrollment,
    ProgramParticipation,
    School,
)
from studentvault.reporting.disclosure import CountTable, Dimension

TOTAL = "Total"
PARTICIPATING = "Y"
NOT_PARTICIPATING = "N"
# The assessments whose performance levels and growth are reported (CMAS); college tests and
# the alternate assessment have their own scales and are not mixed in (docs/adr/0050).
REPORTED_ASSESSMENT_KIND = "state"


class ReportDefinitionError(ValueError):
    """A report asks for something it may not or cannot compute; the message says what."""


def require_plain(model: type[models.Model], *paths: str) -> None:
    """Raise unless every field on every lookup path (``student__gender``) is stored plain."""
    for path in paths:
        current: Any = model
        for name in path.split("__"):
            field = current._meta.get_field(name)
            element = data_element_of(field)
            label = f"{current.__name__}.{name}"
            if element is None:
                raise ReportDefinitionError(f"{label} has no data element; it cannot be reported")
            if element.encrypted:
                raise ReportDefinitionError(
                    f"{label} is stored encrypted and cannot be grouped or filtered in SQL"
                )
            if field.is_relation:
                current = field.related_model


def count_date(school_year: int) -> dt.date:
    """October 1 of the school year (2027 = 2026-27 -> 2026-10-01): the Student October count."""
    return dt.date(school_year - 1, 10, 1)


# --- subgroups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subgroup:
    """A way of splitting students: a plain coded student column, or a program's participation."""

    code: str
    label: str
    category: DataCategory
    student_field: str | None = None  # a coded column of Student
    program: str | None = None  # a program code (records/codesets/program.csv)

    @property
    def categories(self) -> tuple[DataCategory, ...]:
        return (self.category,)

    def codes(self) -> tuple[tuple[str, str], ...]:
        """(code, label) of every group, in code-set order."""
        if self.student_field is not None:
            return tuple((c.code, c.label) for c in code_set(self.student_field).codes)
        return ((PARTICIPATING, "Participating"), (NOT_PARTICIPATING, "Not participating"))


def _column(code: str, label: str) -> Subgroup:
    return Subgroup(code, label, DataCategory.DEMOGRAPHICS, student_field=code)


def _program(code: str, label: str) -> Subgroup:
    return Subgroup(code, label, DataCategory.PROGRAMS, program=code)


SUBGROUPS: dict[str, Subgroup] = {
    "race_ethnicity": Subgroup(
        "race_ethnicity",
        "Race/ethnicity (federal categories)",
        DataCategory.DEMOGRAPHICS,
        student_field="federal_race_ethnicity",
    ),
    "gender": _column("gender", "Gender"),
    "free_reduced_lunch": _program("free_reduced_lunch", "Free or reduced-price lunch"),
    "special_education": _program("special_education", "Special education"),
    "english_learner": _program("english_learner", "English learner program"),
    "migrant": _program("migrant", "Migrant education"),
    "gifted": _program("gifted", "Gifted and talented"),
}


def get_subgroup(code: str) -> Subgroup:
    try:
        return SUBGROUPS[code]
    except KeyError:
        raise ReportDefinitionError(
            f"unknown subgroup {code!r}; known: {sorted(SUBGROUPS)}"
        ) from None


def _program_covers(program: str, on: dt.date) -> Exists:
    require_plain(ProgramParticipation, "student", "program", "begin_date", "end_date")
    return Exists(
        ProgramParticipation.objects.filter(
            student_id=OuterRef("student_id"), program=program, begin_date__lte=on
        ).filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
    )


def _with_subgroup(
    queryset: QuerySet[Any], model: type[models.Model], subgroup: Subgroup, on: dt.date
) -> tuple[QuerySet[Any], str]:
    """The queryset annotated with the subgroup code, and the name to group by."""
    if subgroup.student_field is not None:
        path = f"student__{subgroup.student_field}"
        require_plain(model, path)
        return queryset, path
    assert subgroup.program is not None
    flagged = queryset.annotate(in_program=_program_covers(subgroup.program, on))
    return flagged, "in_program"


def _subgroup_code(value: object) -> str:
    if isinstance(value, bool):
        return PARTICIPATING if value else NOT_PARTICIPATING
    return str(value)


# --- dimensions -----------------------------------------------------------------------------


def school_dimension(school_codes: Sequence[str]) -> Dimension:
    """District > schools: the total is the district (one district per installation)."""
    if not school_codes:
        raise ReportDefinitionError("no school has any student in this report's population")
    return Dimension.tree("school", TOTAL, {TOTAL: list(school_codes)})


def grade_dimension(grades: Iterable[str]) -> Dimension:
    """The grades present, in the order of the grade_level code set, under their total."""
    order = [c.code for c in code_set("grade_level").codes]
    present = set(grades)
    return Dimension.flat("grade", [g for g in order if g in present], total=TOTAL)


def subgroup_dimension(subgroup: Subgroup) -> Dimension:
    return Dimension.flat(subgroup.code, [code for code, _ in subgroup.codes()], total=TOTAL)


def count_table(dimensions: Sequence[Dimension], rows: Iterable[Sequence[Any]]) -> CountTable:
    """A full table (totals included) from grouped rows ``(leaf code per dimension..., count)``.

    Shared by the SQL selectors and the bench's file path: whatever did the GROUP BY, the table
    is built here. Rows with the same codes are added; an unknown code is an error.
    """
    dims = tuple(dimensions)
    positions = [{d.codes[leaf]: p for p, leaf in enumerate(d.leaves)} for d in dims]
    leaves = np.zeros(tuple(len(d.leaves) for d in dims), dtype=np.int64)
    for row in rows:
        *codes, count = row
        try:
            index = tuple(positions[axis][str(code)] for axis, code in enumerate(codes))
        except KeyError as error:
            raise ReportDefinitionError(
                f"code {error.args[0]!r} is not a category of the report's dimensions"
            ) from None
        leaves[index] += int(count)
    return CountTable.from_leaf_counts(dims, leaves)


def school_names(codes: Iterable[str]) -> dict[str, str]:
    """State school code -> school name (public directory facts)."""
    return dict(School.objects.filter(state_code__in=list(codes)).values_list("state_code", "name"))


# --- enrollment and programs ---------------------------------------------------------------


def _enrolled_on(scope: Q, school_year: int) -> QuerySet[Any]:
    on = count_date(school_year)
    require_plain(
        Enrollment, "student", "school__state_code", "school_year", "grade_level", "entry_date"
    )
    require_plain(Enrollment, "exit_date")
    return (
        Enrollment.objects.filter(scope)
        .filter(school_year=school_year, entry_date__lte=on)
        .filter(Q(exit_date__isnull=True) | Q(exit_date__gte=on))
    )


def enrollment_rows(
    *, scope: Q, school_year: int, subgroup: Subgroup
) -> Iterator[tuple[str, str, str, int]]:
    """(school code, grade, subgroup code, students) on the count date, for the population."""
    queryset, group = _with_subgroup(
        _enrolled_on(scope, school_year), Enrollment, subgroup, count_date(school_year)
    )
    grouped = (
        queryset.values_list("school__state_code", "grade_level", group)
        .annotate(n=Count("student_id", distinct=True))
        .order_by()
    )
    for school, grade, code, n in grouped:
        yield str(school), str(grade), _subgroup_code(code), int(n)


def program_rows(*, scope: Q, school_year: int) -> Iterator[tuple[str, str, int]]:
    """(school code, program, students) for programs covering the count date."""
    on = count_date(school_year)
    require_plain(ProgramParticipation, "student", "program", "begin_date", "end_date")
    enrolled = _enrolled_on(scope, school_year)
    participations = (
        ProgramParticipation.objects.filter(begin_date__lte=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .filter(student_id__in=enrolled.values("student_id"))
    )
    # The school of each participation is the school of the count-date stay.
    stays = enrolled.filter(student_id=OuterRef("student_id")).order_by("pk")
    grouped = (
        participations.annotate(school_code=models.Subquery(stays.values("school__state_code")[:1]))
        .values_list("school_code", "program")
        .annotate(n=Count("student_id", distinct=True))
        .order_by()
    )
    for school, program, n in grouped:
        yield str(school), str(program), int(n)


# --- assessments ----------------------------------------------------------------------------


def _results(scope: Q, school_year: int) -> QuerySet[Any]:
    require_plain(
        AssessmentResult,
        "student",
        "school__state_code",
        "school_year",
        "grade_level",
        "assessment__kind",
        "assessment__subject",
    )
    return AssessmentResult.objects.filter(scope).filter(
        school_year=school_year, assessment__kind=REPORTED_ASSESSMENT_KIND
    )


def performance_rows(
    *, scope: Q, school_year: int, by: Subgroup | None = None
) -> Iterator[tuple[str, str, str, str, int]]:
    """(subject, school, grade or subgroup code, performance level, students) with a level."""
    require_plain(AssessmentResult, "performance_level")
    queryset = _results(scope, school_year).exclude(performance_level="")
    group = "grade_level"
    if by is not None:
        queryset, group = _with_subgroup(queryset, AssessmentResult, by, count_date(school_year))
    grouped = (
        queryset.values_list(
            "assessment__subject", "school__state_code", group, "performance_level"
        )
        .annotate(n=Count("student_id", distinct=True))
        .order_by()
    )
    for subject, school, code, level, n in grouped:
        yield str(subject), str(school), _subgroup_code(code), str(level), int(n)


def growth_rows(*, scope: Q, school_year: int) -> Iterator[tuple[str, str, str, int, int]]:
    """(subject, school, grade, growth percentile, students): a histogram per group."""
    require_plain(AssessmentResult, "growth_percentile")
    grouped = (
        _results(scope, school_year)
        .filter(growth_percentile__isnull=False)
        .values_list(
            "assessment__subject", "school__state_code", "grade_level", "growth_percentile"
        )
        .annotate(n=Count("student_id", distinct=True))
        .order_by()
    )
    for subject, school, grade, percentile, n in grouped:
        yield str(subject), str(school), str(grade), int(percentile), int(n)
