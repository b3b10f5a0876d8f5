"""The model: one run of a scenario, assembled from its stages.

:class:`Model` builds the :class:`~econ.model.network.Network` (static), the
:class:`~econ.model.draws.Draws` (member values), the :class:`~econ.model.schedule.Schedule`
(compiled measures), the :class:`~econ.model.engine.Engine` (state and the daily step) and
the :class:`~econ.model.record.RunRecord` (period sums → Dataset), and steps them together.
A deterministic run is one member; an ensemble chunk is many, along the leading ``member``
axis of every array.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..spec.checks import argument_error
from ..spec.in_force import check_measure_ids, warn_missing_measures
from ..spec.inputs import Inputs
from ..spec.scenario import Scenario
from . import arguments as arg
from .draws import Draws
from .economy import Economy
from .engine import Engine
from .memory import check_memory, model_bytes
from .network import Network
from .record import VARIABLES, RunRecord
from .schedule import Schedule

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger(__name__)


def root_seed(rng: int | np.random.Generator | None, scenario: Scenario) -> int:
    """The ensemble's root seed: ``rng`` (an int, or one integer drawn from a Generator),
    else the scenario's ``seed``, else 0."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**63 - 1))
    if rng is not None:
        return int(rng)
    if scenario.seed is not None:
        return int(scenario.seed)
    return 0


