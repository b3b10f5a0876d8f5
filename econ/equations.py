"""Pure equations of the model: numpy arrays in, numpy arrays out, no I/O.

Axis order everywhere: ``member`` first, then ``route`` (or ``crossing``), then
``commodity``. Each function is named after the quantity it returns and gives the
equation and units in its docstring, in the symbols of docs/model.md ("Symbols"); derivations
and sources are there too. These are the reference forms: the engine runs some of them fused
and in place (econ/model/engine.py), and tests/test_kernels.py checks the two agree.
"""

from __future__ import annotations

import numpy as np

LN2 = np.log(2.0)


def calc_generalized_cost(freight, delay_cost, days, tariff, guarantee):
    """g = 1 + f + h·D + w_tariff + w_guar   [USD per USD of goods value]

    ``freight`` f (share of value), ``delay_cost`` h (share of value per day),
    ``days`` D (transit + border + queue + extra days), ``tariff`` and
    ``guarantee`` ad valorem wedges.
    """
    return 1.0 + freight + delay_cost * days + tariff + guarantee


def calc_guarantee_wedge(base_share, cover, annual_cost, lockup_days):
    """w_guar = base · cover · annual_cost · lockup_days / 365   [share of value]

    ``base_share`` is the guaranteed base per unit value (the levy rate for a
    duties-based guarantee, 1 for a value-based one).
    """
    return base_share * cover * annual_cost * lockup_days / 365.0


def calc_capital_locked(value_per_day, base_share, cover, lockup_days):
    """locked = v · base · cover · lockup_days   [USD locked in guarantees, a stock]"""
    return value_per_day * base_share * cover * lockup_days


def calc_route_weight(availability, cost_ratio, sigma):
    """w[r|k] = a · (g/g0)^(−σ)   [1]: CES route weight relative to the baseline share."""
    return availability * cost_ratio ** (-sigma)


def calc_target_flow(
    v0, s0, availability, cost_ratio, sigma, epsilon, scale=1.0, *, route_nest=None, rho=1.0
):
    """q*[r,k] = v0 · scale · (w / S_n) · (Ω_n / Ω) · PI^(−ε)   [USD/day]

    Demand for a commodity (import-demand elasticity ε) over a two-level CES nest of
    routes: nests ``n`` of close substitutes (routes of the same corridor and kind, e.g.
    Karachi transit via Torkham or via Chaman) with elasticity ρσ inside a nest and σ
    between nests (docs/model.md §3):

    - availability a splits into the nest's a_n = max_{r∈n} a (its most open route) and
      u = a / a_n inside it; w = u·(g/g0)^(−ρσ), s0_n = Σ_{r∈n} s0 and the nest's weight
      index S_n = Σ_{r∈n} s0·w / s0_n;
    - Ω_n = a_n · S_n^(1/ρ) and Ω = Σ_n s0_n·Ω_n / Σ s0;
    - PI = (Σ_n s0_n·a_n·V_n^((1−σ)/(1−ρσ)) / Σ s0)^(1/(1−σ)) (the price index ratio P/P0),
      with the nest's cost index V_n = Σ_{r∈n} s0·w·(g/g0) / s0_n.

    So goods barred from one route of a nest move mainly to the nest's other routes, and
    a quota on every route of a nest (a corridor's negative list) scales the nest like a
    quantity: a nest of one route is weighted a·(g/g0)^(−σ) whatever ρ.

    Calibrated so that the baseline (a = 1, g = g0) returns ``v0`` exactly; with ρ = 1
    (or one route per nest) it is the one-level CES of elasticity σ. Route arrays have
    shape (..., route, commodity); ``sigma`` and ``epsilon`` (..., commodity); ``route_nest``
    (route,) gives each route's nest (default: one nest of all routes); ``rho`` is a
    scalar or (...,) per member.
    """
    sig = np.asarray(sigma, dtype=float)
    rho = np.asarray(rho, dtype=float)
    nests = None
    if route_nest is not None:
        route_nest = np.asarray(route_nest)
        N = int(route_nest.max()) + 1
        member = route_nest[:, None] == np.arange(N)[None, :]  # (R, N)
        onehot = member.astype(float)
        nests = dict(
            nest_sum=lambda x: np.einsum("...rk,rn->...nk", x, onehot),
            nest_max=lambda x: np.max(
                np.where(member[:, :, None], x[..., :, None, :], -np.inf), axis=-3
            ),
            to_nest_cells=lambda x: x[..., route_nest, :],
            nest_route_sum=lambda x: np.sum(x, axis=-2),
            nest_sigma=sig[..., None, :],
            rho=rho[..., None, None],
        )
    return calc_target_flow_cells(
        v0,
        s0,
        availability,
        cost_ratio,
        (rho[..., None, None] if nests else 1.0) * sig[..., None, :],
        sig,
        np.asarray(epsilon, dtype=float),
        route_sum=lambda x: np.sum(x, axis=-2),
        to_routes=lambda x: x[..., None, :],
        scale=scale,
        nests=nests,
    )


