"""Box certificates and restricted LPs must never claim more than the exact LP audit allows.

A certificate is a proof: every value it reports for a hidden cell is attained by a feasible
table, so it must lie inside the attacker's exact LP interval, and a cell it certifies as
protected must be protected by the exact audit too. These tests try to break that on random
tables, patterns, published intervals and hierarchies, and on hand-made traps.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studentvault.reporting.disclosure import (
    CellKind,
    CountTable,
    Dimension,
    audit_pattern,
    build_problem,
    get_rule_set,
)
from studentvault.reporting.disclosure import audit as audit_module
from studentvault.reporting.disclosure import certificate as certificate_module
from studentvault.reporting.disclosure.audit import restricted_bounds
from studentvault.reporting.disclosure.certificate import box_bounds
from studentvault.reporting.disclosure.suppress import box_failures, certified_pattern

try:
    from .test_disclosure_support import count_tables, oracle_bounds
except ImportError:
    from test_disclosure_support import count_tables, oracle_bounds  # type: ignore[no-redef]

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def exact_lp_bounds(
    table: CountTable, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The audit's exact LP path with arbitrary known bounds (published intervals)."""
    values = table.flat_values
    hidden = lower < upper
    result = audit_module.attacker_intervals(
        table.additivity_matrix(),
        values,
        hidden & (lower == 0) & np.isinf(upper),
        published_lo=np.where(hidden & ~((lower == 0) & np.isinf(upper)), lower, values),
        published_hi=np.where(hidden & ~((lower == 0) & np.isinf(upper)), upper, values),
    )
    return result.lo, result.hi


@st.composite
def patterns(draw: st.DrawFn) -> tuple[CountTable, np.ndarray]:
    table = draw(count_tables(max_dims=3, max_leaves=4, max_cells=80))
    density = draw(st.sampled_from([0.3, 0.6, 0.9]))
    bits = draw(st.lists(st.floats(0, 1), min_size=table.size, max_size=table.size))
    return table, np.array(bits) < density


@SETTINGS
@given(patterns())
def test_certificate_values_lie_inside_the_exact_lp_interval(
    case: tuple[CountTable, np.ndarray],
) -> None:
    table, hidden = case
    values = table.flat_values.astype(float)
    lower = np.where(hidden, 0.0, values)
    upper = np.where(hidden, np.inf, values)
    lo, hi = box_bounds(table.dimensions, values, lower, upper, hidden)
    oracle_lo, oracle_hi = oracle_bounds(table, hidden, integer=False)
    assert np.all(lo[hidden] >= oracle_lo[hidden])
    assert np.all(hi[hidden] <= oracle_hi[hidden])
    assert np.all(lo[hidden] <= values[hidden]) and np.all(hi[hidden] >= values[hidden])
    # a cell the certificate declares protected is protected by the exact audit
    width = np.where(hidden, 16, 0).astype(np.int64)
    claimed = hidden & (hi - lo >= width)
    assert np.all(oracle_hi[claimed] - oracle_lo[claimed] >= 16)


@SETTINGS
@given(patterns(), st.integers(0, 2**32 - 1))
def test_certificate_respects_published_intervals_and_hidden_upper_bounds(
    case: tuple[CountTable, np.ndarray], seed: int
) -> None:
    """Coded rates publish an interval; rates hide numerators bounded by their base."""
    table, hidden = case
    rng = np.random.default_rng(seed)
    values = table.flat_values.astype(float)
    slack_lo = rng.integers(0, 4, values.size)
    slack_hi = rng.integers(0, 4, values.size)
    banded = ~hidden & (rng.random(values.size) < 0.3)
    capped = hidden & (rng.random(values.size) < 0.3)
    lower = np.where(hidden, 0.0, np.where(banded, np.maximum(values - slack_lo, 0), values))
    upper = np.where(
        hidden,
        np.where(capped, values + slack_hi, np.inf),
        np.where(banded, values + slack_hi, values),
    )
    lo, hi = box_bounds(table.dimensions, values, lower, upper, hidden)
    matrix = table.additivity_matrix()
    result = audit_module.attacker_intervals(
        matrix,
        table.flat_values,
        hidden,
        published_lo=lower,
        published_hi=upper,
        hidden_upper=np.where(capped, upper, np.inf),
    )
    assert np.all(lo[hidden] >= result.lo[hidden])
    assert np.all(hi[hidden] <= result.hi[hidden])
    for cell in np.flatnonzero(hidden)[:6]:
        r_lo, r_hi = restricted_bounds(matrix, values, lower, upper, table.dimensions, int(cell))
        assert result.lo[cell] <= r_lo <= values[cell] <= r_hi <= result.hi[cell]