class Model:
    """Day-by-day simulation of customs revenue through Afghanistan's crossings.

    Parameters
    ----------
    inputs, scenario
        Validated inputs and scenario.
    members
        Ensemble size; ``1`` is the deterministic run at central values.
    rng
        Root seed (int) for ensembles; member ``m`` draws from
        ``numpy.random.default_rng([m, seed])``.
    freq
        Reporting frequency of :meth:`result` (``"MS"`` monthly, ``"D"`` daily, ...).
    member_ids
        Explicit member numbers (for chunked ensembles); default ``range(members)``.
    baseline_index
        Multiplier on base-year flows, shape (T,) or (M, T); default 1 (flat at the base year).
    forecast
        A baseline forecast covering the horizon (:class:`econ.analysis.forecast.Forecast`,
        or any object with its ``month_positions`` and ``baseline_index`` methods): the
        baseline follows its median path (deterministic run) or each member's own quantile of
        it (ensemble). Overrides ``baseline_index``.
    values
        Explicit per-member values, each (M,), for named parameters or measure fields
        (:func:`econ.spec.measure_key`, e.g. ``"queue_patience_days"`` or
        ``"measure4.closure.end"``). Nothing is drawn: every other number stays at its
        central value. Used for sensitivity runs, fit grids and calibration steps.
    network
        A prebuilt :class:`Network` of ``inputs`` (saves rebuilding it for many runs).
    economy
        Step the input-output layer (docs/economy.md) after the engine each day; ``None``
        (default): when the inputs have an IO table. Without it, freight never changes and the
        economy's variables are not in the result.
    """

    def __init__(
        self,
        inputs: Inputs,
        scenario: Scenario,
        *,
        members: int = 1,
        rng: int | np.random.Generator | None = None,
        freq: str = "MS",
        member_ids: np.ndarray | None = None,
        baseline_index: np.ndarray | None = None,
        forecast: Any = None,
        values: Mapping[str, np.ndarray] | None = None,
        network: Network | None = None,
        economy: bool | None = None,
    ) -> None:
        # every argument checked before any work: one line naming it (econ.model.arguments)
        arg.check_inputs_argument(inputs)
        arg.check_scenario_argument(scenario)
        members = arg.check_members(members)
        arg.check_rng(rng)
        arg.check_freq(freq)
        member_ids = arg.check_member_ids(member_ids, members)
        arg.check_forecast(forecast)
        if network is not None and not isinstance(network, Network):
            raise argument_error("network", "expected an econ.Network or None", network)
        ids = np.arange(members) if member_ids is None else member_ids
        n_days = (scenario.end - scenario.start).days
        arg.check_baseline_index(baseline_index, len(ids), n_days)
        arg.check_values(values, inputs, scenario, len(ids))
        check_memory(
            {"the run's state and period sums": model_bytes(inputs, scenario, len(ids), freq)},
            what=f"Model with {len(ids):,} member(s)",
            fix="run fewer members at a time (econ.run chunks them with chunk_size)",
        )
        self.inputs, self.scenario, self.freq = inputs, scenario, freq
        if member_ids is None:  # a whole run (chunks of an ensemble are checked by run_members)
            warn_missing_measures(scenario, inputs.measures_in_force)
            if scenario.base_year and scenario.base_year != inputs.label:
                log.warning(
                    "%s is written for base year %s but runs on inputs of %s "
                    "(econ.run and the CLI pick the scenario's own; econ.io.inputs.inputs_for)",
                    scenario.name,
                    scenario.base_year,
                    inputs.label,
                )
        else:
            check_measure_ids(scenario, inputs.measures_in_force)
        self.network = Network.from_inputs(inputs) if network is None else network
        self.draws = Draws.build(
            inputs.parameters,
            scenario,
            self.network.commodity_ids,
            member_ids=ids,
            seed=root_seed(rng, scenario),
            deterministic=members == 1 and member_ids is None,
            overrides=values,
            forecast=forecast is not None,
        )
        self.days = pd.date_range(scenario.start, scenario.end, inclusive="left", freq="D")
        self.schedule = Schedule(self.network, scenario, self.draws, len(self.days))
        n_members = self.draws.n_members
        if forecast is not None:
            from .baseline import forecast_index

            baseline_index = forecast_index(
                forecast, inputs.base_year, self.days, self.draws.baseline_quantile
            )
        self.baseline_index = (
            np.ones((n_members, len(self.days)))
            if baseline_index is None
            else np.broadcast_to(np.asarray(baseline_index, float), (n_members, len(self.days)))
        )
        self.forecast = forecast
        baseline = (
            "flat (base-year level)"
            if forecast is None
            else f"forecast: {forecast.model} ({forecast.selection})"
        )
        self.engine = Engine(self.network, self.draws, self.schedule, self.baseline_index)
        table = inputs.economy if economy or economy is None else None
        if economy and table is None:
            raise ValueError("economy=True needs inputs with an IO table (inputs/io/)")
        self.economy = (
            None if table is None else Economy(table, self.network, self.draws, self.baseline_index)
        )
        self.record = RunRecord(
            self.network,
            self.draws,
            scenario,
            self.days,
            freq,
            self.baseline_index,
            baseline,
            economy=table,
        )

    # ------------------------------------------------------------------ stepping
    @property
    def t(self) -> int:
        """Days simulated so far."""
        return self.engine.day

    @property
    def T(self) -> int:
        """Days in the horizon."""
        return len(self.days)

    @property
    def member_ids(self) -> np.ndarray:
        return self.draws.member_ids

    @property
    def measures(self):
        """The scenario's compiled measures (:class:`~econ.model.schedule.CompiledMeasure`)."""
        return self.schedule.measures

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The engine's state after the last day simulated (full shapes; see
        :meth:`Engine.full_state`)."""
        return self.engine.full_state()

    def step(self) -> dict[str, np.ndarray]:
        """Advance the simulation by one day; returns that day's national figures, (M,) each:
        ``customs_revenue``, ``baseline_customs_revenue`` (USD) and ``queue_trucks`` (M, C)."""
        day = self.engine.step()
        self.record.add(day)
        if self.economy is not None:
            eday = self.economy.step(day)
            # the one coupling back: tomorrow's freight cost follows today's fuel price
            self.engine.freight_multiplier = eday.freight_multiplier
            self.record.add_economy(eday)
        return {
            "customs_revenue": day.revenue,
            "baseline_customs_revenue": day.baseline_revenue,
            "queue_trucks": day.queue_trucks.copy(),
        }

    def run(self, progress: Callable[[int, int], None] | None = None) -> Model:
        """Step to the end of the horizon; ``progress(done, total)`` is called each 30 days."""
        while self.t < self.T:
            self.step()
            if progress is not None and (self.t % 30 == 0 or self.t == self.T):
                progress(self.t, self.T)
        return self

    # ------------------------------------------------------------------ results
    @property
    def out(self) -> dict[str, np.ndarray]:
        """Per-period sums of the days simulated, (M, P, ...) numpy (:meth:`RunRecord.sums`)."""
        return self.record.sums()

    def ledger(self) -> dict[str, np.ndarray]:
        """Who pays, per member and period (numpy; see :meth:`RunRecord.ledger`)."""
        return self.record.ledger()

    def result(self):
        """The labelled result of the days simulated, an :class:`xarray.Dataset`
        (docs/outputs.md), with its non-finite members counted (:func:`finish`)."""
        return finish(self.record.to_dataset())


def finish(ds: xr.Dataset) -> xr.Dataset:
    """Count members with non-finite model outputs; log them (never drop them).

    The root seed becomes a string attribute: any seed up to 2^64 - 1 is kept exactly and
    can be written to netCDF (whose integer attributes are 32-bit)."""
    ds.attrs["seed"] = str(ds.attrs["seed"])
    bad = np.zeros(ds.sizes["member"], bool)
    for name in VARIABLES:
        da = ds[name]
        bad |= ~np.isfinite(da.values).reshape(da.sizes["member"], -1).all(axis=1)
    n = int(bad.sum())
    ds.attrs["nonfinite_members"] = n
    if n:
        log.warning(
            "%d of %d member(s) have non-finite results (members %s); they are kept",
            n,
            ds.sizes["member"],
            ", ".join(map(str, ds["member"].values[bad][:10])),
        )
    return ds
