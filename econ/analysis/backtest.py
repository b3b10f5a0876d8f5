"""Backtests: run documented episodes and score the model against what was observed.

Each outcome of an episode (:mod:`econ.episodes`) is computed from the model's result and
from two naive baselines that a model of diversion must beat:

* **no diversion**: flows hit by a measure shrink by its direct effect (a closure's lost
  capacity, a restriction's quota, a fee's or delay's price effect through the import-
  demand elasticity) and nothing moves anywhere else;
* **instant full diversion**: the same lost flow moves at once, in full, to the cheapest
  other open route for the same commodity (no volume loss unless no route is left).

Both are computed day by day from the same compiled measures as the model, so they see the
same scenario. Outcome values are percentages (see docs/validation.md for the metrics).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import equations as eq
from ..errors import input_error
from ..io.episodes import builtin_episodes, load_episode
from ..io.inputs import inputs_for
from ..model import Model
from ..model.ensemble import dask_client
from ..model.network import Network, UnknownId
from ..model.record import cleared_by_route as _cleared_by_route
from ..spec.episode import Episode, Outcome
from ..spec.inputs import Inputs
from ..spec.parameters import RANGES
from .forecast import baseline_forecast

log = logging.getLogger(__name__)

PREDICTORS = ("model", "no_diversion", "instant_diversion")


# --------------------------------------------------------------------------- naive baselines


def naive_flows(model: Model, kind: str) -> np.ndarray:
    """Route flows (M, P, R, K) USD per period under a naive baseline.

    ``kind`` is ``"no_diversion"`` or ``"instant_diversion"`` (module docstring). Uses the
    model's schedule (its public :meth:`~econ.model.schedule.Schedule.wedges`) and baseline
    path but none of its dynamics (no queues, adjustment boxes, re-routing delays or evasion).
    """
    if kind not in ("no_diversion", "instant_diversion"):
        raise ValueError(f"unknown naive baseline {kind!r}")
    net = model.network
    n_members, n_periods = model.draws.n_members, len(model.record.periods)
    n_routes, n_commodities = net.n_routes, net.n_commodities
    out = np.zeros((n_periods, n_members, n_routes, n_commodities))
    eps = model.draws.params["import_demand_elasticity"][:, None, :]
    has = net.v0 > 0
    # relative to the base year's own measures (econ.model.schedule.Schedule.relative)
    g0 = model.schedule.g0()
    g0 = net.g0 if g0 is None else g0
    for t in range(model.T):
        wd = model.schedule.relative(model.schedule.wedges(t))
        b = model.baseline_index[:, t]
        v0 = net.v0[None] * b[:, None, None]
        days = net.route_days0[None] + wd.extra_days
        g = eq.calc_generalized_cost(net.freight, net.delay_cost, days, wd.tariff, wd.guarantee)
        # share of the normal flow a crossing can still clear: its remaining capacity over
        # its baseline load (the same capacity semantics as the model; never above 1)
        load = net.baseline_load[None] * b[:, None]
        share_c = np.minimum(1.0, wd.capacity / np.maximum(load, 1e-300))
        open_r = share_c[:, net.route_crossing][:, :, None]  # (M, R, 1)
        direct = v0 * wd.availability * open_r * (g / g0) ** (-eps)
        flow = direct
        if kind == "instant_diversion":
            lost = v0 - direct
            # the cheapest other open route with baseline flow for the same commodity
            usable = has[None] & (open_r > 0) & (wd.availability > 0)
            cost = np.where(usable, g, np.inf)
            order = np.argsort(cost, axis=1)
            best, second = order[:, 0], order[:, 1]  # (M, K)
            mi = np.arange(n_members)[:, None]
            ki = np.arange(n_commodities)[None, :]
            finite2 = np.isfinite(cost[mi, second, ki])
            finite1 = np.isfinite(cost[mi, best, ki])
            # cargo on route r goes to `best`, or to `second` when r is itself the best
            is_best = np.arange(n_routes)[None, :, None] == best[:, None, :]
            dest = np.where(is_best, second[:, None, :], best[:, None, :])
            ok = np.where(is_best, finite2[:, None, :], finite1[:, None, :])
            moved = np.where(ok, lost, 0.0)
            flow = direct.copy()
            np.add.at(flow, (mi[:, :, None], dest, ki[:, None, :]), moved)
        out[model.record.period_index[t]] += flow
    return np.moveaxis(out, 0, 1)


def naive_dataset(model: Model, ds: xr.Dataset, kind: str) -> xr.Dataset:
    """The variables the outcome metrics read, under a naive baseline."""
    flows = naive_flows(model, kind)
    net = model.network
    cleared = net.to_crossing(flows)
    out = xr.Dataset(coords=ds.coords)
    dims_r = ("member", "time", "route", "commodity")
    dims_c = ("member", "time", "crossing", "commodity")
    out["route_trade_value"] = (dims_r, flows)
    out["baseline_route_trade_value"] = ds["baseline_route_trade_value"]
    out["trade_value"] = (dims_c, cleared)
    out["baseline_trade_value"] = ds["baseline_trade_value"]
    out["customs_revenue"] = (dims_c, cleared * net.rate)
    out["baseline_customs_revenue"] = ds["baseline_customs_revenue"]
    return out


# --------------------------------------------------------------------------- metrics


def window_weights(ds: xr.Dataset, start: dt.date, end: dt.date) -> xr.DataArray:
    """Share of each period's days inside ``[start, end)``: periods partly in the window
    count pro rata (flows are taken as even within a period)."""
    t0 = pd.DatetimeIndex(ds["time"].values)
    days = ds["days_in_period"].values.astype(float)
    t1 = t0 + pd.to_timedelta(days, unit="D")
    a, b = pd.Timestamp(start), pd.Timestamp(end)
    lo = np.maximum(t0.values, np.datetime64(a))
    hi = np.minimum(t1.values, np.datetime64(b))
    overlap = np.maximum((hi - lo) / np.timedelta64(1, "D"), 0.0)
    return xr.DataArray(overlap / days, coords={"time": ds["time"]}, dims="time")


def outcome_masks(network: Network, o: Outcome, file: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(route mask (R,), commodity mask (K,)) of an outcome's selectors (the network's one
    resolver); an unknown id is a one-line :class:`InputError`."""
    try:
        return network.select(
            crossings=o.crossings,
            corridors=o.corridors,
            routes=o.routes,
            kinds=o.kinds,
            commodities=o.commodities,
            direction=o.direction,
        )
    except UnknownId as exc:
        raise exc.as_input_error(file or "episode", f"outcome {o.id}") from None