def calc_target_flow_cells(
    v0,
    s0,
    availability,
    cost_ratio,
    sigma_routes,
    sigma,
    epsilon,
    *,
    route_sum,
    to_routes,
    scale=1.0,
    out=None,
    work=None,
    nests=None,
):
    """:func:`calc_target_flow` for any layout of the route × commodity cells.

    ``route_sum`` sums a cell array over the routes of each commodity (cells → commodity),
    ``to_routes`` spreads a per-commodity array back over the cells; ``sigma_routes`` is the
    elasticity inside each cell's nest (ρσ) laid out like the cells, ``sigma`` and
    ``epsilon`` per commodity. The model calls it on the compressed cells with baseline
    flow (see ``Model._build_cells``), with ``out`` to receive the result and ``work`` as
    scratch (both shaped like the cells); its ``to_routes`` may return the same work array
    each time (each spread array is used before the next is made).

    ``nests`` (None: one level, elasticity ``sigma_routes``) is a dict of ``nest_sum``
    and ``nest_max`` (cells → nests), ``to_nest_cells`` (nests → cells), ``nest_route_sum`` (nests →
    commodity), ``nest_sigma`` (σ laid out like the nests) and ``rho`` (broadcasting
    against the nests).
    """
    if work is None:
        w = calc_route_weight(availability, cost_ratio, sigma_routes)
    else:  # the same, a · (g/g0)^(−σ), written into work
        w = np.power(cost_ratio, np.negative(sigma_routes, out=work), out=work)
        w *= availability
    if nests is None:
        sw = np.multiply(s0, w, out=out)  # out, if given, is scratch until the end
        den = route_sum(s0)
        S = route_sum(sw) / den
        # price index from the same weights: Σ s0·a·(g/g0)^(1−σ) = Σ s0·w·(g/g0)
        sw *= cost_ratio
        base = route_sum(sw) / den
    else:
        nest_sum, to_nest, nest_route_sum = (
            nests["nest_sum"],
            nests["to_nest_cells"],
            nests["nest_route_sum"],
        )
        rho, sig_n = nests["rho"], nests["nest_sigma"]
        s0n = nest_sum(s0)
        den = nest_route_sum(s0n)  # = Σ s0 summed by nests: the baseline is exact

        def per_nest(x):  # Σ_{r∈n} x / s0_n, 0 for a nest without flow
            t = nest_sum(x)
            return np.divide(t, s0n, out=np.zeros_like(t), where=s0n > 0)

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # availability: the nest's (its most open route's) as a quantity, each route's
            # relative to it as a weight inside the nest
            an = nests["nest_max"](np.where(s0 > 0, availability, 0.0))
            w /= to_nest(np.where(an > 0, an, 1.0))  # u·(g/g0)^(−ρσ), u = a / a_n
            sw = np.multiply(s0, w, out=out)  # out, if given, is scratch until the end
            Sn = per_nest(sw)
            sw *= cost_ratio
            Vn = per_nest(sw)  # nest cost index V_n
            Omega_n = np.where(an > 0, an * Sn ** (1.0 / rho), 0.0)  # nest weight Ω_n
            cost_n = np.where(
                (an > 0) & (Vn > 0), an * Vn ** ((1.0 - sig_n) / (1.0 - rho * sig_n)), 0.0
            )
            S = nest_route_sum(s0n * Omega_n) / den  # Ω[k]
            base = nest_route_sum(s0n * cost_n) / den
            # inside its nest a route has w / S_n of the nest's Ω_n
            w *= to_nest(np.divide(Omega_n, Sn, out=np.zeros_like(Omega_n), where=Sn > 0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = np.where(base > 0, base ** (1.0 / (1.0 - sigma)), np.inf)
        vol = np.where(np.isfinite(p), p ** (-epsilon), 0.0)
        share = np.divide(w, to_routes(np.where(S > 0, S, 1.0)), out=w)
        np.copyto(share, 0.0, where=to_routes(~(S > 0)))  # w / S where S > 0, else 0
    if out is None:
        out = v0 * scale * share
    else:
        np.multiply(v0, scale, out=out)
        out *= share
    out *= to_routes(vol)
    return out


def calc_adjustment_rate(timescale_days, multiplier):
    """λ = 1 − exp(−1 / (θ·μ))   [1/day]: share of a gap closed in one day (time scale θ)."""
    return 1.0 - np.exp(-1.0 / (timescale_days * multiplier))


def calc_adjustment_rate_choice(
    deviation, target_deviation, penalised, rate, rate_flight, rate_return
):
    """λ = λ_flight where y* < y on a penalised cell; λ where y* ≥ y ≥ 0; else λ_return   [1/day]

    Which of a box's daily rates applies (docs/model.md §5): traders leave a penalised route
    at the flight rate, take up alternatives (or grow above the baseline) at the box's own
    rate, and move back toward the baseline from below it (or down from a route that is not
    penalised) at the slower return rate.
    """
    down = target_deviation < deviation
    up_rate = np.where(~down & (deviation >= 0.0), rate, rate_return)
    return np.where(down & penalised, rate_flight, up_rate)


def calc_box_update(deviation, target_deviation, rate):
    """y' = y + λ·(y* − y)   [USD/day]: one day of first-order adjustment of a box."""
    return deviation + rate * (target_deviation - deviation)


def calc_capacity(normal_capacity, capacity_share, base_days, extra_days):
    """Cap = Cap0 · ω · D0 / (D0 + ΔD)   [truck/day]

    Daily clearing capacity after a closure (share ``ω`` left) and a processing
    delay ``ΔD`` days on top of the normal border time ``D0`` (Little's law with
    a fixed number of lanes: throughput falls as time per truck rises).
    """
    return normal_capacity * capacity_share * base_days / (base_days + extra_days)


def calc_cleared_share(queue_trucks, arriving_trucks, capacity):
    """φ = min(1, Cap / (Q + A))   [1]: share of the trucks at the crossing cleared today."""
    tot = queue_trucks + arriving_trucks
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(tot > capacity, capacity / np.where(tot > 0, tot, 1.0), 1.0)


def calc_spoiled_value(queued_value, shelf_life_days, days=1.0):
    """spoiled = queued · (1 − exp(−δ·t)), δ = ln 2 / shelf life   [USD]: spoilage in the queue."""
    return queued_value * -np.expm1(-LN2 / shelf_life_days * days)


def calc_hold_back_share(capacity_share, days_closed, patience_days):
    """hb = ω + (1 − ω) · exp(−d / patience)   [1]: share of cargo still sent to a crossing.

    Traders stop sending cargo to a crossing whose capacity is cut to ``ω`` once the closure
    has lasted ``d`` days, at the rate 1/patience; what they hold back is re-routed like cargo
    that turns back from the queue. An open crossing (ω = 1) gets everything.
    """
    return capacity_share + (1.0 - capacity_share) * np.exp(-days_closed / patience_days)


def calc_wait_days(queue_trucks, normal_capacity, capacity_share, expected_closure_days):
    """W = Q / Cap0 + (1 − ω) · D_exp   [day]

    Expected wait of a truck joining the queue: the backlog at normal capacity plus
    the expected remaining length of a closure (scaled by the capacity withdrawn).
    The model passes D_exp = max(prior expected length, days closed so far): with
    heavy-tailed closure lengths the expected remainder grows with the time elapsed.
    """
    return queue_trucks / normal_capacity + (1.0 - capacity_share) * expected_closure_days


def calc_renege_share(wait_days, patience_days):
    """ψ = 1 − exp(−max(0, W − patience) / (patience·W))   [1]: share of the queue turning back.

    Trucks whose expected remaining wait ``W`` exceeds their patience leave at rate
    1/patience per day; the share of the queue with excess wait is (W − patience)/W, so the
    hazard rises from 0 at W = patience toward 1/patience for long waits.
    """
    w = np.maximum(wait_days, 1e-12)
    return -np.expm1(-np.maximum(0.0, w - patience_days) / (patience_days * w))


def calc_compliance(wedge, semi_elasticity, max_share):
    """κ = 1 − min(e_max, 1 − exp(−β·w))   [1]

    Share of cleared value declared and taxed, falling with the extra fiscal wedge
    ``w`` (share of value) at semi-elasticity β (Fisman & Wei 2004: ≈3 per unit).
    """
    return 1.0 - np.minimum(max_share, -np.expm1(-semi_elasticity * wedge))


def calc_customs_revenue(cleared_value, rate, compliance):
    """R = E · τ · κ   [USD]: revenue on cleared value at the collected rate."""
    return cleared_value * rate * compliance


def calc_pressure(extra_cost, gross_margin):
    """pr = extra cost / baseline gross margin   [1]"""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gross_margin > 0, extra_cost / gross_margin, 0.0)


def calc_accumulated_pressure(previous, pressure, half_life_days, days=1.0):
    """Acc' = Acc·2^(−t/hl) + pr·(1 − 2^(−t/hl))   [1]: exponentially weighted pressure."""
    keep = 2.0 ** (-days / half_life_days)
    return previous * keep + pressure * (1.0 - keep)


def calc_protest_risk(accumulated_pressure, intercept, slope):
    """π = 1 / (1 + exp(−(a_π + b_π·Acc)))   [1]: logistic protest risk."""
    return 1.0 / (1.0 + np.exp(-(intercept + slope * accumulated_pressure)))


def _group_sum(x, keys, n):
    """Σ over the last axis of ``x`` by ``keys`` into ``n`` groups (reference helper)."""
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.shape[:-1] + (n,))
    np.add.at(out, (..., np.asarray(keys)), x)
    return out


