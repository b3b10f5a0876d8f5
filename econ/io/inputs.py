"""Loading and validating the input tables (the I/O boundary).

Every table is checked against the data dictionary ``schema.csv`` shipped with the
package: one check per rule, each failure raised as :class:`econ.InputError` with a
one-line message that names the file, row, column, value, expectation and fix.
Column types and ranges are checked with pandera schemas generated from
``schema.csv`` (a table that passes is accepted by the same checks without loading pandera,
:func:`_accepted`); cross-file rules (references, sums, calibration) are checked here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import math
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, input_error
from ..spec.checks import (
    DATE_MAX,
    describe,
    in_bounds,
    known_keys,
    strict_date,
    strict_number,
    type_argument,
)
from ..spec.inputs import Inputs
from ..spec.parameters import ECONOMY, parse_parameters
from .toml import BOM, read_text, read_toml

log = logging.getLogger(__name__)

#: tables shared by every base year (at the top of the inputs directory)
SHARED_TABLES = (
    "crossings.csv",
    "routes.csv",
    "commodities.csv",
    "revenue_monthly.csv",
    "trader_groups.csv",
)
#: tables of one base year (in ``base_years/<label>/``, or beside the shared ones in a flat
#: directory of one base year)
YEAR_TABLES = ("flows.csv", "revenue_by_crossing.csv", "rates.csv", "utilization.csv")
TABLES = SHARED_TABLES + YEAR_TABLES
TOML_FILES = ("parameters.toml", "base_year.toml")
#: tables read when present (an inputs directory without them is complete)
OPTIONAL_TABLES = ("pakistan_fiscal.csv",)
#: the standing measures (optional; ``econ.spec.in_force``)
MEASURES_IN_FORCE = "measures_in_force.toml"
#: the directory of base years in the multi-year layout
BASE_YEARS = "base_years"
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
LABEL_PATTERN = r"^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$"


def default_inputs_dir() -> Path:
    """Directory of the default inputs shipped inside the installed package.

    An installed package carries them as ``econ.data``; an editable install maps that
    package onto the repository's ``inputs/``. When ``econ`` is imported from a source
    checkout (editable, or on ``PYTHONPATH``), that checkout's own ``inputs/`` wins: an
    editable install of another checkout (a second git worktree) would otherwise map
    ``econ.data`` onto that checkout's inputs, mixing one tree's code with another's data.
    """
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "inputs" / "schema.csv").is_file():
        # a source checkout (on PYTHONPATH, or a git worktree beside an editable install of
        # another one) reads its own inputs, never those the editable install maps
        return checkout / "inputs"
    try:
        return Path(str(resources.files("econ.data")))
    except ModuleNotFoundError:
        return checkout / "inputs"


def schema_path() -> Path:
    """The data dictionary used for validation (always the package's own)."""
    return default_inputs_dir() / "schema.csv"


# --------------------------------------------------------------------------- schema


def read_schema() -> pd.DataFrame:
    """Read the data dictionary."""
    sch = pd.read_csv(schema_path(), dtype=str, keep_default_na=False)
    return sch


def _pandera_schema(rows: pd.DataFrame):
    """Build a pandera DataFrameSchema from the data-dictionary rows of one file."""
    import pandera.pandas as pa

    cols = {}
    for _, r in rows.iterrows():
        checks = []
        typ = r["type"]
        if typ in ("float", "int"):
            dtype = float
            checks.append(
                pa.Check(
                    lambda s: np.isfinite(s),
                    element_wise=False,
                    error="finite number (not NaN or inf)",
                )
            )
            if r["min"] != "":
                checks.append(pa.Check.ge(float(r["min"])))
            if r["max"] != "":
                checks.append(pa.Check.le(float(r["max"])))
        else:
            dtype = str
            if typ == "slug":
                checks.append(pa.Check.str_matches(SLUG_PATTERN))
            if typ == "date":
                checks.append(pa.Check.str_matches(r"^\d{4}-\d{2}-\d{2}$"))
            if r["allowed"] != "":
                checks.append(pa.Check.isin(r["allowed"].split("|")))
        cols[r["column"]] = pa.Column(
            dtype,
            checks=checks,
            nullable=False,
            coerce=True,
            required=r["required"].lower() == "true",
            unique=r["unique"].lower() == "true",
        )
    return pa.DataFrameSchema(cols, strict=False)


def _accepted(df: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame | None:
    """The table as :func:`_pandera_schema` would return it, when it passes every check of
    that schema; ``None`` when any check fails or cannot be made here.

    The accepting path only: pandera (0.1 s to import and about 0.03 s per table) stays the
    judge of a table that fails, and words its message. The checks are the schema's, made
    with the same pandas calls (``Series.str.match``, ``isin``, ``duplicated``, comparisons
    with the bounds), after :func:`_validate_table` has found every number finite; numbers
    are coerced to float64 as pandera coerces them. tests/test_inputs.py holds the two to the
    same verdict and the same frame on every shipped table and on broken copies of them.
    Every column of ``rows`` is present (:func:`_validate_table` checks that first)."""
    out = df.copy()
    for _, r in rows.iterrows():
        col, typ = r["column"], r["type"]
        s = out[col]
        try:
            if typ in ("float", "int"):
                s = s.astype("float64")
                if not np.isfinite(s.to_numpy()).all():
                    return None
                if r["min"] != "" and not (s >= float(r["min"])).all():
                    return None
                if r["max"] != "" and not (s <= float(r["max"])).all():
                    return None
                out[col] = s
            else:
                if s.isna().any():
                    return None
                if typ == "slug" and not s.str.match(SLUG_PATTERN).all():
                    return None
                if typ == "date" and not s.str.match(r"^\d{4}-\d{2}-\d{2}$").all():
                    return None
                if r["allowed"] != "" and not s.isin(r["allowed"].split("|")).all():
                    return None
        except (TypeError, ValueError):
            return None
        if r["unique"].lower() == "true" and s.duplicated().any():
            return None
    return out


def _first_failure_message(file: str, exc: Exception, rows: pd.DataFrame) -> InputError:
    """Turn a pandera SchemaError(s) into one line naming file, row, column and fix."""
    fc = getattr(exc, "failure_cases", None)
    if fc is None or len(fc) == 0:
        return input_error(file, str(exc).splitlines()[0])
    first = fc.iloc[0]
    col = first.get("column")
    check = str(first.get("check"))
    value = first.get("failure_case")
    idx = first.get("index")
    row = None if idx is None or (isinstance(idx, float) and math.isnan(idx)) else int(idx) + 2
    spec = rows.set_index("column").loc[col] if col in set(rows["column"]) else None
    unit = f" {spec['unit']}" if spec is not None and spec["unit"] else ""
    if "coerce" in check or "dtype" in check:
        expected = f"a {spec['type'] if spec is not None else 'valid'} value"
        fix = f"write a {spec['type'] if spec is not None else 'valid'} value in that cell"
    elif "greater_than_or_equal_to" in check or "less_than_or_equal_to" in check:
        expected = f"a value in [{spec['min']}, {spec['max']}]{unit}"
        fix = "correct the value (check its unit)"
    elif "isin" in check:
        expected = f"one of {spec['allowed'].replace('|', ', ')}"
        fix = "use one of the allowed values"
    elif "str_matches" in check:
        if spec is not None and spec["type"] == "date":
            expected, fix = "a date YYYY-MM-DD", "write the date as YYYY-MM-DD"
        else:
            expected = "a lowercase kebab-case id (e.g. spin-boldak)"
            fix = "use lowercase letters, digits and single hyphens"
    elif "finite" in check:
        expected, fix = "a finite number", "fill in the missing value"
    elif "unique" in check or "duplicate" in check.lower():
        expected, fix = "unique ids", "remove or rename the duplicate row"
    elif "not_nullable" in check or "null" in check.lower():
        expected, fix = "a value", "fill in the empty cell"
    elif "column_in_dataframe" in check:
        return input_error(
            file,
            f"missing column '{value}'",
            expected=f"columns {', '.join(rows['column'])}",
            fix=f"add the column '{value}' (see schema.csv)",
        )
    else:
        expected, fix = check, "see schema.csv"
    return input_error(
        file, "invalid value", found=value, expected=expected, fix=fix, row=row, column=col
    )


def _read_csv(directory: Path, file: str, label: str | None = None) -> pd.DataFrame:
    """One CSV as a table of strings, read through the one text reader.

    The file must be UTF-8 (a byte-order mark is accepted and dropped; CRLF line ends are
    fine), have at least one data row, and every row must have every column. ``label`` names
    the file in messages (default: its name; a base year's tables are named by their path
    under the inputs directory, e.g. ``base_years/FY1403/flows.csv``).
    """
    label = label or file
    text = read_text(
        directory / file,
        label,
        what="file",
        fix=f"add {file} (see schema.csv for its columns) or pass --inputs DIR",
    )
    if text.startswith(BOM):
        log.info("%s: UTF-8 byte-order mark dropped", label)
        text = text[len(BOM) :]
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise input_error(
            label,
            f"malformed CSV: {str(exc).splitlines()[0]}",
            fix="check the commas and quotes on that line (and that the file has a header)",
        ) from None
    if df.empty:
        raise input_error(
            label,
            "no data rows (only a header)",
            fix=f"add the rows of {file} (see schema.csv), or restore the shipped file",
        )
    _check_row_lengths(label, text)
    return df


def _read_table(
    directory: Path, file: str, schema: pd.DataFrame, label: str | None = None
) -> pd.DataFrame:
    """Read one CSV (:func:`_read_csv`) and validate it against its data-dictionary rows."""
    df = _read_csv(directory, file, label)
    return _validate_table(label or file, df, schema[schema["file"] == file])


def _validate_table(file: str, df: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Validate a table read as strings against its data-dictionary ``rows``; ``file`` names it
    in messages."""
    for col in rows["column"]:
        if col not in df.columns:
            raise input_error(
                file, f"missing column '{col}'", fix=f"add the column '{col}' (see schema.csv)"
            )
    for col, spec in rows.set_index("column").iterrows():
        if spec["required"].lower() == "true":
            blank = df[col].str.strip() == ""
            if blank.any():
                i = int(np.flatnonzero(blank.to_numpy())[0])
                raise input_error(
                    file,
                    "empty required cell",
                    row=i + 2,
                    column=col,
                    expected="a value",
                    fix="fill in the cell",
                )
        if spec["type"] in ("float", "int"):
            num = pd.to_numeric(df[col], errors="coerce")
            bad = num.isna() & (df[col].str.strip() != "")
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise input_error(
                    file,
                    "not a number",
                    found=df[col].iloc[i],
                    row=i + 2,
                    column=col,
                    expected=f"a {spec['type']}",
                    fix="write a plain number (no units or thousands separators)",
                )
            nonfinite = ~np.isfinite(num.to_numpy(dtype=float)) & ~num.isna().to_numpy()
            if nonfinite.any() or num.isna().any():
                i = int(np.flatnonzero(nonfinite | num.isna().to_numpy())[0])
                raise input_error(
                    file,
                    "NaN or infinite value",
                    found=df[col].iloc[i],
                    row=i + 2,
                    column=col,
                    expected="a finite number",
                    fix="replace it with a finite number",
                )
    out = _accepted(df, rows)
    if out is None:  # something fails, or may: pandera decides, and words the message
        import pandera.errors as pae

        try:
            out = _pandera_schema(rows).validate(df, lazy=True)
        except (pae.SchemaErrors, pae.SchemaError) as exc:
            raise _first_failure_message(file, exc, rows) from None
    for col, spec in rows.set_index("column").iterrows():
        if spec["type"] == "date":
            try:
                out[col] = pd.to_datetime(out[col], format="%Y-%m-%d")
            except (ValueError, TypeError) as exc:
                raise input_error(
                    file,
                    f"invalid date ({exc})",
                    column=col,
                    fix="write a real calendar date YYYY-MM-DD",
                ) from None
    return out


def _check_row_lengths(file: str, text: str) -> None:
    """Every row has one cell per column of the header (blank lines aside): a row cut short
    would read as empty cells, and one with a cell too many would shift the columns (pandas
    takes the first as an index)."""
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header = next(reader, [])
    for cells in reader:
        if cells and len(cells) != len(header):
            why = (
                "cut short or a comma missing"
                if len(cells) < len(header)
                else "a comma too many, or a value with a comma not in quotes"
            )
            raise input_error(
                file,
                f"row has {len(cells)} cells, the header {len(header)} ({why})",
                row=reader.line_num,
                fix="one cell per column of the header (quote a value that has a comma)",
            )


def _check_reference(
    file: str, df: pd.DataFrame, col: str, target_file: str, ids: pd.Index
) -> None:
    bad = ~df[col].isin(ids)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise input_error(
            file,
            f"unknown id in '{col}'",
            found=df[col].iloc[i],
            row=i + 2,
            expected=f"an id from {target_file}",
            fix=f"add it to {target_file} or correct the spelling",
        )


def _load_toml(directory: Path, file: str, label: str | None = None) -> dict[str, Any]:
    return read_toml(directory / file, label or file, fix=f"add {file}")[0]


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


#: base_year.toml: each field with its kind and, for numbers, the allowed range
BASE_YEAR_FIELDS: dict[str, tuple[str, float, float]] = {
    "label": ("label", 0, 0),
    "start": ("date", 0, 0),
    "end": ("date", 0, 0),
    "afn_per_usd": ("float", 30.0, 200.0),  # as revenue_monthly.csv afn_per_usd
    "customs_revenue_afn": ("float", 1.0, 1.0e13),  # as revenue_by_crossing.csv revenue_afn
    "imports_usd": ("float", 0.0, 1.0e11),
    "exports_usd": ("float", 0.0, 1.0e11),
    "measures_in_force": ("ids", 0, 0),
    "source": ("str", 0, 0),
}
BASE_YEAR_OPTIONAL = ("imports_usd", "exports_usd", "measures_in_force", "source")


def _check_base_year(data: dict[str, Any], file: str = "base_year.toml") -> dict[str, Any]:
    """base_year.toml: known fields, strict types (no booleans or numeric strings), finite
    numbers in range, a label of letters and digits, dates in order, a list of measure ids."""
    known_keys(file, "", data, BASE_YEAR_FIELDS)
    out = {"imports_usd": 0.0, "exports_usd": 0.0, **data}
    for key, (kind, lo, hi) in BASE_YEAR_FIELDS.items():
        if key not in data:
            if key in BASE_YEAR_OPTIONAL:
                continue
            raise input_error(file, f"missing field '{key}'", fix=f"add {key} = ...")
        val = data[key]
        try:
            if kind == "float":
                out[key] = strict_number(val)
                in_bounds(out[key], lo, hi)
            elif kind == "date":
                out[key] = strict_date(val, dt.date(1900, 1, 1), DATE_MAX).isoformat()
            elif kind == "label" and not (isinstance(val, str) and re.match(LABEL_PATTERN, val)):
                raise ValueError(
                    f"expected a base-year label of letters and digits, e.g. FY1403, "
                    f"found {describe(val)}"
                )
            elif kind == "ids" and not (
                isinstance(val, list) and all(isinstance(m, str) for m in val)
            ):
                raise ValueError(
                    f'expected a list of measure ids, e.g. ["pk-transit-fee"], '
                    f"found {describe(val)}"
                )
            elif kind == "str" and not isinstance(val, str):
                raise ValueError(f"expected a string, found {describe(val)}")
        except ValueError as exc:
            raise input_error(
                file, f"field '{key}': {exc}", fix=f"set {key} to a valid value"
            ) from None
    if out["end"] <= out["start"]:
        raise input_error(
            file,
            "end is not after start",
            found=(out["start"], out["end"]),
            fix="put the dates in order",
        )
    return {**out, "measures_in_force": list(data.get("measures_in_force", []))}


# --------------------------------------------------------------------------- base years


def base_year_dirs(dir: str | Path | None = None) -> dict[str, Path]:
    """Base-year label → the directory of its tables, ordered by the year's start date.

    Two layouts are read (docs/data.md): the shipped one, with shared tables at the top
    and one directory per base year under ``base_years/<label>/`` (its ``base_year.toml``,
    ``flows.csv``, ``revenue_by_crossing.csv``, ``rates.csv``, ``utilization.csv``); and a
    flat directory of one base year, with every table at the top (the layout before base
    years; ``rates.csv`` may then be replaced by an ``effective_rate`` column in
    ``commodities.csv``, and ``utilization.csv`` by a ``utilization`` column in
    ``crossings.csv``).
    """
    if dir is not None:
        type_argument("dir", dir, (str, os.PathLike), "a directory path or None")
    directory = Path(dir) if dir is not None else default_inputs_dir()
    if not directory.is_dir():
        raise input_error(
            str(directory),
            "inputs directory not found",
            fix="pass an existing directory with --inputs",
        )
    years = directory / BASE_YEARS
    if not years.is_dir():
        data = _check_base_year(_load_toml(directory, "base_year.toml"))
        return {data["label"]: directory}
    stray = [f for f in YEAR_TABLES + ("base_year.toml",) if (directory / f).is_file()]
    if stray:
        raise input_error(
            stray[0],
            f"found at the top of {directory} beside a {BASE_YEARS}/ directory",
            fix=f"move it into {BASE_YEARS}/<label>/ (docs/data.md), or remove {BASE_YEARS}/",
        )
    found: list[tuple[pd.Timestamp, str, Path]] = []
    for sub in sorted(p for p in years.iterdir() if p.is_dir()):
        label = f"{BASE_YEARS}/{sub.name}/base_year.toml"
        data = _check_base_year(_load_toml(sub, "base_year.toml", label), label)
        if data["label"] != sub.name:
            raise input_error(
                label,
                "label differs from its directory's name",
                found=data["label"],
                expected=repr(sub.name),
                fix="rename the directory or correct the label",
            )
        found.append((pd.Timestamp(str(data["start"])), sub.name, sub))
    if not found:
        raise input_error(
            f"{BASE_YEARS}/",
            f"no base year in {years}",
            fix=f"add {BASE_YEARS}/<label>/base_year.toml and its tables (docs/data.md)",
        )
    return {name: path for _, name, path in sorted(found)}


def available_base_years(dir: str | Path | None = None) -> tuple[str, ...]:
    """Labels of the base years in an inputs directory, oldest first (the last is the default)."""
    return tuple(base_year_dirs(dir))


def _select_base_year(years: dict[str, Path], base_year: str | None, directory: Path) -> str:
    if base_year is None:
        return list(years)[-1]
    if base_year not in years:
        raise input_error(
            "--base-year",
            f"base year {base_year!r} not found in {directory}",
            expected=f"one of {', '.join(years)}",
            fix="use one of those labels (--base-year, or base_year in the scenario)",
        )
    return base_year


def _read_rates(
    directory: Path, label: str, schema: pd.DataFrame, commodities_raw: pd.DataFrame
) -> pd.DataFrame:
    """The base year's collected rates: ``rates.csv``, or (flat layout before base years) the
    ``effective_rate`` column of ``commodities.csv``."""
    legacy = "effective_rate" in commodities_raw.columns
    if (directory / "rates.csv").is_file():
        if legacy:
            raise input_error(
                "commodities.csv",
                "column 'effective_rate' given beside rates.csv",
                fix="keep the collected rates in rates.csv only",
            )
        return _read_table(directory, "rates.csv", schema, label)
    if not legacy:
        raise input_error(
            label,
            f"file not found in {directory}",
            fix="add rates.csv (see schema.csv for its columns) or pass --inputs DIR",
        )
    df = pd.DataFrame(
        {
            "commodity": commodities_raw["id"],
            "effective_rate": commodities_raw["effective_rate"],
            "source": commodities_raw["source"],
        }
    )
    return _validate_table("commodities.csv", df, schema[schema["file"] == "rates.csv"])


def _read_utilization(
    directory: Path, label: str, schema: pd.DataFrame, crossings_raw: pd.DataFrame
) -> pd.DataFrame:
    """The base year's normal utilisation of each crossing: ``utilization.csv``, or (flat
    layout of one base year) the ``utilization`` column of ``crossings.csv``."""
    legacy = "utilization" in crossings_raw.columns
    if (directory / "utilization.csv").is_file():
        if legacy:
            raise input_error(
                "crossings.csv",
                "column 'utilization' given beside utilization.csv",
                fix="keep the utilisation of each base year in its utilization.csv only",
            )
        return _read_table(directory, "utilization.csv", schema, label)
    if not legacy:
        raise input_error(
            label,
            f"file not found in {directory}",
            fix="add utilization.csv (see schema.csv for its columns) or pass --inputs DIR",
        )
    df = pd.DataFrame(
        {
            "crossing": crossings_raw["id"],
            "utilization": crossings_raw["utilization"],
            "source": crossings_raw["source"],
        }
    )
    return _validate_table("crossings.csv", df, schema[schema["file"] == "utilization.csv"])


def load_inputs(dir: str | Path | None = None, base_year: str | None = None) -> Inputs:
    """Load, validate and calibrate the model inputs of one base year.

    Parameters
    ----------
    dir
        Directory holding the input tables; ``None`` uses the defaults shipped in
        the package. Both layouts of :func:`base_year_dirs` are read.
    base_year
        Label of the base year (e.g. ``"FY1401"``); ``None`` takes the most recent one.

    Raises
    ------
    InputError
        On the first invalid file, row or field (one-line message).
    """
    if dir is not None:
        type_argument("dir", dir, (str, os.PathLike), "a directory path or None")
    if base_year is not None:
        type_argument("base_year", base_year, str, "a base-year label such as 'FY1401', or None")
    directory = Path(dir) if dir is not None else default_inputs_dir()
    years = base_year_dirs(directory)
    label = _select_base_year(years, base_year, directory)
    year_dir = years[label]
    prefix = "" if year_dir == directory else f"{BASE_YEARS}/{label}/"
    schema = read_schema()
    t = {f: _read_table(directory, f, schema) for f in SHARED_TABLES}
    commodities_raw = _read_csv(directory, "commodities.csv")
    for f in ("flows.csv", "revenue_by_crossing.csv"):
        t[f] = _read_table(year_dir, f, schema, prefix + f)
    rates = _read_rates(year_dir, prefix + "rates.csv", schema, commodities_raw)
    crossings_raw = _read_csv(directory, "crossings.csv")
    utilization = _read_utilization(year_dir, prefix + "utilization.csv", schema, crossings_raw)

    crossings = t["crossings.csv"].set_index("id")
    routes = t["routes.csv"].set_index("id")
    commodities = t["commodities.csv"].set_index("id")
    flows = t["flows.csv"]
    rev = t["revenue_by_crossing.csv"]
    monthly = t["revenue_monthly.csv"]
    groups = t["trader_groups.csv"].set_index("id")
    flows_file, rev_file = prefix + "flows.csv", prefix + "revenue_by_crossing.csv"

    _check_reference("routes.csv", t["routes.csv"], "crossing", "crossings.csv", crossings.index)
    _check_reference(flows_file, flows, "route", "routes.csv", routes.index)
    _check_reference(flows_file, flows, "commodity", "commodities.csv", commodities.index)
    _check_reference(rev_file, rev, "crossing", "crossings.csv", crossings.index)
    rates_file = (
        prefix + "rates.csv" if "effective_rate" not in commodities_raw else "commodities.csv"
    )
    _check_reference(rates_file, rates, "commodity", "commodities.csv", commodities.index)
    rates = rates.set_index("commodity")
    if rates.index.duplicated().any() or len(rates) != len(commodities):
        missing = [k for k in commodities.index if k not in rates.index]
        raise input_error(
            rates_file,
            "not one rate per commodity",
            found=missing[0] if missing else rates.index[rates.index.duplicated()][0],
            fix="give every commodity of commodities.csv exactly one row",
        )
    commodities = commodities.assign(
        effective_rate=rates["effective_rate"].reindex(commodities.index).astype(float)
    )
    util_file = (
        prefix + "utilization.csv" if "utilization" not in crossings_raw else "crossings.csv"
    )
    _check_reference(util_file, utilization, "crossing", "crossings.csv", crossings.index)
    utilization = utilization.set_index("crossing")
    if utilization.index.duplicated().any() or len(utilization) != len(crossings):
        missing = [c for c in crossings.index if c not in utilization.index]
        raise input_error(
            util_file,
            "not one utilisation per crossing",
            found=missing[0] if missing else utilization.index[utilization.index.duplicated()][0],
            fix="give every crossing of crossings.csv exactly one row",
        )
    crossings = crossings.assign(
        utilization=utilization["utilization"].reindex(crossings.index).astype(float)
    )

    dup = flows.duplicated(["route", "commodity"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise input_error(
            flows_file,
            "duplicate (route, commodity) pair",
            found=(flows["route"].iloc[i], flows["commodity"].iloc[i]),
            row=i + 2,
            fix="merge the two rows into one",
        )
    # every route must enter by a crossing whose country matches the corridor,
    # except air and transit corridors of the same neighbour
    for i, (rid, r) in enumerate(routes.iterrows()):
        country = crossings.loc[r["crossing"], "country"]
        if country != r["corridor"]:
            raise input_error(
                "routes.csv",
                "corridor does not match the crossing's country",
                found=(rid, r["corridor"], country),
                row=i + 2,
                column="corridor",
                expected=f"'{country}' for a route entering by {r['crossing']}",
                fix="correct the corridor or the crossing",
            )

    # monthly history: ordered, non-overlapping within a frequency
    bad = monthly["end"] < monthly["start"]
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise input_error(
            "revenue_monthly.csv",
            "end date before start date",
            found=(str(monthly["start"].iloc[i].date()), str(monthly["end"].iloc[i].date())),
            row=i + 2,
            column="end",
            fix="swap or correct the dates",
        )
    for freq, g in monthly.groupby("frequency"):
        g = g.sort_values("start")
        overlap = g["start"].iloc[1:].to_numpy() <= g["end"].iloc[:-1].to_numpy()
        if overlap.any():
            i = int(g.index[1:][np.flatnonzero(overlap)[0]])
            raise input_error(
                "revenue_monthly.csv",
                f"period overlaps the previous {freq} period",
                found=str(monthly["start"].iloc[i].date()),
                row=i + 2,
                column="start",
                fix="remove the duplicate period",
            )
    usd = monthly["revenue_afn"] / monthly["afn_per_usd"]
    off = (usd - monthly["revenue_usd"]).abs() > 1e-3 * usd.abs() + 1.0
    if off.any():
        i = int(np.flatnonzero(off.to_numpy())[0])
        raise input_error(
            "revenue_monthly.csv",
            "revenue_usd is not revenue_afn / afn_per_usd",
            found=monthly["revenue_usd"].iloc[i],
            row=i + 2,
            column="revenue_usd",
            expected=f"{usd.iloc[i]:.6g}",
            fix="recompute the USD column",
        )

    by_file = prefix + "base_year.toml"
    base_year_data = _check_base_year(_load_toml(year_dir, "base_year.toml", by_file), by_file)
    parameters = parse_parameters(
        _load_toml(directory, "parameters.toml"), "parameters.toml", commodities.index
    )
    standing = _load_measures_in_force(directory)
    known = {m["id"] for m in standing}
    for mid in base_year_data["measures_in_force"]:
        if mid not in known:
            raise input_error(
                by_file,
                "unknown id in 'measures_in_force'",
                found=mid,
                expected=f"an id from {MEASURES_IN_FORCE}"
                + (f" ({', '.join(sorted(known))})" if known else ""),
                fix=f"correct the id or add the measure to {MEASURES_IN_FORCE}",
            )

    # trader groups reference crossings and commodities
    for i, (_gid, g) in enumerate(groups.iterrows()):
        for col, ids, target in (
            ("crossings", crossings.index, "crossings.csv"),
            ("commodities", commodities.index, "commodities.csv"),
        ):
            items = [s.strip() for s in str(g[col]).split(";") if s.strip()]
            for item in items:
                if item != "*" and item not in ids:
                    raise input_error(
                        "trader_groups.csv",
                        f"unknown id in '{col}'",
                        found=item,
                        row=i + 2,
                        expected=f"an id from {target} or *",
                        fix=f"correct the id or add it to {target}",
                    )

    _check_group_shares(groups, crossings.index, commodities)

    # revenue shares sum to one: crossings add up to the national total
    total = float(base_year_data["customs_revenue_afn"])
    s = float(rev["revenue_afn"].sum())
    if abs(s - total) > 1e-9 * total:
        raise input_error(
            rev_file,
            "crossing revenues do not add up to the national total",
            found=f"{s:.6g} AFN",
            expected=f"{total:.6g} AFN ({by_file} customs_revenue_afn)",
            fix="correct a crossing's revenue or the national total",
        )
    rev = rev.set_index("crossing").reindex(crossings.index)
    missing = rev["revenue_afn"].isna()
    if missing.any():
        raise input_error(
            rev_file,
            "crossing has no revenue row",
            found=missing[missing].index[0],
            fix="add a row (0 if nothing is collected)",
        )

    fiscal = _pakistan_fiscal(directory, schema, crossings)
    files = [directory / f for f in SHARED_TABLES + OPTIONAL_TABLES + ("parameters.toml",)]
    files += [year_dir / f for f in YEAR_TABLES + ("base_year.toml",)]
    files += [directory / MEASURES_IN_FORCE]
    hashes = {str(f.relative_to(directory)): _hash(f) for f in files if f.is_file()}
    economy = None
    if (directory / "io").is_dir():
        from .io_table import load_io_table

        missing = [n for n in ECONOMY if n not in parameters]
        if missing:
            raise input_error(
                "parameters.toml",
                f"missing parameter [{missing[0]}] of the input-output layer",
                fix=f"add a [{missing[0]}] table, or remove io/ to run without the economy",
            )
        economy = load_io_table(directory / "io", commodities)
        hashes.update(economy.hashes)
    flows, factor = calibrate_flows(
        flows, routes, commodities, rev["revenue_afn"] / base_year_data["afn_per_usd"]
    )
    inputs = Inputs(
        directory=directory,
        crossings=crossings,
        routes=routes,
        commodities=commodities,
        flows=flows,
        revenue_by_crossing=rev,
        revenue_monthly=monthly,
        trader_groups=groups,
        base_year=base_year_data,
        parameters=parameters,
        calibration_factor=factor,
        hashes=hashes,
        pakistan_fiscal=fiscal,
        base_years=tuple(years),
        measures_in_force=standing,
        economy=economy,
    )
    log.info(
        "loaded inputs from %s, base year %s: %d crossings, %d routes, %d commodities, %d flows",
        directory,
        label,
        len(crossings),
        len(routes),
        len(commodities),
        len(flows),
    )
    return inputs


def _pakistan_fiscal(
    directory: Path, schema: pd.DataFrame, crossings: pd.DataFrame
) -> pd.DataFrame:
    """``pakistan_fiscal.csv`` if present (else an empty table): Pakistan's levies on the
    trade, checked against the schema and the crossings (Pakistani ones only)."""
    file = "pakistan_fiscal.csv"
    if not (directory / file).is_file():
        return pd.DataFrame(columns=["name", "levy", "crossings", "kinds", "directions", "rate"])
    df = _read_table(directory, file, schema)
    lists = {
        "crossings": set(crossings.index[crossings["country"] == "pakistan"]),
        "kinds": {"bilateral", "transit"},
        "directions": {"import", "export"},
    }
    for i, (_, r) in enumerate(df.iterrows()):
        for col, allowed in lists.items():
            items = [s.strip() for s in str(r[col]).split(";") if s.strip()]
            bad = [x for x in items if x not in allowed] or ([] if items else ["(empty)"])
            if bad:
                raise input_error(
                    file,
                    f"unknown entry in '{col}'",
                    found=bad[0],
                    row=i + 2,
                    column=col,
                    expected="one of " + ", ".join(sorted(allowed)),
                    fix=f"list {col} separated by ; from: " + ", ".join(sorted(allowed)),
                )
    return df.set_index("id")


def _load_measures_in_force(directory: Path) -> tuple[dict[str, Any], ...]:
    """The standing measures of ``measures_in_force.toml`` (none if the file is absent)."""
    path = directory / MEASURES_IN_FORCE
    if not path.is_file():
        return ()
    from ..spec.in_force import parse_standing_measures

    return parse_standing_measures(_load_toml(directory, MEASURES_IN_FORCE), MEASURES_IN_FORCE)


def inputs_for(
    scenario: Any,
    inputs: Inputs | str | Path | None = None,
    base_year: str | None = None,
) -> Inputs:
    """The inputs a scenario runs on.

    The base year is ``base_year`` if given, else the scenario's own ``base_year``, else that
    of ``inputs`` when they are already loaded, else the most recent one. Loaded inputs of
    another base year are reloaded from their directory with their parameters kept (e.g. a
    ``--params`` file); a path or ``None`` is loaded.
    """
    pinned = getattr(scenario, "base_year", None)
    wanted = base_year or pinned
    if base_year and pinned and base_year != pinned:
        log.warning(
            "%s is written for base year %s; running it on %s as asked",
            getattr(scenario, "name", "scenario"),
            pinned,
            base_year,
        )
    if isinstance(inputs, Inputs):
        if wanted is None or wanted == inputs.base_year["label"]:
            return inputs
        log.info(
            "%s: base year %s (inputs were loaded for %s)",
            getattr(scenario, "name", "scenario"),
            wanted,
            inputs.base_year["label"],
        )
        return load_inputs(inputs.directory, wanted).with_parameters(inputs.parameters)
    return load_inputs(inputs, wanted)


def _check_group_shares(
    groups: pd.DataFrame, crossing_ids: pd.Index, commodities: pd.DataFrame
) -> None:
    """Groups sharing a margin basis may overlap only up to 100% of a (crossing, commodity) cell."""
    direction = commodities["direction"]
    for basis in ("goods", "freight"):
        total: dict[tuple[str, str], float] = {}
        for gid, g in groups[groups["margin_basis"] == basis].iterrows():
            cs = [s.strip() for s in str(g["crossings"]).split(";") if s.strip()]
            ks = [s.strip() for s in str(g["commodities"]).split(";") if s.strip()]
            cs = list(crossing_ids) if "*" in cs else cs
            ks = list(commodities.index) if "*" in ks else ks
            if g["kind"] in ("importer", "exporter"):
                ks = [k for k in ks if direction[k] == g["kind"][:-2]]
            for c in cs:
                for k in ks:
                    total[(c, k)] = total.get((c, k), 0.0) + float(g["share"])
                    if total[(c, k)] > 1.0 + 1e-9:
                        row = int(np.flatnonzero(groups.index == gid)[0]) + 2
                        raise input_error(
                            "trader_groups.csv",
                            f"'{basis}' groups' shares of crossing {c}, commodity {k} exceed 1",
                            found=round(total[(c, k)], 6),
                            row=row,
                            column="share",
                            expected="at most 1 in every cell",
                            fix="lower this group's share or narrow its crossings/commodities",
                        )


def calibrate_flows(
    flows: pd.DataFrame, routes: pd.DataFrame, commodities: pd.DataFrame, revenue_usd: pd.Series
) -> tuple[pd.DataFrame, pd.Series]:
    """Scale each crossing's flows by one factor so that Σ V·τ equals observed revenue exactly.

    ``V_cal[r,k] = V[r,k] · R_obs[c] / Σ_{r∈c,k} V[r,k]·τ[k]`` for all flows (imports and
    exports: export duties, e.g. on coal, are part of a crossing's customs revenue).
    """
    f = flows.copy()
    f["value_usd_raw"] = f["value_usd"].astype(float)
    crossing = f["route"].map(routes["crossing"])
    rate = f["commodity"].map(commodities["effective_rate"]).astype(float)
    implied = (
        (f["value_usd_raw"] * rate)
        .groupby(crossing)
        .sum()
        .reindex(revenue_usd.index, fill_value=0.0)
    )
    factor = pd.Series(1.0, index=revenue_usd.index, name="calibration_factor")
    for c in revenue_usd.index:
        if implied[c] > 0:
            factor[c] = revenue_usd[c] / implied[c]
        elif revenue_usd[c] > 0:
            raise input_error(
                "revenue_by_crossing.csv",
                f"crossing {c} collects revenue but has no taxed flows in flows.csv",
                found=f"{revenue_usd[c]:.6g} USD",
                fix=f"add flows through {c} in flows.csv or set its revenue to 0",
            )
        if not (0.25 <= factor[c] <= 4.0):
            log.warning(
                "calibration factor for %s is %.3g: flows.csv and revenue_by_crossing.csv "
                "disagree by more than 4x",
                c,
                factor[c],
            )
    f["value_usd"] = f["value_usd_raw"] * crossing.map(factor).to_numpy()
    return f, factor
