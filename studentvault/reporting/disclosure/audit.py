"""The attacker audit: what can be inferred about each suppressed cell from what is published.

The attacker knows every published cell (exactly, or within a published interval such as a
top-coded ">95%"), that every cell is a nonnegative count, and that the table adds up (the
additivity equations of ``table.py``). For each suppressed cell the audit computes

    lo = min x_c   and   hi = max x_c   over all x >= 0 with A x = 0 and x = published values,

by linear programming (HiGHS through ``scipy.optimize.linprog``), then rounds inward to whole
numbers (ceil lo, floor hi), which is valid because counts are integers. A sensitive cell is
protected when ``hi - lo >= required width`` (rules.RuleSet.protection_width); the audit fails
when any sensitive suppressed cell is not protected.

Invariants:
- The intervals are exact LP bounds, never estimates: a bound is taken either from an LP
  optimum or where a feasible point (inner estimate) meets a valid implied bound (outer
  estimate), which proves it optimal. For 1-D, 2-D and 2-D-with-hierarchy tables the LP bounds
  are also the integer bounds; for 3-D tables they may be wider (the LP relaxation), see
  ``integer=True`` and docs/adr/0007.
- Only cells linked to a suppressed cell through equations with suppressed members matter, so
  each LP is restricted to one connected component of suppressed cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_TOLERANCE = 1e-6


class AuditSolverError(RuntimeError):
    """The LP solver failed on an audit problem (never treated as a pass)."""


@dataclass(frozen=True)
class AttackerIntervals:
    """Per-cell attacker bounds (NaN for published cells) and how they were obtained."""

    lo: FloatArray
    hi: FloatArray  # +inf when the attacker cannot bound the cell from above
    components: int
    largest_component: int
    linear_programs: int


@dataclass(frozen=True)
class PatternAudit:
    """Intervals plus the verdict for the sensitive cells."""

    intervals: AttackerIntervals
    required_width: IntArray
    unprotected: IntArray  # flat indices of sensitive hidden cells whose interval is too narrow

    @property
    def passed(self) -> bool:
        return self.unprotected.size == 0


def audit_pattern(
    matrix: sp.csr_matrix,
    values: IntArray,
    hidden: BoolArray,
    required_width: IntArray,
    *,
    published_lo: FloatArray | None = None,
    published_hi: FloatArray | None = None,
    integer: bool = False,
) -> PatternAudit:
    """Audit a suppression pattern; ``required_width`` is 0 for cells that need no protection."""
    intervals = attacker_intervals(
        matrix,
        values,
        hidden,
        published_lo=published_lo,
        published_hi=published_hi,
        integer=integer,
    )
    width = intervals.hi - intervals.lo
    needs = hidden & (required_width > 0)
    short = needs & ~(width >= required_width)  # NaN compares False, so it counts as short
    return PatternAudit(
        intervals=intervals,
        required_width=required_width,
        unprotected=np.flatnonzero(short).astype(np.int64),
    )


def attacker_intervals(
    matrix: sp.csr_matrix,
    values: IntArray,
    hidden: BoolArray,
    *,
    published_lo: FloatArray | None = None,
    published_hi: FloatArray | None = None,
    integer: bool = False,
) -> AttackerIntervals:
    """Exact attacker bounds for every hidden cell (see the module docstring)."""
    n = values.size
    exact = values.astype(np.float64)
    pub_lo = exact if published_lo is None else published_lo
    pub_hi = exact if published_hi is None else published_hi
    lower = np.where(hidden, 0.0, pub_lo)
    upper = np.where(hidden, np.inf, pub_hi)
    variable = hidden | (lower < upper)
    var_ids = np.flatnonzero(variable)
    lo_out = np.full(n, np.nan)
    hi_out = np.full(n, np.nan)
    if var_ids.size == 0:
        return AttackerIntervals(lo_out, hi_out, 0, 0, 0)

    csc = matrix.tocsc()
    fixed_ids = np.flatnonzero(~variable)
    rhs = -(csc[:, fixed_ids] @ exact[fixed_ids])
    a_var = sp.csr_matrix(csc[:, var_ids])
    touched = np.flatnonzero(np.diff(a_var.indptr) > 0)
    a_var = sp.csr_matrix(a_var[touched])
    rhs = rhs[touched]

    n_var, n_row = var_ids.size, touched.size
    incidence = sp.csr_matrix(
        (np.ones(a_var.nnz), a_var.indices, a_var.indptr), shape=(n_row, n_var)
    )
    graph = sp.bmat([[None, incidence.T], [incidence, None]], format="csr")
    count, labels = connected_components(graph, directed=False)
    var_labels, row_labels = labels[:n_var], labels[n_var:]
    var_order = np.argsort(var_labels, kind="stable")
    row_order = np.argsort(row_labels, kind="stable")
    var_bounds = np.searchsorted(var_labels[var_order], np.arange(count + 1))
    row_bounds = np.searchsorted(row_labels[row_order], np.arange(count + 1))

    lps = 0
    largest = 0
    components = 0
    a_csc = a_var.tocsc()
    for label in range(count):
        cols = var_order[var_bounds[label] : var_bounds[label + 1]]
        if cols.size == 0 or not hidden[var_ids[cols]].any():
            continue
        rows = row_order[row_bounds[label] : row_bounds[label + 1]]
        components += 1
        largest = max(largest, int(cols.size))
        sub = sp.csr_matrix(a_csc[:, cols][rows])
        ids = var_ids[cols]
        lo, hi, solved = _component_bounds(
            sub,
            rhs[rows],
            lower[ids],
            upper[ids],
            exact[ids],
            hidden[ids],
            integer=integer,
        )
        lps += solved
        lo_out[ids] = lo
        hi_out[ids] = hi

    lo_out[~hidden] = np.nan
    hi_out[~hidden] = np.nan
    return AttackerIntervals(lo_out, hi_out, components, largest, lps)


def _implied_bounds(
    matrix: sp.csr_matrix,
    rhs: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    rounds: int = 4,
) -> tuple[FloatArray, FloatArray]:
    """Valid outer bounds by propagating each equation (coefficients are +1 / -1)."""
    lo, hi = lower.copy(), upper.copy()
    coo = matrix.tocoo()
    r, c, a = coo.row, coo.col, coo.data
    n_row = matrix.shape[0]
    for _ in range(rounds):
        # smallest / largest possible value of each term a_rc * x_c
        term_min = np.where(a > 0, a * lo[c], a * hi[c])
        term_max = np.where(a > 0, a * hi[c], a * lo[c])
        inf_min = np.isinf(term_min)
        inf_max = np.isinf(term_max)
        sum_min = np.bincount(r, np.where(inf_min, 0.0, term_min), n_row)
        sum_max = np.bincount(r, np.where(inf_max, 0.0, term_max), n_row)
        n_inf_min = np.bincount(r, inf_min.astype(np.float64), n_row)
        n_inf_max = np.bincount(r, inf_max.astype(np.float64), n_row)
        # the other terms of the row lie in [others_min, others_max]; a_rc x_c = b - others
        others_min = np.where(
            n_inf_min[r] - inf_min > 0, -np.inf, sum_min[r] - np.where(inf_min, 0.0, term_min)
        )
        others_max = np.where(
            n_inf_max[r] - inf_max > 0, np.inf, sum_max[r] - np.where(inf_max, 0.0, term_max)
        )
        with np.errstate(invalid="ignore"):
            term_hi = rhs[r] - others_min
            term_lo = rhs[r] - others_max
            cand_hi = np.where(a > 0, term_hi / a, term_lo / a)
            cand_lo = np.where(a > 0, term_lo / a, term_hi / a)
        new_hi = hi.copy()
        new_lo = lo.copy()
        np.minimum.at(new_hi, c, np.nan_to_num(cand_hi, nan=np.inf))
        np.maximum.at(new_lo, c, np.nan_to_num(cand_lo, nan=-np.inf))
        if np.array_equal(new_hi, hi) and np.array_equal(new_lo, lo):
            break
        lo, hi = new_lo, new_hi
    return lo, hi


def _solve(
    objective: FloatArray,
    matrix: sp.csr_matrix,
    rhs: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> FloatArray | None:
    """Minimise objective @ x; the optimal x, or None when unbounded below."""
    result = linprog(
        objective,
        A_eq=matrix,
        b_eq=rhs,
        bounds=np.column_stack([lower, upper]),
        method="highs",
    )
    if result.status == 3:
        return None
    if result.status != 0 or result.x is None:
        raise AuditSolverError(f"audit LP failed: {result.message}")
    return np.asarray(result.x, dtype=np.float64)


def _component_bounds(
    matrix: sp.csr_matrix,
    rhs: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    truth: FloatArray,
    hidden: BoolArray,
    *,
    integer: bool,
) -> tuple[FloatArray, FloatArray, int]:
    """Bounds of every variable of one component: inner points vs implied bounds, then LPs."""
    n = truth.size
    outer_lo, outer_hi = _implied_bounds(matrix, rhs, lower, upper)
    inner_lo, inner_hi = truth.copy(), truth.copy()
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    solved = 0

    def settle() -> None:
        lo[:] = np.where(np.isnan(lo) & (inner_lo <= outer_lo + _TOLERANCE), outer_lo, lo)
        hi[:] = np.where(np.isnan(hi) & (inner_hi >= outer_hi - _TOLERANCE), outer_hi, hi)

    def record(point: FloatArray) -> None:
        np.minimum(inner_lo, point, out=inner_lo)
        np.maximum(inner_hi, point, out=inner_hi)

    settle()
    if integer:
        return _integer_bounds(matrix, rhs, lower, upper, hidden, outer_hi)
    targets = hidden
    # Two cheap LPs first: their vertices settle many bounds at once.
    for sign in (1.0, -1.0):
        open_ = targets & np.isnan(lo if sign > 0 else hi)
        if open_.sum() > 1:
            point = _solve(np.where(open_, sign, 0.0), matrix, rhs, lower, upper)
            solved += 1
            if point is not None:
                record(point)
                settle()
    for j in np.flatnonzero(targets):
        for sign in (1.0, -1.0):
            bound = lo if sign > 0 else hi
            if not np.isnan(bound[j]):
                continue
            objective = np.zeros(n)
            objective[j] = sign
            point = _solve(objective, matrix, rhs, lower, upper)
            solved += 1
            if point is None:
                bound[j] = -np.inf if sign > 0 else np.inf
                continue
            record(point)
            bound[j] = point[j]
            settle()
    lo = np.ceil(lo - _TOLERANCE)
    hi = np.where(np.isinf(hi), hi, np.floor(hi + _TOLERANCE))
    return lo, hi, solved


def _integer_bounds(
    matrix: sp.csr_matrix,
    rhs: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    hidden: BoolArray,
    outer_hi: FloatArray,
) -> tuple[FloatArray, FloatArray, int]:
    """Integer attacker bounds by MILP (small components only: two MILPs per hidden cell)."""
    n = lower.size
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    solved = 0
    constraint = LinearConstraint(matrix, rhs, rhs)
    integrality = np.ones(n)
    for j in np.flatnonzero(hidden):
        for sign in (1.0, -1.0):
            objective = np.zeros(n)
            objective[j] = sign
            cap = upper.copy()
            if sign < 0 and math.isinf(outer_hi[j]):
                # Unbounded LP direction: the integer problem is unbounded as well, since the
                # equations have integer (+1/-1) coefficients and a rational recession ray.
                probe = _solve(objective, matrix, rhs, lower, upper)
                solved += 1
                if probe is None:
                    hi[j] = np.inf
                    continue
            result = milp(
                objective,
                constraints=constraint,
                integrality=integrality,
                bounds=Bounds(lower, cap),
            )
            solved += 1
            if result.status != 0 or result.x is None:
                raise AuditSolverError(f"integer audit failed: {result.message}")
            if sign > 0:
                lo[j] = round(float(result.x[j]))
            else:
                hi[j] = round(float(result.x[j]))
    return lo, hi, solved
