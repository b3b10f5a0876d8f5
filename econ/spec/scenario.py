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
import logging
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .checks import (
    MAX_MONTHS,
    MAX_SEED,
    START_MAX,
    START_MIN,
    date_or_range,
    in_bounds,
    int_argument,
    number_or_range,
    strict_date,
)

log = logging.getLogger(__name__)

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


#: allowed range and unit of each numeric field of each measure type (both ends of a range must
#: lie in it; docs/scenarios.md, "Measure types")
NUMBER_BOUNDS: dict[str, dict[str, tuple[float, float, str]]] = {
    "tariff": {"rate": (0.0, 10.0, "share of value, 0.1 = 10%")},
    "bank_guarantee": {
        "cover": (0.0, 1.0, "share of the base"),
        "lockup_days": (0.0, 3650.0, "day"),
        "annual_cost": (0.0, 1.0, "share of the guaranteed amount per year"),
        "excluded_share": (0.0, 1.0, "share of traders"),
        "fee": (0.0, 1.0, "the bank's commission, share of the guaranteed amount per year"),
        "validity_days": (0.0, 3650.0, "day"),
    },
    "restriction": {"quota": (0.0, 1.0, "share of the matched cargo")},
    "closure": {"capacity": (0.0, 1.0, "share of normal capacity")},
    "delay": {"extra_days": (0.0, 3650.0, "day")},
    "afghan_duty": {"rate": (-1.0, 1.0, "change of the collected rate, 0.05 = five points")},
}
NUMBER_FIELDS = tuple(sorted({f for fields in NUMBER_BOUNDS.values() for f in fields}))


#: a number or a ``[low, high]`` range of numbers: strict (no booleans or strings), finite
Number = Annotated[float | tuple[float, float], BeforeValidator(number_or_range)]
#: a date (TOML date or ``"YYYY-MM-DD"``) in the date window, or a ``[low, high]`` range of them
DateOrRange = Annotated[dt.date | tuple[dt.date, dt.date], BeforeValidator(date_or_range)]
Date = Annotated[dt.date, BeforeValidator(strict_date)]
StrictInt = Annotated[int, Strict()]


def central(x: Any) -> Any:
    """Midpoint of a ``[low, high]`` range (dates or numbers); the value itself otherwise."""
    if isinstance(x, tuple):
        lo, hi = x
        if isinstance(lo, dt.date):
            return lo + (hi - lo) / 2
        return 0.5 * (lo + hi)
    return x


SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
LABEL_PATTERN = r"^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$"


class _Measure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: the standing measure (inputs/measures_in_force.toml) this measure is, if any
    id: str | None = Field(default=None, pattern=SLUG_PATTERN)
    start: Date
    end: DateOrRange | None = None
    announced: Date | None = None
    label: str = ""
    source: str = ""
    crossings: list[str] | None = None
    corridors: list[str] | None = None
    routes: list[str] | None = None
    commodities: list[str] | None = None
    kinds: list[Literal["bilateral", "transit"]] | None = None

    @field_validator(*NUMBER_FIELDS, check_fields=False)
    @classmethod
    def _bounded(cls, v: Any, info: ValidationInfo) -> Any:
        if v is not None:
            (mtype,) = get_args(cls.model_fields["type"].annotation)
            lo, hi, unit = NUMBER_BOUNDS[mtype][info.field_name]
            in_bounds(v, lo, hi, f" ({unit})")
        return v

    @model_validator(mode="after")
    def _dates(self) -> _Measure:
        end = self.end[0] if isinstance(self.end, tuple) else self.end
        if end is not None and end <= self.start:
            raise ValueError(f"end {end} is not after start {self.start}")
        if self.announced is not None and self.announced >= self.start:
            raise ValueError(f"announced {self.announced} is not before start {self.start}")
        return self

    @property
    def first_day(self) -> dt.date:
        """The first day the measure can act: its announcement (anticipation) or its start."""
        return self.start if self.announced is None else self.announced

    @property
    def last_end(self) -> dt.date | None:
        """The latest end it may have (the high end of a range); ``None`` when open-ended."""
        return self.end[1] if isinstance(self.end, tuple) else self.end


class Tariff(_Measure):
    type: Literal["tariff"]
    rate: Number


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


class Restriction(_Measure):
    type: Literal["restriction"]
    quota: Number = 0.0


class Closure(_Measure):
    type: Literal["closure"]
    capacity: Number = 0.0


class Delay(_Measure):
    type: Literal["delay"]
    extra_days: Number


class AfghanDuty(_Measure):
    """A change in the Afghan collected rate (duty, BRT and fees) on the matched goods and
    routes: ``rate`` in share of value, + raises it, − cuts it (docs/model.md §2, §6)."""

    type: Literal["afghan_duty"]
    rate: Number


Measure = Annotated[
    Tariff | BankGuarantee | Restriction | Closure | Delay | AfghanDuty,
    Field(discriminator="type"),
]


class Scenario(BaseModel):
    """A validated scenario: horizon and measures.

    Every number is strict (no booleans or numeric strings) and finite, and lies in its
    documented range (:data:`NUMBER_BOUNDS`); dates lie in 2000-01-01 .. 2100-12-31 and the
    start in 2000-01-01 .. 2050-12-31; a measure wholly outside the horizon, which could
    never act, is an error naming it. ``path`` and ``text`` are set by the reader
    (:mod:`econ.io.scenarios`), never by a file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)

    name: str = Field(min_length=1)
    description: str = ""
    start: Annotated[dt.date, BeforeValidator(lambda v: strict_date(v, START_MIN, START_MAX))]
    months: StrictInt = Field(gt=0, le=MAX_MONTHS)
    seed: StrictInt | None = Field(default=None, ge=0, le=MAX_SEED)
    #: base year to run on (a label of the inputs, e.g. "FY1401"); None: the most recent
    base_year: str | None = Field(default=None, pattern=LABEL_PATTERN)
    #: standing measures left out on purpose: id -> the reason (econ.spec.in_force)
    leaves_out: dict[str, str] = Field(default_factory=dict)
    measures: list[Measure] = Field(default_factory=list, alias="measure")
    path: str = Field(default="", exclude=True)
    text: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _measures_act(self) -> Scenario:
        for i, m in enumerate(self.measures):
            last = m.last_end
            if m.first_day >= self.end or (last is not None and last <= self.start):
                label = f" '{m.label}'" if m.label else ""
                raise ValueError(
                    f"measure {i + 1} ({m.type}{label}) is in force "
                    f"{m.first_day} .. {last or 'open end'}, wholly outside the horizon "
                    f"{self.start} .. {self.end}, so it can never act; fix: move its dates "
                    "into the horizon, change start or months, or remove the measure"
                )
        return self

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
        """The scenario with another horizon (months from the same start).

        ``months`` is checked like the file's field (a whole number from 1 to 240). Measures
        the shorter horizon leaves out are allowed here (the caller cut them off on purpose)
        and logged.
        """
        months = int_argument("months", months, 1, MAX_MONTHS, "give 1 to 240 months")
        out = self.model_copy(update={"months": months})
        for i, m in enumerate(out.measures):
            if m.first_day >= out.end:
                log.info(
                    "%s: measure %d (%s) starts after the %d-month horizon and does not act",
                    self.name,
                    i + 1,
                    m.type,
                    months,
                )
        return out


def add_months(d: dt.date, n: int) -> dt.date:
    """The date ``n`` calendar months after ``d`` (the day clipped to the month's length)."""
    import calendar

    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))