def test_a_box_with_one_published_corner_proves_nothing() -> None:
    """All corners but one hidden: no perturbation along that box exists."""
    a = Dimension.flat("a", ["a0", "a1"])
    b = Dimension.flat("b", ["b0", "b1"])
    c = Dimension.flat("c", ["c0", "c1"])
    table = CountTable.from_leaf_counts([a, b, c], [[[3, 40], [40, 40]], [[40, 40], [40, 40]]])
    hidden = np.zeros(table.size, dtype=bool)
    corners = [(x, y, z) for x in ("a0", "a1") for y in ("b0", "b1") for z in ("c0", "c1")]
    for key in corners[:-1]:  # (a1, b1, c1) stays published
        hidden[table.flat_index(key)] = True
    values = table.flat_values.astype(float)
    lo, hi = box_bounds(
        table.dimensions,
        values,
        np.where(hidden, 0.0, values),
        np.where(hidden, np.inf, values),
        hidden,
    )
    oracle_lo, oracle_hi = oracle_bounds(table, hidden, integer=False)
    cell = table.flat_index(("a0", "b0", "c0"))
    assert oracle_lo[cell] == oracle_hi[cell] == 3  # the interior alone is recomputed
    assert lo[cell] == hi[cell] == 3


def test_the_smallest_moving_corner_bounds_the_box() -> None:
    """A 2x2 box of hidden cells 3, 40 / 40, 2: the cell 3 moves down by at most 2 (its
    diagonal partner 2 moves down with it) and up by at most 40 (the off-diagonal cells)."""
    a = Dimension.flat("a", ["a0", "a1", "a2"])
    b = Dimension.flat("b", ["b0", "b1", "b2"])
    table = CountTable.from_leaf_counts([a, b], [[3, 40, 50], [40, 2, 50], [50, 50, 50]])
    hidden = np.zeros(table.size, dtype=bool)
    for key in [("a0", "b0"), ("a0", "b1"), ("a1", "b0"), ("a1", "b1")]:
        hidden[table.flat_index(key)] = True
    values = table.flat_values.astype(float)
    lo, hi = box_bounds(
        table.dimensions,
        values,
        np.where(hidden, 0.0, values),
        np.where(hidden, np.inf, values),
        hidden,
    )
    cell = table.flat_index(("a0", "b0"))
    oracle_lo, oracle_hi = oracle_bounds(table, hidden, integer=False)
    assert (oracle_lo[cell], oracle_hi[cell]) == (1, 43)
    assert (lo[cell], hi[cell]) == (1, 43)


def district(schools: int, seed: int) -> CountTable:
    rng = np.random.default_rng(seed)
    leaves = rng.poisson(rng.uniform(1, 12, (schools, 5, 4)))
    dims = [
        Dimension.flat("school", [f"s{i}" for i in range(schools)], total="District"),
        Dimension.flat("grade", [f"g{i}" for i in range(5)]),
        Dimension.flat("race", [f"r{i}" for i in range(4)]),
    ]
    return CountTable.from_leaf_counts(dims, leaves)


