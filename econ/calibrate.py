"""Estimate behavioural parameters from an episode panel (``chokepoint calibrate``).

The panel (``inputs/episode_panel.csv``) holds published trade or revenue figures by
crossing, corridor or route for periods around documented episodes. Each row names the
episode file (``inputs/episodes/<id>.toml``) whose measures were in force and the
published series it belongs to. The estimator runs the model's own scenario machinery
for each episode and fits

    E[y_i] = exp(α_g(i)) · m_i(θ)

by Poisson pseudo-maximum likelihood (PPML, the gravity-literature estimator) or by
least squares on logs, where ``m_i(θ)`` is the model's value for row ``i`` (cleared trade,
revenue or trucks summed over the row's units and days) at parameters ``θ`` (by default
the route-substitution elasticity σ and the medium adjustment time scale), and ``α_g`` is
a fixed effect for each published series within each episode, so that only changes
within one series and one episode identify ``θ``. ``θ`` enters through the model, so the
fit is nonlinear: Gauss-Newton steps on ``log θ``, each a GLM with the fixed effects, an
offset ``log m(θ)`` and the Jacobian ``∂log m/∂log θ`` as regressors. At convergence the
same GLM gives the robust (sandwich) covariance; the standard error of ``θ`` follows by
the delta method. docs/calibration.md gives the derivation, identification and limits.

statsmodels is imported inside the functions that need it. The library logs; it never prints.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import InputError, input_error
from .inputs import Inputs, default_inputs_dir
from .parameters import REQUIRED, Parameter, parse_parameters
from .scenario import Scenario, _add_months, load_scenario, parse_scenario

log = logging.getLogger(__name__)

PANEL_FILE = "episode_panel.csv"
PANEL_COLUMNS = ("period_start", "period_end", "episode", "series", "unit", "kind", "direction",
                 "measure", "value", "source")
MEASURES = ("trade_value_usd", "customs_revenue_usd", "customs_revenue_afn", "trucks")
KINDS = ("all", "bilateral", "transit")
DIRECTIONS = ("all", "import", "export")
METHODS = ("ppml", "ols")
COV_TYPES = ("HC0", "HC1", "cluster")

#: parameters the estimator can fit (all positive: estimated on a log scale)
ESTIMABLE = ("route_substitution_elasticity", "import_demand_elasticity", "adjust_fast_days",
             "adjust_medium_days", "adjust_slow_days", "queue_patience_days",
             "closure_expected_days", "return_slowdown_factor")
DEFAULT_PARAMS = ("route_substitution_elasticity", "adjust_medium_days")
#: above this standard error of log θ (a 90% range wider than a factor of e^3.3 ≈ 27) an
#: estimate is reported as weakly identified and not written to a parameters file
WEAK_SE_LOG = 1.0
#: a parameter is also weakly identified when a value outside its 90% interval fits almost as
#: well: a quasi-likelihood ratio (deviance rise ÷ dispersion, others held) below the 90%
#: point of χ²(1). ``estimate`` scans :data:`SCAN_POINTS` values over θ̂/20 .. 20·θ̂.
CHI2_90 = 2.705543454095404
SCAN_POINTS = 9


def default_panel_path() -> Path:
    """The episode panel shipped with the package inputs."""
    return default_inputs_dir() / PANEL_FILE


# --------------------------------------------------------------------------- the panel


def _unit_ids(inputs: Inputs) -> dict[str, str]:
    """Known unit ids and what they are (crossing, corridor, route or all)."""
    ids: dict[str, str] = {"all": "all"}
    for c in inputs.routes["corridor"].unique():
        ids[str(c)] = "corridor"
    for c in inputs.crossings.index:
        ids[str(c)] = "crossing"
    for r in inputs.routes.index:
        ids[str(r)] = "route"
    return ids


def _episode_dir(inputs: Inputs | None) -> Path:
    if inputs is not None and (Path(inputs.directory) / "episodes").is_dir():
        return Path(inputs.directory) / "episodes"
    return default_inputs_dir() / "episodes"


def load_panel(path: str | Path | None = None, *, inputs: Inputs | None = None,
               episodes: Iterable[str] | None = None) -> pd.DataFrame:
    """Read and validate an episode panel (one check per rule, one-line InputError).

    Parameters
    ----------
    path
        CSV file with columns ``period_start, period_end`` (YYYY-MM-DD, both days
        included), ``episode`` (an id in ``inputs/episodes/`` or a name in ``episodes``),
        ``series`` (one published series: rows of a series share unit, kind, direction and
        measure and do not overlap in time), ``unit`` (crossing, corridor or route ids
        separated by ``;``, or ``all``), ``kind`` (all | bilateral | transit), ``direction``
        (all | import | export), ``measure`` (trade_value_usd | customs_revenue_usd |
        customs_revenue_afn | trucks), ``value`` (>= 0) and ``source``. ``None`` reads the
        shipped panel.
    inputs
        Inputs whose ids the units must use (default: the shipped inputs).
    episodes
        Allowed episode names; default: the episode files next to the inputs.
    """
    if inputs is None:
        from .inputs import load_inputs

        inputs = load_inputs()
    p = Path(path) if path is not None else default_panel_path()
    file = p.name
    if not p.is_file():
        raise input_error(str(p), "panel file not found", fix="pass an existing CSV with --panel")
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise input_error(file, f"not a readable UTF-8 CSV ({exc})", fix="save the file as UTF-8 CSV") from None
    if not rows:
        raise input_error(file, "empty file", fix=f"add a header row: {','.join(PANEL_COLUMNS)}")
    header = [h.strip() for h in rows[0]]
    for col in PANEL_COLUMNS:
        if col not in header:
            raise input_error(file, f"missing column '{col}'", expected=", ".join(PANEL_COLUMNS),
                              fix=f"add a '{col}' column")
    body = rows[1:]
    if not body:
        raise input_error(file, "no data rows", fix="add at least one observation")
    idx = {c: header.index(c) for c in PANEL_COLUMNS}
    units = _unit_ids(inputs)
    if episodes is None:
        known_eps = sorted(q.stem for q in _episode_dir(inputs).glob("*.toml"))
    else:
        known_eps = sorted(set(episodes))
    recs = []
    for i, r in enumerate(body):
        line = i + 2
        if len(r) != len(header):
            raise input_error(file, "wrong number of cells", row=line, found=len(r),
                              expected=f"{len(header)} (as in the header)",
                              fix="quote cells that contain commas")
        cell = {c: r[idx[c]].strip() for c in PANEL_COLUMNS}
        for c in PANEL_COLUMNS:
            if cell[c] == "":
                raise input_error(file, "empty cell", row=line, column=c, fix=f"fill in {c}")
        d = {}
        for c in ("period_start", "period_end"):
            try:
                d[c] = dt.date.fromisoformat(cell[c])
            except ValueError:
                raise input_error(file, "not a date", row=line, column=c, found=cell[c],
                                  expected="YYYY-MM-DD", fix="write a calendar date YYYY-MM-DD") from None
            if len(cell[c]) != 10:
                raise input_error(file, "not a date", row=line, column=c, found=cell[c],
                                  expected="YYYY-MM-DD", fix="write a calendar date YYYY-MM-DD")
        if d["period_end"] < d["period_start"]:
            raise input_error(file, "period_end before period_start", row=line, column="period_end",
                              found=(cell["period_start"], cell["period_end"]),
                              fix="swap or correct the dates (both days are included)")
        try:
            value = float(cell["value"])
        except ValueError:
            raise input_error(file, "value is not a number", row=line, column="value",
                              found=cell["value"], fix="write a plain number (no units or commas)") from None
        if not math.isfinite(value):
            raise input_error(file, "value is not finite", row=line, column="value", found=cell["value"],
                              fix="write a finite number")
        if value < 0:
            raise input_error(file, "negative value", row=line, column="value", found=value,
                              expected="a value >= 0", fix="trade, revenue and trucks cannot be negative")
        for c, allowed in (("measure", MEASURES), ("kind", KINDS), ("direction", DIRECTIONS)):
            if cell[c] not in allowed:
                raise input_error(file, f"unknown {c}", row=line, column=c, found=cell[c],
                                  expected=" | ".join(allowed), fix="use one of the allowed values")
        if cell["episode"] not in known_eps:
            raise input_error(file, "unknown episode", row=line, column="episode", found=cell["episode"],
                              expected=f"one of {', '.join(known_eps)}",
                              fix="name an episode file in inputs/episodes/ (without .toml)")
        parts = [s.strip() for s in cell["unit"].split(";")]
        kinds_of = set()
        for s in parts:
            if s not in units:
                raise input_error(file, "unknown unit id", row=line, column="unit", found=s,
                                  expected="a crossing, corridor or route id (or all)",
                                  fix="use ids from crossings.csv / routes.csv, separated by ';'")
            kinds_of.add(units[s])
        if "all" in parts and len(parts) > 1:
            raise input_error(file, "'all' combined with other units", row=line, column="unit",
                              found=cell["unit"], fix="use 'all' alone")
        if "route" in kinds_of and cell["kind"] != "all":
            raise input_error(file, "a route unit already fixes the kind", row=line, column="kind",
                              found=cell["kind"], fix="set kind to all for route units")
        if cell["measure"] != "trade_value_usd" and cell["kind"] != "all":
            raise input_error(file, f"kind applies to trade_value_usd only, not {cell['measure']}",
                              row=line, column="kind", found=cell["kind"],
                              fix="set kind to all (revenue and trucks are counted by crossing)")
        recs.append({**cell, **d, "value": value, "row": line, "unit": ";".join(parts)})
    df = pd.DataFrame.from_records(recs)
    for s, g in df.groupby("series", sort=False):
        for c in ("unit", "kind", "direction", "measure"):
            other = (g[c] != g[c].iloc[0]).to_numpy()
            if other.any():
                j = int(np.flatnonzero(other)[0])
                raise input_error(file, f"series '{s}' mixes several values of {c}",
                                  row=int(g["row"].iloc[j]), column=c,
                                  found=(g[c].iloc[0], g[c].iloc[j]),
                                  fix="give each definition its own series name")
        g = g.sort_values("period_start")
        prev_end = g["period_end"].shift(1)
        bad = (g["period_start"] <= prev_end).to_numpy()
        if bad.any():
            line = int(g["row"].to_numpy()[np.flatnonzero(bad)[0]])
            raise input_error(file, f"period overlaps another row of series '{s}'", row=line,
                              column="period_start", fix="split the figures into non-overlapping periods "
                              "(e.g. subtract the overlapping month) or use another series")
    log.info("loaded panel %s: %d rows, %d series, %d episodes", p, len(df), df["series"].nunique(),
             df["episode"].nunique())
    df.attrs["path"] = str(p)
    return df


# --------------------------------------------------------------------------- episodes


def load_episode(name_or_path: str | Path, inputs: Inputs | None = None) -> Scenario:
    """An episode file as a scenario (its ``[[outcome]]`` tables are cut off)."""
    p = Path(name_or_path)
    if not p.suffix:
        cand = _episode_dir(inputs) / f"{name_or_path}.toml"
        if cand.is_file():
            p = cand
        else:
            return load_scenario(str(name_or_path))
    if not p.is_file():
        raise input_error(str(name_or_path), "episode file not found",
                          fix="name an episode file in inputs/episodes/")
    text = p.read_text(encoding="utf-8")
    if "[[outcome]]" not in text:
        return parse_scenario(text, file=p.name)
    from .episodes import parse_episode

    return parse_episode(text, file=p.name).scenario


def _covering(sc: Scenario, first: dt.date, last: dt.date) -> Scenario:
    """The scenario with its horizon widened to cover ``first``..``last`` (whole months).

    Measures are dated absolutely, so starting earlier only adds baseline days before
    them; ending later keeps measures without an end in force, as the episode defines.
    """
    start = min(sc.start, first.replace(day=1))
    months = sc.months + (sc.start.year - start.year) * 12 + (sc.start.month - start.month)
    while _add_months(start, months) <= last:
        months += 1
    if start == sc.start and months == sc.months:
        return sc
    log.info("episode %s: horizon widened to %s + %d months to cover the panel", sc.name, start, months)
    return sc.model_copy(update={"start": start, "months": months})


@dataclass
class _Row:
    """Precomputed selection of one panel row inside its episode run."""

    s: int                   # first day index (inclusive)
    e: int                   # last day index (exclusive)
    measure: str
    route_level: bool
    cmask: np.ndarray        # (C,) crossings
    rmask: np.ndarray        # (R,) routes (route level)
    kmask: np.ndarray        # (K,) commodities


class _Design:
    """Episodes, their scenarios and row selections; evaluates m_i(θ) by running the model."""

    def __init__(self, panel: pd.DataFrame, inputs: Inputs,
                 scenarios: Mapping[str, Scenario] | None) -> None:
        self.inputs = inputs
        self.panel = panel.reset_index(drop=True)
        routes, cr, com = inputs.routes, inputs.crossings, inputs.commodities
        self.route_ids = list(routes.index)
        self.crossing_ids = list(cr.index)
        self.com_ids = list(com.index)
        cidx = {c: i for i, c in enumerate(self.crossing_ids)}
        self.route_crossing = np.array([cidx[c] for c in routes["crossing"]])
        self.vpt = com["value_per_truck_usd"].to_numpy(float)
        v0 = (inputs.flows.pivot_table(index="route", columns="commodity", values="value_usd",
                                       aggfunc="sum")
              .reindex(index=self.route_ids, columns=self.com_ids).fillna(0.0).to_numpy(float))
        self.v0 = v0
        self.episodes: dict[str, Scenario] = {}
        self.rows: list[tuple[str, _Row]] = []
        units = _unit_ids(inputs)
        for name, g in self.panel.groupby("episode", sort=False):
            if scenarios is not None and name in scenarios:
                sc = scenarios[name]
            else:
                sc = load_episode(name, inputs)
            self.episodes[str(name)] = _covering(sc, min(g["period_start"]), max(g["period_end"]))
        for _, r in self.panel.iterrows():
            sc = self.episodes[r["episode"]]
            s = (r["period_start"] - sc.start).days
            e = (r["period_end"] - sc.start).days + 1
            parts = r["unit"].split(";")
            cm = np.zeros(len(self.crossing_ids), bool)
            rm = np.zeros(len(self.route_ids), bool)
            for u in parts:
                kind = units[u]
                if kind == "all":
                    cm[:] = True
                    rm[:] = True
                elif kind == "crossing":
                    cm[cidx[u]] = True
                    rm |= (routes["crossing"] == u).to_numpy()
                elif kind == "corridor":
                    sel = (routes["corridor"] == u).to_numpy()
                    rm |= sel
                    cm[self.route_crossing[sel]] = True
                else:
                    rm[self.route_ids.index(u)] = True
            route_level = r["kind"] != "all" or "route" in {units[u] for u in parts}
            if r["kind"] != "all":
                rm &= (routes["kind"] == r["kind"]).to_numpy()
            km = np.ones(len(self.com_ids), bool)
            if r["direction"] != "all":
                km = (com["direction"] == r["direction"]).to_numpy()
            self.rows.append((r["episode"], _Row(s, e, r["measure"], route_level, cm, rm, km)))
        self.runs = 0

    def predict(self, values: Mapping[str, float]) -> np.ndarray:
        """m_i(θ): the model's value of every panel row at parameter values ``values``."""
        from .model import Model

        inp = self.inputs.with_parameters(_set_values(self.inputs.parameters, values))
        out = np.empty(len(self.rows))
        cache: dict[str, dict[str, np.ndarray]] = {}
        for name, sc in self.episodes.items():
            model = Model(inp, sc, freq="D")
            model.run()
            self.runs += 1
            o = model.out
            z = lambda a: np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])  # noqa: E731
            cache[name] = {"tv": z(o["trade_value"][0]), "rtv": z(o["route_trade_value"][0]),
                           "rev": z(o["customs_revenue"][0])}
        for i, (name, row) in enumerate(self.rows):
            c = cache[name]
            out[i] = self._row_value(c, row)
        return out

    def _row_value(self, c: dict[str, np.ndarray], row: _Row) -> float:
        s, e = row.s, row.e
        km = row.kmask
        if row.measure in ("customs_revenue_usd", "customs_revenue_afn"):
            rev = c["rev"][e] - c["rev"][s]
            return float(rev[np.ix_(row.cmask, km)].sum())
        tv = c["tv"][e] - c["tv"][s]                                     # (C, K) cleared
        if row.route_level:
            arr = c["rtv"][e] - c["rtv"][s]                              # (R, K) arrivals
            tot = np.zeros_like(tv)
            np.add.at(tot, self.route_crossing, arr)
            base = np.zeros_like(tv)
            np.add.at(base, self.route_crossing, self.v0)
            share = np.where(tot[self.route_crossing] > 0,
                             arr / np.where(tot[self.route_crossing] > 0, tot[self.route_crossing], 1.0),
                             np.divide(self.v0, base[self.route_crossing],
                                       out=np.zeros_like(self.v0), where=base[self.route_crossing] > 0))
            val = tv[self.route_crossing] * share                        # (R, K) cleared by route
            if row.measure == "trucks":
                val = val / self.vpt
            return float(val[np.ix_(row.rmask, km)].sum())
        if row.measure == "trucks":
            tv = tv / self.vpt
        return float(tv[np.ix_(row.cmask, km)].sum())


