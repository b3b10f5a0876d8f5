"""Each process of the engine equals its reference equation on random inputs.

The engine (econ/model/engine.py) runs each process on the compressed cells and pairs with
grouped sums; the reference forms in econ/equations.py are the documented truth. Inputs are
random but shaped like the shipped network's cells (F) and pairs (G), with several members.
"""

from __future__ import annotations

import numpy as np
import pytest

import econ
from econ import equations as eq
from econ.model.engine import Border
from econ.model.schedule import CellWedges

RTOL = 1e-12
M = 4


@pytest.fixture
def model(default_inputs):
    sc = econ.load_scenario("default").with_months(1)
    return econ.Model(default_inputs, sc, member_ids=np.arange(M), rng=3)


def _wedges(rng, F, C):
    return CellWedges(
        tariff=rng.uniform(0, 0.3, (M, F)),
        guarantee=rng.uniform(0, 0.05, (M, F)),
        locked=rng.uniform(0, 0.2, (M, F)),
        availability=np.where(rng.random((M, F)) < 0.2, rng.uniform(0.0, 1.0, (M, F)), 1.0),
        extra_days=rng.uniform(0, 3, (M, F)),
        capacity_share=rng.choice([0.0, 0.5, 1.0], (M, C)),
        capacity=rng.choice([0.0, 50.0, 900.0], (M, C)),
        afghan_rate=np.where(rng.random((M, F)) < 0.2, rng.uniform(-0.05, 0.1, (M, F)), 0.0),
        compliance=rng.uniform(0.7, 1.0, (M, F)),
        unavailable=rng.random((M, F)) < 0.2,
        g0=rng.uniform(1.0, 1.3, (M, F)),
        admitted=rng.uniform(0.5, 1.0, (M, F)),
    )


def test_route_cost_is_the_generalized_cost_ratio(model):
    eng, net = model.engine, model.network
    rng = np.random.default_rng(1)
    F, C = net.cells.n_cells, net.n_crossings
    w = _wedges(rng, F, C)
    eng.state["queue_trucks"][:] = rng.uniform(0, 2000, (M, C))
    eng.state["closure_days"][:] = rng.integers(0, 20, (M, C))
    closure_days = eng.state["closure_days"].copy()
    elapsed, delay, ratio = eng.route_cost(w)
    cell = net.cell
    ref_elapsed = np.where(w.capacity_share <= 0, closure_days + 1, 0.0)
    expected = np.maximum(model.draws.params["closure_expected_days"][:, None], ref_elapsed)
    wait = eq.calc_wait_days(eng.state["queue_trucks"], w.capacity, net.capacity, expected)
    ref_delay = wait[:, net.cells.cell_crossing] + w.extra_days
    g = eq.calc_generalized_cost(
        cell["freight"],
        cell["delay_cost"],
        cell["route_days0"] + ref_delay,
        w.tariff + w.afghan_rate,
        w.guarantee,
    )
    np.testing.assert_array_equal(elapsed, ref_elapsed)
    np.testing.assert_allclose(delay, ref_delay, rtol=RTOL)
    np.testing.assert_allclose(ratio, g / w.g0, rtol=RTOL)


def test_demand_tree_on_cells_equals_the_full_reference(model):
    """The three-level demand tree on compressed cells is calc_target_flow on (R, K)."""
    net, p = model.network, model.draws.params
    rng = np.random.default_rng(3)
    ratio = 1.0 + rng.uniform(0, 0.3, (M, net.n_routes, net.n_commodities))
    avail = np.where(rng.random((M, net.n_routes, net.n_commodities)) < 0.2, 0.5, 1.0)
    ref = eq.calc_target_flow(
        net.v0,
        net.s0,
        avail,
        ratio,
        p["route_substitution_elasticity"],
        p["import_demand_elasticity"],
        route_nest=net.route_nest,
        rho=p["within_corridor_substitution_ratio"],
        route_origin=net.route_origin,
        sigma_origin=p["origin_substitution_elasticity"],
    )
    cl = net.cells
    at = (slice(None), cl.cell_route, cl.cell_commodity)
    eng = model.engine
    w = _wedges(rng, cl.n_cells, net.n_crossings)._replace(availability=avail[at])
    relative, price, _ = eng.route_choice(0, np.ones((M, 1)), ratio[at], w)
    v0 = np.broadcast_to(net.cell["v0"], (M, cl.n_cells))
    _, target = eng.demand(eng.v0_k * np.ones((M, 1)), relative, price, v0)
    np.testing.assert_allclose(target, ref[at], rtol=1e-11)