@pytest.mark.parametrize("seed", range(6))
def test_box_completion_pattern_passes_the_exact_audit(seed: int) -> None:
    """The large-table heuristic on a small district: what it leaves proven is protected by
    the exact LP audit, and the engine's audit (fast and exact) passes its final pattern."""
    table = district(8, seed)
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    hidden, failing = certified_pattern(problem)
    assert hidden[problem.sensitive].all()
    exact = problem.audit(hidden, fast=False)
    proven = problem.sensitive & ~failing
    assert not set(exact.unprotected.tolist()) & set(np.flatnonzero(proven).tolist())
    if not failing.any():
        assert exact.passed
        assert problem.audit(hidden).passed
    # box_failures agrees with the exact audit whenever it claims protection
    assert not (set(exact.unprotected.tolist()) - set(np.flatnonzero(failing).tolist()))


@pytest.mark.parametrize("seed", range(4))
def test_fast_audit_without_whole_component_lps_is_never_more_lenient(seed: int) -> None:
    """With every component 'too large' for LP, only certificates and restricted LPs decide:
    whatever they pass, the exact audit passes; the verdict may only be stricter."""
    table = district(6, seed)
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    rng = np.random.default_rng(seed)
    hidden = problem.sensitive | (rng.random(table.size) < 0.35)
    widths = np.where(hidden & problem.sensitive, problem.required_width, 0).astype(np.int64)
    reference = audit_pattern(problem.matrix, problem.values, hidden, widths)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_module, "FAST_LP_MAX_VARIABLES", 0)
        patch.setattr(audit_module, "RESTRICTED_SLICES", 2)
        fast = audit_pattern(
            problem.matrix, problem.values, hidden, widths, dimensions=table.dimensions
        )
    assert set(reference.unprotected.tolist()) <= set(fast.unprotected.tolist())
    lo, hi = fast.intervals.lo, fast.intervals.hi
    assert np.all(lo[hidden] >= reference.intervals.lo[hidden])
    assert np.all(hi[hidden] <= reference.intervals.hi[hidden])


def test_large_orientation_uses_one_fixed_partner_and_stays_sound() -> None:
    """Force the reduced (one fixed partner per code) mode on a small table: still sound."""
    table = district(5, 11)
    rng = np.random.default_rng(3)
    hidden = rng.random(table.size) < 0.6
    values = table.flat_values.astype(float)
    lower = np.where(hidden, 0.0, values)
    upper = np.where(hidden, np.inf, values)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(certificate_module, "FULL_WORK", 0)
        lo, hi = box_bounds(table.dimensions, values, lower, upper, hidden)
    matrix = table.additivity_matrix()
    reference = audit_module.attacker_intervals(matrix, table.flat_values, hidden)
    assert np.all(lo[hidden] >= reference.lo[hidden])
    assert np.all(hi[hidden] <= reference.hi[hidden])


def test_box_failures_needs_dimensions() -> None:
    table = district(3, 1)
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    with pytest.raises(ValueError, match="dimensions"):
        box_failures(replace(problem, dimensions=None), problem.sensitive)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_lines_along_the_spread_dimension_are_recognised(axis: int) -> None:
    """Dilation leaves lines along the spread dimension alone; the test of 'along' is exact."""
    from studentvault.reporting.disclosure.suppress import _Lines, _lines_along

    dims = [
        Dimension.flat(name, [f"{name}{i}" for i in range(size)])
        for name, size in (("a", 3), ("b", 5), ("c", 2))
    ]
    table = CountTable.from_leaf_counts(dims, np.ones((3, 5, 2), dtype=np.int64))
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    lines = _Lines(problem, np.zeros(table.size, dtype=bool))
    shape = table.shape
    along = _lines_along(lines, int(np.prod(shape[axis + 1 :])), shape[axis])
    for row in range(lines.n_rows):
        members, _ = lines.line(row)
        other = np.delete(np.array(np.unravel_index(members, shape)), axis, axis=0)
        assert bool(along[row]) == bool((other == other[:, :1]).all())
