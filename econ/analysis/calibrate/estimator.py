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

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError
from ...spec.inputs import Inputs
from ...spec.parameters import REQUIRED
from ...spec.scenario import Scenario
from .design import _Design
from .result import WEAK_SE_LOG, CalibrationResult

log = logging.getLogger(__name__)

METHODS = ("ppml", "ols")
COV_TYPES = ("HC0", "HC1", "cluster")
#: parameters the estimator can fit (all positive: estimated on a log scale)
ESTIMABLE = (
    "route_substitution_elasticity",
    "import_demand_elasticity",
    "adjust_fast_days",
    "adjust_medium_days",
    "adjust_slow_days",
    "queue_patience_days",
    "closure_expected_days",
    "return_slowdown_factor",
)
DEFAULT_PARAMS = ("route_substitution_elasticity", "adjust_medium_days")
#: values of each parameter scanned over θ̂/20 .. 20·θ̂ for rival optima (see CalibrationResult.rival)
SCAN_POINTS = 9


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


def estimate(
    panel: pd.DataFrame,
    *,
    inputs: Inputs,
    params: Sequence[str] = DEFAULT_PARAMS,
    method: str = "ppml",
    cov_type: str = "HC1",
    scenarios: Mapping[str, Scenario] | None = None,
    start: Mapping[str, float] | None = None,
    max_iter: int = 25,
    tol: float = 1e-3,
    step: float = 0.02,
    progress: Callable[[int, float, dict[str, float]], None] | None = None,
) -> CalibrationResult:
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
        raise InputError(
            f"calibrate: unknown method {method!r}; fix: use one of {', '.join(METHODS)}"
        )
    if cov_type not in COV_TYPES:
        raise InputError(
            f"calibrate: unknown covariance {cov_type!r}; fix: use one of {', '.join(COV_TYPES)}"
        )
    params = tuple(dict.fromkeys(params))
    for n in params:
        if n not in ESTIMABLE:
            raise InputError(
                f"calibrate: parameter {n!r} cannot be estimated; "
                f"fix: choose from {', '.join(ESTIMABLE)}"
            )
    if not params:
        raise InputError("calibrate: no parameter to estimate; fix: name at least one with --param")
    priors = {n: inputs.parameters[n].value for n in params}
    theta = {n: float((start or {}).get(n, priors[n])) for n in params}
    for n, v in theta.items():
        lo, hi = REQUIRED[n]
        if not (v > 0 and lo <= v <= hi):
            raise InputError(
                f"calibrate: start value of {n} is {v}; fix: use a value in ({max(lo, 0)}, {hi}]"
            )

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
            dropped.append(
                f"row {row}: the model predicts no {panel['measure'].iloc[i]} "
                f"(observed {y_all[i]:.6g})"
            )
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
            dropped.append(
                f"row {row}: only row of series '{panel['series'].iloc[i]}' in episode "
                f"'{panel['episode'].iloc[i]}' (absorbed by its fixed effect)"
            )
        keep &= ~sel
    for d in dropped:
        log.warning("calibrate: dropped %s", d)
    if keep.sum() < 3:
        raise InputError(
            "calibrate: fewer than 3 usable panel rows; fix: add rows with at least two "
            "periods per series and episode"
        )
    y_raw = y_all[keep]
    groups = groups_all[keep]
    # each series is divided by its mean, so that its weight does not depend on its currency
    y = (
        y_raw / _group_scale(y_raw, np.ones_like(y_raw), groups, "ppml")
        if method == "ppml"
        else y_raw
    )
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
        dup = any(
            abs(ca @ cb) / math.sqrt((ca @ ca) * (cb @ cb)) > 0.999
            for cb in (Jd[:, b] * np.sqrt(w) for b in keepj)
        )
        if dup:  # moves the predictions exactly as an earlier parameter does
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
        delta = np.asarray(res.params)[D.shape[1] :]
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
            converged = True  # no descent direction left: at the optimum to numerical precision
            break
        change = max(abs(math.log(trial[n] / theta[n])) for n in names)
        theta, m, rel = trial, m_new, (obj - obj_new) / max(abs(obj), 1e-300)
        obj = obj_new
        log.info(
            "calibrate: iteration %d, objective %.6g, %s",
            it,
            obj,
            ", ".join(f"{n}={theta[n]:.4g}" for n in names),
        )
        if progress is not None:
            progress(it, obj, dict(theta))
        J = jacobian(theta, m, names)
        if change < tol or rel < 1e-7:
            converged = True
            break
    # inference at the optimum: the linearised GLM has the same score as the nonlinear fit
    if names:
        final = _fit_glm(y, np.column_stack([D, J]), np.log(m), method, cov_type, clusters)
        cov = np.asarray(final.cov_params())[D.shape[1] :, D.shape[1] :]
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
    # with a ratio below χ²(1, 90%) means a flat or multi-modal objective
    # (see CalibrationResult.rival)
    dof = max(1, len(y) - D.shape[1] - len(names))
    phi = obj / dof if obj > 0 else float("nan")
    scan: dict[str, tuple[tuple[float, float], ...]] = {}
    for n in names:
        if not se_log[n] <= WEAK_SE_LOG or not phi > 0:
            continue
        lo, hi = max(REQUIRED[n][0], 1e-6), REQUIRED[n][1]
        grid = np.unique(
            np.clip(
                theta[n] * np.exp(np.linspace(-math.log(20), math.log(20), SCAN_POINTS)), lo, hi
            )
        )
        pts = []
        for v in grid:
            if math.isclose(v, theta[n], rel_tol=1e-9):
                continue
            o2 = _objective(y, predict({**theta, n: float(v)}), groups, method)
            pts.append((float(v), float((o2 - obj) / phi)))
        scan[n] = tuple(pts)
    at_bound = tuple(
        n
        for n in names
        if any(
            math.isclose(theta[n], b, rel_tol=1e-6)
            for b in (max(REQUIRED[n][0], 1e-6), REQUIRED[n][1])
        )
    )
    estimates = {n: theta[n] for n in names}
    std_errors = {n: theta[n] * se_log[n] for n in names}  # delta method: dθ = θ·d log θ
    fitted = (
        panel.loc[keep, ["row", "episode", "series", "period_start", "period_end", "value"]].copy()
        if "row" in panel
        else panel.loc[keep, ["episode", "series", "period_start", "period_end", "value"]].copy()
    )
    fitted["fitted"] = mu * (y_raw / y if method == "ppml" else 1.0)
    fitted["model_value"] = m
    log.info(
        "calibrate: %s on %d rows, %d fixed effects: %s",
        method,
        len(y),
        D.shape[1],
        ", ".join(f"{n}={estimates[n]:.4g} (SE {std_errors[n]:.3g})" for n in names),
    )
    return CalibrationResult(
        method=method,
        cov_type=cov_type,
        params=params,
        estimates=estimates,
        std_errors=std_errors,
        log_std_errors=se_log,
        priors=priors,
        not_identified=tuple(not_identified),
        at_bound=at_bound,
        nobs=int(len(y)),
        n_groups=int(D.shape[1]),
        dropped=tuple(dropped),
        loglike=llf,
        deviance=deviance,
        null_deviance=null_dev,
        pseudo_r2=float(pseudo_r2),
        iterations=it,
        converged=converged,
        model_runs=design.runs,
        scan=scan,
        panel=str(panel.attrs.get("path", "")),
        fitted=fitted,
    )
