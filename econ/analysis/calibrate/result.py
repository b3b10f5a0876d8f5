"""The result of a calibration: estimates, standard errors, identification, fit statistics,
and the parameters file it writes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ...spec.inputs import Inputs
from .panel import PANEL_FILE

#: above this standard error of log θ (a 90% range wider than a factor of e^3.3 ≈ 27) an
#: estimate is reported as weakly identified and not written to a parameters file
WEAK_SE_LOG = 1.0
#: a parameter is also weakly identified when a value outside its 90% interval fits almost as
#: well: a quasi-likelihood ratio (deviance rise ÷ dispersion, others held) below the 90%
#: point of χ²(1). ``estimate`` scans values over θ̂/20 .. 20·θ̂.
CHI2_90 = 2.705543454095404


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
        return tuple(
            n
            for n, s in self.log_std_errors.items()
            if not s <= WEAK_SE_LOG or self.rival(n) is not None
        )

    @property
    def written(self) -> tuple[str, ...]:
        """Parameters :func:`to_parameters_toml` writes (identified, inside bounds, not weak)."""
        return tuple(
            n
            for n in self.params
            if n in self.estimates and n not in self.at_bound and n not in self.weak
        )

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
            status = (
                "not identified"
                if n in self.not_identified
                else "at bound"
                if n in self.at_bound
                else "weakly identified"
                if n in self.weak
                else "estimated"
            )
            rows.append(
                {
                    "parameter": n,
                    "prior": self.priors[n],
                    "estimate": self.estimates.get(n, float("nan")),
                    "std_error": self.std_errors.get(n, float("nan")),
                    "p05": lo,
                    "p95": hi,
                    "status": status,
                }
            )
        return pd.DataFrame(rows).set_index("parameter")

    def fit_table(self) -> pd.DataFrame:
        """Fit statistics as a two-column table."""
        items = [
            ("method", self.method),
            ("standard errors", self.cov_type),
            ("observations", self.nobs),
            ("fixed effects (series x episode)", self.n_groups),
            ("rows dropped", len(self.dropped)),
            ("log-likelihood", self.loglike),
            ("deviance", self.deviance),
            ("null deviance", self.null_deviance),
            ("pseudo R2", self.pseudo_r2),
            *(
                (
                    f"rival value of {n} (quasi-LR < 2.71)",
                    f"{r[0]:.4g} (quasi-LR {r[1]:.2f})" if r else "none",
                )
                for n, r in ((n, self.rival(n)) for n in self.scan)
            ),
            ("iterations", self.iterations),
            ("converged", self.converged),
            ("model runs", self.model_runs),
        ]
        return pd.DataFrame(
            {
                "statistic": [k for k, _ in items],
                "value": [str(v) if not isinstance(v, float) else f"{v:.6g}" for _, v in items],
            }
        ).set_index("statistic")


def _fmt(x: float) -> str:
    return repr(float(f"{x:.6g}"))


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def to_parameters_toml(
    result: CalibrationResult, inputs: Inputs, *, include_weak: bool = False
) -> str:
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
    lines = [
        f"# Parameters estimated by `chokepoint calibrate` ({result.method.upper()}, "
        f"{result.cov_type} standard errors) from {result.panel or 'an episode panel'}.",
        f"# n = {result.nobs} rows, {result.n_groups} series x episode fixed effects, "
        f"pseudo R2 = {result.pseudo_r2:.3f}, deviance = {result.deviance:.4g}, "
        f"log-likelihood = {result.loglike:.4g}, converged = {str(result.converged).lower()}.",
        "# Use with: chokepoint run SCENARIO --params THIS_FILE (only the tables below replace "
        "the inputs' parameters).",
        "",
    ]
    panel_name = (
        Path(result.panel).name
        if result.panel and not result.panel.startswith("<")
        else result.panel
    )
    for n in result.params:
        if n not in result.written and not (
            include_weak and n in result.weak and n not in result.at_bound
        ):
            why = (
                "not identified by the panel"
                if n in result.not_identified
                else "estimate at a bound of its allowed range"
                if n in result.at_bound
                else f"weakly identified (estimate {result.estimates.get(n, float('nan')):.4g}, "
                f"SE of log {result.log_std_errors.get(n, float('nan')):.3g}"
                + (
                    f"; {result.rival(n)[0]:.4g} fits within the 90% quasi-LR bound"  # type: ignore[index]
                    if result.rival(n)
                    else ""
                )
                + ")"
            )
            lines += [
                f"# [{n}] left out: {why}; the inputs' value {result.priors[n]:g} stays in force.",
                "",
            ]
            continue
        prior = inputs.parameters[n]
        v = result.estimates[n]
        p05, p95 = result.interval(n, 0.90)
        p05, p95 = min(p05, v), max(p95, v)
        if not p05 < p95:
            p95 = v * (1 + 1e-6)
            p05 = v * (1 - 1e-6)
        src = (
            f"estimated by chokepoint calibrate from inputs/{PANEL_FILE}: "
            if panel_name == PANEL_FILE
            else f"estimated by chokepoint calibrate from {panel_name}: "
        )
        src += (
            f"{result.method.upper()} with series x episode fixed effects through the model "
            f"(Gauss-Newton on log {n}), {result.cov_type} robust SE {result.std_errors[n]:.4g} "
            f"(SE of log {result.log_std_errors[n]:.4g}, delta method), n = {result.nobs}, "
            f"pseudo R2 = {result.pseudo_r2:.3f}; prior value {result.priors[n]:g} "
            f"({prior.source[:120].rstrip()}...). "
            "See docs/calibration.md for identification and limits."
        )
        lines += [
            f"[{n}]",
            f"description = {_toml_str(prior.description)}",
            f"unit = {_toml_str(prior.unit)}",
            f"value = {_fmt(v)}",
            'dist = "lognormal"',
            f"p05 = {_fmt(p05)}",
            f"p95 = {_fmt(p95)}",
            f"source = {_toml_str(src)}",
        ]
        if prior.by_commodity:
            lines += ["", f"[{n}.by_commodity]"]
            lines += [f"{k} = {_fmt(x)}" for k, x in prior.with_value(v).by_commodity.items()]
        lines.append("")
    return "\n".join(lines)