def calc_reroute(
    turned, open_demand, cell_pair, cell_commodity, pair_commodity, open_floor, n_commodities
):
    """Re-routed cargo: where cargo turned back at one crossing goes   [USD]

    ``turned`` (..., G) is cargo turned back or held at each crossing × commodity pair,
    ``open_demand`` O (..., F) each route cell's demand still sent on (target × hold-back).
    For a pair, the open alternative is its commodity's open demand elsewhere,
    excl = Σ_{cells of k} O − Σ_{cells of the pair} O; if excl exceeds max(1e-12 · Σ O, floor)
    the cargo is shared over the other cells in proportion to their demand,
    per = turned / excl, and each cell receives O · (Σ_{pairs of k} per − per[own pair]); else
    it is stranded (lost).

    Returns ``(received (..., F), stranded (..., K))``.
    """
    n_pairs = len(pair_commodity)
    total = _group_sum(open_demand, cell_commodity, n_commodities)[..., pair_commodity]
    own = _group_sum(open_demand, cell_pair, n_pairs)
    alternative = total - own
    threshold = np.maximum(np.maximum(total, 1e-300) * 1e-12, open_floor)
    has = alternative > threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(has, turned / np.where(has, alternative, 1.0), 0.0)
    stranded = _group_sum(np.where(per > 0.0, 0.0, turned), pair_commodity, n_commodities)
    per_k = _group_sum(per, pair_commodity, n_commodities)
    received = open_demand * (per_k[..., cell_commodity] - per[..., cell_pair])
    return received, stranded


