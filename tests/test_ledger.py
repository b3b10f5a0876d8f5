"""Who pays: trader-group costs and pressure, protest risk, Pakistan's ledger, leverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import econ
from cli.app import app
from econ.analysis.tables import (
    ledger_summary,
    pakistan_table,
    pressure_table,
    revenue_impact_table,
)
from econ.model import ledger

TOY_DAILY_EAST_GOODS = (365e6 + 182.5e6) / 365.0  # USD/day, flows.csv
TOY_DAILY_FRUIT = (73e6 + 36.5e6) / 365.0


def toy_scenario(measures: str = "", months: int = 2) -> econ.Scenario:
    return econ.parse_scenario(f'name = "t"\nstart = "2023-01-01"\nmonths = {months}\n{measures}')


def closure(days: int, start: str = "2023-01-05") -> str:
    import datetime as dt

    end = dt.date.fromisoformat(start) + dt.timedelta(days=days)
    return (
        f'[[measure]]\ntype = "closure"\ncrossings = ["east"]\nstart = "{start}"\n'
        f'end = "{end.isoformat()}"\ncapacity = 0.0\n'
    )


def tariff(rate: float) -> str:
    return (
        f'[[measure]]\ntype = "tariff"\nroutes = ["port-east"]\ncommodities = ["goods"]\n'
        f'start = "2023-01-01"\nrate = {rate}\n'
    )


# ----------------------------------------------------------------- pure functions, by hand


def test_accumulate_pressure_by_hand():
    # constant pressure 1 for one 30-day period with a 30-day half-life:
    # A = 1 · (1 − 2^−1) · 30 / ln 2 / 30.4375 months
    A = ledger.accumulate_pressure(np.ones((1, 1, 1)), np.array([30.0]), np.array([30.0]))
    assert A[0, 0, 0] == pytest.approx(0.5 * 30 / math.log(2) / 30.4375)
    # then no pressure for 30 days: it halves
    A2 = ledger.accumulate_pressure(
        np.array([[[1.0], [0.0]]]), np.array([30.0, 30.0]), np.array([30.0])
    )
    assert A2[0, 1, 0] == pytest.approx(A[0, 0, 0] / 2)


def test_leverage_half_life_by_hand():
    # loss per 30-day period: peak 10 in period 1, below 5 first in period 3 (4);
    # crossing 5 at 3/4 of the way from period 2 (8) to period 3 (4): 1.75 periods after the peak
    loss = np.array([[0.0, 300.0, 240.0, 120.0, 60.0]])
    hl = ledger.leverage_half_life(loss, np.full(5, 30.0))
    assert hl[0] == pytest.approx(1.75 * 30 / 30.4375)
    assert np.isnan(ledger.leverage_half_life(np.array([[0.0, 1.0, 2.0]]), np.full(3, 30.0))[0])
    assert np.isnan(ledger.leverage_half_life(np.zeros((1, 3)), np.full(3, 30.0))[0])


def test_loss_shares_by_hand():
    base = np.array([[10.0], [10.0]])  # (C=2, K=1)
    actual = np.array([[4.0], [12.0]])  # crossing 0 lost 6, crossing 1 gained
    fallback = np.array([[0.3], [0.7]])
    assert ledger.loss_shares(base, actual, fallback)[:, 0].tolist() == [1.0, 0.0]
    assert ledger.loss_shares(base, base, fallback)[:, 0].tolist() == [0.3, 0.7]


def test_exchange_ratio_by_hand():
    loss = np.array([[10.0, 20.0, 30.0, 0.0]])
    cost = np.array([[-5.0, 10.0, 20.0, 0.0]])
    r = ledger.exchange_ratio(loss, cost, cumulative=False)
    # Pakistan gains while Afghanistan loses: unbounded (+inf), not undefined; nothing lost: NaN
    assert r[0, 0] == np.inf and r[0, 1:3].tolist() == [2.0, 1.5] and np.isnan(r[0, 3])
    c = ledger.exchange_ratio(loss, cost, cumulative=True)
    assert c[0, 0] == np.inf and c[0, 1:].tolist() == pytest.approx([30 / 5, 60 / 25, 60 / 25])


def test_pakistan_ledger_by_hand():
    # one member, one period, routes: 0 Pakistani bilateral, 1 Pakistani transit, 2 Iranian
    base = np.array([[[[100.0], [200.0], [50.0]]]])  # (M, P, R, K)
    actual = np.array([[[[60.0], [120.0], [170.0]]]])
    out = {
        "baseline_route_trade_value": base,
        "route_trade_value": actual,
        "tariff_paid": np.array([[[[0.0], [12.0], [0.0]]]]),
    }
    levy = np.zeros((2, 3, 1))
    levy[0, 0, 0] = 0.01  # customs on the bilateral route
    levy[1, :2, 0] = 0.02  # provincial cess on both Pakistani routes
    pk = ledger.pakistan_ledger(
        out,
        pak_export=np.array([[1.0], [0.0], [0.0]]),
        pak_transit=np.array([[0.0], [1.0], [0.0]]),
        pak_route=np.array([[1.0], [1.0], [0.0]]),
        freight_r=np.array([[0.03], [0.05], [0.08]]),
        pak_levy=levy,
        export_va_share=np.array([0.4]),
        transport_va_share=np.array([0.5]),
    )[0, 0]
    # fees 12; customs 0.01·40; cess 0.02·(40 + 80); exporters 0.4·40; transport 0.5·0.05·80
    assert pk.tolist() == pytest.approx([12.0, 0.4, 2.4, 16.0, 2.0])
    assert ledger.pakistan_fiscal_net_cost(pk) == pytest.approx(0.4 + 2.4 - 12.0)
    assert ledger.pakistan_value_added_lost(pk) == pytest.approx(18.0)
    # the Afghan side: margins on trade forgone, goods margin + trucking margin × freight
    lost = np.array([[[[10.0, 0.0], [0.0, 20.0]]]])  # (M, P, C, K)
    va = ledger.afghan_value_added_lost(
        lost, np.array([0.1, 0.2]), np.array([[0.05, 0.05], [0.1, 0.1]]), np.array([0.25])
    )
    assert va[0, 0] == pytest.approx(10 * (0.1 + 0.25 * 0.05) + 20 * (0.2 + 0.25 * 0.1))


# ----------------------------------------------------------------- toy model, by hand


def test_toy_fees_and_margin_by_hand(toy_inputs):
    ds = econ.run(toy_scenario(tariff(0.1), months=1), inputs=toy_inputs)
    cost = ds.trader_cost.isel(member=0).sum("time")
    paid = float(
        ds.route_trade_value.isel(member=0).sel(route="port-east", commodity="goods").sum()
    )
    assert float(cost.sel(group="east-importers", component="fees")) == pytest.approx(
        0.1 * paid, rel=1e-12
    )
    # nobody else pays the fee; truckers bear no fees, fruit traders trade no goods
    assert float(cost.sel(group=["fruit-traders", "truckers"], component="fees").sum()) == 0.0
    # baseline margin: 10% of east goods value per day (commodities.csv), 31 days
    m0 = ds.trader_baseline_margin.isel(member=0).sel(group="east-importers").sum()
    assert float(m0) == pytest.approx(0.1 * TOY_DAILY_EAST_GOODS * 31, rel=1e-12)
    # fruit traders: 20% margin on all fruit; truckers: 25% of the freight bill
    m1 = ds.trader_baseline_margin.isel(member=0).sel(group="fruit-traders").sum()
    assert float(m1) == pytest.approx(0.2 * TOY_DAILY_FRUIT * 31, rel=1e-12)
    bill = (365e6 * 0.05 + 182.5e6 * 0.03 + 365e6 * 0.08 + 73e6 * 0.03 + 36.5e6 * 0.08) / 365
    m2 = ds.trader_baseline_margin.isel(member=0).sel(group="truckers").sum()
    assert float(m2) == pytest.approx(0.25 * bill * 31, rel=1e-12)
    # pressure = total cost / margin in the period
    p = ds.trader_pressure.isel(member=0, time=0).sel(group="east-importers")
    tot = ds.trader_cost.isel(member=0, time=0).sel(group="east-importers").sum()
    assert float(p) == pytest.approx(float(tot) / float(m0), rel=1e-12)


def test_toy_closure_components(toy_inputs):
    ds = econ.run(toy_scenario(closure(10)), inputs=toy_inputs)
    c = ds.trader_cost.isel(member=0).sum("time")
    # truckers bear all the demurrage and nothing of the cargo owners' costs
    dem = float(ds.demurrage_cost.isel(member=0).sum())
    assert dem > 0
    assert float(c.sel(group="truckers", component="demurrage")) == pytest.approx(dem, rel=1e-12)
    assert float(c.sel(component="demurrage").sum()) == pytest.approx(dem, rel=1e-12)
    # spoilage: all fruit spoiled at east belongs to the fruit traders
    sp = float(ds.spoiled_value.isel(member=0).sel(commodity="fruit").sum())
    assert sp > 0 and float(c.sel(group="fruit-traders", component="spoilage")) == pytest.approx(
        sp, rel=1e-12
    )
    # the margin lost on forgone goods trade falls on the group whose crossing lost trade
    assert float(c.sel(group="east-importers", component="margin_lost")) > 0
    # Pakistan loses exports (east is the Pakistani crossing) and collects no fees; its levies
    # lost are the toy rates on the route shortfalls (tests/data/toy/pakistan_fiscal.csv)
    pk = ds.pakistan_cost.isel(member=0).sum("time")
    assert float(pk.sel(pakistan_component="fees_collected")) == 0.0
    short = (ds.baseline_route_trade_value - ds.route_trade_value).isel(member=0).sum("time")
    land = float(short.sel(route="land-east").sum())
    east = float(short.sel(route=["land-east", "port-east"]).sum())
    assert land > 0
    assert float(pk.sel(pakistan_component="customs_levies_lost")) == pytest.approx(
        0.01 * float(short.sel(route="land-east", commodity=["goods", "fruit"]).sum()),
        rel=1e-12,
    )
    assert float(pk.sel(pakistan_component="provincial_cess_lost")) == pytest.approx(
        0.02 * east, rel=1e-12
    )
    assert float(pk.sel(pakistan_component="export_value_added_lost")) == pytest.approx(
        0.4 * land, rel=1e-12
    )


def test_zero_under_baseline(default_inputs):
    ds = econ.run("baseline", inputs=default_inputs, months=6)
    margin = float(ds.trader_baseline_margin.sum())
    assert abs(float(ds.trader_cost.sum())) < 1e-9 * margin
    assert float(abs(ds.trader_pressure).max()) < 1e-9
    a = default_inputs.parameters["protest_risk_intercept"].value
    np.testing.assert_allclose(ds.protest_risk.values, 1 / (1 + math.exp(-a)), rtol=1e-9)
    assert float(abs(ds.pakistan_cost).max()) < 1e-6 * margin
    assert np.isnan(ds.leverage_half_life_months.values).all()


@settings(max_examples=8, deadline=None)
@given(r1=st.floats(0.0, 0.3), r2=st.floats(0.0, 0.3))
def test_pressure_monotone_in_fee(toy_inputs, r1, r2):
    lo, hi = sorted((r1, r2))
    p = [
        econ.run(toy_scenario(tariff(r), months=1), inputs=toy_inputs)
        .trader_pressure.sel(group="east-importers")
        .max()
        for r in (lo, hi)
    ]
    assert float(p[1]) >= float(p[0]) - 1e-12


@settings(max_examples=8, deadline=None)
@given(d1=st.integers(1, 30), d2=st.integers(1, 30))
def test_pressure_monotone_in_closure_length(toy_inputs, d1, d2):
    lo, hi = sorted((d1, d2))
    res = [econ.run(toy_scenario(closure(d)), inputs=toy_inputs) for d in (lo, hi)]
    for g in ("east-importers", "fruit-traders", "truckers"):
        a = [float(r.trader_pressure_accumulated.sel(group=g).max()) for r in res]
        assert a[1] >= a[0] - 1e-12, g


def test_exchange_ratio_numerator_is_run_treasury_loss(toy_inputs):
    ds = econ.run(toy_scenario(closure(10)), inputs=toy_inputs)
    ratio = float(ds.coercion_exchange_ratio_cumulative.isel(member=0, time=-1))
    pk = float(ds.pakistan_fiscal_net_cost.isel(member=0).sum())
    change = revenue_impact_table(ds).loc["TOTAL", "change"]
    assert pk > 0
    assert ratio * pk == pytest.approx(-change, rel=1e-12)
    assert float(ds.treasury_loss.sum()) == pytest.approx(-change, rel=1e-12)
    # value added, like for like: Afghan margins lost per USD of Pakistan's value added lost
    va = float(ds.value_added_exchange_ratio_cumulative.isel(member=0, time=-1))
    af = float(ds.afghan_value_added_lost.isel(member=0).sum())
    pv = float(ds.pakistan_value_added_lost.isel(member=0).sum())
    assert af > 0 and pv > 0 and va == pytest.approx(af / pv, rel=1e-12)


def test_a_fee_that_costs_pakistan_nothing_has_an_unbounded_fiscal_ratio(toy_inputs):
    """A transit fee: Pakistan's treasury collects the fee and loses less cess than it gains,
    so its net fiscal cost is negative: the documented ratio is +inf (leverage that costs its
    treasury nothing), not NaN, and the summary says Pakistan gains."""
    ds = econ.run(toy_scenario(tariff(0.1), months=3), inputs=toy_inputs)
    assert float(ds.pakistan_fiscal_net_cost.sum()) < 0
    assert float(ds.treasury_loss.sum()) > 0
    assert float(ds.coercion_exchange_ratio_cumulative.isel(member=0, time=-1)) == np.inf
    assert "fiscal unbounded (Pakistan gains" in ledger_summary(ds)[1]


def test_protest_calibration(default_inputs):
    """The shipped protest parameters are the fit (econ.analysis.protest) to the protest and
    no-protest cases of the shipped episodes: this fails if the model or the cases drift."""
    from econ.analysis.protest import fit_protest, protest_cases

    cases = protest_cases(default_inputs)
    assert {c.observed for c in cases} == {0, 1} and len(cases) >= 5
    res = fit_protest(cases, default_inputs)
    assert res["intercept"] == pytest.approx(
        default_inputs.parameters["protest_risk_intercept"].value, abs=5e-3
    )
    assert res["slope"] == pytest.approx(
        default_inputs.parameters["protest_risk_slope"].value, abs=5e-3
    )
    # scores are computed out of sample and against a base rate with no slope
    assert set(res["scores"].index) >= {"model, out of sample", "base rate, out of sample"}


def test_case_probability_by_hand():
    from econ.analysis.protest import case_probability

    s = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    p = case_probability(-3.0, 2.0, np.array([0.5, 1.0]))
    assert p == pytest.approx(1 - (1 - s(-2.0)) * (1 - s(-1.0)), rel=1e-12)
    assert case_probability(-3.0, 0.0, np.array([])) == 0.0


def test_a_protest_outcome_can_fail(toy_inputs):
    """Pressure without protest: a no-protest case under heavy pressure fails once the slope
    is steep, and passes with a flat one; a documented protest at no pressure fails."""
    from econ.analysis.backtest import outcome_value
    from econ.model.model import Model
    from econ.spec.episode import Outcome

    sc = toy_scenario(closure(40), months=3)

    def risk(slope: float, observed: float) -> tuple[float, bool]:
        p = dict(toy_inputs.parameters)
        p["protest_risk_slope"] = p["protest_risk_slope"].with_value(slope)
        m = Model(toy_inputs.with_parameters(p), sc)
        m.run()
        o = Outcome(
            id="x",
            metric="protest_risk",
            window_start=sc.start,
            window_end=sc.start.replace(month=3),
            groups=["fruit-traders"],
            observed=observed,
            tolerance=50.0,
            comparison="level",
            source="test",
        )
        v = float(outcome_value(m.result(), o, m.network)[0])
        return v, abs(v - observed) <= 50.0

    steep, ok_steep = risk(20.0, 0.0)
    flat, ok_flat = risk(0.01, 0.0)
    assert steep > 50.0 and not ok_steep
    assert flat < 50.0 and ok_flat
    assert not risk(0.01, 100.0)[1]


def test_tables_and_summary(toy_inputs):
    ds = econ.run(toy_scenario(closure(10)), inputs=toy_inputs)
    pt = pressure_table(ds)
    assert list(pt.index) == ["east-importers", "fruit-traders", "truckers"]
    assert pt.loc["east-importers", "peak_month"] == "2023-01"
    tot = pt[[c for c in pt.columns if c.startswith("cost_") and c != "cost_total"]].sum(axis=1)
    np.testing.assert_allclose(tot, pt["cost_total"], rtol=1e-12)
    led = pakistan_table(ds)
    assert len(led) == 2
    lines = ledger_summary(ds)
    assert len(lines) == 2 and lines[0].startswith("Peak trader pressure:")
    assert "exchange ratio" in lines[1]


def test_ensemble_ledger_has_ranges(toy_inputs):
    ds = econ.run(toy_scenario(closure(10)), inputs=toy_inputs, members=4, rng=1)
    assert ds.trader_cost.sizes["member"] == 4
    pt = pressure_table(ds)
    assert (pt["peak_pressure_p05"] <= pt["peak_pressure"] + 1e-12).all()
    assert (pt["peak_pressure"] <= pt["peak_pressure_p95"] + 1e-12).all()


def test_units_and_long_names(toy_inputs):
    ds = econ.run(toy_scenario(closure(10)), inputs=toy_inputs)
    for v in (
        "trader_cost",
        "trader_pressure",
        "protest_risk",
        "pakistan_cost",
        "coercion_exchange_ratio",
        "leverage_half_life_months",
    ):
        assert ds[v].attrs["units"] and ds[v].attrs["long_name"], v
    assert ds.trader_cost.dims == ("member", "time", "group", "component")
    assert ds.protest_risk.dims == ("member", "time", "group")
    assert ds.leverage_half_life_months.dims == ("member",)


def test_cli_pressure(toy_dir, tmp_path):
    sc = tmp_path / "c.toml"
    sc.write_text(toy_scenario(closure(10)).text)
    r = CliRunner().invoke(
        app, ["pressure", str(sc), "--inputs", str(toy_dir), "-f", "csv", "--table", "groups"]
    )
    assert r.exit_code == 0, r.output
    head = r.stdout.splitlines()[0]  # plain CSV: the header first
    assert head.startswith("group,kind,peak_pressure,rank,peak_month,cost_fees")
    r = CliRunner().invoke(app, ["run", str(sc), "--inputs", str(toy_dir), "--table", "crossings"])
    assert r.exit_code == 0
    assert (
        "Peak trader pressure: " in r.stdout
        and "Coercion exchange ratio (whole horizon): " in r.stdout
    )
    r = CliRunner().invoke(app, ["pressure", "nowhere.toml", "--inputs", str(toy_dir)])
    assert r.exit_code == 1 and r.stderr.startswith("error: ")


def _half_life_ds(values, losses, months=18):
    import xarray as xr

    m = len(values)
    return xr.Dataset(
        {
            "leverage_half_life_months": ("member", np.asarray(values, float)),
            "treasury_loss": (("member", "time"), np.asarray(losses, float)[:, None] * [1, 2, 1]),
            "baseline_customs_revenue": (("member", "time"), np.full((m, 3), 1e6)),
        },
        attrs={"scenario_months": months},
    )


def test_half_life_summary_counts_members_that_never_halve():
    from econ.analysis.tables import half_life_summary, half_life_text

    # 59 of 60 members never halve: beyond the horizon, not a 2-month median of the one that does
    vals = [np.nan] * 59 + [2.0]
    ds = _half_life_ds(vals, [1e5] * 60)
    s = half_life_summary(ds)
    assert (s["members"], s["beyond"]) == (60, 59) and np.isinf(s["median"])
    assert half_life_text(ds) == "> 18 months in 59 of 60 members (never halves)"
    # a minority beyond: the median is finite, the upper end past the horizon, the count said
    vals = [1.0, 2.0, 3.0, 4.0, np.nan]
    ds = _half_life_ds(vals, [1e5] * 5)
    assert half_life_text(ds) == "3.0 months [1.0–> 18] (beyond the horizon in 1 of 5 members)"
    # members with no loss have no half-life and are left out
    ds = _half_life_ds([np.nan, 2.0], [0.0, 1e5])
    assert half_life_summary(ds)["members"] == 1
    assert half_life_text(ds) == "2.0 months [2.0–2.0]"
    # one member: the deterministic wording
    assert half_life_text(_half_life_ds([np.nan], [1e5])) == "not reached within the horizon"
    assert half_life_text(_half_life_ds([0.0], [0.0])) == "none (no revenue loss)"
