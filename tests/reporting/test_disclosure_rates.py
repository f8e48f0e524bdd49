"""protect_rates: base suppression, top/bottom coding, small numerators, the numerator audit."""

from __future__ import annotations

import json

from studentvault.reporting.disclosure import (
    SUPPRESSED,
    CountTable,
    Dimension,
    Reason,
    protect_rates,
)


def tables(numerators: list[list[int]], bases: list[list[int]]) -> tuple[CountTable, CountTable]:
    dims = [
        Dimension.flat("school", [f"s{i}" for i in range(len(bases))]),
        Dimension.flat("group", [f"g{j}" for j in range(len(bases[0]))]),
    ]
    return CountTable.from_leaf_counts(dims, numerators), CountTable.from_leaf_counts(dims, bases)


def test_rates_are_suppressed_with_their_base_and_coded_near_the_ends() -> None:
    numerators, bases = tables(
        [[6, 20, 11], [29, 14, 49], [21, 34, 25]],
        [[10, 40, 30], [30, 28, 50], [42, 35, 50]],
    )
    result = protect_rates(numerators, bases)
    by_key = {cell.key: cell for cell in result.cells}
    assert by_key[("s0", "g0")].reason is Reason.BASE_SUPPRESSED  # base 10 < 16
    bases_hidden = {cell.key for cell in result.bases.cells if not cell.published}
    top = [c for c in result.cells if c.key not in bases_hidden and c.numerator > 0.95 * c.base]
    assert top  # 29/30, 49/50, 34/35 and their totals: some keep their base
    for cell in top:
        assert cell.reason is Reason.TOP_CODED and cell.display == ">95%"
    for cell in result.cells:
        if cell.key in bases_hidden:
            assert cell.reason is Reason.BASE_SUPPRESSED
    assert result.publishable
    shown = result.publication()
    assert shown[("s0", "g0")] == SUPPRESSED
    assert all(
        shown[c.key] == f"{round(100 * c.numerator / c.base)}%" for c in result.cells if c.shown
    )
    json.dumps(result.to_dict())


def test_small_numerator_or_complement_is_suppressed_and_protected() -> None:
    numerators, bases = tables(
        [[2, 20, 11], [15, 14, 20], [21, 33, 25]],
        [[40, 40, 30], [30, 28, 40], [42, 35, 50]],
    )
    result = protect_rates(numerators, bases)
    by_key = {cell.key: cell for cell in result.cells}
    assert by_key[("s0", "g0")].reason is Reason.PRIMARY  # 2 students, 5 %: below 4, not coded
    assert any(cell.reason is Reason.COMPLEMENTARY for cell in result.cells)
    assert result.publishable
    audit = {cell.key: cell for cell in result.audit.cells}
    assert audit[("s0", "g0")].hi - audit[("s0", "g0")].lo >= 4


def test_bottom_coding_uses_the_band_for_the_base() -> None:
    numerators, bases = tables([[1, 60], [30, 30]], [[320, 100], [60, 60]])
    result = protect_rates(numerators, bases, rule_set="nces")
    by_key = {cell.key: cell for cell in result.cells}
    assert by_key[("s0", "g0")].reason is Reason.BOTTOM_CODED
    assert by_key[("s0", "g0")].display == "≤1%"
