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
    out = eq.calc_target_flow(v0, s0, np.ones_like(v0), np.ones_like(v0), np.array([4.0, 6.0]), np.array([1.0, 0.5]))
    assert np.array_equal(out, v0)


def test_target_flow_hand_computed():
    # two routes, equal baseline shares; route 2 costs 10% more; sigma 4, epsilon 1
    v0 = np.array([[50.0], [50.0]])
    s0 = np.array([[0.5], [0.5]])
    ratio = np.array([[1.0], [1.1]])
    out = eq.calc_target_flow(v0, s0, np.ones_like(v0), ratio, np.array([4.0]), np.array([1.0]))
    w2 = 1.1 ** -4                       # 0.68301
    S = 0.5 + 0.5 * w2                   # 0.84151
    P = (0.5 + 0.5 * 1.1 ** -3) ** (1 / (1 - 4))   # 1.04526
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


def test_no_route_available_gives_zero():
    v0 = np.array([[50.0], [50.0]])
    out = eq.calc_target_flow(v0, v0 / 100, np.zeros_like(v0), np.ones_like(v0), np.array([4.0]), np.array([1.0]))
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
    assert eq.calc_spoiled_value(100.0, 10.0) == pytest.approx(100 * (1 - 2 ** -0.1))


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
