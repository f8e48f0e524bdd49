"""Shared strategies and an independent attacker oracle for the disclosure tests (no tests here)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from studentvault.reporting.disclosure import CountTable, Dimension


def dimension(name: str, leaves: int, hierarchical: bool) -> Dimension:
    codes = [f"{name}{i}" for i in range(leaves)]
    if not hierarchical or leaves < 4:
        return Dimension.flat(name, codes, total=f"{name}-total")
    half = leaves // 2
    return Dimension.tree(
        name,
        f"{name}-total",
        {
            f"{name}-total": [f"{name}-A", f"{name}-B"],
            f"{name}-A": codes[:half],
            f"{name}-B": codes[half:],
        },
    )


@st.composite
def count_tables(
    draw: st.DrawFn, max_dims: int = 3, max_leaves: int = 4, max_cells: int = 80
) -> CountTable:
    ndim = draw(st.integers(1, max_dims))
    sizes = [draw(st.integers(2, max_leaves)) for _ in range(ndim)]
    hierarchical = draw(st.booleans()) and ndim <= 2 and max_leaves >= 4
    if hierarchical:
        sizes[0] = max(sizes[0], 4)
    dims = [dimension("abc"[k], sizes[k], hierarchical and k == 0) for k in range(ndim)]
    while np.prod([len(d.codes) for d in dims]) > max_cells:
        dims = dims[:-1]
    shape = tuple(len(d.leaves) for d in dims)
    count = int(np.prod(shape))
    small = st.integers(0, 15)
    large = st.integers(16, 60)
    leaves = draw(st.lists(st.one_of(small, large, large), min_size=count, max_size=count))
    return CountTable.from_leaf_counts(dims, np.array(leaves, dtype=np.int64).reshape(shape))


def oracle_bounds(
    table: CountTable, hidden: np.ndarray, *, integer: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Attacker bounds over the whole table (no components, no shortcuts): one LP/MILP each."""
    matrix = table.additivity_matrix()
    values = table.flat_values.astype(float)
    n = values.size
    lower = np.where(hidden, 0.0, values)
    upper = np.where(hidden, np.inf, values)
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    zeros = np.zeros(matrix.shape[0])
    for j in np.flatnonzero(hidden):
        for sign in (1.0, -1.0):
            c = np.zeros(n)
            c[j] = sign
            relaxed = linprog(c, A_eq=matrix, b_eq=zeros, bounds=np.column_stack([lower, upper]))
            if relaxed.status == 3:
                value = np.inf
            elif integer:
                result = milp(
                    c,
                    constraints=LinearConstraint(matrix, zeros, zeros),
                    integrality=np.ones(n),
                    bounds=Bounds(lower, upper),
                )
                value = float(result.x[j])
            else:
                value = float(relaxed.x[j])
            if sign > 0:
                lo[j] = np.ceil(value - 1e-6)
            else:
                hi[j] = value if np.isinf(value) else np.floor(value + 1e-6)
    return lo, hi