def _sum(da: xr.DataArray, w: xr.DataArray) -> xr.DataArray:
    return (da * w).sum([d for d in da.dims if d != "member"])


def _rate(da: xr.DataArray, ds: xr.Dataset, a: dt.date, b: dt.date) -> xr.DataArray:
    """Mean per day over [a, b)."""
    return _sum(da, window_weights(ds, a, b)) / (b - a).days


def cleared_by_route(ds: xr.Dataset, network: Network) -> xr.DataArray:
    """Trade cleared at the border, by route (USD per period): the model's
    :func:`~econ.model.record.cleared_by_route` on the Dataset's variables."""
    arr = ds["route_trade_value"]
    return arr.copy(
        data=_cleared_by_route(
            ds["trade_value"].values, arr.values, network.route_crossing, network.v0
        )
    )


def outcome_value(
    ds: xr.Dataset, o: Outcome, network: Network, cache: dict | None = None
) -> np.ndarray:
    """The model's value of an outcome, per member (percent); NaN where undefined. ``cache``
    (a dict kept with ``ds``) holds the trade cleared by route for the next outcome of the
    same Dataset and windows (cleared_by_route is period by period, so it is taken on the
    periods the outcome reads only)."""
    M = ds.sizes["member"]
    if o.metric == "protest_risk":
        if "protest_risk" not in ds:
            return np.full(M, np.nan)
        w = window_weights(ds, o.window_start, o.window_end)
        risk = ds["protest_risk"].sel(group=o.groups).where(w > 0)
        return 100.0 * risk.max(["time", "group"]).values
    if o.metric == "price_change":
        # the mean staple price index of the items (weighted by the days of each period in the
        # window); a naive baseline has no prices (NaN)
        if "staple_price_index" not in ds:
            return np.full(M, np.nan)
        unknown = sorted(set(o.items or []) - set(ds["item"].values.tolist()))
        if unknown:
            raise input_error(
                "episode",
                f"outcome {o.id}: unknown item",
                found=unknown[0],
                expected=f"one of {', '.join(ds['item'].values.tolist())}",
                fix="use an item of inputs/io/basket.csv",
            )
        price = ds["staple_price_index"].sel(item=o.items).mean("item").reset_coords(drop=True)

        def mean(a: dt.date, b: dt.date) -> xr.DataArray:
            w = window_weights(ds, a, b) * ds["days_in_period"]
            return (price * w).sum("time") / w.sum("time")

        now = mean(o.window_start, o.window_end)
        if o.comparison == "level":
            return (100.0 * (now - 1.0)).values
        return (100.0 * (now / mean(o.compare_start, o.compare_end) - 1.0)).values
    if o.metric == "queue_days":
        # the largest queue of the window's periods, in days of the crossings' normal traffic
        if "queue_trucks_max" not in ds:
            return np.full(M, np.nan)
        sel = xr.DataArray(
            np.isin(network.crossing_ids, [network.crossing_id(c) for c in o.crossings]),
            dims="crossing",
        )
        w = window_weights(ds, o.window_start, o.window_end)
        queue = ds["queue_trucks_max"].where(sel, 0.0).sum("crossing").where(w > 0)
        load = float(network.baseline_load[sel.values].sum())
        return (queue.max("time") / load).values
    rmask, kmask = outcome_masks(network, o)
    cm = xr.DataArray(kmask, dims="commodity")
    # only the periods of the outcome's windows are read: the others weigh nothing
    windows = [(o.window_start, o.window_end)]
    if o.compare_start is not None and o.compare_end is not None:
        windows.append((o.compare_start, o.compare_end))
    read = sum(window_weights(ds, a, b).values for a, b in windows) > 0
    periods = np.flatnonzero(read)
    ds = ds.isel(time=periods)
    if o.metric == "revenue_change":
        # crossings of the selected routes (all crossings when no route selector is given)
        sel_c = np.zeros(network.n_crossings, bool)
        sel_c[network.route_crossing[rmask]] = True
        if all(getattr(o, f) is None for f in ("crossings", "corridors", "routes", "kinds")):
            sel_c[:] = True
        sel = xr.DataArray(sel_c, dims="crossing")
        x = ds["customs_revenue"].where(sel & cm, 0.0)
        base = ds["baseline_customs_revenue"].where(sel & cm, 0.0)
    else:
        rm = xr.DataArray(rmask, dims="route")
        cache = {} if cache is None else cache
        key = ("cleared", tuple(periods))  # outcomes of the same windows share it
        if key not in cache:
            cache[key] = cleared_by_route(ds, network)
        cleared = cache[key]
        x = cleared.where(rm & cm, 0.0)
        base = ds["baseline_route_trade_value"].where(rm & cm, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if o.metric == "corridor_share":
            allv = cleared.where(cm, 0.0)
            v = (
                100.0
                * _sum(x, window_weights(ds, o.window_start, o.window_end))
                / _sum(allv, window_weights(ds, o.window_start, o.window_end))
            )
            return v.values
        if o.comparison == "before_after":
            now = _rate(x, ds, o.window_start, o.window_end)
            before = _rate(x, ds, o.compare_start, o.compare_end)
            share = 1.0 if o.revenue_share is None else o.revenue_share
            return (100.0 * share * (now / before - 1.0)).values
        if o.comparison == "counterfactual":
            now = _rate(x, ds, o.window_start, o.window_end)
            cf = _rate(base, ds, o.window_start, o.window_end)
            share = 1.0 if o.revenue_share is None else o.revenue_share
            return (100.0 * share * (now / cf - 1.0)).values
    raise ValueError(f"outcome {o.id}: metric {o.metric} cannot be read as '{o.comparison}'")


# --------------------------------------------------------------------------- the backtest


@dataclass
class EpisodeResult:
    """One episode's runs: the model's Dataset and each predictor's outcome values."""

    episode: Episode
    dataset: xr.Dataset
    values: dict[str, dict[str, np.ndarray]] = field(
        default_factory=dict
    )  # predictor -> outcome -> (M,)


def run_episode(
    ep: Episode,
    inputs: Inputs,
    *,
    members: int = 1,
    rng: int | None = None,
    baseline: str = "flat",
    progress: Callable[[int, int], None] | None = None,
) -> EpisodeResult:
    """Run an episode with the model and the two naive baselines, on the episode's base year
    (:func:`econ.io.inputs.inputs_for`)."""
    inputs = inputs_for(ep.scenario, inputs)
    fc = baseline_forecast(inputs, ep.scenario, baseline)
    model = Model(inputs, ep.scenario, members=members, rng=rng, forecast=fc)
    model.run(progress=progress)
    ds = model.result()
    res = EpisodeResult(ep, ds)
    sets = {
        "model": ds,
        "no_diversion": naive_dataset(model, ds, "no_diversion"),
        "instant_diversion": naive_dataset(model, ds, "instant_diversion"),
    }
    for name, d in sets.items():
        cache: dict = {}
        res.values[name] = {o.id: outcome_value(d, o, model.network, cache) for o in ep.outcomes}
    return res


def score(results: list[EpisodeResult]) -> pd.DataFrame:
    """One row per outcome: observed, each predictor's value (median, 5–95% for the model),
    error (percentage points) and whether it is within the outcome's tolerance."""
    rows = []
    for r in results:
        for o in r.episode.outcomes:
            row: dict[str, object] = {
                "episode": r.episode.name,
                "outcome": o.id,
                "metric": o.metric,
                "observed": o.observed,
                "tolerance": o.tolerance,
                "known_failure": o.known_failure,
                "fit": o.fit,
            }
            for name in PREDICTORS:
                v = r.values[name][o.id]
                med = float(np.nanmedian(v)) if np.isfinite(v).any() else np.nan
                row[name] = med
                if name == "model" and len(v) > 1:
                    row["model_p05"], row["model_p95"] = (
                        (float(x) for x in np.nanpercentile(v, [5, 95]))
                        if np.isfinite(v).any()
                        else (np.nan, np.nan)
                    )
                row[f"{name}_error"] = med - o.observed
                row[f"{name}_within"] = bool(
                    np.isfinite(med) and abs(med - o.observed) <= o.tolerance
                )
            rows.append(row)
    df = pd.DataFrame(rows).set_index("outcome")
    return df


def summary(table: pd.DataFrame, *, common: bool = False, fitted: bool = False) -> pd.DataFrame:
    """Per predictor: share within tolerance, mean absolute error (pp) and MAPE (%).

    Over the outcomes each predictor can compute, or with ``common=True`` over those all
    predictors can (the naive baselines have no protest risk); with ``fitted=True`` only
    over the outcomes a fit may use (``fit = true`` in the episode file). MAPE divides each
    absolute error by max(|observed|, tolerance) so that outcomes observed near zero do not
    dominate.
    """
    rows = {}
    every = table[[f"{n}_error" for n in PREDICTORS]].notna().all(axis=1)
    use = every if common else pd.Series(True, index=table.index)
    if fitted:
        use = use & table["fit"].astype(bool)
    for name in PREDICTORS:
        err = table[f"{name}_error"]
        ok = err.notna() & use
        denom = np.maximum(table["observed"].abs(), table["tolerance"])
        rows[name] = {
            "outcomes": int(ok.sum()),
            "within_tolerance_pct": 100.0 * float(table.loc[ok, f"{name}_within"].mean())
            if ok.any()
            else np.nan,
            "mae_pp": float(err[ok].abs().mean()) if ok.any() else np.nan,
            "mape_pct": 100.0 * float((err[ok].abs() / denom[ok]).mean()) if ok.any() else np.nan,
        }
    df = pd.DataFrame(rows).T
    df.index.name = "predictor"
    return df


def out_of_sample_summary(table: pd.DataFrame, errors: pd.Series) -> pd.DataFrame:
    """The model's scores out of sample, in the form of :func:`summary`: ``errors`` are
    tolerance-scaled errors of outcomes scored at parameters fitted without them (``fit``'s
    ``out_of_sample_errors`` or ``time_split_errors``), over the fitted outcomes all three
    predictors can compute. The naive baselines follow, scored on the same outcomes (they have
    no parameters, so in and out of sample are the same for them)."""
    every = table[[f"{n}_error" for n in PREDICTORS]].notna().all(axis=1) & table["fit"]
    ids = [i for i in errors.dropna().index if i in table.index and every.loc[i]]
    t = table.loc[ids]
    denom = np.maximum(t["observed"].abs(), t["tolerance"])

    def row(err: pd.Series) -> dict[str, float]:
        return {
            "outcomes": len(ids),
            "within_tolerance_pct": 100.0 * float((err.abs() <= t["tolerance"]).mean())
            if ids
            else np.nan,
            "mae_pp": float(err.abs().mean()) if ids else np.nan,
            "mape_pct": 100.0 * float((err.abs() / denom).mean()) if ids else np.nan,
        }

    rows = {"model, out of sample": row(errors.loc[ids] * t["tolerance"])}
    for n in PREDICTORS:
        if n != "model":
            rows[n] = row(t[f"{n}_error"])
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("predictor")


def backtest(
    inputs: Inputs,
    episodes: list[str] | None = None,
    *,
    members: int = 1,
    rng: int | None = None,
    baseline: str = "flat",
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, list[EpisodeResult]]:
    """Run the shipped (or named) episodes and score every outcome (see :func:`score`)."""
    names = list(builtin_episodes()) if episodes is None else episodes
    results = []
    for n in names:
        ep = load_episode(n)
        if progress is not None:
            progress(ep.name)
        log.info("backtest: %s (%d outcomes)", ep.name, len(ep.outcomes))
        results.append(run_episode(ep, inputs, members=members, rng=rng, baseline=baseline))
    return score(results), results


# ------------------------------------------------------------- fitting to the evidence as a whole

#: default grid for :func:`fit`: the dynamics and route choice the backtests speak to
#: (route and within-corridor elasticities, the flight factor, the medium time scale, traders'
#: patience and how long orders take to find another route), across each prior's range
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "route_substitution_elasticity": (3.0, 5.0, 8.0, 13.0, 20.0),
    "within_corridor_substitution_ratio": (1.0, 2.0, 4.0),
    "flight_speed_factor": (0.3, 0.6, 1.0),
    "adjust_medium_days": (40.0, 80.0, 160.0),
    "queue_patience_days": (10.0, 20.0, 40.0),
    "order_replacement_days": (7.0, 14.0, 30.0),
}
#: grid points run side by side as members of one engine run (bounds memory)
FIT_CHUNK = 250
#: outcomes whose window ends on or before this date train the time split; the rest test it
TIME_SPLIT = dt.date(2024, 1, 1)
#: errors beyond this many tolerances count as this many (one confounded outcome must not
#: decide the fit)
LOSS_CAP = 4.0


