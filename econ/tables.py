"""Summary tables from a result Dataset (pandas out; no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .output import DECOMPOSITION

COMPONENT_LABELS = {
    "revenue_lost_volume": "lost",
    "revenue_diverted": "diverted",
    "revenue_delayed": "delayed",
    "revenue_lost_spoilage": "spoiled",
    "revenue_lost_evasion": "evaded",
}


def revenue_impact_table(ds: xr.Dataset, *, quantiles: tuple[float, ...] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
    """Per-crossing revenue impact over the whole horizon (USD), plus a total row.

    Columns: baseline, scenario, change, change_pct, and the decomposition of the
    loss (lost, diverted, delayed, spoiled, evaded). With several members, each
    figure is the median and ``<col>_p05``/``<col>_p95`` columns give the range.
    """
    sums = ds[["baseline_customs_revenue", "customs_revenue", *DECOMPOSITION]].reset_coords(drop=True).sum(["time", "commodity"])
    total = sums.sum("crossing").expand_dims(crossing=["TOTAL"])
    sums = xr.concat([sums, total], dim="crossing")
    cols = {
        "baseline": sums["baseline_customs_revenue"],
        "scenario": sums["customs_revenue"],
        "change": sums["customs_revenue"] - sums["baseline_customs_revenue"],
    }
    base = sums["baseline_customs_revenue"]
    cols["change_pct"] = xr.where(base > 0, 100.0 * cols["change"] / base.where(base > 0, 1.0), 0.0)
    for v, lab in COMPONENT_LABELS.items():
        cols[lab] = sums[v]
    n = ds.sizes.get("member", 1)
    out = {}
    for name, da in cols.items():
        if n == 1:
            out[name] = da.isel(member=0).to_pandas()
        else:
            q = da.quantile(list(quantiles), dim="member")
            out[name] = q.sel(quantile=quantiles[1]).to_pandas()
            out[f"{name}_p05"] = q.sel(quantile=quantiles[0]).to_pandas()
            out[f"{name}_p95"] = q.sel(quantile=quantiles[2]).to_pandas()
    df = pd.DataFrame(out)
    df.index.name = "crossing"
    return df


def national_path(ds: xr.Dataset) -> pd.DataFrame:
    """National customs revenue by period (USD): baseline, scenario, change and components."""
    s = ds[["baseline_customs_revenue", "customs_revenue", *DECOMPOSITION]].sum(["crossing", "commodity"])
    s = s.median("member") if ds.sizes.get("member", 1) > 1 else s.isel(member=0)
    df = pd.DataFrame({
        "baseline": s["baseline_customs_revenue"].to_pandas(),
        "scenario": s["customs_revenue"].to_pandas(),
    })
    df["change"] = df["scenario"] - df["baseline"]
    df["change_pct"] = np.where(df["baseline"] > 0, 100 * df["change"] / df["baseline"].where(df["baseline"] > 0, 1), 0.0)
    for v, lab in COMPONENT_LABELS.items():
        df[lab] = s[v].to_pandas()
    df.index = pd.DatetimeIndex(df.index).strftime("%Y-%m-%d")
    df.index.name = "period"
    return df


def compare_table(results: dict[str, xr.Dataset]) -> pd.DataFrame:
    """Scenarios side by side: national totals over each horizon (USD)."""
    rows = {}
    for name, ds in results.items():
        t = revenue_impact_table(ds).loc["TOTAL"]
        q = ds["queue_trucks_max"].max(["time", "crossing"])
        rows[name] = {**{k: t[k] for k in ("baseline", "scenario", "change", "change_pct",
                                           *COMPONENT_LABELS.values())},
                      "months": int(ds.attrs["scenario_months"]),
                      "peak_queue_trucks": float(q.median("member"))}
    df = pd.DataFrame(rows).T
    df.index.name = "name"
    return df
