"""The model: one run of a scenario, assembled from its stages.

:class:`Model` builds the :class:`~econ.model.network.Network` (static), the
:class:`~econ.model.draws.Draws` (member values), the :class:`~econ.model.schedule.Schedule`
(compiled measures), the :class:`~econ.model.engine.Engine` (state and the daily step) and
the :class:`~econ.model.record.RunRecord` (period sums → Dataset), and steps them together.
A deterministic run is one member; an ensemble chunk is many, along the leading ``member``
axis of every array.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..spec.checks import argument_error, int_argument
from ..spec.in_force import check_measure_ids, warn_missing_measures
from ..spec.inputs import Inputs
from ..spec.scenario import MEASURE_TYPES, Scenario, _Measure, measure_fields, measure_key
from . import arguments as arg
from . import kernel as _kernel
from .compiled import attach, attach_economy, attach_record
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


@dataclasses.dataclass(frozen=True)
class DayValues(Mapping):
    """What one simulated day produced, labelled: returned by :meth:`Model.step`.

    Arrays lead with the ``member`` axis (length 1 in a deterministic run); crossing arrays
    follow the order of :attr:`crossing`. Amounts in USD for that day. A ``Mapping`` too:
    ``day["customs_revenue"]``. :meth:`to_frame` and :meth:`to_xarray` label everything.
    """

    date: dt.date  #: the day simulated
    member: np.ndarray  #: (M,) member numbers
    crossing: tuple[str, ...]  #: crossing ids
    customs_revenue: np.ndarray  #: (M,) USD, national customs revenue of the day
    baseline_customs_revenue: np.ndarray  #: (M,) USD, the same without the measures
    customs_revenue_by_crossing: np.ndarray  #: (M, C) USD
    queue_trucks: np.ndarray  #: (M, C) trucks queuing at the day's end
    wait_days: np.ndarray  #: (M, C) expected wait at the day's end (days)

    _FIELDS = (
        "customs_revenue",
        "baseline_customs_revenue",
        "customs_revenue_by_crossing",
        "queue_trucks",
        "wait_days",
    )

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._FIELDS)

    def __len__(self) -> int:
        return len(self._FIELDS)

    @property
    def revenue_change(self) -> np.ndarray:
        """(M,) USD: customs revenue minus the baseline's (negative = lost)."""
        return self.customs_revenue - self.baseline_customs_revenue

    def to_frame(self) -> pd.DataFrame:
        """The crossing figures, one row per (member, crossing), with the day's date."""
        M, C = len(self.member), len(self.crossing)
        idx = pd.MultiIndex.from_product(
            [self.member, list(self.crossing)], names=["member", "crossing"]
        )
        df = pd.DataFrame(
            {
                "customs_revenue": self.customs_revenue_by_crossing.reshape(M * C),
                "queue_trucks": self.queue_trucks.reshape(M * C),
                "wait_days": self.wait_days.reshape(M * C),
            },
            index=idx,
        )
        df.attrs["date"] = self.date.isoformat()
        return df

    def to_xarray(self):
        """An :class:`xarray.Dataset` with ``member`` and ``crossing`` dimensions and a scalar
        ``time`` coordinate."""
        import xarray as xr

        coords = {"member": self.member, "crossing": list(self.crossing)}
        mc, m = ("member", "crossing"), ("member",)
        ds = xr.Dataset(
            {
                "customs_revenue": (m, self.customs_revenue, {"units": "USD/day"}),
                "baseline_customs_revenue": (
                    m,
                    self.baseline_customs_revenue,
                    {"units": "USD/day"},
                ),
                "customs_revenue_by_crossing": (
                    mc,
                    self.customs_revenue_by_crossing,
                    {"units": "USD/day"},
                ),
                "queue_trucks": (mc, self.queue_trucks, {"units": "truck"}),
                "wait_days": (mc, self.wait_days, {"units": "day"}),
            },
            coords=coords,
        )
        return ds.assign_coords(time=pd.Timestamp(self.date))


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
    kernel
        The daily step: ``"numpy"`` (the reference), ``"cached"`` (the numba-compiled day if
        numba is installed and the day is already compiled, else numpy), ``"compile"``
        (compile it once if needed) or ``"numba"``; ``None`` (default): ``"cached"``
        (:mod:`econ.model.kernel`; the environment variable ``CHOKEPOINT_KERNEL`` overrides).
        The two agree to rounding (docs/performance.md, "Compiled day").
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
        kernel: str | None = None,
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
            fix="run fewer members at a time (econ.run chunks them with chunks=)",
        )
        self.inputs, self.scenario, self.freq = inputs, scenario, freq
        self._overrides = dict(values or {})
        self._forecast_used = forecast is not None
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
        if _kernel.resolve(kernel, "compile" if n_members > 1 else "cached") == "numba":
            attach(self.engine)
        table = inputs.economy if economy or economy is None else None
        if economy and table is None:
            raise ValueError("economy=True needs inputs with an IO table (inputs/io/)")
        self.economy = (
            None if table is None else Economy(table, self.network, self.draws, self.baseline_index)
        )
        if self.economy is not None and self.engine.compiled is not None:
            attach_economy(self.economy, self.engine)
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
        if self.engine.compiled is not None:
            attach_record(self.record, self.engine)
            self._one_member_days()
        # days run for the first member alone, which the others have yet to take (_catch_up)
        self._behind = False

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

    @property
    def date(self) -> dt.date:
        """The next day to simulate (the first day after the horizon once it is done)."""
        return self.scenario.start + dt.timedelta(days=self.t)

    def _advance(self, one: bool = False):
        day = self.engine.step(one)
        alone = day.revenue.shape[0] < self.draws.n_members  # a shared day, the first member's
        if alone:
            self._behind = True
        else:
            self._catch_up()
        self.record.add(day)
        if self.economy is not None:
            eday = self.economy.step(day)
            # the one coupling back: tomorrow's freight cost follows today's fuel price
            fm = eday.freight_multiplier
            self.engine.freight_multiplier = np.repeat(fm, self.draws.n_members) if alone else fm
            self.record.add_economy(eday)  # one member's sums added to each member's
        return day

    def _one_member_days(self) -> None:
        """Let the compiled day leave shared days to the first member (:meth:`run`) where the
        economy's members are alike too (or there is no economy)."""
        uniform = self.economy is None or self.economy.compiled.uniform
        self.engine.compiled.one_member_days = uniform

    def _catch_up(self) -> None:
        """After days run for the first member alone (shared days, :meth:`run`), give the
        other members its economy state and record sums, which are theirs too."""
        if self._behind:
            self.record.compiled.catch_up()
            if self.economy is not None:
                self.economy.compiled.catch_up()
            self._behind = False

    def step(self) -> DayValues:
        """Advance the simulation by one day and return that day's figures, labelled by date,
        member and crossing (:class:`DayValues`). Raises ``RuntimeError`` past the horizon."""
        date = self.date
        day = self._advance()
        net = self.network
        return DayValues(
            date=date,
            member=self.member_ids.copy(),
            crossing=tuple(net.crossing_ids),
            customs_revenue=day.revenue.copy(),
            baseline_customs_revenue=day.baseline_revenue.copy(),
            customs_revenue_by_crossing=net.cells.pairs_to_crossing(day.revenue_pairs),
            queue_trucks=day.queue_trucks.copy(),
            wait_days=day.wait_days.copy(),
        )

    def run(self, progress: Callable[[int, int], None] | None = None) -> Model:
        """Step to the end of the horizon; ``progress(done, total)`` is called each 30 days.

        With the compiled day, the neutral days before any measure (identical members in
        the state they started from, docs/performance.md "Seventh pass") run for the first
        member alone: nothing else runs between two days here, so the members need not be
        compared again, and the others take the first member's economy state and sums once,
        before the first day that is not shared and before each ``progress`` call."""
        one = False  # the state may have been touched since the last day: compare it
        try:
            while self.t < self.T:
                self._advance(one)
                one = True
                if progress is not None and (self.t % 30 == 0 or self.t == self.T):
                    self._catch_up()
                    progress(self.t, self.T)
                    one = False
        finally:
            self._catch_up()
        if self.engine.compiled is not None:  # the horizon is over: free the kernel's buffers
            self.engine.compiled.release()
        return self

    # ------------------------------------------------------------------ measures during a run
    def add_measure(self, measure: Any) -> int:
        """Put a new measure in force from its ``start`` (today or later) and return its number
        (1-based, as in messages and in ``measure{n}.*`` keys).

        ``measure`` is one of the measure classes (:class:`econ.Tariff`, :class:`econ.Closure`,
        ...). Its selectors are checked against the network as for a scenario file; the
        members' parameter draws and the other measures stay as they are, and a ``[low, high]``
        range of the new measure is drawn for each member. The result then records the
        scenario with the measure added (``scenario_text``).
        """
        if not isinstance(measure, _Measure):
            raise argument_error(
                "measure", "expected a measure (econ.Tariff, econ.Closure, ...)", measure
            )
        if measure.start < self.date:
            raise argument_error(
                "measure",
                f"it starts {measure.start}, before the next day to simulate ({self.date})",
                fix=f"start it on {self.date} or later",
            )
        self._check_in_horizon(measure, len(self.scenario.measures))
        self._reschedule([*self.scenario.measures, measure], changed=len(self.scenario.measures))
        return len(self.scenario.measures)

    def change_measure(self, number: int, **fields: Any) -> Any:
        """Change fields of measure ``number`` (1-based) from the next day on, e.g.
        ``model.change_measure(1, rate=0.2)`` or ``end=date``; returns the changed measure.

        The days already simulated keep what they were; the other measures and the members'
        draws are unchanged. The result records the scenario as changed (re-running that text
        from the start reproduces the run only for changes made before the measure began).
        """
        n = len(self.scenario.measures)
        number = int_argument("number", number, 1, n, f"give a measure number from 1 to {n}")
        old = self.scenario.measures[number - 1]
        if "type" in fields and fields["type"] != old.type:
            raise argument_error(
                "type",
                f"measure {number} is a {old.type}; a change keeps the type",
                fields["type"],
                fix="add a new measure instead",
            )
        unknown = set(fields) - set(type(old).model_fields)
        if unknown:
            raise argument_error(
                "fields",
                f"{old.type} has no field(s) {', '.join(sorted(unknown))}",
                fix=f"use {', '.join(type(old).model_fields)}",
            )
        try:
            new = type(old).model_validate({**old.model_dump(), **fields})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "fields"
            raise argument_error(where, err["msg"].replace("Value error, ", "")) from None
        self._check_in_horizon(new, number - 1)
        measures = list(self.scenario.measures)
        measures[number - 1] = new
        self._reschedule(measures, changed=number - 1)
        return new

    def _check_in_horizon(self, m: Any, index: int) -> None:
        last = m.end[1] if isinstance(m.end, tuple) else m.end
        if m.start >= self.scenario.end or (last is not None and last <= self.date):
            raise argument_error(
                "measure",
                f"measure {index + 1} ({m.type}) runs from {m.start} to {last or 'open end'}, "
                f"outside the days still to simulate ({self.date} .. {self.scenario.end}, "
                "exclusive): it would change nothing",
            )

    def _reschedule(self, measures: list, changed: int) -> None:
        """Recompile the schedule for ``measures``; the parameter draws, the baseline and the
        values of every measure but ``changed`` are kept."""
        assert all(m.type in MEASURE_TYPES for m in measures)
        sc = self.scenario.model_copy(update={"measures": measures, "text": ""})
        old_keys = {
            measure_key(changed, m.type, f)
            for m in self.scenario.measures[changed : changed + 1]
            for f in measure_fields(m)
        }
        overrides = {k: v for k, v in self._overrides.items() if k not in old_keys}
        new = Draws.build(
            self.inputs.parameters,
            sc,
            self.network.commodity_ids,
            member_ids=self.draws.member_ids,
            seed=self.draws.seed,
            deterministic=self.draws.deterministic,
            overrides=overrides,
            forecast=self._forecast_used,
        )
        new_keys = {
            measure_key(changed, measures[changed].type, f)
            for f in measure_fields(measures[changed])
        }
        kept = {k: v for k, v in self.draws.measure_values.items() if k not in old_keys | new_keys}
        values = {k: v for k, v in new.values.items() if k in new_keys}
        values = {**{k: v for k, v in self.draws.values.items() if k not in old_keys}, **values}
        draws = dataclasses.replace(
            new,
            params=self.draws.params,
            values=values,
            measure_values={**new.measure_values, **kept},
            baseline_quantile=self.draws.baseline_quantile,
        )
        schedule = Schedule(self.network, sc, draws, self.T)  # raises before anything changes
        self.scenario, self.draws, self.schedule = sc, draws, schedule
        self.engine.draws, self.engine.schedule = draws, schedule
        self.engine.memo.key = None
        if self.engine.compiled is not None:  # its layout holds the old schedule's wedges
            attach(self.engine)
            self._one_member_days()
        self.record.scenario, self.record.draws = sc, draws
        log.info("%s: measures rescheduled on %s (measure %d)", sc.name, self.date, changed + 1)

    # ------------------------------------------------------------------ results
    @property
    def out(self) -> dict[str, np.ndarray]:
        """Per-period sums of the days simulated, (M, P, ...) numpy (:meth:`RunRecord.sums`)."""
        return self.record.sums()

    def ledger(self) -> dict[str, np.ndarray]:
        """Who pays, per member and period (numpy; see :meth:`RunRecord.ledger`)."""
        return self.record.ledger()

    def result(self, variables: Iterable[str] | None = None):
        """The labelled result of the days simulated, an :class:`xarray.Dataset`
        (docs/outputs.md), with its non-finite members counted (:func:`finish`).

        ``variables`` names the data variables to build (default: all of them): a caller that
        reads a few (the fit reads five) skips the rest of the work, the ledger included when
        none of its variables is named. The non-finite count is then over those kept. An
        unknown name is a ``ValueError``."""
        ds = self.record.to_dataset(variables)
        ds.attrs["kernel"] = self.engine.kernel
        return finish(ds)


def finish(ds: xr.Dataset) -> xr.Dataset:
    """Count members with non-finite model outputs; log them (never drop them).

    The root seed becomes a string attribute: any seed up to 2^64 - 1 is kept exactly and
    can be written to netCDF (whose integer attributes are 32-bit)."""
    ds.attrs["seed"] = str(ds.attrs["seed"])
    bad = np.zeros(ds.sizes["member"], bool)
    for name in (v for v in VARIABLES if v in ds):
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
