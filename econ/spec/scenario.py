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
            try:
                in_bounds(v, lo, hi, f" ({unit})")
            except ValueError as exc:
                # a share or rate written as a percentage (20 for 0.20): say so
                big = [x for x in (v if isinstance(v, tuple) else (v,)) if 1 < abs(x) <= 100]
                if hi <= 10 and big:
                    raise ValueError(f"{exc}; did you mean {percent_hint(big[0])}?") from None
                raise
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


def percent_hint(x: float) -> str:
    """The share a number above 1 was probably meant as: ``20`` -> ``"0.20"`` (a percentage
    written as a whole number)."""
    text = f"{x / 100:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac:0<2}"


def _rates_at_most_1(m: Any, fields: tuple[str, ...]) -> None:
    """A rate above 1 (more than 100% of value, or per year) is almost always a percentage
    written as a whole number (``rate = 20`` for 20%): an error with a hint, unless the
    measure says ``allow_rate_above_1 = true``."""
    if m.allow_rate_above_1:
        return
    for f in fields:
        v = getattr(m, f)
        for x in v if isinstance(v, tuple) else (() if v is None else (v,)):
            if x > 1.0:
                raise ValueError(
                    f"{f} = {x:g} is above 1, i.e. more than 100% (rates are shares: 0.2 = 20%); "
                    f"did you mean {percent_hint(x)}? fix: write {f} = {percent_hint(x)}, or set "
                    "allow_rate_above_1 = true on this measure if the rate is meant"
                )


class Tariff(_Measure):
    """An ad valorem fee paid to the corridor country: ``rate`` in share of value (0.1 = 10%).

    A rate above 1 is refused with a hint (``rate = 20`` is probably 0.20) unless
    ``allow_rate_above_1 = True``."""

    type: Literal["tariff"] = "tariff"
    rate: Number
    #: a rate above 1 (a fee of more than 100% of value) is meant, not a percentage typo
    allow_rate_above_1: bool = False

    @model_validator(mode="after")
    def _rate_hint(self) -> Tariff:
        _rates_at_most_1(self, ("rate",))
        return self


class BankGuarantee(_Measure):
    """A bank guarantee on ``base`` × ``cover`` per consignment (docs/scenarios.md)."""

    type: Literal["bank_guarantee"] = "bank_guarantee"
    base: Literal["duties", "value"] = "duties"
    cover: Number = 1.0
    lockup_days: Number
    annual_cost: Number | None = None
    excluded_share: Number | None = None
    #: the bank's commission per year, charged for the guarantee's whole validity
    fee: Number = 0.0
    #: days the guarantee must stay valid (SRO 1402(I)/2023: at least a year)
    validity_days: Number = 0.0

    #: an annual cost or commission above 100% a year is meant, not a percentage typo
    allow_rate_above_1: bool = False

    @model_validator(mode="after")
    def _rate_hint(self) -> BankGuarantee:
        _rates_at_most_1(self, ("annual_cost", "fee"))
        return self


class Restriction(_Measure):
    """A quota on the matched cargo: ``quota`` = share allowed through (0 = banned)."""

    type: Literal["restriction"] = "restriction"
    quota: Number = 0.0


class Closure(_Measure):
    """A closure of whole crossings: ``capacity`` = share of capacity left (0 = shut)."""

    type: Literal["closure"] = "closure"
    capacity: Number = 0.0


class Delay(_Measure):
    """Extra days at the border on the matched cells."""

    type: Literal["delay"] = "delay"
    extra_days: Number


class AfghanDuty(_Measure):
    """A change in the Afghan collected rate (duty, BRT and fees) on the matched goods and
    routes: ``rate`` in share of value, + raises it, − cuts it (docs/model.md §2, §6)."""

    type: Literal["afghan_duty"] = "afghan_duty"
    rate: Number


Measure = Annotated[
    Tariff | BankGuarantee | Restriction | Closure | Delay | AfghanDuty,
    Field(discriminator="type"),
]


