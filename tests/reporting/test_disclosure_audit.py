"""The attacker audit against an independent oracle, and the classic subtraction attack."""

from __future__ import annotations

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

try:
    from .test_disclosure_support import count_tables, oracle_bounds
except ImportError:
    from test_disclosure_support import count_tables, oracle_bounds  # type: ignore[no-redef]

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def tables_with_patterns(draw: st.DrawFn, max_dims: int = 3) -> tuple[CountTable, np.ndarray]:
    table = draw(count_tables(max_dims=max_dims))
    rules = get_rule_set()
    sensitive = np.array([rules.is_sensitive(int(v), CellKind.STUDENT) for v in table.flat_values])
    extra = np.array(draw(st.lists(st.booleans(), min_size=table.size, max_size=table.size)))
    return table, sensitive | (extra & (np.arange(table.size) % 3 == 0))


def widths(table: CountTable, hidden: np.ndarray) -> np.ndarray:
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    return np.where(hidden & problem.sensitive, problem.required_width, 0).astype(np.int64)


def test_suppressing_only_the_small_cells_is_caught() -> None:
    """A school's small count is recovered by subtracting the published cells from the total."""
    schools = Dimension.flat("school", ["Adams", "Baker", "Clark"], total="District")
    grades = Dimension.flat("grade", ["3", "4"])
    table = CountTable.from_leaf_counts([schools, grades], [[40, 35], [3, 28], [52, 47]])
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    hidden = problem.sensitive.copy()  # only (Baker, 3) = 3 and nothing else
    assert hidden.sum() == 1
    result = audit_pattern(problem.matrix, problem.values, hidden, widths(table, hidden))
    assert not result.passed
    cell = table.flat_index(("Baker", "3"))
    assert result.intervals.lo[cell] == result.intervals.hi[cell] == 3


def test_two_small_cells_do_not_protect_each_other() -> None:
    """3 and 5 hidden in one row: the attacker knows they sum to 8, so each lies in [0, 8]."""
    schools = Dimension.flat("school", ["Adams", "Baker"])
    grades = Dimension.flat("grade", ["3", "4", "5"])
    table = CountTable.from_leaf_counts([schools, grades], [[3, 5, 40], [30, 30, 30]])
    hidden = np.zeros(table.size, dtype=bool)
    for key in [("Adams", "3"), ("Adams", "4"), ("Baker", "3"), ("Baker", "4")]:
        hidden[table.flat_index(key)] = True
    result = audit_pattern(
        table.additivity_matrix(), table.flat_values, hidden, widths(table, hidden)
    )
    cell = table.flat_index(("Adams", "3"))
    assert (result.intervals.lo[cell], result.intervals.hi[cell]) == (0, 8)
    assert not result.passed


def test_hierarchy_school_hidden_is_recovered_from_siblings_and_district() -> None:
    district = Dimension.tree(
        "school",
        "District",
        {"District": ["North", "South"], "North": ["n1", "n2"], "South": ["s1", "s2"]},
    )
    grades = Dimension.flat("grade", ["3", "4"])
    table = CountTable.from_leaf_counts([district, grades], [[5, 30], [40, 41], [33, 25], [26, 27]])
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    hidden = problem.sensitive.copy()
    # Hiding the sibling school and the North area too is not enough: the district total minus
    # South gives North, North minus nothing else... and n1's own row total pins it down.
    hidden[table.flat_index(("North", "3"))] = True
    hidden[table.flat_index(("n2", "3"))] = True
    result = audit_pattern(problem.matrix, problem.values, hidden, widths(table, hidden))
    assert not result.passed
    cell = table.flat_index(("n1", "3"))
    assert result.intervals.lo[cell] == result.intervals.hi[cell] == 5
    north = table.flat_index(("North", "3"))
    assert result.intervals.lo[north] == result.intervals.hi[north] == 45


@SETTINGS
@given(tables_with_patterns(max_dims=2))
def test_audit_equals_integer_oracle_on_2d_tables(case: tuple[CountTable, np.ndarray]) -> None:
    """1-D/2-D (with hierarchy) constraint matrices are network matrices: LP = integer bounds."""
    table, hidden = case
    required = widths(table, hidden)
    result = audit_pattern(table.additivity_matrix(), table.flat_values, hidden, required)
    lo, hi = oracle_bounds(table, hidden, integer=True)
    np.testing.assert_array_equal(result.intervals.lo[hidden], lo[hidden])
    np.testing.assert_array_equal(result.intervals.hi[hidden], hi[hidden])
    inferred = hidden & (required > 0) & (hi - lo < required)
    assert result.passed == (not inferred.any())
    assert set(result.unprotected.tolist()) == set(np.flatnonzero(inferred).tolist())


