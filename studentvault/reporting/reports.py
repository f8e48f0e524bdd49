"""The named report definitions, in one registry, and what a protected report looks like.

A definition turns a population (a ``Q`` on the student, decided by the caller from the
actor's grants) and a school year into protected tables: aggregates from ``aggregates``
(SQL GROUP BY), then the disclosure engine (``protect_linked`` for tables that share cells,
``protect_rates`` for percentages), then display texts.

Invariants:
- a ``ReportTable`` holds display texts and reason codes only, never a true value of a
  suppressed cell: it is built from the engine's decisions, and a suppressed cell's text is
  ``SUPPRESSED`` ("*");
- ``ReportResult.document(internal=False)`` is the public publication (no reason codes);
  ``internal=True`` adds each withheld cell's reason code for staff;
- a report whose any table failed its audit raises ``DisclosureNotPublishable`` from
  ``build`` (nothing of it is shown or stored);
- medians are not counts: a median growth percentile is suppressed when fewer students than
  the rule set's student minimum have a growth percentile (docs/adr/0052).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Q

from studentvault.core.categories import DataCategory
from studentvault.records.codes import code_set
from studentvault.reporting.disclosure import (
    SUPPRESSED,
    CellKind,
    Dimension,
    DisclosureNotPublishable,
    DisclosureResult,
    Reason,
    RuleSet,
    protect_rates,
)

from .aggregates import (
    TOTAL,
    ReportDefinitionError,
    Subgroup,
    count_date,
    count_table,
    enrollment_rows,
    get_subgroup,
    grade_dimension,
    growth_rows,
    performance_rows,
    program_rows,
    school_dimension,
    school_names,
    subgroup_dimension,
)
from .linked import protect_linked

MEDIAN_BELOW_MINIMUM = "below_minimum"
WITHHELD_WITH_COUNTS = "withheld_with_counts"  # a rate whose counts the distribution hides
LEVEL_BELOW = "below"
LEVEL_MEETS = "meets"


@dataclass(frozen=True)
class ReportDimension:
    """One dimension of a published table: its codes (total first) and their labels."""

    name: str
    label: str
    codes: tuple[str, ...]
    labels: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "codes": list(self.codes),
            "labels": self.labels,
        }


@dataclass(frozen=True)
class ReportTable:
    """A protected table: per cell its codes, display text and (when withheld) reason code."""

    id: str
    title: str
    measure: str  # "students", "performance-level count", "percent met", "median"
    dimensions: tuple[ReportDimension, ...]
    rows: tuple[tuple[tuple[str, ...], str, str | None], ...]
    audit_passed: bool
    method: str = ""

    @property
    def suppressed(self) -> int:
        return sum(1 for _, display, _ in self.rows if display == SUPPRESSED)

    def to_dict(self, *, internal: bool) -> dict[str, Any]:
        rows: list[list[str]] = []
        for key, display, reason in self.rows:
            row = [*key, display]
            if internal:
                row.append(reason or "")
            rows.append(row)
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "measure": self.measure,
            "dimensions": [d.to_dict() for d in self.dimensions],
            "columns": [*(d.name for d in self.dimensions), "value"]
            + (["reason"] if internal else []),
            "rows": rows,
            "audit_passed": self.audit_passed,
        }
        if internal:
            out["method"] = self.method
        return out


@dataclass(frozen=True)
class ReportResult:
    """A whole report run: its tables, rule set and audit outcome (display texts only)."""

    name: str
    title: str
    school_year: int
    count_date: dt.date | None
    rule_set: str
    rule_set_description: str
    tables: tuple[ReportTable, ...]
    subgroups: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def audit_passed(self) -> bool:
        return all(t.audit_passed for t in self.tables)

    @property
    def cells(self) -> int:
        return sum(len(t.rows) for t in self.tables)

    @property
    def suppressed(self) -> int:
        return sum(t.suppressed for t in self.tables)

    def document(self, *, internal: bool, generated_at: str, generated_by: str) -> dict[str, Any]:
        """The JSON-ready report; ``internal=False`` is exactly what the public may read."""
        return {
            "report": self.name,
            "title": self.title,
            "school_year": self.school_year,
            "count_date": self.count_date.isoformat() if self.count_date else None,
            "rule_set": self.rule_set,
            "rule_set_description": self.rule_set_description,
            "generated_at": generated_at,
            "generated_by": generated_by,
            "audit_passed": self.audit_passed,
            "subgroups": list(self.subgroups),
            "suppressed_mark": SUPPRESSED,
            "notes": list(self.notes),
            "tables": [t.to_dict(internal=internal) for t in self.tables],
        }


# --- labels ---------------------------------------------------------------------------------


def _labels(dimension: Dimension, known: dict[str, str], total: str) -> dict[str, str]:
    return {code: (total if code == TOTAL else known.get(code, code)) for code in dimension.codes}


def _code_labels(name: str) -> dict[str, str]:
    return {c.code: c.label for c in code_set(name).codes}


def _school_dim(dimension: Dimension) -> ReportDimension:
    names = school_names(dimension.codes)
    labels = {c: f"{names.get(c, c)} ({c})" for c in dimension.codes}
    labels[TOTAL] = "District (all schools)"
    return ReportDimension("school", "School", dimension.codes, labels)


def _grade_dim(dimension: Dimension) -> ReportDimension:
    return ReportDimension(
        "grade",
        "Grade",
        dimension.codes,
        _labels(dimension, _code_labels("grade_level"), "All grades"),
    )


def _subgroup_dim(dimension: Dimension, subgroup: Subgroup) -> ReportDimension:
    return ReportDimension(
        subgroup.code,
        subgroup.label,
        dimension.codes,
        _labels(dimension, dict(subgroup.codes()), "All students"),
    )


def _from_engine(
    table_id: str,
    title: str,
    measure: str,
    dimensions: tuple[ReportDimension, ...],
    result: DisclosureResult,
) -> ReportTable:
    """Display texts from the engine's decision: ``publication()`` raises if the audit failed."""
    shown = result.publication()
    rows = tuple(
        (cell.key, shown[cell.key], None if cell.reason is None else cell.reason.value)
        for cell in result.cells
    )
    return ReportTable(
        table_id, title, measure, dimensions, rows, result.publishable, result.method
    )


