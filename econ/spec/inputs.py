"""The validated, calibrated input record (built by :func:`econ.io.inputs.load_inputs`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .io_table import IOTable
from .parameters import REQUIRED, Parameter


@dataclass(frozen=True)
class Inputs:
    """Validated, calibrated model inputs of one base year.

    Tables are pandas DataFrames indexed by id; ``flows`` holds the calibrated
    baseline flows (``value_usd``) and the uncalibrated ones (``value_usd_raw``);
    ``commodities["effective_rate"]`` is the base year's collected rate (``rates.csv``) and
    ``crossings["utilization"]`` its normal utilisation of each crossing (``utilization.csv``).
    ``base_years`` lists the labels the inputs directory holds (oldest first) and
    ``measures_in_force`` the standing measures of ``measures_in_force.toml``
    (:mod:`econ.spec.in_force`).
    """

    directory: Path
    crossings: pd.DataFrame
    routes: pd.DataFrame
    commodities: pd.DataFrame
    flows: pd.DataFrame
    revenue_by_crossing: pd.DataFrame
    revenue_monthly: pd.DataFrame
    trader_groups: pd.DataFrame
    base_year: dict[str, Any]
    parameters: dict[str, Parameter]
    calibration_factor: pd.Series
    hashes: dict[str, str] = field(default_factory=dict)
    #: the input-output table of ``io/`` (docs/economy.md); ``None``: the run has no economy stage
    economy: IOTable | None = None
    #: Pakistan's levies on the trade (pakistan_fiscal.csv; empty if the file is absent)
    pakistan_fiscal: pd.DataFrame = field(default_factory=pd.DataFrame)
    base_years: tuple[str, ...] = ()
    measures_in_force: tuple[dict[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """The base year's label, e.g. ``"FY1403"``."""
        return str(self.base_year["label"])

    @property
    def afn_per_usd(self) -> float:
        return float(self.base_year["afn_per_usd"])

    def revenue_usd(self) -> pd.Series:
        """Observed base-year customs revenue by crossing (USD)."""
        return self.revenue_by_crossing["revenue_afn"] / self.afn_per_usd

    def baseline_revenue_by_crossing(self) -> pd.Series:
        """Model baseline revenue by crossing (USD/year) from calibrated flows."""
        f = self.flows.join(self.routes["crossing"], on="route")
        f = f.join(self.commodities["effective_rate"], on="commodity")
        rev = (f["value_usd"] * f["effective_rate"]).groupby(f["crossing"]).sum()
        return rev.reindex(self.crossings.index, fill_value=0.0)

    def with_parameters(self, parameters: dict[str, Parameter]) -> Inputs:
        """A copy with the parameters replaced (e.g. from ``calibrate``)."""
        return replace(self, parameters=parameters)


def check_inputs(inputs: Inputs) -> None:
    """An :class:`Inputs` built or edited in code still holds together: every reference
    resolves, every required parameter is there and the flows are finite and non-negative.

    :func:`econ.load_inputs` guarantees this for files; this check catches an edited record
    (e.g. a route dropped from ``routes`` while ``flows`` still use it, whose flows would
    silently drop out). Raises a one-line :class:`InputError` naming the argument.
    """
    refs = (
        ("routes", inputs.routes["crossing"], inputs.crossings.index, "crossings"),
        ("flows", inputs.flows["route"], inputs.routes.index, "routes"),
        ("flows", inputs.flows["commodity"], inputs.commodities.index, "commodities"),
    )
    for table, col, ids, target in refs:
        missing = sorted(set(col) - set(ids))
        if missing:
            raise InputError(
                f"argument 'inputs': {table} name {target[:-1]} {missing[0]!r}, which is not "
                f"in inputs.{target}; fix: edit {table} and {target} together (or reload with "
                "econ.load_inputs)"
            )
    lacking = sorted(set(inputs.crossings.index) - set(inputs.revenue_by_crossing.index))
    if lacking:
        raise InputError(
            f"argument 'inputs': crossing {lacking[0]!r} has no row in revenue_by_crossing; "
            "fix: edit the tables together (or reload with econ.load_inputs)"
        )
    absent = sorted(set(REQUIRED) - set(inputs.parameters))
    if absent:
        raise InputError(
            f"argument 'inputs': parameter {absent[0]!r} is missing; "
            "fix: keep every parameter of parameters.toml"
        )
    v = pd.to_numeric(inputs.flows["value_usd"], errors="coerce").to_numpy(float)
    if not (np.isfinite(v) & (v >= 0)).all():
        raise InputError(
            "argument 'inputs': flows.value_usd must be finite and >= 0; "
            "fix: correct the edited flows"
        )
