"""Protecting several tables of one report together, when they share cells.

The enrollment report publishes one table per subgroup (school x grade x race, school x grade x
gender...). Every one of them holds the same school x grade totals, so protecting each table
alone is not enough: a total hidden in one table could be printed by another, and the other
table's equations could narrow a cell hidden in the first. The engine protects and audits one
table; this module wraps it from outside (the engine is not changed) and solves the *linked*
problem: the cells of all tables, with every shared cell one single variable, and the
additivity equations of every table. The engine's own suppression methods and audit then run
on that joint system (``SuppressionProblem`` accepts any such matrix).

Invariants:
- a shared cell is hidden in every table or in none (it is one variable);
- the verdict is the audit of the joint system: a table is publishable only when the joint
  audit passed, so no sensitive cell can be narrowed below its protection width from
  everything the report publishes together;
- when the pattern fails the audit, one more attempt lets zero cells serve as complements
  (ADR 0007 keeps them out because an empty cell is often known to be empty), and if the
  engine's heuristic still stalls, the hidden region grows one equation at a time (``_dilate``)
  until the audit passes; a report that still fails is refused, never published;
- ``extra_sensitive`` marks cells sensitive beyond the rule set's minimum (used to hide a
  performance-level count whose rate the rate table hid); they get the same protection width.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Hashable, Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from studentvault.reporting.disclosure import (
    SUPPRESSED,
    AuditCell,
    AuditReport,
    CellKind,
    CellStatus,
    CountTable,
    DisclosureResult,
    Method,
    Reason,
    RuleSet,
    build_problem,
    get_rule_set,
)
from studentvault.reporting.disclosure.audit import PatternAudit
from studentvault.reporting.disclosure.engine import (
    EXACT_INTERVALS_MAX_CELLS,
    EXACT_MAX_CELLS,
    audit_report,
    solve_problem,
)
from studentvault.reporting.disclosure.suppress import SuppressionProblem, heuristic_pattern

BoolArray = npt.NDArray[np.bool_]
SharedKey = Callable[[tuple[str, ...]], Hashable | None]


class LinkedTablesError(ValueError):
    """Linked tables disagree on a cell they share; the message names the cell."""


def _dilate(
    problem: SuppressionProblem,
    hidden: BoolArray,
    audit: PatternAudit,
    fast: bool,
    rounds: int = 12,
) -> tuple[BoolArray, PatternAudit]:
    """Last resort when the heuristic stalls: hide every eligible cell sharing an equation with
    a hidden cell, and audit again, until the pattern passes (hiding more never narrows an
    interval; with everything hidden no cell has an upper bound)."""
    matrix = problem.matrix.tocsr()
    incidence = (matrix != 0).astype(np.int64)
    for _ in range(rounds):
        if audit.passed:
            break
        rows = np.flatnonzero(incidence @ hidden.astype(np.int64))
        touched = np.zeros(hidden.size, dtype=bool)
        touched[incidence[rows].indices] = True
        grown = hidden | (touched & problem.eligible)
        if (grown == hidden).all():
            break
        hidden = grown
        audit = problem.audit(hidden, fast=fast)
    return hidden, audit


def _result(
    table: CountTable,
    rules: RuleSet,
    kind: CellKind,
    method: str,
    sensitive: BoolArray,
    hidden: BoolArray,
    report: AuditReport,
    seconds: tuple[float, float],
) -> DisclosureResult:
    cells = []
    sensitive_list = sensitive.tolist()
    hidden_list = hidden.tolist()
    values = table.flat_values.tolist()
    for index, (key, value) in enumerate(zip(table.keys(), values, strict=True)):
        reason: Reason | None = None
        if sensitive_list[index]:
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
        method=method,
        dimensions=tuple((d.name, d.codes) for d in table.dimensions),
        cells=tuple(cells),
        audit=report,
        seconds_protect=seconds[0],
        seconds_audit=seconds[1],
    )


def protect_linked(
    tables: Sequence[CountTable],
    *,
    shared: Sequence[SharedKey | None] | None = None,
    rule_set: RuleSet | str | None = None,
    kind: CellKind = CellKind.STUDENT,
    method: Method = Method.AUTO,
    extra_sensitive: Sequence[BoolArray | None] | None = None,
) -> list[DisclosureResult]:
    """Protect ``tables`` jointly; ``shared[t](key)`` names the shared variable of a cell."""
    rules = rule_set if isinstance(rule_set, RuleSet) else get_rule_set(rule_set)
    count = len(tables)
    shared_of = list(shared) if shared is not None else [None] * count
    extras = list(extra_sensitive) if extra_sensitive is not None else [None] * count
    if len(shared_of) != count or len(extras) != count:
        raise ValueError("shared and extra_sensitive need one entry per table")
    masks = []
    for table, extra in zip(tables, extras, strict=True):
        base = rules.sensitive_mask(table.flat_values, kind)
        masks.append(base if extra is None else base | extra)
    started = time.perf_counter()

    if count == 1:
        table = tables[0]
        problem = build_problem(table, rules, kind, sensitive=masks[0])
        hidden, used = solve_problem(problem, method)
        protected_at = time.perf_counter()
        audit = problem.audit(hidden, fast=table.size > EXACT_INTERVALS_MAX_CELLS)
        if not audit.passed:  # last resort: zero cells may serve as complements too
            problem = dataclasses.replace(problem, eligible=~problem.sensitive & ~problem.forced)
            hidden, _ = heuristic_pattern(problem, prune=False)
            used += " + zero complements"
            audit = problem.audit(hidden, fast=table.size > EXACT_INTERVALS_MAX_CELLS)
            hidden, audit = _dilate(problem, hidden, audit, table.size > EXACT_INTERVALS_MAX_CELLS)
        report = audit_report(table, problem, hidden, audit)
        done = time.perf_counter()
        seconds = (protected_at - started, done - protected_at)
        return [_result(table, rules, kind, used, masks[0], hidden, report, seconds)]

    # One variable per distinct cell; shared cells map to the same variable.
    variables: dict[Hashable, int] = {}
    var_of: list[npt.NDArray[np.int64]] = []
    values: list[int] = []
    for t, table in enumerate(tables):
        ids = np.empty(table.size, dtype=np.int64)
        key_of = shared_of[t]
        for index, value in enumerate(table.flat_values.tolist()):
            name = key_of(table.key(index)) if key_of is not None else None
            if name is not None and name in variables:
                ids[index] = variables[name]
                if values[ids[index]] != value:
                    raise LinkedTablesError(
                        f"table {t} cell {table.key(index)} = {value} but the shared cell "
                        f"{name!r} is {values[ids[index]]}"
                    )
                continue
            ids[index] = len(values)
            values.append(int(value))
            if name is not None:
                variables[name] = int(ids[index])
        var_of.append(ids)
    n = len(values)
    sensitive = np.zeros(n, dtype=bool)
    width = np.zeros(n, dtype=np.int64)
    eligible = np.ones(n, dtype=bool)
    blocks = []
    for t, table in enumerate(tables):
        problem = build_problem(table, rules, kind, sensitive=masks[t])
        ids = var_of[t]
        np.logical_or.at(sensitive, ids, problem.sensitive)
        np.maximum.at(width, ids, problem.required_width)
        np.logical_and.at(eligible, ids, problem.eligible)
        matrix = problem.matrix.tocoo()
        blocks.append(
            sp.coo_matrix((matrix.data, (matrix.row, ids[matrix.col])), shape=(matrix.shape[0], n))
        )
    joint = SuppressionProblem(
        matrix=sp.csr_matrix(sp.vstack(blocks)),
        values=np.asarray(values, dtype=np.int64),
        sensitive=sensitive,
        required_width=width,
        eligible=eligible & ~sensitive,
        forced=np.zeros(n, dtype=bool),
    )
    if method is Method.HEURISTIC or (method is Method.AUTO and n > EXACT_MAX_CELLS):
        # No pruning pass: on a joint system it costs one full audit per complement.
        hidden, _ = heuristic_pattern(joint, prune=False)
        used = "heuristic"
    else:
        hidden, used = solve_problem(joint, method)
    protected_at = time.perf_counter()
    audit = joint.audit(hidden, fast=False)
    if not audit.passed:  # last resort: zero cells may serve as complements too
        joint = dataclasses.replace(joint, eligible=~sensitive)
        hidden, _ = heuristic_pattern(joint, prune=False)
        used += " + zero complements"
        audit = joint.audit(hidden, fast=False)
        hidden, audit = _dilate(joint, hidden, audit, False)
    done = time.perf_counter()
    seconds = (protected_at - started, done - protected_at)
    unprotected = set(audit.unprotected.tolist())
    results = []
    for t, table in enumerate(tables):
        ids = var_of[t]
        keys = list(table.keys())
        cells = [
            AuditCell(
                key=keys[index],
                value=int(values[g]),
                lo=float(audit.intervals.lo[g]),
                hi=float(audit.intervals.hi[g]),
                exact=bool(audit.intervals.exact[g]),
                required_width=int(audit.required_width[g]),
                protected=g not in unprotected,
            )
            for index, g in enumerate(ids.tolist())
            if hidden[g]
        ]
        report = AuditReport(
            passed=audit.passed,
            cells=tuple(cells),
            components=audit.intervals.components,
            largest_component=audit.intervals.largest_component,
            linear_programs=audit.intervals.linear_programs,
            integer=False,
        )
        results.append(
            _result(
                table, rules, kind, f"{used} (linked)", sensitive[ids], hidden[ids], report, seconds
            )
        )
    return results
