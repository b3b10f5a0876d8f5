"""The public entry point: resolve a scenario, inputs and baseline, and run it (:func:`run`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .analysis.forecast import BASELINES, baseline_forecast
from .io.inputs import inputs_for
from .io.scenarios import load_scenario
from .model.arguments import check_freq, check_members, check_rng
from .model.ensemble import MemberStack, member_chunks, run_members
from .model.kernel import MODES as KERNEL_MODES
from .model.memory import CHUNK, STREAM_CHUNK
from .spec.checks import (
    MAX_MEMBERS,
    MAX_MONTHS,
    argument_error,
    choice_argument,
    int_argument,
    type_argument,
)
from .spec.inputs import Inputs
from .spec.scenario import Scenario

log = logging.getLogger(__name__)

__all__ = ["BASELINES", "REDUCTIONS", "Streamed", "baseline_forecast", "run", "run_streamed"]

#: what ``reduce=`` can take across members
REDUCTIONS = ("percentiles", "summary")


def run(
    scenario: Scenario | str | Path,
    *,
    inputs: Inputs | str | Path | None = None,
    base_year: str | None = None,
    freq: str = "MS",
    members: int = 1,
    rng: int | np.random.Generator | None = None,
    months: int | None = None,
    baseline: str = "flat",
    chunks: int | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    dask: Any = None,
    chunk_size: int | None = None,
    kernel: str | None = None,
    out: str | Path | None = None,
    reduce: str | None = None,
) -> xr.Dataset:
    """Simulate a scenario day by day and return the labelled result.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a built-in name (``"default"``) or a TOML path.
    inputs
        Loaded :class:`Inputs`, a directory, or ``None`` for the shipped defaults.
    base_year
        Base year to run on (e.g. ``"FY1401"``). Default: the scenario's own ``base_year``,
        else that of loaded ``inputs``, else the most recent in the directory
        (:func:`econ.io.inputs.inputs_for`). The result states it in ``attrs["base_year"]``.
    freq
        Reporting frequency: ``"MS"`` (monthly, default), ``"D"``, ``"W"``, ``"QS"``, ``"YS"``.
    members
        Ensemble size (1 = deterministic run at central parameter values). Members run
        vectorised along the ``member`` axis, in chunks of ``chunks`` members.
    rng
        Root seed for ensembles (SPEC 7); defaults to the scenario's ``seed`` or 0.
        Member ``m`` draws from ``numpy.random.default_rng([m, seed])``, so its numbers
        do not depend on ``members``, ``chunks`` or ``workers``.
    months
        Override the scenario's horizon.
    baseline
        ``"flat"`` (default): the no-measure baseline stays at the base year's flows.
        ``"forecast"``: it follows the statsmodels forecast of customs revenue
        (:mod:`econ.forecast`, docs/forecast.md); ensemble members draw their path from
        the forecast's interval.
    kernel
        The daily step: ``"numpy"`` (the reference), ``"numba"`` (the compiled day; needs
        ``pip install "chokepoint[fast]"``), ``"compile"`` (compiled if numba is installed,
        compiling it once, 1–3 minutes, and caching it) or ``"cached"`` (compiled only if
        already cached). Default (``None``): ``"compile"`` for an ensemble, ``"cached"`` for
        one member, so that no single run waits for a compile; ``CHOKEPOINT_KERNEL`` in the
        environment overrides. The two agree to rounding (docs/performance.md); the result's
        ``kernel`` attribute says which ran.
    chunks
        Members per vectorised chunk (default 100; 50 when ``out`` or ``reduce="percentiles"``
        streams whole chunks back; bounds memory; results do not depend on it). 1,000 members
        of the default scenario run fastest with chunks of about 100; streamed whole, chunks of
        50 take about a quarter off the peak memory in the same time. With ``dask``, each
        chunk is one task.
    workers
        Processes running chunks in parallel (1 = in this process).
    progress
        Callback ``progress(days_done, days_total)``; with several chunks, days are
        counted over all chunks.
    dask
        Run the chunks as tasks of a dask cluster (needs ``dask.distributed``): a
        ``distributed.Client``, a scheduler address (``"tcp://host:8786"``) or ``"local"``
        (start a ``LocalCluster`` on this machine, ``workers`` processes or one per core).
        Results are identical to the in-process run for the same seed
        (:func:`econ.model.ensemble.run_chunks_on_dask`, docs/performance.md).
    chunk_size
        The former name of ``chunks`` (still accepted; give one of the two).
    out
        Write the result to this netCDF4 file (``.nc``, replaced if it exists) chunk by chunk,
        never holding every member (:func:`run_streamed`): the members by region, and the
        Dataset returned is read lazily from the file; with ``reduce``, the reduction is
        written instead.
    reduce
        ``"percentiles"``: return the 5th, 50th and 95th percentiles across members
        (:func:`econ.model.record.percentiles`), taken slab by slab from a scratch file (next
        to ``out``, else in ``$TMPDIR``; removed afterwards) so that memory holds one chunk
        and one slab, not the ensemble; identical to ``percentiles(run(...))``.
        ``"summary"``: return each member's figures of the run tables
        (:func:`econ.analysis.tables.run_summary`, a few kB per member), chunk by chunk with
        no scratch file; ``run_output(summary)`` gives the tables of ``run_output(run(...))``
        (what ``chokepoint run --members N`` prints). :func:`run_streamed` also returns the
        per-member summary the run tables need and takes ``stamp``, ``overwrite`` and
        ``scratch_dir``.

    Examples
    --------
    >>> import econ
    >>> ds = econ.run("default", months=3)
    >>> float((ds.baseline_customs_revenue - ds.customs_revenue).sum()) > 0
    True

    Non-finite members (NaN or inf in any model output) are counted in the attribute
    ``nonfinite_members`` and logged as a warning; they are kept, not dropped.
    """
    if out is not None or reduce is not None:
        return run_streamed(
            scenario,
            inputs=inputs,
            base_year=base_year,
            freq=freq,
            members=members,
            rng=rng,
            months=months,
            baseline=baseline,
            chunks=chunks,
            workers=workers,
            progress=progress,
            dask=dask,
            chunk_size=chunk_size,
            kernel=kernel,
            out=out,
            reduce=reduce,
        ).result
    sc, inp, fc, chunk = _resolve(
        scenario, inputs, base_year, baseline, members, rng, freq, chunks, chunk_size, months
    )
    _check_kernel(kernel)
    return run_members(
        inp,
        sc,
        members=members,
        rng=rng,
        freq=freq,
        forecast=fc,
        chunk_size=chunk,
        workers=workers,
        progress=progress,
        dask=dask,
        kernel=kernel,
    )


@dataclass(frozen=True)
class Streamed:
    """What :func:`run_streamed` leaves in memory.

    ``result``: the reduction across members (``reduce="percentiles"``), else the members
    read lazily from ``path``; ``summary``: every member's figures for the run tables
    (:func:`econ.analysis.tables.run_summary`: ``run_output(summary)`` gives the tables of
    the whole result); ``path``: the file written, if any."""

    result: xr.Dataset
    summary: xr.Dataset
    path: Path | None


def run_streamed(
    scenario: Scenario | str | Path,
    *,
    out: str | Path | None = None,
    reduce: str | None = None,
    stamp: bool = True,
    overwrite: bool = True,
    scratch_dir: str | Path | None = None,
    inputs: Inputs | str | Path | None = None,
    base_year: str | None = None,
    freq: str = "MS",
    members: int = 1,
    rng: int | np.random.Generator | None = None,
    months: int | None = None,
    baseline: str = "flat",
    chunks: int | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    dask: Any = None,
    chunk_size: int | None = None,
    kernel: str | None = None,
) -> Streamed:
    """Run like :func:`run`, chunk by chunk, without ever holding every member's result.

    Each chunk of members (:func:`econ.model.ensemble.member_chunks`) is written to ``out``
    by region (:func:`econ.io.stream.write_members`), or with ``reduce="percentiles"`` to a
    scratch file reduced slab by slab (:func:`econ.io.stream.reduce_members`; written to
    ``out`` if given), or with ``reduce="summary"`` nowhere (the result is the summary), and
    reduced to its :func:`~econ.analysis.tables.run_summary`. Peak
    memory is about one chunk (per worker), one slab and the summaries (a few kB per
    member), not the ensemble (docs/performance.md, "Streaming"). The numbers are those of
    :func:`run` for the same arguments: the members file reads back as ``run(...)``, the
    percentiles are ``percentiles(run(...))``, and ``run_output(summary)`` gives the tables
    of ``run_output(run(...))``.

    ``out`` must be a ``.nc`` path (``overwrite=False``: refused if it exists); ``stamp``
    as in :func:`econ.io.write.write_netcdf`; ``scratch_dir`` is where the scratch
    directory goes (default: next to ``out``, else ``$TMPDIR``). Other arguments as in
    :func:`run`. Either ``out`` or ``reduce`` must be given.
    """
    from .analysis.tables import run_summary
    from .io.stream import reduce_members, write_members
    from .io.write import check_output, write_netcdf
    from .model.record import percentiles

    if reduce is not None:
        choice_argument("reduce", reduce, REDUCTIONS)
    if out is None and reduce is None:
        raise argument_error(
            "out",
            "run_streamed needs out= or reduce=",
            fix="give a .nc path, 'percentiles' or 'summary'",
        )
    type_argument("stamp", stamp, bool, "True or False")
    type_argument("overwrite", overwrite, bool, "True or False")
    if scratch_dir is not None:
        type_argument("scratch_dir", scratch_dir, (str, Path), "a directory or None")
    if out is not None:
        type_argument("out", out, (str, Path), "a .nc path or None")
        out = check_output(out, suffixes=(".nc",), force=overwrite, option="argument 'out'")
    sc, inp, fc, chunk = _resolve(
        scenario, inputs, base_year, baseline, members, rng, freq, chunks, chunk_size, months,
        default_chunk=CHUNK if reduce == "summary" else STREAM_CHUNK,
    )  # fmt: skip
    _check_kernel(kernel)
    parts = member_chunks(
        inp,
        sc,
        members=members,
        rng=rng,
        freq=freq,
        forecast=fc,
        chunk_size=chunk,
        workers=workers,
        progress=progress,
        dask=dask,
        kernel=kernel,
        # tables only: each chunk is reduced to its summary where it runs (a worker sends back
        # a few kB per member instead of the chunk's result)
        reduce_chunk=run_summary if reduce == "summary" else None,
    )
    keep = _Kept(members)
    if reduce == "summary":
        for _ in keep.each(parts):
            pass
        result = keep.summary()
        if out is not None:
            write_netcdf(result, out, stamp=stamp, overwrite=overwrite)
    elif reduce is None:
        assert out is not None
        write_members(
            keep.each(parts),
            out,
            members=members,
            stamp=stamp,
            attrs=keep.attrs,
            overwrite=overwrite,
        )
        result = xr.open_dataset(out, engine="h5netcdf")
    else:
        result = reduce_members(
            keep.each(parts),
            lambda slab, infinite: percentiles(slab, unbounded=infinite),
            members=members,
            scratch_dir=scratch_dir if scratch_dir is not None or out is None else out.parent,
            attrs=keep.attrs,
        )
        if out is not None:
            write_netcdf(result, out, stamp=stamp, overwrite=overwrite)
    keep.log()
    return Streamed(result, keep.summary(), out)


class _Kept:
    """What a streamed run keeps of each chunk: its run summary and non-finite count."""

    def __init__(self, members: int) -> None:
        self.members, self.nonfinite = members, 0
        self.stack = MemberStack(np.arange(members))
        self.first: xr.Dataset | None = None

    def each(self, parts: Iterator[xr.Dataset]) -> Iterator[xr.Dataset]:
        from .analysis.tables import run_summary

        for part in parts:
            self.nonfinite += int(part.attrs.get("nonfinite_members", 0))
            summary = run_summary(part)
            if self.members == 1:
                self.first = summary
            else:
                self.stack.add(summary)
            yield part

    def attrs(self) -> dict[str, Any]:
        return {"nonfinite_members": self.nonfinite}

    def summary(self) -> xr.Dataset:
        ds = self.first if self.first is not None else self.stack.dataset
        assert ds is not None
        ds.attrs["nonfinite_members"] = self.nonfinite
        return ds

    def log(self) -> None:
        if self.nonfinite:
            log.warning(
                "%d of %d member(s) have non-finite results; they are kept",
                self.nonfinite,
                self.members,
            )


def _check_kernel(kernel: Any) -> None:
    if kernel is not None:
        choice_argument("kernel", kernel, KERNEL_MODES)


def _resolve(
    scenario: Any,
    inputs: Any,
    base_year: Any,
    baseline: Any,
    members: Any,
    rng: Any,
    freq: Any,
    chunks: Any,
    chunk_size: Any,
    months: Any,
    default_chunk: int = CHUNK,
) -> tuple[Scenario, Inputs, Any, int]:
    """The checked arguments of :func:`run`: the scenario (with ``months``), its inputs, the
    baseline forecast and the members per chunk."""
    type_argument(
        "scenario", scenario, (Scenario, str, Path), "an econ.Scenario, a built-in name or a path"
    )
    if inputs is not None:
        type_argument("inputs", inputs, (Inputs, str, Path), "econ.Inputs, a directory or None")
    choice_argument("baseline", baseline, BASELINES)
    check_members(members)
    check_rng(rng)
    check_freq(freq)
    chunk = _chunks(chunks, chunk_size, default_chunk)
    if months is not None:
        int_argument("months", months, 1, MAX_MONTHS, f"give 1 to {MAX_MONTHS} months")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if months is not None:
        sc = sc.with_months(months)
    inp = inputs_for(sc, inputs, base_year)
    return sc, inp, baseline_forecast(inp, sc, baseline), chunk


def _chunks(chunks: Any, chunk_size: Any, default: int = CHUNK) -> int:
    """Members per chunk from ``chunks`` or its former name ``chunk_size``, else ``default``."""
    if chunks is not None and chunk_size is not None:
        raise argument_error(
            "chunks", "given together with its alias chunk_size", chunk_size, "give only chunks"
        )
    if chunk_size is not None:
        return int_argument("chunk_size", chunk_size, 1, MAX_MEMBERS)
    return int_argument("chunks", default if chunks is None else chunks, 1, MAX_MEMBERS)
