#!/usr/bin/env python3
"""Build the FY1401 (2022-23) input-output table for Afghanistan from the sourced CSVs.

Usage::

    python inputs/io/build_io.py            # rebuild and write the table CSVs
    python inputs/io/build_io.py --check    # exit 0 if the shipped CSVs equal a rebuild

Reads ``inputs/io/*.csv`` (sourced figures, proxies and labelled assumptions; see
``inputs/io/SOURCES.md``) and, read-only, ``inputs/base_years/FY1401/base_year.toml``, ``inputs/commodities.csv`` and the same base year's
``rates.csv`` and ``flows.csv`` (FY1401 imports and exports by commodity group, exchange rate and
border tax rates). Writes, in USD million at FY1401 prices:

* ``table_Z.csv``  domestic intermediate flows, supplier sector x using sector;
* ``table_Y.csv``  final demand for domestic output, sector x
  {household, government, gfcf, exports};
* ``imports_use.csv``  imports (CIF) by commodity group x using sector and final-demand category;
* ``table_VA.csv`` primary-input rows {border_taxes, value_added} x (sectors + final demand);
* ``sector_accounts.csv``  per-sector output, inputs, value added, employment and domestic revenue.

Identities (tested to 1e-9 USD million)::

    x_i = sum_j Z_ij + sum_f Y_if                                   (rows)
    x_j = sum_i Z_ij + sum_k M_kj + border_taxes_j + value_added_j  (columns)
    sum_u M_ku = imports of commodity k in flows.csv                 (imports by use)

Method (details and every proxy in SOURCES.md): sector value added from national accounts
shares, government output from the FY1401 budget, mining output from coal and mineral exports;
the intermediate-input ratio of each sector from Pakistan's ADB MRIO 2021 (proxy) unless
overridden; imports allocated to users by ``imports_by_use.csv``; the split of each sector's
remaining domestic output between households and intermediate use, and then the intermediate
matrix itself, are fitted by RAS (biproportional scaling) to the row and column totals.
Deterministic: no randomness, fixed ordering.
"""

from __future__ import annotations

import argparse
import io
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
INPUTS = HERE.parent
#: the base year the table describes (its flows, rates and totals in inputs/base_years/)
BASE_YEAR = "FY1401"
FINAL_IMPORT_USERS = ("household", "government", "gfcf")
FINAL_DEMAND = ("household", "government", "gfcf", "exports")
OUTPUT_FILES = (
    "table_Z.csv",
    "table_Y.csv",
    "table_VA.csv",
    "imports_use.csv",
    "sector_accounts.csv",
)
SHARE_TOL = 1e-9
RAS_TOL = 1e-13
CHECK_ATOL = 1e-9


class IOBuildError(Exception):
    """An input is inconsistent or the table cannot be balanced (message says how to fix it)."""


# --------------------------------------------------------------------------- equations


