"""``protect_table``: rule set + table of counts -> audited decision of what may be published."""

from __future__ import annotations

import time
from enum import StrEnum

import numpy as np

from .audit import PatternAudit
from .result import SUPPRESSED, AuditCell, AuditReport, CellStatus, DisclosureResult, Reason
from .rules import CellKind, RuleSet, ZeroCells, get_rule_set
from .suppress import (
    BoolArray,
    FloatArray,
    SuppressionProblem,
    certified_pattern,
    exact_pattern,
    heuristic_pattern,
)
from .table import CountTable

# Tables up to this many cells are solved exactly (integer programming) under method="auto";
# the exact method is exponential in the worst case, see docs/adr/0007.
EXACT_MAX_CELLS = 80
# Pruning costs one audit per complement; worth it on small and medium tables only.
PRUNE_MAX_CELLS = 2_000
# Integer (MILP) audit on request up to this many cells; the LP audit is used beyond.
INTEGER_AUDIT_MAX_CELLS = 400
# Up to this many cells the audit reports exact LP intervals for every suppressed cell; beyond,
# it certifies protected cells by hypercubes and solves exactly only the others (same verdict).
EXACT_INTERVALS_MAX_CELLS = 5_000


class Method(StrEnum):
    AUTO = "auto"
    EXACT = "exact"
    HEURISTIC = "heuristic"


def build_problem(
    table: CountTable,
    rule_set: RuleSet,
    kind: CellKind,
    *,
    forced: BoolArray | None = None,
    published_lo: FloatArray | None = None,
    published_hi: FloatArray | None = None,
    sensitive: BoolArray | None = None,
) -> SuppressionProblem:
    """Primary suppression by the rule set, complement eligibility, protection widths."""
    values = table.flat_values
    if sensitive is None:
        sensitive = rule_set.sensitive_mask(values, kind)
    width = np.where(sensitive, rule_set.protection_widths(values, kind), 0).astype(np.int64)
    eligible = ~sensitive
    if not rule_set.zeros_as_complements and rule_set.zero_cells is ZeroCells.PUBLISH:
        eligible &= values > 0
    forced_mask = np.zeros(values.size, dtype=bool) if forced is None else forced & ~sensitive
    return SuppressionProblem(
        matrix=table.additivity_matrix(),
        values=values,
        sensitive=sensitive,
        required_width=width,
        eligible=eligible & ~forced_mask,
        forced=forced_mask,
        published_lo=published_lo,
        published_hi=published_hi,
        dimensions=table.dimensions,
    )


def solve_problem(
    problem: SuppressionProblem,
    method: Method,
    *,
    exact_max_cells: int = EXACT_MAX_CELLS,
) -> tuple[BoolArray, str]:
    """A suppression pattern and the name of the method that produced it."""
    n = problem.values.size
    if not problem.sensitive.any() and not problem.forced.any():
        return np.zeros(n, dtype=bool), "none"
    use_exact = method is Method.EXACT or (method is Method.AUTO and n <= exact_max_cells)
    if use_exact:
        pattern = exact_pattern(problem)
        if pattern is not None:
            return pattern, "exact"
    if n > EXACT_INTERVALS_MAX_CELLS and problem.dimensions is not None:
        # large tables: a pattern the box certificate proves (LP only for what it cannot)
        hidden, failing = certified_pattern(problem)
        if not failing.any():
            return hidden, "heuristic (box completion)"
        hidden, _ = heuristic_pattern(problem, start=hidden)
        return hidden, "heuristic (box completion + audit rounds)"
    hidden, _ = heuristic_pattern(problem, prune=n <= PRUNE_MAX_CELLS)
    return hidden, "heuristic" if not use_exact else "heuristic (exact method ran out of time)"


def audit_report(
    table: CountTable, problem: SuppressionProblem, hidden: BoolArray, audit: PatternAudit
) -> AuditReport:
    """Per-cell intervals for every hidden cell, keyed by the cell's codes."""
    cells = []
    unprotected = set(audit.unprotected.tolist())
    keys = list(table.keys())
    for index in np.flatnonzero(hidden):
        cells.append(
            AuditCell(
                key=keys[int(index)],
                value=int(problem.values[index]),
                lo=float(audit.intervals.lo[index]),
                hi=float(audit.intervals.hi[index]),
                exact=bool(audit.intervals.exact[index]),
                required_width=int(audit.required_width[index]),
                protected=int(index) not in unprotected,
            )
        )
    return AuditReport(
        passed=audit.passed,
        cells=tuple(cells),
        components=audit.intervals.components,
        largest_component=audit.intervals.largest_component,
        linear_programs=audit.intervals.linear_programs,
        integer=False,
    )


def protect_table(
    table: CountTable,
    *,
    rule_set: RuleSet | str | None = None,
    kind: CellKind = CellKind.STUDENT,
    method: Method = Method.AUTO,
    integer_audit: bool = False,
    exact_intervals: bool | None = None,
) -> DisclosureResult:
    """Decide what of ``table`` may be published under ``rule_set`` (default: Colorado).

    The pattern is always audited here, whatever method made it; the result is publishable
    only when every sensitive cell keeps an attacker interval at least the required width.
    """
    rules = rule_set if isinstance(rule_set, RuleSet) else get_rule_set(rule_set)
    started = time.perf_counter()
    problem = build_problem(table, rules, kind)
    hidden, method_used = solve_problem(problem, method)
    protected_at = time.perf_counter()
    integer = integer_audit and table.size <= INTEGER_AUDIT_MAX_CELLS
    if exact_intervals is None:
        exact_intervals = table.size <= EXACT_INTERVALS_MAX_CELLS
    audit = problem.audit(hidden, integer=integer, fast=not exact_intervals)
    audited_at = time.perf_counter()
    report = audit_report(table, problem, hidden, audit)
    report = AuditReport(
        passed=report.passed,
        cells=report.cells,
        components=report.components,
        largest_component=report.largest_component,
        linear_programs=report.linear_programs,
        integer=integer,
    )
    cells = []
    sensitive = problem.sensitive.tolist()
    hidden_list = hidden.tolist()
    for index, (key, value) in enumerate(zip(table.keys(), problem.values.tolist(), strict=True)):
        reason: Reason | None = None
        if sensitive[index]:
            reason = Reason.PRIMARY
        elif hidden_list[index]:
            reason = Reason.COMPLEMENTARY
        cells.append(
            CellStatus(
                key=key,
                value=int(value),
                published=reason is None,
                reason=reason,
                display=str(value) if reason is None else SUPPRESSED,
            )
        )
    return DisclosureResult(
        rule_set=rules.name,
        kind=kind.value,
        method=method_used,
        dimensions=tuple((d.name, d.codes) for d in table.dimensions),
        cells=tuple(cells),
        audit=report,
        seconds_protect=protected_at - started,
        seconds_audit=audited_at - protected_at,
    )
