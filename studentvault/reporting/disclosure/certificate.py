"""Box certificates: feasible tables built by hand that prove an attacker interval is wide.

The audit must show, for each sensitive hidden cell, that the attacker's interval is at least
the required width. An interval is proven wide by exhibiting feasible tables -- tables the
attacker cannot exclude -- in which the cell takes a high and a low value. The LP feasible set
is convex, so the best "up" and the best "down" may come from different tables: the attacker's
interval then contains [v - down, v + up]. This module builds such tables for every cell at
once with numpy, no LP; ``audit.py`` solves exact LPs only for the cells it cannot prove.

Construction (D = number of dimensions; the cell's code in dimension k is c_k).

*Rectangles.* In a dimension, a *partner* of code c is a leaf sibling of c (sign -1) or, for a
leaf directly under the total, the total (sign +1); the partners of the total are its leaf
children (sign +1). Choosing a partner p_k for some dimensions gives a rectangle d: +1 at the
cell, and at each corner the product of the signs of the partners it uses. d keeps every
equation: a line through a corner meets exactly one other corner of d, with the sign that
cancels (siblings: +t and -t under the same parent; leaf and total: +t and +t).

*Spread.* One dimension k is the *spread* dimension; rectangles live in the slice of the cell's
code c_k. Moving that slice by +t d breaks the lines along k; *compensators* restore them: the
leaf siblings j of c_k move by -lambda_j t d and, when c_k's parent is the total, the total
moves by +mu t d, with sum(lambda) + mu = 1 (for the total itself: its leaf children, each by
+lambda_j t d). Every line along k then changes by t - t = 0.

*Fans.* In the non-spread dimensions a and b (one or both may be absent: D < 3), fix a partner
p_a and take every partner q of c_b: rectangles R_q with corners (c_a, c_b) +, (p_a, c_b) s_a
(shared by all q) and (c_a, q) s_q, (p_a, q) s_a s_q (one pair per q, distinct across q). The
cell moves by t = sum_q t_q along sum_q t_q R_q.

*Capacities.* A slice can move a corner up by (upper - x) and down by (x - lower) (hidden
cells: [0, upper]; published cells have lower = upper, so a published corner blocks the move).
For slice j and direction sigma: shared_j = min over shared corners, dist_{j,q} = min over the
pair of q. A compensator j gives rectangle q at most min(shared_j / n_j, dist_{j,q}) where n_j
is the number of rectangles it can carry (so its shared corners are never over-used), and
pool_q = sum over compensators. Then t_q = min(dist_{cell,q}, pool_q) and the cell reaches
v + min(shared_cell, sum_q t_q); "down" is the mirror image. A single rectangle (best q,
compensators not shared) is also tried: fans split a compensator's shared room.

Invariant: every value returned is attained by an explicit table satisfying every equation and
every bound the attacker knows, so [lo, hi] lies inside the LP audit's interval. Property tests
in tests/reporting check this against the exact LP audit on random tables and patterns.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .table import Dimension

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
_F = np.float32  # counts up to 2^24 are exact; infinity is kept

# Largest number of (spread code x position x partner choices) handled for one orientation; an
# orientation over too many partner combinations is skipped (its cells then rely on the others
# or on LP).
MAX_WORK = 40_000_000
# Above this much work the fixed partner is limited to one choice per code (the total for a
# leaf directly under it, else the first partner) and single rectangles are not tried apart
# from fans: fewer proofs per call, but ten times faster on the 1,000,000-student table.
FULL_WORK = 3_000_000


def _partner_count(dim: Dimension) -> int:
    """Largest number of partners of one code (see ``_partner_table``)."""
    leaves_under = [sum(1 for k in kids if not dim.children[k]) for kids in dim.children]
    most = leaves_under[0]
    for code in range(1, len(dim.codes)):
        if not dim.children[code]:
            parent = dim.parent[code]
            most = max(most, leaves_under[parent] - 1 + (1 if parent == 0 else 0))
    return max(1, most)


def _partner_table(dim: Dimension | None) -> tuple[IntArray, IntArray]:
    """(codes, signs), shape (codes, slots); sign 0 marks an empty slot. None: a dummy axis.

    Partners of a leaf: its leaf siblings (-1) and, directly under the total, the total (+1);
    of the total: its leaf children (+1); internal codes below the total have none.
    """
    if dim is None:
        return np.zeros((1, 1), dtype=np.int64), np.ones((1, 1), dtype=np.int64)
    return _dimension_partners(dim)


@functools.lru_cache(maxsize=32)
def _dimension_partners(dim: Dimension) -> tuple[IntArray, IntArray]:
    n = len(dim.codes)
    slots = _partner_count(dim)
    codes = np.tile(np.arange(n, dtype=np.int64)[:, None], (1, slots))
    signs = np.zeros((n, slots), dtype=np.int64)
    leaf = np.array([not kids for kids in dim.children])
    root_kids = np.array([k for k in dim.children[0] if leaf[k]], dtype=np.int64)
    codes[0, : root_kids.size] = root_kids
    signs[0, : root_kids.size] = 1
    for p, kids in enumerate(dim.children):
        leaf_kids = np.array([k for k in kids if leaf[k]], dtype=np.int64)
        m = leaf_kids.size
        if m == 0:
            continue
        # row i: the other leaf children, in order
        others = np.tile(leaf_kids, (m, 1))[~np.eye(m, dtype=bool)].reshape(m, m - 1)
        codes[leaf_kids, : m - 1] = others
        signs[leaf_kids, : m - 1] = -1
        if p == 0:
            codes[leaf_kids, m - 1] = 0
            signs[leaf_kids, m - 1] = 1
    return codes, signs


def _room(sign: npt.NDArray[np.int64], inc: npt.NDArray[Any], dec: npt.NDArray[Any]) -> Any:
    """Room of a corner that moves with ``sign`` (+: rises, -: falls); empty slot: none."""
    return np.where(sign > 0, inc, np.where(sign < 0, dec, _F(0)))


# Shares of a compensator's room are rounded down to multiples of 1/_UNIT: dyadic numbers, so
# every sum below is exact in float64 and no rounding can overstate a room.
_UNIT = 64.0


def _pools(spread: Dimension, plus: FloatArray, minus: FloatArray) -> tuple[FloatArray, FloatArray]:
    """What the compensators of each code offer: (when the cell moves +d, when it moves -d).

    ``plus[j]`` / ``minus[j]`` (axis 0 = codes of the spread dimension): what slice j can carry
    moving +d / -d (float64, finite values multiples of 1/_UNIT, or infinity).
    """
    up = np.zeros(plus.shape)
    down = np.zeros(plus.shape)
    for p, kids in enumerate(spread.children):
        leaf_kids = np.array([k for k in kids if not spread.children[k]], dtype=np.int64)
        if leaf_kids.size == 0:
            continue
        contiguous = bool(np.all(np.diff(leaf_kids) == 1))
        rows = slice(int(leaf_kids[0]), int(leaf_kids[-1]) + 1) if contiguous else leaf_kids
        for result, same, other in ((up, plus, minus), (down, minus, plus)):
            # the cell moves +d: its siblings move -d (their room for the other direction)
            sub = other[rows]
            infinite = np.isinf(sub)
            if infinite.any():
                finite = np.where(infinite, 0.0, sub)
                count = infinite.sum(axis=0)
                result[rows] = np.where(count - infinite > 0, np.inf, finite.sum(axis=0) - finite)
            else:  # the usual case: plain group sum minus the code's own share
                result[rows] = sub.sum(axis=0) - sub
            if p == 0:
                result[rows] += same[0]  # the total moves +d with the cell
                result[0] = same[rows].sum(axis=0)  # the total: its leaf children, all +d
    return up, down


def box_bounds(
    dimensions: Sequence[Dimension],
    values: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    targets: BoolArray,
    required: npt.NDArray[np.int64] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(lo, hi) per flat cell: values each target provably takes in a feasible table.

    ``lower``/``upper`` are the bounds the attacker knows (equal for published cells), ``values``
    the true table. Non-targets get lo = hi = value. See the module docstring for the proof.
    With ``required`` (a width per cell), a cell whose proven width reaches it is not refined
    further: its interval is then proven but may be narrower than the best construction.
    """
    dims = tuple(dimensions)
    ndim = len(dims)
    shape = tuple(len(d.codes) for d in dims)
    x = np.asarray(values, dtype=np.float64)
    if not targets.any():
        return x.copy(), x.copy()
    inc_full = (np.asarray(upper, dtype=np.float64) - x).reshape(shape)
    dec_full = (x - np.asarray(lower, dtype=np.float64)).reshape(shape)
    want = targets.reshape(shape)
    best_up = np.zeros(shape)
    best_down = np.zeros(shape)
    need = None if required is None else required.reshape(shape)
    # the spread dimension with most codes first, and the larger fixed-partner axis first
    for spread in sorted(range(ndim), key=lambda k: -shape[k]):
        rest = sorted((k for k in range(ndim) if k != spread), key=lambda k: -shape[k])
        orientations: list[tuple[int | None, int | None]]
        if len(rest) == 2:
            orientations = [(rest[0], rest[1]), (rest[1], rest[0])]
        elif len(rest) == 1:
            orientations = [(None, rest[0])]
        else:
            orientations = [(None, None)]
        for axis_a, axis_b in orientations:
            for codes_a, slots in _slot_plans(dims, spread, axis_a, axis_b, shape):
                open_ = want
                if need is not None:
                    width = np.floor(best_up) + np.floor(np.minimum(best_down, dec_full))
                    open_ = want & (width < need)
                    if not open_.any():
                        break
                up, down = _orientation(
                    dims, spread, axis_a, axis_b, inc_full, dec_full, open_, shape, codes_a, slots
                )
                if up is not None and down is not None:
                    np.maximum(best_up, up, out=best_up)
                    np.maximum(best_down, down, out=best_down)
    # whole units: the audit rounds LP bounds inward to integers the same way
    best_up = np.where(want, np.floor(best_up), 0.0)
    best_down = np.where(want, np.floor(np.minimum(best_down, dec_full)), 0.0)
    return (x - best_down.ravel()), (x + best_up.ravel())


