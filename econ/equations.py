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


def _nudge(e):
    """Elasticities exactly 1 make the CES price exponents singular: move them 1e-9 away."""
    e = np.asarray(e, dtype=float)
    return np.where(np.abs(1.0 - e) < 1e-9, 1.0 + 1e-9, e)


class GroupTree:
    """Cells grouped three levels up: cell → nest → origin → commodity (reference helper).

    ``cell_nest`` (F,), ``nest_origin`` (N,) and ``origin_commodity`` (O,) give each unit's
    group one level up. Sums and maxima over the last axis use ``np.add.at`` and
    ``np.maximum.at``: slow and plain, the reference the engine's grouped sums are checked
    against. The engine uses an object with the same methods (econ/model/network.py).
    """

    def __init__(self, cell_nest, nest_origin, origin_commodity, n_commodities):
        self.cell_nest = np.asarray(cell_nest)
        self.nest_origin = np.asarray(nest_origin)
        self.origin_commodity = np.asarray(origin_commodity)
        self.n = (len(self.nest_origin), len(self.origin_commodity), int(n_commodities))

    @staticmethod
    def _sum(x, keys, n):
        x = np.asarray(x, dtype=float)
        out = np.zeros(x.shape[:-1] + (n,))
        np.add.at(out, (..., keys), x)
        return out

    @staticmethod
    def _max(x, keys, n):
        x = np.asarray(x, dtype=float)
        out = np.full(x.shape[:-1] + (n,), -np.inf)
        np.maximum.at(out, (..., keys), x)
        return np.where(np.isfinite(out), out, 0.0)

    def nest_sum(self, x):
        return self._sum(x, self.cell_nest, self.n[0])

    def nest_max(self, x):
        return self._max(x, self.cell_nest, self.n[0])

    def origin_sum(self, x):
        return self._sum(x, self.nest_origin, self.n[1])

    def origin_max(self, x):
        return self._max(x, self.nest_origin, self.n[1])

    def commodity_sum(self, x):
        return self._sum(x, self.origin_commodity, self.n[2])

    def nest_to_cells(self, x):
        return x[..., self.cell_nest]

    def origin_to_nests(self, x):
        return x[..., self.nest_origin]

    def commodity_to_origins(self, x):
        return x[..., self.origin_commodity]


def calc_tree_elasticities(sigma_origin, sigma_route, eta, tree):
    """σo' = max(σo, 1),  σr' = max(σr, σo'),  η' = max(η, σr')   per origin, nest and cell

    The demand tree is a consistent nested CES only if each level's elasticity is at least the
    one above it and the top one is at least 1 (docs/model.md §3): below 1 the goods of a level
    are complements, and the CES price index *falls* when a variety becomes unavailable, so a
    ban would raise demand. Draws outside the domain (a low σr draw, a σo draw below 1 for fresh
    produce) are clipped to it, per member: a σr below σo becomes σo (the corridor level then
    adds nothing to the origin level). ``sigma_origin`` (..., O), ``sigma_route`` (..., N) and
    ``eta`` (..., F) on the ``tree``'s origins, nests and cells.
    """
    sig_o = np.maximum(np.asarray(sigma_origin, dtype=float), 1.0)
    sig_r = np.maximum(np.asarray(sigma_route, dtype=float), tree.origin_to_nests(sig_o))
    eta = np.maximum(np.asarray(eta, dtype=float), tree.nest_to_cells(sig_r))
    return sig_o, sig_r, eta


