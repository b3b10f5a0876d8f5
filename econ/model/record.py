"""The run record: the daily engine's output summed by reporting period, and its labelled form.

:class:`RunRecord` keeps period sums (period-first, on cells and pairs) while the engine
steps; :meth:`RunRecord.sums` derives the revenue components, baseline flows and costs per
period, :meth:`RunRecord.ledger` who pays (:mod:`econ.model.ledger`), and
:meth:`RunRecord.to_dataset` the self-describing CF :class:`xarray.Dataset` (docs/outputs.md).
Part-way through a run, everything covers only the days simulated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._version import __version__
from ..spec.io_table import IOTable
from ..spec.scenario import Scenario
from . import ledger
from .draws import Draws
from .economy import EconomyDay
from .engine import Day
from .network import Network
from .quantiles import nanquantile

#: reporting frequencies: the ``freq`` argument and the pandas period it sums over
FREQS = {
    "D": "D",
    "W": "W",
    "MS": "M",
    "M": "M",
    "QS": "Q",
    "Q": "Q",
    "YS": "Y",
    "AS": "Y",
    "Y": "Y",
}
#: the engine Day's pair fields (M, G) summed into each period, as (accumulator, field)
PAIR_FIELDS = (
    ("trade_value", "cleared"),
    ("customs_revenue", "revenue_pairs"),
    ("evaded_revenue", "evaded"),
    ("rate_change_revenue", "rate_change"),
    ("cancelled_value", "cancelled"),
    ("spoiled_value", "spoiled"),
    ("trade_lost_value", "lost"),
    ("diverted_value", "diverted"),
    ("delayed_value", "delayed"),
    ("queue_truck_days", "queue_trucks_pairs"),
)
#: the cell sums (M, F) of each period: arrivals and what traders pay on them
CELL_FIELDS = (
    "route_trade_value",
    "tariff_paid",
    "guarantee_cost",
    "locked_value_days",
    "congestion_cost",
)
#: name -> (dims after member/time, units, long_name, cell method)
VARIABLES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "trade_value": (
        ("crossing", "commodity"),
        "USD",
        "Trade value cleared through the crossing (imports and exports; see the direction "
        "coordinate)",
        "sum",
    ),
    "baseline_trade_value": (
        ("crossing", "commodity"),
        "USD",
        "Trade value cleared in the no-measure baseline",
        "sum",
    ),
    "customs_revenue": (
        ("crossing", "commodity"),
        "USD",
        "Afghan customs revenue collected",
        "sum",
    ),
    "baseline_customs_revenue": (
        ("crossing", "commodity"),
        "USD",
        "Afghan customs revenue in the no-measure baseline",
        "sum",
    ),
    "customs_revenue_afn": (
        ("crossing", "commodity"),
        "AFN",
        "Afghan customs revenue collected, at the base-year exchange rate",
        "sum",
    ),
    "spoiled_value": (
        ("crossing", "commodity"),
        "USD",
        "Value of cargo spoiled while queuing",
        "sum",
    ),
    "revenue_lost_volume": (
        ("crossing", "commodity"),
        "USD",
        "Revenue lost because less is traded: the demand response to landed costs (booked where "
        "the demand system's target fell short of the baseline) and orders cancelled with no "
        "open route (booked where they were bound)",
        "sum",
    ),
    "revenue_diverted": (
        ("crossing", "commodity"),
        "USD",
        "Revenue lost (+) or gained (-) by re-routing between Afghan crossings; sums to ~0 "
        "nationally",
        "sum",
    ),
    "revenue_delayed": (
        ("crossing", "commodity"),
        "USD",
        "Revenue held back in queues, re-routed cargo and the order backlog (+), or recovered as "
        "backlogs clear (-)",
        "sum",
    ),
    "revenue_lost_spoilage": (
        ("crossing", "commodity"),
        "USD",
        "Revenue lost on cargo spoiled in queues",
        "sum",
    ),
    "revenue_lost_evasion": (
        ("crossing", "commodity"),
        "USD",
        "Revenue lost to evasion as the Afghan collected rate rises (Fisman & Wei); a fee paid "
        "abroad does not change it",
        "sum",
    ),
    "revenue_rate_change": (
        ("crossing", "commodity"),
        "USD",
        "Revenue lost (+) or gained (-) through changes in the Afghan collected rate "
        "(afghan_duty measures), on the value cleared",
        "sum",
    ),
    "trade_cancelled_value": (
        ("crossing", "commodity"),
        "USD",
        "Value of orders cancelled after waiting longer than traders' patience with no open "
        "route, by the crossing they were bound for",
        "sum",
    ),
    "queue_trucks": (("crossing",), "truck", "Trucks queuing at the end of the period", "point"),
    "queue_trucks_max": (
        ("crossing",),
        "truck",
        "Largest end-of-day queue within the period",
        "max",
    ),
    "wait_days": (("crossing",), "day", "Mean expected wait for a truck joining the queue", "mean"),
    "route_trade_value": (("route", "commodity"), "USD", "Trade value arriving by route", "sum"),
    "baseline_route_trade_value": (
        ("route", "commodity"),
        "USD",
        "Trade value arriving by route in the no-measure baseline",
        "sum",
    ),
    "tariff_paid": (
        ("route", "commodity"),
        "USD",
        "Fees and tariffs paid to the corridor country",
        "sum",
    ),
    "guarantee_cost": (
        ("route", "commodity"),
        "USD",
        "Cost of bank guarantees (fees and opportunity cost)",
        "sum",
    ),
    "capital_locked": (
        ("route", "commodity"),
        "USD",
        "Mean capital locked in guarantees over the period",
        "mean",
    ),
    "extra_transport_cost": (
        ("route", "commodity"),
        "USD",
        "Extra freight and time cost: waits and delays beyond the route's baseline, plus the "
        "premium of a costlier route mix",
        "sum",
    ),
    "demurrage_cost": (("crossing", "commodity"), "USD", "Truck demurrage while queuing", "sum"),
}

#: who-pays variables from :meth:`RunRecord.ledger`:
#: name -> (dims after member, units, long_name, cell method)
LEDGER_VARIABLES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "trader_cost": (
        ("time", "group", "component"),
        "USD",
        "Extra cost borne by the trader group, by component",
        "sum",
    ),
    "trader_baseline_margin": (
        ("time", "group"),
        "USD",
        "Trader group's gross margin in the no-measure baseline",
        "sum",
    ),
    "trader_capital_locked": (
        ("time", "group"),
        "USD",
        "Mean capital the trader group has locked in guarantees",
        "mean",
    ),
    "trader_pressure": (
        ("time", "group"),
        "1",
        "Trader pressure: extra cost / baseline gross margin in the period",
        "mean",
    ),
    "trader_pressure_accumulated": (
        ("time", "group"),
        "month",
        "Accumulated pressure: months of baseline margin lost, decaying with "
        "pressure_half_life_days (end of period)",
        "point",
    ),
    "protest_risk": (
        ("time", "group"),
        "1",
        "Protest risk: logistic in accumulated pressure (end of period)",
        "point",
    ),
    "pakistan_cost": (
        ("time", "pakistan_component"),
        "USD",
        "Pakistan's ledger, like for like with the Afghan side: fiscal lines (fees collected; "
        "customs levies and provincial cess lost) and value-added lines (exporters' and "
        "transporters' direct value added lost); losses net over Pakistani routes",
        "sum",
    ),
    "pakistan_fiscal_net_cost": (
        ("time",),
        "USD",
        "Pakistan's net fiscal cost: customs levies lost + provincial cess lost - fees collected",
        "sum",
    ),
    "pakistan_value_added_lost": (
        ("time",),
        "USD",
        "Pakistan's direct value added lost: its exporters' on exports to Afghanistan lost, its "
        "transporters' on transit freight lost",
        "sum",
    ),
    "afghan_value_added_lost": (
        ("time",),
        "USD",
        "Afghan traders' and truckers' direct value added (gross margins) lost on trade forgone",
        "sum",
    ),
    "treasury_loss": (
        ("time",),
        "USD",
        "Afghan customs revenue lost against the baseline (baseline - scenario, national)",
        "sum",
    ),
    "coercion_exchange_ratio": (
        ("time",),
        "1",
        "Fiscal exchange ratio: Afghan customs revenue lost per USD of Pakistan's net fiscal "
        "cost in the period (inf where Pakistan's treasury gives up nothing or gains while "
        "Afghanistan's loses; NaN where neither loses)",
        "point",
    ),
    "coercion_exchange_ratio_cumulative": (
        ("time",),
        "1",
        "Fiscal exchange ratio, cumulative from the start (inf and NaN as for the period ratio)",
        "point",
    ),
    "value_added_exchange_ratio": (
        ("time",),
        "1",
        "Value-added exchange ratio: Afghan direct value added lost per USD of Pakistan's direct "
        "value added lost in the period (inf where Pakistan loses none; NaN where neither does)",
        "point",
    ),
    "value_added_exchange_ratio_cumulative": (
        ("time",),
        "1",
        "Value-added exchange ratio, cumulative from the start",
        "point",
    ),
    "leverage_half_life_months": (
        (),
        "month",
        "Months from the peak monthly revenue loss until it halves "
        "(NaN: no loss, or it does not halve within the horizon)",
        "point",
    ),
}

#: variables of the input-output layer (docs/economy.md), present when the run has an economy
#: stage: name -> (dims after member/time, units, long_name, cell method)
ECONOMY_VARIABLES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "sector_output_loss": (
        ("sector",),
        "USD",
        "Output the sector did not produce against the no-measure baseline: imported inputs "
        "rationed, domestic inputs rationed, demand (intermediate and exports) lost",
        "sum",
    ),
    "domestic_revenue_lost": (
        (),
        "USD",
        "Domestic (non-customs) revenue lost: sector output loss x effective domestic revenue "
        "per USD of output (BRT, income taxes, royalties)",
        "sum",
    ),
    "treasury_revenue_lost": (
        (),
        "USD",
        "Total treasury revenue lost: customs revenue lost (treasury_loss) + domestic revenue lost",
        "sum",
    ),
    "employment_loss": (
        ("sector",),
        "person",
        "Jobs lost: output lost as a share of baseline output x baseline employment (mean over "
        "the period's days)",
        "mean",
    ),
    "staple_price_index": (
        ("item",),
        "1",
        "Retail price of the basket item relative to the baseline (1 = baseline): landed-cost "
        "pass-through plus scarcity (mean over the period's days)",
        "mean",
    ),
    "staple_price_index_max": (
        ("item",),
        "1",
        "Highest daily staple price index in the period",
        "max",
    ),
    "import_supply_ratio": (
        ("import_group",),
        "1",
        "Share of users' demand for the imported group met from arrivals and stocks (1 = no "
        "rationing; mean over the period's days)",
        "mean",
    ),
    "freight_multiplier": (
        (),
        "1",
        "Freight cost on every route relative to the baseline, from the fuel price (mean over "
        "the period's days)",
        "mean",
    ),
}

DECOMPOSITION = (
    "revenue_lost_volume",
    "revenue_diverted",
    "revenue_delayed",
    "revenue_lost_spoilage",
    "revenue_lost_evasion",
    "revenue_rate_change",
)


def cleared_by_route(
    cleared: np.ndarray, arrivals: np.ndarray, route_crossing: np.ndarray, v0: np.ndarray
) -> np.ndarray:
    """Trade cleared at the border by route, (..., R, K) USD: the one rule.

    Cleared value is known by crossing (``cleared`` (..., C, K)); arrivals by route
    (``arrivals`` (..., R, K)), some of which wait in the queue. Each crossing's cleared value
    is shared among its routes in proportion to their arrivals in the same period, or to their
    baseline flows ``v0`` (R, K) where nothing arrived (a backlog clearing after a closure).
    """
    n_crossings = cleared.shape[-2]
    onehot = np.zeros((len(route_crossing), n_crossings))
    onehot[np.arange(len(route_crossing)), route_crossing] = 1.0
    by_c = np.einsum("rc,...rk->...ck", onehot, arrivals)[..., route_crossing, :]
    base_c = (onehot.T @ v0)[route_crossing]
    base_share = np.divide(v0, base_c, out=np.zeros_like(v0), where=base_c > 0)
    share = np.where(by_c > 0, arrivals / np.where(by_c > 0, by_c, 1.0), base_share)
    return cleared[..., route_crossing, :] * share


def period_labels(days: pd.DatetimeIndex, freq: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The reporting periods of ``days`` (their start dates) and each day's period index."""
    per = days.to_period(FREQS[freq])
    labels = per.unique()
    index = labels.get_indexer(per)
    return (labels.start_time if freq != "D" else days), index


