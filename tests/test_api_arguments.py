"""Every misuse of the public API is one line naming the argument (issue #18), before any work;
the memory guard refuses what cannot fit, with its estimate; seeds up to 2^64 - 1."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import econ
from econ.io.write import write_netcdf
from econ.model import memory


@pytest.fixture(scope="module")
def toy() -> econ.Inputs:
    return econ.load_inputs(Path(__file__).parent / "data" / "toy")


@pytest.fixture(scope="module")
def sc() -> econ.Scenario:
    return econ.load_scenario(Path(__file__).parent / "data" / "toy" / "scen" / "closure.toml")


def assert_argument_error(exc: BaseException, name: str, *tokens: str) -> None:
    msg = str(exc)
    assert isinstance(exc, econ.InputError), repr(exc)
    assert "\n" not in msg, msg
    assert msg.startswith(f"argument '{name}"), msg
    for t in tokens:
        assert t in msg, f"{t!r} not in {msg!r}"


RUN_MISUSES = [
    ("members", dict(members=True), ["boolean"]),
    ("members", dict(members=2.5), ["whole number"]),
    ("members", dict(members=0), ["1 to 100,000"]),
    ("members", dict(members=100_001), ["1 to 100,000"]),
    ("members", dict(members="3"), ["string"]),
    ("rng", dict(rng="5"), ["string"]),
    ("rng", dict(rng=-1), ["0"]),
    ("rng", dict(rng=2**64), ["2**64 - 1"]),
    ("rng", dict(rng=1.5), ["whole number"]),
    ("months", dict(months=0), ["1 to 240"]),
    ("months", dict(months=241), ["1 to 240"]),
    ("months", dict(months=10_000), ["1 to 240"]),
    ("months", dict(months=True), ["boolean"]),
    ("freq", dict(freq="X"), ["MS"]),
    ("freq", dict(freq=None), ["MS"]),
    ("baseline", dict(baseline="trend"), ["flat, forecast"]),
    ("chunk_size", dict(members=2, chunk_size=0), ["at least 1", "1 to"]),
    ("chunks", dict(members=2, chunks=0), ["1 to"]),
    ("chunks", dict(members=2, chunks=2.0), ["whole number"]),
    ("chunks", dict(members=2, chunks=2, chunk_size=2), ["alias chunk_size"]),
    ("workers", dict(members=2, workers=0), ["1 to"]),
    ("progress", dict(progress="yes"), ["callable"]),
    ("inputs", dict(inputs=5), ["econ.Inputs"]),
]


@pytest.mark.parametrize(
    "name,kw,tokens", [pytest.param(n, k, t, id=f"{n}={k}") for n, k, t in RUN_MISUSES]
)
def test_run_misuse(toy, sc, name: str, kw: dict, tokens: list[str]) -> None:
    kw = {"inputs": toy, **kw}
    t0 = time.perf_counter()
    with pytest.raises(econ.InputError) as info:
        econ.run(sc, **kw)
    assert time.perf_counter() - t0 < 5  # refused before any work (months=10000 ran minutes)
    assert_argument_error(info.value, name)
    assert any(t in str(info.value) for t in tokens), str(info.value)


def test_run_scenario_argument(toy) -> None:
    with pytest.raises(econ.InputError) as info:
        econ.run(5, inputs=toy)
    assert_argument_error(info.value, "scenario", "built-in name")


MODEL_MISUSES = [
    ("scenario", lambda toy, sc: econ.Model(toy, "default"), ["econ.Scenario"]),
    ("inputs", lambda toy, sc: econ.Model("inputs", sc), ["econ.Inputs"]),
    ("members", lambda toy, sc: econ.Model(toy, sc, members=0), ["1 to"]),
    ("member_ids", lambda toy, sc: econ.Model(toy, sc, member_ids=[0, 0]), ["duplicate"]),
    ("member_ids", lambda toy, sc: econ.Model(toy, sc, member_ids=[-1, 2]), [">= 0"]),
    ("member_ids", lambda toy, sc: econ.Model(toy, sc, member_ids=[0.5]), ["whole numbers"]),
    ("members", lambda toy, sc: econ.Model(toy, sc, members=3, member_ids=[0, 1]), ["3"]),
    ("baseline_index", lambda toy, sc: econ.Model(toy, sc, baseline_index=-1.0), ["finite"]),
    ("baseline_index", lambda toy, sc: econ.Model(toy, sc, baseline_index=np.nan), ["nan"]),
    ("baseline_index", lambda toy, sc: econ.Model(toy, sc, baseline_index=np.ones(5)), ["shape"]),
    ("baseline_index", lambda toy, sc: econ.Model(toy, sc, baseline_index=1e308), ["100"]),
    (
        "values['queue_patience_days']",
        lambda toy, sc: econ.Model(toy, sc, values={"queue_patience_days": 0.0}),
        ["0.1"],
    ),
    (
        "values['queue_patience_days']",
        lambda toy, sc: econ.Model(toy, sc, values={"queue_patience_days": np.array([np.nan])}),
        ["nan"],
    ),
    (
        "values['measure1.closure.capacity']",
        lambda toy, sc: econ.Model(toy, sc, values={"measure1.closure.capacity": 2.0}),
        ["[0, 1]"],
    ),
    ("values", lambda toy, sc: econ.Model(toy, sc, values={"nonesuch": 1.0}), ["nonesuch"]),
    ("values", lambda toy, sc: econ.Model(toy, sc, values=[1.0]), ["mapping"]),
    ("rng", lambda toy, sc: econ.Model(toy, sc, rng="5"), ["string"]),
    ("freq", lambda toy, sc: econ.Model(toy, sc, freq="hourly"), ["MS"]),
    ("forecast", lambda toy, sc: econ.Model(toy, sc, forecast=3), ["Forecast"]),
    ("network", lambda toy, sc: econ.Model(toy, sc, network="net"), ["Network"]),
]


@pytest.mark.parametrize(
    "name,call,tokens",
    [pytest.param(n, c, t, id=f"{n}-{i}") for i, (n, c, t) in enumerate(MODEL_MISUSES)],
)
def test_model_misuse(toy, sc, name: str, call, tokens: list[str]) -> None:
    with pytest.raises(econ.InputError) as info:
        call(toy, sc)
    assert_argument_error(info.value, name, *tokens)


def test_inputs_with_a_route_removed(toy, sc) -> None:
    """Flows of a removed route used to drop out silently."""
    broken = replace(toy, routes=toy.routes.drop(index="land-east"))
    with pytest.raises(econ.InputError) as info:
        econ.run(sc, inputs=broken)
    assert_argument_error(info.value, "inputs", "land-east", "routes")
    no_crossing = replace(toy, crossings=toy.crossings.drop(index="west"))
    with pytest.raises(econ.InputError) as info:
        econ.Model(no_crossing, sc)
    assert_argument_error(info.value, "inputs", "west")


def test_loaders_name_their_argument() -> None:
    for call, name in (
        (lambda: econ.load_inputs(5), "dir"),
        (lambda: econ.load_scenario(5), "scenario"),
        (lambda: econ.parse_scenario(b"name = 'x'"), "text"),
        (lambda: econ.load_inputs(None, base_year=1401), "base_year"),
    ):
        with pytest.raises(econ.InputError) as info:
            call()
        assert_argument_error(info.value, name)


def test_valid_arguments_still_run(toy, sc) -> None:
    """The checks refuse misuse only: numpy integers, a Generator and explicit values run."""
    ds = econ.run(sc, inputs=toy, members=np.int64(2), rng=np.random.default_rng(1), months=2)
    assert ds.sizes["member"] == 2 and ds.attrs["nonfinite_members"] == 0
    m = econ.Model(
        toy, sc, member_ids=np.array([3, 7]), values={"queue_patience_days": [2.0, 30.0]}
    )
    assert m.run().result().attrs["nonfinite_members"] == 0


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", [2**31, 2**63 - 1, 2**64 - 1])
def test_big_seed_round_trips_through_netcdf(toy, sc, tmp_path: Path, seed: int) -> None:
    ds = econ.run(sc, inputs=toy, members=2, rng=seed, months=1)
    assert ds.attrs["seed"] == str(seed)
    write_netcdf(ds, tmp_path / "x.nc", stamp=False)
    with xr.open_dataset(tmp_path / "x.nc", engine="h5netcdf") as back:
        assert back.attrs["seed"] == str(seed)
        assert int(back.attrs["seed"]) == seed
        xr.testing.assert_allclose(back.customs_revenue.load(), ds.customs_revenue)
    again = econ.run(sc, inputs=toy, members=2, rng=int(back.attrs["seed"]), months=1)
    xr.testing.assert_identical(again, ds)


def test_generator_seed_writes(toy, sc, tmp_path: Path) -> None:
    ds = econ.run(sc, inputs=toy, members=2, rng=np.random.default_rng(5), months=1)
    assert int(ds.attrs["seed"]) >= 2**31  # what a Generator yields, almost surely
    write_netcdf(ds, tmp_path / "g.nc")


def test_model_result_with_big_seed_writes(toy, sc, tmp_path: Path) -> None:
    """A stepped Model's result is written as safely as econ.run's."""
    ds = econ.Model(toy, sc, members=2, rng=2**64 - 1).run().result()
    write_netcdf(ds, tmp_path / "m.nc")
    with xr.open_dataset(tmp_path / "m.nc", engine="h5netcdf") as back:
        assert back.attrs["seed"] == str(2**64 - 1)


# --------------------------------------------------------------------------- memory guard


def test_memory_estimate_tracks_the_result(toy, sc) -> None:
    """The per-member estimate is the result's size (every variable counted), to 1%."""
    ds = econ.run(sc, inputs=toy, members=3, months=2)
    per = memory.member_result_bytes(toy, sc.with_months(2), "MS")
    data = sum(v.nbytes for v in ds.data_vars.values()) / 3
    assert per == pytest.approx(data, rel=0.01)


def test_memory_guard_refuses_in_one_line(toy, sc, monkeypatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    t0 = time.perf_counter()
    with pytest.raises(econ.InputError) as info:
        econ.run(sc, inputs=toy, members=2_000)
    assert time.perf_counter() - t0 < 5  # before computing
    msg = str(info.value)
    assert "\n" not in msg
    assert "2,000 member(s)" in msg and "needs about" in msg and "1.0 MB is available" in msg
    assert "run at most" in msg and "members" in msg
    econ.run(sc, inputs=toy, members=2)  # a run that fits still runs


def test_memory_guard_model_and_fit_grid(toy, sc, monkeypatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    with pytest.raises(econ.InputError, match="Model with 5,000 member"):
        econ.Model(toy, sc, members=5_000)
    from econ.analysis.backtest import grid_errors

    default = econ.load_inputs()
    grid = {"route_substitution_elasticity": tuple(np.linspace(2, 100, 50))}
    with pytest.raises(econ.InputError, match="Model with 50 member"):
        grid_errors(default, grid)  # each chunk of the grid is one Model, checked


def test_available_memory_is_read() -> None:
    avail = memory.available_memory()
    assert avail is None or avail > 0