def _set_values(params: Mapping[str, Parameter], values: Mapping[str, float]) -> dict[str, Parameter]:
    """Parameters with new central values; per-commodity values scaled by the same ratio."""
    out = dict(params)
    for n, v in values.items():
        p = params[n]
        ratio = v / p.value if p.value else 1.0
        out[n] = replace(p, value=float(v), by_commodity={k: x * ratio for k, x in p.by_commodity.items()})
    return out


# --------------------------------------------------------------------------- estimation


@dataclass(frozen=True)
class CalibrationResult:
    """Estimates, standard errors and fit statistics of :func:`estimate`.

    ``estimates`` and ``std_errors`` are on the parameters' own scale (the SE by the delta
    method from ``log_std_errors``, the SE of the log parameter); ``not_identified`` lists
    the parameters the panel cannot move (held at their prior values).
    """

    method: str
    cov_type: str
    params: tuple[str, ...]
    estimates: dict[str, float]
    std_errors: dict[str, float]
    log_std_errors: dict[str, float]
    priors: dict[str, float]
    not_identified: tuple[str, ...]
    at_bound: tuple[str, ...]
    nobs: int
    n_groups: int
    dropped: tuple[str, ...]
    loglike: float
    deviance: float
    null_deviance: float
    pseudo_r2: float
    iterations: int
    converged: bool
    model_runs: int
    scan: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    panel: str = ""
    fitted: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    def rival(self, name: str) -> tuple[float, float] | None:
        """A value outside the 90% interval that fits within the 90% quasi-LR bound, if any
        (the best such), as ``(value, quasi-LR)``: the interval is then misleading."""
        if name not in self.estimates:
            return None
        lo, hi = self.interval(name)
        out = [(v, lr) for v, lr in self.scan.get(name, ()) if (v < lo or v > hi) and lr < CHI2_90]
        return min(out, key=lambda t: t[1]) if out else None

    @property
    def weak(self) -> tuple[str, ...]:
        """Estimated parameters whose SE of log θ exceeds :data:`WEAK_SE_LOG`, or with a
        rival value outside the 90% interval that fits about as well (:meth:`rival`)."""
        return tuple(n for n, s in self.log_std_errors.items()
                     if not s <= WEAK_SE_LOG or self.rival(n) is not None)

    @property
    def written(self) -> tuple[str, ...]:
        """Parameters that :func:`to_parameters_toml` writes (identified, inside bounds, not weak)."""
        return tuple(n for n in self.params if n in self.estimates and n not in self.at_bound
                     and n not in self.weak)

    def interval(self, name: str, level: float = 0.90) -> tuple[float, float]:
        """Interval of ``level`` coverage, lognormal (symmetric in log θ)."""
        from scipy.special import ndtri

        z = float(ndtri(0.5 + level / 2))
        v, s = self.estimates[name], self.log_std_errors[name]
        return v * math.exp(-z * s), v * math.exp(z * s)

    def table(self) -> pd.DataFrame:
        """One row per parameter: prior, estimate, SE, 90% interval, status."""
        rows = []
        for n in self.params:
            lo, hi = self.interval(n) if n in self.estimates else (float("nan"), float("nan"))
            status = ("not identified" if n in self.not_identified else
                      "at bound" if n in self.at_bound else
                      "weakly identified" if n in self.weak else "estimated")
            rows.append({"parameter": n, "prior": self.priors[n],
                         "estimate": self.estimates.get(n, float("nan")),
                         "std_error": self.std_errors.get(n, float("nan")),
                         "p05": lo, "p95": hi, "status": status})
        return pd.DataFrame(rows).set_index("parameter")

    def fit_table(self) -> pd.DataFrame:
        """Fit statistics as a two-column table."""
        items = [("method", self.method), ("standard errors", self.cov_type),
                 ("observations", self.nobs), ("fixed effects (series x episode)", self.n_groups),
                 ("rows dropped", len(self.dropped)), ("log-likelihood", self.loglike),
                 ("deviance", self.deviance), ("null deviance", self.null_deviance),
                 ("pseudo R2", self.pseudo_r2),
                 *((f"rival value of {n} (quasi-LR < 2.71)",
                    f"{r[0]:.4g} (quasi-LR {r[1]:.2f})" if r else "none")
                   for n, r in ((n, self.rival(n)) for n in self.scan)),
                 ("iterations", self.iterations),
                 ("converged", self.converged), ("model runs", self.model_runs)]
        return pd.DataFrame({"statistic": [k for k, _ in items],
                             "value": [str(v) if not isinstance(v, float) else f"{v:.6g}" for _, v in items]}
                            ).set_index("statistic")


