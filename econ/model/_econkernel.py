"""The economy stage's day compiled with numba: :meth:`Economy.step
<econ.model.economy.Economy.step>` and the equations of :mod:`econ.economy` it calls, one member
per loop iteration, members in ``prange`` (docs/performance.md, "Compiled day").

Imported only by :mod:`econ.model.kernel` with :mod:`econ.model._daykernel`, when a run asks
for the compiled day. A transcription of the numpy stage, which stays the reference: the same
operations in the same order, sums over sectors in numpy's pairwise order (:func:`_pwd`), the
two fixed points of :func:`econ.economy.calc_output_loss` iterated per member with its tolerance
(tests/test_daykernel.py checks the two against each other). A member's numbers depend only on
its own inputs.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._daykernel import _OPTS, _gsum, _mn, _mx, _pw


@njit(**_OPTS)
def _pwd(x, idx, n):
    """numpy's pairwise sum of a contiguous x[:n] (``idx`` = arange(n))."""
    return _pw(x, idx, 0, n)


@njit(**_OPTS)
def _output_loss(x0, a, own, demand_loss, crit, tol, max_iter, cap, new, share, prod, idx):
    """econ.economy.calc_output_loss for one member: lost capacity κ (into ``cap``), then the
    output loss ℓ (returned in ``new``)."""
    J = len(x0)
    scale = 0.0
    for j in range(J):
        scale = _mx(scale, x0[j])
    scale = tol * _mx(scale, 1.0)
    for j in range(J):
        cap[j] = own[j]
    for _ in range(J + 1):
        for i in range(J):
            share[i] = cap[i] / x0[i] if x0[i] > 0.0 else 0.0
        same = True
        for j in range(J):
            v = crit[0, j] * share[0]
            for i in range(1, J):
                v = _mx(v, crit[i, j] * share[i])
            new[j] = _mx(own[j], x0[j] * v)
            if new[j] != cap[j]:
                same = False
        if same:
            break
        for j in range(J):
            cap[j] = new[j]
    loss = share  # reuse: the fixed point of the output loss
    for j in range(J):
        loss[j] = _mn(x0[j], _mx(cap[j], 0.0))
    for _ in range(max_iter):
        step = 0.0
        for j in range(J):
            for k in range(J):
                prod[k] = loss[k] * a[j, k]
            up = _pwd(prod, idx, J)
            new[j] = _mx(_mn(x0[j], _mx(cap[j], up + demand_loss[j])), 0.0)
        for j in range(J):
            step = _mx(step, abs(new[j] - loss[j]))
            loss[j] = new[j]
        if not step > scale:
            break
    for j in range(J):
        new[j] = loss[j]


@njit(**_OPTS)
def _stocks(ck, e0_k, imp, b, days, psi, gap, want, ratio, noise):
    """Stocks and the supply ratio of each import group (calc_deviation, calc_stock_target,
    calc_supply_ratio, calc_stock_gap) for one member; ``gap`` updated in place."""
    for i in range(len(imp)):
        use0 = e0_k[imp[i]] * b
        d = ck[imp[i]] - use0
        ag = 0.0 if abs(d) <= noise * abs(use0) else d
        target = days[i] * use0
        available = target + gap[i] + use0 + ag
        need = _mx(psi * target, use0)
        r = _mx(available, 0.0) / need if need > 0.0 else 1.0
        r = _mn(r, 1.0)
        ratio[i] = r
        use_gap = use0 * (want[i] * r - 1.0)
        gap[i] = gap[i] + ag - use_gap


@njit(**_OPTS)
def _capacity_and_demand(
    x0_year, b, criticality, s, ratio, lk, e0_k, exp, export_split, noise, x0, own, dl
):
    """Baseline output ``x0``, the output each sector's import constraint takes away ``own``
    (calc_import_constraint) and the final demand lost with exports ``dl``, for one member."""
    for j in range(len(x0_year)):
        x0[j] = x0_year[j] * b
        cut = criticality[0, j] * (1.0 - s) * (1.0 - ratio[0])
        for i in range(1, len(ratio)):
            cut = _mx(cut, criticality[i, j] * (1.0 - s) * (1.0 - ratio[i]))
        own[j] = x0[j] * (1.0 - (1.0 - cut))
        dl[j] = 0.0
    for e in range(len(exp)):
        v = lk[exp[e]]
        if abs(v) <= noise * (e0_k[exp[e]] * b):
            v = 0.0
        for j in range(len(x0_year)):
            dl[j] += v * export_split[e, j]


@njit(**_OPTS)
def _landed(
    freight, fm1, delay_cost, delay, tariff, afghan, guarantee, cell_commodity, arrivals, ak, v0,
    b, g0, num, den,
):  # fmt: skip
    """calc_landed_cost_change's sums for one member: ``num``/``den`` by import group, the cost
    gap weighted by the day's arrivals (baseline flows where a group has none)."""
    num[:] = 0.0
    den[:] = 0.0
    for f in range(len(freight)):
        cost_gap = freight[f] * fm1 + delay_cost[f] * delay[f] + tariff[f]
        cost_gap = cost_gap + afghan[f] + guarantee[f]
        k = cell_commodity[f]
        w = arrivals[f] if ak[k] > 0.0 else v0[f] * b
        num[k] += w * cost_gap / g0[f]
        den[k] += w


