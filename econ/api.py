"""The public entry point: resolve a scenario, inputs and baseline, and run it (:func:`run`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .analysis.forecast import BASELINES, baseline_forecast
from .io.inputs import inputs_for
from .io.scenarios import load_scenario
from .model.arguments import check_freq, check_members, check_rng
from .model.ensemble import run_members
from .model.kernel import MODES as KERNEL_MODES
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

__all__ = ["BASELINES", "baseline_forecast", "run"]


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
        Members per vectorised chunk (default 100; bounds memory; results do not depend on
        it). The default keeps a chunk's daily work arrays within a core's cache; 1,000
        members of the default scenario run fastest with chunks of about 100. With ``dask``,
        each chunk is one task.
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

    Examples
    --------
    >>> import econ
    >>> ds = econ.run("default", months=3)
    >>> float((ds.baseline_customs_revenue - ds.customs_revenue).sum()) > 0
    True

    Non-finite members (NaN or inf in any model output) are counted in the attribute
    ``nonfinite_members`` and logged as a warning; they are kept, not dropped.
    """
    type_argument(
        "scenario", scenario, (Scenario, str, Path), "an econ.Scenario, a built-in name or a path"
    )
    if inputs is not None:
        type_argument("inputs", inputs, (Inputs, str, Path), "econ.Inputs, a directory or None")
    choice_argument("baseline", baseline, BASELINES)
    members = check_members(members)
    check_rng(rng)
    check_freq(freq)
    chunk = _chunks(chunks, chunk_size)
    if kernel is not None:
        choice_argument("kernel", kernel, KERNEL_MODES)
    if months is not None:
        int_argument("months", months, 1, MAX_MONTHS, f"give 1 to {MAX_MONTHS} months")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if months is not None:
        sc = sc.with_months(months)
    inp = inputs_for(sc, inputs, base_year)
    fc = baseline_forecast(inp, sc, baseline)
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


def _chunks(chunks: Any, chunk_size: Any) -> int:
    """Members per chunk from ``chunks`` or its former name ``chunk_size`` (default 100)."""
    if chunks is not None and chunk_size is not None:
        raise argument_error(
            "chunks", "given together with its alias chunk_size", chunk_size, "give only chunks"
        )
    if chunk_size is not None:
        return int_argument("chunk_size", chunk_size, 1, MAX_MEMBERS)
    return int_argument("chunks", 100 if chunks is None else chunks, 1, MAX_MEMBERS)