def _group_scale(y: np.ndarray, m: np.ndarray, groups: np.ndarray, method: str) -> np.ndarray:
    """Profiled fixed effects exp(α_g): Σy/Σm per group (PPML) or exp(mean log y/m) (OLS)."""
    out = np.empty_like(m)
    for g in np.unique(groups):
        sel = groups == g
        if method == "ppml":
            out[sel] = y[sel].sum() / m[sel].sum()
        else:
            out[sel] = math.exp(float(np.mean(np.log(y[sel]) - np.log(m[sel]))))
    return out


def _objective(y: np.ndarray, m: np.ndarray, groups: np.ndarray, method: str) -> float:
    """Poisson deviance (PPML) or sum of squared log residuals (OLS), fixed effects profiled."""
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        return float("inf")
    mu = m * _group_scale(y, m, groups, method)
    if method == "ppml":
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(y > 0, y * np.log(y / mu), 0.0)
        return float(2.0 * np.sum(t - (y - mu)))
    return float(np.sum((np.log(y) - np.log(mu)) ** 2))


def _fe_matrix(groups: np.ndarray) -> np.ndarray:
    u = np.unique(groups)
    return (groups[:, None] == u[None, :]).astype(float)


def _fit_glm(y, X, offset, method, cov_type, clusters):
    """One linearised fit: GLM Poisson (log link) with offset, or OLS on log y − offset."""
    import warnings

    import statsmodels.api as sm

    kw: dict[str, Any] = {"cov_type": cov_type}
    if cov_type == "cluster":
        kw["cov_kwds"] = {"groups": clusters}
    with warnings.catch_warnings():
        # statsmodels warns on non-integer Poisson endog, perfect fits or few clusters; the
        # quasi-likelihood (PPML) reading is intended and the fit statistics are reported
        warnings.simplefilter("ignore")
        if method == "ppml":
            res = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit(**kw)
        else:
            res = sm.OLS(np.log(y) - offset, X).fit(**kw)
    return res


