"""The input-output layer (docs/economy.md): hand-computed cases, invariants, the coupling to
the border and the ``economy`` command."""

from __future__ import annotations

import functools
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import econ
from cli.app import app
from econ import economy as ec
from econ.model import Model

# --------------------------------------------------------------------------- three sectors by hand

#: sector 0 uses 0.5 of sector 1 per unit, sector 1 uses 0.5 of sector 2 (A[i, j]: i into j)
A3 = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0]])
X3 = np.array([[100.0, 100.0, 100.0]])  # y = x − A x = (100, 50, 50)


def test_leontief_inverse_by_hand_with_pymrio() -> None:
    import pymrio

    z = pd.DataFrame(A3 * X3[0][None, :])
    y = pd.DataFrame({"y": X3[0] - z.sum(axis=1).to_numpy()})
    x = pymrio.calc_x(z, y)
    leon = pymrio.calc_L(pymrio.calc_A(z, x)).to_numpy()
    # L = I + A + A² for a chain
    np.testing.assert_allclose(leon, [[1, 0, 0], [0.5, 1, 0], [0.25, 0.5, 1]], atol=1e-12)


def test_demand_loss_is_leontief() -> None:
    """With no import constraint and no rationing, ℓ = L·Δy: (10, 0, 0) → (10, 5, 2.5)."""
    loss = ec.calc_output_loss(
        X3, A3, np.ones((1, 3)), np.array([[10.0, 0.0, 0.0]]), np.zeros((3, 3))
    )
    np.testing.assert_allclose(loss, [[10.0, 5.0, 2.5]], atol=1e-9)


def test_rationing_propagates_downstream_by_hand() -> None:
    """Sector 2 can make 80% (κ2 = 20). With strict Leontief on material inputs (c_d = 1) its
    buyer, sector 1, loses the same share (κ1 = 20), and so does sector 0 (κ0 = 20); demand
    lost upstream (A·ℓ = (0, 10, 10)) binds nowhere. With c_d = 0.5 the shares halve down the
    chain: 20, 10, 5, and sector 2 sells 10 less to sector 1 than it can make (its own 20 binds)."""
    crit = (A3 > 0).astype(float)
    loss = ec.calc_output_loss(X3, A3, np.array([[1.0, 1.0, 0.8]]), np.zeros((1, 3)), crit)
    np.testing.assert_allclose(loss, [[20.0, 20.0, 20.0]], atol=1e-9)
    loss = ec.calc_output_loss(X3, A3, np.array([[1.0, 1.0, 0.8]]), np.zeros((1, 3)), 0.5 * crit)
    np.testing.assert_allclose(loss, [[5.0, 10.0, 20.0]], atol=1e-9)
    # demand lost at the top of the chain binds upstream when larger: Δy0 = 40 → ℓ = (40, 20, 20)
    loss = ec.calc_output_loss(
        X3, A3, np.array([[1.0, 1.0, 0.8]]), np.array([[40.0, 0.0, 0.0]]), 0.5 * crit
    )
    np.testing.assert_allclose(loss, [[40.0, 20.0, 20.0]], atol=1e-9)


def test_inventory_then_rationing_by_hand() -> None:
    """10 USD/day of use, 5 days of stock (50), ψ = 0.8 (threshold 40), no arrivals: days 1–2
    use stock in full, then r = S/40: 30/40, 22.5/40, ..."""
    use0, target = np.array([[10.0]]), np.array([[50.0]])
    gap, ratios = np.zeros((1, 1)), []
    for _ in range(4):
        r = ec.calc_supply_ratio(gap, -use0, target, use0, 0.8)
        gap = ec.calc_stock_gap(gap, -use0, use0 * (r - 1.0))
        ratios.append(float(r[0, 0]))
    np.testing.assert_allclose(ratios, [1.0, 1.0, 0.75, 0.5625])
    assert float(target[0, 0] + gap[0, 0]) == pytest.approx(22.5 - 5.625)


def test_import_constraint_critical_inputs() -> None:
    """ρ = min_k 1 − c·(1 − s)·(1 − r): a critical input at r = 0.6 with s = 0.25 → 0.7; an
    input rated 0 does not bind."""
    crit = np.array([[1.0, 0.0], [0.5, 0.0]])  # 2 goods x 2 sectors
    rho = ec.calc_import_constraint(np.array([[0.6, 0.2]]), crit, np.array([0.25]))
    np.testing.assert_allclose(rho, [[min(0.7, 1 - 0.5 * 0.75 * 0.8), 1.0]])


