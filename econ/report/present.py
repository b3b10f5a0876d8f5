"""Tables as people and programs read them: units, rounding, ranges, one JSON document.

A command's result is an :class:`Output`: named :class:`Table` s (a pandas frame of raw
numbers whose columns carry units in ``frame.attrs["units"]``, from
:mod:`econ.analysis.tables`) plus summary lines. Presentation happens here, at output only:

* **units**: amounts in USD are shown in million USD by default (``units="musd"``) or in USD
  (``"usd"``);
* **rounding to the data's precision**: whole USD, 0.01 million USD, one decimal for
  percentages, three for ratios, so ``6.5e-08`` of a TOTAL row is 0 (and ``-0`` is 0);
* **ranges**: an ensemble's ``x``, ``x_p05``, ``x_p95`` columns stay apart for csv, json and
  xlsx, and fold into "median [p05–p95]" for a person (:func:`folded`);
* **titles** name the units, the ensemble, the base year and the baseline.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: decimals kept for each unit (after scaling); unknown units keep four significant digits
DECIMALS = {
    "USD": 0,
    "million USD": 2,
    "%": 1,
    "1": 3,
    "month": 1,
    "day": 1,
    "truck": 0,
    "person": 0,
    "rank": 1,
}
UNIT_CHOICES = ("usd", "musd")


@dataclass
class Table:
    """One named table: ``name`` (machine name: csv file, json key, Excel sheet), ``title``
    (for people), the raw ``frame`` (index named; units in ``frame.attrs["units"]``),
    ``narrow`` (the columns shown to a person by default; None = all) and a ``legend`` line."""

    name: str
    title: str
    frame: pd.DataFrame
    narrow: tuple[str, ...] | None = None
    legend: str = ""


@dataclass
class Output:
    """What a command produces: its tables and summary, and what they are about."""

    command: str
    tables: list[Table]
    scenario: str | None = None
    base_year: str | None = None
    baseline: str | None = None
    members: int = 1
    lines: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def about(self, units: str = "musd", title: str = "") -> str:
        """The suffix every title carries: ensemble, base year and baseline (those ``title``
        already names are not repeated)."""
        parts = []
        if self.members > 1:
            parts.append(f"median [p05–p95] of {self.members} members")
        if self.base_year:
            parts.append(f"base year {self.base_year}")
        if self.baseline:
            parts.append(f"baseline {self.baseline}")
        return "; ".join(p for p in parts if p not in title)


def slug(title: str) -> str:
    """A machine name from a title: ``"Revenue impact, by crossing"`` → ``revenue-impact``."""
    words = re.findall(r"[a-z0-9]+", title.lower().split("(")[0].split(",")[0])
    return "-".join(words[:4]) or "table"


def baseline_name(ds_attrs: dict[str, Any]) -> str:
    """The baseline a result used, short: ``flat`` or ``forecast (<model>)``."""
    text = str(ds_attrs.get("baseline", "flat"))
    if text.startswith("flat"):
        return "flat"
    return text


def unit_label(unit: str, units: str) -> str:
    """The unit a column is shown in: USD amounts become million USD with ``musd``."""
    return "million USD" if unit == "USD" and units == "musd" else unit


def scaled(table: Table, units: str = "musd") -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame with USD columns in the chosen units and every number rounded to its
    precision (:data:`DECIMALS`); also each column's unit as shown."""
    if units not in UNIT_CHOICES:
        raise ValueError(f"units must be one of {', '.join(UNIT_CHOICES)}, got {units!r}")
    df = table.frame.copy()
    raw = dict(table.frame.attrs.get("units", {}))
    shown = {}
    for c in df.columns:
        u = raw.get(c)
        if u is None:
            if pd.api.types.is_float_dtype(df[c]):
                # no unit known: only binary noise goes (0.30000000000000004 -> 0.3)
                df[c] = round_to(df[c].to_numpy(dtype=float), None, digits=10)
            continue
        label = unit_label(u, units)
        shown[c] = label
        col = pd.to_numeric(df[c], errors="coerce")
        if not col.notna().any() and df[c].notna().any():
            continue  # a text column
        if label == "million USD":
            col = col / 1e6
        df[c] = round_to(col.to_numpy(dtype=float), DECIMALS.get(label))
    df.attrs = {"units": shown}
    return df, shown


