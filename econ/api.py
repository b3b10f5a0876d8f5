"""The public entry points: load inputs and scenarios, run a scenario."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr

from .inputs import Inputs, load_inputs
from .model import Model, root_seed
from .scenario import Scenario, load_scenario

log = logging.getLogger(__name__)


BASELINES = ("flat", "forecast")


def baseline_forecast(inputs: Inputs, scenario: Scenario, baseline: str):
    """The :class:`~econ.forecast.Forecast` for ``baseline="forecast"``, else ``None``."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    if baseline == "flat":
        return None
    from .forecast import fit_baseline, monthly_history

    fc = fit_baseline(monthly_history(inputs.revenue_monthly), horizon_start=scenario.start,
                      months=scenario.months + 1)
    log.info("baseline: %s forecast of customs revenue", fc.model)
    return fc


def run(scenario: Scenario | str | Path, *, inputs: Inputs | str | Path | None = None,
        freq: str = "MS", members: int = 1, rng: int | np.random.Generator | None = None,
        months: int | None = None, baseline: str = "flat", chunk_size: int = 100,
        workers: int = 1, progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Simulate a scenario day by day and return the labelled result.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a built-in name (``"default"``) or a TOML path.
    inputs
        Loaded :class:`Inputs`, a directory, or ``None`` for the shipped defaults.
    freq
        Reporting frequency: ``"MS"`` (monthly, default), ``"D"``, ``"W"``, ``"QS"``, ``"YS"``.
    members
        Ensemble size (1 = deterministic run at central parameter values). Members run
        vectorised along the ``member`` axis, in chunks of ``chunk_size``.
    rng
        Root seed for ensembles (SPEC 7); defaults to the scenario's ``seed`` or 0.
        Member ``m`` draws from ``numpy.random.default_rng([m, seed])``, so its numbers
        do not depend on ``members``, ``chunk_size`` or ``workers``.
    months
        Override the scenario's horizon.
    baseline
        ``"flat"`` (default): the no-measure baseline stays at base-year (FY1401) flows.
        ``"forecast"``: it follows the statsmodels forecast of customs revenue
        (:mod:`econ.forecast`, docs/forecast.md); ensemble members draw their path from
        the forecast's interval.
    chunk_size
        Members per vectorised chunk (bounds memory; results do not depend on it). The
        default keeps a chunk's daily work arrays within a core's cache; 1,000 members of
        the default scenario run fastest with chunks of about 100.
    workers
        Processes running chunks in parallel (1 = in this process).
    progress
        Callback ``progress(days_done, days_total)``; with several chunks, days are
        counted over all chunks.

    Examples
    --------
    >>> import econ
    >>> ds = econ.run("default", months=3)
    >>> float((ds.baseline_customs_revenue - ds.customs_revenue).sum()) > 0
    True

    Non-finite members (NaN or inf in any model output) are counted in the attribute
    ``nonfinite_members`` and logged as a warning; they are kept, not dropped.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if months is not None:
        sc = sc.with_months(months)
    if members < 1:
        raise ValueError(f"members must be at least 1, got {members}")
    if chunk_size < 1 or workers < 1:
        raise ValueError("chunk_size and workers must be at least 1")
    inp = inputs if isinstance(inputs, Inputs) else load_inputs(inputs)
    fc = baseline_forecast(inp, sc, baseline)
    if members == 1:
        model = Model(inp, sc, rng=rng, freq=freq, forecast=fc)
        log.info("running %s: %d days, 1 member (deterministic)", sc.name, model.T)
        return _finish(model.run(progress=progress).result())
    seed = root_seed(rng, sc)  # resolved once, so every chunk shares it
    ids = np.arange(members)
    chunks = [ids[i:i + chunk_size] for i in range(0, members, chunk_size)]
    log.info("running %s: %d members in %d chunk(s) on %d worker(s)", sc.name, members, len(chunks), workers)
    jobs = [(inp, sc, c, seed, freq, fc) for c in chunks]
    T = (sc.end - sc.start).days
    total = T * len(chunks)
    stack = _MemberStack(ids)
    if workers == 1:
        for i, job in enumerate(jobs):
            cb = None if progress is None else (lambda d, _t, base=i * T: progress(base + d, total))
            stack.add(_chunk_model(*job).run(progress=cb).result())
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as ex:
            for i, part in enumerate(ex.map(_run_chunk, jobs)):
                stack.add(part)
                if progress is not None:
                    progress((i + 1) * T, total)
    ds = stack.dataset
    ds.attrs.update(members=members, seed=seed, deterministic=0,
                    history=f"{ds.attrs['history'].split(':')[0]}: run {sc.name} ({members} member(s), freq {freq})")
    return _finish(ds)


class _MemberStack:
    """Chunk results written into one Dataset along ``member``, allocated at the first chunk.

    Equivalent to ``xr.concat(parts, "member")`` (attributes and variables not along
    ``member`` from the first chunk) without holding every chunk and then copying them
    all: peak memory is the result plus one chunk, and there is no second pass over it.
    """

    def __init__(self, ids: np.ndarray) -> None:
        self.ids, self.at = ids, 0
        self.dataset: xr.Dataset | None = None

    def add(self, part: xr.Dataset) -> None:
        n = part.sizes["member"]
        if self.dataset is None:
            def alloc(v: xr.Variable) -> xr.Variable:
                if "member" not in v.dims:
                    return v
                if v.dims.index("member") != 0:
                    raise AssertionError("member must be the first axis of every result variable")
                return xr.Variable(v.dims, np.empty((len(self.ids),) + v.shape[1:], v.dtype), v.attrs)

            coords = {k: xr.Variable("member", self.ids.astype(v.dtype), v.attrs) if k == "member"
                      else alloc(v) for k, v in part.coords.variables.items()}
            self.dataset = xr.Dataset({k: alloc(v) for k, v in part.data_vars.variables.items()},
                                      coords=coords, attrs=part.attrs)
        if not np.array_equal(part["member"].values, self.ids[self.at:self.at + n]):
            raise AssertionError("chunks must arrive in member order")
        for k, v in self.dataset.variables.items():
            if "member" in v.dims and k != "member":
                v.data[self.at:self.at + n] = part.variables[k].data
        self.at += n


def _chunk_model(inp: Inputs, sc: Scenario, ids: np.ndarray, seed: int, freq: str, fc) -> Model:
    return Model(inp, sc, member_ids=ids, rng=seed, freq=freq, forecast=fc)


def _run_chunk(job: tuple) -> xr.Dataset:
    return _chunk_model(*job).run().result()


def _finish(ds: xr.Dataset) -> xr.Dataset:
    """Count members with non-finite model outputs; log them (never drop them)."""
    from .output import VARIABLES

    bad = np.zeros(ds.sizes["member"], bool)
    for name in VARIABLES:
        da = ds[name]
        bad |= ~np.isfinite(da.values).reshape(da.sizes["member"], -1).all(axis=1)
    n = int(bad.sum())
    ds.attrs["nonfinite_members"] = n
    if n:
        log.warning("%d of %d member(s) have non-finite results (members %s); they are kept",
                    n, ds.sizes["member"], ", ".join(map(str, ds["member"].values[bad][:10])))
    return ds