def test_staple_price_and_freight_by_hand() -> None:
    p = ec.calc_staple_price_index(
        np.array([[0.1]]), np.array([[0.9]]), np.array([0.8]), np.array([0.5]), np.array([[-0.25]])
    )
    assert float(p[0, 0]) == pytest.approx(1 + 0.08 + 0.5 * 0.1 / 0.25)
    assert float(ec.calc_freight_multiplier(np.array([1.2]), 0.35)[0]) == pytest.approx(1.07)
    assert ec.calc_freight_multiplier(np.array([1.0]), 0.35)[0] == 1.0


@functools.cache
def _table():
    return econ.load_inputs().economy


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=11, max_size=11),
    st.lists(st.floats(0.0, 1.0), min_size=11, max_size=11),
    st.floats(0.0, 1.0),
)
def test_output_loss_non_decreasing_in_shortfall(r, extra, cd) -> None:
    """More import shortfall (r2 ≤ r1 for every group) never lowers any sector's output loss."""
    tab = _table()
    x0 = tab.output[None, :] / 365
    r1 = np.array([r])
    r2 = r1 * (1.0 - np.array([extra]))
    crit = cd * (tab.a >= 0.01)
    out = []
    for ratio in (r1, r2):
        rho = ec.calc_import_constraint(ratio, tab.criticality, np.array([0.2]))
        out.append(ec.calc_output_loss(x0, tab.a, rho, np.zeros_like(x0), crit))
    assert (out[1] >= out[0] - 1e-9 * x0).all()


# --------------------------------------------------------------------------- in the model


@pytest.fixture(scope="module")
def inputs() -> econ.Inputs:
    return econ.load_inputs(base_year="FY1401")  # the IO table's year; no standing measures


def _scenario(text: str) -> econ.Scenario:
    return econ.parse_scenario(
        'name = "t"\nstart = "2023-01-01"\nmonths = 3\nbase_year = "FY1401"\n' + text
    )


def test_no_shock_gives_exactly_zero(inputs) -> None:
    ds = econ.run(_scenario(""), inputs=inputs)
    for v in ("sector_output_loss", "domestic_revenue_lost", "employment_loss"):
        assert (ds[v].values == 0.0).all(), v
    for v in ("staple_price_index", "staple_price_index_max", "freight_multiplier"):
        assert (ds[v].values == 1.0).all(), v
    # the customs part carries the engine's own rounding (~1e-8 USD a month), nothing is added
    assert (ds["treasury_revenue_lost"].values == ds["treasury_loss"].values).all()


RESTRICT_CEMENT = (
    '[[measure]]\ntype = "restriction"\nstart = "2023-01-10"\nquota = 0.0\n'
    'corridors = ["pakistan", "iran"]\ncommodities = ["construction"]\n'
)


BAN_CEMENT_EVERYWHERE = (
    '[[measure]]\ntype = "restriction"\nstart = "2023-01-10"\nquota = 0.0\n'
    'commodities = ["construction"]\n'
)


def test_freight_feedback_is_exactly_one_without_a_fuel_shock(inputs) -> None:
    """A measure that leaves fuel alone: the multiplier stays exactly 1 and the border's results
    are bit for bit those of a run without the economy stage. The ban is on every corridor: a ban
    on some corridors diverts cement onto the others' shared border capacity, which touches fuel's
    delay cost there (by about 1e-8), and that is a fuel shock."""
    sc = _scenario(BAN_CEMENT_EVERYWHERE)
    with_e = Model(inputs, sc).run()
    without = Model(inputs, sc, economy=False).run()
    ds = with_e.result()
    assert (ds["freight_multiplier"].values == 1.0).all()
    assert ds["sector_output_loss"].sum() > 0
    for k in ("customs_revenue", "trade_value", "queue_trucks", "route_trade_value"):
        np.testing.assert_array_equal(with_e.out[k], without.out[k])