def _ln_ces_sum(total, deviation):
    """ln V of a CES sum given as ``total`` V and as ``deviation`` D = V − 1 computed term by
    term: log V where V < 1/2 (V's own digits), log1p(D) elsewhere (D's digits near 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total < 0.5, np.log(total), np.log1p(deviation))


#: availability below which a route counts as closed in :func:`calc_nested_shares`
AVAILABILITY_FLOOR = 1e-12


def calc_nested_shares(s0, availability, cost_ratio, eta, sigma_route, sigma_origin, tree):
    """share[r]/s0[r] = (w/S_n) · (ã_n·S_n^(σr/η) / S_o) · (a_o·S_o^(σo/σr) / S_k),  PI[k]   [1]

    Where a commodity's demand goes, over a three-level CES tree (docs/model.md §3): the
    **origin** of the goods (Pakistani, Iranian, Central Asian goods, or third-country goods in
    transit; elasticity σo), the **corridor** that carries goods of one origin (third-country
    goods via Pakistan's ports, Iran's ports, Central Asian rail or air; σr), and the **route**
    (gateway and crossing) inside a corridor (η = ρ·σr, routes being the closest substitutes).
    With the cost ratio x = g/g0 and availability a (per cell):

    - route level: a_n = max_{r∈n} a, u = a/a_n, w = u·x^(−η), S_n = Σ_{r∈n} s0·w / s0_n and
      V_n = Σ_{r∈n} s0·w·x / s0_n (so V_n = Σ θ·u·x^(1−η), θ = s0/s0_n);
    - corridor level: a_o = max_{n∈o} a_n, ã_n = a_n/a_o, S_o = Σ_{n∈o} s0_n·ã_n·S_n^(σr/η) / s0_o;
    - origin level: S_k = Σ_o s0_o·a_o·S_o^(σo/σr) / s0_k;
    - price index PI[k] = (Σ_o s0_o·a_o·P_o^(1−σo) / s0_k)^(1/(1−σo)), with
      P_o^(1−σr) = Σ_{n∈o} s0_n·ã_n·V_n^((1−σr)/(1−η)) / s0_o (CES prices, order 1 − σ).

    Shares are quantities: they sum to 1 over a commodity's routes (orders are conserved; a
    route or nest made unavailable passes its demand to the rest of its group), and the
    allocation uses inclusive values of order −σ (S^(1/σ)), so that with equal elasticities
    (ρ = 1, σo = σr) the tree is the one-level CES share s0·a·x^(−σ)/Σ s0·a·x^(−σ) exactly,
    and with σo = σr any grouping of nests into origins leaves shares unchanged. A quota on a
    whole group scales the group's weight like a quantity (a_n, a_o); inside a group, relative
    availability is a weight. The baseline (a = 1, x = 1) gives ``s0`` and PI = 1 exactly.

    Arrays: ``s0``, ``availability``, ``cost_ratio`` and ``eta`` (..., F) over cells;
    ``sigma_route`` (..., N) per nest; ``sigma_origin`` (..., O) per origin; ``tree`` the
    grouping (:class:`GroupTree` or the engine's equivalent). Returns ``(share/s0 (..., F),
    PI (..., K))``: each route's share relative to its baseline share (exactly 1 in the
    baseline), and the price index; PI is ``inf`` where no route of a commodity is available.
    An availability below :data:`AVAILABILITY_FLOOR` counts as none: the tree's products of
    such a share underflow to zero (a = 5e-324 left the shares summing to 0, not 1).
    """
    availability = np.where(availability < AVAILABILITY_FLOOR, 0.0, availability)
    sig_o, sig_r, eta = calc_tree_elasticities(sigma_origin, sigma_route, eta, tree)
    eta, sig_r, sig_o = _nudge(eta), _nudge(sig_r), _nudge(sig_o)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s0_n = tree.nest_sum(s0)
        s0_o = tree.origin_sum(s0_n)
        s0_k = tree.commodity_sum(s0_o)
        a_n = tree.nest_max(np.where(s0 > 0, availability, 0.0))
        a_o = tree.origin_max(a_n)
        u = availability / tree.nest_to_cells(np.where(a_n > 0, a_n, 1.0))
        w = u * cost_ratio ** (-eta)
        S_n = np.where(s0_n > 0, tree.nest_sum(s0 * w) / np.where(s0_n > 0, s0_n, 1.0), 0.0)
        eta_n = tree.nest_max(eta)  # η is the same for every route of a nest
        a_rel = np.where(a_n > 0, a_n / tree.origin_to_nests(np.where(a_o > 0, a_o, 1.0)), 0.0)
        incl_n = np.where(S_n > 0, a_rel * S_n ** (sig_r / eta_n), 0.0)
        S_o = np.where(
            s0_o > 0, tree.origin_sum(s0_n * incl_n) / np.where(s0_o > 0, s0_o, 1.0), 0.0
        )
        sig_r_o = tree.origin_max(sig_r)  # σr is the same for every nest of an origin
        incl_o = np.where(S_o > 0, a_o * S_o ** (sig_o / sig_r_o), 0.0)
        S_k = np.where(
            s0_k > 0, tree.commodity_sum(s0_o * incl_o) / np.where(s0_k > 0, s0_k, 1.0), 0.0
        )
        # prices: CES of order 1 − σ at each level, P = (Σθ·a·p^(1−σ))^(1/(1−σ)), carried as
        # logarithms. The sum V is kept twice: as itself (accurate when small, e.g. a nest whose
        # routes are all shut or very dear) and as its deviation from 1,
        # D = Σθ·(a·expm1((1 − σ)·ln p) + a − 1) (accurate near 1); ln V is log V below 1/2 and
        # log1p(D) above (:func:`_ln_ces_sum`). Either alone is ill-conditioned somewhere: near
        # σ = 1 (σ is clipped to 1 and nudged 1e-9 away) one rounding of V became 1e-7 in P,
        # and near V = 0 one rounding of D changed ln V entirely (docs/model.md §3). The
        # baseline gives exactly ln P = 0.
        ln_x = np.log(cost_ratio)
        v_n = np.where(
            s0_n > 0, tree.nest_sum(s0 * w * cost_ratio) / np.where(s0_n > 0, s0_n, 1.0), 0.0
        )
        dv_n = np.where(
            s0_n > 0,
            tree.nest_sum(s0 * (u * np.expm1((1.0 - eta) * ln_x) + (u - 1.0)))
            / np.where(s0_n > 0, s0_n, 1.0),
            -1.0,
        )
        # ln P_n^(1−σr) = (1 − σr)/(1 − η) · ln V_n; −inf where no route of the nest is open
        y_n = (1.0 - sig_r) * (_ln_ces_sum(v_n, dv_n) / (1.0 - eta_n))
        open_n = (a_rel > 0) & (v_n > 0)
        q_n = np.where(open_n, a_rel * np.exp(y_n), 0.0)
        dq_n = np.where(open_n, a_rel * np.expm1(y_n) + (a_rel - 1.0), -1.0)
        q_o = np.where(s0_o > 0, tree.origin_sum(s0_n * q_n) / np.where(s0_o > 0, s0_o, 1.0), 0.0)
        dq_o = np.where(
            s0_o > 0, tree.origin_sum(s0_n * dq_n) / np.where(s0_o > 0, s0_o, 1.0), -1.0
        )
        y_o = (1.0 - sig_o) * (_ln_ces_sum(q_o, dq_o) / (1.0 - sig_r_o))
        open_o = (a_o > 0) & (q_o > 0)
        r_o = np.where(open_o, a_o * np.exp(y_o), 0.0)
        dr_o = np.where(open_o, a_o * np.expm1(y_o) + (a_o - 1.0), -1.0)
        base = np.where(
            s0_k > 0, tree.commodity_sum(s0_o * r_o) / np.where(s0_k > 0, s0_k, 1.0), 0.0
        )
        dbase = np.where(
            s0_k > 0, tree.commodity_sum(s0_o * dr_o) / np.where(s0_k > 0, s0_k, 1.0), -1.0
        )
        sig_k = tree.commodity_sum(np.where(s0_o > 0, sig_o, 0.0) * (s0_o > 0)) / np.maximum(
            tree.commodity_sum((s0_o > 0).astype(float)), 1.0
        )
        price = np.where(base > 0, np.exp(_ln_ces_sum(base, dbase) / (1.0 - sig_k)), np.inf)
        price = np.where(s0_k > 0, price, 1.0)
        f_n = np.where(
            S_o[..., tree.nest_origin] > 0,
            incl_n / tree.origin_to_nests(np.where(S_o > 0, S_o, 1.0)),
            0.0,
        )
        f_o = np.where(
            S_k[..., tree.origin_commodity] > 0,
            incl_o / tree.commodity_to_origins(np.where(S_k > 0, S_k, 1.0)),
            0.0,
        )
        f_r = np.where(
            tree.nest_to_cells(S_n) > 0, w / tree.nest_to_cells(np.where(S_n > 0, S_n, 1.0)), 0.0
        )
        relative = f_r * tree.nest_to_cells(f_n * tree.origin_to_nests(f_o))
    return relative, price


def calc_target_flow(
    v0,
    s0,
    availability,
    cost_ratio,
    sigma,
    epsilon,
    scale=1.0,
    *,
    route_nest=None,
    rho=1.0,
    route_origin=None,
    sigma_origin=None,
):
    """q*[r,k] = X0[k] · scale · PI[k]^(−ε) · share[r,k]   [USD/day]

    The demand system on full (route, commodity) arrays: total demand for a commodity
    X0·PI^(−ε) (import-demand elasticity ε) shared over its routes by
    :func:`calc_nested_shares` (origin σo → corridor nest σ → route ρσ). ``route_nest`` (R,)
    gives each route's nest (default: all routes one nest), ``route_origin`` (R,) each route's
    origin (default: one origin); nests must not straddle origins. ``sigma_origin`` defaults to
    ``sigma`` (then the origin level changes nothing). Route arrays are (..., R, K); ``sigma``,
    ``sigma_origin`` and ``epsilon`` (..., K); ``rho`` a scalar or (...,). Calibrated so that the
    baseline (a = 1, g = g0) returns ``v0`` exactly.
    """
    v0 = np.asarray(v0, dtype=float)
    n_routes, n_commodities = v0.shape[-2:]
    route_nest = np.zeros(n_routes, int) if route_nest is None else np.asarray(route_nest)
    route_origin = np.zeros(n_routes, int) if route_origin is None else np.asarray(route_origin)
    sig = np.asarray(sigma, dtype=float)
    sig_o = sig if sigma_origin is None else np.asarray(sigma_origin, dtype=float)
    rho = np.asarray(rho, dtype=float)
    # cells: every (route, commodity), flattened route-major; a nest (origin) is a
    # (route nest, commodity) ((route origin, commodity)) pair
    n_nests, n_origins = int(route_nest.max()) + 1, int(route_origin.max()) + 1
    r_idx, k_idx = np.divmod(np.arange(n_routes * n_commodities), n_commodities)
    cell_nest = route_nest[r_idx] * n_commodities + k_idx
    nest_r = np.arange(n_nests * n_commodities) // n_commodities
    nest_origin_of = np.full(n_nests, -1)
    nest_origin_of[route_nest] = route_origin
    if np.any(nest_origin_of[route_nest] != route_origin):
        raise ValueError("a route nest straddles two origins")
    nest_origin = (
        nest_origin_of[nest_r] * n_commodities + np.arange(n_nests * n_commodities) % n_commodities
    )
    origin_commodity = np.arange(n_origins * n_commodities) % n_commodities
    tree = GroupTree(cell_nest, nest_origin, origin_commodity, n_commodities)
    lead = np.broadcast_shapes(
        np.shape(availability)[:-2],
        np.shape(cost_ratio)[:-2],
        sig.shape[:-1],
        sig_o.shape[:-1],
        rho.shape,
        np.shape(epsilon)[:-1],
        np.shape(scale)[:-2] if np.ndim(scale) >= 2 else (),
    )
    flat = lambda x: np.broadcast_to(x, lead + (n_routes, n_commodities)).reshape(lead + (-1,))  # noqa: E731
    s0f, af, xf = flat(np.asarray(s0, float)), flat(availability), flat(cost_ratio)
    sig_b = np.broadcast_to(sig, lead + (n_commodities,))
    sigo_b = np.broadcast_to(sig_o, lead + (n_commodities,))
    rho_b = np.broadcast_to(rho, lead)[..., None]
    eta = (rho_b * sig_b)[..., k_idx]
    sig_nest = sig_b[..., np.arange(n_nests * n_commodities) % n_commodities]
    sig_orig = sigo_b[..., origin_commodity]
    relative, price = calc_nested_shares(s0f, af, xf, eta, sig_nest, sig_orig, tree)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        vol = np.where(np.isfinite(price), price ** (-np.asarray(epsilon, dtype=float)), 0.0)
    return v0 * scale * relative.reshape(lead + (n_routes, n_commodities)) * vol[..., None, :]


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


def calc_wait_days(queue_trucks, capacity, normal_capacity, expected_closure_days):
    """W = min(Q / Cap, Q / Cap0 + D_exp)   [day]

    Expected wait of a truck joining the queue: the queue ahead at today's capacity ``Cap``,
    but no longer than waiting out the restriction (its expected remaining length ``D_exp``)
    and then the backlog at normal capacity ``Cap0``. A partial cut acts through the queue
    only, so a cap that never binds (Q = 0) changes nothing; a shut crossing (Cap = 0) makes a
    truck wait ``D_exp`` plus the backlog. The engine passes D_exp = max(prior expected length,
    days fully shut so far), since with heavy-tailed closure lengths the expected remainder
    grows with the time elapsed.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.fmin(
            np.divide(queue_trucks, capacity),
            queue_trucks / normal_capacity + expected_closure_days,
        )


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