def calc_ras(
    seed: np.ndarray,
    row_totals: np.ndarray,
    col_totals: np.ndarray,
    *,
    tol: float = RAS_TOL,
    max_iter: int = 100_000,
) -> np.ndarray:
    """Biproportional fit Z = diag(r) S diag(s) with Z 1 = row_totals and 1'Z = col_totals (RAS).

    ``seed`` S is non-negative; zero cells stay zero. Converged when the largest row error is
    below ``tol`` times the largest total. Units are those of the totals.
    """
    seed = np.asarray(seed, dtype=float)
    u = np.asarray(row_totals, dtype=float)
    v = np.asarray(col_totals, dtype=float)
    if seed.shape != (u.size, v.size):
        raise IOBuildError(
            f"RAS: seed shape {seed.shape} does not match totals ({u.size}, {v.size})"
        )
    if (seed < 0).any() or (u < 0).any() or (v < 0).any():
        raise IOBuildError(
            "RAS: seed and totals must be non-negative; check the inputs named above"
        )
    scale = max(float(u.max(initial=0.0)), float(v.max(initial=0.0)), 1.0)
    if abs(u.sum() - v.sum()) > 1e-9 * scale:
        raise IOBuildError(
            f"RAS: row totals sum to {u.sum():.6f} but column totals to {v.sum():.6f}; "
            "the accounts feeding them are inconsistent"
        )
    for name, tot, support in (("row", u, seed.sum(axis=1)), ("column", v, seed.sum(axis=0))):
        bad = np.flatnonzero((tot > 0) & (support <= 0))
        if bad.size:
            raise IOBuildError(
                f"RAS: {name}(s) {bad.tolist()} need a positive total but the seed is all "
                "zero there; "
                "give the seed a positive weight in that row/column"
            )
    z = seed.copy()
    for _ in range(max_iter):
        rs = z.sum(axis=1)
        z *= np.divide(u, rs, out=np.zeros_like(u), where=rs > 0)[:, None]
        cs = z.sum(axis=0)
        z *= np.divide(v, cs, out=np.zeros_like(v), where=cs > 0)[None, :]
        if np.abs(z.sum(axis=1) - u).max(initial=0.0) <= tol * scale:
            return z
    raise IOBuildError(
        f"RAS did not converge in {max_iter} iterations; check seed zeros against the totals"
    )


def calc_leontief(a: np.ndarray) -> np.ndarray:
    """Leontief inverse L = (I - A)^-1 of the technical coefficients A = Z diag(x)^-1."""
    return np.linalg.inv(np.eye(a.shape[0]) - a)


# --------------------------------------------------------------------------- inputs


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise IOBuildError(f"missing input {path}; restore it from git")
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if "source" not in df.columns or df["source"].isna().any():
        raise IOBuildError(f"{path.name}: every row needs a non-empty 'source' (project rule)")
    return df