def check_grid(
    grid: dict[str, tuple[float, ...]], inputs: Inputs, source: str = "grid"
) -> dict[str, tuple[float, ...]]:
    """Validate a fit grid: known parameters, finite values in the parameter's allowed range,
    no repeats. Returns it with float values; raises a one-line :class:`InputError`."""
    out = {}
    for name, values in grid.items():
        if name not in inputs.parameters:
            raise input_error(
                source,
                f"unknown parameter {name!r}",
                expected="a name in parameters.toml, e.g. " + ", ".join(DEFAULT_GRID),
            )
        vals = tuple(float(v) for v in values)
        lo, hi = RANGES.get(name, (-np.inf, np.inf))
        bad = [v for v in vals if not np.isfinite(v) or not lo <= v <= hi]
        if not vals or bad:
            raise input_error(
                source,
                f"values for {name} out of range",
                found=bad[0] if bad else "none",
                expected=f"one or more finite numbers in [{lo:g}, {hi:g}]",
            )
        if len(set(vals)) != len(vals):
            raise input_error(
                source, f"repeated values for {name}", found=vals, fix="give each value once"
            )
        out[name] = vals
    if not out:
        raise input_error(source, "empty grid", fix="give at least one parameter and its values")
    return out


def profile_loss(points: pd.DataFrame, total: pd.Series) -> pd.DataFrame:
    """Profile loss: for each grid parameter and value, the smallest loss over the rest of
    the grid. A flat profile means the episodes do not pin the parameter down.

    Rows (parameter, value) with ``loss`` and ``best`` (the value of the overall best point).
    """
    best = points.loc[total.idxmin()]
    rows = []
    for name in points.columns:
        lo = total.groupby(points[name]).min()
        rows += [
            {"parameter": name, "value": v, "loss": float(x), "best": bool(v == best[name])}
            for v, x in lo.items()
        ]
    return pd.DataFrame(rows).set_index(["parameter", "value"])


