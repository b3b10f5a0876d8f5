"""Baseline forecast: monthly history conversion, model selection, fallback, draws."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from econ.analysis.forecast import (
    MEAN_MONTH_DAYS,
    Forecast,
    base_year_monthly_usd,
    fit_baseline,
    monthly_history,
)


def table(*rows: tuple[str, str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["start", "end", "frequency", "revenue_usd"])


def month_factor(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(index.days_in_month, dtype=float) / MEAN_MONTH_DAYS


@pytest.fixture(scope="module")
def shipped_history(default_inputs) -> pd.Series:
    return monthly_history(default_inputs.revenue_monthly)


@pytest.fixture(scope="module")
def shipped_2026(shipped_history) -> Forecast:
    return fit_baseline(shipped_history, horizon_start="2026-01-01", months=12)


# --------------------------------------------------------------------------- history


def test_monthly_history_hand_computed():
    # Two solar months (each spanning two calendar months) inside a coarser period.
    # Jawza 22 May–21 Jun: 31 days at 10/day; Saratan 22 Jun–22 Jul: 31 days at 20/day.
    # The year-like period 1 May–31 Jul totals 1080; 930 is taken by the months, so its
    # other 30 days (1–21 May, 23–31 Jul) get (1080 - 930) / 30 = 5/day.
    t = table(
        ("2021-05-01", "2021-07-31", "A", 1080.0),
        ("2021-05-22", "2021-06-21", "M", 310.0),
        ("2021-06-22", "2021-07-22", "M", 620.0),
    )
    h = monthly_history(t)
    assert list(h.index) == list(pd.date_range("2021-05-01", periods=3, freq="MS"))
    assert h.index.freqstr == "MS"
    may = 21 * 5 + 10 * 10  # 205
    jun = 21 * 10 + 9 * 20  # 390
    jul = 22 * 20 + 9 * 5  # 485
    np.testing.assert_allclose(h.to_numpy(), [may, jun, jul], rtol=1e-12)
    assert h.sum() == pytest.approx(1080.0)


def test_monthly_history_partial_months_scaled_or_dropped():
    # 16 Jan–31 Mar at 10/day: January is covered 16/31 days
    t = table(("2021-01-16", "2021-03-31", "P", 750.0))
    np.testing.assert_allclose(monthly_history(t).to_numpy(), [310.0, 280.0, 310.0])
    strict = monthly_history(t, min_coverage=1.0)
    assert strict.index[0] == pd.Timestamp("2021-02-01")
    np.testing.assert_allclose(strict.to_numpy(), [280.0, 310.0])


def test_monthly_history_negative_residual_leaves_gap(caplog):
    # the months inside the coarse period add up to more than its total
    t = table(
        ("2021-01-01", "2021-04-30", "A", 100.0),
        ("2021-01-01", "2021-01-31", "M", 200.0),
        ("2021-04-01", "2021-04-30", "M", 10.0),
    )
    with caplog.at_level(logging.WARNING, logger="econ.analysis.forecast"):
        h = monthly_history(t)
    assert "exceed" in caplog.text
    assert h.iloc[0] == 200.0 and h.iloc[3] == 10.0
    assert h.iloc[1:3].isna().all()


def test_monthly_history_rejects_overlap_within_frequency():
    t = table(("2021-01-01", "2021-02-28", "P", 1.0), ("2021-02-01", "2021-03-31", "P", 1.0))
    with pytest.raises(ValueError, match="overlapping"):
        monthly_history(t)


def test_shipped_history_reproduces_observations(default_inputs, shipped_history):
    h = shipped_history
    assert h.index.freqstr == "MS"
    assert h.notna().iloc[[0, -1]].all()
    assert (h.dropna() > 0).all()
    rows = default_inputs.revenue_monthly
    fy1399 = rows[(rows["frequency"] == "A") & (rows["start"] == "2020-03-20")].iloc[0]
    per_day = fy1399["revenue_usd"] / 366  # FY1399 runs 20 Mar 2020 – 20 Mar 2021
    assert h[pd.Timestamp("2020-06-01")] == pytest.approx(30 * per_day, rel=1e-12)
    # Jawza and Saratan 1400 (the only monthly rows) determine June 2021 alone
    jawza = rows[rows["start"] == "2021-05-22"].iloc[0]["revenue_usd"] / 31
    saratan = rows[rows["start"] == "2021-06-22"].iloc[0]["revenue_usd"] / 31
    assert h[pd.Timestamp("2021-06-01")] == pytest.approx(21 * jawza + 9 * saratan, rel=1e-12)


# --------------------------------------------------------------------------- forecast


def test_forecast_on_shipped_history(shipped_2026, caplog, shipped_history):
    fc = shipped_2026
    assert list(fc.index) == list(pd.date_range("2026-01-01", periods=12, freq="MS"))
    for arr in (fc.median, fc.lower, fc.upper):
        assert arr.shape == (12,) and np.all(np.isfinite(arr)) and np.all(arr > 0)
    assert np.all(fc.lower <= fc.median) and np.all(fc.median <= fc.upper)
    assert np.all(fc.lower < fc.upper)  # all forecast months: real uncertainty
    assert set(fc.kind) == {"forecast"}
    # the shipped history has gaps, so ETS is out and the SARIMAX candidates compete by AIC
    assert fc.selection == "aic"
    assert fc.model.startswith("sarimax") and "12)" not in fc.model  # not seasonal
    assert fc.aic == min(fc.candidates.values())
    with caplog.at_level(logging.INFO, logger="econ.analysis.forecast"):
        fit_baseline(shipped_history, horizon_start="2026-01-01", months=1)
    assert "seasonal candidates rejected" in caplog.text
    assert "ETS candidates skipped" in caplog.text


def test_forecast_in_sample_uses_history(shipped_history):
    fc = fit_baseline(shipped_history, horizon_start="2020-01-01", months=84)
    h = fc.history
    kinds = pd.Series(fc.kind, index=fc.index)
    assert (kinds[:"2020-03-01"] == "before-history").all()
    observed = kinds == "observed"
    np.testing.assert_array_equal(
        fc.median[observed.to_numpy()], h.reindex(fc.index)[observed].to_numpy()
    )
    np.testing.assert_array_equal(fc.lower[observed.to_numpy()], fc.median[observed.to_numpy()])
    gap = h.index[h.isna()]
    assert len(gap) > 0 and (kinds[gap] == "smoothed").all()
    assert (kinds[h.index[-1] + pd.DateOffset(months=1) :] == "forecast").all()
    assert np.all(fc.lower <= fc.median) and np.all(fc.median <= fc.upper)
    inside = (kinds == "smoothed").to_numpy()
    assert np.all(fc.lower[inside] < fc.upper[inside])


def test_fallback_for_short_history(caplog):
    idx = pd.date_range("2023-01-01", periods=6, freq="MS")
    h = pd.Series([100.0, 104.0, 98.0, 101.0, 99.0, 103.0], index=idx) * month_factor(idx)
    with caplog.at_level(logging.WARNING, logger="econ.analysis.forecast"):
        fc = fit_baseline(h, horizon_start="2023-05-01", months=6)
    assert fc.model == "constant-mean" and fc.selection == "fallback"
    assert any(
        "too short" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )
    assert list(fc.kind) == ["observed"] * 2 + ["forecast"] * 4
    forecast = fc.kind == "forecast"
    per_month = fc.median[forecast] / month_factor(fc.index[forecast])
    log_mean = np.log(h / month_factor(idx)).mean()
    np.testing.assert_allclose(per_month, np.exp(log_mean), rtol=1e-12)
    assert np.all(fc.lower[forecast] < fc.median[forecast])
    with pytest.raises(ValueError, match="at least 2"):
        fit_baseline(h.iloc[:1], horizon_start="2023-01-01", months=2)


def test_draw_monotone_and_median(shipped_2026):
    fc = shipped_2026
    q = np.linspace(0.01, 0.99, 41)
    paths = fc.draw(q)
    assert paths.shape == (41, fc.months)
    assert np.all(np.diff(paths, axis=0) > 0)
    np.testing.assert_allclose(fc.draw([0.5])[0], fc.median, rtol=1e-12)
    # the log-normal passes through the interval bounds at their quantiles
    lo_q, hi_q = 0.5 - fc.level / 2, 0.5 + fc.level / 2
    np.testing.assert_allclose(fc.draw([lo_q, hi_q]), np.vstack([fc.lower, fc.upper]), rtol=1e-9)
    for bad in (0.0, 1.0, -0.1, [0.5, 1.2]):
        with pytest.raises(ValueError):
            fc.draw(bad)


def test_trend_recovered_from_synthetic_series():
    true_slope = 0.02
    idx = pd.date_range("2018-01-01", periods=60, freq="MS")
    rng = np.random.default_rng(11)
    log_rev = np.log(1e8) + np.cumsum(rng.normal(true_slope, 0.02, 60))
    h = pd.Series(np.exp(log_rev) * month_factor(idx), index=idx)
    h.iloc[[17, 18, 40]] = np.nan  # gaps: SARIMAX only, chosen by AIC
    fc = fit_baseline(h, horizon_start="2023-01-01", months=12, seasonal=False)
    assert fc.model == "sarimax(0,1,1)+drift"
    lo, hi = fc.param_ci["log_growth_per_month"]
    assert lo < true_slope < hi
    assert hi - lo < 0.02  # informative, not a vacuous interval
    growth = np.log(
        fc.median[-1]
        / month_factor(fc.index[-1:])[0]
        / (fc.median[0] / month_factor(fc.index[:1])[0])
    )
    assert growth == pytest.approx(11 * fc.params["log_growth_per_month"], rel=1e-9)


def test_ets_candidates_compete_on_gap_free_history():
    idx = pd.date_range("2017-01-01", periods=48, freq="MS")
    rng = np.random.default_rng(3)
    h = pd.Series(
        np.exp(18.0 + np.cumsum(rng.normal(0.0, 0.03, 48))) * month_factor(idx), index=idx
    )
    fc = fit_baseline(h, horizon_start="2021-01-01", months=6, seasonal=False)
    assert fc.selection == "holdout"
    assert {"ets(A,N,N)", "ets(A,Ad,N)", "sarimax(0,1,1)"} <= set(fc.candidates)
    assert fc.candidates[fc.model] == min(fc.candidates.values())
    assert np.all(fc.lower < fc.median) and np.all(fc.median < fc.upper)


def test_baseline_index_compares_daily_rates(default_inputs):
    base = base_year_monthly_usd(default_inputs.base_year)
    assert base == pytest.approx(110e9 / 70.0 / 12)  # FY1403, the most recent base year
    idx = pd.date_range("2023-02-01", periods=2, freq="MS")  # 28 and 31 days
    at_base = base * month_factor(idx)  # the base-year daily rate
    fc = Forecast(
        model="test",
        aic=0.0,
        index=idx,
        median=at_base,
        lower=at_base * 0.8,
        upper=at_base * 1.25,
        history=pd.Series(dtype=float),
    )
    np.testing.assert_allclose(fc.baseline_index(base), [1.0, 1.0])
    b = fc.baseline_index(base, q=[0.05, 0.5, 0.95])
    assert b.shape == (3, 2)
    np.testing.assert_allclose(b[1], 1.0)
    np.testing.assert_allclose(b[[0, 2]], [[0.8, 0.8], [1.25, 1.25]])
    with pytest.raises(ValueError):
        fc.baseline_index(0.0)


def test_month_positions_and_immutability(shipped_2026):
    fc = shipped_2026
    days = pd.date_range("2026-01-30", "2026-03-01", freq="D")
    pos = fc.month_positions(days)
    assert pos[0] == 0 and pos[2] == 1 and pos[-1] == 2
    with pytest.raises(ValueError, match="outside"):
        fc.month_positions(pd.date_range("2025-12-31", periods=2, freq="D"))
    with pytest.raises(ValueError):
        fc.median[0] = 1.0


def test_statsmodels_not_imported_at_module_import():
    code = "import sys, econ.analysis.forecast; print('statsmodels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
