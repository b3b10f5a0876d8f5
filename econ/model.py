"""The model loop: allocates state arrays, steps day by day, builds labelled results.

State is laid out with a leading ``member`` axis; a deterministic run is one member.
Only numpy is used inside :meth:`Model.step`; xarray appears in :meth:`Model.result`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import equations as eq
from . import ledger
from .errors import input_error
from .inputs import Inputs
from .parameters import REQUIRED, draw_quantiles
from .scenario import Scenario, central

log = logging.getLogger(__name__)

N_BOXES = 3
FREQS = {"D": "D", "W": "W", "MS": "M", "M": "M", "QS": "Q", "Q": "Q", "YS": "Y", "AS": "Y", "Y": "Y"}
MEASURE_NUMBERS = {
    "tariff": ("rate",),
    "bank_guarantee": ("cover", "lockup_days", "annual_cost", "excluded_share"),
    "restriction": ("quota",),
    "closure": ("capacity",),
    "delay": ("extra_days",),
}


@dataclass
class CompiledMeasure:
    """A measure resolved to index masks and per-member values and day indices."""

    index: int
    type: str
    label: str
    mask: np.ndarray          # (R, K) bool: route × commodity cells it applies to
    crossing_mask: np.ndarray  # (C,) bool
    start: int                # day index (relative to scenario start)
    end: np.ndarray           # (M,) exclusive day index
    announced: int | None
    values: dict[str, np.ndarray]  # field -> (M,)
    base: str = "duties"


def _days_between(a: dt.date, b: dt.date) -> int:
    return (b - a).days


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
        Multiplier on base-year flows, shape (T,) or (M, T); default 1 (flat at FY1401).
    forecast
        A :class:`econ.forecast.Forecast` covering the horizon: the baseline follows its
        median path (deterministic run) or each member's own quantile of it (ensemble).
        Overrides ``baseline_index``.
    values
        Explicit per-member values, each (M,), for named parameters or measure ranges
        (names as in the result's ``parameter`` coordinate, e.g. ``"queue_patience_days"``
        or ``"measure4.closure.end"``). Nothing is drawn: every other number stays at
        its central value. Used for one-at-a-time sensitivity runs.
    """

    def __init__(self, inputs: Inputs, scenario: Scenario, *, members: int = 1,
                 rng: int | np.random.Generator | None = None, freq: str = "MS",
                 member_ids: np.ndarray | None = None,
                 baseline_index: np.ndarray | None = None, forecast: Any = None,
                 values: dict[str, np.ndarray] | None = None) -> None:
        if freq not in FREQS:
            raise ValueError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
        self.inputs = inputs
        self.scenario = scenario
        self.freq = freq
        self.seed = root_seed(rng, scenario)
        self.member_ids = (np.arange(members) if member_ids is None
                           else np.asarray(member_ids, dtype=int))
        self.deterministic = members == 1 and member_ids is None
        M = self.M = len(self.member_ids)
        self.values = {} if values is None else {k: np.broadcast_to(np.asarray(v, float), (M,))
                                                  for k, v in values.items()}
        self._build_static()
        self.days = pd.date_range(scenario.start, scenario.end, inclusive="left", freq="D")
        self.T = len(self.days)
        self.periods, self.period_index = _period_labels(self.days, freq)
        self.P = len(self.periods)
        self._draw_numbers()
        self.measures = self._compile_measures()
        self.forecast = forecast
        if forecast is not None:
            from .forecast import base_year_monthly_usd

            pos = forecast.month_positions(self.days)
            B = base_year_monthly_usd(inputs.base_year)
            if self.quantiles is None:
                baseline_index = forecast.baseline_index(B)[pos]
            else:
                baseline_index = forecast.baseline_index(B, q=self.quantiles["baseline"])[:, pos]
        self.baseline_index = (np.ones((M, self.T)) if baseline_index is None
                               else np.broadcast_to(np.asarray(baseline_index, float), (M, self.T)))
        unknown = set(self.values) - set(self.draws) - {f"measure{i + 1}.{m.type}.{f}"
                                                         for i, m in enumerate(scenario.measures)
                                                         for f in ("end",) + MEASURE_NUMBERS[m.type]}
        if unknown:
            raise ValueError(f"values given for unknown parameters or measure fields: {', '.join(sorted(unknown))}")
        self._anticipation = self._compile_anticipation()
        if self.quantiles is not None and forecast is not None:
            self.draws["baseline_quantile"] = self.quantiles["baseline"]
        self._cache: dict[bytes, tuple[np.ndarray, ...]] = {}
        self._cell_cache: dict[bytes, tuple[np.ndarray, ...]] = {}
        # which measures are active for which members, per day (the key of _cell_cache)
        days = np.arange(self.T)[:, None, None]
        starts = np.array([m.start for m in self.measures], dtype=np.int64).reshape(-1, 1)
        ends = np.array([m.end for m in self.measures], dtype=np.int64).reshape(-1, M)
        self._day_pattern = [a.tobytes() for a in (starts <= days) & (days < ends)]
        self.t = 0
        self._init_state()
        self._init_outputs()

    # ------------------------------------------------------------------ setup
    def _build_static(self) -> None:
        inp = self.inputs
        self.crossing_ids = list(inp.crossings.index)
        self.route_ids = list(inp.routes.index)
        self.commodity_ids = list(inp.commodities.index)
        C, R, K = len(self.crossing_ids), len(self.route_ids), len(self.commodity_ids)
        self.C, self.R, self.K = C, R, K
        cidx = {c: i for i, c in enumerate(self.crossing_ids)}
        routes, com, cr = inp.routes, inp.commodities, inp.crossings
        self.route_crossing = np.array([cidx[c] for c in routes["crossing"]])
        self.B = np.zeros((R, C))
        self.B[np.arange(R), self.route_crossing] = 1.0
        self.BT = np.ascontiguousarray(self.B.T)
        V0 = (inp.flows.pivot_table(index="route", columns="commodity", values="value_usd",
                                    aggfunc="sum")
              .reindex(index=self.route_ids, columns=self.commodity_ids).fillna(0.0))
        self.V0 = V0.to_numpy(float)                   # USD/year, calibrated
        self.v0 = self.V0 / 365.0                      # USD/day
        tot = self.v0.sum(axis=0, keepdims=True)
        self.s0 = np.divide(self.v0, tot, out=np.zeros_like(self.v0), where=tot > 0)
        self.freight = routes["freight_share"].to_numpy(float)[:, None]
        self.transit_days = routes["transit_days"].to_numpy(float)[:, None]
        self.border_days = cr["border_hours"].to_numpy(float) / 24.0
        self.rate = com["effective_rate"].to_numpy(float)
        self.vpt = com["value_per_truck_usd"].to_numpy(float)
        self.shelf = com["shelf_life_days"].to_numpy(float)
        self.delay_cost = com["delay_cost_per_day"].to_numpy(float)
        self.margin = com["gross_margin"].to_numpy(float)
        self.is_import = (com["direction"] == "import").to_numpy()
        self.pending_release = 1.0 / np.maximum(1.0, self.transit_days)       # (R, 1) per day
        self.route_days0 = self.transit_days + self.border_days[self.route_crossing][:, None]
        self.g0 = eq.calc_generalized_cost(self.freight, self.delay_cost, self.route_days0, 0.0, 0.0)
        # baseline flow-weighted logistics cost (freight + time) per unit value, by commodity
        lc0 = self.g0 - 1.0
        vk = self.v0.sum(axis=0)
        self.logcost0 = np.divide((self.v0 * lc0).sum(axis=0), vk, out=np.zeros(K), where=vk > 0)
        self._premium = lc0 - self.logcost0                    # (R, K) route's premium over the mix
        self._premium_pos = np.maximum(self._premium, 0.0)
        # baseline daily value by crossing and its crossing share per commodity
        self.e0 = np.einsum("rc,rk->ck", self.B, self.v0)
        tot_k = self.e0.sum(axis=0, keepdims=True)
        self.w0 = np.divide(self.e0, tot_k, out=np.zeros_like(self.e0), where=tot_k > 0)
        # capacity: normal capacity, raised where the baseline load would exceed max utilisation
        cap = cr["capacity_per_day"].to_numpy(float)
        load = (self.e0 / self.vpt).sum(axis=1)
        umax = inp.parameters["max_baseline_utilization"].value
        need = load / umax
        raise_cap = need > cap
        for i in np.flatnonzero(raise_cap):
            log.warning("baseline load at %s is %.0f trucks/day, above %.0f%% of its capacity %.0f: "
                        "using capacity %.0f", self.crossing_ids[i], load[i], 100 * umax, cap[i], need[i])
        self.capacity = np.where(raise_cap, need, cap)
        self.baseline_load = load
        # trader groups and Pakistan's side of the ledger
        fbill = np.einsum("rc,rk->ck", self.B, self.v0 * self.freight)
        freight_ck = np.divide(fbill, self.e0, out=np.zeros_like(fbill), where=self.e0 > 0)
        self.groups = ledger.build_group_map(inp.trader_groups, self.crossing_ids, self.commodity_ids,
                                             self.is_import, self.margin, freight_ck)
        # nests of route choice: routes of the same corridor and kind (docs/model.md §3)
        keys = list(zip(routes["corridor"], routes["kind"]))
        nest_of = {kk: i for i, kk in enumerate(dict.fromkeys(keys))}
        self.route_nest = np.array([nest_of[kk] for kk in keys])
        pak = (routes["corridor"] == "pakistan").to_numpy()
        self.pak_route = pak[:, None].astype(float)
        self.pak_transit = (pak & (routes["kind"] == "transit").to_numpy())[:, None].astype(float)
        self.pak_export = ((pak & (routes["kind"] == "bilateral").to_numpy())[:, None]
                           & self.is_import[None, :]).astype(float)
        self._build_cells()

    def _build_cells(self) -> None:
        """Index the cells the daily loop works on: only those with baseline flow.

        A route × commodity cell with v0 = 0 carries nothing, ever: the target flow is
        v0 · (factors), so the box deviations, orders, arrivals and re-routed cargo of the
        cell stay 0 (re-routed cargo goes to routes in proportion to their target flow,
        and anticipation only to cells a measure matches, which have flow). Likewise a
        crossing × commodity pair without such a cell keeps no queue, clears nothing and
        keeps compliance 1. :meth:`step` therefore works on the F cells with v0 ≠ 0 and the
        G pairs they feed (241 of 330 and 165 of 210 for the shipped inputs), and
        :attr:`state` and :attr:`out` expand them to (R, K) and (C, K).

        Cells are laid out so that summing them to pairs takes only slices: pairs are sorted
        by their number of routes (most first), then commodity and crossing; the first G
        cells are the first route of every pair, the next ones the second route of pairs
        0, 1, ... (those with two or more), and so on (:meth:`_cells_to_pairs`). Other
        sums use :class:`_GroupSum`.
        """
        K = self.K
        routes_of: dict[tuple[int, int], list[int]] = {}
        for r, k in zip(*np.nonzero(self.v0 != 0)):                   # routes in order
            routes_of.setdefault((int(k), int(self.route_crossing[r])), []).append(int(r))
        pairs = sorted(routes_of, key=lambda kc: (-len(routes_of[kc]), kc))
        cell_r, cell_pair = [], []
        #: (first cell, number of pairs) of each level: level j holds the j-th route of pairs 0..n-1
        self._pair_levels: list[tuple[int, int]] = []
        for level in range(max(map(len, routes_of.values()), default=0)):
            n = sum(len(routes_of[kc]) > level for kc in pairs)
            self._pair_levels.append((len(cell_r), n))
            cell_r += [routes_of[kc][level] for kc in pairs[:n]]
            cell_pair += range(n)
        self._cell_pair = np.array(cell_pair)
        self._pair_k = np.array([k for k, _ in pairs])
        self._pair_c = np.array([c for _, c in pairs])
        self._cell_r, self._cell_k = np.array(cell_r), self._pair_k[self._cell_pair]
        self._cell_c = self.route_crossing[self._cell_r]
        self.F, self.G = len(self._cell_r), len(pairs)
        self._cell_flat = self._cell_r * K + self._cell_k       # index into a flattened (R, K)
        self._pair_flat = self._pair_c * K + self._pair_k       # index into a flattened (C, K)
        self._cells_to_commodity = _GroupSum(self._cell_k, K)
        self._pairs_to_commodity = _GroupSum(self._pair_k, K)
        self._pairs_to_crossing = _GroupSum(self._pair_c, self.C)
        # nests (commodity × corridor × kind) of the cells, for the nested route choice
        n_route_nests = int(self.route_nest.max()) + 1
        cell_key = self._cell_k * n_route_nests + self.route_nest[self._cell_r]
        nest_keys, self._cell_nest = np.unique(cell_key, return_inverse=True)
        self._nest_k = nest_keys // n_route_nests
        self._cells_to_nest = _GroupSum(self._cell_nest, len(nest_keys))
        self._nests_to_commodity = _GroupSum(self._nest_k, K)
        # static inputs on the cells (F,) and pairs (G,)
        cells = (self._cell_r, self._cell_k)
        full = lambda a: np.broadcast_to(a, (self.R, K))[cells]  # noqa: E731
        self._f = {"v0": self.v0[cells], "s0": self.s0[cells], "g0": self.g0[cells],
                   "freight": full(self.freight), "delay_cost": full(self.delay_cost),
                   "route_days0": full(self.route_days0),
                   "pending_release": full(self.pending_release),
                   "premium": self._premium[cells], "premium_pos": self._premium_pos[cells],
                   "one_plus_freight": 1.0 + full(self.freight)}
        pc = (self._pair_c, self._pair_k)
        self._g = {"e0": self.e0[pc], "w0": self.w0[pc], "vpt": self.vpt[self._pair_k],
                   "rate": self.rate[self._pair_k],
                   # share of the queue spoiling in one day
                   "spoiled_share": eq.calc_spoiled_value(1.0, self.shelf[self._pair_k]),
                   # open demand elsewhere below this (0.1% of the commodity's baseline daily
                   # flow) is no alternative: cargo with nowhere open to go is lost, instead of
                   # cycling between crossings that are all (almost) shut
                   "open_floor": 1e-3 * self.v0.sum(axis=0)[self._pair_k]}

    def _cells_to_pairs(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Sum cells (..., F) to their crossing × commodity pairs (..., G), route by route."""
        (_, G), *more = self._pair_levels
        if out is None:
            out = x[..., :G].copy()
        else:
            np.copyto(out, x[..., :G])
        for start, n in more:
            out[..., :n] += x[..., start:start + n]
        return out

    def _expand_cells(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Cells (..., F) to the full (..., R, K), ``fill`` where there is no baseline flow."""
        return _expand(x, self._cell_flat, (self.R, self.K), fill)

    def _expand_pairs(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Pairs (..., G) to the full (..., C, K), ``fill`` where there is no baseline flow."""
        return _expand(x, self._pair_flat, (self.C, self.K), fill)

    def _draw_numbers(self) -> None:
        """Per-member parameter values: central for a deterministic run, else drawn."""
        params = self.inputs.parameters
        names = sorted(params)
        self.range_fields = [(i, f) for i, m in enumerate(self.scenario.measures)
                             for f in ("end",) + MEASURE_NUMBERS[m.type]
                             if isinstance(getattr(m, f, None), tuple)]
        if self.deterministic or self.values:
            q = None
        else:
            # the baseline quantile comes last, so adding it left earlier draws unchanged
            q = draw_quantiles(names + [f"measure{i}.{f}" for i, f in self.range_fields] + ["baseline"],
                               self.member_ids, self.seed)
        self.quantiles = q
        M = self.M
        p: dict[str, np.ndarray] = {}
        #: each member's value of every uncertain number (global value for per-commodity ones)
        self.draws: dict[str, np.ndarray] = {}
        for n in names:
            par = params[n]
            if q is None:
                draws = np.full(M, par.value)
            else:
                draws = par.quantile(q[n])
            if n in REQUIRED and n not in ("protest_risk_intercept",):
                lo, hi = REQUIRED[n]
                draws = np.clip(draws, lo, hi)
            if n in self.values:
                draws = self.values[n].copy()
            self.draws[n] = draws
            if par.by_commodity:
                p[n] = par.central(self.commodity_ids)[None, :] * par.scale(draws)[:, None]
            else:
                p[n] = draws
        fw, mw = p["adjust_fast_weight"], p["adjust_medium_weight"]
        tot = np.maximum(1.0, fw + mw)
        fw, mw = fw / tot, mw / tot
        self.box_weights = np.stack([fw, mw, 1.0 - fw - mw], axis=1)        # (M, 3)
        self.box_tau = np.stack([p["adjust_fast_days"], p["adjust_medium_days"],
                                 p["adjust_slow_days"]], axis=1)            # (M, 3)
        # daily adjustment rates per box (M, 3, 1, 1): at the box's time scale, in flight
        # from a penalised route (faster), and on the way back toward the baseline (slower)
        tau = self.box_tau[:, :, None, None]
        self._lam = (eq.calc_adjustment_rate(tau, 1.0),
                     eq.calc_adjustment_rate(tau * p["flight_speed_factor"][:, None, None, None], 1.0),
                     eq.calc_adjustment_rate(tau * p["return_slowdown_factor"][:, None, None, None], 1.0))
        for n in ("import_demand_elasticity", "route_substitution_elasticity"):
            if p[n].ndim == 1:
                p[n] = np.repeat(p[n][:, None], self.K, axis=1)
        self.p = p

    def _member_value(self, i: int, field: str, raw: Any) -> np.ndarray:
        """Per-member value of a measure field: midpoint, or uniform draw in [low, high]."""
        if isinstance(raw, tuple):
            lo, hi = raw
            if self.quantiles is None:
                return np.full(self.M, central(raw) if not isinstance(lo, dt.date)
                               else _days_between(self.scenario.start, central(raw)), dtype=float)
            u = self.quantiles[f"measure{i}.{field}"]
            if isinstance(lo, dt.date):
                a = _days_between(self.scenario.start, lo)
                b = _days_between(self.scenario.start, hi)
                return np.floor(a + u * (b - a + 1)).clip(a, b)
            return lo + u * (hi - lo)
        if isinstance(raw, dt.date):
            return np.full(self.M, _days_between(self.scenario.start, raw), dtype=float)
        return np.full(self.M, float(raw))

    def _select(self, i: int, m: Any) -> tuple[np.ndarray, np.ndarray]:
        inp, file = self.inputs, self.scenario.path or self.scenario.name
        rsel = np.ones(self.R, bool)
        ksel = np.ones(self.K, bool)
        routes = inp.routes
        checks = (("crossings", self.crossing_ids, routes["crossing"]),
                  ("corridors", sorted(set(routes["corridor"]) | set(inp.crossings["country"])),
                   routes["corridor"]),
                  ("routes", self.route_ids, pd.Series(self.route_ids, index=routes.index)),
                  ("kinds", ["bilateral", "transit"], routes["kind"]))
        for field, known, col in checks:
            sel = getattr(m, field)
            if sel is None:
                continue
            for s in sel:
                if s not in known:
                    raise input_error(file, f"measure {i + 1} ({m.type}): unknown id in '{field}'",
                                      found=s, expected=f"one of {', '.join(known)}",
                                      fix=f"correct the id in {field}")
            rsel &= col.isin(sel).to_numpy()
        if m.commodities is not None:
            for s in m.commodities:
                if s not in self.commodity_ids:
                    raise input_error(file, f"measure {i + 1} ({m.type}): unknown id in 'commodities'",
                                      found=s, expected=f"one of {', '.join(self.commodity_ids)}",
                                      fix="correct the id in commodities")
            ksel = np.isin(self.commodity_ids, m.commodities)
        mask = rsel[:, None] & ksel[None, :] & (self.v0 > 0)
        if not mask.any():
            raise input_error(file, f"measure {i + 1} ({m.type}{': ' + m.label if m.label else ''}) "
                              "matches no baseline flow", expected="selectors naming at least one "
                              "route and commodity with trade", fix="widen or correct the selectors")
        cmask = np.zeros(self.C, bool)
        cmask[self.route_crossing[mask.any(axis=1)]] = True
        return mask, cmask

    def _compile_measures(self) -> list[CompiledMeasure]:
        out = []
        sc = self.scenario
        for i, m in enumerate(sc.measures):
            mask, cmask = self._select(i, m)
            if m.type == "closure" and (m.commodities is not None):
                raise input_error(sc.path or sc.name, f"measure {i + 1} (closure): 'commodities' "
                                  "does not apply to a closure", fix="use a restriction to stop "
                                  "particular goods, or drop the commodities selector")
            start = _days_between(sc.start, m.start)
            end = (np.full(self.M, float(self.T + 10 ** 6)) if m.end is None
                   else self._member_value(i, "end", m.end))
            key = f"measure{i + 1}.{m.type}.end"
            if key in self.values:
                end = np.floor(self.values[key])
            if isinstance(m.end, tuple):
                self.draws[key] = end.copy()
            values = {}
            for f in MEASURE_NUMBERS[m.type]:
                raw = getattr(m, f)
                if raw is None:
                    default = {"annual_cost": "guarantee_annual_cost",
                               "excluded_share": "guarantee_excluded_share"}[f]
                    values[f] = self.p[default].copy()
                else:
                    key = f"measure{i + 1}.{m.type}.{f}"
                    values[f] = self.values[key].copy() if key in self.values else self._member_value(i, f, raw)
                    if isinstance(raw, tuple):
                        self.draws[key] = values[f].copy()
            announced = None if m.announced is None else _days_between(sc.start, m.announced)
            out.append(CompiledMeasure(i, m.type, m.label, mask, cmask, start,
                                       end.astype(np.int64), announced, values,
                                       getattr(m, "base", "duties")))
        return out

    # ------------------------------------------------------------------ measures -> wedges
    def _wedges(self, t: int, measures: list[CompiledMeasure] | None = None,
                use_cache: bool = True) -> tuple[np.ndarray, ...]:
        """Arrays of all measures active on day ``t`` (cached by activity pattern).

        Returns tariff, guarantee wedge, guaranteed base share (capital locked per
        unit value and lock-up day), availability, extra days (M, R, K), capacity
        share (M, C), daily capacity (M, C) and compliance (M, R, K).
        """
        measures = self.measures if measures is None else measures
        active = np.array([(m.start <= t) & (t < m.end) for m in measures]).reshape(len(measures), self.M)
        key = active.tobytes()
        if use_cache and key in self._cache:
            return self._cache[key]
        M, R, K, C = self.M, self.R, self.K, self.C
        tariff = np.zeros((M, R, K))
        guar = np.zeros((M, R, K))
        locked = np.zeros((M, R, K))
        avail = np.ones((M, R, K))
        quota = np.ones((M, R, K))
        extra = np.zeros((M, R, K))
        cap = np.ones((M, C))
        levy = self.p["guarantee_levy_rate"][:, None, None]
        for j, m in enumerate(measures):
            a = active[j]
            if not a.any():
                continue
            am = a[:, None, None] & m.mask[None]
            v = m.values
            if m.type == "tariff":
                tariff += np.where(am, v["rate"][:, None, None], 0.0)
            elif m.type == "bank_guarantee":
                base = np.ones((M, 1, 1)) if m.base == "value" else levy
                share = base * v["cover"][:, None, None]
                w = eq.calc_guarantee_wedge(share, 1.0, v["annual_cost"][:, None, None],
                                            v["lockup_days"][:, None, None])
                guar += np.where(am, w, 0.0)
                locked += np.where(am, eq.calc_capital_locked(1.0, share, 1.0, v["lockup_days"][:, None, None]), 0.0)
                avail *= np.where(am, 1.0 - v["excluded_share"][:, None, None], 1.0)
            elif m.type == "restriction":
                quota = np.minimum(quota, np.where(am, v["quota"][:, None, None], 1.0))
            elif m.type == "closure":
                cap = np.minimum(cap, np.where(a[:, None] & m.crossing_mask[None], v["capacity"][:, None], 1.0))
            elif m.type == "delay":
                extra += np.where(am, v["extra_days"][:, None, None], 0.0)
        avail = avail * quota
        K = self._capacity(cap, extra)                                          # (M, C)
        kappa = eq.calc_compliance(tariff + guar, self.p["evasion_semi_elasticity"][:, None, None],
                                   self.p["evasion_max_share"][:, None, None])
        out = (tariff, guar, locked, avail, extra, cap, K, kappa)
        if use_cache:
            self._cache[key] = out
        return out

    def _cell_wedges(self, t: int) -> tuple[np.ndarray, ...]:
        """:meth:`_wedges` of day ``t`` on the cells with baseline flow (cached likewise).

        Returns tariff, guarantee wedge, guaranteed base share, availability, extra days
        (M, F), capacity share (M, C), daily capacity (M, C), compliance (M, F) and whether
        availability is below 1 (M, F).
        """
        key = self._day_pattern[t]
        if key not in self._cell_cache:
            tariff, guar, locked, avail, extra, cap, K, kappa = self._wedges(t)
            cells = (slice(None), self._cell_r, self._cell_k)
            self._cell_cache[key] = (tariff[cells], guar[cells], locked[cells], avail[cells],
                                     extra[cells], cap, K, kappa[cells], avail[cells] < 1.0)
        return self._cell_cache[key]

    def _capacity(self, cap: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """Daily capacity (M, C) after closures and processing delays."""
        # flow-weighted mean extra days per crossing
        ex = self._to_crossing(extra * self.v0).sum(axis=2)
        w = np.maximum(self.e0.sum(axis=1), 1e-300)
        return eq.calc_capacity(self.capacity, cap, self.border_days, ex / w)

    def _compile_anticipation(self) -> list[tuple[int, int, int, int, np.ndarray]]:
        """Pull-forward orders for measures announced before they start.

        During the announcement window of L days traders ship an extra
        ``anticipation_share`` × (the cut the measure will make) per day, and draw
        the same amount down over the first L days after the start. Returns a list of
        ``(lo, hi, lo2, hi2, amount)`` with ``amount`` (M, F) USD/day on the cells with
        baseline flow (:meth:`_build_cells`; a measure's mask covers no other cell) added on
        days ``[lo, hi)`` and subtracted on days ``[lo2, hi2)`` (see :meth:`_anticipation_at`).
        """
        out = []
        alpha = self.p["anticipation_share"][:, None, None]
        for m in self.measures:
            if m.announced is None:
                continue
            tariff, guar, _, avail, xd, cap, K, _ = self._wedges(0, [_always_on(m, self.M)], use_cache=False)
            W = eq.calc_wait_days(0.0, self.capacity, cap, self.p["closure_expected_days"][:, None])
            days = self.route_days0[None] + W[:, self.route_crossing][:, :, None] + xd
            g = eq.calc_generalized_cost(self.freight, self.delay_cost, days, tariff, guar)
            target = eq.calc_target_flow(self.v0, self.s0, avail, g / self.g0,
                                         self.p["route_substitution_elasticity"],
                                         self.p["import_demand_elasticity"],
                                         route_nest=self.route_nest,
                                         rho=self.p["within_corridor_substitution_ratio"])
            # capacity-limited cut at closed crossings
            ratio = np.minimum(1.0, K / np.maximum(self.baseline_load, 1e-300))
            target = np.minimum(target, self.v0 * ratio[:, self.route_crossing][:, :, None])
            cut = np.maximum(0.0, self.v0 - target) * m.mask[None]
            # only the part of the announcement window inside the horizon is pulled forward,
            # and the same number of days is drawn down after the start, so the two balance
            lo, hi = max(0, m.announced), min(self.T, m.start)
            L = max(0, hi - lo)
            lo2, hi2 = max(0, m.start), min(self.T, m.start + L)
            out.append((lo, hi, lo2, hi2, (alpha * cut)[:, self._cell_r, self._cell_k]))
        return out

    def _anticipation_at(self, t: int) -> np.ndarray | float:
        """Pull-forward (+) or drawdown (−) of orders on day ``t``, (M, F) USD/day."""
        extra: np.ndarray | float = 0.0
        for lo, hi, lo2, hi2, amount in self._anticipation:
            if lo <= t < hi:
                extra = extra + amount
            elif lo2 <= t < hi2:
                extra = extra - amount
        return extra

    # ------------------------------------------------------------------ state
    def _init_state(self) -> None:
        M, F, G, C = self.M, self.F, self.G, self.C
        # the loop's state on the cells and pairs with baseline flow (see _build_cells);
        # :attr:`state` presents it with full shapes
        self._state: dict[str, np.ndarray] = {
            "box_deviation": np.zeros((M, N_BOXES, F)),    # USD/day, orders minus baseline
            "queue_value": np.zeros((M, G)),                # USD, stock at day end
            "pending_value": np.zeros((M, F)),              # USD, turned-back cargo re-routed
            "compliance": np.ones((M, G)),                  # 1
            "closure_days": np.zeros((M, C)),               # days the crossing has been fully shut
            # sums kept from the end of the previous day (the same sums of the same arrays)
            "queue_trucks": np.zeros((M, C)),               # trucks, Σ_k queue_value / vpt
            "pending_by_pair": np.zeros((M, G)),            # USD, pending_value summed to pairs
        }
        # work arrays the daily loop writes into (out=, in-place operators) instead of
        # allocating new arrays: allocating and freeing large arrays every day costs more
        # than the arithmetic (memory is handed back to the system and faulted in again)
        cell, pair = (lambda: np.empty((M, F))), (lambda: np.empty((M, G)))
        self._w = SimpleNamespace(
            v0=cell(), delay=cell(), ratio=cell(), weight=cell(), orders=cell(),
            hold=cell(), released=cell(), sent=cell(), arrivals=cell(), shift=cell(),
            tmp=cell(), gather=cell(), spread=cell(), spread_bool=np.empty((M, F), bool),
            ystar=cell(),
            gap=np.empty((M, N_BOXES, F)), lam=np.empty((M, N_BOXES, F)),
            down=np.empty((M, N_BOXES, F), bool), mask=np.empty((M, N_BOXES, F), bool),
            queue=pair(), cleared=pair(), spoiled=pair(), turned=pair(), excl=pair(), tot=pair(),
            per=pair(), held_c=pair(), arrivals_c=pair(), pending_c=pair(), e0=pair(),
            lost=pair(), delayed=pair(), diverted=pair(), pair_tmp=pair(),
            pair_bool=np.empty((M, G), bool))
        self._memo = _Memo(M, F, G, C)
        # per-member numbers laid out on the cells
        # elasticities of the nested route choice: ρσ inside a cell's nest, σ between nests
        sigma, rho = self.p["route_substitution_elasticity"], self.p["within_corridor_substitution_ratio"]
        self._sigma_f = sigma[:, self._cell_k] * rho[:, None]                        # (M, F)
        self._nests = dict(nest_sum=self._cells_to_nest, nest_max=self._cells_to_nest.max,
                           to_nest_cells=lambda x: np.take(x, self._cell_nest, axis=-1),
                           nest_route_sum=self._nests_to_commodity,
                           nest_sigma=sigma[:, self._nest_k], rho=rho[:, None])
        self._lam_f = tuple(lam[..., 0] for lam in self._lam)                      # (M, 3, 1) each

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The state after the last day simulated (copies, member first).

        ``box_deviation`` (M, 3, R, K) and ``pending_value`` (M, R, K) USD/day and USD,
        ``queue_value`` (M, C, K) USD, ``compliance`` (M, C, K), ``closure_days`` (M, C)
        and ``day`` (days simulated).
        """
        s = self._state
        return {"box_deviation": self._expand_cells(s["box_deviation"]),
                "queue_value": self._expand_pairs(s["queue_value"]),
                "pending_value": self._expand_cells(s["pending_value"]),
                "compliance": self._expand_pairs(s["compliance"], fill=1.0),
                "closure_days": s["closure_days"].copy(),
                "day": np.array(self.t)}

    def _init_outputs(self) -> None:
        M, P, C, K, F, G = self.M, self.P, self.C, self.K, self.F, self.G
        z = lambda *s: np.zeros((P, M) + s)  # noqa: E731
        # accumulators are period-first so that a day's update touches contiguous memory,
        # and on cells (F) and pairs (G) instead of (R, K) and (C, K); :attr:`out` presents
        # them member-first with full shapes
        self._acc = {
            "trade_value": z(G), "evaded_value": z(G), "spoiled_value": z(G),
            "trade_lost_value": z(G), "diverted_value": z(G), "delayed_value": z(G),
            "queue_trucks": z(C), "queue_trucks_max": z(C), "queue_truck_days": z(G),
            "wait_days": z(C),
            "route_trade_value": z(F), "tariff_paid": z(F), "guarantee_cost": z(F),
            "locked_value_days": z(F), "congestion_cost": z(F), "mix_premium": z(K),
        }
        self._out_memo: dict[str, np.ndarray] | None = None
        self.days_in_period = np.bincount(self.period_index, minlength=P).astype(float)

    # ------------------------------------------------------------------ one day
    @property
    def out(self) -> dict[str, np.ndarray]:
        """Per-period results so far, each (M, P, ...) USD unless noted.

        The daily loop accumulates a few value sums (period-first, so that a day's update
        touches contiguous memory); revenue components, baseline flows, demurrage and
        the route attribution of the mix premium follow from them and static inputs here.
        """
        if self._out_memo is not None:
            return dict(self._out_memo)
        # sums on cells (P, M, F) and pairs (P, M, G), period-first: each result is derived
        # on them and expanded to (M, P, R, K) or (M, P, C, K) at once, which keeps the
        # memory touched small (fresh memory is slow to fault in on some machines)
        a = self._acc
        cells = lambda v: self._expand_cells(np.moveaxis(v, 0, 1))  # noqa: E731
        pairs = lambda v: self._expand_pairs(np.moveaxis(v, 0, 1))  # noqa: E731
        rate = self._g["rate"]
        P = self.P
        o = {"trade_value": pairs(a["trade_value"]), "spoiled_value": pairs(a["spoiled_value"]),
             "customs_revenue": pairs((a["trade_value"] - a["evaded_value"]) * rate),
             "revenue_lost_volume": pairs(a["trade_lost_value"] * rate),
             "revenue_diverted": pairs(a["diverted_value"] * rate),
             "revenue_delayed": pairs(a["delayed_value"] * rate),
             "revenue_lost_spoilage": pairs(a["spoiled_value"] * rate),
             "revenue_lost_evasion": pairs(a["evaded_value"] * rate),
             "trade_lost_value": pairs(a["trade_lost_value"]),
             "demurrage_cost": pairs(a["queue_truck_days"]
                                     * self.p["demurrage_usd_per_truck_day"][:, None])}
        for k in ("queue_trucks", "queue_trucks_max", "wait_days"):
            o[k] = np.moveaxis(a[k], 0, 1)
        for k in ("route_trade_value", "tariff_paid", "guarantee_cost"):
            o[k] = cells(a[k])
        days = np.maximum(self.days_in_period[:P], 1.0)
        o["capital_locked"] = cells(a["locked_value_days"] / days[:, None, None])
        # the mix premium of each commodity, booked on the routes dearer than the mix
        w = a["route_trade_value"] * self._f["premium_pos"]
        tot = self._cells_to_commodity(w)[..., self._cell_k]
        share = np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
        o["extra_transport_cost"] = cells(a["congestion_cost"]
                                          + share * a["mix_premium"][..., self._cell_k])
        # Σ over each period's days of the baseline index: (M, P)
        bsum = np.zeros((self.M, P))
        np.add.at(bsum.T, self.period_index, self.baseline_index.T)
        o["baseline_trade_value"] = bsum[:, :, None, None] * self.e0
        o["baseline_customs_revenue"] = o["baseline_trade_value"] * self.rate
        o["baseline_route_trade_value"] = bsum[:, :, None, None] * self.v0
        return o

    def step(self) -> dict[str, np.ndarray]:
        """Advance the simulation by one day; returns that day's national figures.

        Works on the F route × commodity cells and G crossing × commodity pairs with
        baseline flow (see :meth:`_build_cells`): cell arrays are (M, F), pair arrays (M, G).
        Large intermediate arrays are written into the work arrays ``self._w`` (``out=``
        and in-place operators) in the order of operations of the equations cited, so the
        numbers are those of the plain expressions.
        """
        if self.t >= self.T:
            raise RuntimeError("the scenario horizon is over")
        t, p, s, w = self.t, self.period_index[self.t], self._state, self._w
        P, f, gp = self.p, self._f, self._g
        tariff, guar, locked, avail, extra, cap, K, kappa_r, unavailable = self._cell_wedges(t)
        b = self.baseline_index[:, t][:, None]                                  # (M, 1)
        v0 = np.multiply(f["v0"], b, out=w.v0)                                  # (M, F)

        # 1. route choice at the start-of-day queue (in trucks: yesterday's end-of-day count)
        q_trucks = s["queue_trucks"]                                            # (M, C)
        # days a crossing has been fully shut; a partial capacity cut is a throughput loss
        # (handled by the queue), so only full closures lengthen the expected closure
        elapsed = np.where(cap <= 0.0, s["closure_days"] + 1.0, 0.0)
        s["closure_days"] = elapsed
        expected = np.maximum(P["closure_expected_days"][:, None], elapsed)
        W = eq.calc_wait_days(q_trucks, self.capacity, cap, expected)
        delay_r = np.take(W, self._cell_c, axis=1, out=w.delay)
        delay_r += extra                                                 # days beyond baseline
        # ratio = g / g0 with g = 1 + f + h·D + tariff + guarantee (calc_generalized_cost)
        ratio = np.add(f["route_days0"], delay_r, out=w.ratio)                 # D
        ratio *= f["delay_cost"]
        ratio += f["one_plus_freight"]
        ratio += tariff
        ratio += guar
        ratio /= f["g0"]
        # the target flow and what follows from it alone are recomputed only when their
        # inputs changed since yesterday (days with no queue and no change of measures repeat
        # them exactly): an exact memo, see _Memo
        memo = self._memo
        fresh = memo.stale(self._day_pattern[t], b, ratio)
        target, penalised = memo.target, memo.penalised
        if fresh:
            eq.calc_target_flow_cells(
                v0, f["s0"], avail, ratio, self._sigma_f, P["route_substitution_elasticity"],
                P["import_demand_elasticity"], out=target, work=w.weight,
                route_sum=lambda x: self._cells_to_commodity(x, w.gather),
                to_routes=lambda x: np.take(x, self._cell_k, axis=1,
                                            out=w.spread_bool if x.dtype == bool else w.spread),
                nests=self._nests)
            np.greater(ratio[:, None], 1.0, out=penalised)
            penalised |= unavailable[:, None]

        # 2. adjustment boxes: flight from a penalised route faster than each box's scale,
        #    uptake of alternatives at the box's scale, return toward the baseline slower
        y = s["box_deviation"]                                                  # (M, 3, F)
        ystar = np.subtract(target, v0, out=w.ystar)[:, None]
        gap = np.subtract(ystar, y, out=w.gap)                                  # y* − y
        gap *= self._adjustment_rates(y, gap, penalised)
        y += gap                                             # calc_box_update: y + λ·(y* − y)
        orders = w.orders
        np.matmul(self.box_weights[:, None, :], y, out=orders[:, None, :])     # Σ_b α_b · y_b
        orders += v0
        if self._anticipation:
            orders += self._anticipation_at(t)
        np.maximum(orders, 0.0, out=orders)
        # traders hold back cargo bound for a restricted crossing once the closure outlasts
        # their patience: held cargo is re-routed like cargo that turns back from the queue
        hold = cap + (1.0 - cap) * np.exp(-elapsed / P["queue_patience_days"][:, None])   # (M, C)
        hold_r = np.take(hold, self._cell_c, axis=1, out=w.hold)

        # 3. arrivals at crossings: fresh orders plus re-routed cargo reaching its new
        #    crossing (a first-order delay with the new route's transit time)
        pending = s["pending_value"]
        pending_prev_c = s["pending_by_pair"]                                   # before release
        released = np.multiply(pending, f["pending_release"], out=w.released)
        sent = np.add(orders, released, out=w.sent)
        arrivals_r = np.multiply(sent, hold_r, out=w.arrivals)
        # barred goods (restrictions) and traders without a guarantee are stopped at the
        # border: that share of the cargo turns back at once and is re-routed like held cargo
        arrivals_r *= avail
        sent -= arrivals_r                                                      # held back
        held_c = self._cells_to_pairs(sent, out=w.held_c)
        arrivals = self._cells_to_pairs(arrivals_r, out=w.arrivals_c)          # (M, G)
        qv = s["queue_value"]
        rest = np.add(qv, arrivals, out=w.queue)                                # at the border
        trucks = self._pairs_to_crossing(np.divide(arrivals, gp["vpt"], out=w.pair_tmp))
        phi = eq.calc_cleared_share(q_trucks, trucks, K)
        cleared = np.take(phi, self._pair_c, axis=1, out=w.cleared)
        cleared *= rest
        rest -= cleared
        spoiled = np.multiply(rest, gp["spoiled_share"], out=w.spoiled)        # calc_spoiled_value
        rest -= spoiled
        q_end = self._pairs_to_crossing(np.divide(rest, gp["vpt"], out=w.pair_tmp))
        W_end = eq.calc_wait_days(q_end, self.capacity, cap, expected)
        rho = eq.calc_renege_share(W_end, P["queue_patience_days"][:, None])
        turned = np.take(rho, self._pair_c, axis=1, out=w.turned)
        turned *= rest
        queue = rest
        queue -= turned
        turned += held_c
        # 4. re-route turned-back cargo to other crossings, in proportion to demand there:
        #    per = turned / excl where excl > max(1e-12 · tot, open floor), else 0 (lost)
        open_target, excl = memo.open_target, memo.excl
        alternative, nowhere = memo.alternative, memo.nowhere
        if memo.stale_open(fresh, hold):
            np.multiply(target, hold_r, out=open_target)
            tot = self._cells_to_commodity(open_target, w.gather)               # (M, K)
            tot = np.take(tot, self._pair_k, axis=1, out=w.tot)                 # (M, G)
            np.subtract(tot, self._cells_to_pairs(open_target, out=excl), out=excl)
            threshold = np.maximum(tot, 1e-300, out=tot)
            threshold *= 1e-12
            np.maximum(threshold, gp["open_floor"], out=threshold)
            np.greater(excl, threshold, out=alternative)
            np.logical_not(alternative, out=nowhere)
        per = np.divide(turned, excl, out=w.per, where=alternative)
        np.copyto(per, 0.0, where=nowhere)
        stranded = w.pair_tmp                                   # turned back with nowhere to go
        np.copyto(stranded, turned)
        np.copyto(stranded, 0.0, where=np.greater(per, 0.0, out=w.pair_bool))
        lost_turned = self._pairs_to_commodity(stranded)                        # (M, K)
        # pending' = pending − released + open_target · (Σ_c per − per[c(r)])
        shift = np.take(self._pairs_to_commodity(per), self._cell_k, axis=1, out=w.shift)
        shift -= np.take(per, self._cell_pair, axis=1, out=w.tmp)
        shift *= open_target
        pending -= released
        pending += shift
        pending_c = self._cells_to_pairs(pending, out=w.pending_c)

        # 5. compliance: arrival-weighted over the crossing's routes, yesterday's if none arrive
        num = self._cells_to_pairs(np.multiply(arrivals_r, kappa_r, out=w.tmp), out=w.pair_tmp)
        kappa = s["compliance"]
        np.divide(num, arrivals, out=kappa, where=np.greater(arrivals, 0.0, out=w.pair_bool))
        revenue = np.multiply(cleared, gp["rate"], out=w.pair_tmp)      # calc_customs_revenue
        revenue *= kappa
        revenue = revenue.sum(axis=1)
        e0 = np.multiply(gp["e0"], b, out=w.e0)
        baseline_revenue = np.multiply(e0, gp["rate"], out=w.pair_tmp).sum(axis=1)

        # 6. decomposition of R0 − R (USD): volume, diversion, delay, spoilage, evasion
        lost_nat = self._cells_to_commodity(np.subtract(v0, orders, out=w.tmp), w.gather)
        lost_nat += lost_turned                                                 # (M, K)
        lost = np.take(lost_nat, self._pair_k, axis=1, out=w.lost)
        lost *= gp["w0"]
        delayed = np.subtract(queue, qv, out=w.delayed)
        delayed += np.subtract(pending_c, pending_prev_c, out=w.pair_tmp)
        diverted = np.subtract(e0, cleared, out=w.diverted)
        diverted -= lost
        diverted -= delayed
        diverted -= spoiled
        # today's queue and pair sums become the state, yesterday's arrays tomorrow's work arrays
        s["queue_value"], w.queue = queue, qv
        s["pending_by_pair"], w.pending_c = pending_c, pending_prev_c
        self.t += 1

        o = self._acc
        o["trade_value"][p] += cleared
        evaded = np.subtract(1.0, kappa, out=w.pair_tmp)
        evaded *= cleared
        o["evaded_value"][p] += evaded
        o["spoiled_value"][p] += spoiled
        o["trade_lost_value"][p] += lost
        o["diverted_value"][p] += diverted
        o["delayed_value"][p] += delayed
        qt_ck = np.divide(queue, gp["vpt"], out=w.pair_tmp)
        qt = self._pairs_to_crossing(qt_ck)
        s["queue_trucks"] = qt
        o["queue_trucks"][p] = qt
        o["queue_trucks_max"][p] = np.maximum(o["queue_trucks_max"][p], qt)
        o["queue_truck_days"][p] += qt_ck
        o["wait_days"][p] += W_end / self.days_in_period[p]
        o["route_trade_value"][p] += arrivals_r
        # trader cost components (USD), used by the pressure ledger
        o["tariff_paid"][p] += np.multiply(tariff, arrivals_r, out=w.tmp)
        o["guarantee_cost"][p] += np.multiply(guar, arrivals_r, out=w.tmp)
        o["locked_value_days"][p] += np.multiply(locked, arrivals_r, out=w.tmp)
        congestion = np.multiply(arrivals_r, f["delay_cost"], out=w.tmp)
        congestion *= delay_r
        o["congestion_cost"][p] += congestion
        premium = np.multiply(arrivals_r, f["premium"], out=w.tmp)
        o["mix_premium"][p] += np.maximum(self._cells_to_commodity(premium, w.gather), 0.0)
        return {"customs_revenue": revenue, "baseline_customs_revenue": baseline_revenue,
                "queue_trucks": qt.copy()}

    def _adjustment_rates(self, y: np.ndarray, gap: np.ndarray,
                          penalised: np.ndarray) -> np.ndarray:
        """Daily rate λ (M, 3, F) of each box and cell, given the box and its gap y* − y.

        λ at the flight scale where the target is below the box and the route penalised, at
        the box's own scale where the target is at or above a box that is not below the
        baseline, and at the return scale otherwise (docs/model.md §5). Built in a work
        array with masked copies of the (M, 3, 1) rates, faster than nested ``np.where``.
        """
        w = self._w
        lam_base, lam_flight, lam_return = self._lam_f
        down = np.less(gap, 0.0, out=w.down)              # y* < y (exact for finite numbers)
        lam, mask = w.lam, w.mask
        np.copyto(lam, lam_return)
        np.copyto(lam, lam_flight, where=np.logical_and(down, penalised, out=mask))
        np.less(y, 0.0, out=mask)                         # below the baseline
        mask |= down
        np.copyto(lam, lam_base, where=np.logical_not(mask, out=mask))
        return lam

    def _to_crossing(self, x: np.ndarray) -> np.ndarray:
        """Sum route cells (M, R, K) to their crossings (M, C, K)."""
        return self.BT @ x

    def run(self, progress: Callable[[int, int], None] | None = None) -> "Model":
        """Step to the end of the horizon; ``progress(done, total)`` is called each 30 days."""
        while self.t < self.T:
            self.step()
            if progress is not None and (self.t % 30 == 0 or self.t == self.T):
                progress(self.t, self.T)
        return self

    # ------------------------------------------------------------------ ledger
    def ledger(self) -> dict[str, np.ndarray]:
        """Who pays, per member and period (numpy): trader groups, Pakistan, leverage.

        Keys: ``trader_cost`` (M, P, G, component), ``trader_baseline_margin``,
        ``trader_capital_locked``, ``trader_pressure``, ``trader_pressure_accumulated``,
        ``protest_risk`` (M, P, G), ``pakistan_cost`` (M, P, pakistan_component),
        ``pakistan_net_cost``, ``treasury_loss``, ``coercion_exchange_ratio`` and
        ``coercion_exchange_ratio_cumulative`` (M, P), ``leverage_half_life_months`` (M,).
        Uses the periods simulated so far.
        """
        P = self.P
        o = {k: v[:, :P] for k, v in self.out.items()}
        days = self.days_in_period[:P]
        res = ledger.trader_ledger(o, self.groups, self.B, self.w0, days, self.p)
        pk = ledger.pakistan_ledger(o, self.pak_export, self.pak_transit, self.pak_route, self.freight)
        net = ledger.pakistan_net_cost(pk)
        loss = (o["baseline_customs_revenue"] - o["customs_revenue"]).sum(axis=(2, 3))
        res.update({
            "pakistan_cost": pk, "pakistan_net_cost": net, "treasury_loss": loss,
            "coercion_exchange_ratio": ledger.exchange_ratio(loss, net, cumulative=False),
            "coercion_exchange_ratio_cumulative": ledger.exchange_ratio(loss, net, cumulative=True),
            "leverage_half_life_months": ledger.leverage_half_life(
                loss, days, atol=1e-9 * float((self.e0 * self.rate).sum())),
        })
        return res

    # ------------------------------------------------------------------ result
    def result(self):
        """The labelled result as an :class:`xarray.Dataset` (see docs/outputs.md)."""
        from .output import build_dataset

        # build_dataset reads :attr:`out` and then :meth:`ledger`, which reads it again:
        # compute it once
        self._out_memo = self.out
        try:
            return build_dataset(self)
        finally:
            self._out_memo = None


def _expand(x: np.ndarray, flat: np.ndarray, shape: tuple[int, int], fill: float) -> np.ndarray:
    """Scatter the last axis of ``x`` to positions ``flat`` of a new (..., *shape) array."""
    size = x.shape[:-1] + (shape[0] * shape[1],)
    full = np.zeros(size) if fill == 0.0 else np.full(size, fill)   # zeros: no fill pass
    full[..., flat] = x
    return full.reshape(x.shape[:-1] + shape)


class _Memo:
    """What the daily loop may reuse from the day before, and when it may (exactly).

    The target flow (and the penalised flags) depend on the day's measures (their activity
    pattern), the baseline index ``b`` and the cost ratio g/g0 alone; the open demand that
    re-routed cargo is shared out by (and the pairs with an open alternative) on the target
    and the hold-back factor alone. On a day on which these inputs equal yesterday's, bit for
    bit, yesterday's arrays are today's: the comparisons cost a few passes over the arrays,
    recomputing them some twenty (with a power function). Results are identical either way
    (tests/test_model.py::test_memo_is_exact).
    """

    def __init__(self, M: int, F: int, G: int, C: int) -> None:
        self.enabled = True
        self.hits = [0, 0]                # days the target, the open demand were reused
        self.key: bytes | None = None
        self.b, self.ratio, self.hold = np.empty((M, 1)), np.empty((M, F)), np.empty((M, C))
        self.target, self.penalised = np.empty((M, F)), np.empty((M, 1, F), bool)
        self.open_target, self.excl = np.empty((M, F)), np.empty((M, G))
        self.alternative, self.nowhere = np.empty((M, G), bool), np.empty((M, G), bool)
        self.same = np.empty((M, F), bool)

    def stale(self, key: bytes, b: np.ndarray, ratio: np.ndarray) -> bool:
        """Whether the target must be recomputed; if so, remembers today's inputs."""
        if (self.enabled and key == self.key and np.array_equal(b, self.b)
                and np.equal(ratio, self.ratio, out=self.same).all()):
            self.hits[0] += 1
            return False
        self.key = key
        np.copyto(self.b, b)
        np.copyto(self.ratio, ratio)
        return True

    def stale_open(self, target_fresh: bool, hold: np.ndarray) -> bool:
        """Whether the open demand must be recomputed; if so, remembers today's hold."""
        if not target_fresh and self.enabled and np.array_equal(hold, self.hold):
            self.hits[1] += 1
            return False
        np.copyto(self.hold, hold)
        return True


class _GroupSum:
    """Sum the last axis over groups: ``out[..., j] = Σ x[..., i] over keys[i] == j``.

    ``np.add.reduceat`` over contiguous runs of equal keys (after a gather if the keys are
    not sorted); groups without members give 0. A matmul with a 0/1 incidence matrix is
    a little faster on wide arrays, but BLAS sums a row in an order that depends on the
    row's position in the array, and a member's results must not depend on the chunking.
    """

    def __init__(self, keys: np.ndarray, n: int) -> None:
        keys = np.asarray(keys)
        self.perm = None if np.all(keys[:-1] <= keys[1:]) else np.argsort(keys, kind="stable")
        sk = keys if self.perm is None else keys[self.perm]
        self.starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        self.groups = sk[self.starts]
        self.n = n

    def __call__(self, x: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
        """Group sums of ``x``; a ``scratch`` array shaped like ``x`` receives the gather."""
        if self.perm is not None:
            x = np.take(x, self.perm, axis=-1,
                        out=scratch if scratch is not None and scratch.shape == x.shape else None)
        return self._fill(np.add.reduceat(x, self.starts, axis=-1))

    def max(self, x: np.ndarray) -> np.ndarray:
        """Group maxima of ``x`` (0 for groups without members)."""
        if self.perm is not None:
            x = np.take(x, self.perm, axis=-1)
        return self._fill(np.maximum.reduceat(x, self.starts, axis=-1))

    def _fill(self, s: np.ndarray) -> np.ndarray:
        if len(self.groups) == self.n:
            return s
        out = np.zeros(s.shape[:-1] + (self.n,))
        out[..., self.groups] = s
        return out


def _always_on(m: CompiledMeasure, M: int) -> CompiledMeasure:
    return CompiledMeasure(m.index, m.type, m.label, m.mask, m.crossing_mask, -10 ** 9,
                           np.full(M, 10 ** 9), None, m.values, m.base)


def root_seed(rng: int | np.random.Generator | None, scenario: Scenario) -> int:
    """The ensemble's root seed: ``rng`` (an int, or one integer drawn from a Generator),
    else the scenario's ``seed``, else 0."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2 ** 63 - 1))
    if rng is not None:
        return int(rng)
    if scenario.seed is not None:
        return int(scenario.seed)
    return 0


def _period_labels(days: pd.DatetimeIndex, freq: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    per = days.to_period(FREQS[freq])
    labels = per.unique()
    index = labels.get_indexer(per)
    return labels.start_time if freq != "D" else days, index