# --- definitions ----------------------------------------------------------------------------


Builder = Callable[[Q, int, RuleSet, tuple[Subgroup, ...]], tuple[list[ReportTable], list[str]]]


@dataclass(frozen=True)
class ReportDefinition:
    """A named report: what it counts, which categories it needs, how it is built."""

    name: str
    title: str
    description: str
    base_categories: tuple[DataCategory, ...]
    default_subgroups: tuple[str, ...]
    builder: Builder
    uses_count_date: bool

    def subgroups(self, chosen: Sequence[str] | None) -> tuple[Subgroup, ...]:
        codes = self.default_subgroups if chosen is None else tuple(chosen)
        if chosen is not None and not self.default_subgroups and codes:
            raise ReportDefinitionError(f"report {self.name!r} has no subgroups")
        return tuple(get_subgroup(code) for code in codes)

    def categories(self, subgroups: Sequence[Subgroup]) -> tuple[DataCategory, ...]:
        """Every category the report aggregates: the actor needs "report" on each."""
        wanted = list(self.base_categories)
        for subgroup in subgroups:
            for category in subgroup.categories:
                if category not in wanted:
                    wanted.append(category)
        return tuple(wanted)


def _enrollment(
    scope: Q, year: int, rules: RuleSet, subgroups: tuple[Subgroup, ...]
) -> tuple[list[ReportTable], list[str]]:
    rows = {
        s.code: list(enrollment_rows(scope=scope, school_year=year, subgroup=s)) for s in subgroups
    }
    all_rows = [r for group in rows.values() for r in group]
    schools = school_dimension(sorted({r[0] for r in all_rows}))
    grades = grade_dimension({r[1] for r in all_rows})
    tables = [
        count_table((schools, grades, subgroup_dimension(s)), rows[s.code]) for s in subgroups
    ]

    def margin(key: tuple[str, ...]) -> tuple[str, str, str] | None:
        return ("school x grade", key[0], key[1]) if key[2] == TOTAL else None

    results = protect_linked(
        tables, shared=[margin] * len(tables), rule_set=rules, kind=CellKind.STUDENT
    )
    school_out, grade_out = _school_dim(schools), _grade_dim(grades)
    return [
        _from_engine(
            s.code,
            f"Students by school, grade and {s.label.lower()}",
            "students",
            (school_out, grade_out, _subgroup_dim(table.dimensions[2], s)),
            result,
        )
        for s, table, result in zip(subgroups, tables, results, strict=True)
    ], [
        "Students enrolled on the count date, counted once per school and grade.",
    ]


