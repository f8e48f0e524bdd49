"""protect_table: its output passes an independent audit; methods, reasons, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from studentvault.reporting.disclosure import (
    SUPPRESSED,
    AuditReport,
    CellKind,
    CountTable,
    Dimension,
    DisclosureNotPublishable,
    DisclosureResult,
    Method,
    Reason,
    build_problem,
    get_rule_set,
    protect_table,
)
from studentvault.reporting.disclosure.suppress import exact_pattern, heuristic_pattern

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


def hidden_mask(table: CountTable, result: DisclosureResult) -> np.ndarray:
    return np.array([not cell.published for cell in result.cells])


def assert_protected(table: CountTable, result: DisclosureResult) -> None:
    """Check the result with the oracle, not with the engine's own audit."""
    rules = get_rule_set(result.rule_set)
    hidden = hidden_mask(table, result)
    lo, hi = oracle_bounds(table, hidden, integer=False)
    for index, value in enumerate(table.flat_values.tolist()):
        if rules.is_sensitive(value, CellKind(result.kind)):
            assert hidden[index], f"sensitive cell {table.key(index)} published"
            assert hi[index] - lo[index] >= rules.protection_width(value, CellKind(result.kind))


@settings(SETTINGS, max_examples=10)
@given(count_tables(max_dims=3))
def test_output_always_passes_its_own_audit_and_the_oracle(table: CountTable) -> None:
    for method in (Method.EXACT, Method.HEURISTIC):
        result = protect_table(table, method=method)
        assert result.publishable, result.audit.to_dict()
        assert_protected(table, result)


@SETTINGS
@given(count_tables(max_dims=2, max_cells=60))
def test_exact_is_never_worse_than_the_heuristic(table: CountTable) -> None:
    problem = build_problem(table, get_rule_set(), CellKind.STUDENT)
    exact = exact_pattern(problem)
    assert exact is not None
    heuristic, audit = heuristic_pattern(problem, prune=True)
    assert audit.passed
    assert problem.audit(exact, fast=False).passed
    assert exact.sum() <= heuristic.sum()


def test_hierarchy_protects_a_school_against_siblings_and_district() -> None:
    district = Dimension.tree(
        "school",
        "District",
        {"District": ["North", "South"], "North": ["n1", "n2", "n3"], "South": ["s1", "s2"]},
    )
    grades = Dimension.flat("grade", ["3", "4", "5"])
    table = CountTable.from_leaf_counts(
        [district, grades],
        [[5, 30, 31], [40, 41, 38], [33, 25, 44], [26, 27, 29], [50, 51, 52]],
    )
    result = protect_table(table)
    assert result.publishable
    assert_protected(table, result)
    statuses = {cell.key: cell for cell in result.cells}
    assert statuses[("n1", "3")].reason is Reason.PRIMARY
    assert result.count(Reason.COMPLEMENTARY) >= 3
    # the school cannot be narrowed from its siblings and the district: interval >= 16
    audit = {cell.key: cell for cell in result.audit.cells}
    assert audit[("n1", "3")].hi - audit[("n1", "3")].lo >= 16


def test_nces_rules_and_staff_kind() -> None:
    table = CountTable.from_leaf_counts(
        [Dimension.flat("school", ["a", "b", "c"]), Dimension.flat("role", ["t", "s"])],
        [[12, 4], [20, 30], [11, 25]],
    )
    colorado = protect_table(table, kind=CellKind.STAFF)
    nces = protect_table(table, rule_set="nces")
    assert {c.key for c in colorado.cells if c.reason is Reason.PRIMARY} == {("a", "s")}
    assert {c.key for c in nces.cells if c.reason is Reason.PRIMARY} == {("a", "s")}
    assert colorado.publishable and nces.publishable
    student = protect_table(table)
    assert {c.key for c in student.cells if c.reason is Reason.PRIMARY} == {
        ("a", "t"),
        ("a", "s"),
        ("c", "t"),
    }


def test_zeros_are_published_and_not_used_as_complements() -> None:
    table = CountTable.from_leaf_counts(
        [Dimension.flat("school", ["a", "b"]), Dimension.flat("race", ["x", "y", "z"])],
        [[3, 0, 40], [30, 0, 41]],
    )
    result = protect_table(table)
    zeros = [cell for cell in result.cells if cell.value == 0]
    assert zeros and all(cell.published for cell in zeros)
    assert result.publishable


def test_result_is_json_and_publication_hides_reasons() -> None:
    table = CountTable.from_leaf_counts(
        [Dimension.flat("school", ["a", "b", "c"]), Dimension.flat("grade", ["3", "4"])],
        [[3, 30], [25, 20], [50, 31]],
    )
    result = protect_table(table)
    record = json.loads(json.dumps(result.to_dict()))
    assert record["rule_set"] == "colorado"
    assert record["publishable"] is True
    assert record["summary"]["by_reason"]["primary"] == 1
    assert {cell["reason"] for cell in record["cells"]} == {None, "primary", "complementary"}
    shown = result.publication()
    assert shown[("a", "3")] == SUPPRESSED
    assert set(shown.values()) - {SUPPRESSED} <= {str(v) for v in table.flat_values.tolist()}


def test_a_failed_audit_publishes_nothing() -> None:
    table = CountTable.from_leaf_counts([Dimension.flat("school", ["a", "b"])], [3, 30])
    result = protect_table(table)
    failed = DisclosureResult(
        rule_set=result.rule_set,
        kind=result.kind,
        method=result.method,
        dimensions=result.dimensions,
        cells=result.cells,
        audit=AuditReport(
            passed=False,
            cells=result.audit.cells,
            components=0,
            largest_component=0,
            linear_programs=0,
            integer=False,
        ),
        seconds_protect=0.0,
        seconds_audit=0.0,
    )
    with pytest.raises(DisclosureNotPublishable):
        failed.publication()


def test_a_table_with_nothing_small_is_published_whole() -> None:
    table = CountTable.from_leaf_counts([Dimension.flat("grade", ["3", "4"])], [30, 40])
    result = protect_table(table)
    assert result.method == "none"
    assert all(cell.published for cell in result.cells)
    assert result.publication()[("Total",)] == "70"
