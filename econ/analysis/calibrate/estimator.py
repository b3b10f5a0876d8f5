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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError
from ...spec.inputs import Inputs
from ...spec.parameters import parameter_domain
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
    params, priors, theta = _check_request(inputs, params, method, cov_type, start)
    scenarios = {**panel.attrs.get("scenarios", {}), **(scenarios or {})}
    design = _Design(panel, inputs, scenarios)
    m0 = design.predict(theta)
    prob = _Problem.build(panel, design, m0, method, step)
    m = m0[prob.keep]
    J0 = prob.jacobian(theta, m, list(params))
    names, not_identified = _identified(prob, J0, m, list(params))
    J0 = J0[:, [list(params).index(n) for n in names]]
    for n in not_identified:
        log.warning("calibrate: %s is not identified by this panel (held at %g)", n, theta[n])
    theta, m, obj, J, it, converged = _gauss_newton(
        prob, theta, m, names, J0, max_iter, tol, progress
    )
    # inference at the optimum: the linearised GLM has the same score as the nonlinear fit
    n_fe = prob.D.shape[1]
    if names:
        final = _fit_glm(
            prob.y, np.column_stack([prob.D, J]), np.log(m), method, cov_type, prob.clusters
        )
        cov = np.asarray(final.cov_params())[n_fe:, n_fe:]
        se_log = {n: float(math.sqrt(max(cov[j, j], 0.0))) for j, n in enumerate(names)}
    else:
        se_log = {}
    mu, deviance, null_dev, llf = _fit_statistics(prob, m)
    pseudo_r2 = 1.0 - deviance / null_dev if null_dev > 0 else float("nan")
    scan = _scan(prob, theta, obj, names, se_log)
    at_bound = tuple(
        n for n in names if any(math.isclose(theta[n], b, rel_tol=1e-6) for b in prob.bounds[n])
    )
    estimates = {n: theta[n] for n in names}
    std_errors = {n: theta[n] * se_log[n] for n in names}  # delta method: dθ = θ·d log θ
    cols = ["episode", "series", "period_start", "period_end", "value"]
    fitted = panel.loc[prob.keep, (["row"] if "row" in panel else []) + cols].copy()
    fitted["fitted"] = mu * (prob.y_raw / prob.y if method == "ppml" else 1.0)
    fitted["model_value"] = m
    log.info(
        "calibrate: %s on %d rows, %d fixed effects: %s",
        method,
        len(prob.y),
        n_fe,
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
        nobs=int(len(prob.y)),
        n_groups=int(n_fe),
        dropped=prob.dropped,
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


def _check_request(
    inputs: Inputs,
    params: Sequence[str],
    method: str,
    cov_type: str,
    start: Mapping[str, float] | None,
):
    """Validate the request; ``(params, priors, starting values)``."""
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
        lo, hi = parameter_domain(n, inputs.parameters)
        if not (v > 0 and lo <= v <= hi):
            raise InputError(
                f"calibrate: start value of {n} is {v}; fix: use a value in [{lo:.4g}, {hi:g}]"
            )
    return params, priors, theta


@dataclass
class _Problem:
    """The usable panel rows and what the fit needs of them."""

    design: _Design
    method: str
    step: float
    keep: np.ndarray  # (rows,) bool: rows used
    dropped: tuple[str, ...]  # why the others were dropped
    y_raw: np.ndarray  # observed values of the rows used
    y: np.ndarray  # the same, each series divided by its mean (PPML)
    groups: np.ndarray  # series × episode of each row
    clusters: np.ndarray  # series of each row
    D: np.ndarray  # fixed-effect dummies
    bounds: dict[str, tuple[float, float]]  # where each parameter may move (parameter_domain)

    @classmethod
    def build(
        cls, panel: pd.DataFrame, design: _Design, m0: np.ndarray, method: str, step: float
    ) -> _Problem:
        y_all = panel["value"].to_numpy(float)
        groups_all = (panel["episode"].astype(str) + "|" + panel["series"].astype(str)).to_numpy()
        keep, dropped = _usable_rows(panel, m0, y_all, groups_all, method)
        y_raw = y_all[keep]
        groups = groups_all[keep]
        # each series is divided by its mean, so that its weight does not depend on its currency
        y = (
            y_raw / _group_scale(y_raw, np.ones_like(y_raw), groups, "ppml")
            if method == "ppml"
            else y_raw
        )
        clusters = pd.factorize(panel["series"].to_numpy()[keep])[0]
        return cls(
            design,
            method,
            step,
            keep,
            tuple(dropped),
            y_raw,
            y,
            groups,
            clusters,
            _fe_matrix(groups),
            {n: parameter_domain(n, design.inputs.parameters) for n in ESTIMABLE},
        )

    def predict(self, th: Mapping[str, float]) -> np.ndarray:
        return self.design.predict(th)[self.keep]

    def objective(self, m: np.ndarray) -> float:
        return _objective(self.y, m, self.groups, self.method)

    def jacobian(self, th: Mapping[str, float], m: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """∂ log m / ∂ log θ by one-sided differences of ``step`` in log θ; the shifted points
        run together, as members of one run per episode (:meth:`Design.predict_many`)."""
        J = np.empty((len(m), len(names)))
        if not names:
            return J
        steps, shifted = [], []
        for n in names:
            lo, hi = self.bounds[n]
            h = self.step if th[n] * math.exp(self.step) <= hi else -self.step
            th2 = dict(th)
            th2[n] = th[n] * math.exp(h)
            steps.append(h)
            shifted.append(th2)
        m2s = self.design.predict_many(shifted)[:, self.keep]
        for j, h in enumerate(steps):
            with np.errstate(divide="ignore", invalid="ignore"):
                J[:, j] = (np.log(np.maximum(m2s[j], 1e-300)) - np.log(m)) / h
        return J


def _usable_rows(
    panel: pd.DataFrame, m0: np.ndarray, y_all: np.ndarray, groups_all: np.ndarray, method: str
) -> tuple[np.ndarray, list[str]]:
    """Rows that carry information and that the model can fit, and why the others do not."""
    dropped: list[str] = []
    keep = np.ones(len(panel), bool)

    def row_no(i: int) -> int:
        return int(panel["row"].iloc[i]) if "row" in panel else i + 2

    for i in range(len(panel)):
        if m0[i] <= 0:
            keep[i] = False
            dropped.append(
                f"row {row_no(i)}: the model predicts no {panel['measure'].iloc[i]} "
                f"(observed {y_all[i]:.6g})"
            )
        elif method == "ols" and y_all[i] <= 0:
            keep[i] = False
            dropped.append(f"row {row_no(i)}: zero value has no log (OLS)")
    for _ in range(len(panel)):
        counts = pd.Series(groups_all[keep]).value_counts()
        single = set(counts[counts < 2].index)
        sel = keep & np.isin(groups_all, list(single))
        if not sel.any():
            break
        for i in np.flatnonzero(sel):
            dropped.append(
                f"row {row_no(i)}: only row of series '{panel['series'].iloc[i]}' in episode "
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
    return keep, dropped


def _identified(
    prob: _Problem, J: np.ndarray, m: np.ndarray, names: list[str]
) -> tuple[list[str], list[str]]:
    """Parameters the panel identifies: each must move the predictions within series (after
    the fixed effects) and not duplicate another's effect. ``(identified, not_identified)``."""
    D = prob.D
    w = (
        m * _group_scale(prob.y, m, prob.groups, prob.method)
        if prob.method == "ppml"
        else np.ones_like(m)
    )
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
    return [names[j] for j in keepj], not_identified


def _gauss_newton(
    prob: _Problem,
    theta: dict[str, float],
    m: np.ndarray,
    names: list[str],
    J: np.ndarray,
    max_iter: int,
    tol: float,
    progress,
):
    """Gauss-Newton on log θ from ``theta`` (Jacobian ``J`` there) with step halving;
    ``(θ, m, objective, J, iterations, converged)``."""
    obj = prob.objective(m)
    n_fe = prob.D.shape[1]
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        if not names:
            converged = True
            break
        res = _fit_glm(
            prob.y, np.column_stack([prob.D, J]), np.log(m), prob.method, "HC0", prob.clusters
        )
        delta = np.asarray(res.params)[n_fe:]
        lam = 1.0
        improved = False
        for _ in range(12):
            cand = {}
            for j, n in enumerate(names):
                lo, hi = prob.bounds[n]
                cand[n] = float(np.clip(theta[n] * math.exp(lam * delta[j]), lo, hi))
            trial = dict(theta)
            trial.update(cand)
            m_new = prob.predict(trial)
            obj_new = prob.objective(m_new)
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
        J = prob.jacobian(theta, m, names)
        if change < tol or rel < 1e-7:
            converged = True
            break
    return theta, m, obj, J, it, converged


def _fit_statistics(prob: _Problem, m: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Fitted values, deviance, null deviance (fixed effects only) and log-likelihood."""
    y, groups = prob.y, prob.groups
    mu = m * _group_scale(y, m, groups, prob.method)
    if prob.method == "ppml":
        import statsmodels.api as sm

        fam = sm.families.Poisson()
        deviance = float(fam.deviance(y, mu))
        null_dev = float(fam.deviance(y, _group_scale(y, np.ones_like(y), groups, "ppml")))
        llf = float(fam.loglike(y, mu))
    else:
        resid = np.log(y) - np.log(mu)
        deviance = float(resid @ resid)
        lg = np.log(y)
        gm = pd.Series(lg).groupby(groups).transform("mean").to_numpy()
        null_dev = float(((lg - gm) ** 2).sum())
        n = len(y)
        llf = float(-n / 2 * (math.log(2 * math.pi * deviance / n) + 1))
    return mu, deviance, null_dev, llf


def _scan(
    prob: _Problem, theta: dict[str, float], obj: float, names: list[str], se_log: dict[str, float]
) -> dict[str, tuple[tuple[float, float], ...]]:
    """Is the interval honest? Scan each parameter over θ̂/20 .. 20·θ̂ (others held) and record
    the quasi-likelihood ratio (deviance rise ÷ dispersion); a value outside the 90% interval
    with a ratio below χ²(1, 90%) means a flat or multi-modal objective
    (see CalibrationResult.rival)."""
    dof = max(1, len(prob.y) - prob.D.shape[1] - len(names))
    phi = obj / dof if obj > 0 else float("nan")
    scan: dict[str, tuple[tuple[float, float], ...]] = {}
    for n in names:
        if not se_log[n] <= WEAK_SE_LOG or not phi > 0:
            continue
        lo, hi = prob.bounds[n]
        grid = np.unique(
            np.clip(
                theta[n] * np.exp(np.linspace(-math.log(20), math.log(20), SCAN_POINTS)), lo, hi
            )
        )
        values = [float(v) for v in grid if not math.isclose(v, theta[n], rel_tol=1e-9)]
        # the scanned values run together, as members of one run per episode (bit for bit
        # what one run per value gives: members are independent)
        ms = prob.design.predict_many([{**theta, n: v} for v in values])[:, prob.keep]
        scan[n] = tuple((v, float((prob.objective(m2) - obj) / phi)) for v, m2 in zip(values, ms))
    return scan
