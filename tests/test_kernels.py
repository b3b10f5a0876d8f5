"""Each fused in-place process of the engine equals its reference equation on random inputs.

The engine (econ/model/engine.py) runs each process on work arrays in place for speed; the
reference forms in econ/equations.py are the documented truth. Inputs are random but shaped
like the shipped network's cells (F) and pairs (G), with several members.
"""

from __future__ import annotations

import numpy as np
import pytest

import econ
from econ import equations as eq
from econ.model.schedule import CellWedges

RTOL = 1e-12


@pytest.fixture(scope="module")
def model(default_inputs):
    sc = econ.load_scenario("default").with_months(1)
    return econ.Model(default_inputs, sc, member_ids=np.arange(4), rng=3)


def _wedges(rng, M, F, C):
    return CellWedges(
        tariff=rng.uniform(0, 0.3, (M, F)),
        guarantee=rng.uniform(0, 0.05, (M, F)),
        locked=rng.uniform(0, 0.2, (M, F)),
        availability=rng.uniform(0.5, 1.0, (M, F)),
        extra_days=rng.uniform(0, 3, (M, F)),
        capacity_share=rng.choice([0.0, 0.5, 1.0], (M, C)),
        capacity=rng.uniform(100, 900, (M, C)),
        compliance=rng.uniform(0.7, 1.0, (M, F)),
        unavailable=rng.random((M, F)) < 0.2,
        g0=rng.uniform(1.0, 1.3, (M, F)),
        admitted=rng.uniform(0.5, 1.0, (M, F)),
    )


def test_route_cost_is_the_generalized_cost_ratio(model):
    eng, net = model.engine, model.network
    rng = np.random.default_rng(1)
    M, F, C = 4, net.cells.n_cells, net.n_crossings
    w = _wedges(rng, M, F, C)
    eng.state["queue_trucks"][:] = rng.uniform(0, 2000, (M, C))
    eng.state["closure_days"][:] = rng.integers(0, 20, (M, C))
    closure_days = eng.state["closure_days"].copy()
    elapsed, delay, ratio = eng.route_cost(w)
    cell = net.cell
    ref_elapsed = np.where(w.capacity_share <= 0, closure_days + 1, 0.0)
    expected = np.maximum(model.draws.params["closure_expected_days"][:, None], ref_elapsed)
    wait = eq.calc_wait_days(eng.state["queue_trucks"], net.capacity, w.capacity_share, expected)
    ref_delay = wait[:, net.cells.cell_crossing] + w.extra_days
    g = eq.calc_generalized_cost(
        cell["freight"], cell["delay_cost"], cell["route_days0"] + ref_delay, w.tariff, w.guarantee
    )
    np.testing.assert_array_equal(elapsed, ref_elapsed)
    np.testing.assert_allclose(delay, ref_delay, rtol=RTOL)
    np.testing.assert_allclose(ratio, g / w.g0, rtol=RTOL)


def test_adjustment_rates_are_the_reference_choice(model):
    eng = model.engine
    rng = np.random.default_rng(2)
    M, F = 4, model.network.cells.n_cells
    y = rng.normal(0, 1, (M, 3, F))
    ystar = np.where(rng.random((M, 3, F)) < 0.1, y, rng.normal(0, 1, (M, 3, F)))
    pen = rng.random((M, 1, F)) < 0.5
    got = eng.adjustment_rates(y, ystar - y, pen).copy()
    ref = eq.calc_adjustment_rate_choice(y, ystar, pen, *eng.rates)
    np.testing.assert_array_equal(got, ref)
    # all three rates occur
    assert {float(v) for v in np.unique(got[0, 1])} >= {float(r[0, 1, 0]) for r in eng.rates}


def test_target_flow_on_cells_equals_the_full_reference(model):
    """The nested CES on compressed cells (the engine's kernel) is calc_target_flow."""
    net, p = model.network, model.draws.params
    rng = np.random.default_rng(3)
    M = 4
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
    )
    cl = net.cells
    at = (slice(None), cl.cell_route, cl.cell_commodity)
    v0 = np.broadcast_to(net.cell["v0"], (M, cl.n_cells))
    eng = model.engine
    got = eq.calc_target_flow_cells(
        v0,
        net.cell["s0"],
        avail[at],
        ratio[at],
        eng.sigma_cells,
        p["route_substitution_elasticity"],
        p["import_demand_elasticity"],
        route_sum=cl.cells_to_commodity,
        to_routes=lambda x: np.take(x, cl.cell_commodity, axis=1),
        nests=eng.nests,
    )
    np.testing.assert_allclose(got, ref[at], rtol=RTOL)


