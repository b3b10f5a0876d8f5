"""The compiled day's data layout, measured on one stage: member-outer (as econ/model/_daykernel.py
loops today, one member per iteration) against member-innermost (every member of a chunk side by
side, so that the compiler can put several members in one vector register).

Run: ``python benchmarks/bench_layout.py`` (needs numba; one thread is what it measures:
``NUMBA_NUM_THREADS=1``). Prints microseconds per member-day of two pieces of the day written both
ways with the same arithmetic, and whether they give the same bits:

- the share boxes (the day's "share boxes, orders" stage: three adjustment boxes per cell, the
  rate chosen by the sign of the deviation), written without short-circuit branches (loads
  made unconditionally, ``&`` for ``and``) so that the compiler can use selects;
- a group sum over cells (``_daykernel._gsum``: each group's cells added in order).

docs/performance.md ("What is left against issue 19") gives the numbers measured on the 2-core
machine and what they imply for rewriting the day.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

OPTS = dict(error_model="numpy", fastmath=False)


@njit(**OPTS)
def boxes_member_outer(share_box, c_s0, relative, pen, rates, w, share):
    """share_box (M, 3, F), relative/pen/share (M, F), rates (M, 3, 3), w (M, 3)."""
    M, _, F = share_box.shape
    for m in range(M):
        rel, pn, sh = relative[m], pen[m], share[m]
        for f in range(F):
            ystar = c_s0[f] * (rel[f] - 1.0)
            s = 0.0
            for j in range(3):
                y = share_box[m, j, f]
                down = ystar < y
                up, dn, other = rates[m, 0, j], rates[m, 1, j], rates[m, 2, j]
                lam = dn if (down & pn[f]) else (up if ((not down) & (y >= 0.0)) else other)
                y = y + lam * (ystar - y)
                share_box[m, j, f] = y
                s += w[m, j] * y
            v = c_s0[f] + s
            sh[f] = v if v >= 0.0 else (0.0 if v == v else v)


@njit(**OPTS)
def boxes_member_inner(share_box, c_s0, relative, pen, rates, w, share):
    """share_box (3, F, M), relative/pen/share (F, M), rates (3, 3, M), w (3, M)."""
    _, F, M = share_box.shape
    for f in range(F):
        c = c_s0[f]
        acc, rel, pn = share[f], relative[f], pen[f]
        for m in range(M):
            acc[m] = 0.0
        for j in range(3):
            box, wj = share_box[j, f], w[j]
            up_r, dn_r, other_r = rates[0, j], rates[1, j], rates[2, j]
            for m in range(M):
                ystar = c * (rel[m] - 1.0)
                y = box[m]
                down = ystar < y
                up, dn, other = up_r[m], dn_r[m], other_r[m]
                lam = dn if (down & pn[m]) else (up if ((not down) & (y >= 0.0)) else other)
                y = y + lam * (ystar - y)
                box[m] = y
                acc[m] += wj[m] * y
        for m in range(M):
            v = c + acc[m]
            acc[m] = v if v >= 0.0 else (0.0 if v == v else v)


@njit(**OPTS)
def gsum_member_outer(x, perm, bounds, groups, out):
    """x (M, F) -> out (M, K)."""
    for m in range(x.shape[0]):
        for s in range(len(groups)):
            acc = 0.0
            for i in range(bounds[s], bounds[s + 1]):
                acc += x[m, perm[i]]
            out[m, groups[s]] = acc


@njit(**OPTS)
def gsum_member_inner(x, perm, bounds, groups, out):
    """x (F, M) -> out (K, M)."""
    M = x.shape[1]
    for s in range(len(groups)):
        row = out[groups[s]]
        for m in range(M):
            row[m] = 0.0
        for i in range(bounds[s], bounds[s + 1]):
            xf = x[perm[i]]
            for m in range(M):
                row[m] += xf[m]


def _best(fn, *args, rep: int = 200) -> float:
    fn(*args)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(rep):
            fn(*args)
        best = min(best, (time.perf_counter() - t0) / rep)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    M, F, K = 256, 247, 15  # a chunk's members; the default network's cells and commodities
    c_s0 = rng.uniform(0, 0.2, F)
    rel, pen = rng.uniform(0.5, 1.5, (M, F)), rng.uniform(size=(M, F)) < 0.3
    rates, w = rng.uniform(0.01, 0.5, (M, 3, 3)), rng.uniform(0, 1, (M, 3))
    box = rng.normal(0, 0.01, (M, 3, F))
    t = lambda a: np.ascontiguousarray(np.moveaxis(a, 0, -1))  # noqa: E731 members last
    outer = (box.copy(), c_s0, rel, pen, rates, w, np.zeros((M, F)))
    inner = (t(box), c_s0, t(rel), t(pen), t(rates), t(w), np.zeros((F, M)))
    t_outer, t_inner = _best(boxes_member_outer, *outer), _best(boxes_member_inner, *inner)
    a, b = (box.copy(), *outer[1:6], np.zeros((M, F))), (t(box), *inner[1:6], np.zeros((F, M)))
    boxes_member_outer(*a)
    boxes_member_inner(*b)
    same = np.array_equal(a[6], b[6].T) and np.array_equal(a[0], np.moveaxis(b[0], -1, 0))
    print(
        f"share boxes: member-outer {t_outer * 1e6 / M:.2f} us, member-innermost "
        f"{t_inner * 1e6 / M:.2f} us per member-day; same bits: {same}"
    )
    group = rng.integers(0, K, F)
    perm = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[perm]) != 0])
    u = lambda a: np.asarray(a, dtype=np.uint64)  # noqa: E731 as econ.model.compiled._idx
    idx = (u(perm), u(np.r_[starts, F]), u(group[perm][starts]))
    x = rng.normal(size=(M, F))
    xo, xi = np.zeros((M, K)), np.zeros((K, M))
    g_outer = _best(gsum_member_outer, x, *idx, xo)
    g_inner = _best(gsum_member_inner, t(x), *idx, xi)
    print(
        f"group sum over cells: member-outer {g_outer * 1e6 / M:.3f} us, member-innermost "
        f"{g_inner * 1e6 / M:.3f} us per member-day; same bits: {np.array_equal(xo, xi.T)}"
    )


if __name__ == "__main__":
    main()
