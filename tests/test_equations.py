"""Equation units against hand-computed numbers."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from econ import equations as eq


def test_generalized_cost():
    # 1 + 5% freight + 1%/day × 12 days + 10% fee + 2% guarantee
    assert eq.calc_generalized_cost(0.05, 0.01, 12.0, 0.10, 0.02) == pytest.approx(1.29)


def test_guarantee_wedge():
    # levies 45% of value, full cover, 12%/yr, locked 30 days
    assert eq.calc_guarantee_wedge(0.45, 1.0, 0.12, 30.0) == pytest.approx(0.45 * 0.12 * 30 / 365)
    assert eq.calc_capital_locked(1000.0, 0.45, 1.0, 30.0) == pytest.approx(13500.0)


def test_target_flow_baseline_is_exact():
    v0 = np.array([[3.0, 0.0], [1.0, 2.0]])
    s0 = v0 / v0.sum(axis=0)
    out = eq.calc_target_flow(
        v0, s0, np.ones_like(v0), np.ones_like(v0), np.array([4.0, 6.0]), np.array([1.0, 0.5])
    )
    assert np.array_equal(out, v0)


def test_target_flow_hand_computed():
    # two routes, equal baseline shares; route 2 costs 10% more; sigma 4, epsilon 1
    v0 = np.array([[50.0], [50.0]])
    s0 = np.array([[0.5], [0.5]])
    ratio = np.array([[1.0], [1.1]])
    out = eq.calc_target_flow(v0, s0, np.ones_like(v0), ratio, np.array([4.0]), np.array([1.0]))
    w2 = 1.1**-4  # 0.68301
    S = 0.5 + 0.5 * w2  # 0.84151
    P = (0.5 + 0.5 * 1.1**-3) ** (1 / (1 - 4))  # 1.04526
    assert out[0, 0] == pytest.approx(50 * 1 / S / P, rel=1e-12)
    assert out[1, 0] == pytest.approx(50 * w2 / S / P, rel=1e-12)
    assert out[0, 0] == pytest.approx(56.845, rel=1e-4)
    assert out[1, 0] == pytest.approx(38.826, rel=1e-4)


def test_target_flow_route_removed_raises_price_and_shifts_all():
    v0 = np.array([[50.0], [50.0]])
    s0 = v0 / 100
    avail = np.array([[0.0], [1.0]])
    out = eq.calc_target_flow(v0, s0, avail, np.ones_like(v0), np.array([4.0]), np.array([1.0]))
    # all demand on route 2, reduced by the price-index rise: P = 0.5^(-1/3)
    assert out[0, 0] == 0.0
    assert out[1, 0] == pytest.approx(100 * 0.5 ** (1 / 3), rel=1e-12)


def test_nested_target_flow_hand_computed():
    # routes 1 and 2 share a nest (e.g. Karachi transit via Torkham / via Chaman), route 3 is
    # alone in another; equal baseline shares; route 1 costs 10% more; sigma 4, rho 2, eps 1
    v0 = np.array([[10.0], [10.0], [10.0]])
    s0 = v0 / 30
    ratio = np.array([[1.1], [1.0], [1.0]])
    out = eq.calc_target_flow(
        v0,
        s0,
        np.ones_like(v0),
        ratio,
        np.array([4.0]),
        np.array([1.0]),
        route_nest=np.array([0, 0, 1]),
        rho=2.0,
    )
    w1 = 1.1**-8  # inside the nest the elasticity is 8
    S_a = (w1 + 1) / 2  # nest a's weight index
    W_a = S_a**0.5  # a_n = 1: W = S^(1/rho)
    T = (2 * W_a + 1) / 3
    Q_a = ((1.1**-7 + 1) / 2) ** (3 / 7)  # (B_a)^((1-4)/(1-8))
    vol = ((2 * Q_a + 1) / 3) ** (1 / 3)  # (P/P0)^(-1) with P = base^(1/(1-4))
    assert out[0, 0] == pytest.approx(10 * w1 / S_a * W_a / T * vol, rel=1e-12)
    assert out[1, 0] == pytest.approx(10 * 1 / S_a * W_a / T * vol, rel=1e-12)
    assert out[2, 0] == pytest.approx(10 / T * vol, rel=1e-12)
    assert out[0, 0] == pytest.approx(5.8703, rel=1e-4)
    assert out[1, 0] == pytest.approx(12.5835, rel=1e-4)
    assert out[2, 0] == pytest.approx(10.7753, rel=1e-4)


def test_nested_closure_moves_flow_to_the_nest_mate():
    # route 1 shut: with rho = 1 its flow spreads over routes 2 and 3 alike (one-level CES);
    # with rho = 4 most of it goes to route 2, in the same nest (18.3 against 10.9 on route 3)
    v0 = np.array([[10.0], [10.0], [10.0]])
    avail = np.array([[0.0], [1.0], [1.0]])
    kw = dict(route_nest=np.array([0, 0, 1]))
    flat = eq.calc_target_flow(
        v0, v0 / 30, avail, np.ones_like(v0), np.array([4.0]), np.array([1.0]), **kw, rho=1.0
    )
    nested = eq.calc_target_flow(
        v0, v0 / 30, avail, np.ones_like(v0), np.array([4.0]), np.array([1.0]), **kw, rho=4.0
    )
    one_level = eq.calc_target_flow(
        v0, v0 / 30, avail, np.ones_like(v0), np.array([4.0]), np.array([1.0])
    )
    np.testing.assert_allclose(flat, one_level, rtol=1e-13)
    assert flat[1, 0] == pytest.approx(flat[2, 0], rel=1e-12)
    assert nested[1, 0] > 1.6 * nested[2, 0]
    assert nested[2, 0] < flat[2, 0] and nested[1, 0] > flat[1, 0]
    # a quota on both routes of the nest (a corridor's negative list) acts as in the one-level
    # CES: the barred half of the nest's goods leaves the nest
    quota = np.array([[0.5], [0.5], [1.0]])
    np.testing.assert_allclose(
        eq.calc_target_flow(
            v0, v0 / 30, quota, np.ones_like(v0), np.array([4.0]), np.array([1.0]), **kw, rho=4.0
        ),
        eq.calc_target_flow(v0, v0 / 30, quota, np.ones_like(v0), np.array([4.0]), np.array([1.0])),
        rtol=1e-13,
    )


def test_nested_target_flow_reduces_to_one_level():
    rng = np.random.default_rng(5)
    v0 = rng.uniform(0, 10, (2, 5, 3))
    v0[:, 1, 0] = 0.0
    s0 = v0 / v0.sum(axis=-2, keepdims=True)
    ratio = rng.uniform(1.0, 1.3, v0.shape)
    avail = rng.choice([0.0, 0.5, 1.0], v0.shape)
    sig, eps = np.array([[3.0, 5.0, 8.0]] * 2), np.array([[1.0, 0.5, 2.0]] * 2)
    one_level = eq.calc_target_flow(v0, s0, avail, ratio, sig, eps)
    # rho = 1: any nesting is the one-level CES
    nests = np.array([0, 0, 1, 2, 1])
    np.testing.assert_allclose(
        eq.calc_target_flow(
            v0, s0, avail, ratio, sig, eps, route_nest=nests, rho=np.array([1.0, 1.0])
        ),
        one_level,
        rtol=1e-12,
    )
    # one route per nest: the one-level CES whatever rho (quotas enter as quantities)
    np.testing.assert_allclose(
        eq.calc_target_flow(
            v0, s0, avail, ratio, sig, eps, route_nest=np.arange(5), rho=np.array([3.0, 7.0])
        ),
        one_level,
        rtol=1e-12,
    )
    # and the baseline is exact for any rho
    base = eq.calc_target_flow(
        v0,
        s0,
        np.ones_like(v0),
        np.ones_like(v0),
        sig,
        eps,
        route_nest=nests,
        rho=np.array([2.0, 5.0]),
    )
    np.testing.assert_array_equal(base, v0)


def test_no_route_available_gives_zero():
    v0 = np.array([[50.0], [50.0]])
    out = eq.calc_target_flow(
        v0, v0 / 100, np.zeros_like(v0), np.ones_like(v0), np.array([4.0]), np.array([1.0])
    )
    assert np.all(out == 0.0)


def test_adjustment_box():
    lam = eq.calc_adjustment_rate(10.0, 1.0)
    assert lam == pytest.approx(1 - math.exp(-0.1))
    assert eq.calc_box_update(0.0, 100.0, lam) == pytest.approx(100 * lam)


def test_capacity_closure_and_delay():
    # half the lanes open, processing time doubled (1 day + 1 extra day): quarter capacity
    assert eq.calc_capacity(100.0, 0.5, 1.0, 1.0) == pytest.approx(25.0)


def test_cleared_share():
    assert eq.calc_cleared_share(50.0, 100.0, 100.0) == pytest.approx(100 / 150)
    assert eq.calc_cleared_share(0.0, 40.0, 100.0) == 1.0
    assert eq.calc_cleared_share(10.0, 0.0, 0.0) == 0.0


def test_spoilage_half_life():
    assert eq.calc_spoiled_value(100.0, 10.0, 10.0) == pytest.approx(50.0)
    assert eq.calc_spoiled_value(100.0, 10.0) == pytest.approx(100 * (1 - 2**-0.1))


def test_wait_days():
    # shut (capacity 0): a full closure expected to last 7 days, then 200 trucks at 100/day
    assert eq.calc_wait_days(200.0, 0.0, 100.0, 7.0) == pytest.approx(9.0)
    # open at normal capacity: the queue alone
    assert eq.calc_wait_days(200.0, 100.0, 100.0, 7.0) == pytest.approx(2.0)
    # a partial cut to 20/day: 10 days of queue, but no more than waiting it out (7 + 2)
    assert eq.calc_wait_days(200.0, 20.0, 100.0, 7.0) == pytest.approx(9.0)
    assert eq.calc_wait_days(100.0, 20.0, 100.0, 7.0) == pytest.approx(5.0)
    # a cap that never binds (no queue) adds nothing; a shut crossing with no queue: D_exp
    assert eq.calc_wait_days(0.0, 45.0, 100.0, 7.0) == 0.0
    assert eq.calc_wait_days(0.0, 0.0, 100.0, 7.0) == pytest.approx(7.0)


def test_renege_share():
    assert eq.calc_renege_share(7.0, 7.0) == 0.0
    assert eq.calc_renege_share(14.0, 7.0) == pytest.approx(1 - math.exp(-7 / (7 * 14)))
    assert eq.calc_renege_share(1e9, 7.0) == pytest.approx(1 - math.exp(-1 / 7), rel=1e-6)


def test_compliance():
    assert eq.calc_compliance(0.10, 3.0, 0.5) == pytest.approx(math.exp(-0.3))
    assert eq.calc_compliance(0.10, 3.0, 0.2) == pytest.approx(0.8)
    assert eq.calc_compliance(0.0, 3.0, 0.5) == 1.0


def test_revenue():
    assert eq.calc_customs_revenue(1000.0, 0.2, 0.9) == pytest.approx(180.0)


def test_pressure_and_protest():
    assert eq.calc_pressure(50.0, 200.0) == pytest.approx(0.25)
    assert eq.calc_accumulated_pressure(0.0, 1.0, 10.0, 10.0) == pytest.approx(0.5)
    assert eq.calc_protest_risk(0.0, 0.0, 1.0) == pytest.approx(0.5)
    assert eq.calc_protest_risk(1.0, -4.0, 4.0) == pytest.approx(0.5)


# ---------------------------------------------------------------- issue 13: the new processes
def _tree():
    # four routes of one commodity: two Pakistani-goods routes (one nest, origin 0), two
    # transit routes in two corridors of the third-country origin (nests 1 and 2, origin 1)
    return eq.GroupTree([0, 0, 1, 2], [0, 1, 1], [0, 0], 1)


def test_three_level_shares_hand_computed():
    s0 = np.array([0.3, 0.1, 0.4, 0.2])
    x = np.array([1.2, 1.0, 1.1, 1.0])  # dearer Pakistani route 0 and transit corridor 1
    a = np.ones(4)
    eta, sr, so = 6.0, 3.0, 2.0
    rel, price = eq.calc_nested_shares(
        s0, a, x, np.full(4, eta), np.full(3, sr), np.full(2, so), _tree()
    )
    # route level: nest 0 holds routes 0 and 1
    S0 = (0.3 * 1.2**-eta + 0.1) / 0.4
    r0 = 1.2**-eta / S0
    # corridor level: origin 1 holds nests 1 and 2 (one route each)
    S1, S2 = 1.1**-eta, 1.0
    So1 = (0.4 * S1 ** (sr / eta) + 0.2 * S2 ** (sr / eta)) / 0.6
    n1 = S1 ** (sr / eta) / So1
    # origin level
    So0 = S0 ** (sr / eta)  # one nest
    Sk = 0.4 * So0 ** (so / sr) + 0.6 * So1 ** (so / sr)
    o0, o1 = So0 ** (so / sr) / Sk, So1 ** (so / sr) / Sk
    assert rel[0] == pytest.approx(r0 * 1.0 * o0, rel=1e-12)
    assert rel[2] == pytest.approx(1.0 * n1 * o1, rel=1e-12)
    assert (s0 * rel).sum() == pytest.approx(1.0, rel=1e-14)  # orders conserved
    # price index: CES prices of order 1 − σ at each level
    Pn0 = ((0.3 * 1.2 ** (1 - eta) + 0.1) / 0.4) ** (1 / (1 - eta))
    Po1 = ((0.4 * 1.1 ** (1 - sr) + 0.2) / 0.6) ** (1 / (1 - sr))
    PI = (0.4 * Pn0 ** (1 - so) + 0.6 * Po1 ** (1 - so)) ** (1 / (1 - so))
    assert price[0] == pytest.approx(PI, rel=1e-12)


def test_an_origin_elasticity_below_the_route_elasticity_keeps_goods_with_their_origin():
    """Pakistani goods made dearer: with σo < σr their demand moves less to other origins
    than the route elasticity alone would move it; with σo = σr the tree is one-level."""
    s0 = np.array([0.3, 0.1, 0.4, 0.2])
    x = np.array([1.1, 1.1, 1.0, 1.0])  # all Pakistani routes dearer
    a = np.ones(4)
    low, _ = eq.calc_nested_shares(
        s0, a, x, np.full(4, 8.0), np.full(3, 8.0), np.full(2, 2.0), _tree()
    )
    same, _ = eq.calc_nested_shares(
        s0, a, x, np.full(4, 8.0), np.full(3, 8.0), np.full(2, 8.0), _tree()
    )
    one = s0 * x**-8.0 / (s0 * x**-8.0).sum()
    np.testing.assert_allclose(s0 * same, one, rtol=1e-12)
    assert (s0 * low)[:2].sum() > (s0 * same)[:2].sum()


def test_order_placement_conserves_orders():
    # one commodity, three routes; shares after the boxes sum to 0.9: 10% wait in the backlog,
    # booked to the route whose share fell
    s0 = np.array([0.5, 0.3, 0.2])
    share = np.array([0.3, 0.35, 0.25])
    placed, unplaced = eq.calc_order_placement(np.array([100.0]), share, s0, np.zeros(3, int), 1)
    np.testing.assert_allclose(placed, [30.0, 35.0, 25.0])
    np.testing.assert_allclose(unplaced, [10.0, 0.0, 0.0])
    # shares summing above 1 are scaled down: no order is created
    placed, unplaced = eq.calc_order_placement(
        np.array([100.0]), np.array([0.6, 0.4, 0.2]), s0, np.zeros(3, int), 1
    )
    np.testing.assert_allclose(placed, [50.0, 100 / 3, 50 / 3])
    np.testing.assert_allclose(unplaced, 0.0)


def test_backlog_release_by_hand():
    backlog = np.array([70.0, 0.0, 30.0, 10.0])
    open_demand = np.array([0.0, 10.0, 30.0, 0.0])
    has_open = np.array([True, False])  # commodity 0 (cells 0–2) has an open route, 1 none
    k = np.array([0, 0, 0, 1])
    placed, taken, cancelled = eq.calc_backlog_release(
        backlog, open_demand, has_open, 14.0, np.array([20.0, 20.0, 20.0, 5.0]), k, 2
    )
    rel = -np.expm1(-1 / 14)
    np.testing.assert_allclose(taken, [70 * rel, 0.0, 30 * rel, 0.0])
    np.testing.assert_allclose(placed, [0.0, 100 * rel * 0.25, 100 * rel * 0.75, 0.0])
    np.testing.assert_allclose(cancelled, [0, 0, 0, 10 * -np.expm1(-1 / 5)])


def test_reroute_stays_within_the_origin():
    # cells: 0 Pakistani goods at crossing A, 1 Pakistani goods at B, 2 Iranian goods at C;
    # cargo turned back at A goes to B only; Iranian cargo with no other crossing is stranded
    turned = np.array([50.0, 0.0, 20.0])
    open_demand = np.array([10.0, 40.0, 100.0])
    cell_group = np.array([0, 0, 1])
    cell_member = np.array([0, 1, 2])  # (origin, crossing)
    member_group = np.array([0, 0, 1])
    received, stranded = eq.calc_reroute(
        turned, open_demand, cell_group, cell_member, member_group, np.zeros(2), 2, 3
    )
    np.testing.assert_allclose(received, [0.0, 50.0, 0.0])
    np.testing.assert_allclose(stranded, [0.0, 0.0, 20.0])


def test_demand_loss_is_booked_where_the_target_fell():
    base = np.array([[60.0], [40.0]])
    target = np.array([[30.0], [50.0]])  # crossing 0 falls short by 30, crossing 1 gains
    w = eq.calc_demand_loss_weights(base, target, np.array([[0.6], [0.4]]))
    np.testing.assert_allclose(w, [[1.0], [0.0]])
    w = eq.calc_demand_loss_weights(base, base * 1.1, np.array([[0.6], [0.4]]))
    np.testing.assert_allclose(w, [[0.6], [0.4]])  # nobody falls short: baseline shares


def test_decomposition_by_hand():
    lost, delayed, diverted = eq.calc_decomposition(
        np.array([10.0]),
        np.array([[1.0], [0.0]]),
        np.array([[2.0], [0.0]]),
        np.array([[60.0], [40.0]]),
        np.array([[20.0], [55.0]]),
        np.array([[1.0], [0.0]]),
        np.array([[5.0], [0.0]]),
        np.zeros((2, 1)),
        np.array([[0.0], [3.0]]),
        np.zeros((2, 1)),
        np.array([[4.0], [0.0]]),
        np.zeros((2, 1)),
    )
    np.testing.assert_allclose(lost, [[12.0], [0.0]])
    np.testing.assert_allclose(delayed, [[9.0], [3.0]])
    np.testing.assert_allclose(diverted, [[60 - 20 - 12 - 9 - 1], [40 - 55 - 0 - 3]])


def test_pair_mean_by_hand():
    got = eq.calc_pair_mean(
        np.array([1.0, 3.0, 0.0]),
        np.array([0.2, 0.6, 0.9]),
        np.array([0, 0, 1]),
        2,
        np.array([0.0, 0.5]),
    )
    np.testing.assert_allclose(got, [0.5, 0.5])


def test_compliance_answers_to_the_afghan_rate():
    # Fisman & Wei: β = 3 per unit of the tax's own rate; capped at e_max
    assert eq.calc_compliance(0.1, 3.0, 0.5) == pytest.approx(math.exp(-0.3))
    assert eq.calc_compliance(1.0, 3.0, 0.5) == pytest.approx(0.5)
    assert eq.calc_compliance(0.0, 3.0, 0.5) == 1.0


def test_tree_elasticities_clip_to_the_consistent_domain():
    tree = _tree()  # nests 0 | 1, 2 under origins 0 | 1; cells 0, 1 | 2 | 3
    so, sr, eta = eq.calc_tree_elasticities(
        np.array([0.5, 3.0]), np.array([0.8, 2.0, 8.0]), np.array([0.9, 4.0, 2.5, 16.0]), tree
    )
    np.testing.assert_array_equal(so, [1.0, 3.0])  # σo ≥ 1
    np.testing.assert_array_equal(sr, [1.0, 3.0, 8.0])  # σr ≥ its origin's σo
    np.testing.assert_array_equal(eta, [1.0, 4.0, 3.0, 16.0])  # η ≥ its nest's σr
    # already consistent: unchanged
    so2, sr2, eta2 = eq.calc_tree_elasticities(so, sr, eta, tree)
    for a, b in ((so, so2), (sr, sr2), (eta, eta2)):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(
    so=st.floats(0.1, 10.0),
    sr=st.floats(0.1, 30.0),
    rho=st.floats(0.5, 5.0),
    x=st.lists(st.floats(1.0, 3.0), min_size=4, max_size=4),
    a=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
)
@example(so=1.0, sr=1.0, rho=1.0, x=[1.0, 1.0, 1.0, 1.0], a=[0.0, 0.0, 0.0, 5e-324])
@example(so=1.0, sr=1.0, rho=1.0, x=[1.0, 1.0, 1.0, 1.0], a=[0.0, 0.0, 0.0, 1e-12])
def test_price_index_never_falls_when_costs_rise_or_routes_close(so, sr, rho, x, a):
    """For any elasticities (clipped to the consistent tree), dearer routes and lost
    availability never lower the price index, so they never raise demand; quantities are
    conserved. (Before the clip, a σr draw below 1 made a ban raise textile imports twelvefold.)"""
    s0 = np.array([0.3, 0.1, 0.4, 0.2])
    a = np.array(a)
    rel, price = eq.calc_nested_shares(
        s0, a, np.array(x), np.full(4, rho * sr), np.full(3, sr), np.full(2, so), _tree()
    )
    if (a >= eq.AVAILABILITY_FLOOR).any():
        assert price[0] >= 1.0 - 1e-9
        assert (s0 * rel).sum() == pytest.approx(1.0, rel=1e-9)
    else:
        assert price[0] == np.inf
