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


def percent_hint(x: float) -> str:
    """The share a number above 1 was probably meant as: ``20`` -> ``"0.20"`` (a percentage
    written as a whole number)."""
    text = f"{x / 100:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac:0<2}"


def _share(v: Any) -> Any:
    vals = v if isinstance(v, tuple) else (v,)
    for x in vals:
        if not 0.0 <= x <= 1.0:
            hint = f"; did you mean {percent_hint(x)}?" if 1.0 < x <= 100.0 else ""
            raise ValueError(f"{x:g} is not a share in [0, 1] (0.2 = 20%){hint}")
    return _ordered(v)


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


def _nonneg(v: Any) -> Any:
    vals = v if isinstance(v, tuple) else (v,)
    for x in vals:
        if x < 0:
            raise ValueError(f"{x} is negative")
    return _ordered(v)


class Tariff(_Measure):
    """An ad valorem fee paid to the corridor country: ``rate`` in share of value (0.1 = 10%).

    A rate above 1 is refused with a hint (``rate = 20`` is probably 0.20) unless
    ``allow_rate_above_1 = True``."""

    type: Literal["tariff"] = "tariff"
    rate: Number
    #: a rate above 1 (a fee of more than 100% of value) is meant, not a percentage typo
    allow_rate_above_1: bool = False

    _v = field_validator("rate")(classmethod(lambda cls, v: _nonneg(v)))

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

    _v1 = field_validator("cover", "excluded_share")(
        classmethod(lambda cls, v: v if v is None else _share(v))
    )
    _v2 = field_validator("lockup_days", "annual_cost", "fee", "validity_days")(
        classmethod(lambda cls, v: v if v is None else _nonneg(v))
    )
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

    _v = field_validator("quota")(classmethod(lambda cls, v: _share(v)))


class Closure(_Measure):
    """A closure of whole crossings: ``capacity`` = share of capacity left (0 = shut)."""

    type: Literal["closure"] = "closure"
    capacity: Number = 0.0

    _v = field_validator("capacity")(classmethod(lambda cls, v: _share(v)))


class Delay(_Measure):
    """Extra days at the border on the matched cells."""

    type: Literal["delay"] = "delay"
    extra_days: Number

    _v = field_validator("extra_days")(classmethod(lambda cls, v: _nonneg(v)))


def _duty_change(v: Any) -> Any:
    vals = v if isinstance(v, tuple) else (v,)
    for x in vals:
        if not -1.0 <= x <= 1.0:
            hint = f"; did you mean {percent_hint(x)}?" if 1.0 < abs(x) <= 100.0 else ""
            raise ValueError(
                f"{x:g} is not a change of a rate in [-1, 1] (0.05 = five points){hint}"
            )
    return _ordered(v)


class AfghanDuty(_Measure):
    """A change in the Afghan collected rate (duty, BRT and fees) on the matched goods and
    routes: ``rate`` in share of value, + raises it, − cuts it (docs/model.md §2, §6)."""

    type: Literal["afghan_duty"] = "afghan_duty"
    rate: Number

    _v = field_validator("rate")(classmethod(lambda cls, v: _duty_change(v)))


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
    """

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

    @model_validator(mode="after")
    def _within_horizon(self) -> Scenario:
        """A measure wholly outside the horizon is a mistake (it would change nothing)."""
        end = self.end
        for i, m in enumerate(self.measures):
            last = m.end[1] if isinstance(m.end, tuple) else m.end
            if m.start >= end or (last is not None and last <= self.start):
                what = f"measure {i + 1} ({m.type}{': ' + m.label if m.label else ''})"
                raise ValueError(
                    f"{what} runs from {m.start} to {last or 'open end'}, wholly outside the "
                    f"horizon {self.start} to {end} (exclusive): it would change nothing; "
                    "fix: correct its dates, change start or months, or remove it"
                )
        return self

    @property
    def end(self) -> dt.date:
        """First day after the horizon."""
        return add_months(self.start, self.months)

    def with_months(self, months: int) -> Scenario:
        """The scenario with another horizon (months from the same start)."""
        return self.model_copy(update={"months": months})

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
            last = m.end[1] if isinstance(m.end, tuple) else m.end
            if m.start >= end or (last is not None and last <= self.start):
                # a horizon shortened by with_months: the measure changes nothing, and a file
                # with it would be refused (Scenario._within_horizon)
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
