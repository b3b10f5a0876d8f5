"""Calibration: recovery of known parameters from model-simulated panels, the panel loader,
parameters files (round trip through ``run``), and the ``calibrate`` command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import econ
from econ.analysis.calibrate import (
    default_panel_path,
    estimate,
    load_panel,
    simulate_panel,
    to_parameters_toml,
)
from econ.analysis.calibrate.panel import PANEL_COLUMNS
from econ.io.parameters import apply_parameters_file

SIGMA, TAU = "route_substitution_elasticity", "adjust_medium_days"

# A synthetic history: a 15% fee on transit through Pakistan for nine months, a short
# Torkham closure and a 10% fee on Iranian bilateral goods from the second year.
SIM_SCENARIO = """
name = "calibration-test"
start = "2023-01-01"
months = 21
[[measure]]
type = "closure"
start = "2023-03-10"
end = "2023-03-25"
capacity = 0.0
crossings = ["torkham"]
[[measure]]
type = "tariff"
start = "2023-06-01"
end = "2024-03-01"
rate = 0.15
corridors = ["pakistan"]
kinds = ["transit"]
[[measure]]
type = "tariff"
start = "2024-01-01"
rate = 0.10
corridors = ["iran"]
kinds = ["bilateral"]
"""

TRUTHS = {
    "low": {SIGMA: 6.5, TAU: 150.0},  # inside the domain of σr (above 5.08, coal's σo bound)
    "high": {SIGMA: 13.0, TAU: 30.0},
}


@pytest.fixture(scope="module")
def inputs() -> econ.Inputs:
    return econ.load_inputs()


@pytest.fixture(scope="module")
def sim_scenario() -> econ.Scenario:
    return econ.parse_scenario(SIM_SCENARIO, "calibration-test.toml")


@pytest.fixture(scope="module")
def fits(inputs, sim_scenario):
    """One estimate per true parameter set (monthly panel by crossing, 3% noise)."""
    out = {}
    for key, truth in TRUTHS.items():
        panel = simulate_panel(inputs, sim_scenario, values=truth, noise_cv=0.03, rng=7)
        out[key] = estimate(panel, inputs=inputs)
    return out


# --------------------------------------------------------------------------- recovery


@pytest.mark.parametrize("key", sorted(TRUTHS))
def test_estimator_recovers_true_parameters_within_two_standard_errors(fits, key) -> None:
    res, truth = fits[key], TRUTHS[key]
    assert res.converged
    assert res.not_identified == () and res.at_bound == () and res.weak == ()
    assert set(res.written) == set(truth)
    for n in truth:  # the scan found no rival value outside the 90% interval
        assert res.scan[n] and res.rival(n) is None
    for n, v in truth.items():
        se = res.std_errors[n]
        assert 0 < se < 0.5 * v, (n, se)
        assert abs(res.estimates[n] - v) < 2 * se, (n, res.estimates[n], v, se)
    assert res.pseudo_r2 > 0.5


@pytest.mark.parametrize("key,other", [("low", "high"), ("high", "low")])
def test_estimator_rejects_a_wrong_true_value(fits, key, other) -> None:
    """The data simulated at one set of parameters do not support the other set."""
    res = fits[key]
    for n in (SIGMA, TAU):
        wrong = TRUTHS[other][n]
        assert abs(res.estimates[n] - wrong) > 2 * res.std_errors[n], (n, res.estimates[n], wrong)


def test_simulated_panel_has_the_panel_format_and_is_reproducible(inputs, sim_scenario) -> None:
    a = simulate_panel(inputs, sim_scenario, values={SIGMA: 6.0}, rng=3, months=3)
    b = simulate_panel(inputs, sim_scenario, values={SIGMA: 6.0}, rng=3, months=3)
    c = simulate_panel(inputs, sim_scenario, values={SIGMA: 6.0}, rng=4, months=3)
    assert list(a.columns[: len(PANEL_COLUMNS)]) == list(PANEL_COLUMNS)
    assert np.array_equal(a["value"], b["value"])
    assert not np.array_equal(a["value"], c["value"])
    assert (a["value"] >= 0).all() and a["value"].sum() > 0
    assert len(a) == 7 * a["series"].nunique()


def test_unknown_parameter_and_method_are_input_errors(inputs, sim_scenario) -> None:
    panel = simulate_panel(inputs, sim_scenario, rng=1, months=3)
    with pytest.raises(econ.InputError, match="cannot be estimated"):
        estimate(panel, inputs=inputs, params=("evasion_max_share",))
    with pytest.raises(econ.InputError, match="unknown method"):
        estimate(panel, inputs=inputs, method="probit")


# --------------------------------------------------------------------------- the panel


def test_shipped_panel_loads_and_every_row_is_sourced(inputs) -> None:
    panel = load_panel(inputs=inputs)
    assert len(panel) >= 60
    assert panel["source"].str.len().min() > 20
    assert set(panel["episode"]) <= {
        p.stem for p in (default_panel_path().parent / "episodes").glob("*.toml")
    }
    assert {"covid-closure-2020", "transit-measures-2023", "pakistan-closure-2025"} <= set(
        panel["episode"]
    )
    assert (panel["period_end"] >= panel["period_start"]).all()


def _rewrite(src: Path, dst: Path, line: int, col: str, value: str) -> None:
    import csv

    with src.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[line - 1][rows[0].index(col)] = value
    with dst.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize(
    "col,value,tokens",
    [
        ("unit", "torkam", ["row 3", "column 'unit'", "unknown unit id", "'torkam'", "fix:"]),
        ("value", "-5", ["row 3", "column 'value'", "negative value", "fix:"]),
        (
            "period_end",
            "2019-07-15",
            ["row 3", "column 'period_end'", "period_end before period_start", "fix:"],
        ),
        (
            "period_start",
            "2019-13-01",
            ["row 3", "column 'period_start'", "not a date", "YYYY-MM-DD"],
        ),
        ("episode", "covid-2020", ["row 3", "unknown episode", "fix:"]),
        ("measure", "revenue", ["row 3", "unknown measure", "trade_value_usd"]),
        ("value", "12 million", ["row 3", "value is not a number"]),
        ("period_start", "2019-07-15", ["row 3", "overlaps another row of series", "fix:"]),
        ("kind", "transit", ["row 3", "mixes several values of kind"]),
    ],
)
def test_loader_rejects_bad_rows_with_one_line(tmp_path, inputs, col, value, tokens) -> None:
    dst = tmp_path / "episode_panel.csv"
    # line 3 is the second data row (Aug 2019): its start moved to 15 Jul overlaps July
    _rewrite(default_panel_path(), dst, 3, col, value)
    with pytest.raises(econ.InputError) as info:
        load_panel(dst, inputs=inputs)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("episode_panel.csv")
    for t in tokens:
        assert t in msg, (t, msg)


def test_loader_rejects_missing_column_and_missing_file(tmp_path, inputs) -> None:
    text = default_panel_path().read_text(encoding="utf-8").splitlines()
    head = text[0].split(",")
    bad = tmp_path / "p.csv"
    bad.write_text(
        "\n".join([",".join(h for h in head if h != "series")] + text[1:2]), encoding="utf-8"
    )
    with pytest.raises(econ.InputError, match="p.csv: missing column 'series'.*fix: add"):
        load_panel(bad, inputs=inputs)
    with pytest.raises(econ.InputError, match="panel file not found"):
        load_panel(tmp_path / "nope.csv", inputs=inputs)


# --------------------------------------------------------------------------- parameters files


def test_parameters_file_round_trips_and_changes_the_output(tmp_path, inputs, fits) -> None:
    res = fits["high"]
    text = to_parameters_toml(res, inputs)
    assert "estimated by chokepoint calibrate" in text
    path = tmp_path / "params.toml"
    path.write_text(text, encoding="utf-8")
    new = apply_parameters_file(inputs, path)
    for n in (SIGMA, TAU):
        p = new.parameters[n]
        assert p.value == pytest.approx(res.estimates[n], rel=1e-5)
        assert p.dist == "lognormal" and p.p05 < p.value < p.p95
    # per-commodity σ keep the prior's pattern, scaled to the estimate
    ratio = new.parameters[SIGMA].value / inputs.parameters[SIGMA].value
    assert new.parameters[SIGMA].by_commodity["fuel"] == pytest.approx(
        inputs.parameters[SIGMA].by_commodity["fuel"] * ratio, rel=1e-5
    )
    # untouched parameters stay as they were
    assert new.parameters["evasion_max_share"] == inputs.parameters["evasion_max_share"]
    sc = econ.analysis.calibrate.load_episode("torkham-closure-2023-09", inputs)
    a = econ.run(sc, inputs=inputs)
    b = econ.run(sc, inputs=new)
    assert not np.allclose(a["route_trade_value"].values, b["route_trade_value"].values)


def test_parameters_file_with_only_a_value_scales_percentiles_and_per_commodity(
    tmp_path, inputs
) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[route_substitution_elasticity]\nvalue = 2.5\n", encoding="utf-8")
    p = apply_parameters_file(inputs, path).parameters[SIGMA]
    old = inputs.parameters[SIGMA]
    scale = 2.5 / old.value
    assert (
        p.value == 2.5
        and p.p05 == pytest.approx(old.p05 * scale)
        and p.p95 == pytest.approx(old.p95 * scale)
    )
    assert p.by_commodity["fuel"] == pytest.approx(old.by_commodity["fuel"] * scale)


def test_weak_estimates_are_left_out_of_the_parameters_file_unless_asked(
    tmp_path, inputs, fits
) -> None:
    from dataclasses import replace

    # a σ far outside its interval fits as well (a second mode): σ is weakly identified
    res = replace(fits["low"], scan={SIGMA: ((40.0, 0.5),), TAU: ((1000.0, 30.0),)})
    assert res.weak == (SIGMA,) and res.written == (TAU,)
    assert res.table().loc[SIGMA, "status"] == "weakly identified"
    text = to_parameters_toml(res, inputs)
    assert f"# [{SIGMA}] left out: weakly identified" in text and f"\n[{TAU}]\n" in text
    assert f"\n[{SIGMA}]\n" in to_parameters_toml(res, inputs, include_weak=True)
    only_comments = tmp_path / "none.toml"
    only_comments.write_text(
        to_parameters_toml(
            replace(res, scan={SIGMA: ((40.0, 0.5),), TAU: ((1000.0, 0.1),)}), inputs
        ),
        encoding="utf-8",
    )
    assert apply_parameters_file(inputs, only_comments).parameters == inputs.parameters


@pytest.mark.parametrize(
    "text,tokens",
    [
        (
            "[route_substitution_elastcity]\nvalue = 3.0\n",
            ["unknown parameter [route_substitution_elastcity]", "fix: correct the name"],
        ),
        ("[route_substitution_elasticity]\nvalue = 800.0\n", ["value out of range", "fix:"]),
        ("[adjust_medium_days]\nvalue = 100\np05 = 150\n", ["percentiles out of order"]),
        ("[adjust_medium_days\nvalue = 1\n", ["malformed TOML"]),
    ],
)
def test_bad_parameters_file_is_one_line_input_error(tmp_path, inputs, text, tokens) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(econ.InputError) as info:
        apply_parameters_file(inputs, path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("bad.toml")
    for t in tokens:
        assert t in msg, (t, msg)


# --------------------------------------------------------------------------- command line


@pytest.fixture
def cli_app() -> typer.Typer:
    from cli.calibrate_cmd import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so the command is invoked by name as in the main app
        """test app"""

    register(app)
    return app


def _write_panel(panel, path: Path) -> None:
    df = panel[list(PANEL_COLUMNS)].copy()
    for c in ("period_start", "period_end"):
        df[c] = [d.isoformat() for d in df[c]]
    df.to_csv(path, index=False)


def test_calibrate_command_prints_estimates_and_writes_params(tmp_path, inputs, cli_app) -> None:
    sc = econ.analysis.calibrate.load_episode("torkham-closure-2023-09", inputs)
    panel = simulate_panel(
        inputs,
        sc,
        values={SIGMA: 7.0},
        rng=11,
        noise_cv=0.03,
        units=[
            ("torkham", "all", "all", "trade_value_usd"),
            ("spin-boldak", "all", "all", "trade_value_usd"),
            ("pakistan", "transit", "import", "trade_value_usd"),
            ("pakistan", "bilateral", "import", "trade_value_usd"),
            ("iran", "all", "all", "trade_value_usd"),
            ("islam-qala;milak", "all", "all", "customs_revenue_usd"),
        ],
    )
    pfile = tmp_path / "panel.csv"
    _write_panel(panel, pfile)
    out = tmp_path / "sub" / "params.toml"
    res = CliRunner().invoke(
        cli_app,
        [
            "calibrate",
            "--panel",
            str(pfile),
            "--param",
            SIGMA,
            "--out",
            str(out),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    data, titles = doc["tables"], doc["summary"]["titles"]
    assert titles["estimates"].startswith("Estimates (90% interval lognormal")
    assert "episodes on base year FY1401" in titles["estimates"]  # the episode's own base year
    est = data["estimates"][0]
    assert est["parameter"] == SIGMA and est["status"] == "estimated"
    assert abs(est["estimate"] - 7.0) < 2 * est["std_error"]
    assert titles["fit"].startswith("Fit (base year FY1401")
    fit = {r["statistic"]: r["value"] for r in data["fit"]}
    # every row is used but those the model predicts zero for (none before the Chaman blockade
    # of 20 Nov 2023; Spin Boldak carries nothing in December), which are dropped and counted
    assert fit["method"] == "ppml" and int(fit["observations"]) + int(fit["rows dropped"]) == len(
        panel
    )
    assert int(fit["rows dropped"]) <= 1
    new = apply_parameters_file(inputs, out)
    assert new.parameters[SIGMA].value == pytest.approx(est["estimate"], rel=1e-5)
    assert not list(out.parent.glob(".*.tmp"))


def test_calibrate_command_bad_panel_is_one_error_line(tmp_path, cli_app) -> None:
    bad = tmp_path / "episode_panel.csv"
    shutil.copy(default_panel_path(), bad)
    text = bad.read_text(encoding="utf-8").replace(
        ",pakistan,bilateral,import,", ",pakistn,bilateral,import,", 1
    )
    bad.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(cli_app, ["calibrate", "--panel", str(bad)])
    assert res.exit_code == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: episode_panel.csv, row 2")
    assert "unknown unit id" in lines[0] and "Traceback" not in res.output


def test_statsmodels_is_not_imported_until_a_fit() -> None:
    code = (
        "import sys, econ.analysis.calibrate, cli.calibrate_cmd, cli.app; "
        "assert 'statsmodels' not in sys.modules, 'statsmodels imported at start-up'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