def test_fuel_shock_raises_freight(inputs) -> None:
    sc = _scenario(
        '[[measure]]\ntype = "closure"\nstart = "2023-01-05"\nend = "2023-03-01"\n'
        'capacity = 0.0\ncrossings = ["islam-qala", "milak", "hairatan", "aqina", "torghundi"]\n'
    )
    ds = econ.run(sc, inputs=inputs)
    assert float(ds["freight_multiplier"].max()) > 1.0
    assert float(ds["staple_price_index_max"].sel(item="fuel").max()) > 1.0


@pytest.fixture(scope="module")
def closure(inputs):
    sc = _scenario(
        '[[measure]]\ntype = "closure"\nstart = "2023-01-05"\nend = "2023-02-05"\n'
        'capacity = 0.0\ncorridors = ["pakistan"]\n'
    )
    return econ.run(sc, inputs=inputs, members=3, rng=7)


def test_customs_part_equals_the_run_loss(closure) -> None:
    ds = closure
    customs = ds["treasury_revenue_lost"] - ds["domestic_revenue_lost"]
    gap = (ds["baseline_customs_revenue"] - ds["customs_revenue"]).sum(["crossing", "commodity"])
    np.testing.assert_allclose(customs.values, gap.values, rtol=1e-12, atol=1e-3)
    # the total is built as customs + domestic, so it equals that sum bit for bit; subtracting
    # the domestic part again is exact only to rounding ((a + b) - b == a does not hold in floats)
    total = ds["treasury_loss"] + ds["domestic_revenue_lost"]
    np.testing.assert_array_equal(ds["treasury_revenue_lost"].values, total.values)
    np.testing.assert_allclose(customs.values, ds["treasury_loss"].values, rtol=1e-12, atol=0)


def test_month_bound(closure) -> None:
    """A period cannot lose more output than the sectors make in it, nor more domestic revenue
    than their tax on it (docs/economy.md, the bound)."""
    ds = closure
    days = ds["days_in_period"]
    month_output = ds["baseline_output"] * days / 365.0
    assert (ds["sector_output_loss"] <= month_output * (1 + 1e-9)).all()
    bound = (month_output * ds["domestic_tax_rate"]).sum("sector")
    assert (ds["domestic_revenue_lost"] <= bound * (1 + 1e-9)).all()
    assert (ds["domestic_revenue_lost"] >= 0).all()
    assert float(ds["domestic_revenue_lost"].sum()) > 0


def test_ensemble_draws_the_economy_parameters(closure) -> None:
    pv = closure["parameter_value"]
    for n in ("import_inventory_days", "inventory_rationing_threshold", "fuel_share_of_freight"):
        assert len(set(pv.sel(parameter=n).values.tolist())) == 3, n
    assert closure["sector_output_loss"].dims[:2] == ("member", "time")