def _programs(
    scope: Q, year: int, rules: RuleSet, subgroups: tuple[Subgroup, ...]
) -> tuple[list[ReportTable], list[str]]:
    rows = list(program_rows(scope=scope, school_year=year))
    if not rows:
        raise ReportDefinitionError("no program participation in this report's population")
    schools = school_dimension(sorted({r[0] for r in rows}))
    program_codes = [c.code for c in code_set("program").codes]
    programs = Dimension.flat("program", program_codes, total=TOTAL)
    table = count_table((schools, programs), rows)
    [result] = protect_linked([table], rule_set=rules, kind=CellKind.STUDENT)
    labels = _labels(programs, _code_labels("program"), "All programs (participations)")
    return [
        _from_engine(
            "programs",
            "Program participation by school",
            "students",
            (_school_dim(schools), ReportDimension("program", "Program", programs.codes, labels)),
            result,
        )
    ], [
        "A student in two programs is counted in each; the total counts participations.",
    ]


def _level_dimension() -> tuple[Dimension, dict[str, str]]:
    levels = code_set("performance_level")
    meets = levels.column("meets_expectations")
    below = [c.code for c in levels.codes if meets[c.code] != "1"]
    met = [c.code for c in levels.codes if meets[c.code] == "1"]
    dimension = Dimension.tree(
        "performance_level",
        TOTAL,
        {TOTAL: [LEVEL_BELOW, LEVEL_MEETS], LEVEL_BELOW: below, LEVEL_MEETS: met},
    )
    labels = {c.code: f"{c.code}: {c.label}" for c in levels.codes}
    labels[LEVEL_BELOW] = f"Below expectations ({', '.join(below)})"
    labels[LEVEL_MEETS] = f"Met or exceeded expectations ({', '.join(met)})"
    labels[TOTAL] = "All levels (students tested)"
    return dimension, labels


