"""Behavioural parameters: central values, distributions and member draws.

Each parameter in ``parameters.toml`` is a table with ``value`` (central), ``dist``
(fixed | uniform | normal | lognormal | triangular), ``p05``/``p95`` (5th and 95th
percentiles; bounds for uniform and triangular), ``unit``, ``source`` and optional
``by_commodity`` central values (the distribution is scaled to each).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import input_error
from .checks import describe, known_keys, strict_number

DISTS = ("fixed", "uniform", "normal", "lognormal", "triangular")
Z95 = 1.6448536269514722  # standard normal 95th percentile

#: parameters the engine needs, with the allowed range of their central value
REQUIRED: dict[str, tuple[float, float]] = {
    "import_demand_elasticity": (0.0, 10.0),
    "route_substitution_elasticity": (0.0, 200.0),
    "within_corridor_substitution_ratio": (1.0, 20.0),
    "adjust_fast_days": (0.5, 60.0),
    "adjust_medium_days": (7.0, 720.0),
    "adjust_slow_days": (30.0, 7300.0),
    "adjust_fast_weight": (0.0, 1.0),
    "adjust_medium_weight": (0.0, 1.0),
    "flight_speed_factor": (0.01, 1.0),
    "return_slowdown_factor": (1.0, 20.0),
    "guarantee_annual_cost": (0.0, 1.0),
    "guarantee_excluded_share": (0.0, 1.0),
    "guarantee_levy_rate": (0.0, 2.0),
    "evasion_semi_elasticity": (0.0, 20.0),
    "evasion_max_share": (0.0, 1.0),
    "queue_patience_days": (0.1, 120.0),
    "closure_expected_days": (0.0, 365.0),
    "anticipation_share": (0.0, 1.0),
    "truck_equivalents_per_wagon": (0.1, 10.0),
    "demurrage_usd_per_truck_day": (0.0, 2000.0),
    "trucking_gross_margin": (0.0, 1.0),
    "pakistan_export_value_added_share": (0.0, 1.0),
    "pakistan_transport_value_added_share": (0.0, 1.0),
    "pressure_half_life_days": (1.0, 3650.0),
    "protest_risk_intercept": (-50.0, 50.0),
    "protest_risk_slope": (0.0, 100.0),
    "origin_substitution_elasticity": (0.0, 50.0),
    "order_replacement_days": (1.0, 365.0),
}

#: parameters of the input-output layer (docs/economy.md): optional (inputs without ``io/``
#: run no economy), checked and clipped to these ranges when given
ECONOMY: dict[str, tuple[float, float]] = {
    "import_inventory_days": (0.0, 365.0),
    "inventory_rationing_threshold": (0.05, 1.0),
    "input_substitution_share": (0.0, 1.0),
    "domestic_input_criticality": (0.0, 1.0),
    "staple_cost_pass_through": (0.0, 1.0),
    "staple_demand_elasticity_scale": (0.05, 20.0),
    "fuel_share_of_freight": (0.0, 1.0),
}
#: every parameter with an allowed range
RANGES: dict[str, tuple[float, float]] = {**REQUIRED, **ECONOMY}

#: parameters that may carry per-commodity central values
BY_COMMODITY = (
    "import_demand_elasticity",
    "route_substitution_elasticity",
    "origin_substitution_elasticity",
    "queue_patience_days",
    "import_inventory_days",
)


@dataclass(frozen=True)
class Parameter:
    """One behavioural parameter with its uncertainty."""

    name: str
    value: float
    dist: str = "fixed"
    p05: float | None = None
    p95: float | None = None
    unit: str = "1"
    source: str = ""
    description: str = ""
    by_commodity: dict[str, float] = field(default_factory=dict)
    #: the literature or evidence prior a fit starts from, when ``value`` is itself a fit:
    #: (central, p05, p95) of a lognormal; ``None`` = the parameter's own distribution
    prior: tuple[float, float, float] | None = None

    def prior_z(self, value: np.ndarray | float) -> np.ndarray:
        """How far ``value`` lies from the prior, in prior standard deviations (on a log scale
        for lognormal priors): the penalty of a fit is ½ z² per parameter (docs/validation.md)."""
        v = np.asarray(value, dtype=float)
        if self.prior is not None:
            c, lo, hi = self.prior
            return np.log(v / c) / ((math.log(hi) - math.log(lo)) / (2 * Z95))
        if self.dist == "fixed" or self.p05 is None or self.p95 is None or self.p95 <= self.p05:
            return np.zeros_like(v)
        if self.dist == "lognormal":
            return np.log(v / self.value) / ((math.log(self.p95) - math.log(self.p05)) / (2 * Z95))
        return (v - self.value) / ((self.p95 - self.p05) / (2 * Z95))

    def central(self, commodities: Iterable[str] | None = None) -> np.ndarray | float:
        """Central value, per commodity when ``commodities`` is given."""
        if commodities is None:
            return self.value
        return np.array([self.by_commodity.get(k, self.value) for k in commodities], dtype=float)

    def quantile(self, q: np.ndarray | float) -> np.ndarray:
        """Quantile function of the distribution of the (global) central value."""
        q = np.asarray(q, dtype=float)
        v, lo, hi = self.value, self.p05, self.p95
        if self.dist == "fixed" or lo is None or hi is None:
            return np.full_like(q, v)
        if self.dist == "uniform":
            return lo + (hi - lo) * q
        if self.dist == "triangular":
            c = (v - lo) / (hi - lo) if hi > lo else 0.5
            return np.where(
                q < c,
                lo + np.sqrt(q * (hi - lo) * (v - lo)),
                hi - np.sqrt((1 - q) * (hi - lo) * (hi - v)),
            )
        from scipy.special import ndtri

        z = ndtri(np.clip(q, 1e-12, 1 - 1e-12))
        if self.dist == "normal":
            return v + z * (hi - lo) / (2 * Z95)
        # lognormal: median = value, log-spread from the 5-95 range
        s = (math.log(hi) - math.log(lo)) / (2 * Z95)
        return v * np.exp(z * s)

    def scale(self, draws: np.ndarray) -> np.ndarray:
        """Ratio of draws to the central value (to scale per-commodity values)."""
        return draws / self.value if self.value != 0 else np.ones_like(draws)

    def commodity_values(self, commodities: Iterable[str], draws: np.ndarray) -> np.ndarray:
        """Per-commodity values (M, K) at member draws (M,) of the global value.

        The one rule for per-commodity parameters: each commodity's central value scaled by
        the ratio of the draw to the global central value (commodities without their own
        value take the global one).
        """
        return self.central(commodities)[None, :] * self.scale(np.asarray(draws, float))[:, None]

    def with_value(
        self, value: float, *, keep_spread: bool = True, keep_by_commodity: bool = True
    ) -> Parameter:
        """This parameter with a new central value, the rest following it.

        Per-commodity values scale by the ratio new/old (as :meth:`commodity_values` does);
        with ``keep_spread`` the 5th and 95th percentiles scale too (shift, for a normal
        distribution or an old value of 0), so the distribution keeps its shape.
        """
        v = float(value)
        ratio = v / self.value if self.value != 0 else 1.0  # a float: inf, never a warning
        p05, p95 = self.p05, self.p95
        if keep_spread and p05 is not None and p95 is not None:
            if self.dist == "normal" or self.value == 0:
                p05, p95 = p05 + (v - self.value), p95 + (v - self.value)
            else:
                p05, p95 = sorted((p05 * ratio, p95 * ratio))
        byk = (
            {k: x * ratio for k, x in self.by_commodity.items()}
            if keep_by_commodity
            else dict(self.by_commodity)
        )
        return replace(self, value=v, p05=p05, p95=p95, by_commodity=byk)


#: the largest p95 / value of a parameter with per-commodity values: members scale those
#: values by draw / value, which a central value near zero would blow up (a value of 5e-324
#: overflowed; found by tests/test_fuzz.py)
MAX_SPREAD = 1000.0
#: the fields a parameter's table may have
FIELDS = (
    "value",
    "dist",
    "p05",
    "p95",
    "unit",
    "source",
    "description",
    "by_commodity",
    "prior",
)
#: the fields that must be numbers
NUMBER_FIELDS = ("value", "p05", "p95")
#: the fields that must be strings
TEXT_FIELDS = ("dist", "unit", "source", "description")


def check_table(file: str, name: str, tab: Any) -> None:
    """One parameter's table: known name and fields, strict types, numbers in range.

    Every number must be a finite int or float (not a boolean or a string) inside the
    parameter's allowed range (:data:`RANGES`); ``by_commodity`` must be a table of them.
    The rules across fields (order of the percentiles, the distribution) are
    :func:`parse_parameters`'.
    """
    if name not in RANGES:
        raise input_error(
            file,
            f"unknown parameter [{name}]",
            expected=f"one of {', '.join(sorted(RANGES))}",
            fix="correct the name or remove the table",
        )
    if not isinstance(tab, dict):
        raise input_error(
            file, f"'{name}' is not a table", found=describe(tab), fix=f"write it as [{name}]"
        )
    lo, hi = RANGES[name]
    known_keys(file, f"[{name}] ", tab, FIELDS)
    for key, v in tab.items():
        if key in NUMBER_FIELDS:
            _number(file, f"[{name}] {key}", v, lo, hi)
        elif key == "prior" and isinstance(v, list):
            for x in v:  # its form and order are _prior's to check
                _number(file, f"[{name}] prior", x, lo, hi)
        elif key in TEXT_FIELDS and not isinstance(v, str):
            raise input_error(
                file,
                f"[{name}] {key} is not a string",
                found=describe(v),
                fix=f'write {key} = "..."',
            )
    byk = tab.get("by_commodity", {})
    if not isinstance(byk, dict):
        raise input_error(
            file,
            f"[{name}.by_commodity] is not a table",
            found=describe(byk),
            fix=f"write it as [{name}.by_commodity] with lines commodity-id = number",
        )
    for k, v in byk.items():
        _number(file, f"[{name}.by_commodity] {k}", v, lo, hi)


def _number(file: str, what: str, v: Any, lo: float, hi: float) -> float:
    try:
        x = strict_number(v)
    except ValueError as exc:
        raise input_error(file, f"{what}: {exc}", fix="write a finite number") from None
    if not lo <= x <= hi:
        raise input_error(
            file,
            f"{what} out of range",
            found=x,
            expected=f"[{lo:g}, {hi:g}]",
            fix="check the value and its unit",
        )
    return x


def parse_parameters(
    data: dict[str, Any], file: str, commodities: Iterable[str]
) -> dict[str, Parameter]:
    """Validate the parameters table and return :class:`Parameter` objects.

    Every table must name a known parameter (:data:`RANGES`), every required one
    (:data:`REQUIRED`) must be there, and each is checked by :func:`check_table`, then
    across its fields.
    """
    known = set(commodities)
    out: dict[str, Parameter] = {}
    for name in REQUIRED:
        if name not in data:
            raise input_error(
                file,
                f"missing parameter [{name}]",
                fix=f"add a [{name}] table with value, dist, p05, p95, unit, source",
            )
    for name, tab in data.items():
        check_table(file, name, tab)
        if "value" not in tab:
            raise input_error(file, f"[{name}] has no 'value'", fix="add value = <central value>")
        value = tab["value"]
        dist = tab.get("dist", "fixed")
        if dist not in DISTS:
            raise input_error(
                file,
                f"[{name}] unknown dist",
                found=dist,
                expected=" | ".join(DISTS),
                fix="use one of the listed distributions",
            )
        p05, p95 = tab.get("p05"), tab.get("p95")
        if dist != "fixed":
            if p05 is None or p95 is None:
                raise input_error(
                    file,
                    f"[{name}] dist '{dist}' needs p05 and p95",
                    fix="add p05 = ... and p95 = ...",
                )
            if not (p05 <= value <= p95) or p05 >= p95:
                raise input_error(
                    file,
                    f"[{name}] percentiles out of order",
                    found=(p05, value, p95),
                    expected="p05 <= value <= p95 and p05 < p95",
                    fix="reorder them",
                )
            if dist == "lognormal" and p05 <= 0:
                raise input_error(
                    file,
                    f"[{name}] lognormal needs p05 > 0",
                    found=p05,
                    fix="use a positive p05 or another dist",
                )
        if not str(tab.get("source", "")).strip():
            raise input_error(
                file, f"[{name}] has no source", fix="add source = \"...\" (or 'derived: how')"
            )
        byk = tab.get("by_commodity", {})
        for k in byk:
            if k not in known:
                raise input_error(
                    file,
                    f"[{name}.by_commodity] unknown commodity",
                    found=k,
                    expected="an id from commodities.csv",
                    fix="correct the id",
                )
        if byk and dist != "fixed" and not p95 <= MAX_SPREAD * value:
            raise input_error(
                file,
                f"[{name}] with per-commodity values, p95 may be at most {MAX_SPREAD:g} times "
                "the value (each member scales them by its draw / value)",
                found=(value, p95),
                fix="raise the value or lower p95",
            )
        if byk and name not in BY_COMMODITY:
            raise input_error(
                file,
                f"[{name}] cannot have per-commodity values",
                expected=f"by_commodity only on {', '.join(BY_COMMODITY)}",
                fix=f"remove [{name}.by_commodity]",
            )
        out[name] = Parameter(
            name=name,
            value=float(value),
            dist=dist,
            p05=None if p05 is None else float(p05),
            p95=None if p95 is None else float(p95),
            unit=str(tab.get("unit", "1")),
            source=str(tab.get("source", "")),
            description=str(tab.get("description", "")),
            by_commodity={k: float(v) for k, v in byk.items()},
            prior=_prior(file, name, tab.get("prior")),
        )
    w = out["adjust_fast_weight"].value + out["adjust_medium_weight"].value
    if w > 1.0 + 1e-12:
        raise input_error(
            file,
            "adjust_fast_weight + adjust_medium_weight exceed 1",
            found=w,
            fix="lower one of them (the slow weight is 1 minus their sum)",
        )
    return out


def parameter_domain(name: str, parameters: dict[str, Parameter]) -> tuple[float, float]:
    """The range over which a search may move ``name``'s central value (per-commodity values
    scaled with it): :data:`REQUIRED`'s, except that ``route_substitution_elasticity`` starts
    where the demand tree is consistent for every commodity (σr_k ≥ σo_k, docs/model.md §3;
    below it the tree clips σr_k to σo_k and the data cannot tell values apart)."""
    lo, hi = RANGES[name]
    lo = max(lo, 1e-6)
    if name == "route_substitution_elasticity" and "origin_substitution_elasticity" in parameters:
        sr, so = parameters[name], parameters["origin_substitution_elasticity"]
        ks = set(sr.by_commodity) | set(so.by_commodity)
        need = [
            so.by_commodity.get(k, so.value) * sr.value / sr.by_commodity.get(k, sr.value)
            for k in ks
        ] or [so.value]
        lo = max(lo, max(need))
    return lo, hi


def _prior(file: str, name: str, raw: Any) -> tuple[float, float, float] | None:
    """A ``prior = [central, p05, p95]`` (lognormal) entry, validated."""
    if raw is None:
        return None
    ok = (
        isinstance(raw, list)
        and len(raw) == 3
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw)
        and all(math.isfinite(x) and x > 0 for x in raw)
        and raw[1] <= raw[0] <= raw[2]
        and raw[1] < raw[2]
    )
    if not ok:
        raise input_error(
            file,
            f"[{name}] prior is not [central, p05, p95] of positive numbers in order",
            found=raw,
            fix="write prior = [central, p05, p95] with p05 <= central <= p95",
        )
    return (float(raw[0]), float(raw[1]), float(raw[2]))