def calc_order_placement(volume, share, s0, cell_commodity, n_commodities):
    """Orders placed on each route and orders left unplaced   [USD/day]

    ``volume`` X (..., K) is the day's demand for each commodity, ``share`` s (..., F) each
    route's realised share after its adjustment boxes (which move at their own speeds, so the
    shares of a commodity need not sum to 1) and ``s0`` (F,) the baseline shares. Orders are
    conserved: placed = X·s / max(1, Σs), so shares summing above 1 are scaled down (no order
    is created), and X·max(0, 1 − Σs) is left unplaced, booked to the routes that lost share
    in proportion to max(0, s0 − s) (it waits in the order backlog, ``calc_backlog_release``).

    Returns ``(placed (..., F), unplaced (..., F))``.
    """
    total = _group_sum(share, cell_commodity, n_commodities)
    placed = volume[..., cell_commodity] * share / np.maximum(1.0, total)[..., cell_commodity]
    short = (volume * np.maximum(0.0, 1.0 - total))[..., cell_commodity]
    lost_share = np.maximum(0.0, s0 - share)
    weight_sum = _group_sum(lost_share, cell_commodity, n_commodities)[..., cell_commodity]
    with np.errstate(divide="ignore", invalid="ignore"):
        unplaced = np.where(
            weight_sum > 0.0, short * lost_share / np.where(weight_sum > 0.0, weight_sum, 1.0), 0.0
        )
    return placed, unplaced


