"""Equation units against hand-computed numbers."""

import math

import numpy as np
import pytest

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
    # 200 trucks at 100/day plus a full closure expected to last 7 days
    assert eq.calc_wait_days(200.0, 100.0, 0.0, 7.0) == pytest.approx(9.0)
    assert eq.calc_wait_days(200.0, 100.0, 1.0, 7.0) == pytest.approx(2.0)


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
