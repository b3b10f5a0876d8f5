"""Each member's numbers: one frozen record of the member × parameter values.

A deterministic run is one member at the central values. An ensemble draws member ``m``'s
uniform quantiles from ``numpy.random.default_rng([m, seed])`` (SPEC 7), so a member's
numbers do not depend on the ensemble size, the chunking or the number of workers. Explicit
per-member values (``overrides``) replace draws: they are the one way to set a parameter or
a measure field for a run (sensitivity swings, fit grids, calibration steps). Measure fields
are named by :func:`econ.spec.measure_key` (``measure2.tariff.rate``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..spec.parameters import RANGES, Parameter
from ..spec.scenario import MEASURE_NUMBERS, Scenario, central, measure_fields, measure_key

#: parameters whose draws are not clipped to their allowed central range
UNCLIPPED = ("protest_risk_intercept",)
#: measure fields that fall back on a parameter when the scenario leaves them out
FIELD_DEFAULTS = {
    "annual_cost": "guarantee_annual_cost",
    "excluded_share": "guarantee_excluded_share",
}
#: parameters laid out per commodity (M, K) for the engine even without per-commodity values
PER_COMMODITY = (
    "import_demand_elasticity",
    "route_substitution_elasticity",
    "origin_substitution_elasticity",
    "queue_patience_days",
)
#: the name of the forecast baseline's quantile among the draws
BASELINE_QUANTILE = "baseline_quantile"
#: end of a measure without an end date: far beyond any horizon (days from the start)
OPEN_END = 10**6


def draw_quantiles(names: list[str], members: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Uniform quantiles per name and member, independent of ensemble size.

    Member ``m`` draws ``len(names)`` numbers from ``numpy.random.default_rng([m, seed])``;
    the j-th goes to ``names[j]``, so appending a name leaves earlier draws unchanged.
    """
    q = np.empty((len(members), len(names)))
    for i, m in enumerate(members):
        q[i] = np.random.default_rng([int(m), int(seed)]).random(len(names))
    return {n: q[:, j] for j, n in enumerate(names)}


def _days(a: dt.date, b: dt.date) -> int:
    return (b - a).days