def read_inputs(io_dir: Path = HERE, inputs_dir: Path = INPUTS) -> dict[str, object]:
    """Read and validate every input file; returns a dict of DataFrames and scalars."""
    year_dir = inputs_dir / "base_years" / BASE_YEAR
    with open(year_dir / "base_year.toml", "rb") as fh:
        base = tomllib.load(fh)
    commodities = pd.read_csv(inputs_dir / "commodities.csv").merge(
        pd.read_csv(year_dir / "rates.csv")[["commodity", "effective_rate"]],
        left_on="id",
        right_on="commodity",
        how="left",
    )
    flows = pd.read_csv(year_dir / "flows.csv")
    sectors = _read(io_dir / "sectors.csv")
    macro = _read(io_dir / "macro.csv").set_index("key")["value"].astype(float)
    pak = _read(io_dir / "pakistan_adb_mrio_2021.csv").set_index("adb_sector")
    imports_by_use = _read(io_dir / "imports_by_use.csv")
    exports_by_sector = _read(io_dir / "exports_by_sector.csv")
    z_seed = _read(io_dir / "z_seed.csv").set_index("supplier")
    basket = _read(io_dir / "basket.csv")

    ids = list(sectors["id"])
    if len(set(ids)) != len(ids):
        raise IOBuildError("sectors.csv: duplicate sector id")
    direction = commodities.set_index("id")["direction"]
    imp_ids = list(direction[direction == "import"].index)
    exp_ids = list(direction[direction == "export"].index)

    users = set(ids) | set(FINAL_IMPORT_USERS)
    for df, key, allowed, label in (
        (imports_by_use, "commodity", set(imp_ids), "import commodity"),
        (imports_by_use, "user", users, "user"),
        (exports_by_sector, "commodity", set(exp_ids), "export commodity"),
        (exports_by_sector, "sector", set(ids), "sector"),
        (basket, "commodity", set(imp_ids), "import commodity"),
        (basket, "sector", set(ids), "sector"),
    ):
        bad = sorted(set(df[key]) - allowed)
        if bad:
            raise IOBuildError(
                f"{label} {bad} in column '{key}' is unknown; expected one of {sorted(allowed)}"
            )
    for df, key, expected, name in (
        (imports_by_use, "commodity", imp_ids, "imports_by_use.csv"),
        (exports_by_sector, "commodity", exp_ids, "exports_by_sector.csv"),
    ):
        sums = df.groupby(key)["share"].sum()
        missing = sorted(set(expected) - set(sums.index))
        if missing:
            raise IOBuildError(
                f"{name}: no rows for {missing}; every commodity group needs a split"
            )
        off = sums[(sums - 1.0).abs() > SHARE_TOL]
        if len(off):
            raise IOBuildError(f"{name}: shares must sum to 1 per {key}; found {off.to_dict()}")
        if (df["share"] < 0).any():
            raise IOBuildError(f"{name}: negative share")
    if list(z_seed.index) != ids or [c for c in z_seed.columns if c != "source"] != ids:
        raise IOBuildError(
            "z_seed.csv: rows and columns must be the sector ids in sectors.csv order"
        )
    for group in ("industry", "services"):
        s = sectors.loc[sectors["employment_group"] == group, "employment_share_in_group"].sum()
        if abs(s - 1.0) > SHARE_TOL:
            raise IOBuildError(
                f"sectors.csv: employment_share_in_group of '{group}' sums to {s}, expected 1"
            )
    required = [
        "gdp_usd_m",
        "government_consumption_afn_bn",
        "government_wage_share",
        "government_employment",
        "employment_total",
        "employment_share_agriculture",
        "employment_share_industry",
        "employment_share_services",
        "revenue_total_afn_bn",
        "customs_revenue_afn_bn",
        "mining_nontax_revenue_afn_bn",
        "inland_tax_share_of_noncustoms",
        "export_share_of_mining_output",
    ]
    missing = [k for k in required if k not in macro.index]
    if missing:
        raise IOBuildError(f"macro.csv: missing keys {missing}")

    rates = commodities.set_index("id")["effective_rate"].astype(float)
    by_comm = flows.groupby("commodity")["value_usd"].sum() / 1e6
    return {
        "afn_per_usd": float(base["afn_per_usd"]),
        "imports_usd_m": float(base["imports_usd"]) / 1e6,
        "ids": ids,
        "imp_ids": imp_ids,
        "exp_ids": exp_ids,
        "imports": by_comm.reindex(imp_ids).fillna(0.0),
        "exports": by_comm.reindex(exp_ids).fillna(0.0),
        "rates": rates,
        "sectors": sectors.set_index("id"),
        "macro": macro,
        "pak": pak,
        "imports_by_use": imports_by_use,
        "exports_by_sector": exports_by_sector,
        "z_seed": z_seed.drop(columns="source").astype(float),
        "basket": basket,
    }


# --------------------------------------------------------------------------- build


def _pak_aggregate(pak: pd.DataFrame, codes: str) -> pd.Series:
    idx = [int(c) for c in str(codes).split(";")]
    return pak.loc[idx, ["x", "zuse", "va", "zsales", "y", "e", "ez", "ey"]].sum()