def _assessment(
    scope: Q, year: int, rules: RuleSet, subgroups: tuple[Subgroup, ...]
) -> tuple[list[ReportTable], list[str]]:
    by_grade = list(performance_rows(scope=scope, school_year=year))
    if not by_grade:
        raise ReportDefinitionError(f"no state assessment results for school year {year}")
    by_subgroup = {
        s.code: list(performance_rows(scope=scope, school_year=year, by=s)) for s in subgroups
    }
    levels, level_labels = _level_dimension()
    meets_levels = {levels.codes[i] for i in levels.children[levels.index[LEVEL_MEETS]]}
    subject_order = [c.code for c in code_set("subject").codes]
    subjects_present = sorted({r[0] for r in by_grade}, key=subject_order.index)
    schools = school_dimension(sorted({r[1] for r in by_grade}))
    grades = grade_dimension({r[2] for r in by_grade})
    subjects = Dimension.flat("subject", subjects_present, total=TOTAL)

    # Percent met: numerators and bases over school x grade x subject.
    meets_rows = [(r[1], r[2], r[0], r[4]) for r in by_grade if r[3] in meets_levels]
    tested_rows = [(r[1], r[2], r[0], r[4]) for r in by_grade]
    rate_dims = (schools, grades, subjects)
    rates = protect_rates(
        count_table(rate_dims, meets_rows),
        count_table(rate_dims, tested_rows),
        rule_set=rules,
        numerator_kind=CellKind.PERFORMANCE_LEVEL,
        base_kind=CellKind.STUDENT,
    )
    rate_cell = {cell.key: cell for cell in rates.cells}
    if not rates.publishable:
        raise DisclosureNotPublishable("the percent-met table or its bases failed the audit")

    tables_out: list[ReportTable] = []
    hidden_counts: set[tuple[str, str, str]] = set()  # (school, grade, subject) rows withheld
    for subject in subjects_present:
        tables = [
            count_table(
                (schools, grades, levels),
                [(r[1], r[2], r[3], r[4]) for r in by_grade if r[0] == subject],
            )
        ]
        ids = ["grade"]
        for s in subgroups:
            dim = subgroup_dimension(s)
            tables.append(
                count_table(
                    (schools, dim, levels),
                    [(r[1], r[2], r[3], r[4]) for r in by_subgroup[s.code] if r[0] == subject],
                )
            )
            ids.append(s.code)
        # A met count or a tested count whose rate is withheld is protected like a small cell.
        extra = np.zeros(tables[0].size, dtype=bool)
        for index, key in enumerate(tables[0].keys()):
            school, grade, level = key
            rate = rate_cell[(school, grade, subject)]
            if level == LEVEL_MEETS and rate.reason is not None:
                extra[index] = True
            if level == TOTAL and rate.reason is Reason.BASE_SUPPRESSED:
                extra[index] = True

        def margin(key: tuple[str, ...], subject: str = subject) -> tuple[str, ...] | None:
            return ("school x level", subject, key[0], key[2]) if key[1] == TOTAL else None

        results = protect_linked(
            tables,
            shared=[margin] * len(tables),
            rule_set=rules,
            kind=CellKind.PERFORMANCE_LEVEL,
            extra_sensitive=[extra] + [None] * (len(tables) - 1),
        )
        for cell in results[0].cells:
            if not cell.published and cell.key[2] in (LEVEL_MEETS, TOTAL):
                hidden_counts.add((cell.key[0], cell.key[1], subject))
        subject_label = _code_labels("subject").get(subject, subject)
        level_out = ReportDimension(
            "performance_level", "Performance level", levels.codes, level_labels
        )
        by: tuple[Subgroup | None, ...] = (None, *subgroups)
        for table_id, table, result, group in zip(ids, tables, results, by, strict=True):
            second = (
                _grade_dim(grades) if group is None else _subgroup_dim(table.dimensions[1], group)
            )
            title = f"{subject_label}: performance levels by school and " + (
                "grade" if group is None else group.label.lower()
            )
            tables_out.append(
                _from_engine(
                    f"{subject}-{table_id}",
                    title,
                    "performance-level count",
                    (_school_dim(schools), second, level_out),
                    result,
                )
            )

    shown = rates.publication()
    rate_rows: list[tuple[tuple[str, ...], str, str | None]] = []
    for rate in rates.cells:
        display = shown[rate.key]
        reason = None if rate.reason is None else rate.reason.value
        if rate.key in hidden_counts and display != SUPPRESSED:
            display, reason = SUPPRESSED, WITHHELD_WITH_COUNTS
        rate_rows.append((rate.key, display, reason))
    subject_labels = _labels(subjects, _code_labels("subject"), "All subjects (tests)")
    tables_out.insert(
        0,
        ReportTable(
            "percent-met",
            "Percent of students who met or exceeded expectations",
            "percent met",
            (
                _school_dim(schools),
                _grade_dim(grades),
                ReportDimension("subject", "Subject", subjects.codes, subject_labels),
            ),
            tuple(rate_rows),
            rates.publishable,
            "rates",
        ),
    )
    return tables_out, [
        "State assessments (CMAS) of the school year; college tests and the alternate "
        "assessment are not included.",
        "Percent met is suppressed with its base; rates near 0 or 100 % are shown coded.",
    ]


