"""Scenario files (TOML): the contract other tools and tests rely on.

Top level: ``name``, ``description``, ``start`` (YYYY-MM-DD), ``months``, optional
``seed``; ``[[measure]]`` entries with ``type`` (tariff | bank_guarantee |
restriction | closure | delay), ``start``, optional ``end`` (exclusive), optional
``announced``, optional ``label``/``source``, and selectors ``crossings``,
``corridors``, ``routes``, ``commodities``, ``kinds`` (absent = all). Uncertain
numbers and end dates may be given as ``[low, high]``; a deterministic run uses
the midpoint, an ensemble draws uniformly between them.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError, input_error

Number = Union[float, tuple[float, float]]
DateOrRange = Union[dt.date, tuple[dt.date, dt.date]]


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


class _Measure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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
    def _dates(self) -> "_Measure":
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

    _v1 = field_validator("cover", "excluded_share")(classmethod(lambda cls, v: v if v is None else _share(v)))
    _v2 = field_validator("lockup_days", "annual_cost")(classmethod(lambda cls, v: v if v is None else _nonneg(v)))


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


Measure = Annotated[Union[Tariff, BankGuarantee, Restriction, Closure, Delay],
                    Field(discriminator="type")]


class Scenario(BaseModel):
    """A validated scenario: horizon and measures."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    description: str = ""
    start: dt.date
    months: int = Field(gt=0, le=240)
    seed: int | None = Field(default=None, ge=0)
    measures: list[Measure] = Field(default_factory=list, alias="measure")
    path: str = Field(default="", exclude=True)
    text: str = Field(default="", exclude=True)

    @property
    def end(self) -> dt.date:
        """First day after the horizon."""
        return _add_months(self.start, self.months)

    def with_months(self, months: int) -> "Scenario":
        return self.model_copy(update={"months": months})


def _add_months(d: dt.date, n: int) -> dt.date:
    import calendar

    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def builtin_dir() -> Path:
    from .inputs import default_inputs_dir

    return default_inputs_dir() / "scenarios"


def builtin_scenarios() -> dict[str, Path]:
    """Built-in scenario names and their files."""
    return {p.stem: p for p in sorted(builtin_dir().glob("*.toml"))}


def _format_validation_error(file: str, exc: ValidationError, data: dict[str, Any]) -> InputError:
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = []
    if loc and loc[0] in ("measure", "measures") and len(loc) > 1:
        i = loc[1]
        mtype = ""
        try:
            mtype = data["measure"][i].get("type", "")
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
        where.append(f"measure {int(i) + 1}" + (f" ({mtype})" if mtype else ""))
        loc = loc[2:]
        if loc and loc[0] in ("tariff", "bank_guarantee", "restriction", "closure", "delay"):
            loc = loc[1:]
    field = ".".join(str(x) for x in loc if not isinstance(x, int))
    msg = err["msg"].replace("Value error, ", "")
    found = err.get("input")
    if err["type"] == "extra_forbidden":
        return input_error(file, f"{', '.join(where) + ': ' if where else ''}unknown field '{field}'",
                           fix="remove it or correct its spelling (see docs/scenarios.md)")
    if err["type"] == "missing":
        return input_error(file, f"{', '.join(where) + ': ' if where else ''}missing field '{field}'",
                           fix=f"add {field} = ...")
    if err["type"] == "union_tag_invalid":
        return input_error(file, f"{', '.join(where)}: unknown measure type", found=found.get("type") if isinstance(found, dict) else found,
                           expected="tariff, bank_guarantee, restriction, closure or delay",
                           fix="use one of the measure types")
    shown = found if not isinstance(found, dict) else None
    return input_error(file, f"{', '.join(where) + ': ' if where else ''}"
                       f"{'field ' + repr(field) + ': ' if field else ''}{msg}", found=shown,
                       fix="correct the value (see docs/scenarios.md)")


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Parse and validate scenario TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise input_error(file, f"malformed TOML: {exc}", fix="correct the TOML syntax") from None
    try:
        return Scenario.model_validate({**data, "path": file, "text": text})
    except ValidationError as exc:
        raise _format_validation_error(file, exc, data) from None


def resolve_toml(path_or_name: str | Path, shipped: dict[str, Path], what: str) -> Path:
    """A shipped file by name, or an existing TOML path; one-line InputError otherwise."""
    p = Path(path_or_name)
    if not p.suffix and str(path_or_name) in shipped:
        return shipped[str(path_or_name)]
    if not p.is_file():
        raise InputError(f"{path_or_name}: no such {what} file or built-in name; "
                         f"fix: use a path to a .toml file or one of {', '.join(shipped)}")
    return p


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a scenario by built-in name (e.g. ``"default"``) or from a TOML path."""
    p = resolve_toml(path_or_name, builtin_scenarios(), "scenario")
    return parse_scenario(p.read_text(encoding="utf-8"), file=p.name)