def build(inp: dict[str, object]) -> dict[str, pd.DataFrame]:
    """Derive the balanced table (USD million) from the validated inputs."""
    ids: list[str] = inp["ids"]  # type: ignore[assignment]
    sec: pd.DataFrame = inp["sectors"]  # type: ignore[assignment]
    macro: pd.Series = inp["macro"]  # type: ignore[assignment]
    afn = float(inp["afn_per_usd"])  # type: ignore[arg-type]
    rates: pd.Series = inp["rates"]  # type: ignore[assignment]
    imp_ids: list[str] = inp["imp_ids"]  # type: ignore[assignment]
    exp_ids: list[str] = inp["exp_ids"]  # type: ignore[assignment]
    imports: pd.Series = inp["imports"]  # type: ignore[assignment]
    exports: pd.Series = inp["exports"]  # type: ignore[assignment]

    # Pakistan proxy ratios per Afghan sector (ADB MRIO 2021).
    agg = pd.DataFrame(
        {i: _pak_aggregate(inp["pak"], sec.at[i, "adb_mrio_sectors"]) for i in ids}
    ).T
    ic = (agg["zuse"] / agg["x"]).where(sec["ic_override"].isna(), sec["ic_override"])
    dom_int_sales = agg["ez"] / agg["x"]
    pak_final_share = agg["y"] / agg["x"]

    # Imports by use (CIF) and border taxes on them.
    users = ids + list(FINAL_IMPORT_USERS)
    ibu = inp["imports_by_use"].pivot_table(  # type: ignore[attr-defined]
        index="commodity", columns="user", values="share", aggfunc="sum", fill_value=0.0
    )
    shares = ibu.reindex(index=imp_ids, columns=users, fill_value=0.0)
    m_use = shares.mul(imports, axis=0)
    t_use = m_use.mul(rates.reindex(imp_ids), axis=0)
    m_sec = m_use[ids].sum(axis=0)
    t_sec = t_use[ids].sum(axis=0)

    # Exports by sector (basic value + margins) and the export duty, charged to the basic producers.
    ebs = inp["exports_by_sector"]
    x_by_sec = pd.Series(0.0, index=ids)
    duty_sec = pd.Series(0.0, index=ids)
    for comm in exp_ids:
        rows = ebs[ebs["commodity"] == comm]  # type: ignore[index]
        value = float(exports[comm])
        for _, r in rows.iterrows():
            x_by_sec[r["sector"]] += value * float(r["share"])
        basic = rows[rows["kind"] == "basic"]
        duty = value * float(rates[comm])
        for _, r in basic.iterrows():
            duty_sec[r["sector"]] += duty * float(r["share"]) / float(basic["share"].sum())
    taxes_total = float(t_use.to_numpy().sum() + duty_sec.sum())
    gdp = float(macro["gdp_usd_m"])
    gva_total = gdp - taxes_total

    # Value added and output by sector.
    gva = pd.Series(np.nan, index=ids)
    x = pd.Series(np.nan, index=ids)
    wage_share = float(macro["government_wage_share"])
    for i in ids:
        rule = sec.at[i, "gva_rule"]
        if rule == "share":
            gva[i] = float(sec.at[i, "gva_share"]) * gva_total
        elif rule == "government-budget":
            x[i] = float(macro["government_consumption_afn_bn"]) * 1e3 / afn
            ic[i] = 1.0 - wage_share
            gva[i] = wage_share * x[i]
        elif rule == "mining-exports":
            basic = ebs[(ebs["sector"] == i) & (ebs["kind"] == "basic")]  # type: ignore[index]
            x_basic = sum(
                float(exports[c]) * float(s) for c, s in zip(basic["commodity"], basic["share"])
            )
            x[i] = x_basic / float(macro["export_share_of_mining_output"])
            gva[i] = x[i] * (1.0 - ic[i]) - duty_sec[i]
        elif rule != "services-residual":
            raise IOBuildError(f"sectors.csv: unknown gva_rule '{rule}' for {i}")
    resid = [i for i in ids if sec.at[i, "gva_rule"] == "services-residual"]
    rest = gva_total - gva.drop(resid).sum()
    if resid:
        w = agg.loc[resid, "va"]
        gva[resid] = rest * w / w.sum()
    elif abs(rest) > 1e-9:
        raise IOBuildError("no services-residual sector to absorb the GVA residual")
    todo = x.isna()
    x[todo] = (gva[todo] + duty_sec[todo]) / (1.0 - ic[todo])

    # Domestic intermediate inputs by column.
    c = ic * x - m_sec - t_sec
    if (c < 0).any():
        bad = c[c < 0].round(1).to_dict()
        raise IOBuildError(
            f"domestic intermediate inputs would be negative for {bad} (USD m): imported "
            "inputs allocated in imports_by_use.csv exceed the sector's intermediate-input "
            "ratio; lower those shares or raise ic_override"
        )

    # Final demand other than households.
    gov = pd.Series(0.0, index=ids)
    for i in ids:
        if sec.at[i, "gva_rule"] == "government-budget":
            gov[i] = x[i]
    gfcf_share = sec["gfcf_output_share"].where(sec["gfcf_output_share"].notna(), pak_final_share)
    gfcf = gfcf_share * x
    avail = x - x_by_sec - gov - gfcf
    if (avail < -1e-9).any():
        bad = avail[avail < -1e-9].round(1).to_dict()
        raise IOBuildError(
            f"exports + government + GFCF exceed output for {bad} (USD m); "
            "check exports_by_sector.csv"
        )
    avail = avail.clip(lower=0.0)

    m_fd = m_use[list(FINAL_IMPORT_USERS)].sum(axis=0)
    t_fd = t_use[list(FINAL_IMPORT_USERS)].sum(axis=0)
    gov_total = gov.sum() + m_fd["government"] + t_fd["government"]
    gfcf_total = gfcf.sum() + m_fd["gfcf"] + t_fd["gfcf"]
    imp_total = float(imports.sum())
    exp_total = float(exports.sum())
    hh_total = gdp - gov_total - gfcf_total - exp_total + imp_total
    hh_dom = hh_total - m_fd["household"] - t_fd["household"]

    # Stage 1: split each sector's remaining output between households and intermediate sales.
    prior = np.column_stack(
        [sec["household_prior"].to_numpy(float), (dom_int_sales * x).to_numpy(float)]
    )
    split = calc_ras(prior, avail.to_numpy(float), np.array([hh_dom, c.sum()]))
    r = split[:, 1]

    # Stage 2: the intermediate matrix.
    seed = inp["z_seed"].loc[ids, ids].to_numpy(float)  # type: ignore[attr-defined]
    z = calc_ras(seed, r, c.to_numpy(float))

    # Close both identities exactly (residuals are of RAS-tolerance size).
    hh = x.to_numpy() - z.sum(axis=1) - gov.to_numpy() - gfcf.to_numpy() - x_by_sec.to_numpy()
    border = (t_sec + duty_sec).to_numpy()
    va = x.to_numpy() - z.sum(axis=0) - m_sec.to_numpy() - border
    adjust = max(np.abs(hh - split[:, 0]).max(), np.abs(va - gva.to_numpy()).max())
    if adjust > 1e-6 or (hh < -1e-9).any() or (va < 0).any():
        raise IOBuildError(
            f"closing the identities moved a cell by {adjust:.3g} USD m or made it negative"
        )

    # Domestic (non-customs) revenue by sector.
    noncustoms = float(macro["revenue_total_afn_bn"] - macro["customs_revenue_afn_bn"]) * 1e9
    inland = noncustoms * float(macro["inland_tax_share_of_noncustoms"])
    base = sec["brt_rate"] * sec["formal_share"] * x * 1e6 * afn
    kappa = inland / float(base.sum())
    revenue = kappa * base
    mining = [i for i in ids if sec.at[i, "gva_rule"] == "mining-exports"]
    revenue[mining] += float(macro["mining_nontax_revenue_afn_bn"]) * 1e9 / len(mining)

    # Employment.
    e_tot = float(macro["employment_total"])
    g_emp = float(macro["government_employment"])
    group_total = {
        "agriculture": e_tot * float(macro["employment_share_agriculture"]),
        "industry": e_tot * float(macro["employment_share_industry"]),
        "services": e_tot * float(macro["employment_share_services"]) - g_emp,
        "government": g_emp,
    }
    emp = pd.Series(
        [
            group_total[sec.at[i, "employment_group"]]
            * float(sec.at[i, "employment_share_in_group"])
            for i in ids
        ],
        index=ids,
    )

    a = z / x.to_numpy()[None, :]
    leon = calc_leontief(a)

    table_z = pd.DataFrame(z, index=pd.Index(ids, name="supplier"), columns=ids)
    table_y = pd.DataFrame(
        {
            "household": hh,
            "government": gov.to_numpy(),
            "gfcf": gfcf.to_numpy(),
            "exports": x_by_sec.to_numpy(),
        },
        index=pd.Index(ids, name="sector"),
    )
    cols = ids + list(FINAL_DEMAND)
    table_va = pd.DataFrame(
        0.0, index=pd.Index(["border_taxes", "value_added"], name="row"), columns=cols
    )
    table_va.loc["border_taxes", ids] = border
    table_va.loc["value_added", ids] = va
    for f in FINAL_IMPORT_USERS:
        table_va.loc["border_taxes", f] = float(t_fd[f])
    imports_use = m_use.copy()
    imports_use.index.name = "commodity"
    accounts = pd.DataFrame(
        {
            "name": sec["name"],
            "output": x.to_numpy(),
            "domestic_inputs": z.sum(axis=0),
            "imported_inputs": m_sec.to_numpy(),
            "border_taxes": border,
            "value_added": va,
            "final_demand": table_y.sum(axis=1).to_numpy(),
            "intermediate_ratio": ic.to_numpy(),
            "import_coefficient": (m_sec / x).to_numpy(),
            "output_multiplier": leon.sum(axis=0),
            "employment": emp.to_numpy(),
            "jobs_per_usd_m": (emp / x).to_numpy(),
            "domestic_revenue_afn": revenue.to_numpy(),
            "domestic_tax_rate": (revenue / (x * 1e6 * afn)).to_numpy(),
        },
        index=pd.Index(ids, name="sector"),
    )
    summary = {
        "gdp": gdp,
        "border_taxes_afn_bn": taxes_total * afn / 1e3,
        "gva_total": gva_total,
        "household_share_gdp": hh_total / gdp,
        "gfcf_share_gdp": gfcf_total / gdp,
        "government_share_gdp": gov_total / gdp,
        "inland_tax_scale_kappa": kappa,
        "max_closing_adjustment": adjust,
    }
    return {
        "table_Z.csv": table_z,
        "table_Y.csv": table_y,
        "table_VA.csv": table_va,
        "imports_use.csv": imports_use,
        "sector_accounts.csv": accounts,
        "_summary": pd.Series(summary),
    }


