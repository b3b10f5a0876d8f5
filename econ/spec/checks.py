"""Strict checks of single values, shared by the records and the public API.

Files and callers must give numbers as numbers: a boolean (``true``), a numeric string
(``"12"``), NaN and infinity are refused, never coerced. Every check raises a
``ValueError`` with a short reason (the records turn it into a one-line
:class:`~econ.errors.InputError` naming the file and field) or, for an argument of the API,
an :class:`~econ.errors.InputError` naming the argument (:func:`argument_error`).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from typing import Any

from ..errors import InputError

#: largest root seed: numpy's SeedSequence takes any non-negative integer; 2^64 - 1 is what a
#: 64-bit unsigned integer holds (stored losslessly as a string attribute in results)
MAX_SEED = 2**64 - 1
#: every date in a scenario, episode or outcome lies in this window
DATE_MIN, DATE_MAX = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
#: a scenario's first day lies in this window (the forecast baseline extrapolates at most
#: from the revenue history's end to START_MAX + 240 months)
START_MIN, START_MAX = dt.date(2000, 1, 1), dt.date(2050, 12, 31)
#: the longest horizon, in months (20 years)
MAX_MONTHS = 240
#: the largest ensemble, in members (the CLI's --members maximum)
MAX_MEMBERS = 100_000

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def describe(v: Any) -> str:
    """A value as a message shows it: its repr (cut at 60 characters), with its type when
    that is the point (a boolean or a string where a number belongs)."""
    if isinstance(v, bool):
        return f"boolean {v!r}"
    text = " ".join(repr(v).split())
    text = text if len(text) <= 60 else text[:57] + "..."
    if isinstance(v, str):
        return f"string {text}"
    if isinstance(v, (list, tuple, dict)):
        return f"{type(v).__name__} {text}"
    return text


def strict_number(v: Any) -> float:
    """``v`` as a finite float; a bool, string, None, NaN or infinity is a ``ValueError``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, found {describe(v)}")
    try:
        x = float(v)
    except OverflowError:
        raise ValueError(f"{v} is too large") from None
    if not math.isfinite(x):
        raise ValueError(f"expected a finite number, found {v!r}")
    return x


def _one_or_range(v: Any, one: Any) -> Any:
    """``one(v)``, or for a ``[low, high]`` pair the tuple of ``one`` of each, in order."""
    if isinstance(v, (list, tuple)):
        if len(v) != 2:
            raise ValueError(f"a range is [low, high], found {len(v)} item(s)")
        lo, hi = one(v[0]), one(v[1])
        if hi < lo:
            raise ValueError("range [low, high] has high below low")
        return (lo, hi)
    return one(v)


def number_or_range(v: Any) -> float | tuple[float, float]:
    """A strict number, or a ``[low, high]`` pair of strict numbers (as a tuple)."""
    return _one_or_range(v, strict_number)


def in_bounds(v: float | tuple[float, float], lo: float, hi: float, unit: str = "") -> None:
    """``ValueError`` unless ``v`` (or both ends of a range) lies in ``[lo, hi]``."""
    for x in v if isinstance(v, tuple) else (v,):
        if not lo <= x <= hi:
            raise ValueError(f"{x!r} is out of range [{lo:g}, {hi:g}]" + unit)


def strict_date(v: Any, lo: dt.date = DATE_MIN, hi: dt.date = DATE_MAX) -> dt.date:
    """A TOML date or a ``"YYYY-MM-DD"`` string, in ``[lo, hi]``; anything else is refused
    (a number is not read as a timestamp, a datetime is not truncated)."""
    if isinstance(v, dt.datetime) or not isinstance(v, (dt.date, str)):
        raise ValueError(f"expected a date YYYY-MM-DD, found {describe(v)}")
    if isinstance(v, str):
        if not _ISO_DATE.match(v):
            raise ValueError(f"expected a date YYYY-MM-DD, found {v!r}")
        try:
            v = dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a calendar date") from None
    if not lo <= v <= hi:
        raise ValueError(f"{v.isoformat()} is outside {lo.isoformat()} .. {hi.isoformat()}")
    return v


def date_or_range(v: Any) -> dt.date | tuple[dt.date, dt.date]:
    """A strict date, or a ``[low, high]`` pair of strict dates (as a tuple)."""
    return _one_or_range(v, strict_date)


def known_keys(file: str, where: str, keys: Any, allowed: tuple[str, ...] | dict) -> None:
    """A one-line :class:`InputError` for the first key not in ``allowed`` (a typo, or a field
    the format does not have)."""
    for key in keys:
        if key not in allowed:
            raise InputError(
                f"{file}: {where}unknown field '{key}'; expected {', '.join(allowed)}; "
                "fix: remove it or correct its spelling"
            )


# --------------------------------------------------------------------------- API arguments


def argument_error(name: str, what: str, found: Any = None, fix: str = "") -> InputError:
    """One line naming an argument of the public API: ``argument 'members': ... (found ...)``."""
    msg = f"argument '{name}': {what}"
    if found is not None:
        msg += f" (found {describe(found)})"
    if fix:
        msg += f"; fix: {fix}"
    return InputError(msg)


def int_argument(name: str, v: Any, lo: int, hi: int | None = None, fix: str = "") -> int:
    """``v`` as an int in ``[lo, hi]`` (a bool, float or string is refused, even ``2.0``)."""
    if isinstance(v, bool):
        raise argument_error(name, "expected a whole number, not a boolean", v, fix)
    try:
        i = operator.index(v)  # int and numpy integers, nothing else
    except TypeError:
        raise argument_error(name, "expected a whole number", v, fix) from None
    if i < lo or (hi is not None and i > hi):
        where = f"from {lo:,} to {hi:,}" if hi is not None else f"of at least {lo:,}"
        raise argument_error(name, f"expected a whole number {where}", i, fix)
    return int(i)


def choice_argument(name: str, v: Any, choices: tuple[str, ...]) -> str:
    """``v`` as one of ``choices`` (strings)."""
    if not isinstance(v, str) or v not in choices:
        raise argument_error(
            name, f"expected one of {', '.join(choices)}", v, f"use one of {', '.join(choices)}"
        )
    return v


def type_argument(name: str, v: Any, types: type | tuple[type, ...], expected: str) -> Any:
    """``v`` if it is an instance of ``types``; otherwise a one-line error naming ``expected``."""
    if not isinstance(v, types) or (isinstance(v, bool) and bool not in _tuple(types)):
        raise argument_error(name, f"expected {expected}", v)
    return v


def _tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)
