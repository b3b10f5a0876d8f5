"""Baseline forecast of national customs revenue (USD/month) from the revenue history.

Two steps, both pure (no I/O, no printing):

1. :func:`monthly_history` turns the irregular history table ``revenue_monthly.csv``
   (fiscal years, solar months, partial periods) into a calendar-monthly series.
2. :func:`fit_baseline` fits statsmodels candidates (SARIMAX and ETS) to log revenue,
   picks one, and returns a :class:`Forecast` over the requested horizon: a median path
   and a prediction interval in USD/month, from which the model takes its
   ``baseline_index`` (a multiplier on base-year flows) and each ensemble member draws
   its own path.

statsmodels is imported inside the functions that use it, so importing this module
(and ``chokepoint --help``) stays fast. See ``docs/forecast.md`` for the method.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..model.baseline import base_year_monthly_usd  # noqa: F401 (part of this module's API)

log = logging.getLogger(__name__)

#: finer frequencies win where periods overlap: M (month) over P (partial) over A (year)
FREQUENCY_RANK: dict[str, int] = {"M": 0, "P": 1, "A": 2}
#: default central prediction interval of the forecast
DEFAULT_LEVEL = 0.90
#: fewest observed months for the SARIMAX / ETS candidates (fewer: constant-mean model)
MIN_OBS_MODEL = 12
#: fewest observed months for the seasonal candidates
MIN_OBS_SEASONAL = 36
#: fewest months that carry their own monthly information for the seasonal candidates
MIN_RESOLVED_SEASONAL = 24
#: ... and fewest such months per calendar month
MIN_RESOLVED_PER_MONTH = 2
SEASONAL_PERIOD = 12
#: mean calendar month length (days): models see revenue per standard month
MEAN_MONTH_DAYS = 365.25 / 12
#: confidence level of the parameter intervals in :attr:`Forecast.param_ci`
PARAM_CI_LEVEL = 0.95
#: iteration limit of the likelihood optimiser (statsmodels' default of 50 is often too few)
MAXITER = 500
FAMILIES = ("sarimax", "ets")
SLOPE = "log_growth_per_month"


# --------------------------------------------------------------------------- history


def monthly_history(revenue_monthly: pd.DataFrame, *, min_coverage: float = 0.5) -> pd.Series:
    """Monthly customs revenue R[m] (USD/month) from the irregular history table.

    ``R[m] = Σ_{d∈m, covered} r[d] · n[m] / c[m]`` where ``r[d]`` is the daily revenue
    rate (USD/day) of day ``d``, ``n[m]`` the number of days of calendar month ``m`` and
    ``c[m]`` the number of its days covered by an observation.

    The rule:

    1. Each period's revenue (``revenue_usd``; each row converted at its own
       ``afn_per_usd``) is spread evenly over its days.
    2. Where periods of different frequencies overlap, the finest wins: M (month) over
       P (partial period) over A (fiscal year). A coarser period keeps only what the
       finer ones leave: its total minus the revenue of the finer observations inside
       it, spread evenly over its days that no finer observation covers. So an annual
       total minus its known partial periods fills the rest of the year, and all
       totals are preserved. A coarser period with nothing (or less than nothing) left
       leaves its uncovered days missing (logged as a warning).
    3. Days are summed into calendar months. A month with at least ``min_coverage`` of
       its days covered is scaled up to the whole month at the mean daily rate of its
       covered days; a month with less is missing (NaN).

    Leading and trailing missing months are dropped; missing months inside the span
    stay NaN (the forecast's state-space models treat them as gaps).

    Parameters
    ----------
    revenue_monthly
        Table with columns ``start``, ``end`` (inclusive dates), ``frequency``
        (``M``, ``P`` or ``A``) and ``revenue_usd``, as loaded by
        ``econ.load_inputs().revenue_monthly``. Periods of one frequency must not
        overlap (``load_inputs`` checks this).
    min_coverage
        Share of a month's days that must be covered for the month to count.

    Returns
    -------
    pandas.Series
        ``revenue_usd`` in USD/month on a month-start index (``freq="MS"``).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"start": ["2021-01-16"], "end": ["2021-02-14"],
    ...                   "frequency": ["P"], "revenue_usd": [300.0]})
    >>> monthly_history(t).round(6).tolist()  # 10 USD/day, scaled to whole months
    [310.0, 280.0]
    """
    missing = {"start", "end", "frequency", "revenue_usd"} - set(revenue_monthly.columns)
    if missing:
        raise ValueError(f"revenue history lacks column(s) {', '.join(sorted(missing))}")
    if not 0.0 < min_coverage <= 1.0:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage!r}")
    if len(revenue_monthly) == 0:
        raise ValueError("revenue history is empty")
    df = pd.DataFrame(
        {
            "start": pd.to_datetime(revenue_monthly["start"]).dt.normalize(),
            "end": pd.to_datetime(revenue_monthly["end"]).dt.normalize(),
            "frequency": revenue_monthly["frequency"].astype(str).str.strip(),
            "revenue_usd": pd.to_numeric(revenue_monthly["revenue_usd"]).astype(float),
        }
    ).reset_index(drop=True)
    bad = ~df["frequency"].isin(list(FREQUENCY_RANK))
    if bad.any():
        raise ValueError(
            f"unknown frequency {df['frequency'][bad].iloc[0]!r}; "
            f"expected one of {', '.join(FREQUENCY_RANK)}"
        )
    if (df["end"] < df["start"]).any():
        raise ValueError("a period ends before it starts")

    day0 = df["start"].min()
    n_days = int((df["end"].max() - day0).days) + 1
    rate = np.full(n_days, np.nan)  # USD/day
    df["rank"] = df["frequency"].map(FREQUENCY_RANK)
    for rank in sorted(df["rank"].unique()):
        finer = ~np.isnan(rate)  # days fixed by strictly finer frequencies
        rows = df[df["rank"] == rank].sort_values("start")
        for _, row in rows.iterrows():
            i0 = int((row["start"] - day0).days)
            i1 = int((row["end"] - day0).days) + 1
            days = np.arange(i0, i1)
            if (~finer[days] & ~np.isnan(rate[days])).any():
                raise ValueError(
                    f"overlapping {row['frequency']} periods at "
                    f"{row['start'].date()}; periods of one frequency must not overlap"
                )
            known = finer[days]
            free = days[~known]
            label = f"{row['frequency']} period {row['start'].date()}–{row['end'].date()}"
            if free.size == 0:
                log.debug("%s is fully covered by finer observations", label)
                continue
            residual = float(row["revenue_usd"]) - float(rate[days[known]].sum())
            if residual <= 0.0:
                log.warning(
                    "%s: finer observations inside it exceed its total by %.4g USD; "
                    "its %d uncovered days are left missing",
                    label,
                    -residual,
                    free.size,
                )
                continue
            if known.any():
                log.info(
                    "%s: %.4g USD left after %d days of finer observations, spread over "
                    "its other %d days",
                    label,
                    residual,
                    int(known.sum()),
                    free.size,
                )
            rate[free] = residual / free.size

    daily = pd.Series(rate, index=pd.date_range(day0, periods=n_days, freq="D"))
    month = daily.index.to_period("M")
    total = daily.groupby(month).sum(min_count=1)
    covered = daily.notna().groupby(month).sum()
    periods = pd.period_range(total.index.min(), total.index.max(), freq="M")
    total = total.reindex(periods)
    covered = covered.reindex(periods, fill_value=0).astype(float)
    length = np.asarray(periods.days_in_month, dtype=float)
    share = covered.to_numpy() / length
    ok = share >= min_coverage - 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(ok, total.to_numpy() / covered.to_numpy() * length, np.nan)
    scaled = ok & (share < 1.0)
    if scaled.any():
        log.debug(
            "months scaled from partial coverage: %s",
            ", ".join(f"{p} ({s:.0%})" for p, s in zip(periods[scaled], share[scaled])),
        )
    dropped = (share > 0) & ~ok
    if dropped.any():
        log.info(
            "months left missing for coverage below %.0f%%: %s",
            100 * min_coverage,
            ", ".join(str(p) for p in periods[dropped]),
        )
    out = pd.Series(
        values,
        index=pd.DatetimeIndex(periods.to_timestamp(), freq="MS", name="month"),
        name="revenue_usd",
    )
    valid = out.notna().to_numpy()
    if not valid.any():
        raise ValueError("no month reaches the coverage threshold; lower min_coverage")
    first, last = np.flatnonzero(valid)[[0, -1]]
    out = out.iloc[first : last + 1]
    out.index.freq = "MS"
    return out


# --------------------------------------------------------------------------- forecast


def _ndtri(q: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri

    return ndtri(q)


def _z(level: float) -> float:
    """Standard normal quantile of the upper bound of a central ``level`` interval."""
    return float(_ndtri(np.array(0.5 + level / 2.0)))


@dataclass(frozen=True)
class Forecast:
    """A monthly baseline path of customs revenue (USD/month) over a horizon.

    ``median``, ``lower`` and ``upper`` are the median and the central ``level``
    prediction interval per month of ``index``; the distribution in each month is
    log-normal (normal in log revenue). ``kind`` says where each month comes from:
    ``observed`` (the history's value, a zero-width interval), ``smoothed`` (a gap
    inside the history, filled by the model's smoother), ``forecast`` (after the end of
    the history) or ``before-history`` (before its first month: the first observed
    value is carried back).

    Attributes
    ----------
    model
        Name of the selected model (e.g. ``sarimax(0,1,1)+drift``).
    aic
        The selected model's AIC on log revenue (see ``docs/forecast.md``).
    index
        Month-start DatetimeIndex of the horizon.
    median, lower, upper
        USD/month, arrays of the horizon's length.
    history
        The monthly history (USD/month) the model was fitted to.
    level
        Coverage of the ``lower``–``upper`` interval.
    selection
        How the model was chosen: ``aic``, ``holdout`` or ``fallback``.
    candidates
        Selection score of every candidate that was fitted (AIC, or holdout RMSE of
        log revenue when ``selection`` is ``holdout``).
    params, param_ci
        Estimated parameters and their 95% intervals; ``log_growth_per_month`` is the
        trend slope in log revenue per month where the model has one.
    kind
        Origin of each month (see above).
    """

    model: str
    aic: float
    index: pd.DatetimeIndex
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    history: pd.Series
    level: float = DEFAULT_LEVEL
    selection: str = "aic"
    candidates: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, float] = field(default_factory=dict)
    param_ci: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    kind: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    def __post_init__(self) -> None:
        n = len(self.index)
        for name in ("median", "lower", "upper"):
            arr = np.array(getattr(self, name), dtype=float)
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n},)")
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        kind = np.array(self.kind, dtype=object) if len(self.kind) else np.full(n, "", dtype=object)
        kind.flags.writeable = False
        object.__setattr__(self, "kind", kind)
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {self.level!r}")

    @property
    def months(self) -> int:
        return len(self.index)

    def draw(self, q: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """Paths at uniform quantiles ``q`` (USD/month), shape ``(len(q), months)``.

        ``path[i, t] = median[t] · exp(Φ⁻¹(q[i]) · s[t])`` with
        ``s[t] = ln(upper[t] / lower[t]) / (2 z)`` and ``z = Φ⁻¹(0.5 + level/2)``: the
        log-normal that passes through ``lower``, ``median`` and ``upper``. A member
        keeps its quantile in every month (one consistent level path per member);
        ``q = 0.5`` gives the median.
        """
        qa = np.atleast_1d(np.asarray(q, dtype=float))
        if qa.ndim != 1:
            raise ValueError("q must be a scalar or a 1-D array")
        if not np.all((qa > 0.0) & (qa < 1.0)):
            raise ValueError("quantiles q must lie strictly between 0 and 1")
        s = np.log(self.upper / self.lower) / (2.0 * _z(self.level))
        return self.median[None, :] * np.exp(_ndtri(qa)[:, None] * s[None, :])

    def baseline_index(
        self, monthly_usd: float, q: np.ndarray | Sequence[float] | None = None
    ) -> np.ndarray:
        """Baseline multiplier b[t] = (path[t] · 30.44 / n[t]) / B (1.0 = base year).

        ``path[t]`` is revenue in month ``t`` (USD/month) with ``n[t]`` days and ``B``
        the base-year revenue per month (USD/month, e.g. from
        :func:`base_year_monthly_usd`). Dividing by ``n[t]/30.44`` compares daily rates,
        so a 28-day month at the base-year daily rate gives 1.0, not 0.92: the index
        multiplies the model's daily flows. Without ``q`` the median path, shape
        ``(months,)``; with ``q`` one path per quantile (see :meth:`draw`), shape
        ``(len(q), months)``.
        """
        base = float(monthly_usd)
        if not math.isfinite(base) or base <= 0:
            raise ValueError(f"monthly_usd must be positive, got {monthly_usd!r}")
        path = self.median if q is None else self.draw(q)
        return path / _month_factor(self.index) / base

    def month_positions(self, days: pd.DatetimeIndex | Sequence[Any]) -> np.ndarray:
        """Position in the horizon of each day's month (to expand a monthly path to days).

        Raises ``ValueError`` if a day lies outside the horizon.
        """
        d = pd.DatetimeIndex(days)
        pos = (d.year - self.index[0].year) * 12 + (d.month - self.index[0].month)
        pos = np.asarray(pos, dtype=int)
        if len(pos) and (pos.min() < 0 or pos.max() >= self.months):
            raise ValueError(
                f"days {d.min().date()}–{d.max().date()} fall outside the forecast "
                f"horizon {self.index[0].date()}–{self.index[-1].date()}"
            )
        return pos

    def to_frame(self) -> pd.DataFrame:
        """The path as a table: median, lower, upper (USD/month) and kind, by month."""
        return pd.DataFrame(
            {"median": self.median, "lower": self.lower, "upper": self.upper, "kind": self.kind},
            index=self.index,
        )


@dataclass
class _Candidate:
    name: str
    family: str  # "sarimax" or "ets"
    order: tuple[int, int, int] = (0, 1, 1)
    seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0)
    trend: str = "n"  # SARIMAX: "n" none, "c" constant of the differenced series
    ets: dict[str, Any] = field(default_factory=dict)

    @property
    def diffuse(self) -> int:
        """Number of differencing states (initialised diffusely)."""
        return self.order[1] + self.seasonal_order[1] * self.seasonal_order[3]


@dataclass
class _Fit:
    name: str
    family: str
    aic: float
    mean: np.ndarray  # log revenue, positions 0 .. n-1+steps
    sd: np.ndarray  # predictive sd of log revenue
    params: dict[str, float]
    param_ci: dict[str, tuple[float, float]]


def _candidates(seasonal: bool, families: Sequence[str], gap_free: bool) -> list[_Candidate]:
    out: list[_Candidate] = []
    if "sarimax" in families:
        out += [
            _Candidate("sarimax(0,1,1)", "sarimax", (0, 1, 1)),
            _Candidate("sarimax(0,1,1)+drift", "sarimax", (0, 1, 1), trend="c"),
            _Candidate("sarimax(0,2,2)", "sarimax", (0, 2, 2)),
        ]
        if seasonal:
            out += [
                _Candidate("sarimax(0,1,1)(0,1,1,12)", "sarimax", (0, 1, 1), (0, 1, 1, 12)),
                _Candidate(
                    "sarimax(0,1,1)(1,0,0,12)+drift", "sarimax", (0, 1, 1), (1, 0, 0, 12), trend="c"
                ),
            ]
    if "ets" in families and gap_free:
        out += [
            _Candidate("ets(A,N,N)", "ets", ets={"error": "add"}),
            _Candidate(
                "ets(A,Ad,N)", "ets", ets={"error": "add", "trend": "add", "damped_trend": True}
            ),
        ]
        if seasonal:
            out.append(
                _Candidate(
                    "ets(A,Ad,A)",
                    "ets",
                    ets={
                        "error": "add",
                        "trend": "add",
                        "damped_trend": True,
                        "seasonal": "add",
                        "seasonal_periods": SEASONAL_PERIOD,
                    },
                )
            )
    return out


def _quietly(label: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with statsmodels' warnings captured and logged instead of raised."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            log.warning("%s: %s", label, str(w.message).splitlines()[0])
        else:
            log.debug("%s: %s: %s", label, w.category.__name__, str(w.message).splitlines()[0])
    return out


def _burn(y: pd.Series, q: int) -> int:
    """Periods to leave out of every likelihood: up to and including the q-th observation."""
    if q <= 0:
        return 0
    obs = np.flatnonzero(y.notna().to_numpy())
    return int(obs[min(q, len(obs)) - 1]) + 1


def _fit_sarimax(y: pd.Series, c: _Candidate, burn: int, steps: int) -> _Fit:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    n = len(y)
    model = SARIMAX(
        y, order=c.order, seasonal_order=c.seasonal_order, trend=c.trend, loglikelihood_burn=burn
    )
    res = model.fit(disp=False, maxiter=MAXITER)
    if not res.mle_retvals.get("converged", True):
        raise RuntimeError("maximum likelihood did not converge")
    if not np.isfinite(res.llf):
        raise RuntimeError("non-finite log-likelihood")
    pred = res.get_prediction(start=0, end=n - 1 + steps, information_set="smoothed")
    mean = np.asarray(pred.predicted_mean, dtype=float)
    var = np.asarray(pred.var_pred_mean, dtype=float)
    ci = np.asarray(res.conf_int(alpha=1.0 - PARAM_CI_LEVEL), dtype=float)
    names = list(res.param_names)
    params = {k: float(v) for k, v in zip(names, np.asarray(res.params, dtype=float))}
    param_ci = {k: (float(lo), float(hi)) for k, (lo, hi) in zip(names, ci)}
    if c.trend == "c" and c.order[:2] == (0, 1) and c.seasonal_order[:2] == (0, 0):
        # without AR terms, the constant of the once-differenced log series is the mean
        # monthly log growth (the drift); with AR terms it would be drift · (1 - Φ)
        params[SLOPE] = params["intercept"]
        param_ci[SLOPE] = param_ci["intercept"]
    return _Fit(
        c.name,
        c.family,
        float(res.aic),
        mean,
        np.sqrt(np.clip(np.nan_to_num(var, nan=0.0), 0.0, None)),
        params,
        param_ci,
    )


def _fit_ets(y: pd.Series, c: _Candidate, level: float, steps: int) -> _Fit:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    n = len(y)
    res = ETSModel(y, **c.ets).fit(disp=False, maxiter=MAXITER)
    if not res.mle_retvals.get("converged", True):
        raise RuntimeError("maximum likelihood did not converge")
    if not np.isfinite(res.llf):
        raise RuntimeError("non-finite log-likelihood")
    mean = np.concatenate([np.asarray(res.fittedvalues, dtype=float), np.zeros(steps)])
    sd = np.zeros(n + steps)
    if steps:
        frame = res.get_prediction(start=n, end=n + steps - 1).summary_frame(alpha=1.0 - level)
        mean[n:] = frame["mean"].to_numpy(float)
        sd[n:] = (frame["pi_upper"].to_numpy(float) - frame["pi_lower"].to_numpy(float)) / (
            2 * _z(level)
        )
    params = {k: float(v) for k, v in zip(res.param_names, np.asarray(res.params, dtype=float))}
    return _Fit(c.name, c.family, float(res.aic), mean, sd, params, {})


def _fit(y: pd.Series, c: _Candidate, *, burn: int, level: float, steps: int) -> _Fit | None:
    """Fit one candidate; ``None`` (logged) if it fails or does not converge."""
    try:
        if c.family == "sarimax":
            return _quietly(c.name, lambda: _fit_sarimax(y, c, burn, steps))
        return _quietly(c.name, lambda: _fit_ets(y, c, level, steps))
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
        log.warning(
            "%s dropped: %s", c.name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        )
        return None


def _fit_constant_mean(y: pd.Series, level: float, steps: int) -> _Fit:
    """Last resort: i.i.d. normal log revenue around a constant mean (Student-t interval)."""
    from scipy import stats

    obs = y.dropna().to_numpy(float)
    k = len(obs)
    mu = float(obs.mean())
    s = float(obs.std(ddof=1))
    sd_pred = s * math.sqrt(1.0 + 1.0 / k)
    # express the t interval as an equivalent normal sd so that draw() passes through it
    sd_eq = sd_pred * float(stats.t.ppf(0.5 + level / 2.0, k - 1)) / _z(level)
    sigma_ml = float(obs.std(ddof=0))
    llf = float(stats.norm.logpdf(obs, mu, sigma_ml).sum()) if sigma_ml > 0 else math.inf
    aic = -2.0 * llf + 2 * 2
    half = float(stats.t.ppf(0.5 + PARAM_CI_LEVEL / 2.0, k - 1)) * s / math.sqrt(k)
    return _Fit(
        "constant-mean",
        "mean",
        aic,
        np.full(len(y) + steps, mu),
        np.full(len(y) + steps, sd_eq),
        {"mean_log": mu, "sd_log": s},
        {"mean_log": (mu - half, mu + half)},
    )


def _seasonal_support(y: pd.Series) -> tuple[bool, str]:
    """Whether a (month-length adjusted) history can identify seasonality, and why (not).

    A month carries its own information ("resolved") only if its value differs from
    both neighbours': the months of an evenly spread multi-month period share one
    value and say nothing about seasonality.
    """
    r = y.to_numpy(float)
    n_obs = int(np.isfinite(r).sum())
    same = np.isclose(r[1:], r[:-1], rtol=1e-9, atol=0.0)
    spread = np.zeros(len(r), dtype=bool)
    spread[1:] |= same
    spread[:-1] |= same
    resolved = np.isfinite(r) & ~spread
    per_month = pd.Series(resolved, index=y.index.month).groupby(level=0).sum()
    per_month = per_month.reindex(range(1, 13), fill_value=0)
    n_res = int(resolved.sum())
    why = (
        f"{n_obs} observed months, {n_res} resolved at monthly resolution, "
        f"fewest per calendar month {int(per_month.min())} (need {MIN_OBS_SEASONAL}, "
        f"{MIN_RESOLVED_SEASONAL} and {MIN_RESOLVED_PER_MONTH})"
    )
    ok = (
        n_obs >= MIN_OBS_SEASONAL
        and n_res >= MIN_RESOLVED_SEASONAL
        and int(per_month.min()) >= MIN_RESOLVED_PER_MONTH
    )
    return ok, why


def _prepare(history: pd.Series) -> pd.Series:
    """History on a gap-marked month-start index, non-positive values missing, trimmed."""
    if not isinstance(history, pd.Series):
        raise TypeError("history must be a pandas Series indexed by month")
    idx = pd.DatetimeIndex(history.index)
    if idx.hasnans:
        raise ValueError("history index has missing dates")
    h = pd.Series(np.asarray(history, dtype=float), index=idx.to_period("M").to_timestamp())
    if h.index.has_duplicates:
        raise ValueError("history has more than one value for a month")
    h = h.sort_index().asfreq("MS")
    bad = h.notna() & ~((h > 0) & np.isfinite(h))
    if bad.any():
        log.warning(
            "history: %d non-positive or infinite month(s) treated as missing (first %s)",
            int(bad.sum()),
            h.index[bad.to_numpy()][0].date(),
        )
        h[bad] = np.nan
    valid = np.flatnonzero(h.notna().to_numpy())
    if len(valid) < 2:
        raise ValueError(f"history has {len(valid)} observed month(s); at least 2 are needed")
    h = h.iloc[valid[0] : valid[-1] + 1].copy()
    h.index = pd.DatetimeIndex(h.index, freq="MS", name="month")
    h.name = "revenue_usd"
    return h


def _month_factor(index: pd.DatetimeIndex) -> np.ndarray:
    """Days in each month over the mean month length (actual / standard-month revenue)."""
    return np.asarray(index.days_in_month, dtype=float) / MEAN_MONTH_DAYS


def _holdout_scores(
    y: pd.Series, cands: list[_Candidate], holdout: int, level: float, q_max: int
) -> dict[str, float]:
    """RMSE of each candidate's log forecasts over the last ``holdout`` months."""
    train, test = y.iloc[:-holdout], y.iloc[-holdout:].to_numpy(float)
    if int(train.notna().sum()) < MIN_OBS_MODEL:
        return {}
    scores: dict[str, float] = {}
    burn = _burn(train, q_max)
    for c in cands:
        f = _fit(train, c, burn=burn, level=level, steps=holdout)
        if f is not None:
            err = f.mean[len(train) :] - test
            scores[c.name] = float(np.sqrt(np.nanmean(err**2)))
    return scores