def fit_outcomes(ep: Episode) -> list[Outcome]:
    """Outcomes a fit may use: not protest risks (in-sample for the protest slope) and not
    outcomes marked ``fit = false`` in the episode file (the reason is in their note)."""
    return [o for o in ep.outcomes if o.metric != "protest_risk" and o.fit]


def grid_errors(
    inputs: Inputs,
    grid: dict[str, tuple[float, ...]] | None = None,
    episodes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    chunk: int = FIT_CHUNK,
    dask: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tolerance-scaled errors of every fit outcome at every grid point.

    The grid points of an episode run as members of vectorised engine runs of ``chunk``
    points (``Model(values=...)``): all other numbers stay at their central values. Returns
    ``(points, errors)``: the grid points (one row each) and a frame (grid point × outcome) of
    (model − observed) / tolerance, with the episode of each outcome in
    ``errors.attrs["episode"]`` and its window's end in ``errors.attrs["window_end"]``.
    """
    points, values = grid_values(inputs, grid, episodes, progress, chunk, dask=dask)
    errors = values.copy()
    for ep_name in set(values.attrs["episode"].values()):
        for o in fit_outcomes(load_episode(ep_name)):
            if o.id in errors:
                errors[o.id] = (values[o.id] - o.observed) / o.tolerance
    errors.attrs["episode"] = values.attrs["episode"]
    errors.attrs["window_end"] = values.attrs["window_end"]
    return points, errors


def grid_values(
    inputs: Inputs,
    grid: dict[str, tuple[float, ...]] | None = None,
    episodes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    chunk: int = FIT_CHUNK,
    dask: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model's value of every fit outcome (percent) at every grid point: ``(points,
    values)`` as in :func:`grid_errors`, before the error is taken (e.g. the transit outcomes
    across the range of ``guarantee_excluded_share``, docs/validation.md). Each episode runs
    on its own base year (:func:`econ.io.inputs.inputs_for`).

    Each chunk keeps only its outcome values, not its members' results. With ``dask`` (a
    ``distributed.Client``, a scheduler address or ``"local"``, as in :func:`econ.run`) the
    chunks run as tasks of that cluster; the values are the same."""
    grid = DEFAULT_GRID if grid is None else grid
    names = list(grid)
    mesh = np.meshgrid(*[np.asarray(grid[n], float) for n in names], indexing="ij")
    points = pd.DataFrame({n: m.ravel() for n, m in zip(names, mesh)})
    cols: dict[str, np.ndarray] = {}
    episode_of, window_end = {}, {}
    shared: dict[str, Any] = {}  # (inputs, network) per base year of the episodes

    def store(outs: list[Outcome], lo: int, got: dict[str, np.ndarray]) -> None:
        for o in outs:
            cols[o.id][lo : lo + len(got[o.id])] = got[o.id]

    with ExitStack() as stack:
        client = None if dask is None else stack.enter_context(dask_client(dask))
        pending = []
        for n in list(builtin_episodes()) if episodes is None else episodes:
            ep = load_episode(n)
            outs = fit_outcomes(ep)
            if not outs:
                continue
            if progress is not None:
                progress(ep.name)
            label = ep.scenario.base_year or inputs.label
            if label not in shared:
                inp = inputs_for(ep.scenario, inputs)
                both = (inp, Network.from_inputs(inp))
                # on dask: sent to the workers once, not once per chunk
                if client is not None:
                    both = client.scatter(both, broadcast=True, hash=False)
                shared[label] = both
            for o in outs:
                cols[o.id] = np.empty(len(points))
                episode_of[o.id], window_end[o.id] = ep.name, o.window_end
            for lo in range(0, len(points), chunk):
                part = points.iloc[lo : lo + chunk]
                values = {k: part[k].to_numpy() for k in names}
                args = (shared[label], ep.scenario, values, outs)
                if client is None:
                    store(outs, lo, chunk_outcomes(*args))
                else:
                    pending.append((outs, lo, client.submit(chunk_outcomes, *args, pure=False)))
        for outs, lo, fut in pending:
            store(outs, lo, fut.result())
            fut.release()
    values_out = pd.DataFrame(cols, index=points.index)
    values_out.attrs["episode"] = episode_of
    values_out.attrs["window_end"] = window_end
    return points, values_out


def chunk_outcomes(
    shared: tuple[Inputs, Network],
    scenario: Any,
    values: dict[str, np.ndarray],
    outs: list[Outcome],
) -> dict[str, np.ndarray]:
    """The fit outcomes ``outs`` of one chunk of grid points (``values``, one array per
    parameter) run as the members of one model on ``shared`` = (inputs, network): each
    outcome's value per point. The members' results are dropped here, so a fit holds one
    chunk's result at a time."""
    inp, network = shared
    n = len(next(iter(values.values())))
    scenario = scenario.with_months(outcome_months(scenario, outs))
    model = Model(inp, scenario, members=n, values=values, network=network).run()
    ds = model.result(variables=outcome_variables(outs))
    cache: dict = {}  # what the outcomes of this Dataset share (outcome_value)
    return {o.id: outcome_value(ds, o, network, cache) for o in outs}


#: the result variables each outcome metric reads (:func:`outcome_value`)
OUTCOME_VARIABLES: dict[str, tuple[str, ...]] = {
    "protest_risk": ("protest_risk",),
    "price_change": ("staple_price_index",),
    "queue_days": ("queue_trucks_max",),
    "revenue_change": ("customs_revenue", "baseline_customs_revenue"),
    "trade_change": ("trade_value", "route_trade_value", "baseline_route_trade_value"),
    "corridor_share": ("trade_value", "route_trade_value", "baseline_route_trade_value"),
}


def outcome_variables(outs: list[Outcome]) -> list[str]:
    """The result variables ``outs`` read: a fit builds only these (:meth:`Model.result`)."""
    return sorted({v for o in outs for v in OUTCOME_VARIABLES[o.metric]})


def outcome_months(scenario: Any, outs: list[Outcome]) -> int:
    """The months of ``scenario``'s horizon that ``outs`` read: up to the end of the calendar
    month holding the last day of any of their windows. The model is causal (a day depends on
    the days before it and on the schedule, which is the whole scenario's), so a run cut there
    gives the same outcome values as the whole horizon (tests/test_backtest.py); a horizon
    that does not start on the first of a month is kept whole (its periods would change)."""
    if scenario.start.day != 1 or not outs:
        return scenario.months
    last = max(max(o.window_end, o.compare_end or o.window_end) for o in outs)
    last = last - dt.timedelta(days=1)  # windows end before their end date
    months = (last.year - scenario.start.year) * 12 + (last.month - scenario.start.month) + 1
    return int(min(max(months, 1), scenario.months))


def loss(errors: pd.DataFrame) -> pd.Series:
    """Mean capped absolute tolerance-scaled error per grid point (NaN outcomes skipped)."""
    return errors.abs().clip(upper=LOSS_CAP).mean(axis=1, skipna=True)


def prior_penalty(points: pd.DataFrame, inputs: Inputs) -> pd.Series:
    """Σ_p ½ z_p² per grid point: how far each fitted parameter lies from its prior, in prior
    standard deviations (:meth:`~econ.spec.Parameter.prior_z`)."""
    z2 = sum(inputs.parameters[n].prior_z(points[n].to_numpy()) ** 2 for n in points.columns)
    return pd.Series(0.5 * np.asarray(z2, dtype=float), index=points.index)


def objective(errors: pd.DataFrame, penalty: pd.Series) -> pd.Series:
    """The penalised loss: mean capped |error| / tolerance + penalty / (number of outcomes).

    Read as a log posterior: Laplace errors of one tolerance and lognormal priors, with the
    prior worth as much as one outcome per prior standard deviation squared.
    """
    n = errors.notna().sum(axis=1).clip(lower=1)
    return loss(errors) + penalty / n


def fit(
    inputs: Inputs,
    grid: dict[str, tuple[float, ...]] | None = None,
    episodes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    dask: Any = None,
) -> dict[str, object]:
    """Fit the grid's parameters to all episodes together, with priors, and check it out of
    sample (docs/validation.md).

    The fit picks the grid point with the smallest :func:`objective` (the capped tolerance-
    scaled errors of every fit outcome plus the prior penalty). Out of sample, two ways:

    - leave one episode out: the point is chosen on the other episodes and the held-out
      episode's outcomes are scored at it;
    - time split: the point is chosen on outcomes whose window ends by :data:`TIME_SPLIT`
      and the later ones are scored at it.

    Returns ``points``, ``errors``, ``penalty``, ``best`` (dict of values),
    ``in_sample_loss`` (the error part at the best point), ``central_loss`` (the shipped
    central values), ``out_of_sample`` (a frame per held-out episode: chosen values, loss
    there at the chosen point and at the in-sample best), ``out_of_sample_errors`` (each
    outcome's tolerance-scaled error at the point chosen without its episode),
    ``time_split`` (a one-row frame) with ``time_split_errors``, ``profile``
    (:func:`profile_loss` of the objective) and ``profile_unpenalised`` (of the loss alone:
    what the episodes say without the priors). A grid given here is checked with
    :func:`check_grid`. ``dask`` runs the grid's chunks on a dask cluster (as in
    :func:`econ.run`; the same numbers).
    """
    grid = DEFAULT_GRID if grid is None else check_grid(grid, inputs)
    points, errors = grid_errors(inputs, grid, episodes, progress, dask=dask)
    penalty = prior_penalty(points, inputs)
    ep_of = pd.Series(errors.attrs["episode"])
    total = objective(errors, penalty)
    best = int(total.idxmin())
    rows, oos_errors = [], {}
    for ep in ep_of.unique():
        train = errors.loc[:, ep_of[ep_of != ep].index]
        test = errors.loc[:, ep_of[ep_of == ep].index]
        if train.shape[1] == 0 or loss(train).isna().all():  # nothing to choose on
            continue
        pick = int(objective(train, penalty).idxmin())
        oos_errors.update(test.loc[pick].to_dict())
        rows.append(
            {
                "held_out": ep,
                **{f"chosen_{k}": v for k, v in points.loc[pick].items()},
                "outcomes": test.shape[1],
                "loss_out_of_sample": float(loss(test).loc[pick]),
                "loss_in_sample_fit": float(loss(test).loc[best]),
            }
        )
    ends = pd.Series(errors.attrs["window_end"])
    early, late = ends[ends <= TIME_SPLIT].index, ends[ends > TIME_SPLIT].index
    split_rows, split_errors = [], {}
    if len(early) and len(late):
        pick = int(objective(errors.loc[:, early], penalty).idxmin())
        split_errors = errors.loc[pick, late].to_dict()
        split_rows.append(
            {
                "split": f"fit on outcomes to {TIME_SPLIT}, score the later ones",
                **{f"chosen_{k}": v for k, v in points.loc[pick].items()},
                "outcomes_fitted": len(early),
                "outcomes_scored": len(late),
                "loss_out_of_sample": float(loss(errors.loc[:, late]).loc[pick]),
                "loss_in_sample_fit": float(loss(errors.loc[:, late]).loc[best]),
            }
        )
    central = {n: (inputs.parameters[n].value,) for n in points.columns}
    _, central_errors = grid_errors(inputs, central, episodes)
    return {
        "points": points,
        "errors": errors,
        "penalty": penalty,
        "best": points.loc[best].to_dict(),
        "in_sample_loss": float(loss(errors).loc[best]),
        "in_sample_objective": float(total.loc[best]),
        "central_loss": float(loss(central_errors).iloc[0]),
        "out_of_sample": pd.DataFrame(
            rows,
            columns=[
                "held_out",
                *[f"chosen_{k}" for k in points.columns],
                "outcomes",
                "loss_out_of_sample",
                "loss_in_sample_fit",
            ],
        ).set_index("held_out"),
        "out_of_sample_errors": pd.Series(oos_errors, dtype=float),
        "time_split": pd.DataFrame(split_rows).set_index("split") if split_rows else pd.DataFrame(),
        "time_split_errors": pd.Series(split_errors, dtype=float),
        "profile": profile_loss(points, total),
        "profile_unpenalised": profile_loss(points, loss(errors)),
    }
