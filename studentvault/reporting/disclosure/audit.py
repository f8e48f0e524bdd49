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
- Intervals flagged ``exact`` are exact LP bounds, never estimates: a bound is taken either
  from an LP optimum or where a feasible point (inner estimate) meets a valid implied bound
  (outer estimate), which proves it optimal. In fast mode other intervals are inner bounds
  (attained by constructed feasible tables or restricted LPs), so a verdict from them can only
  be stricter than the exact one. For 1-D, 2-D and 2-D-with-hierarchy tables the LP bounds
  are also the integer bounds; for 3-D tables they may be wider (the LP relaxation), see
  ``integer=True`` and docs/adr/0007.
- Only cells linked to a suppressed cell through equations with suppressed members matter, so
  each LP is restricted to one connected component of suppressed cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

from .certificate import box_bounds
from .table import Dimension

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_TOLERANCE = 1e-6
# Components up to this many variables are solved with whole-component LPs.
_DIRECT_MAX_VARIABLES = 300
# Fast mode: a component with more variables than this is not solved by LP; its cells that the
# box certificate cannot prove are reported as not proven (unprotected), never as passed. One
# LP on the 58,000-variable component of the 1,000,000-student table took minutes.
FAST_LP_MAX_VARIABLES = 5_000
# Components up to this many variables are solved on one warm-started HiGHS model (highspy):
# built once, only the objective changes between the LPs of its cells. Column generation
# (cold scipy LPs on growing subsets) is kept beyond. 0 turns the warm-started path off.
WARM_MAX_VARIABLES = 20_000


class AuditSolverError(RuntimeError):
    """The LP solver failed on an audit problem (never treated as a pass)."""


@dataclass(frozen=True)
class AttackerIntervals:
    """Per-cell attacker bounds (NaN for published cells) and how they were obtained."""

    lo: FloatArray
    hi: FloatArray  # +inf when the attacker cannot bound the cell from above
    exact: BoolArray  # False: [lo, hi] is only proven to lie inside the attacker's interval
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
    dimensions: Sequence[Dimension] | None = None,
    hidden_upper: FloatArray | None = None,
) -> PatternAudit:
    """Audit a suppression pattern; ``required_width`` is 0 for cells that need no protection.

    With ``dimensions`` the audit runs in fast mode (see ``attacker_intervals``): the verdict
    is the same, but only the intervals of uncertified sensitive cells are exact.
    """
    intervals = attacker_intervals(
        matrix,
        values,
        hidden,
        published_lo=published_lo,
        published_hi=published_hi,
        integer=integer,
        required_width=None if dimensions is None or integer else required_width,
        dimensions=None if integer else dimensions,
        hidden_upper=hidden_upper,
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
    required_width: IntArray | None = None,
    dimensions: Sequence[Dimension] | None = None,
    hidden_upper: FloatArray | None = None,
) -> AttackerIntervals:
    """Attacker bounds for every hidden cell (see the module docstring).

    With ``required_width`` and ``dimensions`` given (fast mode), a sensitive cell that a box
    certificate (certificate.py) proves wide enough needs no LP, and complementary cells are
    not solved: their ``exact`` flag is False and [lo, hi] is then an interval the attacker
    provably cannot narrow further (the true attacker interval contains it). The other cells
    get exact LP bounds on components of at most FAST_LP_MAX_VARIABLES variables, else
    restricted-LP bounds (inner, ``exact`` False); a cell left too narrow fails the verdict.
    """
    n = values.size
    exact = values.astype(np.float64)
    pub_lo = exact if published_lo is None else published_lo
    pub_hi = exact if published_hi is None else published_hi
    lower = np.where(hidden, 0.0, pub_lo)
    upper = np.where(hidden, np.inf if hidden_upper is None else hidden_upper, pub_hi)
    variable = hidden | (lower < upper)
    var_ids = np.flatnonzero(variable)
    lo_out = np.full(n, np.nan)
    hi_out = np.full(n, np.nan)
    exact_out = np.zeros(n, dtype=bool)
    if var_ids.size == 0:
        return AttackerIntervals(lo_out, hi_out, exact_out, 0, 0, 0)

    fast = required_width is not None and dimensions is not None
    wanted = hidden.copy()
    cube_lo, cube_hi = exact.copy(), exact.copy()
    if required_width is not None and dimensions is not None:
        wanted &= required_width > 0
        cube_lo, cube_hi = box_bounds(
            dimensions, exact, lower, upper, wanted, required=required_width
        )
        wanted &= (cube_hi - cube_lo) < required_width

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
        ids = var_ids[cols]
        targets = wanted[ids] if fast else hidden[ids]
        if fast and (not targets.any() or cols.size > FAST_LP_MAX_VARIABLES):
            # nothing left to prove here, or too large for LP: keep the certificate's inner
            # interval (exact = False), widened by restricted LPs for the unproven cells; a
            # cell still too narrow then fails the verdict (not proven is never passed)
            lo_out[ids] = cube_lo[ids]
            hi_out[ids] = cube_hi[ids]
            assert dimensions is not None
            found = restricted_bounds_many(matrix, exact, lower, upper, dimensions, ids[targets])
            for cell, (lo_r, hi_r) in found.items():
                lps += 2
                lo_out[cell] = min(lo_out[cell], lo_r)
                hi_out[cell] = max(hi_out[cell], hi_r)
            continue
        if rows.size == 0:
            lo, hi = lower[ids].copy(), upper[ids].copy()
            inner_lo, inner_hi, solved = lo, hi, 0
        else:
            sub = sp.csr_matrix(a_csc[:, cols][rows])
            lo, hi, inner_lo, inner_hi, solved = _component_bounds(
                sub,
                rhs[rows],
                lower[ids],
                upper[ids],
                exact[ids],
                hidden[ids],
                integer=integer,
                targets=targets,
            )
        lps += solved
        known = ~np.isnan(lo) & ~np.isnan(hi)
        exact_out[ids] = known
        lo_out[ids] = np.where(known, lo, np.minimum(inner_lo, cube_lo[ids]))
        hi_out[ids] = np.where(known, hi, np.maximum(inner_hi, cube_hi[ids]))

    lo_out[~hidden] = np.nan
    hi_out[~hidden] = np.nan
    exact_out &= hidden
    return AttackerIntervals(lo_out, hi_out, exact_out, components, largest, lps)