def estimate(panel: pd.DataFrame, *, inputs: Inputs, params: Sequence[str] = DEFAULT_PARAMS,
             method: str = "ppml", cov_type: str = "HC1",
             scenarios: Mapping[str, Scenario] | None = None,
             start: Mapping[str, float] | None = None, max_iter: int = 25, tol: float = 1e-3,
             step: float = 0.02,
             progress: Callable[[int, float, dict[str, float]], None] | None = None) -> CalibrationResult:
    """Estimate ``params`` from an episode panel by PPML (or OLS on logs) through the model.

    Parameters
    ----------
    panel
        A validated panel (:func:`load_panel` or :func:`simulate_panel`).
    inputs
        Inputs whose other parameters stay at their central values.
    params
        Parameters to estimate (names in :data:`ESTIMABLE`); each is estimated on a log scale.
    method
        ``"ppml"`` (Poisson GLM, log link) or ``"ols"`` (least squares on log values;
        zero values are dropped).
    cov_type
        ``"HC1"`` (default), ``"HC0"`` or ``"cluster"`` (by series) robust covariance.
    scenarios
        Episode scenarios by name; episodes not given are read from ``inputs/episodes/``.
    start
        Starting values (default: the central values in ``inputs``).
    progress
        Callback ``progress(iteration, objective, values)`` after each Gauss-Newton step.
    """
    if method not in METHODS:
        raise InputError(f"calibrate: unknown method {method!r}; fix: use one of {', '.join(METHODS)}")
    if cov_type not in COV_TYPES:
        raise InputError(f"calibrate: unknown covariance {cov_type!r}; fix: use one of {', '.join(COV_TYPES)}")
    params = tuple(dict.fromkeys(params))
    for n in params:
        if n not in ESTIMABLE:
            raise InputError(f"calibrate: parameter {n!r} cannot be estimated; "
                             f"fix: choose from {', '.join(ESTIMABLE)}")
    if not params:
        raise InputError("calibrate: no parameter to estimate; fix: name at least one with --param")
    priors = {n: inputs.parameters[n].value for n in params}
    theta = {n: float((start or {}).get(n, priors[n])) for n in params}
    for n, v in theta.items():
        lo, hi = REQUIRED[n]
        if not (v > 0 and lo <= v <= hi):
            raise InputError(f"calibrate: start value of {n} is {v}; fix: use a value in ({max(lo, 0)}, {hi}]")

    scenarios = {**panel.attrs.get("scenarios", {}), **(scenarios or {})}
    design = _Design(panel, inputs, scenarios)
    y_all = panel["value"].to_numpy(float)
    groups_all = (panel["episode"].astype(str) + "|" + panel["series"].astype(str)).to_numpy()
    m0 = design.predict(theta)
    # rows that carry no information or that the model cannot fit
    dropped: list[str] = []
    keep = np.ones(len(panel), bool)
    for i in range(len(panel)):
        row = int(panel["row"].iloc[i]) if "row" in panel else i + 2
        if m0[i] <= 0:
            keep[i] = False
            dropped.append(f"row {row}: the model predicts no {panel['measure'].iloc[i]} "
                           f"(observed {y_all[i]:.6g})")
        elif method == "ols" and y_all[i] <= 0:
            keep[i] = False
            dropped.append(f"row {row}: zero value has no log (OLS)")
    for _ in range(len(panel)):
        counts = pd.Series(groups_all[keep]).value_counts()
        single = set(counts[counts < 2].index)
        sel = keep & np.isin(groups_all, list(single))
        if not sel.any():
            break
        for i in np.flatnonzero(sel):
            row = int(panel["row"].iloc[i]) if "row" in panel else i + 2
            dropped.append(f"row {row}: only row of series '{panel['series'].iloc[i]}' in episode "
                           f"'{panel['episode'].iloc[i]}' (absorbed by its fixed effect)")
        keep &= ~sel
    for d in dropped:
        log.warning("calibrate: dropped %s", d)
    if keep.sum() < 3:
        raise InputError("calibrate: fewer than 3 usable panel rows; fix: add rows with at least two "
                         "periods per series and episode")
    y_raw = y_all[keep]
    groups = groups_all[keep]
    # each series is divided by its mean, so that its weight does not depend on its currency
    y = y_raw / _group_scale(y_raw, np.ones_like(y_raw), groups, "ppml") if method == "ppml" else y_raw
    clusters = pd.factorize(panel["series"].to_numpy()[keep])[0]
    D = _fe_matrix(groups)

    def predict(th: dict[str, float]) -> np.ndarray:
        return design.predict(th)[keep]

    def jacobian(th: dict[str, float], m: np.ndarray, names: Sequence[str]) -> np.ndarray:
        J = np.empty((len(m), len(names)))
        for j, n in enumerate(names):
            lo, hi = REQUIRED[n]
            h = step if th[n] * math.exp(step) <= hi else -step
            th2 = dict(th)
            th2[n] = th[n] * math.exp(h)
            m2 = predict(th2)
            with np.errstate(divide="ignore", invalid="ignore"):
                J[:, j] = (np.log(np.maximum(m2, 1e-300)) - np.log(m)) / h
        return J

    m = m0[keep]
    names = list(params)
    J = jacobian(theta, m, names)
    # identification: the parameter must move the predictions within series (after the
    # fixed effects) and not duplicate another parameter's effect
    w = m * _group_scale(y, m, groups, method) if method == "ppml" else np.ones_like(m)
    Jd = J - D @ np.linalg.lstsq(D * np.sqrt(w)[:, None], J * np.sqrt(w)[:, None], rcond=None)[0]
    not_identified: list[str] = []
    for j, n in enumerate(list(names)):
        if np.sqrt(np.sum(w * Jd[:, j] ** 2) / np.sum(w)) < 1e-4:
            not_identified.append(n)
    keepj: list[int] = []
    for a, n in enumerate(names):
        if n in not_identified:
            continue
        ca = Jd[:, a] * np.sqrt(w)
        dup = any(abs(ca @ cb) / math.sqrt((ca @ ca) * (cb @ cb)) > 0.999
                  for cb in (Jd[:, b] * np.sqrt(w) for b in keepj))
        if dup:     # moves the predictions exactly as an earlier parameter does
            not_identified.append(n)
        else:
            keepj.append(a)
    for n in not_identified:
        log.warning("calibrate: %s is not identified by this panel (held at %g)", n, theta[n])
    names = [names[j] for j in keepj]
    J = J[:, keepj]
    obj = _objective(y, m, groups, method)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        if not names:
            converged = True
            break
        res = _fit_glm(y, np.column_stack([D, J]), np.log(m), method, "HC0", clusters)
        delta = np.asarray(res.params)[D.shape[1]:]
        lam = 1.0
        improved = False
        for _ in range(12):
            cand = {}
            for j, n in enumerate(names):
                lo, hi = REQUIRED[n]
                lo = max(lo, 1e-6)
                cand[n] = float(np.clip(theta[n] * math.exp(lam * delta[j]), lo, hi))
            trial = dict(theta)
            trial.update(cand)
            m_new = predict(trial)
            obj_new = _objective(y, m_new, groups, method)
            if obj_new <= obj:
                improved = True
                break
            lam /= 2
        if not improved:
            converged = True      # no descent direction left: at the optimum to numerical precision
            break
        change = max(abs(math.log(trial[n] / theta[n])) for n in names)
        theta, m, rel = trial, m_new, (obj - obj_new) / max(abs(obj), 1e-300)
        obj = obj_new
        log.info("calibrate: iteration %d, objective %.6g, %s", it, obj,
                 ", ".join(f"{n}={theta[n]:.4g}" for n in names))
        if progress is not None:
            progress(it, obj, dict(theta))
        J = jacobian(theta, m, names)
        if change < tol or rel < 1e-7:
            converged = True
            break
    # inference at the optimum: the linearised GLM has the same score as the nonlinear fit
    if names:
        final = _fit_glm(y, np.column_stack([D, J]), np.log(m), method, cov_type, clusters)
        cov = np.asarray(final.cov_params())[D.shape[1]:, D.shape[1]:]
        se_log = {n: float(math.sqrt(max(cov[j, j], 0.0))) for j, n in enumerate(names)}
    else:
        final = _fit_glm(y, D, np.log(m), method, cov_type, clusters)
        se_log = {}
    mu = m * _group_scale(y, m, groups, method)
    if method == "ppml":
        import statsmodels.api as sm

        fam = sm.families.Poisson()
        deviance = float(fam.deviance(y, mu))
        null_mu = _group_scale(y, np.ones_like(y), groups, "ppml")
        null_dev = float(fam.deviance(y, null_mu))
        llf = float(fam.loglike(y, mu))
    else:
        resid = np.log(y) - np.log(mu)
        deviance = float(resid @ resid)
        lg = np.log(y)
        gm = pd.Series(lg).groupby(groups).transform("mean").to_numpy()
        null_dev = float(((lg - gm) ** 2).sum())
        n = len(y)
        llf = float(-n / 2 * (math.log(2 * math.pi * deviance / n) + 1))
    pseudo_r2 = 1.0 - deviance / null_dev if null_dev > 0 else float("nan")
    # is the interval honest? Scan each parameter over θ̂/20 .. 20·θ̂ (others held) and record
    # the quasi-likelihood ratio (deviance rise ÷ dispersion); a value outside the 90% interval
    # with a ratio below χ²(1, 90%) means a flat or multi-modal objective (see CalibrationResult.rival)
    dof = max(1, len(y) - D.shape[1] - len(names))
    phi = obj / dof if obj > 0 else float("nan")
    scan: dict[str, tuple[tuple[float, float], ...]] = {}
    for n in names:
        if not se_log[n] <= WEAK_SE_LOG or not phi > 0:
            continue
        lo, hi = max(REQUIRED[n][0], 1e-6), REQUIRED[n][1]
        grid = np.unique(np.clip(theta[n] * np.exp(np.linspace(-math.log(20), math.log(20), SCAN_POINTS)),
                                 lo, hi))
        pts = []
        for v in grid:
            if math.isclose(v, theta[n], rel_tol=1e-9):
                continue
            o2 = _objective(y, predict({**theta, n: float(v)}), groups, method)
            pts.append((float(v), float((o2 - obj) / phi)))
        scan[n] = tuple(pts)
    at_bound = tuple(n for n in names if any(math.isclose(theta[n], b, rel_tol=1e-6)
                                              for b in (max(REQUIRED[n][0], 1e-6), REQUIRED[n][1])))
    estimates = {n: theta[n] for n in names}
    std_errors = {n: theta[n] * se_log[n] for n in names}     # delta method: dθ = θ·d log θ
    fitted = panel.loc[keep, ["row", "episode", "series", "period_start", "period_end", "value"]].copy() \
        if "row" in panel else panel.loc[keep, ["episode", "series", "period_start", "period_end", "value"]].copy()
    fitted["fitted"] = mu * (y_raw / y if method == "ppml" else 1.0)
    fitted["model_value"] = m
    log.info("calibrate: %s on %d rows, %d fixed effects: %s", method, len(y), D.shape[1],
             ", ".join(f"{n}={estimates[n]:.4g} (SE {std_errors[n]:.3g})" for n in names))
    return CalibrationResult(
        method=method, cov_type=cov_type, params=params, estimates=estimates, std_errors=std_errors,
        log_std_errors=se_log, priors=priors, not_identified=tuple(not_identified), at_bound=at_bound,
        nobs=int(len(y)), n_groups=int(D.shape[1]), dropped=tuple(dropped), loglike=llf,
        deviance=deviance, null_deviance=null_dev, pseudo_r2=float(pseudo_r2), iterations=it,
        converged=converged, model_runs=design.runs, scan=scan, panel=str(panel.attrs.get("path", "")),
        fitted=fitted)


