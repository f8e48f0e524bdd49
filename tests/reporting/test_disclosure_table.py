"""Tables: codes, totals and the additivity equations."""

from __future__ import annotations

import numpy as np
import pytest

from studentvault.reporting.disclosure import CountTable, Dimension, TableError


def district() -> Dimension:
    return Dimension.tree(
        "school",
        "District",
        {"District": ["North", "South"], "North": ["n1", "n2"], "South": ["s1", "s2", "s3"]},
    )


def test_flat_dimension_puts_the_total_first() -> None:
    dim = Dimension.flat("race", ["a", "b", "c"])
    assert dim.codes == ("Total", "a", "b", "c")
    assert dim.leaves == (1, 2, 3)


def test_tree_dimension_and_marginals() -> None:
    grade = Dimension.flat("grade", ["K", "1"])
    table = CountTable.from_leaf_counts(
        [district(), grade], [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]
    )
    assert table.values[table.dimensions[0].index["District"], 0] == 55
    assert table.values[table.dimensions[0].index["North"], 0] == 10
    assert table.values[table.dimensions[0].index["South"], 2] == 24
    # one equation per (internal code, codes of the other dimension), and per grade total
    assert table.additivity_matrix().shape == (3 * 3 + 8 * 1, table.size)
    assert not np.any(table.additivity_matrix() @ table.flat_values)


def test_from_mapping_and_keys_round_trip() -> None:
    dims = [Dimension.flat("a", ["x", "y"]), Dimension.flat("b", ["u", "v"])]
    table = CountTable.from_mapping(dims, {("x", "u"): 3, ("y", "v"): 4})
    assert table.values[0, 0] == 7
    for index in range(table.size):
        assert table.flat_index(table.key(index)) == index


def test_bad_tables_are_refused_with_a_clear_message() -> None:
    dims = [Dimension.flat("a", ["x", "y"])]
    with pytest.raises(TableError, match="totals do not add up"):
        CountTable(dimensions=tuple(dims), values=np.array([5, 1, 1]))
    with pytest.raises(TableError, match="negative count"):
        CountTable.from_leaf_counts(dims, [-1, 2])
    with pytest.raises(TableError, match="not a leaf code"):
        CountTable.from_mapping(dims, {("Total",): 2})
    with pytest.raises(TableError, match="appears twice"):
        Dimension.tree("d", "T", {"T": ["a", "a"]})