def test_reroute_equals_calc_reroute(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(4)
    M, F, G = 4, cl.n_cells, cl.n_pairs
    target = rng.uniform(0, 1e5, (M, F))
    hold = np.where(rng.random((M, F)) < 0.3, rng.uniform(0, 1, (M, F)), 1.0)
    turned = np.where(rng.random((M, G)) < 0.3, rng.uniform(0, 1e4, (M, G)), 0.0)
    released = rng.uniform(0, 1e3, (M, F))
    eng.state["pending_value"][:] = released * 3
    before = eng.state["pending_value"].copy()
    stranded, _ = eng.reroute(target, hold, turned, released, True)
    received = eng.state["pending_value"] - (before - released)
    ref_received, ref_stranded = eq.calc_reroute(
        turned,
        target * hold,
        cl.cell_pair,
        cl.cell_commodity,
        cl.pair_commodity,
        net.pair["open_floor"],
        net.n_commodities,
    )
    np.testing.assert_allclose(received, ref_received, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(stranded, ref_stranded, rtol=RTOL, atol=1e-9)
    # what is re-routed and what is stranded add up to what turned back
    np.testing.assert_allclose(
        ref_received.sum(axis=1) + ref_stranded.sum(axis=1), turned.sum(axis=1), rtol=1e-12
    )


def test_collect_equals_pair_compliance_and_revenue(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(5)
    M, F, G = 4, cl.n_cells, cl.n_pairs
    arrivals_r = np.where(rng.random((M, F)) < 0.2, 0.0, rng.uniform(0, 1e5, (M, F)))
    arrivals = cl.cells_to_pairs(arrivals_r)
    kappa_r = rng.uniform(0.6, 1.0, (M, F))
    cleared = rng.uniform(0, 1e5, (M, G))
    previous = rng.uniform(0.6, 1.0, (M, G))
    eng.state["compliance"][:] = previous
    b = rng.uniform(0.8, 1.2, (M, 1))
    revenue, kappa, e0 = eng.collect(arrivals_r, arrivals, cleared, kappa_r, b)
    ref = eq.calc_pair_compliance(arrivals_r, kappa_r, cl.cell_pair, G, previous)
    np.testing.assert_allclose(kappa, ref, rtol=RTOL)
    np.testing.assert_allclose(
        revenue, eq.calc_customs_revenue(cleared, net.pair["rate"], ref).sum(axis=1), rtol=RTOL
    )
    np.testing.assert_allclose(e0, net.pair["e0"] * b, rtol=RTOL)


def test_decompose_equals_calc_decomposition(model):
    eng, net = model.engine, model.network
    cl = net.cells
    rng = np.random.default_rng(6)
    M, F, G, K = 4, cl.n_cells, cl.n_pairs, net.n_commodities
    v0 = rng.uniform(0, 1e5, (M, F))
    orders = rng.uniform(0, 1e5, (M, F))
    stranded = rng.uniform(0, 1e3, (M, K))
    queue, queue_prev = rng.uniform(0, 1e4, (M, G)), rng.uniform(0, 1e4, (M, G))
    pending, pending_prev = rng.uniform(0, 1e4, (M, G)), rng.uniform(0, 1e4, (M, G))
    e0, cleared, spoiled = (rng.uniform(0, 1e5, (M, G)) for _ in range(3))
    eng.state["pending_by_pair"] = pending
    lost, delayed, diverted = eng.decompose(
        v0, orders, stranded, queue, queue_prev, pending_prev, e0, cleared, spoiled
    )
    ref = eq.calc_decomposition(
        v0,
        orders,
        stranded,
        cl.cell_commodity,
        e0,
        net.pair["w0"],
        cl.pair_commodity,
        cleared,
        queue,
        queue_prev,
        pending,
        pending_prev,
        spoiled,
    )
    for got, want in zip((lost, delayed, diverted), ref):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)


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
