"""The compiled day (econ/model/_daykernel.py) against the numpy engine, which stays the
reference (docs/performance.md, "Compiled day").

Two standards. One day from the same state: every output and every state array of the
compiled day equals the numpy day's to 1e-12 of the array's scale, on random states of every
built-in scenario (queues, backlogs and pending cargo at every crossing, random freight).
Whole runs: the headline revenue loss agrees to 1e-12; a variable's monthly values agree to
1e-6 of its scale, because the engine amplifies a rounding difference (a 1-ulp change of the
numpy run's own inputs moves them by 1e-9; docs/performance.md). A baseline day is exactly
the baseline, and results do not depend on the chunk or the number of threads.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

import econ
from econ.io import load_scenario
from econ.io.inputs import inputs_for
from econ.model import kernel
from econ.model.compiled import attach
from econ.model.economy import FREIGHT_REVISION_DAYS
from econ.model.engine import Day, Engine
from econ.model.model import Model


@pytest.fixture(autouse=True)
def _no_kernel_override(monkeypatch):
    """The suite pins the numpy engine (conftest.py); these tests choose the day themselves."""
    monkeypatch.delenv(kernel.ENV, raising=False)


SCENARIOS = ["default", "pakistan-closure-2025", "maximum-pressure", "transit-fee", "baseline"]


def _engines(name: str, members: int, rng: int = 3) -> tuple[Model, Engine, Engine]:
    sc = load_scenario(name)
    m = Model(inputs_for(sc), sc, members=members, rng=rng, kernel="numpy", economy=False)
    fast = attach(Engine(m.network, m.draws, m.schedule, m.baseline_index))
    assert fast.kernel == "numba" and m.engine.kernel == "numpy"
    return m, m.engine, fast


def _close(ref: np.ndarray, got: np.ndarray, tol: float, what: str, atol: float = 0.0) -> None:
    ref, got = np.asarray(ref, float), np.asarray(got, float)
    assert np.array_equal(np.isfinite(ref), np.isfinite(got)), what
    fin = np.isfinite(ref)
    scale = np.abs(ref[fin]).max() if fin.any() else 0.0
    err = np.abs(ref[fin] - got[fin]).max() if fin.any() else 0.0
    assert err <= max(tol * scale, atol), f"{what}: {err:.3e} of scale {scale:.3e}"


def _random_day(m: Model, ref: Engine, fast: Engine, t: int, rng: np.random.Generator):
    """Both engines put in one random state at day ``t`` (queues, backlog and pending cargo
    everywhere, random freight) and stepped once; returns their days."""
    while ref.day < t:
        ref.step()
    state = {k: v.copy() for k, v in ref.state.items()}
    net = m.network
    scale = net.cell["v0"] * ref.baseline_index[:, t][:, None]
    state["backlog"] = state["backlog"] + rng.exponential(1.0, scale.shape) * scale
    state["pending_value"] = state["pending_value"] + rng.exponential(0.5, scale.shape) * scale
    q = state["queue_value"] * rng.uniform(0.5, 2.0, state["queue_value"].shape)
    state["queue_value"] = q + rng.exponential(2.0, q.shape) * net.pair["e0"]
    state["queue_trucks"] = net.cells.pairs_to_crossing(state["queue_value"] / net.pair["vpt"])
    state["share_box"] = state["share_box"] + rng.normal(0, 0.01, state["share_box"].shape)
    freight = rng.uniform(0.9, 1.3, ref.draws.n_members)
    for eng in (ref, fast):
        for k, v in state.items():
            eng.state[k] = v.copy()
        eng.day = t
        eng.freight_multiplier = freight.copy()
    ref.memo.key = None
    if fast.compiled is not None:
        fast.compiled.key = None
    else:
        fast.memo.key = None
    return ref.step(), fast.step()


@pytest.mark.parametrize("name", SCENARIOS)
def test_one_day_from_random_states_equals_numpy(name):
    m, ref, fast = _engines(name, members=6)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for t in sorted(rng.choice(np.arange(1, ref.n_days - 1), size=3, replace=False)):
        a, b = _random_day(m, ref, fast, int(t), rng)
        for field in Day._fields[2:]:
            _close(getattr(a, field), getattr(b, field), 1e-12, f"{name} day {t} {field}")
        for k in ref.state:
            _close(ref.state[k], fast.state[k], 1e-12, f"{name} day {t} state {k}")


@pytest.mark.parametrize("name", SCENARIOS)
def test_one_economy_day_from_random_states_equals_numpy(name):
    """The compiled economy stage (econ/model/_econkernel.py) against econ/model/economy.py:
    the same day of the engine, from random stocks, yesterday's output losses, freight
    multipliers and fuel-price sums, with random extra cargo lost and arriving late."""
    sc = load_scenario(name)
    inp = inputs_for(sc)
    ref = Model(inp, sc, members=6, rng=4, kernel="numpy")
    fast = Model(inp, sc, members=6, rng=4, kernel="numba")
    assert ref.economy.compiled is None and fast.economy.compiled is not None
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    days = set(int(t) for t in rng.choice(np.arange(1, ref.T - 1), size=3, replace=False))
    days.add(FREIGHT_REVISION_DAYS - 1)  # a day that revises the freight tariffs
    for t in range(max(days) + 1):
        day = ref.engine.step()
        fast.engine.step()  # the compiled economy reads the compiled day's wedges
        if t not in days:
            ref.economy.step(day)
            fast.economy.compiled.economy.day += 1
            continue
        M, Ki = ref.economy.gap.shape
        target = ref.economy.days * (ref.economy.e0_k[ref.economy.imp])
        state = {
            "gap": -rng.uniform(0.0, 1.2, (M, Ki)) * target,
            "loss_share": rng.uniform(0.0, 0.3, ref.economy.loss_share.shape),
            "freight_multiplier": rng.uniform(0.9, 1.3, M),
            "fuel_price_sum": rng.uniform(0.0, 30.0, M),
        }
        noise = lambda a: a * rng.uniform(0.0, 2.0, a.shape)  # noqa: E731
        day = day._replace(
            lost=noise(day.lost) + rng.exponential(1.0, day.lost.shape) * ref.network.pair["e0"],
            arrivals=noise(day.arrivals),
            cleared=noise(day.cleared),
            delay=day.delay + rng.exponential(2.0, day.delay.shape),
        )
        for eco in (ref.economy, fast.economy):
            for k, v in state.items():
                setattr(eco, k, np.array(v, dtype=float, order="C"))
        a, b = ref.economy.step(day), fast.economy.step(day)
        for field in a._fields:
            _close(getattr(a, field), getattr(b, field), 1e-12, f"{name} day {t} {field}")
        for k in state:
            got = getattr(fast.economy, k)
            _close(getattr(ref.economy, k), got, 1e-12, f"{name} day {t} state {k}")
        assert ref.economy.day == fast.economy.day == t + 1


def test_economy_kernel_constants_and_warm_up():
    """The compiled stage takes the numpy stage's constants, and the warm-up (run when the
    cache is marked) compiles the very signature a run calls: no run compiles it again."""
    _econkernel = kernel.load_economy()  # the loader points numba's cache outside the tree
    _econkernel.warm()
    before = len(_econkernel.economy_members.signatures)
    econ.run("default", members=2, months=2, rng=1, kernel="numba")
    assert len(_econkernel.economy_members.signatures) == before == 1


@pytest.mark.parametrize("name", SCENARIOS)
def test_whole_run_equals_numpy(name):
    sc = load_scenario(name)
    inp = inputs_for(sc)
    a = Model(inp, sc, members=4, rng=5, kernel="numpy").run().result()
    b = Model(inp, sc, members=4, rng=5, kernel="numba").run().result()
    # the headline: revenue lost, to 1e-12 of the revenue the baseline collects
    loss = [float((d.baseline_customs_revenue - d.customs_revenue).sum()) for d in (a, b)]
    assert abs(loss[0] - loss[1]) <= 1e-12 * float(a.baseline_customs_revenue.sum())
    for v in a.data_vars:  # a variable that is zero but for rounding: to 1e-6 of its unit
        _close(a[v].values, b[v].values, 1e-6, f"{name} {v}", atol=1e-6)


@pytest.mark.parametrize("share", [True, False])
def test_baseline_day_is_exactly_the_baseline(monkeypatch, share):
    import econ.model.compiled as compiled

    monkeypatch.setattr(compiled, "SHARE_NEUTRAL_DAYS", share)
    m, ref, fast = _engines("baseline", members=3)
    for _ in range(40):
        day = fast.step()
        assert np.array_equal(day.revenue, day.baseline_revenue)
    assert not fast.state["share_box"].any() and not fast.state["volume_box"].any()
    assert not fast.state["backlog"].any() and not fast.state["queue_value"].any()
    assert fast.compiled.shared_days == (40 if share else 0)


def _fit_points(n: int) -> dict[str, np.ndarray]:
    """``n`` points of the fit's grid, its corners and middles: parameters far apart."""
    from econ.analysis.backtest import DEFAULT_GRID

    return {
        k: np.resize(np.asarray(v, float)[[0, -1, len(v) // 2]], n)[np.arange(n) * (i + 1) % n]
        for i, (k, v) in enumerate(DEFAULT_GRID.items())
    }


@pytest.mark.parametrize(
    "name",
    ["default", "baseline", "baseline-central", "torkham-closure-2023-09", "transit-measures-2023"],
)
def test_shared_neutral_days_give_each_members_own_numbers(monkeypatch, name):
    """The days before any measure, run once for the first member and copied to every member
    (CompiledDay._shared_day), give the numbers each member makes on its own: ensembles with
    drawn parameters, and the fit's grid points of an episode (parameters far apart). Where
    the economy's members are alike too (the fit's points, central values), ``Model.run``
    leaves those days to the first member alone and the others catch up with its economy
    state and sums (Model._catch_up): the same numbers whether they catch up once, at every
    progress call, or never fall behind (stepping day by day)."""
    import xarray as xr

    import econ.model.compiled as compiled
    from econ.analysis.backtest import fit_outcomes, outcome_months
    from econ.io.episodes import load_episode

    values = None
    if name.startswith("baseline") or name == "default":
        sc = load_scenario(name.removesuffix("-central")).with_months(6)
        if name.endswith("-central"):
            values = {"queue_patience_days": np.full(6, 20.0)}  # nothing drawn
    else:
        ep = load_episode(name)
        sc = ep.scenario.with_months(outcome_months(ep.scenario, fit_outcomes(ep)))
        values = _fit_points(6)
    inp = inputs_for(sc)
    seen: dict[str, list] = {"progress": [], "steps": []}  # every 30 days: state and sums

    def look(how: str, m: Model) -> None:
        ec = [getattr(m.economy, n).copy() for n in compiled.ECONOMY_STATE]
        seen[how].append([m.record.acc_g.copy(), m.record.acc_f.copy(), *ec])

    def run(how):
        m = Model(inp, sc, members=6, rng=7, values=values, kernel="numba")
        valid = m.engine.compiled.memo[compiled.MEMO_VALID]  # the flags a shared day clears
        assert valid.dtype == np.bool_ and valid.shape == (6,)
        if how == "steps":
            while m.t < m.T:
                m.step()
                if m.t % 30 == 0 or m.t == m.T:
                    look(how, m)
        else:
            m.run(progress=(lambda *_: look(how, m)) if how == "progress" else None)
        c = m.engine.compiled
        return c.shared_days, c.days_alone, m.result()

    shared, alone, a = run("run")
    uniform = values is not None
    assert shared > 0 and (alone == shared - 1 if uniform else alone == 0)
    for how in ("progress", "steps"):
        n, k, b = run(how)
        assert n == shared and (k > 0) == (uniform and how == "progress")
        xr.testing.assert_identical(a, b)
    # what a progress call sees: every member caught up, as stepping day by day
    assert len(seen["progress"]) == len(seen["steps"]) > 1
    for p, s in zip(seen["progress"], seen["steps"]):
        for x, y in zip(p, s):
            np.testing.assert_array_equal(x, y)
    monkeypatch.setattr(compiled, "SHARE_NEUTRAL_DAYS", False)
    n, k, b = run("run")
    assert n == 0 and k == 0
    xr.testing.assert_identical(a, b)


def test_a_neutral_day_that_moves_the_state_runs_for_every_member(monkeypatch):
    """Where the state the members share is not at rest (here the same waiting orders for
    every member, released at each member's own pace), the first member's day moves it: the
    day is then run for every member from the state before it, as without sharing."""
    import xarray as xr

    import econ.model.compiled as compiled

    sc = load_scenario("baseline").with_months(1)
    inp = inputs_for(sc)

    def run():
        m = Model(inp, sc, members=4, rng=3, kernel="numba")
        st = m.engine.state
        st["backlog"][:] = m.network.cell["v0"]
        m.engine.compiled.start = {n: st[n][:1].copy() for n in compiled.STATE}
        m.run()
        return m.engine.compiled.shared_days, m.result()

    shared, a = run()
    monkeypatch.setattr(compiled, "SHARE_NEUTRAL_DAYS", False)
    _, b = run()
    assert shared == 0
    assert not np.array_equal(a.trade_value[0].values, a.trade_value[1].values)  # not copies
    xr.testing.assert_identical(a, b)


def test_independent_of_chunks_and_threads(monkeypatch):
    import numba

    import econ.model.ensemble as ensemble

    whole = econ.run("pakistan-closure-2025", members=5, months=3, rng=2, chunks=5, kernel="numba")
    split = econ.run("pakistan-closure-2025", members=5, months=3, rng=2, chunks=2, kernel="numba")
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = econ.run(
            "pakistan-closure-2025", members=5, months=3, rng=2, chunks=5, kernel="numba"
        )
    finally:
        numba.set_num_threads(before)
    # worker processes (spawned: numba's threads do not survive a fork), one thread each, after
    # the kernel is compiled once in this process (the warm-up runs when it is not cached)
    monkeypatch.setattr(ensemble, "is_compiled", lambda: False)
    procs = econ.run(
        "pakistan-closure-2025", members=5, months=3, rng=2, chunks=2, workers=2, kernel="numba"
    )
    for other in (split, one, procs):
        for v in whole.data_vars:
            np.testing.assert_array_equal(whole[v].values, other[v].values, err_msg=v)
    assert whole.attrs["kernel"] == "numba"


def test_modes(monkeypatch, tmp_path):
    monkeypatch.delenv(kernel.ENV, raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # an empty cache: nothing compiled
    assert kernel.resolve("numpy") == "numpy"
    assert kernel.resolve("cached") == "numpy"  # no run waits for a compile
    assert kernel.resolve("compile") == "numba"
    assert kernel.resolve(None, "cached") == "numpy"
    monkeypatch.setenv(kernel.ENV, "numpy")
    assert kernel.resolve("numba") == "numpy"  # the environment wins
    monkeypatch.delenv(kernel.ENV)
    with pytest.raises(ValueError, match="kernel must be one of"):
        kernel.resolve("fast")
    monkeypatch.setattr(kernel, "numba_installed", lambda: False)
    assert kernel.resolve("compile") == "numpy"  # the numpy path is the fallback
    with pytest.raises(RuntimeError, match="needs numba"):
        kernel.resolve("numba")


def test_cache_marker(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not kernel.is_cached()
    timer = kernel.Compiling()
    with caplog.at_level("INFO", logger="econ.model.kernel"):
        timer.finished()
        timer.finished()
    assert kernel.is_cached() and kernel.resolve("cached") == "numba"
    assert sum("compiled the daily kernel" in r.message for r in caplog.records) == 1


def test_cache_key_covers_the_argument_layout(monkeypatch, tmp_path):
    """The cache marker's key changes with the kernels' sources and with compiled.py, which
    lays out their argument types (int64 -> uint64 indices compiled a new signature): a run
    that finds the marker must not compile behind it. Fails if compiled.py is left out."""
    import shutil

    here = Path(kernel.__file__).parent
    for name in kernel.KERNEL_FILES + kernel.SIGNATURE_FILES:
        shutil.copy(here / name, tmp_path / name)
    monkeypatch.setattr(kernel, "__file__", str(tmp_path / "kernel.py"))
    keys = [kernel._source_key()]
    for name in ("compiled.py", "_daykernel.py"):
        (tmp_path / name).write_text((tmp_path / name).read_text() + "\n# changed\n")
        keys.append(kernel._source_key())
    assert len(set(keys)) == 3


def test_a_finished_compiled_run_is_freed_without_the_garbage_collector():
    """No reference cycle through the compiled stages: a run's model, engine, economy and
    record go as soon as the last reference does, not at the collector's rare full pass (a fit
    or a streamed ensemble grew by a chunk's model, ~270 MB per 100 members, per chunk)."""
    import gc
    import weakref

    sc = load_scenario("default").with_months(1)
    gc.collect()
    gc.disable()
    try:
        m = Model(inputs_for(sc), sc, members=3, rng=1, kernel="numba").run()
        m.result()
        assert m.engine.compiled is not None and m.economy.compiled is not None
        assert m.record.compiled is not None
        refs = [weakref.ref(x) for x in (m, m.engine, m.economy, m.record, m.engine.compiled)]
        del m
        assert [r() for r in refs] == [None] * len(refs)
    finally:
        gc.enable()


def test_compiled_code_is_cached_outside_the_source_tree(monkeypatch, tmp_path):
    """numba reads NUMBA_CACHE_DIR when it is imported; this module imported it before the
    loader set the directory, and the loader makes numba read it again, so the compiled
    kernels go to the cache directory, not to econ/model/__pycache__."""
    from numba.core import config

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(kernel, "_loaded", None)  # as in a process that has not loaded it yet
    try:
        kernel.load()
        assert config.CACHE_DIR == str(tmp_path / "chokepoint" / "numba")
    finally:
        monkeypatch.undo()
        config.reload_config()


def test_shared_days_left_to_one_member_without_an_economy(monkeypatch):
    """Without the input-output layer only the record's sums fall behind on the days left to
    the first member, and catch up the same."""
    import xarray as xr

    import econ.model.compiled as compiled
    from econ.io.episodes import load_episode

    sc = load_episode("transit-measures-2023").scenario.with_months(9)
    inp = inputs_for(sc)

    def run():
        m = Model(inp, sc, members=4, values=_fit_points(4), economy=False, kernel="numba")
        m.run(progress=lambda *_: None)
        return m.engine.compiled.days_alone, m.result()

    alone, a = run()
    monkeypatch.setattr(compiled, "SHARE_NEUTRAL_DAYS", False)
    none, b = run()
    assert alone > 30 and none == 0 and "sector_output_loss" not in a
    xr.testing.assert_identical(a, b)


def test_a_measure_added_before_the_run_keeps_shared_days_left_to_one_member(monkeypatch):
    """A measure added before the run re-lays the compiled day out (Model._reschedule): the
    days before it are still left to the first member, with each member's own numbers."""
    import datetime as dt

    import xarray as xr

    import econ.model.compiled as compiled

    sc = load_scenario("baseline").with_months(3)
    inp = inputs_for(sc)
    fee = econ.Tariff(rate=0.1, start=dt.date(2023, 2, 15), corridors=["pakistan"])

    def run():
        m = Model(inp, sc, members=4, values=_fit_points(4), kernel="numba")
        m.add_measure(fee)
        m.run()
        return m.engine.compiled.days_alone, m.result()

    alone, a = run()
    monkeypatch.setattr(compiled, "SHARE_NEUTRAL_DAYS", False)
    none, b = run()
    assert alone == 45 - 1 and none == 0  # the 45 days to 14 February, the first compared
    xr.testing.assert_identical(a, b)


def test_a_days_numbers_do_not_depend_on_what_its_scratch_held(monkeypatch):
    """The scratch has a row per block of members, not per member (step_members): which
    member ran before in a row must not reach a member's numbers, so every scratch value is
    written before it is read. Checked by filling every row with garbage before each day:
    the results are bit for bit those of a run whose scratch was left as the kernel left it.
    Three fills, because each can miss a stale read another catches (a stale zero read as
    NaN or −3 can take the same branch)."""
    import xarray as xr

    from econ.model import compiled

    def run(name):  # 6 months: the closures, restrictions and fees of both, and reopenings
        sc = load_scenario(name).with_months(6)
        return Model(inputs_for(sc), sc, members=4, rng=5, kernel="numba").run().result()

    real = compiled.CompiledDay._run
    rows = set()
    for name in ("maximum-pressure", "pakistan-closure-2025"):
        clean = run(name)
        for fill in (np.nan, 1e300, -3.0):

            def soiled(self, members, b, fmult, day_wedges, ant, same, state, memo, scratch):
                for a in scratch:
                    a[...] = fill  # noqa: B023 - called within this iteration only
                rows.add(scratch[0].shape[0])
                return real(self, members, b, fmult, day_wedges, ant, same, state, memo, scratch)

            monkeypatch.setattr(compiled.CompiledDay, "_run", soiled)
            dirty = run(name)
            monkeypatch.setattr(compiled.CompiledDay, "_run", real)
            try:
                xr.testing.assert_identical(clean, dirty)
            except AssertionError as exc:
                raise AssertionError(f"{name}, the scratch filled with {fill}") from exc
    assert rows == {kernel.load().scratch_rows()}  # a row per thread, not per member