# Restricted LPs (fast mode, cells of components too large for LP that the box certificate
# cannot prove): the cell's slice of the spread dimension and this many sibling slices vary,
# every other cell is held at its true value.
RESTRICTED_SLICES = 40


def restricted_bounds(
    matrix: sp.csr_matrix,
    values: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    dimensions: Sequence[Dimension],
    cell: int,
    slices: int = RESTRICTED_SLICES,
) -> tuple[float, float]:
    """(lo, hi) the cell provably reaches; see ``restricted_bounds_many``."""
    return restricted_bounds_many(
        matrix, values, lower, upper, dimensions, np.array([cell]), slices=slices
    )[cell]


def restricted_bounds_many(
    matrix: sp.csr_matrix,
    values: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    dimensions: Sequence[Dimension],
    cells: IntArray,
    slices: int | None = None,
) -> dict[int, tuple[float, float]]:
    """(lo, hi) each cell provably reaches: LP optima over a subset of the variables.

    Cells are grouped by their slice of the spread dimension (the one with most codes). For
    each group, only the variables of that slice and of ``slices`` sibling slices move; the
    others stay at their true values. Every solution is therefore a feasible table of the
    whole problem, so [lo, hi] lies inside the attacker's interval (an inner bound, like the
    certificate's; rounded inward to integers). Siblings are ranked by how many of the
    group's movable positions on the cells' lines they can move too, then by hidden mass.
    One warm-started HiGHS model per group; only the objective changes between its LPs.
    """
    count = RESTRICTED_SLICES if slices is None else slices
    shape = tuple(len(d.codes) for d in dimensions)
    spread = int(np.argmax(shape))
    dim = dimensions[spread]
    movable = lower < upper
    moved = np.moveaxis(movable.reshape(shape), spread, 0)
    mass = np.moveaxis((values * movable).reshape(shape), spread, 0)
    grids = np.meshgrid(*[np.arange(n) for k, n in enumerate(shape) if k != spread], indexing="ij")
    csc = matrix.tocsc()
    out: dict[int, tuple[float, float]] = {}
    groups: dict[int, list[int]] = {}
    for cell in cells.tolist():
        if not movable[cell]:
            out[cell] = (float(values[cell]), float(values[cell]))
            continue
        groups.setdefault(int(np.unravel_index(cell, shape)[spread]), []).append(cell)
    for code, members in groups.items():
        parent = dim.parent[code] if code != 0 else 0
        family = [k for k in dim.children[parent] if k != code]
        if code != 0 and parent == 0:
            family.append(0)
        # positions on the members' lines where their own slice can move
        near = np.zeros(grids[0].shape, dtype=bool) if grids else np.ones((), dtype=bool)
        for cell in members:
            index = np.unravel_index(cell, shape)
            other = [int(i) for k, i in enumerate(index) if k != spread]
            for grid, c in zip(grids, other, strict=True):
                near |= grid == c
        near &= moved[code]
        family_ids = np.array(family, dtype=np.int64)
        if family_ids.size:
            shared = (moved[family_ids] & near).reshape(family_ids.size, -1).sum(axis=1)
            weight = (mass[family_ids] * near).reshape(family_ids.size, -1).sum(axis=1)
            score = shared * (float(weight.max(initial=0.0)) + 1.0) + weight
            best = [family[i] for i in np.argsort(-score, kind="stable")[:count]]
        else:
            best = []
        select = np.zeros(shape[spread], dtype=bool)
        select[[code, *best]] = True
        shape_sel = [1] * len(shape)
        shape_sel[spread] = shape[spread]
        variables = (movable.reshape(shape) & select.reshape(shape_sel)).ravel()
        ids = np.flatnonzero(variables)
        rhs = -(matrix @ np.where(variables, 0.0, values))
        sub = sp.csr_matrix(csc[:, ids])
        rows = np.flatnonzero(np.diff(sub.indptr) > 0)
        sub = sp.csr_matrix(sub[rows])
        model = _WarmModel(sub, rhs[rows], lower[ids], upper[ids])
        for cell in members:
            target = int(np.searchsorted(ids, cell))
            bounds = []
            for sign in (1.0, -1.0):
                objective = np.zeros(ids.size)
                objective[target] = sign
                point = model.solve(objective)
                bounds.append(-sign * np.inf if point is None else float(point[target]))
            lo = math.ceil(bounds[0] - _TOLERANCE)
            hi = bounds[1] if math.isinf(bounds[1]) else math.floor(bounds[1] + _TOLERANCE)
            out[cell] = (float(lo), float(hi))
    return out


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