@njit(parallel=True, **_OPTS)
def economy_members(
    p2k_perm,
    p2k_bounds,
    p2k_groups,
    c2k_perm,
    c2k_bounds,
    c2k_groups,
    cell_commodity,
    e0_k,
    imp,
    exp,
    use_share,
    x0_year,
    a,
    criticality,
    export_split,
    tax_rate,
    employment,
    item_k,
    item_share,
    freight,
    delay_cost,
    v0,
    g0,
    days,
    psi,
    substitution,
    domestic_criticality,
    pass_through,
    elasticity,
    fuel_share,
    fuel_item,
    revise,
    revision_days,
    noise,
    tol,
    max_iter,
    jidx,
    b_day,
    cleared,
    lost,
    spoiled,
    arrivals,
    delay,
    wf,
    gap,
    loss_share,
    freight_multiplier,
    fuel_price_sum,
    out_loss,
    out_revenue,
    out_jobs,
    out_price,
    out_ratio,
    sk,
    sj,
    sf,
):
    """One economy day of every member (members in parallel). State (``gap``, ``loss_share``,
    ``freight_multiplier``, ``fuel_price_sum``) is updated in place; ``wf`` is the compiled
    day's wedges (tariff 0, guarantee 1, Afghan duty 4); ``revise`` whether freight tariffs are
    revised after this day; ``jidx`` arange(J); ``sk``, ``sj``, ``sf`` scratch."""
    M = gap.shape[0]
    Ki = len(imp)
    J = len(x0_year)
    for m in prange(M):
        b = b_day[m]
        ck, lk, want, ak, num, den = sk[m, 0], sk[m, 1], sk[m, 2], sk[m, 3], sk[m, 4], sk[m, 5]
        prod, x0, own, dl, loss = sj[m, 0], sj[m, 1], sj[m, 2], sj[m, 3], out_loss[m]
        ratio = out_ratio[m]
        # imports cleared and exports lost by commodity (GroupSum of the pairs)
        tmp = sf[m, 0]
        for g in range(cleared.shape[1]):
            tmp[g] = lost[m, g] + spoiled[m, g]
        _gsum(cleared[m], p2k_perm, p2k_bounds, p2k_groups, ck)
        _gsum(tmp, p2k_perm, p2k_bounds, p2k_groups, lk)
        # users want less when they produce less (yesterday's output)
        for i in range(Ki):
            for j in range(J):
                prod[j] = loss_share[m, j] * use_share[i, j]
            want[i] = 1.0 - _pwd(prod, jidx, J)
        _stocks(ck, e0_k, imp, b, days[m], psi[m], gap[m], want, ratio, noise)
        _capacity_and_demand(
            x0_year, b, criticality, substitution[m], ratio, lk, e0_k, exp, export_split, noise,
            x0, own, dl,
        )  # fmt: skip
        _output_loss(
            x0, a, own, dl, domestic_criticality[m], tol, max_iter, sj[m, 4], loss, sj[m, 5],
            sj[m, 6], jidx,
        )  # fmt: skip
        for j in range(J):
            share = loss[j] / x0[j] if x0[j] > 0.0 else 0.0
            loss_share[m, j] = share
            out_jobs[m, j] = share * employment[j]
            prod[j] = loss[j] * tax_rate[j]
        out_revenue[m] = _pwd(prod, jidx, J)
        # landed cost of each import group (the day's wedges on its arriving cargo), prices
        _gsum(arrivals[m], c2k_perm, c2k_bounds, c2k_groups, ak)
        _landed(
            freight, freight_multiplier[m] - 1.0, delay_cost, delay[m], wf[0, m], wf[4, m],
            wf[1, m], cell_commodity, arrivals[m], ak, v0, b, g0, num, den,
        )  # fmt: skip
        price = out_price[m]
        for i in range(len(item_k)):
            k = imp[item_k[i]]
            landed = num[k] / den[k] if den[k] > 0.0 else 0.0
            scarcity = item_share[i] * (1.0 - ratio[item_k[i]]) / abs(elasticity[m, i])
            price[i] = 1.0 + pass_through[m] * landed + scarcity
        if fuel_item >= 0:
            fuel_price_sum[m] = fuel_price_sum[m] + price[fuel_item]
            if revise:
                mean = fuel_price_sum[m] / revision_days
                freight_multiplier[m] = 1.0 + fuel_share[m] * (mean - 1.0)
                fuel_price_sum[m] = 0.0


def warm() -> None:
    """Compile :func:`economy_members` for the array types a run passes, on zero members (the
    compiled day's first run marks the cache for both modules, also when it has no economy)."""
    i1, u1 = np.zeros(1, np.int64), np.zeros(1, np.uint64)  # indices, group indices
    f1, f2, f3 = np.zeros(1), np.zeros((1, 1)), np.zeros((1, 1, 1))
    m1, m2, m3 = np.zeros(0), np.zeros((0, 1)), np.zeros((0, 1, 1))
    economy_members(
        *(u1,) * 6,
        i1,
        f1,
        i1,
        i1,
        f2,
        f1,
        f2,
        f2,
        f2,
        f1,
        f1,
        i1,
        *(f1,) * 5,
        m2,
        m1,
        m1,
        m3,
        m1,
        m2,
        m1,
        -1,
        False,
        30.0,
        1e-9,
        1e-10,
        500,
        i1,
        m1,
        *(m2,) * 5,
        f3,
        m2,
        m2,
        m1,
        m1,
        m2,
        m1,
        m2,
        m2,
        m2,
        m3,
        m3,
        m3,
    )
