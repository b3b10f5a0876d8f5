"""The engine's day compiled with numba: every process of :meth:`Engine.step`, for one member
after another within blocks of members that run in parallel (``prange`` over the blocks, each
with its own scratch; docs/performance.md).

This module imports numba and is imported only by :mod:`econ.model.kernel`, when a run asks
for the compiled day. It is a transcription of the numpy engine (econ/model/engine.py), which
stays the reference together with :mod:`econ.equations`: the same operations in the same
order, grouped sums in numpy's own summation order (``np.add.reduceat`` and ``ndarray.sum``
sum pairwise in blocks of eight; :func:`_pw`), so that results agree with the numpy engine
to rounding in ``exp``/``pow`` (tests/test_daykernel.py: 1e-12 relative), and a baseline day
gives exactly the baseline (relative shares exactly 1, box deviations exactly 0). A member's
numbers depend only on its own inputs: results do not depend on the chunk or the threads.
Index arrays arrive unsigned (uint64, econ/model/compiled.py ``_idx``): numba then gathers
through them without its negative-index wraparound.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

_OPTS = dict(cache=True, error_model="numpy", fastmath=False, nogil=True)


@njit(**_OPTS)
def _mx(a, b):
    """np.maximum: NaN if either is NaN."""
    if a != a or b != b:
        return np.nan
    return a if a >= b else b


@njit(**_OPTS)
def _mn(a, b):
    """np.minimum."""
    if a != a or b != b:
        return np.nan
    return a if a <= b else b


@njit(**_OPTS)
def _fmin(a, b):
    """np.fmin: the other where one is NaN."""
    if a != a:
        return b
    if b != b:
        return a
    return a if a <= b else b


@njit(**_OPTS)
def _pw(x, idx, lo, n):
    """numpy's pairwise sum of x[idx[lo:lo+n]] (n <= 128): sequential below 8 terms, else
    eight interleaved partial sums combined as a tree, then the remainder."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += x[idx[lo + i]]
        return res
    r0 = x[idx[lo]]
    r1 = x[idx[lo + 1]]
    r2 = x[idx[lo + 2]]
    r3 = x[idx[lo + 3]]
    r4 = x[idx[lo + 4]]
    r5 = x[idx[lo + 5]]
    r6 = x[idx[lo + 6]]
    r7 = x[idx[lo + 7]]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += x[idx[lo + i]]
        r1 += x[idx[lo + i + 1]]
        r2 += x[idx[lo + i + 2]]
        r3 += x[idx[lo + i + 3]]
        r4 += x[idx[lo + i + 4]]
        r5 += x[idx[lo + i + 5]]
        r6 += x[idx[lo + i + 6]]
        r7 += x[idx[lo + i + 7]]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += x[idx[lo + i]]
        i += 1
    return res


@njit(**_OPTS)
def _gsum(x, perm, bounds, groups, out):
    """GroupSum (econ/model/network.py): each group's terms added in the order of its
    (stably sorted) keys; 0 where a group has no member. numpy's reduceat sums pairwise, so
    the two may differ in the last bit (docs/performance.md)."""
    out[:] = 0.0
    for s in range(len(groups)):
        acc = 0.0
        for i in range(bounds[s], bounds[s + 1]):
            acc += x[perm[i]]
        out[groups[s]] = acc


@njit(**_OPTS)
def _gmax(x, perm, bounds, groups, out):
    """GroupSum.max: np.maximum.reduceat (0 where a group has no member)."""
    out[:] = 0.0
    for s in range(len(groups)):
        lo = bounds[s]
        v = x[perm[lo]]
        for i in range(lo + 1, bounds[s + 1]):
            v = _mx(v, x[perm[i]])
        out[groups[s]] = v


@njit(**_OPTS)
def _to_pairs(x, cell_pair, n_first, out):
    """CellLayout.cells_to_pairs: each pair's routes added level by level, in cell order."""
    for f in range(len(x)):
        if f < n_first:
            out[cell_pair[f]] = x[f]
        else:
            out[cell_pair[f]] += x[f]


@njit(**_OPTS)
def _ln_ces_sum(total, deviation):
    """equations._ln_ces_sum: log V below 1/2, log1p(V − 1) above."""
    if total < 0.5:
        return math.log(total)
    return math.log1p(deviation)


