"""Render pandas tables to stdout as table, csv, json or markdown."""

from __future__ import annotations

import io
import json
import math
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported by the commands, not at start-up
    import pandas as pd


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if abs(v) < 1e-6:
            return "0"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.4g}" if v != 0 else "0"
    return str(v)


def _with_ranges(df: pd.DataFrame) -> pd.DataFrame:
    """For people: fold ``x_p05``/``x_p95`` columns into ``x`` as "median [p05 – p95]"."""
    cols = [c for c in df.columns if f"{c}_p05" in df.columns and f"{c}_p95" in df.columns]
    if not cols:
        return df
    out = df.drop(columns=[f"{c}_{q}" for c in cols for q in ("p05", "p95")])
    for c in cols:
        out[c] = [
            m
            if not isinstance(m, float) or lo == hi == m
            else f"{_fmt(m)} [{_fmt(lo)} – {_fmt(hi)}]"
            for m, lo, hi in zip(df[c], df[f"{c}_p05"], df[f"{c}_p95"])
        ]
    return out


def render(df: pd.DataFrame, fmt: Format, title: str = "") -> str:
    """One table as text in the requested format (numbers unrounded in csv/json).

    Ensemble ranges (``x_p05``/``x_p95`` columns) stay separate numeric columns in csv
    and json; in table and markdown each figure reads "median [p05 – p95]".
    """
    if fmt in (Format.table, Format.markdown):
        df = _with_ranges(df)
    df = df.reset_index()
    if fmt is Format.csv:
        buf = io.StringIO()
        df.to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue()
    if fmt is Format.json:
        recs = json.loads(df.to_json(orient="records", double_precision=15))
        return (
            json.dumps({"title": title, "rows": recs}, indent=2) + "\n"
            if title
            else json.dumps(recs, indent=2) + "\n"
        )
    cells = [[_fmt(v) for v in row] for row in df.itertuples(index=False)]
    head = [str(c) for c in df.columns]
    if fmt is Format.markdown:
        lines = [f"**{title}**", ""] if title else []
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines) + "\n"
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(head)
    ]
    out = [title] if title else []
    out.append(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))
        )
    )
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in cells
    ]
    return "\n".join(out) + "\n"


def render_many(tables: list[tuple[str, pd.DataFrame]], fmt: Format) -> str:
    """Several titled tables: json gives one object keyed by title, csv a blank line between."""
    if fmt is Format.json:
        obj = {
            t: json.loads(df.reset_index().to_json(orient="records", double_precision=15))
            for t, df in tables
        }
        return json.dumps(obj, indent=2) + "\n"
    sep = "\n"
    return sep.join(
        (f"# {t}\n" if fmt is Format.csv else "") + render(df, fmt, "" if fmt is Format.csv else t)
        for t, df in tables
    )
