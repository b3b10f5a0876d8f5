"""Protest risk fitted to protests *and* to pressure without protest (docs/model.md §7).

The model's monthly protest risk of a trader group is ``σ(a + b·A)``, with ``A`` the group's
accumulated pressure (months of baseline margin lost, decaying) at the end of the month. The
evidence is the ``protest_risk`` outcomes of the shipped episodes: documented protests by Afghan
trader or trucker groups (observed 100) and months of measures with no such protest found
(observed 0). A case's window covers several groups and months; the chance of at least one
protest in it is

    P = 1 − Π_{g,t in the window} (1 − σ(a + b·A[g,t]))

and ``(a, b)`` maximise Σ y·log P + (1 − y)·log(1 − P) plus the log prior of each (normal for
``a``, lognormal for ``b``; ``prior`` in parameters.toml). :func:`fit_protest` returns the
estimates, each case's fitted and out-of-sample (leave one case out) probability, and the
same for a model with no slope (the base rate): the slope earns its place only if it predicts
held-out cases better than the base rate.

Analysis-layer code: it runs episodes through :mod:`econ.analysis.backtest` and returns
pandas objects; no printing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..io.episodes import builtin_episodes, load_episode
from ..model.model import Model
from ..spec.inputs import Inputs
from ..spec.parameters import Z95
from .forecast import baseline_forecast

INTERCEPT, SLOPE = "protest_risk_intercept", "protest_risk_slope"


@dataclass(frozen=True)
class ProtestCase:
    """One ``protest_risk`` outcome: whether a protest happened and the accumulated pressure
    ``pressure`` (group-months in the window, at central parameters) that the model saw."""

    episode: str
    outcome: str
    observed: int  # 1 = a documented protest by one of the groups, 0 = none found
    pressure: np.ndarray  # (n,) accumulated pressure of each group-month in the window
    groups: tuple[str, ...]
    window: tuple[dt.date, dt.date]


def protest_cases(
    inputs: Inputs,
    episodes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[ProtestCase]:
    """The protest cases of the shipped (or named) episodes, each run once at central
    parameters. Periods that overlap the window count (as in the backtest's metric)."""
    out = []
    for name in builtin_episodes() if episodes is None else episodes:
        ep = load_episode(name)
        outcomes = [o for o in ep.outcomes if o.metric == "protest_risk"]
        if not outcomes:
            continue
        if progress is not None:
            progress(name)
        model = Model(inputs, ep.scenario, forecast=baseline_forecast(inputs, ep.scenario, "flat"))
        model.run()
        ds = model.result()
        times = pd.DatetimeIndex(ds["time"].values)
        ends = times + pd.offsets.MonthBegin(1)
        for o in outcomes:
            lo, hi = pd.Timestamp(o.window_start), pd.Timestamp(o.window_end)
            keep = (times < hi) & (ends > lo)
            acc = ds["trader_pressure_accumulated"].isel(member=0).sel(group=list(o.groups))
            a = acc.isel(time=np.flatnonzero(keep)).values.ravel()
            out.append(
                ProtestCase(
                    ep.name,
                    o.id,
                    int(o.observed >= 50.0),
                    np.asarray(a, dtype=float),
                    tuple(o.groups),
                    (o.window_start, o.window_end),
                )
            )
    return out


def case_probability(a: float, b: float, pressure: np.ndarray) -> float:
    """P(at least one protest) = 1 − Π (1 − σ(a + b·A)) over a case's group-months   [1]"""
    z = a + b * np.asarray(pressure, dtype=float)
    # log(1 − σ(z)) = −log(1 + e^z), computed stably
    log_none = -np.logaddexp(0.0, z).sum()
    return float(-np.expm1(log_none))


def _priors(inputs: Inputs) -> tuple[tuple[float, float], tuple[float, float]]:
    """(mean, sd) of the normal prior on a and of the normal prior on log b.

    The intercept's prior is the normal whose 5–95% range is the parameter's p05–p95
    (centred between them, so refitting does not move the prior); the slope's is its
    lognormal ``prior`` (else its own distribution)."""
    pa, pb = inputs.parameters[INTERCEPT], inputs.parameters[SLOPE]
    sa = (pa.p95 - pa.p05) / (2 * Z95)
    ma = (pa.p95 + pa.p05) / 2.0
    c, lo, hi = pb.prior if pb.prior is not None else (pb.value, pb.p05, pb.p95)
    return (ma, sa), (math.log(c), (math.log(hi) - math.log(lo)) / (2 * Z95))


def _neg_log_posterior(theta, cases, prior_a, prior_lb, slope: bool) -> float:
    a, lb = theta[0], (theta[1] if slope else -np.inf)
    b = math.exp(lb) if slope else 0.0
    ll = 0.0
    for c in cases:
        p = min(max(case_probability(a, b, c.pressure), 1e-12), 1 - 1e-12)
        ll += math.log(p) if c.observed else math.log1p(-p)
    lp = -0.5 * ((a - prior_a[0]) / prior_a[1]) ** 2
    if slope:
        lp += -0.5 * ((lb - prior_lb[0]) / prior_lb[1]) ** 2
    return -(ll + lp)


def _map(cases, prior_a, prior_lb, slope: bool) -> tuple[float, float]:
    from scipy.optimize import minimize  # scipy comes with statsmodels; imported when fitting

    x0 = [prior_a[0], prior_lb[0]] if slope else [prior_a[0]]
    res = minimize(
        _neg_log_posterior,
        x0,
        args=(cases, prior_a, prior_lb, slope),
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
    )
    a = float(res.x[0])
    return a, (math.exp(float(res.x[1])) if slope else 0.0)


def fit_protest(cases: list[ProtestCase], inputs: Inputs) -> dict[str, object]:
    """Fit (a, b) to the cases with their priors; score each case out of sample.

    Returns ``intercept`` and ``slope`` (the MAP), ``base_rate_intercept`` (the fit with no
    slope), and ``cases``: a frame with each case's observed value, largest accumulated
    pressure, fitted probability, leave-one-out probability, and the base-rate model's
    leave-one-out probability, and ``scores``: the log score and the share classified right
    at 50% out of sample, for the model and the base rate.
    """
    if not cases:
        raise ValueError("no protest_risk outcomes to fit")
    prior_a, prior_lb = _priors(inputs)
    a, b = _map(cases, prior_a, prior_lb, slope=True)
    a0, _ = _map(cases, prior_a, prior_lb, slope=False)
    rows = []
    for i, c in enumerate(cases):
        rest = cases[:i] + cases[i + 1 :]
        ai, bi = _map(rest, prior_a, prior_lb, slope=True)
        a0i, _ = _map(rest, prior_a, prior_lb, slope=False)
        rows.append(
            {
                "episode": c.episode,
                "outcome": c.outcome,
                "observed": c.observed,
                "peak_accumulated": float(c.pressure.max()) if c.pressure.size else np.nan,
                "group_months": int(c.pressure.size),
                "p_fitted": case_probability(a, b, c.pressure),
                "p_out_of_sample": case_probability(ai, bi, c.pressure),
                "p_base_rate_out_of_sample": case_probability(a0i, 0.0, c.pressure),
            }
        )
    df = pd.DataFrame(rows).set_index("outcome")

    def score(col: str) -> dict[str, float]:
        p = df[col].clip(1e-12, 1 - 1e-12)
        y = df["observed"]
        return {
            "log_score": float((y * np.log(p) + (1 - y) * np.log1p(-p)).mean()),
            "right_at_50pct": float(((p >= 0.5) == (y == 1)).mean()),
        }

    scores = pd.DataFrame(
        {
            "model, out of sample": score("p_out_of_sample"),
            "base rate, out of sample": score("p_base_rate_out_of_sample"),
            "model, in sample": score("p_fitted"),
        }
    ).T
    return {
        "intercept": a,
        "slope": b,
        "base_rate_intercept": a0,
        "cases": df,
        "scores": scores,
    }
