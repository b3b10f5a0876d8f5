"""The calibration design: episodes and panel rows, and the model's value m_i(θ) of each row."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...io.episodes import episode_from_data
from ...io.inputs import inputs_for
from ...io.scenarios import load_scenario, scenario_from_data
from ...io.toml import read_toml
from ...model import Model
from ...model.network import Network
from ...model.record import cleared_by_route
from ...spec.inputs import Inputs
from ...spec.scenario import Scenario, add_months
from .panel import _episode_dir, _unit_ids

log = logging.getLogger(__name__)


def load_episode(name_or_path: str | Path, inputs: Inputs | None = None) -> Scenario:
    """An episode file as a scenario (its ``[[outcome]]`` tables are dropped); a name that is
    not an episode next to the inputs is read as a scenario."""
    p = Path(name_or_path)
    if not p.suffix:
        cand = _episode_dir(inputs) / f"{name_or_path}.toml"
        if not cand.is_file():
            return load_scenario(str(name_or_path))
        p = cand
    data, text = read_toml(p, what="episode file", fix="name an episode file in inputs/episodes/")
    if "outcome" not in data:
        return scenario_from_data(data, p.name, text)
    return episode_from_data(data, p.name, text).scenario


def _covering(sc: Scenario, first: dt.date, last: dt.date) -> Scenario:
    """The scenario with its horizon widened to cover ``first``..``last`` (whole months).

    Measures are dated absolutely, so starting earlier only adds baseline days before
    them; ending later keeps measures without an end in force, as the episode defines.
    """
    start = min(sc.start, first.replace(day=1))
    months = sc.months + (sc.start.year - start.year) * 12 + (sc.start.month - start.month)
    while add_months(start, months) <= last:
        months += 1
    if start == sc.start and months == sc.months:
        return sc
    log.info(
        "episode %s: horizon widened to %s + %d months to cover the panel", sc.name, start, months
    )
    return sc.model_copy(update={"start": start, "months": months})


@dataclass
class _Row:
    """Precomputed selection of one panel row inside its episode run."""

    s: int  # first day index (inclusive)
    e: int  # last day index (exclusive)
    measure: str
    route_level: bool
    cmask: np.ndarray  # (C,) crossings
    rmask: np.ndarray  # (R,) routes (route level)
    kmask: np.ndarray  # (K,) commodities


class _Design:
    """Episodes, their scenarios and row selections; evaluates m_i(θ) by running the model."""

    def __init__(
        self, panel: pd.DataFrame, inputs: Inputs, scenarios: Mapping[str, Scenario] | None
    ) -> None:
        self.inputs = inputs
        self.network = net = Network.from_inputs(inputs)
        self.panel = panel.reset_index(drop=True)
        self.episodes: dict[str, Scenario] = {}
        # each episode runs on its own base year (inputs_for); the shared tables (ids,
        # routes, crossings) are the same in every base year, so row selections are too
        self.runs_on: dict[str, tuple[Inputs, Network]] = {}
        self.rows: list[tuple[str, _Row]] = []
        units = _unit_ids(inputs)
        selector = {"crossing": "crossings", "corridor": "corridors", "route": "routes"}
        for name, g in self.panel.groupby("episode", sort=False):
            if scenarios is not None and name in scenarios:
                sc = scenarios[name]
            else:
                sc = load_episode(name, inputs)
            self.episodes[str(name)] = _covering(sc, min(g["period_start"]), max(g["period_end"]))
            label = sc.base_year or inputs.label
            if label == inputs.label:
                self.runs_on[str(name)] = (inputs, net)
            else:
                known = {i.label: (i, n) for i, n in self.runs_on.values()}
                if label not in known:
                    other = inputs_for(sc, inputs)
                    known[label] = (other, Network.from_inputs(other))
                self.runs_on[str(name)] = known[label]
        for _, r in self.panel.iterrows():
            sc = self.episodes[r["episode"]]
            s = (r["period_start"] - sc.start).days
            e = (r["period_end"] - sc.start).days + 1
            parts = r["unit"].split(";")
            kinds = None if r["kind"] == "all" else [r["kind"]]
            direction = None if r["direction"] == "all" else r["direction"]
            rm = np.zeros(net.n_routes, bool)
            for u in parts:  # a row's units add up; kind and direction narrow each
                sel = {} if units[u] == "all" else {selector[units[u]]: [u]}
                part, km = net.select(kinds=kinds, direction=direction, **sel)
                rm |= part
            cm = np.zeros(net.n_crossings, bool)
            cm[net.route_crossing[rm]] = True
            route_level = r["kind"] != "all" or "route" in {units[u] for u in parts}
            self.rows.append((r["episode"], _Row(s, e, r["measure"], route_level, cm, rm, km)))
        self.runs = 0

    def predict(self, values: Mapping[str, float]) -> np.ndarray:
        """m_i(θ): the model's value of every panel row at parameter values ``values``."""
        return self.predict_many([values])[0]

    def predict_many(self, points: Sequence[Mapping[str, float]]) -> np.ndarray:
        """m_i(θ_p) for several parameter points (p, i): each episode runs once, the points as
        its members (``Model(values=...)``). A member's numbers do not depend on the other
        members of its run, so each row is what :meth:`predict` gives for that point alone,
        bit for bit; one run of p members costs little more than one of a single member (the
        Jacobian's columns, docs/performance.md). The points must name the same parameters."""
        names = list(points[0])
        if any(list(p) != names for p in points):
            raise ValueError("predict_many: every point must name the same parameters")
        P = len(points)
        out = np.empty((P, len(self.rows)))
        cache: dict[str, list[dict[str, np.ndarray]]] = {}
        overrides = {n: np.array([float(p[n]) for p in points]) for n in names}
        for name, sc in self.episodes.items():
            inp, network = self.runs_on[name]
            model = Model(inp, sc, freq="D", members=P, values=overrides, network=network)
            model.run()
            self.runs += P
            o = model.out
            z = lambda a: np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])  # noqa: E731
            cache[name] = [
                {
                    "tv": z(o["trade_value"][k]),
                    "rtv": z(o["route_trade_value"][k]),
                    "rev": z(o["customs_revenue"][k]),
                }
                for k in range(P)
            ]
        for k in range(P):
            for i, (name, row) in enumerate(self.rows):
                out[k, i] = self._row_value(cache[name][k], row, self.runs_on[name][1])
        return out

    def _row_value(self, c: dict[str, np.ndarray], row: _Row, net: Network) -> float:
        s, e, km = row.s, row.e, row.kmask
        if row.measure in ("customs_revenue_usd", "customs_revenue_afn"):
            rev = c["rev"][e] - c["rev"][s]
            return float(rev[np.ix_(row.cmask, km)].sum())
        tv = c["tv"][e] - c["tv"][s]  # (C, K) cleared
        if row.route_level:
            val = cleared_by_route(tv, c["rtv"][e] - c["rtv"][s], net.route_crossing, net.v0)
            if row.measure == "trucks":
                val = val / net.value_per_truck
            return float(val[np.ix_(row.rmask, km)].sum())
        if row.measure == "trucks":
            tv = tv / net.value_per_truck
        return float(tv[np.ix_(row.cmask, km)].sum())