# --------------------------------------------------------------------------- CLI


def _to_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, lineterminator="\n")
    return buf.getvalue()


def check(tables: dict[str, pd.DataFrame], io_dir: Path = HERE) -> list[str]:
    """Compare a rebuild with the shipped CSVs; returns the names of files that differ."""
    differ = []
    for name in OUTPUT_FILES:
        path = io_dir / name
        new = _to_text(tables[name])
        if not path.is_file():
            differ.append(f"{name} (missing)")
            continue
        if path.read_text() == new:
            continue
        old_df = pd.read_csv(path, index_col=0)
        new_df = pd.read_csv(io.StringIO(new), index_col=0)
        same_shape = old_df.shape == new_df.shape and list(old_df.columns) == list(new_df.columns)
        same_shape = same_shape and list(old_df.index) == list(new_df.index)
        num_old = old_df.select_dtypes("number")
        num_new = new_df.select_dtypes("number")
        if not (
            same_shape
            and np.allclose(num_old.to_numpy(), num_new.to_numpy(), rtol=0.0, atol=CHECK_ATOL)
        ):
            differ.append(name)
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the shipped CSVs with a rebuild; write nothing",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)
    try:
        tables = build(read_inputs())
    except IOBuildError as exc:
        print(f"build_io: error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        differ = check(tables)
        if differ:
            print(
                f"build_io: shipped tables differ from a rebuild: {differ}; run build_io.py",
                file=sys.stderr,
            )
            return 1
        if not args.quiet:
            print("build_io: shipped tables equal a rebuild", file=sys.stderr)
        return 0
    for name in OUTPUT_FILES:
        (HERE / name).write_text(_to_text(tables[name]))
    if not args.quiet:
        print(tables["_summary"].to_string(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