def calc_backlog_release(
    backlog, open_demand, has_open, release_days, patience_days, cell_commodity, n_commodities
):
    """Orders waiting in the backlog: placed on open routes, or cancelled   [USD/day]

    ``backlog`` (..., F) holds orders (and cargo with nowhere to go) by the route they left.
    Where the commodity has an open route (``has_open`` (..., K)) a share
    1 − exp(−1/θ) of the backlog is placed each day (θ = ``order_replacement_days``), spread
    over the routes in proportion to their open demand ``open_demand`` (..., F); where it has
    none, traders give up at the rate of their patience, 1 − exp(−1/patience) a day.

    Returns ``(placed (..., F) by destination route, taken (..., F) by origin route,
    cancelled (..., F) by origin route)``: the backlog falls by ``taken + cancelled``.
    """
    open_cell = has_open[..., cell_commodity]
    taken = np.where(open_cell, backlog * -np.expm1(-1.0 / release_days), 0.0)
    cancelled = np.where(open_cell, 0.0, backlog * -np.expm1(-1.0 / patience_days))
    total_open = _group_sum(open_demand, cell_commodity, n_commodities)
    released = _group_sum(taken, cell_commodity, n_commodities)
    with np.errstate(divide="ignore", invalid="ignore"):
        placed = np.where(
            total_open[..., cell_commodity] > 0.0,
            released[..., cell_commodity]
            * open_demand
            / np.where(total_open > 0.0, total_open, 1.0)[..., cell_commodity],
            0.0,
        )
    return placed, taken, cancelled