def round_to(values: np.ndarray, decimals: int | None, digits: int = 4) -> np.ndarray:
    """Round at output: ``decimals`` places (``digits`` significant digits when None); -0 is
    0, and inf/NaN stay as they are."""
    v = np.asarray(values, dtype=float).copy()
    finite = np.isfinite(v)
    if decimals is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.where(finite & (v != 0), np.floor(np.log10(np.abs(np.where(finite, v, 1)))), 0)
        factor = 10.0 ** (digits - 1 - mag)
        v[finite] = np.round(v[finite] * factor[finite]) / factor[finite]
    else:
        v[finite] = np.round(v[finite], decimals)
    v[v == 0] = 0.0  # no negative zero
    return v


def _text(v: Any, unit: str | None) -> str:
    """One cell for a person: fixed decimals by unit, thousands separators, blank for NaN."""
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        d = DECIMALS.get(unit) if unit else None
        if d is None:
            if v == 0:
                return "0"
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
        return f"{v:,.{d}f}"
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return f"{int(v):,}" if abs(int(v)) >= 10000 else str(int(v))
    return str(v)


def folded(df: pd.DataFrame, units: dict[str, str]) -> pd.DataFrame:
    """For people: every cell as text, ``x``/``x_p05``/``x_p95`` folded into
    "median [p05–p95]" (a range that is one value shows the value alone)."""
    cols = [c for c in df.columns if f"{c}_p05" in df.columns and f"{c}_p95" in df.columns]
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        if c.endswith(("_p05", "_p95")) and c[:-4] in cols:
            continue
        u = units.get(c)
        if c in cols:
            cells = []
            for m, lo, hi in zip(df[c], df[f"{c}_p05"], df[f"{c}_p95"]):
                a, b, mid = _text(lo, u), _text(hi, u), _text(m, u)
                dash = " – " if a.startswith("-") or b.startswith("-") else "–"
                cells.append(mid if a == b == mid else f"{mid} [{a}{dash}{b}]")
            out[c] = cells
        else:
            out[c] = [_text(v, u) for v in df[c]]
    return out


def title_of(table: Table, out: Output, units: str) -> str:
    """A table's title for people: its own, then the amounts' unit and what it is about."""
    shown = set(scaled(table, units)[1].values())
    bits = []
    if "USD" in shown or "million USD" in shown:
        bits.append("amounts in " + ("million USD" if units == "musd" else "USD"))
    about = out.about(units, table.title)
    if about:
        bits.append(about)
    return table.title + (f" ({'; '.join(bits)})" if bits else "")


def json_value(v: Any) -> Any:
    """A cell as JSON: numbers as numbers, NaN as null, infinities as the strings "inf"
    and "-inf" (JSON has no infinity), everything else as text."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v) if not isinstance(v, str) else v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (the index as the first field)."""
    flat = df.reset_index()
    return [
        {str(k): json_value(v) for k, v in zip(flat.columns, row)}
        for row in flat.itertuples(index=False, name=None)
    ]


#: the keys of every command's JSON document, in order (docs/outputs.md, "Machine-readable
#: output")
JSON_KEYS = ("command", "scenario", "base_year", "baseline", "tables", "summary")


def document(out: Output, units: str = "musd", names: list[str] | None = None) -> dict:
    """The one JSON schema of every command: ``command``, ``scenario``, ``base_year``,
    ``baseline`` (strings or null), ``tables`` ({name: [row, ...]}) and ``summary`` (the
    summary ``lines``, ``members``, the ``units`` of every column by table, the ``titles``,
    the ``legend`` lines and command-specific figures)."""
    tables, col_units, titles, legends = {}, {}, {}, {}
    for t in out.tables:
        if names is not None and t.name not in names:
            continue
        df, shown = scaled(t, units)
        tables[t.name] = records(df)
        col_units[t.name] = shown
        titles[t.name] = title_of(t, out, units)
        if t.legend:
            legends[t.name] = t.legend
    summary = {
        "lines": list(out.lines),
        "members": out.members,
        "units": col_units,
        "titles": titles,
        "legend": legends,
        **out.summary,
    }
    return {
        "command": out.command,
        "scenario": out.scenario,
        "base_year": out.base_year,
        "baseline": out.baseline,
        "tables": tables,
        "summary": {k: _json_tree(v) for k, v in summary.items()},
    }


def _json_tree(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _json_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_tree(x) for x in v]
    return json_value(v)