def test_pymrio_is_not_imported_at_start_up() -> None:
    code = "import sys, econ, cli.app; assert 'pymrio' not in sys.modules, 'pymrio at start-up'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_io_system_cache(tmp_path, inputs, monkeypatch) -> None:
    """The IO system pymrio computes is cached by the table's bytes: a second load reads it
    without importing pymrio and gives the same arrays; a damaged cache file is computed anew,
    and a changed table is not read from the cache (its check still fails)."""
    import os
    import shutil

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = (
        "import sys, numpy as np, econ; t = econ.load_inputs().economy; "
        "np.save(sys.argv[1], np.concatenate([t.a.ravel(), t.leontief.ravel(), t.output])); "
        "print('pymrio' in sys.modules)"
    )
    runs = []
    for i in range(2):
        out = tmp_path / f"arrays{i}.npy"
        res = subprocess.run(
            [sys.executable, "-c", code, str(out)],
            check=True,
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        runs.append((res.stdout.strip(), np.load(out)))
    assert [r[0] for r in runs] == ["True", "False"]  # computed by pymrio, then read back
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    cached = list((tmp_path / "cache" / "chokepoint" / "io").glob("io-*.npz"))
    assert len(cached) == 1
    cached[0].write_bytes(b"not an npz")  # damaged: computed again and rewritten
    table = econ.load_inputs().economy
    np.testing.assert_array_equal(
        np.concatenate([table.a.ravel(), table.leontief.ravel(), table.output]), runs[0][1]
    )
    with np.load(cached[0]) as f:
        np.testing.assert_array_equal(f["leontief"], table.leontief)
    d = tmp_path / "inputs"
    shutil.copytree(inputs.directory, d, ignore=shutil.ignore_patterns("scenarios", "episodes"))
    z = pd.read_csv(d / "io" / "table_Z.csv", index_col=0)
    z.iloc[0, 0] += 1.0  # a row no longer adds up to output
    z.to_csv(d / "io" / "table_Z.csv")
    with pytest.raises(econ.InputError, match="rows do not add up"):
        econ.load_inputs(d)


def test_bad_io_input_is_one_line_error(tmp_path, inputs) -> None:
    import shutil

    d = tmp_path / "inputs"
    shutil.copytree(inputs.directory, d, ignore=shutil.ignore_patterns("scenarios", "episodes"))
    b = pd.read_csv(d / "io" / "basket.csv")
    b.loc[0, "elasticity"] = 0.3
    b.to_csv(d / "io" / "basket.csv", index=False)
    with pytest.raises(econ.InputError, match=r"io/basket.csv, row 2.*elasticity.*fix:"):
        econ.load_inputs(d)


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_economy_command_every_format(fmt) -> None:
    res = CliRunner().invoke(app, ["economy", "pakistan-closure-2025", "--months", "2", "-f", fmt])
    assert res.exit_code == 0, res.output
    if fmt == "csv":  # plain CSV: the first table on stdout, the others named on stderr
        assert res.stdout.startswith("sector,") and "food-processing" in res.stdout
        assert "staples" in res.stderr
    else:
        assert "food-processing" in res.stdout and "wheat-flour" in res.stdout
    if fmt == "json":
        assert "jobs_lost_peak" in res.stdout


@pytest.mark.parametrize("year", ["FY1401", "FY1403"])
def test_economy_command_runs_on_the_base_year_asked(year) -> None:
    args = ["economy", "pakistan-closure-2025", "--months", "2", "--base-year", year]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"base year {year}" in res.stdout


def test_run_reports_treasury_total() -> None:
    res = CliRunner().invoke(app, ["run", "pakistan-closure-2025", "--months", "2"])
    assert res.exit_code == 0, res.output
    line = [x for x in res.stdout.splitlines() if x.startswith("Treasury revenue lost")]
    assert line and "customs" in line[0] and "domestic" in line[0]


def test_economy_without_io_table_is_one_line_error(toy_dir) -> None:
    scenario = str(toy_dir / "scen" / "closure.toml")  # a scenario on the toy's own base year
    res = CliRunner().invoke(app, ["economy", scenario, "--inputs", str(toy_dir)])
    assert res.exit_code == 1
    assert "no input-output table" in res.stderr


def test_landed_cost_change_adds_in_np_add_at_order() -> None:
    """The group sums are np.add.at's, bit for bit (NaN, inf and -0 included), and the
    weighted mean is the hand-computed one."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        f, k, m = int(rng.integers(1, 60)), int(rng.integers(1, 8)), int(rng.integers(1, 5))
        group = rng.integers(0, k, f)
        gap, g0 = rng.normal(size=(m, f)), rng.uniform(1.0, 2.0, f)
        weight = rng.uniform(0.0, 1.0, (m, f))
        weight[rng.uniform(size=(m, f)) < 0.2] = 0.0  # no arrivals: 0 and -0 gaps below
        gap[rng.uniform(size=(m, f)) < 0.1] = -0.0
        if rng.uniform() < 0.3:  # a non-finite cost gap spreads to its group only
            gap[rng.integers(m), rng.integers(f)] = rng.choice([np.nan, np.inf])
        num, den = np.zeros((m, k)), np.zeros((m, k))
        with np.errstate(invalid="ignore"):  # 0 arrivals times an infinite gap
            np.add.at(num.T, group, (weight * gap / g0).T)
            np.add.at(den.T, group, weight.T)
            ref = np.divide(num, den, out=np.zeros_like(num), where=den > 0.0)
            got = ec.calc_landed_cost_change(gap, g0, weight, group, k)
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))
    # two cells of one group: (1·0.2/1 + 3·0.4/2) / (1 + 3) = 0.2
    got = ec.calc_landed_cost_change(
        np.array([[0.2, 0.4]]), np.array([1.0, 2.0]), np.array([[1.0, 3.0]]), np.array([0, 0]), 1
    )
    np.testing.assert_allclose(got, [[0.2]])
