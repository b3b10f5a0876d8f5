"""The public entry points: load inputs and scenarios, run a scenario."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr

from .inputs import Inputs, load_inputs
from .model import Model
from .scenario import Scenario, load_scenario

log = logging.getLogger(__name__)


def run(scenario: Scenario | str | Path, *, inputs: Inputs | str | Path | None = None,
        freq: str = "MS", members: int = 1, rng: int | np.random.Generator | None = None,
        months: int | None = None,
        progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
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
        Ensemble size (1 = deterministic run at central parameter values).
    rng
        Root seed for ensembles (SPEC 7); defaults to the scenario's ``seed`` or 0.
    months
        Override the scenario's horizon.
    progress
        Callback ``progress(days_done, days_total)``.

    Examples
    --------
    >>> import econ
    >>> ds = econ.run("default", months=3)
    >>> float((ds.baseline_customs_revenue - ds.customs_revenue).sum()) > 0
    True
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if months is not None:
        sc = sc.with_months(months)
    inp = inputs if isinstance(inputs, Inputs) else load_inputs(inputs)
    model = Model(inp, sc, members=members, rng=rng, freq=freq)
    log.info("running %s: %d days, %d member(s)", sc.name, model.T, model.M)
    return model.run(progress=progress).result()