def _select(
    y: pd.Series,
    *,
    seasonal: bool | None,
    families: Sequence[str],
    holdout: int | None,
    level: float,
    steps: int,
) -> tuple[_Fit | None, str, dict[str, float]]:
    """Fit the eligible candidates and pick one (see :func:`fit_baseline`)."""
    n, n_obs = len(y), int(y.notna().sum())
    if n_obs < MIN_OBS_MODEL:
        log.warning(
            "history too short for SARIMAX/ETS: %d observed months (< %d); using the "
            "constant-mean model of log revenue",
            n_obs,
            MIN_OBS_MODEL,
        )
        return None, "fallback", {}
    support, why = _seasonal_support(y)
    use_seasonal = support if seasonal is None else bool(seasonal)
    if seasonal is None and not support:
        log.info("seasonal candidates rejected: %s", why)
    elif seasonal and not support:
        log.warning(
            "seasonal candidates forced although the history does not support them: %s", why
        )
    gap_free = n_obs == n
    if "ets" in families and not gap_free:
        log.info(
            "ETS candidates skipped: ETSModel needs a gap-free series and the history has "
            "%d missing month(s)",
            n - n_obs,
        )
    cands = _candidates(use_seasonal, families, gap_free)

    if any(c.family == "ets" for c in cands):
        hold = holdout if holdout is not None else min(12, n // 4)
        q_max = max(c.diffuse for c in cands)
        scores = _holdout_scores(y, cands, hold, level, q_max) if hold >= 1 else {}
        if scores:
            best = min(scores, key=scores.__getitem__)
            cand = next(c for c in cands if c.name == best)
            fit = _fit(y, cand, burn=_burn(y, q_max), level=level, steps=steps)
            if fit is not None:
                return fit, "holdout", scores
            log.warning("%s won the holdout but failed on the full history", best)
        log.info(
            "ETS could not be compared with SARIMAX on a holdout; choosing among the "
            "SARIMAX candidates by AIC"
        )
        cands = [c for c in cands if c.family == "sarimax"]

    if cands:
        burn = _burn(y, max(c.diffuse for c in cands))
        fits = [
            f
            for f in (_fit(y, c, burn=burn, level=level, steps=steps) for c in cands)
            if f is not None
        ]
        if fits:
            return min(fits, key=lambda f: f.aic), "aic", {f.name: f.aic for f in fits}
    log.warning("no SARIMAX/ETS candidate could be fitted; using the constant-mean model")
    return None, "fallback", {}


def fit_baseline(
    history: pd.Series,
    *,
    horizon_start: Any,
    months: int,
    level: float = DEFAULT_LEVEL,
    seasonal: bool | None = None,
    families: Sequence[str] = FAMILIES,
    holdout: int | None = None,
) -> Forecast:
    """Baseline monthly customs revenue (USD/month) over ``[horizon_start, +months)``.

    Candidates are fitted to ``y[m] = ln(R[m] · 30.44 / n[m])``, the log of revenue per
    standard-length month (``R`` from :func:`monthly_history`, ``n[m]`` days in month
    ``m``), so that calendar month length is not mistaken for a change in revenue:

    - SARIMAX (state space; missing months are skipped by the Kalman filter):
      ``(0,1,1)`` (local level, ≈ simple exponential smoothing), ``(0,1,1)+drift``
      (local level with constant growth) and ``(0,2,2)`` (≈ local linear trend); with
      enough monthly data also the seasonal ``(0,1,1)(0,1,1,12)`` and
      ``(0,1,1)(1,0,0,12)+drift``.
    - ETS (``ETSModel``: A,N,N and A,Ad,N; A,Ad,A when seasonal), only when the history
      has no missing month: ETSModel cannot skip gaps.

    Selection: with SARIMAX candidates only, the lowest AIC. AIC = −2 ln L + 2 k is made
    comparable by fitting every candidate to the same series with the same
    ``loglikelihood_burn``, so that every ln L sums the one-step predictive densities
    of the same observations (all but the first ``q``, ``q`` the largest number of
    differencing states among the candidates). When ETS candidates are in, AICs are not
    comparable across the two families (ETS estimates its initial states as
    parameters), so every candidate is scored by the RMSE of its log forecasts over the
    last ``holdout`` months from a fit to the months before, and the winner is refitted
    to the whole history.

    Fallbacks (each logged): seasonal candidates only when the history supports them
    (≥ 36 observed months, ≥ 24 of them resolved at monthly resolution, every calendar
    month resolved at least twice); with fewer than 12 observed months, or when no
    candidate can be fitted, a constant-mean model of ``y`` (Student-t predictive
    interval).

    Months of the horizon inside the history take the observed value (a zero-width
    interval) or, in a gap, the selected model's smoothed estimate; months after it
    take the forecast; months before its first month carry its first observed value
    back (per standard month).

    Parameters
    ----------
    history
        Monthly revenue (USD/month), e.g. from :func:`monthly_history`; NaN marks a
        missing month.
    horizon_start
        First month of the horizon (any date in it).
    months
        Number of months in the horizon.
    level
        Coverage of the prediction interval (default 0.90).
    seasonal
        ``None`` decides from the data (see above); ``False`` never fits the seasonal
        candidates; ``True`` fits them even if the data do not support them.
    families
        Model families to try: ``"sarimax"`` and/or ``"ets"``.
    holdout
        Months held out to compare ETS with SARIMAX (default ``min(12, n // 4)``).

    Returns
    -------
    Forecast

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> idx = pd.date_range("2022-01-01", periods=24, freq="MS")
    >>> h = pd.Series(1e8 * idx.days_in_month / 30.4375, index=idx)
    >>> h.iloc[[5, 6]] = np.nan
    >>> fc = fit_baseline(h, horizon_start="2025-01-01", months=3)
    >>> fc.kind.tolist(), bool(np.all(fc.lower <= fc.median) and np.all(fc.median <= fc.upper))
    (['forecast', 'forecast', 'forecast'], True)
    """
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise ValueError(f"months must be a positive integer, got {months!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown model families {sorted(unknown)}; expected {FAMILIES}")
    h = _prepare(history)
    y = np.log(h / _month_factor(h.index))
    n, n_obs = len(y), int(y.notna().sum())
    start = pd.Timestamp(horizon_start).to_period("M").to_timestamp()
    index = pd.date_range(start, periods=int(months), freq="MS", name="month")
    last = h.index[-1]
    steps = max(0, (index[-1].year - last.year) * 12 + index[-1].month - last.month)

    fit, selection, scores = _select(
        y, seasonal=seasonal, families=families, holdout=holdout, level=level, steps=steps
    )
    if fit is None:
        fit = _fit_constant_mean(y, level, steps)
        scores = {fit.name: fit.aic}

    z = _z(level)
    pos = np.asarray((index.year - h.index[0].year) * 12 + (index.month - h.index[0].month))
    y_obs = y.to_numpy(float)
    mean = np.empty(len(index))
    sd = np.zeros(len(index))
    kind = np.empty(len(index), dtype=object)
    for i, p in enumerate(pos):
        if p < 0:
            mean[i], kind[i] = y_obs[0], "before-history"
        elif p < n and np.isfinite(y_obs[p]):
            mean[i], kind[i] = y_obs[p], "observed"
        else:
            mean[i], sd[i] = fit.mean[p], fit.sd[p]
            kind[i] = "smoothed" if p < n else "forecast"
    if (pos < 0).any():
        log.warning(
            "horizon starts %d month(s) before the history (%s); those months carry "
            "its first observed value",
            int((pos < 0).sum()),
            h.index[0].date(),
        )
    factor = _month_factor(index)
    with np.errstate(over="ignore", invalid="ignore"):
        med = np.exp(mean) * factor
        lo = np.exp(mean - z * sd) * factor
        hi = np.exp(mean + z * sd) * factor
    observed = kind == "observed"
    med[observed] = lo[observed] = hi[observed] = h.to_numpy(float)[pos[observed]]
    if not (
        np.all(np.isfinite(med))
        and np.all(np.isfinite(lo))
        and np.all(np.isfinite(hi))
        and np.all(lo > 0)
    ):
        raise RuntimeError(f"{fit.name} produced a non-finite forecast")
    log.info(
        "baseline forecast: %s (%s; AIC %.1f) from %d observed months %s to %s; "
        "%d forecast month(s)",
        fit.name,
        selection,
        fit.aic,
        n_obs,
        h.index[0].strftime("%Y-%m"),
        last.strftime("%Y-%m"),
        int((kind == "forecast").sum()),
    )
    return Forecast(
        model=fit.name,
        aic=fit.aic,
        index=index,
        median=med,
        lower=lo,
        upper=hi,
        history=h,
        level=level,
        selection=selection,
        candidates=scores,
        params=fit.params,
        param_ci=fit.param_ci,
        kind=kind,
    )


#: the no-measure baselines a run can use
BASELINES = ("flat", "forecast")


def baseline_forecast(inputs, scenario, baseline: str) -> Forecast | None:
    """The :class:`Forecast` for ``baseline="forecast"`` over the scenario's horizon, else
    ``None`` (``"flat"``: base-year flows throughout)."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    if baseline == "flat":
        return None
    fc = fit_baseline(
        monthly_history(inputs.revenue_monthly),
        horizon_start=scenario.start,
        months=scenario.months + 1,
    )
    log.info("baseline: %s forecast of customs revenue", fc.model)
    return fc