# --------------------------------------------------------------------------- simulation


def simulate_panel(inputs: Inputs, scenario: Scenario | str | Path, *,
                   values: Mapping[str, float] | None = None,
                   units: Sequence[tuple[str, str, str, str]] | None = None,
                   noise_cv: float = 0.05, rng: int | np.random.Generator | None = None,
                   months: int = 1) -> pd.DataFrame:
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
        tot = inputs.flows.join(inputs.routes["crossing"], on="route").groupby("crossing")["value_usd"].sum()
        units = [(c, "all", "all", "trade_value_usd") for c in inputs.crossings.index if tot.get(c, 0) > 0]
    starts = []
    d = sc.start
    while d < sc.end:
        nxt = min(_add_months(d, months), sc.end)
        starts.append((d, nxt - dt.timedelta(days=1)))
        d = nxt
    recs = []
    truth = dict(values or {})
    desc = ", ".join(f"{k}={v:g}" for k, v in sorted(truth.items())) or "central values"
    for u, kind, direction, measure in units:
        for a, b in starts:
            recs.append({"period_start": a, "period_end": b, "episode": sc.name,
                         "series": f"sim-{u.replace(';', '+')}-{kind}-{direction}-{measure}",
                         "unit": u, "kind": kind, "direction": direction, "measure": measure,
                         "value": 0.0, "source": f"simulated by econ.calibrate.simulate_panel ({desc}; "
                                                  f"noise cv {noise_cv:g})"})
    panel = pd.DataFrame.from_records(recs)
    panel["row"] = np.arange(len(panel)) + 2
    design = _Design(panel, inputs, {sc.name: sc})
    m = design.predict(truth)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if noise_cv > 0:
        k = 1.0 / noise_cv ** 2
        noise = gen.gamma(k, 1.0 / k, size=len(m))
    else:
        noise = np.ones(len(m))
    panel["value"] = m * noise
    panel.attrs["path"] = f"<simulated: {sc.name}>"
    panel.attrs["scenarios"] = {sc.name: sc}
    return panel


