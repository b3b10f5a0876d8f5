"""Scenarios: the validated record of a horizon and its measures (read by :mod:`econ.io.scenarios`).

Top level: ``name``, ``description``, ``start`` (YYYY-MM-DD), ``months``, optional
``seed``, ``base_year`` (a label of the inputs) and ``[leaves_out]`` (standing measures left
out on purpose, id = reason); ``[[measure]]`` entries with ``type`` (tariff |
bank_guarantee | restriction | closure | delay), ``start``, optional ``end`` (exclusive),
optional ``announced``, optional ``label``/``source``, optional ``id`` (the standing measure
it is), and selectors ``crossings``, ``corridors``, ``routes``, ``commodities``, ``kinds``
(absent = all). Uncertain numbers and end dates may be given as ``[low, high]``; a
deterministic run uses the midpoint, an ensemble draws uniformly between them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: the numeric fields of each measure type (each may be a ``[low, high]`` range)
MEASURE_NUMBERS: dict[str, tuple[str, ...]] = {
    "tariff": ("rate",),
    "bank_guarantee": (
        "cover",
        "lockup_days",
        "annual_cost",
        "excluded_share",
        "fee",
        "validity_days",
    ),
    "restriction": ("quota",),
    "closure": ("capacity",),
    "delay": ("extra_days",),
    "afghan_duty": ("rate",),
}
MEASURE_TYPES = tuple(MEASURE_NUMBERS)


def measure_key(index: int, type_: str, field: str) -> str:
    """The name of a measure's field in draws, overrides and results: ``measure{n}.{type}.{field}``.

    ``index`` is the measure's 0-based position in the scenario; the name counts from 1
    (``measure1.closure.end`` is the first measure's end date).
    """
    return f"measure{index + 1}.{type_}.{field}"


def measure_fields(measure: Measure) -> tuple[str, ...]:
    """The fields of a measure that can carry a per-member value: ``end`` and its numbers."""
    return ("end",) + MEASURE_NUMBERS[measure.type]


Number = float | tuple[float, float]
DateOrRange = dt.date | tuple[dt.date, dt.date]


def central(x: Any) -> Any:
    """Midpoint of a ``[low, high]`` range (dates or numbers); the value itself otherwise."""
    if isinstance(x, tuple):
        lo, hi = x
        if isinstance(lo, dt.date):
            return lo + (hi - lo) / 2
        return 0.5 * (lo + hi)
    return x


def _ordered(v: Any) -> Any:
    if isinstance(v, tuple) and v[1] < v[0]:
        raise ValueError("range [low, high] has high below low")
    return v


SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
LABEL_PATTERN = r"^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$"


class _Measure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the standing measure (inputs/measures_in_force.toml) this measure is, if any
    id: str | None = Field(default=None, pattern=SLUG_PATTERN)
    start: dt.date
    end: DateOrRange | None = None
    announced: dt.date | None = None
    label: str = ""
    source: str = ""
    crossings: list[str] | None = None
    corridors: list[str] | None = None
    routes: list[str] | None = None
    commodities: list[str] | None = None
    kinds: list[Literal["bilateral", "transit"]] | None = None

    @field_validator("end")
    @classmethod
    def _end_ordered(cls, v: Any) -> Any:
        return _ordered(v)

    @model_validator(mode="after")
    def _dates(self) -> _Measure:
        end = self.end[0] if isinstance(self.end, tuple) else self.end
        if end is not None and end <= self.start:
            raise ValueError(f"end {end} is not after start {self.start}")
        if self.announced is not None and self.announced >= self.start:
            raise ValueError(f"announced {self.announced} is not before start {self.start}")
        return self


def _share(v: Any) -> Any:
    vals = v if isinstance(v, tuple) else (v,)
    for x in vals:
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"{x} is not a share in [0, 1]")
    return _ordered(v)


def _nonneg(v: Any) -> Any:
    vals = v if isinstance(v, tuple) else (v,)
    for x in vals:
        if x < 0:
            raise ValueError(f"{x} is negative")
    return _ordered(v)


class Tariff(_Measure):
    type: Literal["tariff"]
    rate: Number

    _v = field_validator("rate")(classmethod(lambda cls, v: _nonneg(v)))


class BankGuarantee(_Measure):
    type: Literal["bank_guarantee"]
    base: Literal["duties", "value"] = "duties"
    cover: Number = 1.0
    lockup_days: Number
    annual_cost: Number | None = None
    excluded_share: Number | None = None
    #: the bank's commission per year, charged for the guarantee's whole validity
    fee: Number = 0.0
    #: days the guarantee must stay valid (SRO 1402(I)/2023: at least a year)
    validity_days: Number = 0.0

    _v1 = field_validator("cover", "excluded_share")(
        classmethod(lambda cls, v: v if v is None else _share(v))
    )
    _v2 = field_validator("lockup_days", "annual_cost", "fee", "validity_days")(
        classmethod(lambda cls, v: v if v is None else _nonneg(v))
    )


class Restriction(_Measure):
    type: Literal["restriction"]
    quota: Number = 0.0

    _v = field_validator("quota")(classmethod(lambda cls, v: _share(v)))


class Closure(_Measure):
    type: Literal["closure"]
    capacity: Number = 0.0

    _v = field_validator("capacity")(classmethod(lambda cls, v: _share(v)))


class Delay(_Measure):
    type: Literal["delay"]
    extra_days: Number

    _v = field_validator("extra_days")(classmethod(lambda cls, v: _nonneg(v)))


def _duty_change(v: Any) -> Any:
    vals = v if isinstance(v, tuple) else (v,)
    for x in vals:
        if not -1.0 <= x <= 1.0:
            raise ValueError(f"{x} is not a change of a rate in [-1, 1] (0.05 = five points)")
    return _ordered(v)


class AfghanDuty(_Measure):
    """A change in the Afghan collected rate (duty, BRT and fees) on the matched goods and
    routes: ``rate`` in share of value, + raises it, − cuts it (docs/model.md §2, §6)."""

    type: Literal["afghan_duty"]
    rate: Number

    _v = field_validator("rate")(classmethod(lambda cls, v: _duty_change(v)))


Measure = Annotated[
    Tariff | BankGuarantee | Restriction | Closure | Delay | AfghanDuty,
    Field(discriminator="type"),
]


class Scenario(BaseModel):
    """A validated scenario: horizon and measures."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    description: str = ""
    start: dt.date
    months: int = Field(gt=0, le=240)
    seed: int | None = Field(default=None, ge=0)
    #: base year to run on (a label of the inputs, e.g. "FY1401"); None: the most recent
    base_year: str | None = Field(default=None, pattern=LABEL_PATTERN)
    #: standing measures left out on purpose: id -> the reason (econ.spec.in_force)
    leaves_out: dict[str, str] = Field(default_factory=dict)
    measures: list[Measure] = Field(default_factory=list, alias="measure")
    path: str = Field(default="", exclude=True)
    text: str = Field(default="", exclude=True)

    @field_validator("leaves_out")
    @classmethod
    def _leaves_out(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        for mid, reason in v.items():
            if not re.match(SLUG_PATTERN, mid):
                raise ValueError(f"{mid!r} is not a measure id (lowercase kebab-case)")
            if not reason.strip():
                raise ValueError(f"leaves_out.{mid}: give the reason for leaving it out")
        return v

    @property
    def end(self) -> dt.date:
        """First day after the horizon."""
        return add_months(self.start, self.months)

    def with_months(self, months: int) -> Scenario:
        """The scenario with another horizon (months from the same start)."""
        return self.model_copy(update={"months": months})


def add_months(d: dt.date, n: int) -> dt.date:
    """The date ``n`` calendar months after ``d`` (the day clipped to the month's length)."""
    import calendar

    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))
