"""Sensitivity: OAT swings through the vectorised engine, binning first-order indices, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import econ
from cli.app import app
from econ.analysis.sensitivity import (
    first_order_indices,
    one_at_a_time,
    sensitivity,
    uncertain_numbers,
)


def test_first_order_indices_by_hand():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.random(4000), "b": rng.random(4000)})
    # y depends on a only: S1(a) near 1 (minus the within-bin spread), S1(b) near the noise level
    y = x["a"]
    s = first_order_indices(x, y, bins=10)
    assert s["a"] == pytest.approx(0.99, abs=0.01)
    assert s["b"] < 0.01
    # y = a + b with equal variances: each explains half
    s2 = first_order_indices(x, x["a"] + x["b"], bins=20)
    assert s2["a"] == pytest.approx(0.5, abs=0.05) and s2["b"] == pytest.approx(0.5, abs=0.05)
    # two bins of a step function, by hand: y = 0 for the lower half, 1 for the upper half
    xs = pd.DataFrame({"a": np.arange(8.0)})
    assert first_order_indices(xs, pd.Series([0, 0, 0, 0, 1, 1, 1, 1.0]), bins=2)["a"] == 1.0


def test_oat_matches_separate_runs(toy_inputs):
    sc = econ.parse_scenario(
        'name = "t"\nstart = "2023-01-01"\nmonths = 2\n[[measure]]\ntype = "closure"\n'
        'crossings = ["east"]\nstart = "2023-01-05"\nend = ["2023-01-10", "2023-01-20"]\n'
        "capacity = 0.0\n"
    )
    oat = one_at_a_time(sc, toy_inputs)
    nums = uncertain_numbers(toy_inputs, sc)
    assert set(oat.index) == set(nums) and "measure1.closure.end" in oat.index
    # the low end-date case equals a separate deterministic run with that end date
    lo_day = int(np.floor(nums["measure1.closure.end"][0]))
    import datetime as dt

    end = (sc.start + dt.timedelta(days=lo_day)).isoformat()
    sc_lo = econ.parse_scenario(sc.text.replace('["2023-01-10", "2023-01-20"]', f'"{end}"'))
    ds = econ.run(sc_lo, inputs=toy_inputs)
    assert oat.loc["measure1.closure.end", "revenue_loss_low"] == pytest.approx(
        float(ds.treasury_loss.sum()), rel=1e-9
    )
    # a longer closure loses more revenue
    assert (
        oat.loc["measure1.closure.end", "revenue_loss_high"]
        > oat.loc["measure1.closure.end", "revenue_loss_low"]
    )
    # the central run is the deterministic run
    central = float(econ.run(sc, inputs=toy_inputs).treasury_loss.sum())
    assert oat.attrs["central"]["revenue_loss"] == pytest.approx(central, rel=1e-9)


def test_sensitivity_ranks_and_indices(default_inputs):
    sc = econ.load_scenario("transit-fee").with_months(9)
    t = sensitivity(sc, default_inputs, members=40, rng=3)
    noise = t.attrs["S1_noise"]
    assert noise == pytest.approx(9 / 39)
    # parameters that cannot affect revenue have zero swing and a first-order index
    # indistinguishable from zero: the protest mapping, the trucking margin, and evasion, which
    # responds to the Afghan rate only, never to a fee paid abroad (docs/model.md §6)
    inert = (
        "protest_risk_slope",
        "protest_risk_intercept",
        "trucking_gross_margin",
        "pressure_half_life_days",
        "evasion_semi_elasticity",
        "evasion_max_share",
    )
    for p in inert:
        assert t.loc[p, "revenue_loss_swing"] == 0.0
        assert t.loc[p, "revenue_loss_S1"] < 2 * noise
    # the fee's demand response and route choice move the loss (a priori, not by ranking)
    for p in ("import_demand_elasticity", "route_substitution_elasticity"):
        assert t.loc[p, "revenue_loss_swing"] > 1e-3 * abs(t.attrs["central"]["revenue_loss"])
    # the parameter the swings rank first also explains a real share of the ensemble's variance
    top = t.index[0]
    assert t.loc[top, "revenue_loss_swing"] == t["revenue_loss_swing"].max()
    assert t.loc[top, "revenue_loss_S1"] > noise


def test_indices_streamed_equal_those_of_the_held_ensemble(toy_inputs):
    """The ensemble behind the first-order indices is reduced chunk by chunk to each member's
    parameters and metrics: the indices are those of the whole ensemble held in memory, in
    chunks of 4 members on 2 workers too."""
    from econ.analysis.sensitivity import METRICS, first_order_indices, member_metrics, metrics
    from econ.model.ensemble import member_chunks, run_members

    sc = econ.parse_scenario(
        'name = "t"\nstart = "2023-01-01"\nmonths = 2\n[[measure]]\ntype = "closure"\n'
        'crossings = ["east"]\nstart = "2023-01-05"\nend = ["2023-01-10", "2023-01-20"]\n'
        "capacity = 0.0\n"
    )
    full = run_members(toy_inputs, sc, members=12, rng=8)
    small = member_metrics(full)
    assert set(small.data_vars) == {"parameter_value", *METRICS}
    assert small.nbytes < full.nbytes / 5  # the toy network is small; ~1/1000 on the default
    parts = list(
        member_chunks(
            toy_inputs, sc, members=12, rng=8, chunk_size=4, workers=2, reduce_chunk=member_metrics
        )
    )
    assert [p.sizes["member"] for p in parts] == [4, 4, 4]
    x = full["parameter_value"].to_pandas()
    for k, series in metrics(full).items():
        want = first_order_indices(x, series)
        got_y = np.concatenate([p[k].values for p in parts])
        got_x = pd.concat([p["parameter_value"].to_pandas() for p in parts])
        np.testing.assert_array_equal(got_y, series.to_numpy())
        pd.testing.assert_series_equal(first_order_indices(got_x, pd.Series(got_y)), want)
    t = sensitivity(sc, toy_inputs, members=12, rng=8)
    for k in METRICS:
        s1 = first_order_indices(x, metrics(full)[k])
        np.testing.assert_array_equal(t[f"{k}_S1"].to_numpy(), s1.reindex(t.index).fillna(0.0))


def test_cli_sensitivity(tmp_path):
    png = tmp_path / "tornado.png"
    r = CliRunner().invoke(
        app,
        ["sensitivity", "transit-fee", "--months", "6", "-n", "0", "-f", "csv", "--plot", str(png)],
    )
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("parameter,unit,low,high,revenue_loss_low")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_without_matplotlib_is_one_line(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    r = CliRunner().invoke(
        app,
        [
            "sensitivity",
            "transit-fee",
            "--months",
            "3",
            "-n",
            "0",
            "--plot",
            str(tmp_path / "t.png"),
        ],
    )
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines() == [
        "error: charts need matplotlib; fix: pip install matplotlib"
    ]
    assert not (tmp_path / "t.png").exists()
