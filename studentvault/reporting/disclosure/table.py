"""Tables of counts with their totals, and the additivity constraints that link their cells.

A table has 1 to 3 dimensions. Each dimension is a tree of category codes whose root is the
dimension's total (a flat dimension is a root with leaf children; a hierarchical one such as
district > school has more levels). A cell is a tuple with one code per dimension; the table
holds every cell, marginal totals included, so its shape is (number of codes per dimension).

Invariant: for every dimension d, every internal code p of d and every choice of codes in the
other dimensions, cell(..., p, ...) == sum of cell(..., c, ...) over the children c of p.
``additivity_matrix`` states exactly these equations as ``A @ x == 0`` over the flattened cells;
it is built once per table and shared by suppression and audit.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IntArray = npt.NDArray[np.int64]
Key = tuple[str, ...]


class TableError(ValueError):
    """A table or dimension is malformed; the message names the offending code or cell."""


@dataclass(frozen=True)
class Dimension:
    """A tree of category codes; ``codes[0]`` is the total, parents come before children."""

    name: str
    codes: tuple[str, ...]
    parent: tuple[int, ...]  # index of each code's parent, -1 for the root

    @staticmethod
    def flat(name: str, categories: Sequence[str], total: str = "Total") -> Dimension:
        """A one-level dimension: ``total`` is the sum of ``categories``."""
        return Dimension.tree(name, total, {total: list(categories)})

    @staticmethod
    def tree(name: str, root: str, children: Mapping[str, Sequence[str]]) -> Dimension:
        """A hierarchical dimension: ``children[code]`` lists the codes that sum to ``code``."""
        codes: list[str] = []
        parent: list[int] = []
        stack: list[tuple[str, int]] = [(root, -1)]
        while stack:
            code, parent_index = stack.pop()
            if code in codes:
                raise TableError(f"dimension {name!r}: code {code!r} appears twice")
            codes.append(code)
            parent.append(parent_index)
            index = len(codes) - 1
            stack.extend((child, index) for child in reversed(list(children.get(code, ()))))
        unknown = set(children) - set(codes)
        if unknown:
            raise TableError(f"dimension {name!r}: codes not under {root!r}: {sorted(unknown)}")
        if len(codes) < 2:
            raise TableError(f"dimension {name!r} needs at least one category under its total")
        return Dimension(name=name, codes=tuple(codes), parent=tuple(parent))

    @cached_property
    def index(self) -> dict[str, int]:
        return {code: i for i, code in enumerate(self.codes)}

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        kids: list[list[int]] = [[] for _ in self.codes]
        for i, p in enumerate(self.parent):
            if p >= 0:
                kids[p].append(i)
        return tuple(tuple(k) for k in kids)

    @cached_property
    def leaves(self) -> tuple[int, ...]:
        return tuple(i for i, kids in enumerate(self.children) if not kids)

    @cached_property
    def depth(self) -> tuple[int, ...]:
        depth = [0] * len(self.codes)
        for i, p in enumerate(self.parent):
            if p >= 0:
                depth[i] = depth[p] + 1  # parents precede children
        return tuple(depth)

    def aggregation_matrix(self) -> npt.NDArray[np.int64]:
        """M[code, leaf position] = 1 when the leaf lies under (or is) the code."""
        matrix = np.zeros((len(self.codes), len(self.leaves)), dtype=np.int64)
        for position, leaf in enumerate(self.leaves):
            node = leaf
            while node >= 0:
                matrix[node, position] = 1
                node = self.parent[node]
        return matrix


@dataclass(frozen=True)
class CountTable:
    """Counts for every cell of the cross-product of ``dimensions``, totals included."""

    dimensions: tuple[Dimension, ...]
    values: IntArray  # shape = tuple(len(d.codes) for d in dimensions)
    _cache: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.dimensions) <= 3:
            raise TableError("a table has 1 to 3 dimensions")
        expected = tuple(len(d.codes) for d in self.dimensions)
        if self.values.shape != expected:
            raise TableError(f"values have shape {self.values.shape}, expected {expected}")
        if (self.values < 0).any():
            raise TableError(f"negative count at cell {self.key(int(np.argmin(self.values)))}")
        residual = self.additivity_matrix() @ self.values.ravel()
        if np.any(residual != 0):
            row = int(np.flatnonzero(residual)[0])
            raise TableError(f"totals do not add up (constraint {row}, off by {residual[row]})")

    @staticmethod
    def from_leaf_counts(dimensions: Sequence[Dimension], leaf_counts: npt.ArrayLike) -> CountTable:
        """Build the full table from counts of the leaf categories (array in leaf order)."""
        leaves = np.asarray(leaf_counts, dtype=np.int64)
        dims = tuple(dimensions)
        expected = tuple(len(d.leaves) for d in dims)
        if leaves.shape != expected:
            raise TableError(f"leaf counts have shape {leaves.shape}, expected {expected}")
        full = leaves
        for axis, dim in enumerate(dims):
            full = np.moveaxis(
                np.tensordot(dim.aggregation_matrix(), full, axes=([1], [axis])), 0, axis
            )
        return CountTable(dimensions=dims, values=np.ascontiguousarray(full, dtype=np.int64))

    @staticmethod
    def from_mapping(dimensions: Sequence[Dimension], counts: Mapping[Key, int]) -> CountTable:
        """Build the full table from ``{(leaf code per dimension): count}``; missing = 0."""
        dims = tuple(dimensions)
        leaves = np.zeros(tuple(len(d.leaves) for d in dims), dtype=np.int64)
        positions = [{d.codes[leaf]: p for p, leaf in enumerate(d.leaves)} for d in dims]
        for key, count in counts.items():
            if len(key) != len(dims):
                raise TableError(f"cell {key!r} does not have {len(dims)} codes")
            try:
                index = tuple(positions[axis][code] for axis, code in enumerate(key))
            except KeyError as error:
                raise TableError(f"cell {key!r}: {error.args[0]!r} is not a leaf code") from None
            leaves[index] = count
        return CountTable.from_leaf_counts(dims, leaves)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(d.codes) for d in self.dimensions)

    @property
    def size(self) -> int:
        return int(self.values.size)

    @property
    def flat_values(self) -> IntArray:
        return self.values.ravel()

    def key(self, flat_index: int) -> Key:
        """The cell's codes, one per dimension."""
        index = np.unravel_index(flat_index, self.shape)
        return tuple(d.codes[int(i)] for d, i in zip(self.dimensions, index, strict=True))

    def flat_index(self, key: Key) -> int:
        try:
            index = tuple(d.index[code] for d, code in zip(self.dimensions, key, strict=True))
        except KeyError as error:
            raise TableError(f"cell {key!r}: unknown code {error.args[0]!r}") from None
        return int(np.ravel_multi_index(index, self.shape))

    def keys(self) -> Iterator[Key]:
        """Every cell's codes in flat (C) order."""
        return itertools.product(*(d.codes for d in self.dimensions))

    def is_interior(self) -> npt.NDArray[np.bool_]:
        """Flat mask of cells made of leaf codes only (no total in any dimension)."""
        mask = np.ones(self.shape, dtype=bool)
        for axis, dim in enumerate(self.dimensions):
            leaf = np.zeros(len(dim.codes), dtype=bool)
            leaf[list(dim.leaves)] = True
            shape = [1] * len(self.shape)
            shape[axis] = len(dim.codes)
            mask &= leaf.reshape(shape)
        return mask.ravel()

    def additivity_matrix(self) -> sp.csr_matrix:
        """Sparse A (constraints x cells) with A @ cells == 0; +1 for a parent, -1 per child."""
        cached = self._cache.get("A")
        if isinstance(cached, sp.csr_matrix):
            return cached
        matrix = build_additivity_matrix(self.dimensions)
        self._cache["A"] = matrix
        return matrix


def build_additivity_matrix(dimensions: Sequence[Dimension]) -> sp.csr_matrix:
    """One equation per (dimension, internal code, codes of the other dimensions)."""
    shape = tuple(len(d.codes) for d in dimensions)
    cell_ids = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    data: list[npt.NDArray[np.float64]] = []
    next_row = 0
    for axis, dim in enumerate(dimensions):
        for parent, kids in enumerate(dim.children):
            if not kids:
                continue
            parent_ids = np.take(cell_ids, parent, axis=axis).ravel()
            count = parent_ids.size
            row_ids = np.arange(next_row, next_row + count, dtype=np.int64)
            rows.append(row_ids)
            cols.append(parent_ids)
            data.append(np.ones(count))
            for kid in kids:
                rows.append(row_ids)
                cols.append(np.take(cell_ids, kid, axis=axis).ravel())
                data.append(-np.ones(count))
            next_row += count
    matrix = sp.coo_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(next_row, cell_ids.size),
    )
    return sp.csr_matrix(matrix)