@njit(**_OPTS)
def _addat(x, key, out):
    """np.add.at into zeros: sequential in index order."""
    out[:] = 0.0
    for i in range(len(x)):
        out[key[i]] += x[i]


def _member_day(
    m,
    # static network and layout
    cf,
    ci,
    pf,
    pi,
    nest_origin,
    origin_commodity,
    npair_nest,
    net_capacity,
    v0_k,
    v0_nest,
    n_first,
    gs,
    # member parameters
    eta,
    sig_r,
    sig_o,
    eta_n,
    sig_r_o,
    sig_k,
    eps,
    patience_cells,
    patience_pairs,
    rates,
    box_weights,
    mp,
    # the day
    b_day,
    fmult,
    wf,
    unavailable,
    g0,
    capacity_share,
    capacity,
    anticipation,
    use_anticipation,
    pattern_same,
    # state (updated in place)
    share_box,
    volume_box,
    backlog,
    queue_value,
    pending_value,
    compliance,
    rate,
    closure_days,
    queue_trucks,
    memo_ratio,
    memo_rel,
    memo_price,
    memo_pen,
    memo_valid,
    memo_cf,
    memo_cn,
    memo_co,
    # outputs
    out_f,
    out_g,
    out_c,
    out_m,
    # scratch of this member's block (each value written before it is read)
    sf,
    sg,
    sc,
    sk,
    sn,
    so,
    sq,
):
    """One day of member ``m`` (the stages of Engine.step, in its order)."""
    F = cf.shape[1]
    G = pf.shape[1]
    C = net_capacity.shape[0]
    K = v0_k.shape[0]
    N = nest_origin.shape[0]
    O = origin_commodity.shape[0]  # noqa: E741
    NP = npair_nest.shape[0]
    # static cell arrays
    c_v0, c_s0, c_freight, c_dcost, c_days0, c_release = cf[0], cf[1], cf[2], cf[3], cf[4], cf[5]
    cell_commodity, cell_crossing, cell_nest, cell_pair, cell_npair = (
        ci[0],
        ci[1],
        ci[2],
        ci[3],
        ci[4],
    )
    p_vpt, p_rate, p_spoil, p_e0, p_w0 = pf[0], pf[1], pf[2], pf[3], pf[4]
    pair_crossing, pair_commodity = pi[0], pi[1]
    # grouped sums: (perm, bounds, groups) of each GroupSum
    (
        c2k_p, c2k_b, c2k_g,  # cells_to_commodity
        p2k_p, p2k_b, p2k_g,  # pairs_to_commodity
        p2c_p, p2c_b, p2c_g,  # pairs_to_crossing
        c2n_p, c2n_b, c2n_g,  # cells_to_nest
        n2o_p, n2o_b, n2o_g,  # nests_to_origin
        o2k_p, o2k_b, o2k_g,  # origins_to_commodity
        c2q_p, c2q_b, c2q_g,  # cells_to_npair
        q2n_p, q2n_b, q2n_g,  # npairs_to_nest
        all_g,  # 0..G-1 (ndarray.sum over pairs)
        peers,  # CellLayout.npair_peers (P, NP)
    ) = gs  # fmt: skip
    b = b_day[m]
    wt_tariff, wt_guar, wt_avail, wt_extra, wt_afghan, wt_comp, wt_admit = (
        wf[0, m],
        wf[1, m],
        wf[2, m],
        wf[3, m],
        wf[4, m],
        wf[5, m],
        wf[6, m],
    )
    if g0.shape[0] > 1:
        g0m = g0[m]
    else:
        g0m = g0[0]
    cap_share = capacity_share[m]
    cap = capacity[m]
    closure_expected = mp[0, m]
    release_days = mp[1, m]
    # scratch
    v0 = sf[0]
    ratio = sf[1]
    delay = sf[2]
    target = sf[3]
    placed = sf[4]
    unplaced = sf[5]
    hold = sf[6]
    open_now = sf[7]
    tmp = sf[8]
    tmp2 = sf[9]
    from_backlog = sf[10]
    cancelled = sf[11]
    arrivals = sf[12]
    held = sf[13]
    barred = sf[14]
    turned = sf[15]
    released = sf[16]
    w_cell = sf[17]
    share = sf[18]
    elapsed = sc[0]
    expected = sc[1]
    wait = sc[2]
    trucks = sc[3]
    phi = sc[4]
    q_end = sc[5]
    wait_end = sc[6]
    demand0 = sk[0]
    vol = sk[1]
    demand = sk[2]
    volume = sk[3]
    total_k = sk[4]
    weight_k = sk[5]
    open_k = sk[6]
    unmet_k = sk[7]
    released_k = sk[8]
    total_open = sk[9]
    tmp_k = sk[10]
    tmp_k2 = sk[11]
    s0_k = sk[12]
    S_k = sk[13]
    base_k = sk[14]
    has_open = sk[15]
    allowed_c = sg[0]
    rest = sg[1]
    cleared = sg[2]
    spoiled = sg[3]
    queue_new = sg[4]
    turned_q = sg[5]
    tmp_g = sg[6]
    tmp_g2 = sg[7]
    v0_pair = sg[8]
    queue_prev = sg[9]
    short = sg[10]
    s0_n = sn[0]
    a_n = sn[1]
    S_n = sn[2]
    V_n = sn[3]
    a_rel = sn[4]
    incl_n = sn[5]
    pn = sn[6]
    f_n = sn[7]
    total_nest = sn[8]
    load_n = sn[9]
    cap_n = sn[10]
    s0_o = so[0]
    a_o = so[1]
    S_o = so[2]
    incl_o = so[3]
    q_o = so[4]
    po = so[5]
    f_o = so[6]
    q_dir = so[8]
    v_dir = sn[13]
    base_dir = sk[16]
    own = sq[0]
    turned_m = sq[1]
    per = sq[2]
    per_o = sq[3]

    # ------------------------------------------------------------ route cost
    for f in range(F):
        v0[f] = c_v0[f] * b
    for k in range(K):
        demand0[k] = v0_k[k] * b
    for c in range(C):
        e = closure_days[m, c] + 1.0 if cap_share[c] <= 0.0 else 0.0
        elapsed[c] = e
        closure_days[m, c] = e
        expected[c] = _mx(closure_expected, e)
        q = queue_trucks[m, c]
        wait[c] = _fmin(q / cap[c], q / net_capacity[c] + expected[c])
    for f in range(F):
        d = wait[cell_crossing[f]] + wt_extra[f]
        delay[f] = d
        g = (
            1.0
            + c_freight[f] * fmult[m]
            + c_dcost[f] * (c_days0[f] + d)
            + (wt_tariff[f] + wt_afghan[f])
            + wt_guar[f]
        )
        ratio[f] = g / g0m[f]

    # ------------------------------------------------------------ route choice (exact memo)
    # The tree is recomputed only where its inputs changed since yesterday: every cell, nest
    # and origin on a day whose measures changed; else the cells whose cost ratio changed (a
    # queue at their crossing) and the nests, origins and commodities above them. The powers,
    # logarithms and exponentials of an unchanged cell, nest or origin are yesterday's, which
    # are the numbers a recomputation would give; the sums above them are always redone.
    full = not (pattern_same and memo_valid[m])
    any_dirty = full
    dirty_f = sf[19]
    for f in range(F):
        if full or ratio[f] != memo_ratio[m, f]:
            dirty_f[f] = 1.0
            any_dirty = True
        else:
            dirty_f[f] = 0.0
    if any_dirty:
        relative = memo_rel[m]
        price = memo_price[m]
        dirty_n = sn[12]
        dirty_o = so[7]
        for n in range(N):
            dirty_n[n] = 1.0 if full else 0.0
        for o in range(O):
            dirty_o[o] = 1.0 if full else 0.0
        _gsum(c_s0, c2n_p, c2n_b, c2n_g, s0_n)
        _gsum(s0_n, n2o_p, n2o_b, n2o_g, s0_o)
        _gsum(s0_o, o2k_p, o2k_b, o2k_g, s0_k)
        for f in range(F):
            tmp[f] = wt_avail[f] if c_s0[f] > 0 else 0.0
        _gmax(tmp, c2n_p, c2n_b, c2n_g, a_n)
        _gmax(a_n, n2o_p, n2o_b, n2o_g, a_o)
        for f in range(F):
            if dirty_f[f] > 0.0:
                an = a_n[cell_nest[f]]
                u = wt_avail[f] / (an if an > 0 else 1.0)
                x = ratio[f]
                memo_cf[m, 0, f] = u * x ** (-eta[m, f])
                memo_cf[m, 1, f] = c_s0[f] * (
                    u * math.expm1((1.0 - eta[m, f]) * math.log(x)) + (u - 1.0)
                )
                dirty_n[cell_nest[f]] = 1.0
            w_cell[f] = memo_cf[m, 0, f]
            tmp[f] = c_s0[f] * w_cell[f]
            tmp2[f] = memo_cf[m, 1, f]
        _gsum(tmp, c2n_p, c2n_b, c2n_g, S_n)
        _gsum(tmp2, c2n_p, c2n_b, c2n_g, V_n)  # the deviations D
        for f in range(F):
            tmp2[f] = c_s0[f] * w_cell[f] * ratio[f]
        _gsum(tmp2, c2n_p, c2n_b, c2n_g, v_dir)  # the sums V themselves
        for n in range(N):
            if s0_n[n] > 0:
                S_n[n] = S_n[n] / s0_n[n]
                V_n[n] = V_n[n] / s0_n[n]
                v_dir[n] = v_dir[n] / s0_n[n]
            else:
                S_n[n] = 0.0
                V_n[n] = -1.0
                v_dir[n] = 0.0
            ao = a_o[nest_origin[n]]
            a_rel[n] = a_n[n] / (ao if ao > 0 else 1.0) if a_n[n] > 0 else 0.0
            if dirty_n[n] > 0.0:
                memo_cn[m, 0, n] = (
                    a_rel[n] * S_n[n] ** (sig_r[m, n] / eta_n[m, n]) if S_n[n] > 0 else 0.0
                )
                if a_rel[n] > 0 and v_dir[n] > 0:
                    y = (1.0 - sig_r[m, n]) * (_ln_ces_sum(v_dir[n], V_n[n]) / (1.0 - eta_n[m, n]))
                    memo_cn[m, 1, n] = a_rel[n] * math.exp(y)
                    memo_cn[m, 2, n] = a_rel[n] * math.expm1(y) + (a_rel[n] - 1.0)
                else:
                    memo_cn[m, 1, n] = 0.0
                    memo_cn[m, 2, n] = -1.0
                dirty_o[nest_origin[n]] = 1.0
            incl_n[n] = memo_cn[m, 0, n]
            tmp[n] = s0_n[n] * incl_n[n]
            tmp2[n] = s0_n[n] * memo_cn[m, 1, n]
            pn[n] = s0_n[n] * memo_cn[m, 2, n]
        _gsum(tmp, n2o_p, n2o_b, n2o_g, S_o)
        _gsum(tmp2, n2o_p, n2o_b, n2o_g, q_dir)
        _gsum(pn, n2o_p, n2o_b, n2o_g, q_o)
        for o in range(O):
            if s0_o[o] > 0:
                S_o[o] = S_o[o] / s0_o[o]
                q_dir[o] = q_dir[o] / s0_o[o]
                q_o[o] = q_o[o] / s0_o[o]
            else:
                S_o[o] = 0.0
                q_dir[o] = 0.0
                q_o[o] = -1.0
            if dirty_o[o] > 0.0:
                memo_co[m, 0, o] = (
                    a_o[o] * S_o[o] ** (sig_o[m, o] / sig_r_o[m, o]) if S_o[o] > 0 else 0.0
                )
                if a_o[o] > 0 and q_dir[o] > 0:
                    y = (1.0 - sig_o[m, o]) * (
                        _ln_ces_sum(q_dir[o], q_o[o]) / (1.0 - sig_r_o[m, o])
                    )
                    memo_co[m, 1, o] = a_o[o] * math.exp(y)
                    memo_co[m, 2, o] = a_o[o] * math.expm1(y) + (a_o[o] - 1.0)
                else:
                    memo_co[m, 1, o] = 0.0
                    memo_co[m, 2, o] = -1.0
            incl_o[o] = memo_co[m, 0, o]
            tmp[o] = s0_o[o] * incl_o[o]
            tmp2[o] = s0_o[o] * memo_co[m, 1, o]
            po[o] = s0_o[o] * memo_co[m, 2, o]
        _gsum(tmp, o2k_p, o2k_b, o2k_g, S_k)
        _gsum(tmp2, o2k_p, o2k_b, o2k_g, base_dir)
        _gsum(po, o2k_p, o2k_b, o2k_g, base_k)
        for k in range(K):
            if s0_k[k] > 0:
                S_k[k] = S_k[k] / s0_k[k]
                bd = base_dir[k] / s0_k[k]
                dk = base_k[k] / s0_k[k]
                price[k] = math.exp(_ln_ces_sum(bd, dk) / (1.0 - sig_k[m, k])) if bd > 0 else np.inf
            else:
                S_k[k] = 0.0
                price[k] = 1.0
        for o in range(O):
            sk_ = S_k[origin_commodity[o]]
            f_o[o] = incl_o[o] / sk_ if sk_ > 0 else 0.0
        for n in range(N):
            so_ = S_o[nest_origin[n]]
            f_n[n] = incl_n[n] / so_ if so_ > 0 else 0.0
        for f in range(F):
            n = cell_nest[f]
            sn_ = S_n[n]
            fr = w_cell[f] / sn_ if sn_ > 0 else 0.0
            relative[f] = fr * (f_n[n] * f_o[nest_origin[n]])
            memo_pen[m, f] = ratio[f] > 1.0 or unavailable[m, f]
            memo_ratio[m, f] = ratio[f]
        memo_valid[m] = True
    relative = memo_rel[m]
    price = memo_price[m]

    # ------------------------------------------------------------ demand
    for k in range(K):
        p = price[k]
        vol[k] = p ** (-eps[m, k]) if np.isfinite(p) else 0.0
        demand[k] = demand0[k] * vol[k]
    for f in range(F):
        target[f] = v0[f] * relative[f] * vol[cell_commodity[f]]

    # ------------------------------------------------------------ volume boxes
    for k in range(K):
        gap = demand[k] - demand0[k]
        moved = 0.0
        for j in range(3):
            y = volume_box[m, j, k]
            y = y + rates[m, 0, j] * (gap - y)
            volume_box[m, j, k] = y
            moved += box_weights[m, j] * y
        volume[k] = _mx(demand0[k] + moved, 0.0)

    # ------------------------------------------------------------ share boxes, orders
    for f in range(F):
        ystar = c_s0[f] * (relative[f] - 1.0)
        pen = memo_pen[m, f]
        s = 0.0
        for j in range(3):
            y = share_box[m, j, f]
            down = ystar < y
            if down and pen:
                lam = rates[m, 1, j]
            elif (not down) and y >= 0.0:
                lam = rates[m, 0, j]
            else:
                lam = rates[m, 2, j]
            y = y + lam * (ystar - y)
            share_box[m, j, f] = y
            s += box_weights[m, j] * y
        share[f] = _mx(c_s0[f] + s, 0.0)
    _gsum(share, c2k_p, c2k_b, c2k_g, total_k)
    for f in range(F):
        tmp[f] = _mx(0.0, c_s0[f] - share[f])  # lost share
    _gsum(tmp, c2k_p, c2k_b, c2k_g, weight_k)
    for f in range(F):
        k = cell_commodity[f]
        placed[f] = volume[k] * share[f] / _mx(1.0, total_k[k])
        short_ = volume[k] * _mx(0.0, 1.0 - total_k[k])
        wk = weight_k[k]
        unplaced[f] = short_ * tmp[f] / wk if wk > 0.0 else 0.0
        if use_anticipation:
            placed[f] = _mx(placed[f] + anticipation[m, f], 0.0)

    # ------------------------------------------------------------ hold-back, open demand
    for f in range(F):
        c = cell_crossing[f]
        cs = cap_share[c]
        # exp(−0/patience) is exactly 1: an open crossing costs no exponential
        e = elapsed[c]
        hold[f] = cs + (1.0 - cs) * (math.exp(-e / patience_cells[m, f]) if e != 0.0 else 1.0)
        od = target[f] * hold[f]
        open_now[f] = od if cs > 0.0 else 0.0

    # ------------------------------------------------------------ backlog release
    take_rate = -math.expm1(-1.0 / release_days)  # the same for every cell of the member
    _gsum(open_now, c2k_p, c2k_b, c2k_g, open_k)
    for k in range(K):
        has_open[k] = 1.0 if open_k[k] > 1e-3 * demand0[k] else 0.0
    for f in range(F):
        tmp[f] = _mx(open_now[f] - placed[f], 0.0)  # unmet
    _gsum(tmp, c2k_p, c2k_b, c2k_g, unmet_k)
    for f in range(F):
        k = cell_commodity[f]
        dest = tmp[f] if unmet_k[k] > 1e-12 * open_k[k] else open_now[f]
        tmp2[f] = dest
        bl = backlog[m, f]
        if has_open[k] > 0.0:
            from_backlog[f] = bl * take_rate  # taken, for now
            cancelled[f] = 0.0
        else:
            from_backlog[f] = 0.0
            cancelled[f] = bl * -math.expm1(-1.0 / patience_cells[m, f])
    _addat(tmp2, cell_commodity, total_open)
    _addat(from_backlog, cell_commodity, released_k)
    for f in range(F):
        k = cell_commodity[f]
        taken = from_backlog[f]
        backlog[m, f] = backlog[m, f] - taken - cancelled[f] + unplaced[f]
        if total_open[k] > 0.0:
            from_backlog[f] = released_k[k] * tmp2[f] / total_open[k]
        else:
            from_backlog[f] = 0.0

    # ------------------------------------------------------------ arrivals and caps
    for f in range(F):
        rel = pending_value[m, f] * c_release[f]
        released[f] = rel
        sent = placed[f] + from_backlog[f] + rel
        a = sent * hold[f]
        arrivals[f] = a
        held[f] = sent - a
        restricted = wt_admit[f] < 1.0
        tmp[f] = a if restricted else 0.0
        tmp2[f] = wt_admit[f] * v0[f] if restricted else 0.0
    _gsum(tmp, c2n_p, c2n_b, c2n_g, load_n)
    _gsum(tmp2, c2n_p, c2n_b, c2n_g, cap_n)
    for f in range(F):
        a = arrivals[f]
        if wt_admit[f] < 1.0:
            n = cell_nest[f]
            fac = cap_n[n] / load_n[n] if load_n[n] > cap_n[n] else 1.0
            al = a * fac
        else:
            al = a
        barred[f] = a - al
        arrivals[f] = al  # allowed from here on
    _to_pairs(arrivals, cell_pair, n_first, allowed_c)
    for g in range(G):
        queue_prev[g] = queue_value[m, g]
        rest[g] = queue_prev[g] + allowed_c[g]
        tmp_g[g] = allowed_c[g] / p_vpt[g]
    _gsum(tmp_g, p2c_p, p2c_b, p2c_g, trucks)
    for c in range(C):
        tot = queue_trucks[m, c] + trucks[c]
        phi[c] = cap[c] / (tot if tot > 0 else 1.0) if tot > cap[c] else 1.0
    for g in range(G):
        cl_ = phi[pair_crossing[g]] * rest[g]
        cleared[g] = cl_
        r = rest[g] - cl_
        sp = r * p_spoil[g]
        spoiled[g] = sp
        r = r - sp
        rest[g] = r
        tmp_g[g] = r / p_vpt[g]
    _gsum(tmp_g, p2c_p, p2c_b, p2c_g, q_end)
    for c in range(C):
        q = q_end[c]
        wait_end[c] = _fmin(q / cap[c], q / net_capacity[c] + expected[c])
    for g in range(G):
        w = _mx(wait_end[pair_crossing[g]], 1e-12)
        p = patience_pairs[m, g]
        # within patience nobody turns back: −expm1(−0) is exactly 0
        renege = -math.expm1(-(w - p) / (p * w)) if w > p else (w - p) * 0.0  # NaN stays NaN
        tq = renege * rest[g]
        turned_q[g] = tq
        queue_new[g] = rest[g] - tq
        queue_value[m, g] = queue_new[g]
    _to_pairs(v0, cell_pair, n_first, v0_pair)
    for f in range(F):
        pr = cell_pair[f]
        ap = allowed_c[pr]
        if ap > 0.0:
            split = arrivals[f] / ap
        else:
            vp = v0_pair[pr]
            split = v0[f] / vp if vp > 0.0 else 0.0
        turned[f] = held[f] + turned_q[pr] * split

    # ------------------------------------------------------------ re-routing
    _gsum(open_now, c2n_p, c2n_b, c2n_g, total_nest)
    _gsum(open_now, c2q_p, c2q_b, c2q_g, own)
    _gsum(turned, c2q_p, c2q_b, c2q_g, turned_m)
    for q in range(NP):
        n = npair_nest[q]
        total_m = total_nest[n]
        alternative = 0.0  # CellLayout.others_in_nest, in its order
        for p in range(peers.shape[0]):
            j = peers[p, q]
            alternative = alternative + (own[j] if j < NP else 0.0)
        floor = 1e-3 * v0_nest[n] * b
        threshold = _mx(_mx(total_m, 1e-300) * 1e-12, floor)
        per[q] = turned_m[q] / alternative if alternative > threshold else 0.0
    for q in range(NP):
        acc = 0.0
        for p in range(peers.shape[0]):
            j = peers[p, q]
            acc = acc + (per[j] if j < NP else 0.0)
        per_o[q] = acc
    for f in range(F):
        qq = cell_npair[f]
        received = open_now[f] * per_o[qq]
        stranded = 0.0 if per[qq] > 0.0 else turned[f]
        tmp[f] = pending_value[m, f]  # pending before
        pending_value[m, f] = pending_value[m, f] - released[f] + received
        backlog[m, f] = backlog[m, f] + stranded + barred[f]

    # ------------------------------------------------------------ revenue
    revenue = out_g[0, m]
    evaded = out_g[1, m]
    rate_change = out_g[2, m]
    for f in range(F):
        tmp2[f] = arrivals[f] * wt_afghan[f]
    _to_pairs(tmp2, cell_pair, n_first, tmp_g)
    for f in range(F):
        tmp2[f] = arrivals[f] * (1.0 - wt_comp[f])
    _to_pairs(tmp2, cell_pair, n_first, tmp_g2)
    for g in range(G):
        if allowed_c[g] > 0.0:
            rate[m, g] = p_rate[g] + tmp_g[g] / allowed_c[g]
            compliance[m, g] = 1.0 - tmp_g2[g] / allowed_c[g]
        r = rate[m, g]
        kap = compliance[m, g]
        revenue[g] = cleared[g] * r * kap
        evaded[g] = cleared[g] * r * (1.0 - kap)
        rate_change[g] = cleared[g] * (p_rate[g] - r)

    # ------------------------------------------------------------ decomposition
    # demand lost: demand0 − Σ placed − Σ unplaced by commodity
    _gsum(placed, c2k_p, c2k_b, c2k_g, tmp_k)
    _gsum(unplaced, c2k_p, c2k_b, c2k_g, tmp_k2)
    for k in range(K):
        tmp_k[k] = demand0[k] - tmp_k[k] - tmp_k2[k]
    _to_pairs(target, cell_pair, n_first, tmp_g)
    for g in range(G):
        short[g] = _mx(p_e0[g] * b - tmp_g[g], 0.0)
    _gsum(short, p2k_p, p2k_b, p2k_g, tmp_k2)
    lost = out_g[3, m]
    cancelled_c = out_g[4, m]
    delayed = out_g[5, m]
    diverted = out_g[6, m]
    _to_pairs(cancelled, cell_pair, n_first, cancelled_c)
    for g in range(G):
        tot = tmp_k2[pair_commodity[g]]
        weight = short[g] / (tot if tot > 0.0 else 1.0) if tot > 0.0 else p_w0[g]
        lost[g] = tmp_k[pair_commodity[g]] * weight + cancelled_c[g]
    for f in range(F):
        tmp2[f] = pending_value[m, f] - tmp[f]
    _to_pairs(tmp2, cell_pair, n_first, tmp_g)
    # backlog before the day: backlog now − (−taken − cancelled + unplaced + stranded + barred)
    # is not recoverable bit for bit, so the caller passes it in out_f[2] (set before the day)
    for f in range(F):
        tmp2[f] = backlog[m, f] - out_f[2, m, f]
    _to_pairs(tmp2, cell_pair, n_first, tmp_g2)
    for g in range(G):
        delayed[g] = (queue_new[g] - queue_prev[g]) + tmp_g[g] + tmp_g2[g]
        e0 = p_e0[g] * b
        diverted[g] = e0 - cleared[g] - lost[g] - delayed[g] - spoiled[g]
        out_g[7, m, g] = cleared[g]
        out_g[8, m, g] = spoiled[g]
        qt = queue_new[g] / p_vpt[g]
        out_g[9, m, g] = qt
        tmp_g[g] = e0 * p_rate[g]
    _gsum(out_g[9, m], p2c_p, p2c_b, p2c_g, trucks)
    for c in range(C):
        queue_trucks[m, c] = trucks[c]
        out_c[0, m, c] = trucks[c]
        out_c[1, m, c] = wait_end[c]
    for f in range(F):
        out_f[0, m, f] = arrivals[f]
        out_f[1, m, f] = delay[f]
    out_m[0, m] = _pw(revenue, all_g, 0, G)
    out_m[1, m] = _pw(tmp_g, all_g, 0, G)


