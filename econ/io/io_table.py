"""Reading and checking the input-output table in ``inputs/io/`` (docs/economy.md).

The table is built by ``inputs/io/build_io.py`` from sourced figures; this reader checks what
the economy stage relies on, one rule per check, each failure a one-line
:class:`~econ.errors.InputError` naming the file, the field and the fix, and computes the IO
system with pymrio (``calc_x``, ``calc_A``, ``calc_L``). pymrio is imported here only, when a
table is loaded whose IO system is not cached: pymrio's import takes 0.4-0.8 s (it loads
matplotlib's pyplot), a third of a default run, so the system it computes is kept in
``$XDG_CACHE_HOME/chokepoint/io`` (``~/.cache/chokepoint/io``), keyed by the bytes of every
table it is computed from and pymrio's version, and read back by later runs with the same table.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import input_error
from ..spec.io_table import IOTable

log = logging.getLogger(__name__)

FILES = (
    "sectors.csv",
    "table_Z.csv",
    "table_Y.csv",
    "table_VA.csv",
    "imports_use.csv",
    "sector_accounts.csv",
    "exports_by_sector.csv",
    "commodity_map.csv",
    "input_criticality.csv",
    "basket.csv",
)
#: rows and columns of the table agree to this (USD million), as tests/test_io_table.py checks
BALANCE_ATOL = 1e-6


def _read(directory: Path, file: str, index_col: int | None = None) -> pd.DataFrame:
    path = directory / file
    if not path.is_file():
        raise input_error(
            f"io/{file}",
            f"file not found in {directory}",
            fix="restore it (python inputs/io/build_io.py rebuilds the table files)",
        )
    try:
        return pd.read_csv(path, index_col=index_col)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise input_error(
            f"io/{file}",
            f"malformed CSV: {str(exc).splitlines()[0]}",
            fix="check the commas and quotes on that line",
        ) from None


def _numeric(df: pd.DataFrame, file: str, columns: list[str], *, lo: float = 0.0, hi=None) -> None:
    """Every cell of ``columns`` a finite number in [lo, hi]."""
    for col in columns:
        if col not in df.columns:
            raise input_error(
                f"io/{file}", f"missing column '{col}'", fix=f"add the column '{col}'"
            )
        v = pd.to_numeric(df[col], errors="coerce")
        bad = ~np.isfinite(v.to_numpy(float)) | (v < lo).to_numpy()
        if hi is not None:
            bad |= (v > hi).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
            raise input_error(
                f"io/{file}",
                "not a number in range",
                found=df[col].iloc[i],
                row=i + 2,
                column=col,
                expected=f"a finite number {rng}",
                fix="correct the cell (or rebuild with python inputs/io/build_io.py)",
            )


def _labels(df_labels, expected, file: str, what: str) -> None:
    """The labels are the sectors of sectors.csv, each once, in any order (tables are aligned
    to sectors.csv by label, so a table's row order never matters)."""
    labels = [str(x) for x in df_labels]
    if sorted(labels) != sorted(expected) or len(set(labels)) != len(labels):
        raise input_error(
            f"io/{file}",
            f"{what} do not match sectors.csv",
            found=", ".join(labels),
            expected=", ".join(expected),
            fix="rebuild the table with python inputs/io/build_io.py",
        )


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _require_rows(frame: pd.DataFrame, ids: list[str], file: str, fix: str) -> None:
    """One line naming ``file`` if an import group in ``ids`` has no row in ``frame``."""
    missing = sorted(set(ids) - set(frame.index))
    if missing:
        raise input_error(file, "import group without a row", found=missing[0], fix=fix)


def load_io_table(directory: Path, commodities: pd.DataFrame) -> IOTable:
    """Read, check and assemble the IO table of ``directory`` (an inputs directory's ``io/``).

    ``commodities`` is the validated ``commodities.csv`` (indexed by id, with ``direction``).
    """
    sectors_df = _read(directory, "sectors.csv")
    sectors = [str(s) for s in sectors_df["id"]]
    z = _read(directory, "table_Z.csv", 0)
    y = _read(directory, "table_Y.csv", 0)
    va = _read(directory, "table_VA.csv", 0)
    m = _read(directory, "imports_use.csv", 0)
    acc = _read(directory, "sector_accounts.csv", 0)
    _labels(z.index, sectors, "table_Z.csv", "rows")
    _labels(z.columns, sectors, "table_Z.csv", "columns")
    _labels(y.index, sectors, "table_Y.csv", "rows")
    _labels(acc.index, sectors, "sector_accounts.csv", "rows")
    _labels([c for c in m.columns if c in sectors], sectors, "imports_use.csv", "sector columns")
    _labels([c for c in va.columns if c in sectors], sectors, "table_VA.csv", "sector columns")
    # align every table to sectors.csv's order by label
    z, y, acc = z.loc[sectors, sectors], y.loc[sectors], acc.loc[sectors]
    m = m[sectors + [c for c in m.columns if c not in sectors]]
    va = va[sectors + [c for c in va.columns if c not in sectors]]
    for df, file in ((z, "table_Z.csv"), (y, "table_Y.csv"), (m, "imports_use.csv")):
        _numeric(df, file, list(df.columns))
    _numeric(acc, "sector_accounts.csv", ["output", "employment", "domestic_tax_rate"])
    _numeric(acc, "sector_accounts.csv", ["domestic_tax_rate"], hi=1.0)

    out, a, leontief = _io_system(z, y, va, m, acc, sectors)
    import_ids, export_ids = _commodity_rows(directory, commodities)
    _require_rows(
        m, import_ids, "io/imports_use.csv", "rebuild the table with python inputs/io/build_io.py"
    )
    m = m.loc[import_ids]

    crit = _read(directory, "input_criticality.csv", 0)
    _labels(list(crit.columns[: len(sectors)]), sectors, "input_criticality.csv", "columns")
    _numeric(crit, "input_criticality.csv", sectors, hi=1.0)
    _require_rows(
        crit,
        import_ids,
        "io/input_criticality.csv",
        "add a row with a 0, 0.5 or 1 rating per sector",
    )

    split = _export_split(directory, export_ids, sectors)
    basket = _basket(directory, import_ids)

    table = IOTable(
        sectors=tuple(sectors),
        sector_names=tuple(str(s) for s in sectors_df["name"]),
        import_ids=tuple(import_ids),
        export_ids=tuple(export_ids),
        items=tuple(str(s) for s in basket["item"]),
        output=out * 1e6,
        z=z.to_numpy(float) * 1e6,
        y=y.to_numpy(float).sum(axis=1) * 1e6,
        a=a.to_numpy(float),
        leontief=leontief,
        import_use=m[sectors].to_numpy(float) * 1e6,
        import_total=m.to_numpy(float).sum(axis=1) * 1e6,
        criticality=crit.loc[import_ids, sectors].to_numpy(float),
        export_split=split,
        tax_rate=acc["domestic_tax_rate"].to_numpy(float),
        employment=acc["employment"].to_numpy(float),
        item_import=np.array([import_ids.index(k) for k in basket["commodity"]], dtype=int),
        item_import_share=basket["import_share"].to_numpy(float),
        item_elasticity=basket["elasticity"].to_numpy(float),
        item_weight=basket["cpi_weight"].to_numpy(float),
        hashes={f"io/{f}": _hash(directory / f) for f in FILES},
    )
    log.info(
        "loaded the IO table from %s: %d sectors, %d import groups, %d basket items",
        directory,
        len(sectors),
        len(import_ids),
        len(table.items),
    )
    return table


def io_cache_dir() -> Path:
    """Where computed IO systems are cached (``$XDG_CACHE_HOME/chokepoint/io``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chokepoint" / "io"


def _io_system(z, y, va, m, acc, sectors: list[str]):
    """Output x, technical coefficients A and the Leontief inverse L of the table (pymrio's
    calc_x, calc_A, calc_L), after checking that rows and columns add up to output; read from
    the cache when this very table was computed before (its checks passed then)."""
    try:
        pymrio_version = version("pymrio")
    except PackageNotFoundError:  # pragma: no cover - pymrio is a dependency
        pymrio_version = "?"
    digest = hashlib.sha256(pymrio_version.encode() + "\0".join(sectors).encode())
    for frame in (z, y, va[sectors], m[sectors], acc[["output"]]):
        digest.update(np.ascontiguousarray(frame.to_numpy(float)).tobytes())
        digest.update(str(frame.shape).encode())
    path = io_cache_dir() / f"io-{digest.hexdigest()[:24]}.npz"
    try:
        with np.load(path) as f:
            out, a, leontief = f["output"], f["a"], f["leontief"]
        if a.shape == (len(sectors),) * 2 == leontief.shape and out.shape == (len(sectors),):
            log.debug("IO system read from the cache %s", path)
            return out, pd.DataFrame(a, index=z.index, columns=z.columns), leontief
    except (OSError, KeyError, ValueError):
        pass  # not cached (or unreadable): compute it
    out, a, leontief = _compute_io_system(z, y, va, m, acc, sectors)
    tmp = None
    try:  # written whole, then renamed: a reader never sees part of a file
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as f:
            tmp = f.name
            np.savez(f, output=out, a=a.to_numpy(float), leontief=leontief)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home: compute each time
        log.debug("IO system not cached: %s", exc)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return out, a, leontief


def _compute_io_system(z, y, va, m, acc, sectors: list[str]):
    """:func:`_io_system` without the cache."""
    import pymrio

    x = pymrio.calc_x(z, y)
    out = x.to_numpy(float).ravel()
    gap = np.abs(out - acc["output"].to_numpy(float))
    if gap.max() > BALANCE_ATOL:
        i = int(np.argmax(gap))
        raise input_error(
            "io/table_Z.csv",
            f"rows do not add up to sector {sectors[i]}'s output",
            found=f"{out[i]:.9g} USD m",
            expected=f"{acc['output'].iloc[i]:.9g} USD m (sector_accounts.csv)",
            fix="rebuild the table with python inputs/io/build_io.py",
        )
    cols = z.sum(axis=0).to_numpy() + m[sectors].sum(axis=0).to_numpy()
    cols = cols + va[sectors].sum(axis=0).to_numpy()
    gap = np.abs(cols - out)
    if gap.max() > BALANCE_ATOL:
        i = int(np.argmax(gap))
        raise input_error(
            "io/table_VA.csv",
            f"column of sector {sectors[i]} does not add up to its output",
            found=f"{cols[i]:.9g} USD m",
            expected=f"{out[i]:.9g} USD m",
            fix="rebuild the table with python inputs/io/build_io.py",
        )
    a = pymrio.calc_A(z, x)
    if (a.to_numpy() < 0).any() or (a.to_numpy().sum(axis=0) >= 1.0).any():
        raise input_error(
            "io/table_Z.csv",
            "technical coefficients are negative or a column sums to 1 or more",
            fix="rebuild the table with python inputs/io/build_io.py",
        )
    leontief = pymrio.calc_L(a).to_numpy(float)
    return out, a, leontief


def _commodity_rows(directory: Path, commodities: pd.DataFrame) -> tuple[list, list]:
    """The import and export groups of commodities.csv, checked against commodity_map.csv
    (imports are IO import rows, exports final demand)."""
    cmap = _read(directory, "commodity_map.csv")
    direction = commodities["direction"]
    missing = sorted(set(commodities.index) - set(cmap["commodity"]))
    if missing:
        raise input_error(
            "io/commodity_map.csv",
            "commodity group without a row",
            found=missing[0],
            fix="add a row mapping it to an import row of imports_use.csv or to 'exports'",
        )
    import_ids = [k for k in commodities.index if direction[k] == "import"]
    export_ids = [k for k in commodities.index if direction[k] == "export"]
    for i, r in cmap.iterrows():
        k = r["commodity"]
        if k not in commodities.index:
            raise input_error(
                "io/commodity_map.csv",
                "unknown commodity",
                found=k,
                row=int(i) + 2,
                column="commodity",
                expected="an id from commodities.csv",
                fix="correct the id",
            )
        want = k if direction[k] == "import" else "exports"
        if r["io_row"] != want or r["kind"] != direction[k]:
            raise input_error(
                "io/commodity_map.csv",
                "row does not match the commodity's direction",
                found=(r["kind"], r["io_row"]),
                row=int(i) + 2,
                column="io_row",
                expected=f"({direction[k]}, {want})",
                fix="an import group maps to its own import row, an export group to 'exports'",
            )
    return import_ids, export_ids


def _export_split(directory: Path, export_ids: list, sectors: list[str]) -> np.ndarray:
    """Each export group's split over the sectors that produce it (rows sum to 1)."""
    exp = _read(directory, "exports_by_sector.csv")
    _numeric(exp, "exports_by_sector.csv", ["share"], hi=1.0)
    split = np.zeros((len(export_ids), len(sectors)))
    for i, r in exp.iterrows():
        if r["commodity"] not in export_ids or r["sector"] not in sectors:
            raise input_error(
                "io/exports_by_sector.csv",
                "unknown export group or sector",
                found=(r["commodity"], r["sector"]),
                row=int(i) + 2,
                fix="use an export id of commodities.csv and a sector of sectors.csv",
            )
        split[export_ids.index(r["commodity"]), sectors.index(r["sector"])] += float(r["share"])
    off = np.abs(split.sum(axis=1) - 1.0) > 1e-9
    if off.any():
        raise input_error(
            "io/exports_by_sector.csv",
            "shares of an export group do not sum to 1",
            found=(export_ids[int(np.flatnonzero(off)[0])], float(split.sum(axis=1)[off][0])),
            fix="correct the shares",
        )
    return split


def _basket(directory: Path, import_ids: list) -> pd.DataFrame:
    """The consumer basket, each item on an import group with a negative elasticity."""
    basket = _read(directory, "basket.csv")
    _numeric(basket, "basket.csv", ["cpi_weight", "import_share"], hi=100.0)
    _numeric(basket, "basket.csv", ["import_share"], hi=1.0)
    for i, r in basket.iterrows():
        if r["commodity"] not in import_ids:
            raise input_error(
                "io/basket.csv",
                "item's commodity is not an import group",
                found=r["commodity"],
                row=int(i) + 2,
                column="commodity",
                expected="an import id of commodities.csv",
                fix="correct the id",
            )
        e = pd.to_numeric(pd.Series([r["elasticity"]]), errors="coerce").iloc[0]
        if not (np.isfinite(e) and e < 0):
            raise input_error(
                "io/basket.csv",
                "elasticity is not a negative number",
                found=r["elasticity"],
                row=int(i) + 2,
                column="elasticity",
                fix="write the short-run own-price elasticity of demand, e.g. -0.3",
            )
    return basket
