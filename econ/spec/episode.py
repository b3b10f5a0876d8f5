"""Documented episodes: a scenario plus observed outcomes (read by :mod:`econ.io.episodes`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .checks import strict_number
from .scenario import Date, Scenario

METRICS = (
    "trade_change",
    "revenue_change",
    "corridor_share",
    "protest_risk",
    "queue_days",
    "price_change",
)
#: largest observed value or tolerance, in percent or percentage points
MAX_PERCENT = 10_000.0

Percent = Annotated[float, BeforeValidator(strict_number)]


class Outcome(BaseModel):
    """One observed outcome of an episode (all values in percent or percentage points)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(min_length=1)
    metric: Literal[
        "trade_change",
        "revenue_change",
        "corridor_share",
        "protest_risk",
        "queue_days",
        "price_change",
    ]
    window_start: Date
    window_end: Date
    compare_start: Date | None = None
    compare_end: Date | None = None
    crossings: list[str] | None = None
    corridors: list[str] | None = None
    routes: list[str] | None = None
    kinds: list[Literal["bilateral", "transit"]] | None = None
    commodities: list[str] | None = None
    direction: Literal["import", "export"] | None = None
    groups: list[str] | None = None
    #: basket items of a price_change outcome (inputs/io/basket.csv)
    items: list[str] | None = None
    observed: Percent = Field(ge=-MAX_PERCENT, le=MAX_PERCENT)
    tolerance: Percent = Field(le=MAX_PERCENT)
    comparison: Literal["before_after", "counterfactual", "level"]
    source: str
    note: str = ""
    #: may a fit of parameters use this outcome? (false: say why in the note)
    fit: bool = True
    #: a known failure: the model cannot match it honestly; the reason (docs/validation.md)
    known_failure: str = ""
    #: for revenue_change outcomes observed on *total* state revenue: customs' share of it (the
    #: model's customs change is scaled by it, other revenue held at its level)
    revenue_share: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Outcome:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        if self.tolerance <= 0:
            raise ValueError("tolerance must be positive")
        if self.comparison == "before_after":
            if self.compare_start is None or self.compare_end is None:
                raise ValueError("a before_after outcome needs compare_start and compare_end")
            if self.compare_end <= self.compare_start:
                raise ValueError("compare_end must be after compare_start")
        if self.metric == "queue_days" and (not self.crossings or self.comparison != "level"):
            raise ValueError(
                "a queue_days outcome needs crossings = [...] and comparison = 'level'"
            )
        if self.metric == "protest_risk" and not self.groups:
            raise ValueError("a protest_risk outcome needs groups = [...]")
        if self.metric != "protest_risk" and self.groups:
            raise ValueError("groups only apply to protest_risk outcomes")
        if self.revenue_share is not None and (
            self.metric != "revenue_change" or not 0.0 < self.revenue_share <= 1.0
        ):
            raise ValueError("revenue_share is a share in (0, 1] of a revenue_change outcome")
        if self.metric == "price_change" and (
            not self.items or self.comparison == "counterfactual"
        ):
            raise ValueError(
                "a price_change outcome needs items = [...] and comparison 'before_after' or "
                "'level'"
            )
        if self.metric != "price_change" and self.items:
            raise ValueError("items only apply to price_change outcomes")
        if not self.source.strip():
            raise ValueError("every outcome needs a source")
        return self


@dataclass(frozen=True)
class Episode:
    """A documented episode: its scenario and observed outcomes."""

    name: str
    scenario: Scenario
    outcomes: tuple[Outcome, ...]
    path: str = ""