def median(histogram: dict[int, int]) -> float:
    """The median of values given as {value: how many}; the mean of the middle two when even."""
    n = sum(histogram.values())
    if n == 0:
        raise ValueError("no values")
    ordered = sorted(histogram.items())

    def value_at(position: int) -> int:  # 0-based
        seen = 0
        for value, count in ordered:
            seen += count
            if position < seen:
                return value
        raise AssertionError("position beyond the histogram")

    if n % 2:
        return float(value_at(n // 2))
    return (value_at(n // 2 - 1) + value_at(n // 2)) / 2.0


def _format_median(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.1f}"


def _median_growth(
    scope: Q, year: int, rules: RuleSet, subgroups: tuple[Subgroup, ...]
) -> tuple[list[ReportTable], list[str]]:
    rows = list(growth_rows(scope=scope, school_year=year))
    if not rows:
        raise ReportDefinitionError(f"no growth percentiles for school year {year}")
    subject_order = [c.code for c in code_set("subject").codes]
    subjects = sorted({r[0] for r in rows}, key=subject_order.index)
    schools = school_dimension(sorted({r[1] for r in rows}))
    grades = grade_dimension({r[2] for r in rows})
    histograms: dict[tuple[str, str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for subject, school, grade, percentile, n in rows:
        for s in (school, TOTAL):
            for g in (grade, TOTAL):
                for j in (subject, TOTAL):
                    histograms[(s, g, j)][percentile] += n
    minimum = rules.minimum[CellKind.STUDENT]
    out_rows: list[tuple[tuple[str, ...], str, str | None]] = []
    for s in schools.codes:
        for g in grades.codes:
            for j in (TOTAL, *subjects):
                histogram = histograms.get((s, g, j), {})
                n = sum(histogram.values())
                if n == 0:
                    out_rows.append(((s, g, j), "n/a", None))
                elif n < minimum:
                    out_rows.append(((s, g, j), SUPPRESSED, MEDIAN_BELOW_MINIMUM))
                else:
                    out_rows.append(((s, g, j), _format_median(median(histogram)), None))
    subject_dim = Dimension.flat("subject", subjects, total=TOTAL)
    labels = _labels(subject_dim, _code_labels("subject"), "All subjects (tests)")
    return [
        ReportTable(
            "median-growth",
            "Median student growth percentile by school, grade and subject",
            "median",
            (
                _school_dim(schools),
                _grade_dim(grades),
                ReportDimension("subject", "Subject", subject_dim.codes, labels),
            ),
            tuple(out_rows),
            True,
            f"median; suppressed below {minimum} students",
        )
    ], [
        f"A median is shown only when at least {minimum} students have a growth percentile "
        f"(the rule set's student minimum); the number of students is not published.",
    ]


REPORTS: dict[str, ReportDefinition] = {
    d.name: d
    for d in (
        ReportDefinition(
            "enrollment",
            "Student enrollment (October count)",
            "Students by school and grade, with one table per subgroup.",
            (DataCategory.ENROLLMENT,),
            (
                "race_ethnicity",
                "gender",
                "free_reduced_lunch",
                "special_education",
                "english_learner",
                "migrant",
                "gifted",
            ),
            _enrollment,
            True,
        ),
        ReportDefinition(
            "program_participation",
            "Program participation (October count)",
            "Students in each federal and state program by school.",
            (DataCategory.ENROLLMENT, DataCategory.PROGRAMS),
            (),
            _programs,
            True,
        ),
        ReportDefinition(
            "assessment_performance",
            "State assessment performance",
            "Performance levels and percent met by school, grade, subject and subgroup.",
            (DataCategory.ASSESSMENTS,),
            ("race_ethnicity", "gender"),
            _assessment,
            False,
        ),
        ReportDefinition(
            "median_growth",
            "Median growth percentile",
            "Median student growth percentile by school, grade and subject.",
            (DataCategory.ASSESSMENTS,),
            (),
            _median_growth,
            False,
        ),
    )
}


def get_report(name: str) -> ReportDefinition:
    try:
        return REPORTS[name]
    except KeyError:
        raise ReportDefinitionError(f"unknown report {name!r}; known: {sorted(REPORTS)}") from None


def build(
    definition: ReportDefinition,
    *,
    scope: Q,
    school_year: int,
    rules: RuleSet,
    subgroups: tuple[Subgroup, ...],
) -> ReportResult:
    """Compute and protect a report for the population ``scope``; raises if not publishable."""
    tables, notes = definition.builder(scope, school_year, rules, subgroups)
    failed = [t.id for t in tables if not t.audit_passed]
    if failed:
        raise DisclosureNotPublishable(f"tables {failed} failed the disclosure audit")
    return ReportResult(
        name=definition.name,
        title=definition.title,
        school_year=school_year,
        count_date=count_date(school_year) if definition.uses_count_date else None,
        rule_set=rules.name,
        rule_set_description=rules.description,
        tables=tuple(tables),
        subgroups=tuple(s.code for s in subgroups),
        notes=tuple(notes),
    )