# --------------------------------------------------------------------------- parameters files


def _fmt(x: float) -> str:
    return repr(float(f"{x:.6g}"))


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def to_parameters_toml(result: CalibrationResult, inputs: Inputs, *, include_weak: bool = False) -> str:
    """A parameters file (the format of ``inputs/parameters.toml``) with the estimated parameters.

    Each estimated parameter gets its estimate as ``value``, ``dist = "lognormal"`` with
    ``p05``/``p95`` from the standard error of its logarithm (so the 90% range is
    ``θ·exp(±1.645·SE(log θ))``), the prior's unit and description, and a ``source`` naming
    the panel, the method and the fit. Per-commodity values are the prior's, scaled by the
    ratio of the estimate to the prior. Parameters that were not identified, weakly
    identified (SE of log θ above :data:`WEAK_SE_LOG`) or that ended at a bound of their
    allowed range are left out (with a comment); ``include_weak`` writes weakly identified
    estimates too (their wide p05/p95 then say how little the panel knows).
    """
    lines = [f"# Parameters estimated by `chokepoint calibrate` ({result.method.upper()}, "
             f"{result.cov_type} standard errors) from {result.panel or 'an episode panel'}.",
             f"# n = {result.nobs} rows, {result.n_groups} series x episode fixed effects, "
             f"pseudo R2 = {result.pseudo_r2:.3f}, deviance = {result.deviance:.4g}, "
             f"log-likelihood = {result.loglike:.4g}, converged = {str(result.converged).lower()}.",
             "# Use with: chokepoint run SCENARIO --params THIS_FILE (only the tables below replace "
             "the inputs' parameters).", ""]
    panel_name = Path(result.panel).name if result.panel and not result.panel.startswith("<") else result.panel
    for n in result.params:
        if n not in result.written and not (include_weak and n in result.weak
                                            and n not in result.at_bound):
            why = ("not identified by the panel" if n in result.not_identified else
                   "estimate at a bound of its allowed range" if n in result.at_bound else
                   f"weakly identified (estimate {result.estimates.get(n, float('nan')):.4g}, "
                   f"SE of log {result.log_std_errors.get(n, float('nan')):.3g}"
                   + (f"; {result.rival(n)[0]:.4g} fits within the 90% quasi-LR bound"  # type: ignore[index]
                      if result.rival(n) else "") + ")")
            lines += [f"# [{n}] left out: {why}; the inputs' value {result.priors[n]:g} stays in force.", ""]
            continue
        prior = inputs.parameters[n]
        v = result.estimates[n]
        p05, p95 = result.interval(n, 0.90)
        p05, p95 = min(p05, v), max(p95, v)
        if not p05 < p95:
            p95 = v * (1 + 1e-6)
            p05 = v * (1 - 1e-6)
        src = (f"estimated by chokepoint calibrate from inputs/{PANEL_FILE}: " if panel_name == PANEL_FILE
               else f"estimated by chokepoint calibrate from {panel_name}: ")
        src += (f"{result.method.upper()} with series x episode fixed effects through the model "
                f"(Gauss-Newton on log {n}), {result.cov_type} robust SE {result.std_errors[n]:.4g} "
                f"(SE of log {result.log_std_errors[n]:.4g}, delta method), n = {result.nobs}, "
                f"pseudo R2 = {result.pseudo_r2:.3f}; prior value {result.priors[n]:g} "
                f"({prior.source[:120].rstrip()}...). See docs/calibration.md for identification and limits.")
        lines += [f"[{n}]", f"description = {_toml_str(prior.description)}", f"unit = {_toml_str(prior.unit)}",
                  f"value = {_fmt(v)}", 'dist = "lognormal"', f"p05 = {_fmt(p05)}", f"p95 = {_fmt(p95)}",
                  f"source = {_toml_str(src)}"]
        if prior.by_commodity:
            ratio = v / prior.value if prior.value else 1.0
            lines += ["", f"[{n}.by_commodity]"]
            lines += [f"{k} = {_fmt(x * ratio)}" for k, x in prior.by_commodity.items()]
        lines.append("")
    return "\n".join(lines)


