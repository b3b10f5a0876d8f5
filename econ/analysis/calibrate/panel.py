"""The episode panel (``inputs/episode_panel.csv``): published trade or revenue figures by
crossing, corridor or route for periods around documented episodes, read and validated."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import input_error
from ...io.inputs import default_inputs_dir
from ...io.toml import BOM, read_text
from ...spec.inputs import Inputs

log = logging.getLogger(__name__)

PANEL_FILE = "episode_panel.csv"
PANEL_COLUMNS = (
    "period_start",
    "period_end",
    "episode",
    "series",
    "unit",
    "kind",
    "direction",
    "measure",
    "value",
    "source",
)
MEASURES = ("trade_value_usd", "customs_revenue_usd", "customs_revenue_afn", "trucks")
KINDS = ("all", "bilateral", "transit")
DIRECTIONS = ("all", "import", "export")
#: the largest value a panel row may hold (USD, AFN or trucks in one period)
MAX_VALUE = 1.0e13


def default_panel_path() -> Path:
    """The episode panel shipped with the package inputs."""
    return default_inputs_dir() / PANEL_FILE


def _unit_ids(inputs: Inputs) -> dict[str, str]:
    """Known unit ids and what they are (crossing, corridor, route or all)."""
    ids: dict[str, str] = {"all": "all"}
    for c in inputs.routes["corridor"].unique():
        ids[str(c)] = "corridor"
    for c in inputs.crossings.index:
        ids[str(c)] = "crossing"
    for r in inputs.routes.index:
        ids[str(r)] = "route"
    return ids


def _episode_dir(inputs: Inputs | None) -> Path:
    if inputs is not None and (Path(inputs.directory) / "episodes").is_dir():
        return Path(inputs.directory) / "episodes"
    return default_inputs_dir() / "episodes"


def load_panel(
    path: str | Path | None = None,
    *,
    inputs: Inputs | None = None,
    episodes: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read and validate an episode panel (one check per rule, one-line InputError).

    Parameters
    ----------
    path
        CSV file with columns ``period_start, period_end`` (YYYY-MM-DD, both days
        included), ``episode`` (an id in ``inputs/episodes/`` or a name in ``episodes``),
        ``series`` (one published series: rows of a series share unit, kind, direction and
        measure and do not overlap in time), ``unit`` (crossing, corridor or route ids
        separated by ``;``, or ``all``), ``kind`` (all | bilateral | transit), ``direction``
        (all | import | export), ``measure`` (trade_value_usd | customs_revenue_usd |
        customs_revenue_afn | trucks), ``value`` (>= 0) and ``source``. ``None`` reads the
        shipped panel.
    inputs
        Inputs whose ids the units must use (default: the shipped inputs).
    episodes
        Allowed episode names; default: the episode files next to the inputs.
    """
    if inputs is None:
        from ...io.inputs import load_inputs

        inputs = load_inputs()
    p = Path(path) if path is not None else default_panel_path()
    file = p.name
    # the one text reader: a missing file, a directory or non-UTF-8 text is one line
    text = read_text(p, str(p), what="panel file", fix="pass an existing CSV with --panel")
    text = text[len(BOM) :] if text.startswith(BOM) else text
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise input_error(
            file, f"not a readable CSV ({exc})", fix="check the quotes on that line"
        ) from None
    if not rows:
        raise input_error(file, "empty file", fix=f"add a header row: {','.join(PANEL_COLUMNS)}")
    header = [h.strip() for h in rows[0]]
    for col in PANEL_COLUMNS:
        if col not in header:
            raise input_error(
                file,
                f"missing column '{col}'",
                expected=", ".join(PANEL_COLUMNS),
                fix=f"add a '{col}' column",
            )
    body = rows[1:]
    if not body:
        raise input_error(file, "no data rows", fix="add at least one observation")
    idx = {c: header.index(c) for c in PANEL_COLUMNS}
    units = _unit_ids(inputs)
    if episodes is None:
        known_eps = sorted(q.stem for q in _episode_dir(inputs).glob("*.toml"))
    else:
        known_eps = sorted(set(episodes))
    recs = []
    for i, r in enumerate(body):
        line = i + 2
        if len(r) != len(header):
            raise input_error(
                file,
                "wrong number of cells",
                row=line,
                found=len(r),
                expected=f"{len(header)} (as in the header)",
                fix="quote cells that contain commas",
            )
        cell = {c: r[idx[c]].strip() for c in PANEL_COLUMNS}
        for c in PANEL_COLUMNS:
            if cell[c] == "":
                raise input_error(file, "empty cell", row=line, column=c, fix=f"fill in {c}")
        d = {}
        for c in ("period_start", "period_end"):
            try:
                d[c] = dt.date.fromisoformat(cell[c]) if len(cell[c]) == 10 else None
            except ValueError:
                d[c] = None
            if d[c] is None:
                raise input_error(
                    file,
                    "not a date",
                    row=line,
                    column=c,
                    found=cell[c],
                    expected="YYYY-MM-DD",
                    fix="write a calendar date YYYY-MM-DD",
                )
        if d["period_end"] < d["period_start"]:
            raise input_error(
                file,
                "period_end before period_start",
                row=line,
                column="period_end",
                found=(cell["period_start"], cell["period_end"]),
                fix="swap or correct the dates (both days are included)",
            )
        try:
            value = float(cell["value"])
        except ValueError:
            raise input_error(
                file,
                "value is not a number",
                row=line,
                column="value",
                found=cell["value"],
                fix="write a plain number (no units or commas)",
            ) from None
        if not math.isfinite(value):
            raise input_error(
                file,
                "value is not finite",
                row=line,
                column="value",
                found=cell["value"],
                fix="write a finite number",
            )
        if value > MAX_VALUE:
            raise input_error(
                file,
                "value out of range",
                row=line,
                column="value",
                found=value,
                expected=f"at most {MAX_VALUE:g}",
                fix="check the value and its unit",
            )
        if value < 0:
            raise input_error(
                file,
                "negative value",
                row=line,
                column="value",
                found=value,
                expected="a value >= 0",
                fix="trade, revenue and trucks cannot be negative",
            )
        for c, allowed in (("measure", MEASURES), ("kind", KINDS), ("direction", DIRECTIONS)):
            if cell[c] not in allowed:
                raise input_error(
                    file,
                    f"unknown {c}",
                    row=line,
                    column=c,
                    found=cell[c],
                    expected=" | ".join(allowed),
                    fix="use one of the allowed values",
                )
        if cell["episode"] not in known_eps:
            raise input_error(
                file,
                "unknown episode",
                row=line,
                column="episode",
                found=cell["episode"],
                expected=f"one of {', '.join(known_eps)}",
                fix="name an episode file in inputs/episodes/ (without .toml)",
            )
        parts = [s.strip() for s in cell["unit"].split(";")]
        kinds_of = set()
        for s in parts:
            if s not in units:
                raise input_error(
                    file,
                    "unknown unit id",
                    row=line,
                    column="unit",
                    found=s,
                    expected="a crossing, corridor or route id (or all)",
                    fix="use ids from crossings.csv / routes.csv, separated by ';'",
                )
            kinds_of.add(units[s])
        if "all" in parts and len(parts) > 1:
            raise input_error(
                file,
                "'all' combined with other units",
                row=line,
                column="unit",
                found=cell["unit"],
                fix="use 'all' alone",
            )
        if "route" in kinds_of and cell["kind"] != "all":
            raise input_error(
                file,
                "a route unit already fixes the kind",
                row=line,
                column="kind",
                found=cell["kind"],
                fix="set kind to all for route units",
            )
        if cell["measure"] != "trade_value_usd" and cell["kind"] != "all":
            raise input_error(
                file,
                f"kind applies to trade_value_usd only, not {cell['measure']}",
                row=line,
                column="kind",
                found=cell["kind"],
                fix="set kind to all (revenue and trucks are counted by crossing)",
            )
        recs.append({**cell, **d, "value": value, "row": line, "unit": ";".join(parts)})
    df = pd.DataFrame.from_records(recs)
    for s, g in df.groupby("series", sort=False):
        for c in ("unit", "kind", "direction", "measure"):
            other = (g[c] != g[c].iloc[0]).to_numpy()
            if other.any():
                j = int(np.flatnonzero(other)[0])
                raise input_error(
                    file,
                    f"series '{s}' mixes several values of {c}",
                    row=int(g["row"].iloc[j]),
                    column=c,
                    found=(g[c].iloc[0], g[c].iloc[j]),
                    fix="give each definition its own series name",
                )
        g = g.sort_values("period_start")
        prev_end = g["period_end"].shift(1)
        bad = (g["period_start"] <= prev_end).to_numpy()
        if bad.any():
            line = int(g["row"].to_numpy()[np.flatnonzero(bad)[0]])
            raise input_error(
                file,
                f"period overlaps another row of series '{s}'",
                row=line,
                column="period_start",
                fix="split the figures into non-overlapping periods "
                "(e.g. subtract the overlapping month) or use another series",
            )
    log.info(
        "loaded panel %s: %d rows, %d series, %d episodes",
        p,
        len(df),
        df["series"].nunique(),
        df["episode"].nunique(),
    )
    df.attrs["path"] = str(p)
    return df
