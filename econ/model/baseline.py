"""The no-measure baseline path: a multiplier on base-year flows for every day and member.

Flat (1 everywhere) by default; or a customs-revenue forecast (docs/forecast.md) passed in as
an object with ``month_positions(days)`` and ``baseline_index(B, q=None)`` (the forecast
itself is fitted in :mod:`econ.analysis.forecast`; the model only reads it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def base_year_monthly_usd(base_year: Mapping[str, Any]) -> float:
    """Base-year customs revenue per month (USD/month) = customs_revenue_afn / afn_per_usd / 12.

    With the shipped base years: FY1403 110e9 / 70 / 12 ≈ 131.0m USD/month; FY1401 111.5e9 /
    86.72 / 12 ≈ 107.1m.
    """
    value = float(base_year["customs_revenue_afn"]) / float(base_year["afn_per_usd"]) / 12.0
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"base-year monthly revenue must be positive, got {value!r}")
    return value


def forecast_index(
    forecast: Any, base_year: Mapping[str, Any], days: pd.DatetimeIndex, quantile: np.ndarray | None
) -> np.ndarray:
    """Daily baseline multiplier from a forecast: the median path, (T,), or each member's own
    quantile of it, (M, T), when ``quantile`` (M,) is given."""
    pos = forecast.month_positions(days)
    monthly = base_year_monthly_usd(base_year)
    if quantile is None:
        return forecast.baseline_index(monthly)[pos]
    return forecast.baseline_index(monthly, q=quantile)[:, pos]