class _WarmModel:
    """One component's attacker LP held in HiGHS; each solve changes only the objective.

    The feasible set never changes, so the previous optimal basis stays primal feasible and
    HiGHS restarts from it (a few simplex pivots instead of a new solve). Presolve is off so
    the basis is kept. Other statuses are re-solved cold (``_solve``, which raises
    ``AuditSolverError`` when that fails too).
    """

    def __init__(
        self, matrix: sp.csr_matrix, rhs: FloatArray, lower: FloatArray, upper: FloatArray
    ) -> None:
        csc = sp.csc_matrix(matrix)
        n_row, n_col = csc.shape
        self.n = int(n_col)
        self.highs = highspy.Highs()  # type: ignore[no-untyped-call]
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("presolve", "off")
        lp = highspy.HighsLp()
        lp.num_col_ = self.n
        lp.num_row_ = int(n_row)
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = np.asarray(lower, dtype=np.float64)
        lp.col_upper_ = np.where(np.isinf(upper), highspy.kHighsInf, upper).astype(np.float64)
        lp.row_lower_ = np.asarray(rhs, dtype=np.float64)
        lp.row_upper_ = np.asarray(rhs, dtype=np.float64)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(np.float64)
        lp.a_matrix_.num_col_ = self.n
        lp.a_matrix_.num_row_ = int(n_row)
        status = self.highs.passModel(lp)
        if status == highspy.HighsStatus.kError:
            raise AuditSolverError("audit LP could not be loaded into HiGHS")
        self.cost = np.zeros(self.n)
        self.problem = (sp.csr_matrix(matrix), rhs, lower, upper)

    def solve(self, objective: FloatArray) -> FloatArray | None:
        """Minimise objective @ x; the optimal x, or None when unbounded below."""
        changed = np.flatnonzero(objective != self.cost).astype(np.int32)
        if changed.size:
            self.highs.changeColsCost(changed.size, changed, objective[changed].astype(np.float64))
            self.cost = objective.astype(np.float64)
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return np.asarray(self.highs.getSolution().col_value, dtype=np.float64)
        if status == highspy.HighsModelStatus.kUnbounded:
            return None
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            # the true table is feasible, so this means unbounded; let a cold LP confirm it
            return _solve(objective, *self.problem)
        # any other status (HiGHS sometimes stops a warm restart with "Unknown"): solve the
        # same LP cold; _solve raises if that fails too, never passing a cell unsolved
        return _solve(objective, *self.problem)