def calc_pair_compliance(arrivals, compliance, cell_pair, n_pairs, previous):
    """κ_pair = Σ_r arrivals·κ / Σ_r arrivals over the pair's routes; ``previous`` where nothing
    arrives   [1]"""
    num = _group_sum(arrivals * compliance, cell_pair, n_pairs)
    den = _group_sum(arrivals, cell_pair, n_pairs)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0.0, num / np.where(den > 0.0, den, 1.0), previous)


def calc_decomposition(
    baseline_orders,
    orders,
    stranded,
    cell_commodity,
    baseline_value,
    baseline_share,
    pair_commodity,
    cleared,
    queue,
    queue_before,
    in_transit,
    in_transit_before,
    spoiled,
):
    """The gap between baseline and cleared value, e0 − cleared, split four ways   [USD]

    - lost = (Σ_cells (v0 − orders) + stranded)[k] · w0: the national shortfall of orders and
      the cargo with nowhere to go, shared over crossings by baseline share;
    - delayed = Δqueue + Δin_transit: growth of the queue and of re-routed cargo in transit;
    - spoiled (given);
    - diverted = e0 − cleared − lost − delayed − spoiled (sums to about 0 nationally).

    Cell arrays (..., F), pair arrays (..., G), ``stranded`` (..., K).
    Returns ``(lost, delayed, diverted)``.
    """
    n_commodities = int(np.max(pair_commodity)) + 1 if len(pair_commodity) else 0
    n_commodities = max(
        n_commodities,
        int(np.max(cell_commodity)) + 1 if len(cell_commodity) else 0,
        np.shape(stranded)[-1],
    )
    lost_national = _group_sum(baseline_orders - orders, cell_commodity, n_commodities) + stranded
    lost = lost_national[..., pair_commodity] * baseline_share
    delayed = (queue - queue_before) + (in_transit - in_transit_before)
    diverted = baseline_value - cleared - lost - delayed - spoiled
    return lost, delayed, diverted
