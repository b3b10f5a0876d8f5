"""The scenario compiled against a network and a run's draws: which measure acts where and
when, the wedges it puts on each route's cost, crossing capacity, and anticipation.

docs/model.md §2 (measures to wedges) and §5 (anticipation). :meth:`Schedule.wedges` is the
public contract the naive baselines of :mod:`econ.analysis.backtest` use as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import equations as eq
from ..errors import input_error
from ..spec.scenario import MEASURE_NUMBERS, Scenario, measure_key
from .draws import Draws
from .network import Network, UnknownId


@dataclass(frozen=True)
class CompiledMeasure:
    """A measure resolved to index masks, day indices and per-member values."""

    index: int
    type: str
    label: str
    mask: np.ndarray  # (R, K) bool: route × commodity cells it applies to
    crossing_mask: np.ndarray  # (C,) bool
    start: int  # day index (relative to scenario start)
    end: np.ndarray  # (M,) exclusive day index
    announced: int | None
    values: dict[str, np.ndarray]  # field -> (M,)
    base: str = "duties"
    id: str | None = None  # the standing measure it is (econ.spec.in_force), if any


class Wedges(NamedTuple):
    """The measures in force on one day, as arrays (M, R, K) unless noted.

    ``tariff`` and ``guarantee`` ad valorem wedges on route cost paid abroad; ``locked`` the
    guaranteed base per unit value (capital locked per lock-up day); ``availability`` the share
    of a route's demand allowed through (quotas, traders without a guarantee), also the
    quantity cap at the border as a share of the route's baseline flow; ``extra_days``
    processing delays; ``capacity_share`` (M, C) left by closures; ``capacity`` (M, C)
    trucks/day; ``afghan_rate`` the change in the Afghan collected rate; ``compliance`` the
    share of cleared value declared, relative to the baseline (it responds to the Afghan
    rate only, §6).
    """

    tariff: np.ndarray
    guarantee: np.ndarray
    locked: np.ndarray
    availability: np.ndarray
    extra_days: np.ndarray
    capacity_share: np.ndarray
    capacity: np.ndarray
    afghan_rate: np.ndarray
    compliance: np.ndarray


class CellWedges(NamedTuple):
    """:class:`Wedges` on the cells with baseline flow, (M, F), plus ``unavailable`` (M, F):
    whether availability is below 1.

    Relative to the base year's own measures (:attr:`Schedule.base`; none in a base year
    without standing measures, when every field is as in :class:`Wedges`): ``availability``,
    ``extra_days``, ``afghan_rate`` and ``compliance`` are ratios or differences to the base
    year's, ``capacity`` counts only the processing days beyond the base year's, ``g0``
    (M or 1, F) is the baseline cost including the base year's measures, and ``admitted``
    = min(availability, 1) is the share of arriving cargo let through. ``tariff``,
    ``guarantee`` and ``locked`` stay absolute: they are what traders pay and lock up.
    """

    tariff: np.ndarray
    guarantee: np.ndarray
    locked: np.ndarray
    availability: np.ndarray
    extra_days: np.ndarray
    capacity_share: np.ndarray
    capacity: np.ndarray
    afghan_rate: np.ndarray
    compliance: np.ndarray
    unavailable: np.ndarray
    g0: np.ndarray
    admitted: np.ndarray


class Anticipation(NamedTuple):
    """Orders pulled forward by an announced measure: ``amount`` (M, F) USD/day added on days
    [pull_from, pull_to) and drawn down on days [draw_from, draw_to)."""

    pull_from: int
    pull_to: int
    draw_from: int
    draw_to: int
    amount: np.ndarray


class Schedule:
    """A scenario × network × draws: compiled measures and what they do day by day.

    Parameters
    ----------
    network, scenario, draws
        The static network, the validated scenario and the run's member values.
    n_days
        Days in the horizon.
    """

    def __init__(self, network: Network, scenario: Scenario, draws: Draws, n_days: int) -> None:
        self.network, self.scenario, self.draws = network, scenario, draws
        self.n_days = n_days
        self.n_members = draws.n_members
        self.measures: tuple[CompiledMeasure, ...] = tuple(
            self._compile(i, m) for i, m in enumerate(scenario.measures)
        )
        self._cache: dict[bytes, Wedges] = {}
        self._cell_cache: dict[bytes, CellWedges] = {}
        # the base year's own standing measures (base_year.toml measures_in_force): the base
        # year's flows already carry them, so the scenario's measures with those ids act
        # relative to them (docs/model.md §1, "Base-year measures")
        in_base = set(network.inputs.base_year.get("measures_in_force", ()))
        self.base: tuple[CompiledMeasure, ...] = tuple(
            m for m in self.measures if m.id is not None and m.id in in_base
        )
        self.base_wedges: Wedges | None = (
            self._wedges(self.base, np.ones((len(self.base), self.n_members), bool))
            if self.base
            else None
        )
        # which measures are active for which members, per day (the key of the caches)
        days = np.arange(n_days)[:, None, None]
        starts = np.array([m.start for m in self.measures], dtype=np.int64).reshape(-1, 1)
        ends = np.array([m.end for m in self.measures], dtype=np.int64).reshape(-1, self.n_members)
        self.day_pattern: list[bytes] = [a.tobytes() for a in (starts <= days) & (days < ends)]
        self.anticipation: tuple[Anticipation, ...] = self._compile_anticipation()

    # ------------------------------------------------------------------ compiling
    def _compile(self, i: int, m) -> CompiledMeasure:
        net, sc = self.network, self.scenario
        file = sc.path or sc.name
        try:
            rsel, ksel = net.select(
                crossings=m.crossings,
                corridors=m.corridors,
                routes=m.routes,
                kinds=m.kinds,
                commodities=m.commodities,
            )
        except UnknownId as exc:
            raise exc.as_input_error(file, f"measure {i + 1} ({m.type})") from None
        mask = rsel[:, None] & ksel[None, :] & (net.v0 > 0)
        if not mask.any():
            raise input_error(
                file,
                f"measure {i + 1} ({m.type}{': ' + m.label if m.label else ''}) "
                "matches no baseline flow",
                expected="selectors naming at least one route and commodity with trade",
                fix="widen or correct the selectors",
            )
        if m.type == "closure" and m.commodities is not None:
            raise input_error(
                file,
                f"measure {i + 1} (closure): 'commodities' does not apply to a closure",
                fix="use a restriction to stop particular goods, or drop the commodities selector",
            )
        cmask = np.zeros(net.n_crossings, bool)
        cmask[net.route_crossing[mask.any(axis=1)]] = True
        mv = self.draws.measure_values
        values = {f: mv[measure_key(i, m.type, f)] for f in MEASURE_NUMBERS[m.type]}
        announced = None if m.announced is None else (m.announced - sc.start).days
        return CompiledMeasure(
            i,
            m.type,
            m.label,
            mask,
            cmask,
            (m.start - sc.start).days,
            mv[measure_key(i, m.type, "end")].astype(np.int64),
            announced,
            values,
            getattr(m, "base", "duties"),
            m.id,
        )

    # ------------------------------------------------------------------ wedges
    def active(self, day: int, measures: tuple[CompiledMeasure, ...] | None = None) -> np.ndarray:
        """(n_measures, M) bool: which measures are in force on ``day`` for each member."""
        measures = self.measures if measures is None else measures
        return np.array([(m.start <= day) & (day < m.end) for m in measures]).reshape(
            len(measures), self.n_members
        )

    def wedges(self, day: int) -> Wedges:
        """The arrays of all measures in force on ``day`` (cached by activity pattern)."""
        active = self.active(day)
        key = active.tobytes()
        if key not in self._cache:
            self._cache[key] = self._wedges(self.measures, active)
        return self._cache[key]

    def _wedges(self, measures: tuple[CompiledMeasure, ...], active: np.ndarray) -> Wedges:
        net, p = self.network, self.draws.params
        shape = (self.n_members, net.n_routes, net.n_commodities)
        tariff, guar, locked = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        avail, quota, extra = np.ones(shape), np.ones(shape), np.zeros(shape)
        afghan = np.zeros(shape)
        cap = np.ones((self.n_members, net.n_crossings))
        levy = p["guarantee_levy_rate"][:, None, None]
        for j, m in enumerate(measures):
            a = active[j]
            if not a.any():
                continue
            am = a[:, None, None] & m.mask[None]
            v = {f: x[:, None, None] for f, x in m.values.items()}
            if m.type == "tariff":
                tariff += np.where(am, v["rate"], 0.0)
            elif m.type == "bank_guarantee":
                base = np.ones((self.n_members, 1, 1)) if m.base == "value" else levy
                share = base * v["cover"]
                # cash margin for the lock-up, plus the bank's commission for the validity
                w = eq.calc_guarantee_wedge(share, 1.0, v["annual_cost"], v["lockup_days"])
                w = w + eq.calc_guarantee_wedge(share, 1.0, v["fee"], v["validity_days"])
                guar += np.where(am, w, 0.0)
                locked += np.where(
                    am, eq.calc_capital_locked(1.0, share, 1.0, v["lockup_days"]), 0.0
                )
                avail *= np.where(am, 1.0 - v["excluded_share"], 1.0)
            elif m.type == "restriction":
                quota = np.minimum(quota, np.where(am, v["quota"], 1.0))
            elif m.type == "closure":
                cap = np.minimum(
                    cap,
                    np.where(
                        a[:, None] & m.crossing_mask[None], m.values["capacity"][:, None], 1.0
                    ),
                )
            elif m.type == "delay":
                extra += np.where(am, v["extra_days"], 0.0)
            elif m.type == "afghan_duty":
                afghan += np.where(am, v["rate"], 0.0)
        # the collected rate cannot fall below zero: a cut beyond it (one, or several adding
        # up) stops at a zero rate (#18: the fuzzer found negative revenue and an import boom)
        afghan = np.maximum(afghan, -net.rate[None, None, :])
        avail = avail * quota
        capacity = self.capacity(cap, extra)
        # evasion responds to the Afghan rate's own change (Fisman & Wei 2004), not to what
        # traders pay abroad; a cut does not make traders more compliant than in the baseline
        kappa = eq.calc_compliance(
            np.maximum(afghan, 0.0),
            p["evasion_semi_elasticity"][:, None, None],
            p["evasion_max_share"][:, None, None],
        )
        return Wedges(tariff, guar, locked, avail, extra, cap, capacity, afghan, kappa)

    def cell_wedges(self, day: int) -> CellWedges:
        """:meth:`wedges` of ``day`` on the cells with baseline flow (cached likewise)."""
        key = self.day_pattern[day]
        if key not in self._cell_cache:
            w = self.relative(self.wedges(day))
            cl = self.network.cells
            at = (slice(None), cl.cell_route, cl.cell_commodity)
            g0 = self.g0()
            avail = w.availability[at]
            self._cell_cache[key] = CellWedges(
                w.tariff[at],
                w.guarantee[at],
                w.locked[at],
                avail,
                w.extra_days[at],
                w.capacity_share,
                w.capacity,
                w.afghan_rate[at],
                w.compliance[at],
                avail < 1.0,
                self.network.cell["g0"] if g0 is None else g0[at],
                avail if self.base_wedges is None else np.minimum(avail, 1.0),
            )
        return self._cell_cache[key]

    def relative(self, w: Wedges) -> Wedges:
        """``w`` relative to the base year's measures: availability and compliance as ratios,
        extra days and the Afghan rate change as differences, and the capacity with the base
        year's processing delays already in the network's capacity (the base year's load ÷
        utilisation was measured with them); the rest as given (``w`` itself without base
        measures)."""
        b = self.base_wedges
        if b is None:
            return w
        return w._replace(
            availability=np.divide(
                w.availability,
                b.availability,
                out=np.ones_like(w.availability),
                where=b.availability > 0,
            ),
            extra_days=w.extra_days - b.extra_days,
            capacity=self.capacity(w.capacity_share, w.extra_days, b.extra_days),
            afghan_rate=w.afghan_rate - b.afghan_rate,
            compliance=w.compliance / b.compliance,
        )

    def g0(self) -> np.ndarray | None:
        """Baseline generalized cost with the base year's fees and guarantee costs, (M, R, K);
        ``None`` when the base year carries no measures (then it is the network's ``g0``).

        The base year's extra days are not added: :meth:`relative` already counts days beyond
        the base year's, so ``g/g0`` is 1 while the base year's measures stay as they were.
        """
        b, net = self.base_wedges, self.network
        if b is None:
            return None
        return net.g0[None] + b.tariff + b.guarantee

    def capacity(
        self,
        capacity_share: np.ndarray,
        extra_days: np.ndarray,
        base_extra_days: np.ndarray | None = None,
    ) -> np.ndarray:
        """Daily capacity (M, C) after closures and processing delays (``calc_capacity`` with
        each crossing's flow-weighted mean extra days).

        With the base year's own delays ``base_extra_days`` (M, R, K), the network's capacity
        is the one *with* them (its load ÷ utilisation of that year), so the normal border time
        is D0 + ΔD_base and only the days beyond the base year's act:
        Cap0 · ω · (D0 + ΔD_base) / (D0 + ΔD).
        """
        net = self.network
        w = np.maximum(net.e0.sum(axis=1), 1e-300)

        def mean_days(days: np.ndarray) -> np.ndarray:
            return net.to_crossing(days * net.v0).sum(axis=2) / w

        ex = mean_days(extra_days)
        if base_extra_days is None:
            return eq.calc_capacity(net.capacity, capacity_share, net.border_days, ex)
        base = mean_days(base_extra_days)
        return eq.calc_capacity(net.capacity, capacity_share, net.border_days + base, ex - base)

    # ------------------------------------------------------------------ anticipation
    def _compile_anticipation(self) -> tuple[Anticipation, ...]:
        """Pull-forward orders for measures announced before they start.

        During the announcement window of L days traders ship an extra
        ``anticipation_share`` × (the cut the measure will make) per day, and draw the same
        amount down over the first L days after the start. Only the part of the window inside
        the horizon is pulled forward, and as many days are drawn down, so the two balance.
        """
        net, p = self.network, self.draws.params
        out = []
        alpha = p["anticipation_share"][:, None, None]
        always = np.ones((1, self.n_members), bool)
        for m in self.measures:
            if m.announced is None or m in self.base:
                continue  # a base-year measure's effect is already in the base flows
            w = self._wedges((m,), always)
            wait = eq.calc_wait_days(
                0.0, w.capacity, net.capacity, p["closure_expected_days"][:, None]
            )
            days = net.route_days0[None] + wait[:, net.route_crossing][:, :, None] + w.extra_days
            g = eq.calc_generalized_cost(
                net.freight, net.delay_cost, days, w.tariff + w.afghan_rate, w.guarantee
            )
            target = eq.calc_target_flow(
                net.v0,
                net.s0,
                w.availability,
                g / net.g0,
                p["route_substitution_elasticity"],
                p["import_demand_elasticity"],
                route_nest=net.route_nest,
                rho=p["within_corridor_substitution_ratio"],
                route_origin=net.route_origin,
                sigma_origin=p["origin_substitution_elasticity"],
            )
            # capacity-limited cut at closed crossings
            ratio = np.minimum(1.0, w.capacity / np.maximum(net.baseline_load, 1e-300))
            target = np.minimum(target, net.v0 * ratio[:, net.route_crossing][:, :, None])
            cut = np.maximum(0.0, net.v0 - target) * m.mask[None]
            lo, hi = max(0, m.announced), min(self.n_days, m.start)
            length = max(0, hi - lo)
            lo2, hi2 = max(0, m.start), min(self.n_days, m.start + length)
            cl = net.cells
            out.append(
                Anticipation(lo, hi, lo2, hi2, (alpha * cut)[:, cl.cell_route, cl.cell_commodity])
            )
        return tuple(out)

    def anticipation_at(self, day: int) -> np.ndarray | float:
        """Pull-forward (+) or drawdown (−) of orders on ``day``, (M, F) USD/day."""
        extra: np.ndarray | float = 0.0
        for a in self.anticipation:
            if a.pull_from <= day < a.pull_to:
                extra = extra + a.amount
            elif a.draw_from <= day < a.draw_to:
                extra = extra - a.amount
        return extra