def test_shares_and_orders_equal_the_references(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(2)
    F, K = cl.n_cells, net.n_commodities
    y = rng.normal(0, 0.05, (M, 3, F))
    eng.state["share_box"][:] = y
    relative = np.where(rng.random((M, F)) < 0.1, 1.0, rng.uniform(0.3, 1.5, (M, F)))
    pen = rng.random((M, 1, F)) < 0.5
    volume = rng.uniform(1e5, 1e6, (M, K))
    placed, unplaced = eng.adjust_shares(relative, pen, volume)
    s0 = net.cell["s0"]
    ystar = (s0 * (relative - 1.0))[:, None, :]
    lam = eq.calc_adjustment_rate_choice(y, ystar, pen, *eng.rates)
    y_new = eq.calc_box_update(y, ystar, lam)
    np.testing.assert_allclose(eng.state["share_box"], y_new, rtol=RTOL, atol=1e-18)
    share = np.maximum(s0 + np.einsum("mj,mjf->mf", eng.box_weights, y_new), 0.0)
    ref_placed, ref_unplaced = eq.calc_order_placement(volume, share, s0, cl.cell_commodity, K)
    np.testing.assert_allclose(placed, ref_placed, rtol=1e-11)
    np.testing.assert_allclose(unplaced, ref_unplaced, rtol=1e-11, atol=1e-9)
    # orders are conserved: placed + unplaced never exceeds the volume, and equals it
    # where the shares fall short of 1
    tot = eq._group_sum(placed + unplaced, cl.cell_commodity, K)
    assert np.all(tot <= volume * (1 + 1e-12))


def test_adjustment_rates_are_the_reference_choice(model):
    eng = model.engine
    rng = np.random.default_rng(2)
    F = model.network.cells.n_cells
    y = rng.normal(0, 1, (M, 3, F))
    ystar = np.where(rng.random((M, 3, F)) < 0.1, y, rng.normal(0, 1, (M, 3, F)))
    pen = rng.random((M, 1, F)) < 0.5
    got = eq.calc_adjustment_rate_choice(y, ystar, pen, *eng.rates)
    # all three rates occur, each where the rule says
    lam_base, lam_flight, lam_return = (np.broadcast_to(r, y.shape) for r in eng.rates)
    down = ystar < y
    np.testing.assert_array_equal(got[down & pen], lam_flight[down & pen])
    np.testing.assert_array_equal(got[~down & (y >= 0)], lam_base[~down & (y >= 0)])
    rest = ~(down & pen) & ~(~down & (y >= 0))
    np.testing.assert_array_equal(got[rest], lam_return[rest])


def test_backlog_release_equals_calc_backlog_release(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(8)
    F, K = cl.n_cells, net.n_commodities
    backlog = rng.uniform(0, 1e5, (M, F))
    eng.state["backlog"][:] = backlog
    open_demand = np.where(rng.random((M, F)) < 0.4, 0.0, rng.uniform(0, 1e5, (M, F)))
    demand0 = eng.v0_k * np.ones((M, 1))
    unplaced = rng.uniform(0, 1e3, (M, F))
    today = rng.uniform(0, 1e5, (M, F))
    placed, cancelled = eng.release_backlog(open_demand, today, demand0, unplaced)
    open_k = eq._group_sum(open_demand, cl.cell_commodity, K)
    has_open = open_k > 1e-3 * demand0
    unmet = np.maximum(open_demand - today, 0.0)
    some = eq._group_sum(unmet, cl.cell_commodity, K) > 1e-12 * open_k
    ref_placed, taken, ref_cancelled = eq.calc_backlog_release(
        backlog,
        np.where(some[:, cl.cell_commodity], unmet, open_demand),
        has_open,
        model.draws.params["order_replacement_days"][:, None],
        eng.patience_cells,
        cl.cell_commodity,
        K,
    )
    np.testing.assert_allclose(placed, ref_placed, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(cancelled, ref_cancelled, rtol=RTOL)
    np.testing.assert_allclose(
        eng.state["backlog"], backlog - taken - ref_cancelled + unplaced, rtol=RTOL
    )
    # what leaves the backlog toward routes arrives on routes
    np.testing.assert_allclose(placed.sum(axis=1), taken.sum(axis=1), rtol=1e-11)


def test_reroute_equals_calc_reroute(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(4)
    F, G = cl.n_cells, cl.n_pairs
    open_demand = rng.uniform(0, 1e5, (M, F)) * (rng.random((M, F)) < 0.8)
    turned = np.where(rng.random((M, F)) < 0.3, rng.uniform(0, 1e4, (M, F)), 0.0)
    released = rng.uniform(0, 1e3, (M, F))
    eng.state["pending_value"][:] = released * 3
    eng.state["backlog"][:] = 0.0
    before = eng.state["pending_value"].copy()
    zf, zg = np.zeros((M, F)), np.zeros((M, G))
    border = Border(zf, zg, released, zg, zg, turned, zf, zg, zg, np.zeros((M, net.n_crossings)))
    b = np.ones((M, 1))
    eng.reroute(open_demand, border, b)
    received = eng.state["pending_value"] - (before - released)
    floor = 1e-3 * eq._group_sum(net.cell["v0"], cl.cell_nest, cl.n_nests)
    ref_received, ref_stranded = eq.calc_reroute(
        turned,
        open_demand,
        cl.cell_nest,
        cl.cell_npair,
        cl.npair_nest,
        floor,
        cl.n_nests,
        len(cl.npair_nest),
    )
    np.testing.assert_allclose(received, ref_received, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(eng.state["backlog"], ref_stranded, rtol=RTOL)
    # what is re-routed and what is stranded add up to what turned back
    np.testing.assert_allclose(
        ref_received.sum(axis=1) + ref_stranded.sum(axis=1), turned.sum(axis=1), rtol=1e-12
    )


def test_collect_equals_pair_means_and_revenue(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(5)
    F, G = cl.n_cells, cl.n_pairs
    w = _wedges(rng, F, net.n_crossings)
    arrivals = np.where(rng.random((M, F)) < 0.2, 0.0, rng.uniform(0, 1e5, (M, F)))
    arrivals_c = cl.cells_to_pairs(arrivals)
    cleared = rng.uniform(0, 1e5, (M, G))
    prev_k, prev_r = rng.uniform(0.6, 1.0, (M, G)), rng.uniform(0.0, 0.3, (M, G))
    eng.state["compliance"][:] = prev_k
    eng.state["rate"][:] = prev_r
    b = rng.uniform(0.8, 1.2, (M, 1))
    zf, zg = np.zeros((M, F)), np.zeros((M, G))
    border = Border(
        arrivals,
        arrivals_c,
        arrivals,
        cleared,
        zg,
        arrivals,
        zf,
        zg,
        zg,
        np.zeros((M, net.n_crossings)),
    )
    revenue, evaded, rate_change, e0 = eng.collect(border, w, b)
    kappa = eq.calc_pair_mean(arrivals, w.compliance, cl.cell_pair, G, prev_k)
    rate = eq.calc_pair_mean(
        arrivals, net.pair["rate"][cl.cell_pair] + w.afghan_rate, cl.cell_pair, G, prev_r
    )
    np.testing.assert_allclose(revenue, eq.calc_customs_revenue(cleared, rate, kappa), rtol=RTOL)
    # revenue + evaded + rate change = cleared × the baseline rate
    np.testing.assert_allclose(
        revenue + evaded + rate_change, cleared * net.pair["rate"], rtol=1e-12, atol=1e-6
    )
    np.testing.assert_allclose(e0, net.pair["e0"] * b, rtol=RTOL)


def test_decompose_equals_calc_decomposition(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(6)
    F, G, K = cl.n_cells, cl.n_pairs, net.n_commodities
    demand_lost = rng.normal(0, 1e4, (M, K))
    target = rng.uniform(0, 1e5, (M, F))
    e0 = rng.uniform(0, 1e5, (M, G))
    queue, queue_prev = rng.uniform(0, 1e4, (M, G)), rng.uniform(0, 1e4, (M, G))
    cleared, spoiled = rng.uniform(0, 1e5, (M, G)), rng.uniform(0, 1e3, (M, G))
    cancelled = rng.uniform(0, 1e3, (M, F))
    pending_prev, backlog_prev = rng.uniform(0, 1e4, (M, F)), rng.uniform(0, 1e4, (M, F))
    eng.state["pending_value"] = rng.uniform(0, 1e4, (M, F))
    eng.state["backlog"] = rng.uniform(0, 1e4, (M, F))
    zf, zg = np.zeros((M, F)), np.zeros((M, G))
    border = Border(
        zf, zg, zf, cleared, spoiled, zf, zf, queue, queue_prev, np.zeros((M, net.n_crossings))
    )
    lost, delayed, diverted, cancelled_c = eng.decompose(
        demand_lost, target, e0, border, cancelled, pending_prev, backlog_prev
    )
    full = cl.expand_pairs
    weight = eq.calc_demand_loss_weights(full(e0), full(cl.cells_to_pairs(target)), net.w0)
    ref = eq.calc_decomposition(
        demand_lost,
        weight,
        full(cl.cells_to_pairs(cancelled)),
        full(e0),
        full(cleared),
        full(spoiled),
        full(queue),
        full(queue_prev),
        full(cl.cells_to_pairs(eng.state["pending_value"])),
        full(cl.cells_to_pairs(pending_prev)),
        full(cl.cells_to_pairs(eng.state["backlog"])),
        full(cl.cells_to_pairs(backlog_prev)),
    )
    for got, want in zip((lost, delayed, diverted), ref):
        np.testing.assert_allclose(full(got), want, rtol=1e-9, atol=1e-6)


def test_hold_back_by_hand():
    # a closure of 7 days with patience 7: a share 1/e of the cargo is still sent
    assert eq.calc_hold_back_share(0.0, 7.0, 7.0) == pytest.approx(np.exp(-1.0))
    assert eq.calc_hold_back_share(1.0, 30.0, 7.0) == 1.0
    assert eq.calc_hold_back_share(0.5, 0.0, 7.0) == 1.0


def test_cells_to_pairs_is_a_group_sum(model):
    cl = model.network.cells
    x = np.random.default_rng(7).random((3, cl.n_cells))
    np.testing.assert_allclose(
        cl.cells_to_pairs(x), eq._group_sum(x, cl.cell_pair, cl.n_pairs), rtol=1e-14
    )


def test_border_cap_equals_calc_border_cap(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(9)
    F, C = cl.n_cells, net.n_crossings
    w = _wedges(rng, F, C)._replace(capacity=np.full((M, C), 1e9))
    eng.state["pending_value"][:] = 0.0
    eng.state["queue_value"][:] = 0.0
    eng.state["queue_trucks"][:] = 0.0
    orders = rng.uniform(0, 1e5, (M, F))
    v0 = net.cell["v0"] * np.ones((M, 1))
    border = eng.arrive_and_queue(orders, np.ones((M, F)), w, np.zeros((M, C)), v0)
    # the border caps at ``admitted``: the availability, at most 1 relative to a base year with
    # standing measures (Schedule.cell_wedges)
    ref = eq.calc_border_cap(orders, w.admitted, v0, cl.cell_nest, cl.n_nests)
    np.testing.assert_allclose(border.arrivals, ref, rtol=RTOL)


def test_border_cap_by_hand():
    # nest 0: two routes under a corridor-wide quota 0.5 (baseline 100 and 50): jointly 75;
    # one route blockaded sends its cargo to the other, which may then carry all 75
    arrivals = np.array([0.0, 120.0, 30.0])
    got = eq.calc_border_cap(
        arrivals, np.array([0.5, 0.5, 1.0]), np.array([100.0, 50.0, 30.0]), np.array([0, 0, 1]), 2
    )
    np.testing.assert_allclose(got, [0.0, 75.0, 30.0])
    # a ban on one route of a nest stops it; its unrestricted nest-mate is not capped
    got = eq.calc_border_cap(
        np.array([10.0, 200.0]), np.array([0.0, 1.0]), np.array([100.0, 50.0]), np.array([0, 0]), 1
    )
    np.testing.assert_allclose(got, [0.0, 200.0])


def test_wedges_relative_to_a_base_year_equal_their_equations():
    """On a base year with standing measures (FY1403), the cell wedges are relative to them
    (docs/model.md §1, "Base-year measures"): g0_b = g0 + w_tariff_b + w_guar_b, ΔD − ΔD_b,
    Δτ − Δτ_b, a/a_b, κ/κ_b, admitted = min(a/a_b, 1), and the capacity
    Cap0·ω·(D0 + ΔD̄_b)/(D0 + ΔD̄) (``calc_capacity`` with the base year's days in D0)."""
    sc = econ.load_scenario("pakistan-closure-2025").with_months(6)
    inputs = econ.load_inputs(base_year="FY1403")
    model = econ.Model(inputs, sc, member_ids=np.arange(M), rng=3)
    sch, net = model.schedule, model.network
    b = sch.base_wedges
    assert b is not None and len(sch.base) == 4
    cl = net.cells
    at = (slice(None), cl.cell_route, cl.cell_commodity)
    e0 = np.maximum(net.e0.sum(axis=1), 1e-300)

    def mean_days(days):
        return net.to_crossing(days * net.v0).sum(axis=2) / e0

    day = (np.datetime64("2025-11-01") - np.datetime64(sc.start.isoformat())).astype(int)
    for t in (0, int(day)):  # before and during the closure
        w, cw = sch.wedges(t), sch.cell_wedges(t)
        np.testing.assert_allclose(cw.g0, (net.g0[None] + b.tariff + b.guarantee)[at], rtol=RTOL)
        np.testing.assert_allclose(cw.extra_days, (w.extra_days - b.extra_days)[at], atol=1e-12)
        np.testing.assert_allclose(cw.afghan_rate, (w.afghan_rate - b.afghan_rate)[at], atol=0)
        np.testing.assert_allclose(cw.availability, (w.availability / b.availability)[at])
        np.testing.assert_allclose(cw.compliance, (w.compliance / b.compliance)[at], rtol=RTOL)
        np.testing.assert_array_equal(cw.admitted, np.minimum(cw.availability, 1.0))
        base = mean_days(b.extra_days)
        ref = eq.calc_capacity(
            net.capacity, w.capacity_share, net.border_days + base, mean_days(w.extra_days) - base
        )
        np.testing.assert_allclose(cw.capacity, ref, rtol=RTOL)
    # while the standing measures stay as they were, nothing is cut: the base year's flows
    w0 = sch.cell_wedges(0)
    np.testing.assert_allclose(w0.capacity, np.broadcast_to(net.capacity, w0.capacity.shape))
    np.testing.assert_allclose(w0.availability, 1.0)


def test_wedges_without_base_year_measures_are_absolute():
    """FY1401 carries no standing measures: the cell wedges are the schedule's, bit for bit."""
    sc = econ.load_scenario("default").with_months(3)
    model = econ.Model(econ.load_inputs(base_year="FY1401"), sc, member_ids=np.arange(M), rng=3)
    sch, net = model.schedule, model.network
    assert sch.base_wedges is None
    cl = net.cells
    at = (slice(None), cl.cell_route, cl.cell_commodity)
    for t in range(0, model.T, 7):
        w, cw = sch.wedges(t), sch.cell_wedges(t)
        np.testing.assert_array_equal(cw.availability, w.availability[at])
        np.testing.assert_array_equal(cw.admitted, w.availability[at])
        np.testing.assert_array_equal(cw.capacity, w.capacity)
        np.testing.assert_array_equal(cw.g0, net.cell["g0"])
