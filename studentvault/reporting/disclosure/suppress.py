"""Choosing which cells to suppress: primary cells, then complements until the audit passes.

Two methods produce a suppression pattern (a boolean mask over the flattened cells):

- ``exact_pattern``: the cheapest pattern by integer programming (``scipy.optimize.milp``,
  HiGHS), with the attacker's LPs turned into Benders "capacity" cuts in the way of
  Fischetti & Salazar-Gonzalez: solve the master MILP, run the two attacker LPs of every
  sensitive cell, add a cut for each cell left too narrow, repeat. For small tables.
- ``heuristic_pattern``: line repair (every equation with a hidden cell gets a second hidden
  cell, and enough hidden mass to cover the widest protection it must give), then the full
  audit; cells it finds too narrow get one more complement in one of their lines, and so on
  until it passes, widening to every eligible cell of the failing lines if it stalls. Optional
  pruning un-hides complements the audit shows are not needed. For any size.
- ``certified_pattern``: for large tables (engine: over 5,000 cells): line repair and box
  completion, driven by the box certificate (certificate.py) instead of LPs, so that the
  audit can prove protection without whole-table LPs. See docs/adr/0007.

Invariants:
- Sensitive cells and cells the caller forces hidden are always hidden.
- Only eligible cells are ever added as complements.
- Neither method is trusted: ``protect_table`` (engine.py) audits whatever pattern it gets.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from .audit import PatternAudit, audit_pattern, restricted_bounds_many
from .certificate import box_bounds
from .table import Dimension

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


# Heuristic for large tables: restricted LPs are tried once at most this many cells are left
# unproven by the box certificate (two warm-started LPs each, one model per slice).
RESTRICTED_MAX_CELLS = 64


@dataclass(frozen=True)
class SuppressionProblem:
    """Everything the methods need, over the flattened cells of one table."""

    matrix: sp.csr_matrix
    values: IntArray
    sensitive: BoolArray  # primary-suppressed cells: must be hidden and protected
    required_width: IntArray  # > 0 exactly on sensitive cells
    eligible: BoolArray  # may be hidden as a complement
    forced: BoolArray  # hidden for another reason (e.g. base suppressed); needs no width
    published_lo: FloatArray | None = None  # for cells published as an interval (coded rates)
    published_hi: FloatArray | None = None
    dimensions: tuple[Dimension, ...] | None = None  # given: audits run in fast mode
    hidden_upper: FloatArray | None = None  # what the attacker knows bounds a hidden cell

    @property
    def must_hide(self) -> BoolArray:
        return self.sensitive | self.forced

    def cost(self) -> FloatArray:
        """Cells first, then students: one per cell plus a fraction of its count below 1."""
        total = float(self.values.sum()) + 1.0
        return 1.0 + self.values.astype(np.float64) / total

    def audit(
        self,
        hidden: BoolArray,
        *,
        integer: bool = False,
        fast: bool = True,
        only: BoolArray | None = None,
    ) -> PatternAudit:
        """Audit a pattern; ``only`` limits the verdict to those sensitive cells."""
        checked = hidden & self.sensitive if only is None else hidden & self.sensitive & only
        return audit_pattern(
            self.matrix,
            self.values,
            hidden,
            np.where(checked, self.required_width, 0).astype(np.int64),
            published_lo=self.published_lo,
            published_hi=self.published_hi,
            integer=integer,
            dimensions=self.dimensions if fast else None,
            hidden_upper=self.hidden_upper,
        )


class _Lines:
    """Equations (lines) of the table as lists of member cells, with hidden counts kept live."""

    def __init__(self, problem: SuppressionProblem, hidden: BoolArray) -> None:
        csr = problem.matrix
        self.problem = problem
        self.hidden = hidden
        self.indptr = csr.indptr
        self.members = csr.indices
        self.coef = csr.data
        csc = csr.tocsc()
        self.cell_indptr = csc.indptr
        self.cell_rows = csc.indices
        self.n_rows = csr.shape[0]
        row_of_entry = np.repeat(np.arange(self.n_rows), np.diff(self.indptr))
        self.hidden_count = np.bincount(
            row_of_entry, weights=hidden[self.members].astype(np.float64), minlength=self.n_rows
        ).astype(np.int64)

    def rows_of(self, cell: int) -> npt.NDArray[np.int32]:
        rows: npt.NDArray[np.int32] = self.cell_rows[
            self.cell_indptr[cell] : self.cell_indptr[cell + 1]
        ]
        return rows

    def line(self, row: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        start, end = self.indptr[row], self.indptr[row + 1]
        return self.members[start:end], self.coef[start:end]

    def hide(self, cell: int) -> None:
        if not self.hidden[cell]:
            self.hidden[cell] = True
            self.hidden_count[self.rows_of(cell)] += 1

    def deficit(self, row: int) -> tuple[bool, float]:
        """(violated, missing hidden mass) for one line."""
        if self.hidden_count[row] == 0:
            return False, 0.0
        members, coef = self.line(row)
        hidden = self.hidden[members]
        if hidden.sum() == 1:
            need = float(self.problem.required_width[members[hidden]].max())
            return True, need
        parent_hidden = bool(hidden[coef > 0].any())
        if parent_hidden:
            return False, 0.0
        mass = float(self.problem.values[members[hidden]].sum())
        need = float(self.problem.required_width[members[hidden]].max())
        return mass < need, need - mass

    def new_problems(self, cell: int, exclude: int) -> int:
        rows = self.rows_of(cell)
        return int(np.count_nonzero((self.hidden_count[rows] == 0) & (rows != exclude)))


def _best_candidate(lines: _Lines, row: int, deficit: float, *, widen: bool) -> int | None:
    members, coef = lines.line(row)
    eligible = lines.problem.eligible[members] & ~lines.hidden[members]
    if not eligible.any():
        return None
    best: tuple[float, ...] | None = None
    chosen: int | None = None
    for cell, a in zip(members[eligible], coef[eligible], strict=True):
        value = float(lines.problem.values[cell])
        covers = a > 0 or value >= deficit
        key = (
            0.0 if covers else 1.0,
            float(lines.new_problems(int(cell), row)),
            -value if widen else value,
        )
        if best is None or key < best:
            best, chosen = key, int(cell)
    return chosen


def _repair_lines(lines: _Lines, rows: npt.ArrayLike) -> None:
    queue = deque(int(r) for r in np.unique(np.asarray(rows, dtype=np.int64)))
    queued = np.zeros(lines.n_rows, dtype=bool)
    queued[list(queue)] = True
    while queue:
        row = queue.popleft()
        queued[row] = False
        violated, deficit = lines.deficit(row)
        if not violated:
            continue
        cell = _best_candidate(lines, row, deficit, widen=False)
        if cell is None:
            continue  # nothing left to hide here; the audit decides
        lines.hide(cell)
        for other in lines.rows_of(cell):
            if not queued[other]:
                queued[other] = True
                queue.append(int(other))


def heuristic_pattern(
    problem: SuppressionProblem,
    *,
    prune: bool = False,
    max_rounds: int = 200,
    start: BoolArray | None = None,
) -> tuple[BoolArray, PatternAudit]:
    """A pattern that passes the audit when one exists among eligible cells (see module doc).

    ``start``: cells already chosen (e.g. by ``certified_pattern``), kept hidden.
    """
    hidden = problem.must_hide.copy() if start is None else start | problem.must_hide
    lines = _Lines(problem, hidden)
    _repair_lines(lines, np.flatnonzero(lines.hidden_count > 0))
    audit = problem.audit(hidden)
    rounds = 0
    while not audit.passed and rounds < max_rounds:
        rounds += 1
        before = int(hidden.sum())
        touched: list[int] = []
        for cell in audit.unprotected:
            rows = lines.rows_of(int(cell))
            if rounds > 10:  # stalling: open every line of the cell
                for row in rows:
                    members, _ = lines.line(int(row))
                    for member in members[problem.eligible[members] & ~hidden[members]]:
                        lines.hide(int(member))
                        touched.extend(int(r) for r in lines.rows_of(int(member)))
                continue
            masses = [
                float(problem.values[lines.line(int(r))[0]][hidden[lines.line(int(r))[0]]].sum())
                for r in rows
            ]
            for row in (int(rows[i]) for i in np.argsort(masses, kind="stable")):
                candidate = _best_candidate(lines, row, 0.0, widen=True)
                if candidate is not None:
                    lines.hide(candidate)
                    touched.extend(int(r) for r in lines.rows_of(candidate))
                    break
        if int(hidden.sum()) == before:
            break  # nothing eligible left to hide around the failing cells
        _repair_lines(lines, touched)
        # Hiding more cells only widens every interval (old feasible tables stay feasible),
        # so only the cells that failed need checking again.
        failing = np.zeros(hidden.size, dtype=bool)
        failing[audit.unprotected] = True
        audit = problem.audit(hidden, only=failing)
    if prune and audit.passed:
        hidden, audit = _prune(problem, hidden, problem.audit(hidden))
    return hidden, audit


def box_failures(problem: SuppressionProblem, hidden: BoolArray) -> BoolArray:
    """Sensitive cells the box certificate (certificate.py) does not prove wide enough."""
    if problem.dimensions is None:
        raise ValueError("box certificates need the table's dimensions")
    values = problem.values.astype(np.float64)
    pub_lo = values if problem.published_lo is None else problem.published_lo
    pub_hi = values if problem.published_hi is None else problem.published_hi
    upper_hidden = np.inf if problem.hidden_upper is None else problem.hidden_upper
    lower = np.where(hidden, 0.0, pub_lo)
    upper = np.where(hidden, upper_hidden, pub_hi)
    targets = problem.sensitive & hidden
    lo, hi = box_bounds(
        problem.dimensions, values, lower, upper, targets, required=problem.required_width
    )
    failing: BoolArray = targets & ((hi - lo) < problem.required_width)
    if 0 < int(failing.sum()) <= RESTRICTED_MAX_CELLS:
        # the few left: restricted LPs (audit.restricted_bounds), also an inner bound
        found = restricted_bounds_many(
            problem.matrix, values, lower, upper, problem.dimensions, np.flatnonzero(failing)
        )
        for cell, (lo_r, hi_r) in found.items():
            if max(hi[cell], hi_r) - min(lo[cell], lo_r) >= problem.required_width[cell]:
                failing[cell] = False
    return failing


def _box_completion(problem: SuppressionProblem, lines: _Lines, failing: BoolArray) -> list[int]:
    """Hide the margin cells that complete a fan of boxes around each failing cell.

    Axes: the spread dimension is the one with most codes, ``a`` the next; the fan runs over
    the codes ``q`` of the last dimension. A fan with ``a``'s partner = its total needs the
    cells (s, total_a, c_b) and (s, total_a, q) hidden for every q whose (s, c_a, q) is hidden
    (certificate.py); this hides those that are eligible. A failing cell on a's total gets the
    smallest other margins of its line, until they hold twice its required width. Returns the
    cells hidden (3-D tables only; others return nothing).
    """
    dims = problem.dimensions
    assert dims is not None
    if len(dims) != 3:
        return []
    shape = tuple(len(d.codes) for d in dims)
    spread, axis_a, axis_b = sorted(range(3), key=lambda k: -shape[k])
    perm = (spread, axis_a, axis_b)
    dim_a = dims[axis_a]
    flat_ids = np.transpose(np.arange(problem.values.size).reshape(shape), perm)
    hidden3 = lines.hidden[flat_ids]
    fail3 = failing[flat_ids]
    fail3[:, :, 0] = False  # fans need a leaf of b
    under_total = np.array([p == 0 for p in dim_a.parent])  # leaves directly under the total
    leaf_fail = fail3 & under_total[None, :, None]
    row_fail = leaf_fail.any(axis=2)  # (s, a): some failing cell in that line
    need = (row_fail[:, :, None] & hidden3).any(axis=1) | leaf_fail.any(axis=1)  # (s, q)
    need[:, 0] = False
    added: list[int] = []
    for s_code, q in zip(*np.nonzero(need), strict=True):
        flat = int(flat_ids[s_code, 0, q])
        if not lines.hidden[flat] and problem.eligible[flat]:
            lines.hide(flat)
            added.append(flat)
    values = problem.values
    for s_code, q in zip(*np.nonzero(fail3[:, 0, :]), strict=True):
        margins = [int(flat_ids[s_code, 0, r]) for r in range(1, shape[axis_b]) if r != q]
        margins.sort(key=lambda f: values[f])
        mass = 0.0
        target = 2.0 * float(problem.required_width[flat_ids[s_code, 0, q]])
        for flat in margins:
            if mass >= target:
                break
            mass += float(values[flat])
            if not lines.hidden[flat] and problem.eligible[flat]:
                lines.hide(flat)
                added.append(flat)
    return added


def _lines_along(lines: _Lines, spread_stride: int, spread_codes: int) -> BoolArray:
    """Per line: does it run along the spread dimension (members differ only in that code)?"""
    members = lines.members.astype(np.int64)
    # a cell's position without its spread code (flat = before * block + code * stride + after)
    block = spread_stride * spread_codes
    rest = members % spread_stride + (members // block) * block
    starts = lines.indptr[:-1]
    lo = np.minimum.reduceat(rest, starts)
    hi = np.maximum.reduceat(rest, starts)
    spread_lo = np.minimum.reduceat(members, starts)
    spread_hi = np.maximum.reduceat(members, starts)
    along: BoolArray = (lo == hi) & (spread_lo != spread_hi)
    return along


def _dilate_in_slice(
    problem: SuppressionProblem,
    lines: _Lines,
    cells: IntArray,
    spread_stride: int,
    spread_codes: int,
) -> list[int]:
    """Open the lines of failing cells inside their slice of the spread dimension: hide every
    eligible cell of those lines; when they are already fully hidden, go one step further and
    hide the smallest eligible cell of each line through their hidden members (e.g. another
    grade total when the cell's whole grade is hidden and smaller than the minimum). Lines
    along the spread dimension (every school) are left alone."""
    hidden = lines.hidden
    along = _lines_along(lines, spread_stride, spread_codes)

    def in_slice(row: int) -> bool:
        return not along[row]

    added: list[int] = []
    for cell in cells.tolist():
        opened = False
        seconds: set[int] = set()
        for row in lines.rows_of(cell):
            if not in_slice(int(row)):
                continue
            members, _ = lines.line(int(row))
            for member in members[problem.eligible[members] & ~hidden[members]]:
                lines.hide(int(member))
                added.append(int(member))
                opened = True
            seconds.update(int(m) for m in members[hidden[members]] if int(m) != cell)
        if opened:
            continue
        for member in sorted(seconds):
            for row in lines.rows_of(member):
                if not in_slice(int(row)):
                    continue
                members, _ = lines.line(int(row))
                free = members[problem.eligible[members] & ~hidden[members]]
                if free.size:
                    pick = int(free[np.argmin(problem.values[free])])
                    lines.hide(pick)
                    added.append(pick)
    return added


def _open_total_slice(problem: SuppressionProblem, lines: _Lines, failing: BoolArray) -> list[int]:
    """Last step of box completion: let the total of the spread dimension compensate.

    A cell whose slice cannot be balanced by its siblings (too few of them hide the same
    positions) is balanced by the total's slice instead (the +mu t d compensator of
    certificate.py): hide, in the total's slice, the cell's position and the fan corners
    around it (its margin in ``a``, and both for every q hidden next to the cell). Costs a few
    district-level cells; used only when nothing inside the slices helps any more.
    """
    dims = problem.dimensions
    assert dims is not None
    shape = tuple(len(d.codes) for d in dims)
    spread = int(np.argmax(shape))
    rest = sorted((k for k in range(len(shape)) if k != spread), key=lambda k: -shape[k])
    hidden = lines.hidden
    wanted: set[int] = set()
    for cell in np.flatnonzero(failing).tolist():
        index = [int(i) for i in np.unravel_index(cell, shape)]
        base = list(index)
        base[spread] = 0
        wanted.add(int(np.ravel_multi_index(base, shape)))
        if len(rest) < 2:
            continue
        axis_a, axis_b = rest
        for q in range(len(dims[axis_b].codes)):
            beside = list(index)
            beside[axis_b] = q
            if q != index[axis_b] and not hidden[int(np.ravel_multi_index(beside, shape))]:
                continue
            for code_a in {int(index[axis_a]), 0}:
                corner = list(base)
                corner[axis_a] = code_a
                corner[axis_b] = q
                wanted.add(int(np.ravel_multi_index(corner, shape)))
    added: list[int] = []
    for flat in sorted(wanted):
        if not hidden[flat] and problem.eligible[flat]:
            lines.hide(flat)
            added.append(flat)
    return added


def certified_pattern(
    problem: SuppressionProblem, *, max_rounds: int = 8
) -> tuple[BoolArray, BoolArray]:
    """A pattern for large tables whose protection the box certificate proves without LP.

    Line repair and box completion (``_box_completion``) around every sensitive cell, then
    rounds for the cells the certificate (with restricted LPs once few are left) cannot
    prove: box completion again; from the second round on, their lines inside their slice of
    the spread dimension are opened (``_dilate_in_slice``); from the third, the total's slice
    takes part (``_open_total_slice``). Returns (hidden, failing): the sensitive cells still
    unproven after ``max_rounds`` (the caller then runs the audit-driven heuristic).
    """
    dims = problem.dimensions
    if dims is None:
        raise ValueError("certified_pattern needs the table's dimensions")
    hidden = problem.must_hide.copy()
    lines = _Lines(problem, hidden)
    _repair_lines(lines, np.flatnonzero(lines.hidden_count > 0))
    shape = tuple(len(d.codes) for d in dims)
    spread = int(np.argmax(shape))
    strides = [int(np.prod(shape[k + 1 :])) for k in range(len(shape))]
    # complete boxes around every sensitive cell before the first certificate
    first = _box_completion(problem, lines, problem.sensitive.copy())
    if first:
        _repair_lines(lines, np.unique(np.concatenate([lines.rows_of(c) for c in first])))
    failing = box_failures(problem, hidden)
    for round_ in range(max_rounds):
        if not failing.any():
            break
        cells = np.flatnonzero(failing)
        added = _box_completion(problem, lines, failing)
        if round_ >= 1 or not added:
            added.extend(_dilate_in_slice(problem, lines, cells, strides[spread], shape[spread]))
        if round_ >= 2 or not added:
            added.extend(_open_total_slice(problem, lines, failing))
        if not added:
            break
        touched = np.unique(np.concatenate([lines.rows_of(c) for c in added]))
        _repair_lines(lines, touched)
        failing = box_failures(problem, hidden)
    return hidden, failing


def _prune(
    problem: SuppressionProblem, hidden: BoolArray, audit: PatternAudit
) -> tuple[BoolArray, PatternAudit]:
    """Un-hide complements, largest first, whenever the audit still passes without them."""
    complements = np.flatnonzero(hidden & ~problem.must_hide)
    for cell in complements[np.argsort(-problem.values[complements], kind="stable")]:
        trial = hidden.copy()
        trial[cell] = False
        trial_audit = problem.audit(trial)
        if trial_audit.passed:
            hidden, audit = trial, trial_audit
    return hidden, audit


def _attacker_cut(
    problem: SuppressionProblem,
    hidden: BoolArray,
    cell: int,
    cap: float,
) -> tuple[FloatArray, float, float] | None:
    """(g, rhs, width): width(y) <= K + g @ y for all y, equality at this pattern; rhs = w - K."""
    values = problem.values.astype(np.float64)
    pub_lo = values if problem.published_lo is None else problem.published_lo
    pub_hi = values if problem.published_hi is None else problem.published_hi
    lower = np.where(hidden, 0.0, pub_lo)
    n = values.size
    hidden_cap = np.full(n, cap)
    if problem.hidden_upper is not None:
        hidden_cap = np.minimum(hidden_cap, problem.hidden_upper)
    upper = np.where(hidden, hidden_cap, pub_hi)
    bounds = np.column_stack([lower, upper])
    zeros = np.zeros(problem.matrix.shape[0])
    duals_l = np.zeros(n)
    duals_u = np.zeros(n)
    width = 0.0
    for sign in (1.0, -1.0):
        objective = np.zeros(n)
        objective[cell] = sign
        result = linprog(objective, A_eq=problem.matrix, b_eq=zeros, bounds=bounds, method="highs")
        if result.status != 0:
            raise RuntimeError(f"attacker LP failed: {result.message}")
        duals_l += np.asarray(result.lower.marginals, dtype=np.float64)
        duals_u += np.asarray(result.upper.marginals, dtype=np.float64)
        width += -sign * float(result.x[cell])
    # width(y) <= -sum(l_c(y) * dl_c + u_c(y) * du_c) with l_c = lo_c (1 - y_c),
    # u_c = hi_c + (cap - hi_c) y_c   (weak LP duality; the duals do not depend on the bounds)
    constant = -float(duals_l @ pub_lo + duals_u @ pub_hi)
    gain = duals_l * pub_lo - duals_u * (hidden_cap - pub_hi)
    gain[np.abs(gain) < 1e-9] = 0.0
    required = float(problem.required_width[cell])
    if width >= required - 1e-6:
        return None
    return gain, required - constant, width


def exact_pattern(
    problem: SuppressionProblem,
    *,
    time_limit: float = 20.0,
    max_iterations: int = 500,
) -> BoolArray | None:
    """The cheapest pattern protecting every sensitive cell, or None when out of time.

    The attacker here may not exceed the largest cell of the table (``cap``), so a pattern it
    accepts is at least as safe against the unbounded attacker of the audit.
    """
    start = time.monotonic()
    n = problem.values.size
    cap = float(problem.values.max() + max(int(problem.required_width.max()), 1))
    must = problem.must_hide
    lower = must.astype(np.float64)
    upper = (must | problem.eligible).astype(np.float64)
    cuts: list[FloatArray] = []
    rhs: list[float] = []
    csr = problem.matrix
    for row in range(csr.shape[0]):
        members = csr.indices[csr.indptr[row] : csr.indptr[row + 1]]
        if problem.sensitive[members].any():
            cut = np.zeros(n)
            cut[members] = 1.0
            cuts.append(cut)
            rhs.append(2.0)  # a hidden cell alone in its line is recomputed exactly
    cost = problem.cost()
    for _ in range(max_iterations):
        remaining = time_limit - (time.monotonic() - start)
        if remaining <= 0:
            return None
        constraints = [LinearConstraint(np.vstack(cuts), np.array(rhs), np.inf)] if cuts else []
        result = milp(
            cost,
            constraints=constraints,
            integrality=np.ones(n),
            bounds=Bounds(lower, upper),
            options={"time_limit": remaining, "mip_rel_gap": 1e-7},
        )
        if result.status != 0 or result.x is None:
            return None
        hidden = np.asarray(result.x > 0.5)
        added = 0
        for cell in np.flatnonzero(problem.sensitive):
            attacker = _attacker_cut(problem, hidden, int(cell), cap)
            if attacker is not None:
                gain, need, _ = attacker
                cuts.append(gain)
                rhs.append(need)
                added += 1
        if added == 0:
            return hidden
    return None