class RunRecord:
    """Period sums of a run, and their derived and labelled forms.

    Parameters
    ----------
    network, draws, scenario
        What the run is made of (labels, static numbers, member values, attributes).
    days
        The horizon's days; ``freq`` the reporting frequency (:data:`FREQS`).
    baseline_index
        (M, T) multiplier on base-year flows by day (for the baseline sums).
    baseline
        Description of the baseline for the attributes (flat, or the forecast used).
    economy
        The IO table when the run has an economy stage (its variables are then recorded).
    """

    def __init__(
        self,
        network: Network,
        draws: Draws,
        scenario: Scenario,
        days: pd.DatetimeIndex,
        freq: str,
        baseline_index: np.ndarray,
        baseline: str,
        economy: IOTable | None = None,
    ) -> None:
        if freq not in FREQS:
            raise ValueError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
        self.network, self.draws, self.scenario = network, draws, scenario
        self.days, self.freq, self.baseline_index, self.baseline = (
            days,
            freq,
            baseline_index,
            baseline,
        )
        self.periods, self.period_index = period_labels(days, freq)
        self.days_in_period = np.bincount(self.period_index, minlength=len(self.periods)).astype(
            float
        )
        self.days_done = 0
        M, P = draws.n_members, len(self.periods)
        cl, C, K = network.cells, network.n_crossings, network.n_commodities
        F, G = cl.n_cells, cl.n_pairs
        z = lambda *shape: np.zeros((P, M) + shape)  # noqa: E731
        # accumulators are period-first so that a day's update touches contiguous memory, and
        # on cells (F) and pairs (G) instead of (R, K) and (C, K); sums() presents them
        # member-first with full shapes
        # the day's pair and cell sums live in two blocks (the compiled record adds a day to
        # all of them in one pass, econ.model.compiled.CompiledRecord); acc holds views
        self.acc_g = np.zeros((len(PAIR_FIELDS), P, M, G))
        self.acc_f = np.zeros((len(CELL_FIELDS), P, M, F))
        self.acc = {
            **{name: self.acc_g[i] for i, (name, _) in enumerate(PAIR_FIELDS)},
            **{name: self.acc_f[i] for i, name in enumerate(CELL_FIELDS)},
            "queue_trucks": z(C),
            "queue_trucks_max": z(C),
            "wait_days": z(C),
            "mix_premium": z(K),
        }
        self.economy = economy
        if economy is not None:
            J, n_items = economy.n_sectors, len(economy.items)
            self.acc.update(
                {
                    "sector_output_loss": z(J),
                    "domestic_revenue_lost": z(),
                    "employment_loss": z(J),
                    "staple_price_index": z(n_items),
                    "staple_price_index_max": z(n_items),
                    "import_supply_ratio": z(len(economy.import_ids)),
                    "freight_multiplier": z(),
                }
            )
        self._tmp = np.empty((M, F))
        self._gather = np.empty((M, F))
        self._memo: dict[str, np.ndarray] | None = None
        #: the compiled daily sums (econ.model.compiled.CompiledRecord) when the day is compiled
        self.compiled = None

    # ------------------------------------------------------------------ accumulate
    def add(self, day: Day) -> None:
        """Add one engine day to its period's sums."""
        p = self.period_index[day.day]
        if self.compiled is not None:
            self.compiled.add(p, day)
            self.days_done = day.day + 1
            self._memo = None
            return
        o, tmp, cell = self.acc, self._tmp, self.network.cell
        for name, field in PAIR_FIELDS:
            o[name][p] += getattr(day, field)
        o["queue_trucks"][p] = day.queue_trucks
        o["queue_trucks_max"][p] = np.maximum(o["queue_trucks_max"][p], day.queue_trucks)
        o["wait_days"][p] += day.wait_days / self.days_in_period[p]
        arrivals = day.arrivals
        o["route_trade_value"][p] += arrivals
        # trader cost components (USD), used by the pressure ledger
        o["tariff_paid"][p] += np.multiply(day.wedges.tariff, arrivals, out=tmp)
        o["guarantee_cost"][p] += np.multiply(day.wedges.guarantee, arrivals, out=tmp)
        o["locked_value_days"][p] += np.multiply(day.wedges.locked, arrivals, out=tmp)
        congestion = np.multiply(arrivals, cell["delay_cost"], out=tmp)
        congestion *= day.delay
        o["congestion_cost"][p] += congestion
        premium = np.multiply(arrivals, cell["premium"], out=tmp)
        o["mix_premium"][p] += np.maximum(
            self.network.cells.cells_to_commodity(premium, self._gather), 0.0
        )
        self.days_done = day.day + 1
        self._memo = None

    def add_economy(self, day: EconomyDay) -> None:
        """Add one economy day (:class:`~econ.model.economy.EconomyDay`) to its period's sums;
        called after :meth:`add` for the same day."""
        p = self.period_index[self.days_done - 1]
        o = self.acc
        # means are kept as sums over the days and divided in sums(), so that a constant (e.g.
        # exactly 1 without a shock) stays exact
        o["sector_output_loss"][p] += day.output_loss
        o["domestic_revenue_lost"][p] += day.domestic_revenue_lost
        o["employment_loss"][p] += day.employment_loss
        o["staple_price_index"][p] += day.price_index
        first = self.days_done - 1 == 0 or self.period_index[self.days_done - 2] != p
        mx = o["staple_price_index_max"]
        mx[p] = day.price_index if first else np.maximum(mx[p], day.price_index)
        o["import_supply_ratio"][p] += day.supply_ratio
        o["freight_multiplier"][p] += day.freight_multiplier
        self._memo = None

    # ------------------------------------------------------------------ derived
    @property
    def n_periods(self) -> int:
        """Periods with at least one simulated day."""
        return 0 if self.days_done == 0 else int(self.period_index[self.days_done - 1]) + 1

    def period_days(self) -> np.ndarray:
        """(P,) days simulated in each period so far."""
        return np.bincount(self.period_index[: self.days_done], minlength=len(self.periods))[
            : self.n_periods
        ].astype(float)

    def sums(self, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Per-period results of the days simulated, each (M, P, ...) USD unless noted:
        those in ``names`` (default: all), each derived once until another day is added.

        The daily loop accumulates a few value sums; revenue components, baseline flows,
        demurrage and the route attribution of the mix premium follow from them and static
        inputs here, derived on cells and pairs and expanded to (R, K) or (C, K) at once,
        which keeps the memory touched small.
        """
        recipes = self._recipes()
        wanted = recipes if names is None else [n for n in recipes if n in set(names)]
        if self._memo is None:
            self._memo = {}
        memo = self._memo
        for n in wanted:
            if n not in memo:
                memo[n] = recipes[n]()
        return {n: memo[n] for n in wanted}

    def _recipes(self) -> dict[str, Callable[[], np.ndarray]]:
        """How :meth:`sums` derives each result from the accumulators, in its order."""
        P, net, cl = self.n_periods, self.network, self.network.cells
        a = {k: v[:P] for k, v in self.acc.items()}
        cells = lambda v: cl.expand_cells(np.moveaxis(v, 0, 1))  # noqa: E731
        pairs = lambda v: cl.expand_pairs(np.moveaxis(v, 0, 1))  # noqa: E731
        rate = net.pair["rate"]
        params = self.draws.params
        days = lambda: np.maximum(self.period_days(), 1.0)  # noqa: E731

        def wait_days() -> np.ndarray:
            # the mean wait over the days simulated in each period
            scale = self.days_in_period[:P] / days()  # 1 when complete
            return np.moveaxis(a["wait_days"] * scale[:, None, None], 0, 1)

        def extra_transport_cost() -> np.ndarray:
            # the mix premium of each commodity, booked on the routes dearer than the mix
            w = a["route_trade_value"] * net.cell["premium_pos"]
            tot = cl.cells_to_commodity(w)[..., cl.cell_commodity]
            share = np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
            return cells(a["congestion_cost"] + share * a["mix_premium"][..., cl.cell_commodity])

        index_sums: list[np.ndarray] = []  # made once for the baseline flows asked together

        def baseline(static: np.ndarray) -> Callable[[], np.ndarray]:
            def value() -> np.ndarray:
                if not index_sums:
                    # Σ over each period's simulated days of the baseline index: (M, P)
                    bsum = np.zeros((self.draws.n_members, P))
                    done = self.days_done
                    np.add.at(bsum.T, self.period_index[:done], self.baseline_index[:, :done].T)
                    index_sums.append(bsum)
                return index_sums[0][:, :, None, None] * static

            return value

        r: dict[str, Callable[[], np.ndarray]] = {
            "trade_value": lambda: pairs(a["trade_value"]),
            "spoiled_value": lambda: pairs(a["spoiled_value"]),
            "customs_revenue": lambda: pairs(a["customs_revenue"]),
            "revenue_lost_volume": lambda: pairs(a["trade_lost_value"] * rate),
            "revenue_diverted": lambda: pairs(a["diverted_value"] * rate),
            "revenue_delayed": lambda: pairs(a["delayed_value"] * rate),
            "revenue_lost_spoilage": lambda: pairs(a["spoiled_value"] * rate),
            "revenue_lost_evasion": lambda: pairs(a["evaded_revenue"]),
            "revenue_rate_change": lambda: pairs(a["rate_change_revenue"]),
            "trade_lost_value": lambda: pairs(a["trade_lost_value"]),
            "trade_cancelled_value": lambda: pairs(a["cancelled_value"]),
            "demurrage_cost": lambda: pairs(
                a["queue_truck_days"] * params["demurrage_usd_per_truck_day"][:, None]
            ),
            "queue_trucks": lambda: np.moveaxis(a["queue_trucks"], 0, 1),
            "queue_trucks_max": lambda: np.moveaxis(a["queue_trucks_max"], 0, 1),
            "wait_days": wait_days,
            "route_trade_value": lambda: cells(a["route_trade_value"]),
            "tariff_paid": lambda: cells(a["tariff_paid"]),
            "guarantee_cost": lambda: cells(a["guarantee_cost"]),
            "capital_locked": lambda: cells(a["locked_value_days"] / days()[:, None, None]),
            "extra_transport_cost": extra_transport_cost,
            "baseline_trade_value": baseline(net.e0),
            "baseline_customs_revenue": lambda: (
                self.sums(["baseline_trade_value"])["baseline_trade_value"] * net.rate
            ),
            "baseline_route_trade_value": baseline(net.v0),
        }
        if self.economy is not None:
            for k, spec in ECONOMY_VARIABLES.items():
                if k in a:
                    r[k] = self._economy_recipe(a[k], spec[3] == "mean", days)
        return r

    @staticmethod
    def _economy_recipe(acc: np.ndarray, mean: bool, days) -> Callable[[], np.ndarray]:
        """An economy variable: its period sums, or period means over the days simulated."""

        def value() -> np.ndarray:
            v = np.moveaxis(acc, 0, 1)
            if mean:
                v = v / days().reshape((1, -1) + (1,) * (v.ndim - 2))
            return v

        return value

    def ledger(self, sums: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Who pays, per member and period (numpy); see :func:`econ.model.ledger.who_pays`."""
        return ledger.who_pays(
            self.sums() if sums is None else sums,
            self.network,
            self.draws.params,
            self.period_days(),
        )

    # ------------------------------------------------------------------ labelled
    def variable_names(self) -> set[str]:
        """The data variables of :meth:`to_dataset`'s full result."""
        names = set(VARIABLES) | {"parameter_value"} | set(LEDGER_VARIABLES)
        return names | set(ECONOMY_VARIABLES) if self.economy is not None else names

    def to_dataset(self, variables: Iterable[str] | None = None) -> xr.Dataset:
        """The labelled result of the days simulated (see docs/outputs.md); ``variables``
        names the data variables to keep (default: all), and the ledger (who pays) is
        computed only if one of its variables is kept."""
        net, draws = self.network, self.draws
        keep = None if variables is None else set(variables)
        if keep is not None:
            known = self.variable_names()
            unknown = sorted(keep - known)
            if unknown:
                raise ValueError(f"unknown result variable(s): {', '.join(unknown)}")
        inp = net.inputs
        P = self.n_periods
        ledger_kept = keep is None or bool(
            keep & (set(LEDGER_VARIABLES) | {"treasury_revenue_lost"})
        )
        # the ledger reads many sums; else only the variables kept are derived
        o = self.sums(None if ledger_kept else keep | {"customs_revenue"})
        o["customs_revenue_afn"] = o["customs_revenue"] * inp.afn_per_usd
        coords = _coords(net, draws, self.periods.values[:P], self.period_days())
        data_vars = _period_variables({k: v for k, v in VARIABLES.items() if k in o}, o, P)
        names = list(draws.values)
        coords["parameter"] = (
            "parameter",
            np.array(names, dtype=object),
            {"long_name": "uncertain number drawn per member"},
        )
        data_vars["parameter_value"] = (
            ("member", "parameter"),
            np.stack([draws.values[n] for n in names], axis=1)
            if names
            else np.zeros((draws.n_members, 0)),
            {
                "units": "various",
                "long_name": "Each member's value of every parameter (units as in parameters.toml; "
                "per-commodity parameters: the global value that scales them) and of "
                "each measure range (end dates in days from the scenario start)",
            },
        )
        if ledger_kept:
            led = self.ledger(o)
            for name, (dims, units, long_name, method) in LEDGER_VARIABLES.items():
                attrs = {"units": units, "long_name": long_name}
                if "time" in dims:
                    attrs["cell_methods"] = f"time: {method}"
                data_vars[name] = (("member",) + dims, led[name], attrs)
            if self.economy is not None:
                o["treasury_revenue_lost"] = led["treasury_loss"] + o["domestic_revenue_lost"]
        if self.economy is not None:
            coords.update(_economy_coords(self.economy))
            table = {k: v for k, v in ECONOMY_VARIABLES.items() if k in o}
            data_vars.update(_period_variables(table, o, P))
        if keep is not None:
            data_vars = {k: v for k, v in data_vars.items() if k in keep}
        ds = xr.Dataset(data_vars, coords=coords)
        ds.attrs = _attrs(self, inp)
        return ds


def _period_variables(table: dict, o: dict[str, np.ndarray], P: int) -> dict[str, Any]:
    """(member, time, ...) variables of ``table`` (name: dims, units, long name, cell method)
    from the period sums ``o``, cut to the ``P`` periods simulated."""
    return {
        name: (
            ("member", "time") + dims,
            o[name][:, :P],
            {"units": units, "long_name": long_name, "cell_methods": f"time: {method}"},
        )
        for name, (dims, units, long_name, method) in table.items()
    }


def _coords(net, draws, times: np.ndarray, period_days: np.ndarray) -> dict[str, Any]:
    """Coordinates of a result: members, periods, crossings, commodities, routes, trader
    groups and cost components, with long names and units."""
    inp = net.inputs
    coords: dict[str, Any] = {
        "member": (
            "member",
            draws.member_ids.astype(np.int32),
            {"long_name": "ensemble member"},
        ),
        "time": ("time", times, {"long_name": "start of reporting period"}),
        "days_in_period": (
            "time",
            period_days.astype(np.int32),
            {"units": "day", "long_name": "days simulated in the period"},
        ),
        "crossing": (
            "crossing",
            np.array(net.crossing_ids, dtype=object),
            {"long_name": "border crossing"},
        ),
        "crossing_name": (
            "crossing",
            inp.crossings["name"].to_numpy(object),
            {"long_name": "crossing name"},
        ),
        "crossing_country": (
            "crossing",
            inp.crossings["country"].to_numpy(object),
            {"long_name": "neighbour country of the crossing (air for Kabul)"},
        ),
        "crossing_lat": (
            "crossing",
            inp.crossings["lat"].to_numpy(float),
            {"units": "degrees_north", "long_name": "latitude of the crossing (approximate)"},
        ),
        "crossing_lon": (
            "crossing",
            inp.crossings["lon"].to_numpy(float),
            {"units": "degrees_east", "long_name": "longitude of the crossing (approximate)"},
        ),
        "commodity": (
            "commodity",
            np.array(net.commodity_ids, dtype=object),
            {"long_name": "commodity group"},
        ),
        "direction": (
            "commodity",
            inp.commodities["direction"].to_numpy(object),
            {"long_name": "trade direction (import or export)"},
        ),
        "route": (
            "route",
            np.array(net.route_ids, dtype=object),
            {"long_name": "route (gateway to crossing)"},
        ),
        "route_crossing": (
            "route",
            inp.routes["crossing"].to_numpy(object),
            {"long_name": "crossing the route enters by"},
        ),
        "route_corridor": (
            "route",
            inp.routes["corridor"].to_numpy(object),
            {"long_name": "country the route runs through"},
        ),
        "route_kind": (
            "route",
            inp.routes["kind"].to_numpy(object),
            {"long_name": "route kind (bilateral or transit)"},
        ),
    }
    gm = net.groups
    coords.update(
        {
            "group": ("group", np.array(gm.ids, dtype=object), {"long_name": "trader group"}),
            "group_name": (
                "group",
                np.array(gm.names, dtype=object),
                {"long_name": "trader group name"},
            ),
            "group_kind": (
                "group",
                np.array(gm.kinds, dtype=object),
                {"long_name": "trader group kind"},
            ),
            "margin_basis": (
                "group",
                np.array(gm.basis, dtype=object),
                {"long_name": "what the group's gross margin is earned on"},
            ),
            "working_capital": (
                "group",
                gm.working_capital(net.e0),
                {"units": "USD", "long_name": "group's working capital at base-year turnover"},
            ),
            "component": (
                "component",
                np.array(ledger.COMPONENTS, dtype=object),
                {"long_name": "trader cost component"},
            ),
            "pakistan_component": (
                "pakistan_component",
                np.array(ledger.PAKISTAN_COMPONENTS, dtype=object),
                {"long_name": "Pakistan ledger component"},
            ),
        }
    )
    return coords


def _economy_coords(tab) -> dict[str, Any]:
    """Coordinates of the economy stage's variables (sectors, basket items, import groups)."""
    return {
        "sector": (
            "sector",
            np.array(tab.sectors, dtype=object),
            {"long_name": "sector of the IO table"},
        ),
        "sector_name": (
            "sector",
            np.array(tab.sector_names, dtype=object),
            {"long_name": "sector name"},
        ),
        "domestic_tax_rate": (
            "sector",
            tab.tax_rate,
            {"units": "1", "long_name": "domestic revenue per USD of output"},
        ),
        "baseline_output": (
            "sector",
            tab.output,
            {"units": "USD/year", "long_name": "base-year gross output"},
        ),
        "baseline_employment": (
            "sector",
            tab.employment,
            {"units": "person", "long_name": "base-year employment"},
        ),
        "item": (
            "item",
            np.array(tab.items, dtype=object),
            {"long_name": "consumer basket item"},
        ),
        "cpi_weight": (
            "item",
            tab.item_weight,
            {"units": "%", "long_name": "weight in the CPI"},
        ),
        "import_group": (
            "import_group",
            np.array(tab.import_ids, dtype=object),
            {"long_name": "imported commodity group (an IO table import row)"},
        ),
    }


def _attrs(rec: RunRecord, inp) -> dict[str, Any]:
    """The result's attributes: scenario, seed, version, base year and input hashes."""
    sc, draws = rec.scenario, rec.draws
    return {
        "title": f"chokepoint result: {sc.name}",
        "Conventions": "CF-1.8",
        "source": f"chokepoint {__version__}",
        "package_version": __version__,
        "scenario": sc.name,
        "scenario_description": sc.description,
        # a scenario built in Python has no file text: record its TOML (Scenario.to_toml)
        "scenario_text": sc.text or sc.to_toml(),
        "scenario_start": sc.start.isoformat(),
        "scenario_months": sc.months,
        "seed": draws.seed,
        "members": draws.n_members,
        "deterministic": int(draws.deterministic),
        "freq": rec.freq,
        "baseline": rec.baseline,
        "base_year": str(inp.base_year["label"]),
        "afn_per_usd": inp.afn_per_usd,
        "input_hashes": json.dumps(inp.hashes, sort_keys=True),
        "inputs_dir": str(inp.directory.name),
        "days_simulated": rec.days_done,
        "history": f"chokepoint {__version__}: run {sc.name} "
        f"({draws.n_members} member(s), freq {rec.freq})",
    }


def revenue_gap(ds: xr.Dataset) -> xr.DataArray:
    """Baseline minus scenario revenue (USD), equal to the sum of the decomposition."""
    return ds["baseline_customs_revenue"] - ds["customs_revenue"]


def percentiles(
    ds: xr.Dataset,
    q: tuple[float, ...] = (5.0, 50.0, 95.0),
    *,
    unbounded: Iterable[str] | None = None,
) -> xr.Dataset:
    """Summarise an ensemble: every variable's percentiles across members.

    The ``member`` dimension is replaced by ``percentile`` (values in percent); NaNs (e.g.
    an undefined exchange ratio) are skipped. Variables that can be infinite (an exchange
    ratio where Pakistan gives up nothing) take the member value at each percentile instead of
    interpolating between members (``inverted_cdf``), so a range reaching infinity says so.
    Attributes are kept, with ``members_summarised`` recording the ensemble size.

    ``unbounded`` names the variables taken that way (default: those with an infinite value
    in ``ds``); a caller reducing a variable slab by slab (:func:`econ.io.stream.reduce_members`)
    passes the variables infinite anywhere, so that every slab takes the rule of the whole.
    """
    import warnings

    qs = [v / 100.0 for v in q]
    if unbounded is None:
        unbounded = [v for v in ds.data_vars if np.isinf(ds[v].values).any()]
    else:
        unbounded = [v for v in ds.data_vars if v in set(unbounded)]
    # float64 variables along `member` by the vectorised nanquantile (numpy's values; xarray's
    # quantile calls np.nanquantile, which loops over every slice in Python); the rest, if any,
    # by xarray
    fast = [v for v in ds.data_vars if "member" in ds[v].dims and ds[v].dtype == np.float64]
    with warnings.catch_warnings():
        # an all-NaN slice (e.g. a ratio undefined in every member) gives NaN, as it should
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        slow = ds.drop_vars(fast)
        out = slow.drop_vars([v for v in unbounded if v in slow.data_vars]).quantile(
            qs, dim="member", skipna=True, keep_attrs=True
        )
        for v in unbounded:
            if v not in fast:
                out[v] = ds[v].quantile(
                    qs, dim="member", skipna=True, keep_attrs=True, method="inverted_cdf"
                )
    for v in fast:
        da = ds[v]
        method = "inverted_cdf" if v in unbounded else "linear"
        values = nanquantile(da.values, np.array(qs), da.dims.index("member"), method)
        dims = ("quantile",) + tuple(d for d in da.dims if d != "member")
        out[v] = xr.Variable(dims, values, dict(da.attrs))
    out = out[list(ds.data_vars)]  # the variables in their order
    out = out.assign_coords(quantile=[float(v) for v in q]).rename(quantile="percentile")
    out["percentile"].attrs = {"units": "%", "long_name": "percentile across ensemble members"}
    out.attrs = dict(ds.attrs, members_summarised=int(ds.sizes["member"]))
    return out