_member_day_jit = njit(**_OPTS)(_member_day)


def scratch_rows() -> int:
    """Rows to lay the scratch arrays out with: the most threads numba may run
    (``NUMBA_NUM_THREADS``; :func:`numba.set_num_threads` can lower it, not raise it)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def blocks(members: int) -> int:
    """Blocks of members for one :func:`step_members` call: one per thread numba runs now
    (never more than the members). Which block a member falls in does not change its
    numbers, so neither do the threads."""
    return max(1, min(members, numba.get_num_threads()))


@njit(parallel=True, **_OPTS)
def step_members(
    cf,
    ci,
    pf,
    pi,
    nest_origin,
    origin_commodity,
    npair_nest,
    net_capacity,
    v0_k,
    v0_nest,
    n_first,
    gs,
    eta,
    sig_r,
    sig_o,
    eta_n,
    sig_r_o,
    sig_k,
    eps,
    patience_cells,
    patience_pairs,
    rates,
    box_weights,
    mp,
    b_day,
    fmult,
    wf,
    unavailable,
    g0,
    capacity_share,
    capacity,
    anticipation,
    use_anticipation,
    pattern_same,
    share_box,
    volume_box,
    backlog,
    queue_value,
    pending_value,
    compliance,
    rate,
    closure_days,
    queue_trucks,
    memo_ratio,
    memo_rel,
    memo_price,
    memo_pen,
    memo_valid,
    memo_cf,
    memo_cn,
    memo_co,
    out_f,
    out_g,
    out_c,
    out_m,
    sf,
    sg,
    sc,
    sk,
    sn,
    so,
    sq,
):
    """One day of every member (see :func:`_member_day`), in parallel blocks of consecutive
    members, as many as the scratch arrays have rows (:func:`blocks`). Each block's members
    share its scratch row, one member after the other: a member-day writes every scratch
    value before reading it, so the row does not change its numbers (tests/test_daykernel.py),
    and the row stays in the core's cache from one member to the next (docs/performance.md,
    "Eighth pass")."""
    M = share_box.shape[0]
    B = sf.shape[0]  # blocks of members, each with its scratch row (blocks)
    for t in prange(B):
        for m in range((t * M) // B, ((t + 1) * M) // B):
            out_f[2, m, :] = backlog[m, :]  # the backlog at the start of the day
            _member_day_jit(
                m,
                cf,
                ci,
                pf,
                pi,
                nest_origin,
                origin_commodity,
                npair_nest,
                net_capacity,
                v0_k,
                v0_nest,
                n_first,
                gs,
                eta,
                sig_r,
                sig_o,
                eta_n,
                sig_r_o,
                sig_k,
                eps,
                patience_cells,
                patience_pairs,
                rates,
                box_weights,
                mp,
                b_day,
                fmult,
                wf,
                unavailable,
                g0,
                capacity_share,
                capacity,
                anticipation,
                use_anticipation,
                pattern_same,
                share_box,
                volume_box,
                backlog,
                queue_value,
                pending_value,
                compliance,
                rate,
                closure_days,
                queue_trucks,
                memo_ratio,
                memo_rel,
                memo_price,
                memo_pen,
                memo_valid,
                memo_cf,
                memo_cn,
                memo_co,
                out_f,
                out_g,
                out_c,
                out_m,
                sf[t],
                sg[t],
                sc[t],
                sk[t],
                sn[t],
                so[t],
                sq[t],
            )
