"""The run record's daily sums compiled with numba: :meth:`RunRecord.add
<econ.model.record.RunRecord.add>` for every member, members in ``prange`` (docs/performance.md,
"Compiled day").

Imported only by :mod:`econ.model.kernel` with the compiled day. The same sums as the numpy
record, element by element in the same order (each period's sum gains the day's value); only
the import groups' mix premium sums its routes sequentially where numpy's ``reduceat`` sums
pairwise (the last bit may differ; tests/test_daykernel.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._daykernel import _OPTS, _gsum, _mx


@njit(parallel=True, **_OPTS)
def record_members(
    p,
    days_in_period,
    day_g,
    rows,
    queue_trucks,
    wait_days,
    arrivals,
    delay,
    tariff,
    guarantee,
    locked,
    delay_cost,
    premium,
    c2k_perm,
    c2k_bounds,
    c2k_groups,
    acc_g,
    acc_queue,
    acc_queue_max,
    acc_wait,
    acc_f,
    acc_premium,
    scratch,
):
    """Add one day of every member to period ``p``'s sums: rows ``rows`` of ``day_g``
    (., M, G), the Day's pair fields in the order of ``econ.model.record.PAIR_FIELDS``, into
    ``acc_g`` (n, P, M, G);
    the crossings' queues and waits; the cells' trade and trader costs into ``acc_f``
    (``CELL_FIELDS``, P, M, F); the mix premium by import group into ``acc_premium``
    (P, M, K). ``tariff``, ``guarantee``, ``locked`` (M, F); ``scratch`` (M, F + K)."""
    M, F = arrivals.shape
    n_g, G = len(rows), day_g.shape[2]
    C = queue_trucks.shape[1]
    K = acc_premium.shape[2]
    for m in prange(M):
        for i in range(n_g):
            r = rows[i]
            for g in range(G):
                acc_g[i, p, m, g] += day_g[r, m, g]
        for c in range(C):
            q = queue_trucks[m, c]
            acc_queue[p, m, c] = q
            acc_queue_max[p, m, c] = _mx(acc_queue_max[p, m, c], q)
            acc_wait[p, m, c] += wait_days[m, c] / days_in_period[p]
        x = scratch[m]
        for f in range(F):
            a = arrivals[m, f]
            acc_f[0, p, m, f] += a
            acc_f[1, p, m, f] += tariff[m, f] * a
            acc_f[2, p, m, f] += guarantee[m, f] * a
            acc_f[3, p, m, f] += locked[m, f] * a
            acc_f[4, p, m, f] += a * delay_cost[f] * delay[m, f]
            x[f] = a * premium[f]
        _gsum(x[:F], c2k_perm, c2k_bounds, c2k_groups, x[F:])
        for k in range(K):
            acc_premium[p, m, k] += _mx(x[F + k], 0.0)


def warm() -> None:
    """Compile :func:`record_members` for the array types a run passes, on zero members."""
    i1, u1 = np.zeros(1, np.int64), np.zeros(1, np.uint64)  # indices, group indices
    f1 = np.zeros(1)
    m2, m3, m4 = np.zeros((0, 1)), np.zeros((1, 0, 1)), np.zeros((1, 1, 0, 1))
    record_members(
        0,
        f1,
        m3,
        i1,
        *(m2,) * 7,
        f1,
        f1,
        u1,
        u1,
        u1,
        m4,
        m3,
        m3,
        m3,
        m4,
        m3,
        m2,
    )