def simulate_panel(
    inputs: Inputs,
    scenario: Scenario | str | Path,
    *,
    values: Mapping[str, float] | None = None,
    units: Sequence[tuple[str, str, str, str]] | None = None,
    noise_cv: float = 0.05,
    rng: int | np.random.Generator | None = None,
    months: int = 1,
) -> pd.DataFrame:
    """A panel simulated by the model itself, in the format of :func:`load_panel`.

    The model runs ``scenario`` with the parameters of ``inputs`` overridden by ``values``
    (the "true" parameters); each unit's value over each period of ``months`` months is
    multiplied by independent Gamma noise with mean 1 and coefficient of variation
    ``noise_cv`` (measurement error), drawn from ``numpy.random.default_rng(rng)``.

    ``units`` lists ``(unit, kind, direction, measure)``; default: every crossing with
    baseline trade, all kinds and directions, ``trade_value_usd``. Rows of one unit form
    one series (``sim-<unit>-<kind>-<direction>-<measure>``).
    """
    sc = scenario if isinstance(scenario, Scenario) else load_episode(scenario, inputs)
    if units is None:
        tot = (
            inputs.flows.join(inputs.routes["crossing"], on="route")
            .groupby("crossing")["value_usd"]
            .sum()
        )
        units = [
            (c, "all", "all", "trade_value_usd")
            for c in inputs.crossings.index
            if tot.get(c, 0) > 0
        ]
    starts = []
    d = sc.start
    while d < sc.end:
        nxt = min(add_months(d, months), sc.end)
        starts.append((d, nxt - dt.timedelta(days=1)))
        d = nxt
    recs = []
    truth = dict(values or {})
    desc = ", ".join(f"{k}={v:g}" for k, v in sorted(truth.items())) or "central values"
    for u, kind, direction, measure in units:
        for a, b in starts:
            recs.append(
                {
                    "period_start": a,
                    "period_end": b,
                    "episode": sc.name,
                    "series": f"sim-{u.replace(';', '+')}-{kind}-{direction}-{measure}",
                    "unit": u,
                    "kind": kind,
                    "direction": direction,
                    "measure": measure,
                    "value": 0.0,
                    "source": f"simulated by econ.calibrate.simulate_panel ({desc}; "
                    f"noise cv {noise_cv:g})",
                }
            )
    panel = pd.DataFrame.from_records(recs)
    panel["row"] = np.arange(len(panel)) + 2
    design = _Design(panel, inputs, {sc.name: sc})
    m = design.predict(truth)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if noise_cv > 0:
        k = 1.0 / noise_cv**2
        noise = gen.gamma(k, 1.0 / k, size=len(m))
    else:
        noise = np.ones(len(m))
    panel["value"] = m * noise
    panel.attrs["path"] = f"<simulated: {sc.name}>"
    panel.attrs["scenarios"] = {sc.name: sc}
    return panel
