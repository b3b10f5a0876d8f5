"""Checks of the public API's arguments: each wrong argument is one line naming it.

:class:`~econ.model.model.Model`, :func:`~econ.model.ensemble.run_members` and
:func:`econ.run` call these before any work, so a misuse (``members=True``, ``rng="5"``,
duplicate ``member_ids``, a NaN ``baseline_index``, ``values`` outside a parameter's range,
``Inputs`` whose flows name a removed route) is an :class:`~econ.errors.InputError` naming the
argument, never a traceback from deep in the engine or a silently wrong result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..spec.checks import (
    MAX_MEMBERS,
    MAX_SEED,
    argument_error,
    choice_argument,
    int_argument,
    type_argument,
)
from ..spec.inputs import Inputs, check_inputs
from ..spec.parameters import RANGES
from ..spec.scenario import NUMBER_BOUNDS, Scenario, measure_fields, measure_key
from .draws import OPEN_END
from .record import FREQS

#: the largest baseline multiplier (100 × base-year flows)
MAX_BASELINE_INDEX = 100.0


def check_inputs_argument(inputs: Any) -> Inputs:
    """``inputs`` is an :class:`Inputs` whose tables agree with each other."""
    type_argument("inputs", inputs, Inputs, "an econ.Inputs (from econ.load_inputs())")
    check_inputs(inputs)
    return inputs


def check_scenario_argument(scenario: Any) -> Scenario:
    type_argument("scenario", scenario, Scenario, "an econ.Scenario (from econ.load_scenario())")
    return scenario


def check_members(members: Any) -> int:
    return int_argument(
        "members", members, 1, MAX_MEMBERS, f"give a whole number from 1 to {MAX_MEMBERS:,}"
    )


def check_rng(rng: Any) -> None:
    """``rng``: ``None``, a seed from 0 to 2^64 - 1, or a :class:`numpy.random.Generator`."""
    if rng is None or isinstance(rng, np.random.Generator):
        return
    int_argument(
        "rng", rng, 0, MAX_SEED, "pass None, a seed from 0 to 2**64 - 1 or a numpy Generator"
    )


def check_freq(freq: Any) -> str:
    return choice_argument("freq", freq, tuple(FREQS))


def check_progress(progress: Any) -> None:
    if progress is not None and not callable(progress):
        raise argument_error("progress", "expected a callable progress(done, total) or None")


def check_member_ids(member_ids: Any, members: int) -> np.ndarray | None:
    """Explicit member numbers: 1-D, whole, non-negative, unique, at most MAX_MEMBERS."""
    if member_ids is None:
        return None
    ids = np.asarray(member_ids)
    if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
        raise argument_error("member_ids", "expected an array of whole numbers", member_ids)
    if ids.ndim != 1 or not 1 <= len(ids) <= MAX_MEMBERS:
        raise argument_error(
            "member_ids", f"expected a 1-D array of 1 to {MAX_MEMBERS:,} numbers", ids.shape
        )
    if (ids < 0).any():
        raise argument_error("member_ids", "member numbers must be >= 0", int(ids.min()))
    if len(np.unique(ids)) != len(ids):
        raise argument_error("member_ids", "duplicate member numbers", fix="give each member once")
    if members != 1 and members != len(ids):
        raise argument_error(
            "members",
            f"{members} members but {len(ids)} member_ids",
            fix="leave members out when giving member_ids",
        )
    return ids.astype(np.int64)


def check_baseline_index(baseline_index: Any, n_members: int, n_days: int) -> None:
    """A multiplier on base-year flows: finite, in [0, 100], shape (T,), (M, T) or a scalar."""
    if baseline_index is None:
        return
    try:
        arr = np.asarray(baseline_index, dtype=float)
    except (TypeError, ValueError):
        raise argument_error(
            "baseline_index", "expected numbers", type(baseline_index).__name__
        ) from None
    if arr.dtype == bool or np.asarray(baseline_index).dtype == bool:
        raise argument_error("baseline_index", "expected numbers, not booleans")
    try:
        np.broadcast_to(arr, (n_members, n_days))
    except ValueError:
        raise argument_error(
            "baseline_index",
            f"shape {arr.shape} does not fit ({n_days},) or ({n_members}, {n_days})",
            fix="give one value per day of the horizon (or per member and day)",
        ) from None
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > MAX_BASELINE_INDEX)
    if bad.any():
        raise argument_error(
            "baseline_index",
            f"values must be finite and in [0, {MAX_BASELINE_INDEX:g}]",
            float(arr[bad].flat[0]),
        )


def check_values(
    values: Mapping[str, Any] | None, inputs: Inputs, scenario: Scenario, n_members: int
) -> None:
    """Explicit per-member values: known names, finite numbers of shape () or (M,), each in the
    range its parameter or measure field allows (end days within ±OPEN_END)."""
    if values is None:
        return
    if not isinstance(values, Mapping):
        raise argument_error("values", "expected a mapping of name -> values", values)
    ranges: dict[str, tuple[float, float]] = {
        n: RANGES.get(n, (-np.inf, np.inf)) for n in inputs.parameters
    }
    for i, m in enumerate(scenario.measures):
        for f in measure_fields(m):
            ranges[measure_key(i, m.type, f)] = (
                (-float(OPEN_END), float(OPEN_END)) if f == "end" else NUMBER_BOUNDS[m.type][f][:2]
            )
    for name, v in values.items():
        if name not in ranges:
            raise argument_error(
                "values",
                f"unknown name {name!r}",
                fix="use a parameter name or a measure field (econ.spec.measure_key)",
            )
        arr = np.asarray(v)
        if arr.dtype == bool or not (
            np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
        ):
            raise argument_error(f"values[{name!r}]", "expected numbers", v)
        if arr.ndim > 1 or (arr.ndim == 1 and len(arr) not in (1, n_members)):
            raise argument_error(
                f"values[{name!r}]", f"expected one value or {n_members} (one per member)", v
            )
        lo, hi = ranges[name]
        arr = arr.astype(float)
        bad = ~np.isfinite(arr) | (arr < lo) | (arr > hi)
        if bad.any():
            raise argument_error(
                f"values[{name!r}]",
                f"values must be finite and in [{lo:g}, {hi:g}]",
                float(arr[bad].flat[0]),
            )


def check_forecast(forecast: Any) -> None:
    if forecast is not None and not all(
        callable(getattr(forecast, a, None)) for a in ("month_positions", "baseline_index")
    ):
        raise argument_error(
            "forecast",
            "expected an econ.analysis.forecast.Forecast (month_positions, baseline_index)",
            type(forecast).__name__,
        )