@dataclass(frozen=True)
class Draws:
    """Member × parameter values of one run.

    Attributes
    ----------
    member_ids
        (M,) member numbers (the ``member`` coordinate).
    seed
        Root seed of the ensemble.
    deterministic
        One member at central values (no draws, no overrides of a sampled ensemble).
    values
        Each member's value of every uncertain number, (M,) each, in the order of the result's
        ``parameter`` coordinate: every parameter (per-commodity ones by their global value),
        then each measure field given as a range, then the forecast baseline's quantile.
    params
        Engine-ready parameter arrays: (M,) or (M, K) for per-commodity parameters.
    measure_values
        Every numeric field and the end day of every measure, (M,) each, by
        :func:`~econ.spec.measure_key`; end days count from the scenario start.
    baseline_quantile
        (M,) quantile of the forecast baseline each member follows, or ``None``.
    """

    member_ids: np.ndarray
    seed: int
    deterministic: bool
    values: dict[str, np.ndarray] = field(repr=False)
    params: dict[str, np.ndarray] = field(repr=False)
    measure_values: dict[str, np.ndarray] = field(repr=False)
    baseline_quantile: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_members(self) -> int:
        return len(self.member_ids)

    @property
    def box_weights(self) -> np.ndarray:
        """(M, 3) weights of the fast, medium and slow adjustment boxes (sum to 1)."""
        fw, mw = self.params["adjust_fast_weight"], self.params["adjust_medium_weight"]
        tot = np.maximum(1.0, fw + mw)
        fw, mw = fw / tot, mw / tot
        return np.stack([fw, mw, 1.0 - fw - mw], axis=1)

    @property
    def box_timescales(self) -> np.ndarray:
        """(M, 3) time scales (days) of the fast, medium and slow boxes."""
        p = self.params
        return np.stack(
            [p["adjust_fast_days"], p["adjust_medium_days"], p["adjust_slow_days"]], axis=1
        )

    @classmethod
    def build(
        cls,
        parameters: Mapping[str, Parameter],
        scenario: Scenario,
        commodity_ids: tuple[str, ...] | list[str],
        *,
        member_ids: np.ndarray,
        seed: int,
        deterministic: bool,
        overrides: Mapping[str, np.ndarray] | None = None,
        forecast: bool = False,
    ) -> Draws:
        """Central values (deterministic or with ``overrides``) or draws for ``member_ids``.

        ``overrides`` maps names (parameters, or measure fields by
        :func:`~econ.spec.measure_key`) to per-member values; nothing is then drawn and every
        other number stays central. ``forecast``: the baseline follows a forecast, so members
        of a sampled ensemble draw its quantile too.
        """
        member_ids = np.asarray(member_ids, dtype=np.int64)
        n_members = len(member_ids)
        over = {
            k: np.broadcast_to(np.asarray(v, float), (n_members,))
            for k, v in (overrides or {}).items()
        }
        names = sorted(parameters)
        range_keys = [
            (i, f, measure_key(i, m.type, f))
            for i, m in enumerate(scenario.measures)
            for f in measure_fields(m)
            if isinstance(getattr(m, f, None), tuple)
        ]
        all_measure_keys = {
            measure_key(i, m.type, f)
            for i, m in enumerate(scenario.measures)
            for f in measure_fields(m)
        }
        unknown = set(over) - set(names) - all_measure_keys
        if unknown:
            raise ValueError(
                "values given for unknown parameters or measure fields: "
                + ", ".join(sorted(unknown))
            )
        q = None
        if not (deterministic or over):
            # the baseline quantile comes last, so adding it left earlier draws unchanged
            q = draw_quantiles(names + [k for *_, k in range_keys] + ["baseline"], member_ids, seed)
        values: dict[str, np.ndarray] = {}
        params: dict[str, np.ndarray] = {}
        for n in names:
            par = parameters[n]
            draws = np.full(n_members, par.value) if q is None else par.quantile(q[n])
            if n in RANGES and n not in UNCLIPPED:
                draws = np.clip(draws, *RANGES[n])
            if n in over:
                draws = over[n].copy()
            values[n] = draws
            params[n] = par.commodity_values(commodity_ids, draws) if par.by_commodity else draws
        for n in PER_COMMODITY:
            if params[n].ndim == 1:
                params[n] = np.repeat(params[n][:, None], len(commodity_ids), axis=1)
        measure_values = {}
        start = scenario.start
        for i, m in enumerate(scenario.measures):
            for f in measure_fields(m):
                key = measure_key(i, m.type, f)
                raw = getattr(m, f)
                if f == "end" and raw is None:
                    v = np.full(n_members, float(OPEN_END))
                elif raw is None:
                    v = params[FIELD_DEFAULTS[f]].copy()
                elif key in over:
                    v = over[key].copy()
                else:
                    u = q[key] if q is not None and isinstance(raw, tuple) else None
                    v = _member_value(raw, u, start, n_members)
                if f == "end":
                    v = np.floor(v) if key in over else v
                measure_values[key] = v
                if isinstance(raw, tuple):
                    values[key] = v.copy()
        bq = None
        if q is not None and forecast:
            bq = q["baseline"]
            values[BASELINE_QUANTILE] = bq
        return cls(
            member_ids=member_ids,
            seed=int(seed),
            deterministic=bool(deterministic),
            values=values,
            params=params,
            measure_values=measure_values,
            baseline_quantile=bq,
        )


def _member_value(raw, u: np.ndarray | None, start: dt.date, n_members: int) -> np.ndarray:
    """Per-member value of a measure field: midpoint, or a uniform draw in [low, high]
    (dates as days from ``start``; a drawn date is a whole day in the range)."""
    if isinstance(raw, tuple):
        lo, hi = raw
        if u is None:
            mid = central(raw)
            return np.full(
                n_members, _days(start, mid) if isinstance(lo, dt.date) else mid, dtype=float
            )
        if isinstance(lo, dt.date):
            a, b = _days(start, lo), _days(start, hi)
            return np.floor(a + u * (b - a + 1)).clip(a, b)
        return lo + u * (hi - lo)
    if isinstance(raw, dt.date):
        return np.full(n_members, _days(start, raw), dtype=float)
    return np.full(n_members, float(raw))


__all__ = ["BASELINE_QUANTILE", "Draws", "MEASURE_NUMBERS", "draw_quantiles"]