def _slot_plans(
    dims: tuple[Dimension, ...],
    spread: int,
    axis_a: int | None,
    axis_b: int | None,
    shape: tuple[int, ...],
) -> list[tuple[IntArray | None, IntArray | None]]:
    """Which fixed partners to try: every one when the work is small, else the total for the
    leaves directly under it and every leaf child for the total (two passes)."""
    n0 = shape[spread]
    na, aa = (1, 1) if axis_a is None else (shape[axis_a], _partner_count(dims[axis_a]))
    nb, ab = (1, 1) if axis_b is None else (shape[axis_b], _partner_count(dims[axis_b]))
    if n0 * na * aa * nb * ab <= FULL_WORK:
        return [(None, None)]
    if axis_a is None or n0 * na * nb * ab > MAX_WORK:
        return []
    _, sa = _partner_table(dims[axis_a])
    plans: list[tuple[IntArray | None, IntArray | None]] = []
    leaves = np.array([k for k in range(1, na) if dims[axis_a].parent[k] == 0], dtype=np.int64)
    if leaves.size:
        # the total is the last partner of a leaf directly under it
        last = (sa[leaves] != 0).sum(axis=1) - 1
        plans.append((leaves, last[:, None]))
    if n0 * aa * nb * ab <= MAX_WORK:
        plans.append((np.array([0], dtype=np.int64), np.arange(aa, dtype=np.int64)[None, :]))
    return plans