@SETTINGS
@given(tables_with_patterns(max_dims=3))
def test_audit_matches_lp_oracle_and_contains_integer_bounds(
    case: tuple[CountTable, np.ndarray],
) -> None:
    table, hidden = case
    required = widths(table, hidden)
    result = audit_pattern(table.additivity_matrix(), table.flat_values, hidden, required)
    lp_lo, lp_hi = oracle_bounds(table, hidden, integer=False)
    np.testing.assert_array_equal(result.intervals.lo[hidden], lp_lo[hidden])
    np.testing.assert_array_equal(result.intervals.hi[hidden], lp_hi[hidden])
    int_lo, int_hi = oracle_bounds(table, hidden, integer=True)
    assert np.all(result.intervals.lo[hidden] <= int_lo[hidden])
    assert np.all(result.intervals.hi[hidden] >= int_hi[hidden])
    strict = audit_pattern(
        table.additivity_matrix(), table.flat_values, hidden, required, integer=True
    )
    np.testing.assert_array_equal(strict.intervals.lo[hidden], int_lo[hidden])
    np.testing.assert_array_equal(strict.intervals.hi[hidden], int_hi[hidden])
    # whatever the LP audit fails, the integer audit fails too
    assert set(result.unprotected.tolist()) <= set(strict.unprotected.tolist())


@SETTINGS
@given(tables_with_patterns(max_dims=3))
def test_fast_mode_and_column_generation_give_the_same_verdict(
    case: tuple[CountTable, np.ndarray],
) -> None:
    table, hidden = case
    required = widths(table, hidden)
    reference = audit_pattern(table.additivity_matrix(), table.flat_values, hidden, required)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_module, "_DIRECT_MAX_VARIABLES", 0)
        patch.setattr(audit_module, "WARM_MAX_VARIABLES", 0)
        generated = audit_pattern(table.additivity_matrix(), table.flat_values, hidden, required)
        fast = audit_pattern(
            table.additivity_matrix(),
            table.flat_values,
            hidden,
            required,
            dimensions=table.dimensions,
        )
    np.testing.assert_array_equal(generated.intervals.lo, reference.intervals.lo)
    np.testing.assert_array_equal(generated.intervals.hi, reference.intervals.hi)
    assert fast.passed == reference.passed
    assert set(fast.unprotected.tolist()) == set(reference.unprotected.tolist())
    # fast-mode intervals lie inside the exact ones, and are exact where flagged
    exact = fast.intervals.exact
    assert np.all(fast.intervals.lo[hidden] >= reference.intervals.lo[hidden])
    assert np.all(fast.intervals.hi[hidden] <= reference.intervals.hi[hidden])
    np.testing.assert_array_equal(fast.intervals.lo[exact], reference.intervals.lo[exact])
    np.testing.assert_array_equal(fast.intervals.hi[exact], reference.intervals.hi[exact])


@SETTINGS
@given(tables_with_patterns(max_dims=3))
def test_warm_started_highs_gives_the_cold_lp_intervals(
    case: tuple[CountTable, np.ndarray],
) -> None:
    """The warm-started HiGHS model (objective changed between solves) = one cold LP per bound."""
    table, hidden = case
    required = widths(table, hidden)
    warm = audit_pattern(table.additivity_matrix(), table.flat_values, hidden, required)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_module, "WARM_MAX_VARIABLES", 0)
        cold = audit_pattern(table.additivity_matrix(), table.flat_values, hidden, required)
    np.testing.assert_array_equal(warm.intervals.lo, cold.intervals.lo)
    np.testing.assert_array_equal(warm.intervals.hi, cold.intervals.hi)
    assert set(warm.unprotected.tolist()) == set(cold.unprotected.tolist())


def test_warm_model_reports_unbounded_and_reuses_the_model() -> None:
    """A hidden cell with no upper line is unbounded above; the same model then solves a min."""
    schools = Dimension.flat("school", ["a", "b"])
    grades = Dimension.flat("grade", ["3", "4"])
    table = CountTable.from_leaf_counts([schools, grades], [[3, 30], [25, 20]])
    hidden = np.ones(table.size, dtype=bool)  # everything hidden: nothing bounds the cells
    matrix = table.additivity_matrix()
    model = audit_module._WarmModel(
        matrix, np.zeros(matrix.shape[0]), np.zeros(table.size), np.full(table.size, np.inf)
    )
    objective = np.zeros(table.size)
    objective[table.flat_index(("a", "3"))] = -1.0
    assert model.solve(objective) is None
    objective[table.flat_index(("a", "3"))] = 1.0
    point = model.solve(objective)
    assert point is not None and point[table.flat_index(("a", "3"))] == 0.0
    assert np.allclose(matrix @ point, 0.0)
    result = audit_pattern(matrix, table.flat_values, hidden, widths(table, hidden))
    assert np.isinf(result.intervals.hi[hidden]).all()
