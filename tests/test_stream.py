"""Ensembles streamed chunk by chunk (issue 19): members written to netCDF by region, exact
percentiles reduced slab by slab from a scratch file, and the run tables from a per-member
summary, each equal to the in-memory result, in memory bounded by a chunk, not the members."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

import econ
from cli.app import app
from econ.analysis.tables import is_run_summary, run_summary
from econ.api import run_streamed
from econ.io import load_scenario
from econ.io.stream import MembersFile, reduce_members, write_members
from econ.model import memory
from econ.model.ensemble import MemberStack, member_chunks
from econ.model.record import percentiles
from econ.report.outputs import run_output

TOY = Path(__file__).parent / "data" / "toy"
CLOSURE = TOY / "scen" / "closure.toml"
#: 7 members in chunks of 3: chunks of 3, 3 and 1 member
KW = dict(members=7, chunks=3, rng=11)
#: the registered HDF5 filter id of LZ4 (hdf5plugin.LZ4_ID)
LZ4 = 32004


@pytest.fixture(scope="module")
def toy(toy_inputs) -> tuple[econ.Inputs, xr.Dataset]:
    return toy_inputs, econ.run(CLOSURE, inputs=toy_inputs, **KW)


@pytest.fixture(scope="module")
def closure_2025(default_inputs) -> tuple[xr.Dataset, econ.api.Streamed]:
    """A default-input ensemble over 2 months, in memory and streamed to its percentiles."""
    kw = dict(inputs=default_inputs, months=2, **KW)
    full = econ.run("pakistan-closure-2025", **kw)
    return full, run_streamed("pakistan-closure-2025", reduce="percentiles", **kw)


def _drop_stamp(ds: xr.Dataset) -> xr.Dataset:
    ds.attrs.pop("date_created", None)
    return ds


# --------------------------------------------------------------------------- equal results


def test_streamed_percentiles_equal_those_of_the_whole_ensemble(closure_2025, toy) -> None:
    full, streamed = closure_2025
    assert {v for v in full.data_vars if np.isinf(full[v].values).any()}  # inverted_cdf used
    xr.testing.assert_identical(streamed.result, percentiles(full))
    inputs, full = toy
    p = econ.run(CLOSURE, inputs=inputs, reduce="percentiles", **KW)
    xr.testing.assert_identical(p, percentiles(full))


def test_members_file_reads_back_as_the_result(toy, tmp_path: Path) -> None:
    inputs, full = toy
    out = tmp_path / "members.nc"
    ds = econ.run(CLOSURE, inputs=inputs, out=out, **KW)
    assert "date_created" in ds.attrs
    xr.testing.assert_identical(_drop_stamp(ds.load()), full)
    ds.close()
    # the same seed writes the same bytes without the stamp, whatever the chunking
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    run_streamed(CLOSURE, inputs=inputs, out=a, stamp=False, **KW)
    run_streamed(CLOSURE, inputs=inputs, out=b, stamp=False, **KW)
    assert a.read_bytes() == b.read_bytes()
    with xr.open_dataset(a) as ds:
        xr.testing.assert_identical(ds.load(), full)


def test_summary_reduction_is_the_run_summary(toy, tmp_path: Path) -> None:
    """reduce="summary" keeps each member's run-table figures only: the run_summary of the
    whole result, chunk by chunk, with no file unless out= is given."""
    inputs, full = toy
    s = econ.run(CLOSURE, inputs=inputs, reduce="summary", **KW)
    xr.testing.assert_identical(s.drop_attrs(), run_summary(full).drop_attrs())
    assert s.attrs["nonfinite_members"] == 0 and s.attrs["seed"] == full.attrs["seed"]
    # reduced where each chunk runs: worker processes send back summaries, not chunks
    sc = load_scenario(CLOSURE)
    kw = dict(members=7, chunk_size=3, rng=11, reduce_chunk=run_summary)
    parts = list(member_chunks(inputs, sc, **kw))
    assert len(parts) == 3 and all(is_run_summary(p) for p in parts)
    w2 = econ.run(CLOSURE, inputs=inputs, reduce="summary", workers=2, **KW)
    xr.testing.assert_identical(w2, s)
    out = tmp_path / "summary.nc"
    econ.run(CLOSURE, inputs=inputs, reduce="summary", out=out, **KW)
    with xr.open_dataset(out) as back:
        xr.testing.assert_allclose(back.load(), s, rtol=0, atol=0)


def test_tables_from_the_summary_equal_those_of_the_result(closure_2025) -> None:
    full, streamed = closure_2025
    a, b = run_output(full), run_output(streamed.summary)
    assert [t.name for t in a.tables] == [t.name for t in b.tables] == ["crossings", "coal", "path"]
    for ta, tb in zip(a.tables, b.tables, strict=True):
        pd.testing.assert_frame_equal(ta.frame, tb.frame, check_exact=True)
    assert a.lines == b.lines and len(a.lines) == 3  # pressure, ratios, treasury total
    assert (a.summary, a.members) == (b.summary, b.members)
    # a few kB per member, within the memory guard's estimate of it
    per = streamed.summary.nbytes / full.sizes["member"]
    assert per < full.nbytes / full.sizes["member"] / 20
    inputs = econ.load_inputs(base_year=full.attrs["base_year"])
    sc = econ.load_scenario("pakistan-closure-2025").with_months(2)
    assert memory.summary_member_bytes(inputs, sc, "MS") >= per


def test_deterministic_run_streams_too(toy, tmp_path: Path) -> None:
    inputs, _ = toy
    one = econ.run(CLOSURE, inputs=inputs)
    s = run_streamed(CLOSURE, inputs=inputs, out=tmp_path / "one.nc", stamp=False)
    xr.testing.assert_identical(s.result.load(), one)
    s.result.close()
    for ta, tb in zip(run_output(one).tables, run_output(s.summary).tables, strict=True):
        pd.testing.assert_frame_equal(ta.frame, tb.frame, check_exact=True)


def _synthetic(
    members: int, chunk: int, cells: int = 40, times: int = 6, odd: bool = True
) -> Iterator[xr.Dataset]:
    """Chunks of a made-up ensemble; ``odd``: NaNs, and infinities in one time step only."""
    rng = np.random.default_rng(0)
    for at in range(0, members, chunk):
        n = min(chunk, members - at)
        x = rng.normal(size=(n, times, cells))
        if odd:
            x[:, 0, 0] = np.nan
        if odd and at == 0:
            x[0, 2, 1] = np.inf  # infinite in one slab of one chunk: inverted_cdf everywhere
        yield xr.Dataset(
            {
                "x": (("member", "time", "cell"), x, {"units": "1"}),
                "y": (("member", "cell"), rng.normal(size=(n, cells))),
            },
            coords={
                "member": np.arange(at, at + n),
                "time": pd.date_range("2024-01-01", periods=times, freq="MS"),
                "cell": np.arange(cells),
            },
            attrs={"title": "synthetic"},
        )


def _pct(slab: xr.Dataset, infinite: frozenset[str]) -> xr.Dataset:
    return percentiles(slab, unbounded=infinite)


def test_slab_by_slab_takes_the_whole_ensembles_rule(tmp_path: Path) -> None:
    full = xr.concat(list(_synthetic(10, 4)), "member")
    # one time step per slab: the infinity is in one slab, its rule applies to all of them
    got = reduce_members(_synthetic(10, 4), _pct, members=10, scratch_dir=tmp_path, slab_bytes=1)
    xr.testing.assert_identical(got, percentiles(full))
    assert list(tmp_path.iterdir()) == []


def test_scratch_file_is_lz4_and_gives_back_every_bit(tmp_path: Path) -> None:
    import h5py

    parts = list(_synthetic(10, 4))
    parts[1]["x"][0, 1, :3] = [-0.0, -np.inf, 5e-324]  # signed zero, -inf, a subnormal
    with MembersFile(tmp_path / "m.h5", 10, along="time", scratch=True) as f:
        for part in parts:
            f.add(part)
        f.finish()
    whole = xr.concat(parts, "member")
    with h5py.File(tmp_path / "m.h5", "r") as h:
        for k in ("x", "y"):
            plist = h[k].id.get_create_plist()
            codes = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
            assert codes == [LZ4], codes
            assert (h[k][...].view(np.uint64) == whole[k].values.view(np.uint64)).all()


# --------------------------------------------------------------------------- no leftovers


def _failing(chunks: Iterator[xr.Dataset], after: int, exc: BaseException):
    for i, part in enumerate(chunks):
        if i == after:
            raise exc
        yield part


@pytest.mark.parametrize("exc", [RuntimeError("chunk failed"), KeyboardInterrupt()])
def test_scratch_and_partial_files_removed_on_error(tmp_path: Path, exc) -> None:
    with pytest.raises(type(exc)):
        reduce_members(_failing(_synthetic(12, 3), 2, exc), _pct, members=12, scratch_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(type(exc)):
        write_members(_failing(_synthetic(12, 3), 2, exc), tmp_path / "m.nc", members=12)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- memory


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_bounded_by_the_chunk_not_the_members(tmp_path: Path) -> None:
    members, chunk = 60, 3
    kw = dict(cells=100, times=24, odd=False)

    def reduced(m: int) -> None:
        reduce_members(
            _synthetic(m, chunk, **kw), _pct, members=m, scratch_dir=tmp_path, slab_bytes=1
        )

    def written(m: int) -> None:
        write_members(_synthetic(m, chunk, **kw), tmp_path / f"m{m}.nc", members=m)

    reduced(3), written(3)  # imports and caches outside the measure
    whole = sum(p.nbytes for p in _synthetic(members, chunk, **kw))  # about 1.2 MB
    assert _peak(lambda: list(_synthetic(members, chunk, **kw))) > whole  # the measure sees it
    pct, out = _peak(lambda: reduced(members)), _peak(lambda: written(members))
    assert pct < whole / 3 and out < whole / 3, (pct, out, whole)


def test_memory_guard_counts_a_chunk_not_the_members(default_inputs) -> None:
    sc = econ.load_scenario("default").with_months(24)
    inp = default_inputs
    kw = dict(workers=2)
    held = sum(memory.ensemble_bytes(inp, sc, 10_000, **kw).values())
    streamed = sum(memory.streamed_bytes(inp, sc, 10_000, **kw).values()) + sum(
        memory.stream_writer_bytes(inp, sc, 10_000, percentiles_only=True).values()
    )
    assert held > 9e9 and streamed < 1.5e9, (held, streamed)
    # the chunks being run do not grow with the members; only the summary does
    assert memory.streamed_bytes(inp, sc, 200, **kw) == memory.streamed_bytes(inp, sc, 10_000, **kw)


def test_streamed_whole_chunks_are_smaller_by_default(toy, monkeypatch, tmp_path: Path) -> None:
    """Chunks that reach the caller whole (members by region, percentiles) are 50 members
    by default, chunks reduced to their tables where they run 100, as ``chunks`` overrides."""
    import econ.api

    inputs, _ = toy
    seen = []

    def spy(*args, **kw):
        seen.append(kw["chunk_size"])
        return member_chunks(*args, **kw)

    monkeypatch.setattr(econ.api, "member_chunks", spy)
    kw = dict(inputs=inputs, members=2, rng=1)
    run_streamed(CLOSURE, reduce="percentiles", scratch_dir=tmp_path, **kw)
    run_streamed(CLOSURE, out=tmp_path / "m.nc", **kw)
    run_streamed(CLOSURE, reduce="summary", **kw)
    run_streamed(CLOSURE, reduce="percentiles", scratch_dir=tmp_path, chunks=7, **kw)
    assert seen == [memory.STREAM_CHUNK, memory.STREAM_CHUNK, memory.CHUNK, 7]
    assert memory.STREAM_CHUNK < memory.CHUNK


def test_member_chunks_stack_to_run_members(toy) -> None:
    inputs, full = toy
    sc = econ.load_scenario(CLOSURE)
    parts = list(member_chunks(inputs, sc, members=7, rng=11, chunk_size=3))
    assert [p.sizes["member"] for p in parts] == [3, 3, 1]
    stack = MemberStack(np.arange(7))
    for p in parts:
        stack.add(p)
    ds = stack.dataset
    ds.attrs["nonfinite_members"] = full.attrs["nonfinite_members"]
    xr.testing.assert_identical(ds, full)
    summaries = MemberStack(np.arange(7))
    for p in parts:
        summaries.add(run_summary(p))
    xr.testing.assert_identical(summaries.dataset.drop_attrs(), run_summary(full).drop_attrs())


def test_streaming_arguments_refused_in_one_line(toy, tmp_path: Path) -> None:
    inputs, _ = toy
    cases = [
        (dict(reduce="median"), "argument 'reduce'"),
        (dict(out=tmp_path / "x.csv"), "expected a .nc file"),
        (dict(out=3), "argument 'out'"),
    ]
    for kw, text in cases:
        with pytest.raises(econ.InputError, match=text):
            econ.run(CLOSURE, inputs=inputs, **kw)
    with pytest.raises(econ.InputError, match="needs out= or reduce="):
        run_streamed(CLOSURE, inputs=inputs)
    with pytest.raises(econ.InputError, match="argument 'stamp'"):
        run_streamed(CLOSURE, inputs=inputs, reduce="percentiles", stamp="no")
    existing = tmp_path / "there.nc"
    existing.write_text("keep")
    with pytest.raises(econ.InputError, match="exists"):
        run_streamed(CLOSURE, inputs=inputs, out=existing, overwrite=False, members=3)
    assert existing.read_text() == "keep"


# --------------------------------------------------------------------------- the CLI

RUN = ["run", "--inputs", str(TOY), str(CLOSURE), "--format", "csv", "-n", "7", "--seed", "11"]


def test_cli_streams_members_and_percentiles(toy, tmp_path: Path, monkeypatch) -> None:
    inputs, full = toy
    runner = CliRunner()
    calls = []
    monkeypatch.setattr(econ, "run_streamed", _spy(econ.run_streamed, calls))
    plain = runner.invoke(app, RUN)
    assert plain.exit_code == 0, plain.output
    members, pct = tmp_path / "m.nc", tmp_path / "p.nc"
    a = runner.invoke(app, [*RUN, "--out", str(members), "--no-stamp"])
    b = runner.invoke(app, [*RUN, "--out", str(pct), "--no-stamp", "--percentiles-only"])
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    # all three streamed: without --out only each member's summary is kept
    assert [c.get("reduce") for c in calls] == ["summary", None, "percentiles"]
    assert a.stdout == b.stdout == plain.stdout
    # ... and they are the tables of the in-memory result
    import contextlib
    import io

    from cli.render import Format, emit
    from econ.report.outputs import RUN_TABLES

    held = io.StringIO()
    with contextlib.redirect_stdout(held):
        emit(run_output(full, RUN_TABLES), Format.csv)
    assert plain.stdout == held.getvalue()
    with xr.open_dataset(members) as ds:
        xr.testing.assert_identical(ds.load(), econ.run(CLOSURE, inputs=inputs, members=7, rng=11))
    with xr.open_dataset(pct) as ds:
        xr.testing.assert_identical(ds.load(), percentiles(full))
    # no scratch directory or temporary file left next to the outputs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nc", "p.nc"]


def test_cli_streamed_memory_guard(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: 100_000)
    out = tmp_path / "big.nc"
    r = CliRunner().invoke(app, [*RUN[:-4], "-n", "1000", "--out", str(out), "--percentiles-only"])
    assert r.exit_code == 1
    line = r.stderr.strip()
    assert "--members 1,000 with --out, chunk by chunk" in line and "summary" in line, line
    assert "slabs" in line and not out.exists()


def _spy(fn, calls: list):
    def wrapped(*a, **kw):
        calls.append(kw)
        return fn(*a, **kw)

    return wrapped