def _component_bounds(
    matrix: sp.csr_matrix,
    rhs: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    truth: FloatArray,
    hidden: BoolArray,
    *,
    integer: bool,
    targets: BoolArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, int]:
    """Exact bounds of the ``targets`` (default: every hidden variable) of one component.

    Bounds are settled where a feasible point meets an implied bound; the rest by LP: directly
    on small components, by column generation (``_column_generation``) on large ones.
    """
    n = truth.size
    outer_lo, outer_hi = _implied_bounds(matrix, rhs, lower, upper)
    if integer:
        lo_int, hi_int, count = _integer_bounds(matrix, rhs, lower, upper, hidden, outer_hi)
        return lo_int, hi_int, lo_int, hi_int, count
    inner_lo, inner_hi = truth.copy(), truth.copy()
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    solved = 0
    wanted = hidden if targets is None else targets

    def settle() -> None:
        lo[:] = np.where(np.isnan(lo) & (inner_lo <= outer_lo + _TOLERANCE), outer_lo, lo)
        hi[:] = np.where(np.isnan(hi) & (inner_hi >= outer_hi - _TOLERANCE), outer_hi, hi)

    def record(point: FloatArray) -> None:
        np.minimum(inner_lo, point, out=inner_lo)
        np.maximum(inner_hi, point, out=inner_hi)

    settle()
    model = _WarmModel(matrix, rhs, lower, upper) if n <= WARM_MAX_VARIABLES else None

    def solve(objective: FloatArray) -> FloatArray | None:
        if model is not None:
            return model.solve(objective)
        return _solve(objective, matrix, rhs, lower, upper)

    small = n <= _DIRECT_MAX_VARIABLES or model is not None
    if small:
        # Two cheap LPs first: their vertices settle many bounds at once.
        for sign in (1.0, -1.0):
            open_ = wanted & np.isnan(lo if sign > 0 else hi)
            if open_.sum() > 1:
                point = solve(np.where(open_, sign, 0.0))
                solved += 1
                if point is not None:
                    record(point)
                    settle()
    generator = None if small else _ColumnGeneration(matrix, rhs, lower, upper, truth)
    for j in np.flatnonzero(wanted):
        for sign in (1.0, -1.0):
            bound = lo if sign > 0 else hi
            if not np.isnan(bound[j]):
                continue
            if generator is None:
                objective = np.zeros(n)
                objective[j] = sign
                point = solve(objective)
                solved += 1
            else:
                point, count = generator.optimum(int(j), sign)
                solved += count
            if point is None:
                bound[j] = -np.inf if sign > 0 else np.inf
                continue
            record(point)
            bound[j] = point[j]
            settle()
    lo = np.ceil(lo - _TOLERANCE) + 0.0
    hi = np.where(np.isinf(hi), hi, np.floor(hi + _TOLERANCE)) + 0.0
    inner_lo = np.ceil(inner_lo - _TOLERANCE) + 0.0
    inner_hi = np.floor(inner_hi + _TOLERANCE) + 0.0
    return lo, hi, inner_lo, inner_hi, solved