def _as_table(p: Parameter) -> dict[str, Any]:
    t: dict[str, Any] = {"value": p.value, "dist": p.dist, "unit": p.unit, "source": p.source,
                         "description": p.description}
    if p.p05 is not None:
        t["p05"] = p.p05
    if p.p95 is not None:
        t["p95"] = p.p95
    if p.by_commodity:
        t["by_commodity"] = dict(p.by_commodity)
    return t


def apply_parameters_file(inputs: Inputs, path: str | Path) -> Inputs:
    """Inputs with the parameters in a TOML file (a subset of ``parameters.toml``) replaced.

    Each table names a parameter of the inputs and gives the fields to replace. When
    ``value`` changes and ``p05``/``p95`` or ``by_commodity`` are not given, the inputs'
    percentiles and per-commodity values are carried over scaled by the ratio of the new
    value to the old one (shifted by the difference for a normal distribution), so that the
    new value takes effect everywhere. The merged parameter set is validated with the rules
    of ``parameters.toml``; errors are one-line :class:`InputError` naming the file.
    """
    p = Path(path)
    file = p.name
    if not p.is_file():
        raise input_error(str(p), "parameters file not found", fix="pass an existing TOML file with --params")
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise input_error(file, f"malformed TOML: {exc}", fix="correct the TOML syntax") from None
    if not data:
        log.warning("%s: no parameter tables (e.g. calibrate identified nothing): inputs unchanged", file)
    known = inputs.parameters
    merged = {n: _as_table(q) for n, q in known.items()}
    for name, tab in data.items():
        if name not in known:
            raise input_error(file, f"unknown parameter [{name}]", found=name,
                              expected=f"one of {', '.join(sorted(known))}",
                              fix="correct the name or remove the table")
        if not isinstance(tab, dict):
            raise input_error(file, f"'{name}' is not a table", fix=f"write it as [{name}]")
        base = merged[name]
        new = {**base, **tab}
        if "value" in tab and isinstance(tab["value"], (int, float)) and not isinstance(tab["value"], bool):
            old = known[name].value
            v = float(tab["value"])
            normal = new.get("dist") == "normal"
            ratio = v / old if old else 1.0
            if "p05" not in tab and "p95" not in tab and "p05" in base and "p95" in base:
                if normal or old == 0:
                    new["p05"], new["p95"] = base["p05"] + (v - old), base["p95"] + (v - old)
                else:
                    new["p05"], new["p95"] = sorted((base["p05"] * ratio, base["p95"] * ratio))
            if "by_commodity" not in tab and base.get("by_commodity") and old:
                new["by_commodity"] = {k: x * ratio for k, x in base["by_commodity"].items()}
                log.info("%s: [%s] per-commodity values scaled by %.4g", file, name, ratio)
        merged[name] = new
        log.info("%s: parameter %s set to %s", file, name, new.get("value"))
    params = parse_parameters(merged, file, inputs.commodities.index)
    out = inputs.with_parameters(params)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    return replace(out, hashes={**out.hashes, f"params:{file}": digest})


__all__ = [
    "CalibrationResult", "DEFAULT_PARAMS", "ESTIMABLE", "apply_parameters_file", "default_panel_path",
    "estimate", "load_episode", "load_panel", "simulate_panel", "to_parameters_toml",
]