def calc_reroute(
    turned, open_demand, cell_group, cell_member, member_group, floor, n_groups, n_members
):
    """Re-routed cargo: where cargo turned back or held at one crossing goes   [USD]

    Cargo moves between crossings only within its group (in the engine: its corridor nest, the
    same goods from the same port or origin; a truck at Peshawar does not reach Iran).
    ``turned`` (..., F) is cargo turned back, held or barred on each route cell;
    ``open_demand`` O (..., F) each cell's demand still sent on (target × hold-back). Cells
    are members of a group at one crossing (``cell_member``: the group × crossing pair),
    members belong to a group (``member_group``). For a
    member, the open alternative is its group's open demand at other crossings,
    excl = Σ_{other members of the group} O; if excl exceeds max(1e-12 · Σ_group O, floor[group])
    the member's cargo is shared over the other crossings in proportion to their demand,
    per = turned / excl, and each cell receives O · Σ_{other members of its group} per;
    else it is stranded (it waits in the order backlog).

    Returns ``(received (..., F), stranded (..., F))``: what each cell receives, and what each
    cell's own cargo leaves stranded.
    """
    total = _group_sum(open_demand, cell_group, n_groups)
    own = _group_sum(open_demand, cell_member, n_members)
    turned_m = _group_sum(turned, cell_member, n_members)
    total_m = total[..., member_group]
    # the others' sums are added up, not taken as the total minus one's own: that difference
    # keeps only the digits the total has left where one's own dominates
    peers = (member_group[:, None] == member_group[None, :]) & ~np.eye(
        len(member_group), dtype=bool
    )
    alternative = (own[..., None, :] * peers).sum(axis=-1)
    threshold = np.maximum(
        np.maximum(total_m, 1e-300) * 1e-12, np.asarray(floor)[..., member_group]
    )
    has = alternative > threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(has, turned_m / np.where(has, alternative, 1.0), 0.0)
    received = open_demand * (per[..., None, :] * peers).sum(axis=-1)[..., cell_member]
    stranded = np.where(per[..., cell_member] > 0.0, 0.0, turned)
    return received, stranded