class _ColumnGeneration:
    """Exact LP optimum of one variable over a large component, solving only small LPs.

    Start from the variables sharing an equation with the target, the others held at their
    true values (so every restricted solution is feasible for the whole component). Price the
    held variables with the duals of the restricted LP: one whose reduced cost shows it could
    improve the objective joins the LP. When none can, the restricted optimum is the optimum
    of the whole component (LP optimality conditions hold for every variable).
    """

    def __init__(
        self,
        matrix: sp.csr_matrix,
        rhs: FloatArray,
        lower: FloatArray,
        upper: FloatArray,
        truth: FloatArray,
    ) -> None:
        self.csr = matrix
        self.csc = matrix.tocsc()
        self.rhs = rhs
        self.lower = lower
        self.upper = upper
        self.truth = truth

    def neighbours(self, columns: IntArray) -> IntArray:
        rows = np.unique(self.csc[:, columns].indices)
        return np.unique(np.concatenate([columns, self.csr[rows].indices])).astype(np.int64)

    def optimum(self, target: int, sign: float) -> tuple[FloatArray | None, int]:
        n = self.truth.size
        columns = self.neighbours(np.array([target]))
        solved = 0
        while True:
            in_set = np.zeros(n, dtype=bool)
            in_set[columns] = True
            local = self.csc[:, columns]
            rows = np.unique(local.indices)
            restricted = sp.csr_matrix(local[rows])
            held = self.csc[rows][:, ~in_set]
            rhs = self.rhs[rows] - held @ self.truth[~in_set]
            objective = np.zeros(columns.size)
            objective[np.searchsorted(columns, target)] = sign
            result = linprog(
                objective,
                A_eq=restricted,
                b_eq=rhs,
                bounds=np.column_stack([self.lower[columns], self.upper[columns]]),
                method="highs",
            )
            solved += 1
            if result.status == 3:
                return None, solved
            if result.status != 0 or result.x is None:
                raise AuditSolverError(f"audit LP failed: {result.message}")
            duals = np.asarray(result.eqlin.marginals, dtype=np.float64)
            reduced = -(self.csc[rows].T @ duals)  # objective is zero outside the set
            can_rise = (reduced < -_TOLERANCE) & (self.truth < self.upper - _TOLERANCE)
            can_fall = (reduced > _TOLERANCE) & (self.truth > self.lower + _TOLERANCE)
            entering = np.flatnonzero((can_rise | can_fall) & ~in_set)
            if entering.size == 0:
                point = self.truth.copy()
                point[columns] = result.x
                return point, solved
            columns = np.union1d(columns, self.neighbours(entering.astype(np.int64)))


def _integer_bounds(
    matrix: sp.csr_matrix,
    rhs: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    hidden: BoolArray,
    outer_hi: FloatArray,
) -> tuple[FloatArray, FloatArray, int]:
    """Integer attacker bounds by MILP (small components only: two MILPs per hidden cell).

    HiGHS refuses some MILPs with free upper bounds, so infinite bounds are capped far above
    any vertex of the LP (the LP maximum of each cell is computed first: when it is unbounded,
    so is the integer problem, the equations having +1/-1 coefficients).
    """
    n = lower.size
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    solved = 0
    constraint = LinearConstraint(matrix, rhs, rhs)
    integrality = np.ones(n)
    scale = float(np.abs(rhs).sum() + np.abs(lower).sum() + 1.0)
    for j in np.flatnonzero(hidden):
        objective = np.zeros(n)
        objective[j] = -1.0
        probe = _solve(objective, matrix, rhs, lower, upper)
        solved += 1
        if probe is None:
            hi[j] = np.inf
        cap = 1000.0 * max(scale, float(np.max(np.abs(probe))) if probe is not None else 0.0)
        capped = np.where(np.isinf(upper), cap, upper)
        for sign in (1.0, -1.0) if probe is not None else (1.0,):
            objective = np.zeros(n)
            objective[j] = sign
            result = milp(
                objective,
                constraints=constraint,
                integrality=integrality,
                bounds=Bounds(lower, capped),
            )
            solved += 1
            if result.status != 0 or result.x is None:
                raise AuditSolverError(f"integer audit failed: {result.message}")
            if sign > 0:
                lo[j] = round(float(result.x[j]))
            else:
                hi[j] = round(float(result.x[j]))
    del outer_hi  # implied bounds are not needed: the LP probe decides unboundedness
    return lo, hi, solved