def _orientation(
    dims: tuple[Dimension, ...],
    spread: int,
    axis_a: int | None,
    axis_b: int | None,
    inc_full: FloatArray,
    dec_full: FloatArray,
    want: BoolArray,
    shape: tuple[int, ...],
    codes_a: IntArray | None = None,
    slots_a: IntArray | None = None,
) -> tuple[FloatArray | None, FloatArray | None]:
    """Best up/down of every cell for one (spread, fixed-partner, fan) choice of axes.

    ``codes_a`` / ``slots_a``: only these codes of axis a, with these partner slots (default:
    every code, every partner). Cells of other a codes get 0.
    """
    n0 = shape[spread]
    na_all = 1 if axis_a is None else shape[axis_a]
    pa, sa = _partner_table(None if axis_a is None else dims[axis_a])
    pb, sb = _partner_table(None if axis_b is None else dims[axis_b])
    if codes_a is None or slots_a is None:
        codes_a = np.arange(na_all, dtype=np.int64)
        slots_a = np.tile(np.arange(pa.shape[1], dtype=np.int64), (na_all, 1))
    if axis_a is not None:
        # only a codes with cells still to prove
        moved = np.asarray(np.moveaxis(want, axis_a, 0).reshape(na_all, -1).any(axis=1))
        keep = moved[codes_a]
        if not keep.any():
            return None, None
        codes_a, slots_a = codes_a[keep], slots_a[keep]
    pa = pa[codes_a[:, None], slots_a]
    sa = sa[codes_a[:, None], slots_a]
    na, aa = pa.shape
    nb, ab = pb.shape
    full = n0 * na * aa * nb * ab <= FULL_WORK
    # arrays indexed [spread, a, b] (dummy axes of length 1)
    perm = [spread] + [k for k in (axis_a, axis_b) if k is not None]
    view_shape = (n0, na_all, nb)
    inc = np.transpose(inc_full, perm).reshape(view_shape).astype(_F)
    dec = np.transpose(dec_full, perm).reshape(view_shape).astype(_F)
    wanted = np.transpose(want, perm).reshape(view_shape)[:, codes_a]
    if not wanted.any():
        return None, None
    ia = codes_a[:, None, None, None]  # a code
    pa_ = pa[:, :, None, None]  # (na, aa, 1, 1) partner of the a code
    pb_ = pb[None, None, :, :]  # (1, 1, nb, ab)
    sb_ = sb[None, None, :, :]
    ia3 = codes_a[:, None, None]
    ib3 = np.arange(nb)[None, None, :]
    results_up = []
    results_down = []
    # gathered corner rooms, [j, a, slot_a, b(, slot_b)]
    c00_i = inc[:, ia3, ib3]  # (n0, na, 1, nb)
    c00_d = dec[:, ia3, ib3]
    c10_i = inc[:, pa[:, :, None], ib3]  # (n0, na, aa, nb)
    c10_d = dec[:, pa[:, :, None], ib3]
    c01_i = inc[:, ia, pb_]  # (n0, na, 1, nb, ab)
    c01_d = dec[:, ia, pb_]
    c11_i = inc[:, pa_, pb_]  # (n0, na, aa, nb, ab)
    c11_d = dec[:, pa_, pb_]
    sa3 = sa[None, :, :, None]  # (1, na, aa, 1)
    sa5 = sa[None, :, :, None, None]
    sb5 = sb_[None]  # (1, 1, 1, nb, ab)
    for direction in (1, -1):
        # rooms for the slice moving direction * d
        if direction > 0:
            shared = np.minimum(c00_i, _room(sa3, c10_i, c10_d))
            dist = np.minimum(_room(sb5, c01_i, c01_d), _room(sa5 * sb5, c11_i, c11_d))
        else:
            shared = np.minimum(c00_d, _room(sa3, c10_d, c10_i))
            dist = np.minimum(_room(sb5, c01_d, c01_i), _room(sa5 * sb5, c11_d, c11_i))
        results_up.append(shared)
        results_down.append(dist)
    shared_p, shared_m = results_up
    dist_p, dist_m = results_down
    valid_a = (sa != 0)[None, :, :, None]
    shared_p = np.where(valid_a, shared_p, _F(0))
    shared_m = np.where(valid_a, shared_m, _F(0))
    spread_dim = dims[spread]
    out_up = np.zeros((n0, na, nb))
    out_down = np.zeros((n0, na, nb))
    for share in (True, False) if full else (True,):
        # what slice j offers each rectangle q: fans split the shared room over q
        def offer(shared: FloatArray, dist: FloatArray, share: bool = share) -> FloatArray:
            if not share:
                return np.minimum(shared[..., None], dist).astype(np.float64)
            carried = np.maximum((dist > 0).sum(axis=4), 1).astype(np.float64)
            # rounded down to 1/_UNIT: a rounded-up share could over-use the shared corners
            share_ = np.floor(shared.astype(np.float64) * _UNIT / carried) / _UNIT
            offered: FloatArray = np.minimum(share_[..., None], dist)
            return offered

        offer_p = offer(shared_p, dist_p).reshape(n0, -1)
        offer_m = offer(shared_m, dist_m).reshape(n0, -1)
        pool_up, pool_down = _pools(spread_dim, offer_p, offer_m)
        pool_up = pool_up.reshape(dist_p.shape)
        pool_down = pool_down.reshape(dist_p.shape)
        t_up = np.minimum(dist_p, pool_up)
        t_down = np.minimum(dist_m, pool_down)
        if share:
            up = np.minimum(shared_p, t_up.sum(axis=4))
            down = np.minimum(shared_m, t_down.sum(axis=4))
        else:
            up = np.minimum(shared_p[..., None], t_up).max(axis=4)
            down = np.minimum(shared_m[..., None], t_down).max(axis=4)
        np.maximum(out_up, up.max(axis=2), out=out_up)
        np.maximum(out_down, down.max(axis=2), out=out_down)
    inverse = np.argsort(perm)
    full_shape = [shape[k] for k in perm]
    all_up = np.zeros(view_shape)
    all_down = np.zeros(view_shape)
    all_up[:, codes_a] = out_up
    all_down[:, codes_a] = out_down
    return (
        np.transpose(all_up.reshape(full_shape), inverse),
        np.transpose(all_down.reshape(full_shape), inverse),
    )