def calc_border_cap(arrivals, availability, baseline_flow, cell_nest, n_nests):
    """Arrivals let through by restrictions and the guarantee's exclusion   [USD/day]

    A quota or the traders without a guarantee cap the restricted routes of a corridor nest
    *jointly*: Σ_{restricted r∈n} allowed ≤ Σ_{restricted r∈n} a·v0·b (a quantity cap, a share
    of the routes' baseline flow), shared pro rata over their arrivals; so a negative list on
    all transit via Pakistan limits the corridor, and cargo barred at a blockaded crossing's
    allowance may use a nest-mate's. Routes with a = 1 are not capped; a = 0 lets nothing
    through. ``arrivals``, ``availability`` and ``baseline_flow`` (..., F).
    """
    restricted = availability < 1.0
    load = _group_sum(np.where(restricted, arrivals, 0.0), cell_nest, n_nests)
    cap = _group_sum(np.where(restricted, availability * baseline_flow, 0.0), cell_nest, n_nests)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(load > cap, cap / np.where(load > 0.0, load, 1.0), 1.0)
    return np.where(restricted, arrivals * factor[..., cell_nest], arrivals)


def calc_pair_mean(weight, value, cell_pair, n_pairs, previous):
    """v_pair = Σ_r weight·value / Σ_r weight over the pair's routes; ``previous`` where the
    weights are all zero   [unit of value] (e.g. compliance weighted by arrivals)"""
    num = _group_sum(weight * value, cell_pair, n_pairs)
    den = _group_sum(weight, cell_pair, n_pairs)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0.0, num / np.where(den > 0.0, den, 1.0), previous)


def calc_demand_loss_weights(baseline_value, target_value, fallback):
    """Where lost demand is booked: each crossing's share of the commodity's shortfall of
    target against baseline, max(0, e0·b − q*) / Σ_c max(0, e0·b − q*), or ``fallback``
    (baseline shares) where no crossing falls short   [1] (arrays (..., C, K))"""
    short = np.maximum(baseline_value - target_value, 0.0)
    tot = short.sum(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tot > 0.0, short / np.where(tot > 0.0, tot, 1.0), fallback)


def calc_decomposition(
    demand_lost,
    demand_weight,
    cancelled,
    baseline_value,
    cleared,
    spoiled,
    queue,
    queue_before,
    in_transit,
    in_transit_before,
    backlog,
    backlog_before,
):
    """The gap between baseline and cleared value, e0·b − cleared, split four ways   [USD]

    - lost = demand_lost[k]·demand_weight[c,k] + cancelled[c,k]: orders not demanded at the
      day's landed costs (the demand response), booked where the target fell short of the
      baseline, plus orders cancelled after waiting longer than traders' patience with no open
      route, booked at the crossing they were bound for;
    - delayed = Δqueue + Δin_transit + Δbacklog: growth of queues, of re-routed cargo on its way
      to its new crossing, and of the order backlog (at the crossing the orders left);
    - spoiled (given);
    - diverted = e0·b − cleared − lost − delayed − spoiled (sums to 0 nationally).

    ``demand_lost`` (..., K); pair arrays (..., C, K) or any layout with commodity last.
    Returns ``(lost, delayed, diverted)``.
    """
    lost = demand_lost[..., None, :] * demand_weight + cancelled
    delayed = (queue - queue_before) + (in_transit - in_transit_before) + (backlog - backlog_before)
    diverted = baseline_value - cleared - lost - delayed - spoiled
    return lost, delayed, diverted