class Scenario(BaseModel):
    """A validated scenario: horizon and measures.

    Build one from a file (:func:`econ.load_scenario`), from TOML text
    (:func:`econ.parse_scenario`) or in Python with the measure classes::

        sc = econ.Scenario(
            name="fee-20", start=dt.date(2025, 1, 1), months=12,
            measures=[econ.Tariff(rate=0.2, start=dt.date(2025, 2, 1), corridors=["pakistan"])],
        )

    :meth:`to_toml` gives the text a result records (docs/coupling.md).

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

    def to_toml(self) -> str:
        """The scenario as TOML text that :func:`econ.parse_scenario` reads back to an equal
        scenario (fields left at their defaults are omitted; a measure wholly outside a horizon
        shortened by :meth:`with_months` is left out, with a comment, as it changes nothing).

        A scenario built in Python records this text in its results (``scenario_text``), so
        a result file can be re-run whatever way the scenario was made.
        """
        lines = [f"name = {_toml_value(self.name)}"]
        if self.description:
            lines.append(f"description = {_toml_value(self.description)}")
        lines += [f"start = {self.start.isoformat()}", f"months = {self.months}"]
        if self.seed is not None:
            lines.append(f"seed = {self.seed}")
        if self.base_year is not None:
            lines.append(f"base_year = {_toml_value(self.base_year)}")
        end = self.end
        for i, m in enumerate(self.measures):
            last = m.last_end
            if m.first_day >= end or (last is not None and last <= self.start):
                # a horizon shortened by with_months: the measure changes nothing, and a file
                # with it would be refused (Scenario._measures_act)
                lines += ["", f"# measure {i + 1} ({m.type}) left out: outside the horizon"]
                continue
            lines += ["", "[[measure]]", f"type = {_toml_value(m.type)}"]
            for k, v in m.model_dump(exclude_defaults=True, exclude={"type"}).items():
                lines.append(f"{k} = {_toml_value(v)}")
        if self.leaves_out:
            lines += ["", "[leaves_out]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in self.leaves_out.items()]
        return "\n".join(lines) + "\n"

    def describe(self) -> list[str]:
        """The scenario in words, one line per measure (for reports)."""
        return [describe_measure(m) for m in self.measures]


def _toml_value(v: Any) -> str:
    """One value as TOML: strings (JSON escapes are TOML's), dates, numbers, arrays."""
    import json
    import math

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"{v} cannot be written to a scenario")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _words(v: Any, pct: bool = False) -> str:
    def one(x: Any) -> str:
        if isinstance(x, dt.date):
            return x.strftime("%-d %b %Y")
        return f"{100 * x:g}%" if pct else f"{x:g}"

    if isinstance(v, tuple):
        return f"{one(v[0])}–{one(v[1])}"
    return one(v)


def describe_measure(m: Any) -> str:
    """One measure in words: what, where, when (e.g. "tariff of 10% on transit via
    pakistan, from 3 Oct 2023")."""
    what = {
        "tariff": lambda: f"fee of {_words(m.rate, True)} of value",
        "bank_guarantee": lambda: (
            f"bank guarantee on {m.base} (cover {_words(m.cover, True)}, "
            f"cash locked {_words(m.lockup_days)} days)"
        ),
        "restriction": lambda: f"restriction (quota {_words(m.quota, True)} let through)",
        "closure": lambda: f"closure (capacity {_words(m.capacity, True)} of normal)",
        "delay": lambda: f"delay of {_words(m.extra_days)} extra days",
        "afghan_duty": lambda: f"Afghan duty change of {_words(m.rate, True)} of value",
    }[m.type]()
    where = []
    for sel in ("crossings", "corridors", "routes", "kinds", "commodities"):
        vals = getattr(m, sel)
        if vals:
            where.append(f"{sel} {', '.join(vals)}")
    text = (m.label + ": " if m.label else "") + what
    text += " on " + "; ".join(where) if where else " on all trade"
    text += f", from {_words(m.start)}"
    text += f" to {_words(m.end)} (exclusive)" if m.end is not None else " to the horizon's end"
    if m.announced is not None:
        text += f", announced {_words(m.announced)}"
    return text


def add_months(d: dt.date, n: int) -> dt.date:
    """The date ``n`` calendar months after ``d`` (the day clipped to the month's length)."""
    import calendar

    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))
