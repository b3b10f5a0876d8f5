"""Ensembles: reproducible, independent of ensemble size and chunking, ordered ranges."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import econ
from cli.app import app
from econ.analysis.tables import revenue_impact_table
from econ.io.inputs import inputs_for
from econ.model.record import percentiles


@pytest.fixture(scope="module")
def inputs():
    return econ.load_inputs()


def test_same_seed_identical_dataset(inputs):
    a = econ.run("default", inputs=inputs, members=4, rng=11, months=3)
    b = econ.run("default", inputs=inputs, members=4, rng=11, months=3)
    xr.testing.assert_identical(a, b)
    assert a.attrs["seed"] == "11"  # a string: any seed up to 2**64 - 1 is kept exactly
    c = econ.run("default", inputs=inputs, members=4, rng=12, months=3)
    assert not np.array_equal(a.customs_revenue.values, c.customs_revenue.values)


def test_member_independent_of_ensemble_size_chunks_and_workers(inputs):
    small = econ.run("transit-fee", inputs=inputs, members=10, rng=5, months=4)
    big = econ.run("transit-fee", inputs=inputs, members=100, rng=5, months=4, chunk_size=37)
    par = econ.run(
        "transit-fee", inputs=inputs, members=10, rng=5, months=4, chunk_size=3, workers=2
    )
    xr.testing.assert_identical(small.drop_attrs(), big.isel(member=slice(0, 10)).drop_attrs())
    xr.testing.assert_identical(small, par)


def test_chunks_is_the_name_of_chunk_size(inputs):
    """``chunks=`` sets the members per chunk (``chunk_size=`` is its alias): same numbers."""
    kw = dict(inputs=inputs, members=5, rng=2, months=2)
    ref = econ.run("transit-fee", **kw)
    xr.testing.assert_identical(ref, econ.run("transit-fee", **kw, chunks=2))
    xr.testing.assert_identical(ref, econ.run("transit-fee", **kw, chunk_size=2))
    xr.testing.assert_identical(ref, econ.run("transit-fee", **kw, chunks=1))


def test_chunks_reaches_the_ensemble(monkeypatch):
    """``chunks`` (or ``chunk_size``) is the chunk size the ensemble runs with (default 100)."""
    import econ.api

    seen = []
    monkeypatch.setattr(econ.api, "run_members", lambda *a, **k: seen.append(k["chunk_size"]))
    sc = econ.load_scenario("default").with_months(1)
    monkeypatch.setattr(econ.api, "inputs_for", lambda *a: None)
    monkeypatch.setattr(econ.api, "baseline_forecast", lambda *a: None)
    for kw in ({}, {"chunks": 7}, {"chunk_size": 9}):
        econ.run(sc, members=20, **kw)
    assert seen == [100, 7, 9]


def test_chunks_stacked_as_concatenation(inputs):
    """Chunks written into one preallocated Dataset equal xr.concat of the chunk results."""
    sc = econ.load_scenario("default").with_months(3)
    inputs = inputs_for(sc, inputs)  # the scenario's own base year, as econ.run uses
    parts = [
        econ.Model(inputs, sc, member_ids=np.arange(i, i + 2), rng=3).run().result()
        for i in (0, 2, 4)
    ]
    ref = xr.concat(
        parts,
        dim="member",
        data_vars="all",
        coords="minimal",
        compat="override",
        combine_attrs="override",
    )
    got = econ.run(sc, inputs=inputs, members=6, rng=3, chunk_size=2)
    xr.testing.assert_identical(ref.drop_attrs(deep=False), got.drop_attrs(deep=False))
    assert list(ref.coords) == list(got.coords) and list(ref.data_vars) == list(got.data_vars)


def test_members_differ_and_draw_from_distributions(inputs):
    ds = econ.run("default", inputs=inputs, members=50, rng=1, months=3)
    pv = ds.parameter_value.to_pandas()
    sigma = inputs.parameters["route_substitution_elasticity"]
    assert pv["route_substitution_elasticity"].nunique() == 50
    assert pv["route_substitution_elasticity"].min() > 0
    # roughly 90% of draws fall inside the 5–95% range of the distribution
    inside = pv["route_substitution_elasticity"].between(sigma.p05, sigma.p95).mean()
    assert 0.75 <= inside <= 1.0
    # measure ranges are drawn too (the closure end date of the September 2023 closure)
    assert any(c.endswith("closure.end") for c in pv.columns)


def test_percentiles_ordered(inputs):
    ds = econ.run("pakistan-closure-2025", inputs=inputs, members=20, rng=2, months=6)
    t = revenue_impact_table(ds)
    for col in ("scenario", "change", "lost", "diverted"):
        assert (t[f"{col}_p05"] <= t[col] + 1e-6).all() and (t[col] <= t[f"{col}_p95"] + 1e-6).all()
    p = percentiles(ds)
    v = p.customs_revenue.sum(["crossing", "commodity", "time"]).values
    assert v[0] <= v[1] <= v[2]
    assert p.attrs["members_summarised"] == 20 and "member" not in p.dims


def test_nonfinite_members_counted_not_dropped(inputs, caplog):
    ds = econ.run("default", inputs=inputs, members=3, rng=1, months=2)
    assert ds.attrs["nonfinite_members"] == 0
    ds["customs_revenue"][1, 0, 0, 0] = np.nan
    with caplog.at_level(logging.WARNING, logger="econ.model.ensemble"):
        out = econ.model.ensemble.finish(ds)
    assert out.attrs["nonfinite_members"] == 1 and out.sizes["member"] == 3
    assert "1 of 3 member(s)" in caplog.text


def test_forecast_baseline_members_draw_their_own_path(inputs):
    det = econ.run("pakistan-closure-2025", inputs=inputs, months=3, baseline="forecast")
    ens = econ.run(
        "pakistan-closure-2025", inputs=inputs, months=3, baseline="forecast", members=5, rng=3
    )
    assert det.attrs["baseline"].startswith("forecast: ")
    b = ens.baseline_customs_revenue.sum(["crossing", "commodity"]).isel(time=-1).values
    assert len(np.unique(b)) == 5
    q = ens.parameter_value.sel(parameter="baseline_quantile").values
    # a higher quantile gives a higher baseline path
    assert (np.argsort(q) == np.argsort(b)).all()
    with pytest.raises(ValueError, match="baseline"):
        econ.run("default", inputs=inputs, months=1, baseline="trend")


def test_cli_members_and_percentiles_only(tmp_path):
    out = tmp_path / "r.nc"
    r = CliRunner().invoke(
        app,
        [
            "run",
            "transit-fee",
            "--months",
            "3",
            "-n",
            "5",
            "--seed",
            "4",
            "--table",
            "crossings",
            "-f",
            "csv",
            "--out",
            str(out),
            "--percentiles-only",
        ],
    )
    assert r.exit_code == 0, r.output
    header = r.stdout.splitlines()[0].split(",")  # plain CSV: the header first
    assert {"change", "change_p05", "change_p95"} <= set(header)
    ds = xr.open_dataset(out, engine="h5netcdf")
    assert list(ds.percentile.values) == [5.0, 50.0, 95.0] and ds.attrs["members_summarised"] == 5
    ds.close()
    r = CliRunner().invoke(
        app, ["run", "transit-fee", "--months", "6", "-n", "5", "--table", "crossings"]
    )
    assert r.exit_code == 0 and " [" in r.stdout and " – " in r.stdout
    r = CliRunner().invoke(app, ["run", "default", "--baseline", "trend", "--months", "1"])
    assert r.exit_code == 1 and "flat or forecast" in r.stderr
