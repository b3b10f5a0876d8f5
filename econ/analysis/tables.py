"""Summary tables from a result Dataset (pandas out; no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..model.record import DECOMPOSITION

COMPONENT_LABELS = {
    "revenue_lost_volume": "lost",
    "revenue_diverted": "diverted",
    "revenue_delayed": "delayed",
    "revenue_lost_spoilage": "spoiled",
    "revenue_lost_evasion": "evaded",
    "revenue_rate_change": "rate_change",
}
assert set(COMPONENT_LABELS) == set(DECOMPOSITION), "every decomposition part needs a label"


def revenue_impact_table(
    ds: xr.Dataset, *, quantiles: tuple[float, ...] = (0.05, 0.5, 0.95)
) -> pd.DataFrame:
    """Per-crossing revenue impact over the whole horizon (USD), plus a total row.

    Columns: baseline, scenario, change, change_pct, and the decomposition of the
    loss (lost, diverted, delayed, spoiled, evaded, rate_change). With several members, each
    figure is the median and ``<col>_p05``/``<col>_p95`` columns give the range.
    """
    sums = (
        ds[["baseline_customs_revenue", "customs_revenue", *DECOMPOSITION]]
        .reset_coords(drop=True)
        .sum(["time", "commodity"])
    )
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
    s = ds[["baseline_customs_revenue", "customs_revenue", *DECOMPOSITION]].sum(
        ["crossing", "commodity"]
    )
    s = s.median("member") if ds.sizes.get("member", 1) > 1 else s.isel(member=0)
    df = pd.DataFrame(
        {
            "baseline": s["baseline_customs_revenue"].to_pandas(),
            "scenario": s["customs_revenue"].to_pandas(),
        }
    )
    df["change"] = df["scenario"] - df["baseline"]
    df["change_pct"] = np.where(
        df["baseline"] > 0, 100 * df["change"] / df["baseline"].where(df["baseline"] > 0, 1), 0.0
    )
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
        rows[name] = {
            **{
                k: t[k]
                for k in (
                    "baseline",
                    "scenario",
                    "change",
                    "change_pct",
                    *COMPONENT_LABELS.values(),
                )
            },
            "months": int(ds.attrs["scenario_months"]),
            "peak_queue_trucks": float(q.median("member")),
        }
    df = pd.DataFrame(rows).T
    df.index.name = "name"
    return df


def _med(da: xr.DataArray) -> xr.DataArray:
    if da.sizes.get("member", 1) == 1:
        return da.isel(member=0)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        return da.median("member")


def pressure_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per trader group over the horizon: peak pressure and its month, cumulative cost by
    component (USD), peak accumulated pressure, peak protest risk, capital locked.

    With several members each figure is the median across members (and the peak month
    is that of the median path); ``peak_pressure_p05``/``_p95`` and
    ``peak_protest_risk_p05``/``_p95`` give the 5–95% range.
    """
    pr = ds["trader_pressure"]
    risk = ds["protest_risk"]
    med_pr = _med(pr)
    df = pd.DataFrame(index=pd.Index(ds["group"].values, name="group"))
    df["kind"] = ds["group_kind"].values
    df["peak_pressure"] = _med(pr.max("time")).values
    df["peak_month"] = pd.DatetimeIndex(med_pr.idxmax("time").values).strftime("%Y-%m")
    df.loc[med_pr.max("time").values <= 1e-9, "peak_month"] = ""
    cost = _med(ds["trader_cost"].sum("time"))
    for comp in ds["component"].values:
        df[f"cost_{comp}"] = cost.sel(component=comp).values
    df["cost_total"] = _med(ds["trader_cost"].sum(["time", "component"])).values
    df["baseline_margin"] = _med(ds["trader_baseline_margin"].sum("time")).values
    df["peak_accumulated"] = _med(ds["trader_pressure_accumulated"].max("time")).values
    df["peak_protest_risk"] = _med(risk.max("time")).values
    locked = _med(ds["trader_capital_locked"].max("time")).values
    df["peak_capital_locked"] = locked
    wc = ds["working_capital"].values
    df["locked_share_of_working_capital"] = np.divide(
        locked, wc, out=np.zeros_like(locked), where=wc > 0
    )
    if ds.sizes.get("member", 1) > 1:
        for name, da in (
            ("peak_pressure", pr.max("time")),
            ("peak_protest_risk", risk.max("time")),
        ):
            q = da.quantile([0.05, 0.95], dim="member")
            df[f"{name}_p05"] = q.sel(quantile=0.05).values
            df[f"{name}_p95"] = q.sel(quantile=0.95).values
    return df


def pakistan_table(ds: xr.Dataset) -> pd.DataFrame:
    """The coercion ledger by period (USD): Afghan treasury loss, Pakistan's costs and gains,
    and the exchange ratio (monthly and cumulative; blank where undefined)."""
    pk = _med(ds["pakistan_cost"])
    df = pd.DataFrame(
        {
            "treasury_loss": _med(ds["treasury_loss"]).to_pandas(),
            **{
                str(c): pk.sel(pakistan_component=c).to_pandas()
                for c in ds["pakistan_component"].values
            },
            "pakistan_net_cost": _med(ds["pakistan_net_cost"]).to_pandas(),
            "exchange_ratio": _med(ds["coercion_exchange_ratio"]).to_pandas(),
            "exchange_ratio_cumulative": _med(ds["coercion_exchange_ratio_cumulative"]).to_pandas(),
        }
    )
    df.index = pd.DatetimeIndex(df.index).strftime("%Y-%m-%d")
    df.index.name = "period"
    return df


def ledger_summary(ds: xr.Dataset) -> list[str]:
    """Two lines for ``chokepoint run``: who is squeezed most and when; what it costs Pakistan."""
    pt = pressure_table(ds)
    lines = []
    if pt["peak_pressure"].max() > 1e-9:
        g = pt["peak_pressure"].idxmax()
        r = pt.loc[g]
        lines.append(
            f"Peak trader pressure: {g} in {r['peak_month']} (extra cost {r['peak_pressure']:.2f}× "
            f"baseline margin; peak protest risk {100 * r['peak_protest_risk']:.0f}%)."
        )
    else:
        lines.append("Peak trader pressure: none (no group bears extra cost).")
    loss = float(_med(ds["treasury_loss"].sum("time")))
    net = float(_med(ds["pakistan_net_cost"].sum("time")))
    scale = float(ds["baseline_customs_revenue"].sum()) / ds.sizes.get("member", 1)
    if abs(net) <= 1e-9 * scale:
        net = 0.0
    if net > 0:
        ratio = (
            f"{loss / net:.2f} USD of Afghan revenue lost per USD Pakistan gives up (whole horizon)"
        )
    else:
        ratio = (
            f"undefined: Pakistan gains on net ({-net:,.0f} USD)"
            if net < 0
            else "undefined: Pakistan gives up nothing"
        )
    hl = _med(ds["leverage_half_life_months"])
    hl_s = f"{float(hl):.1f} months" if np.isfinite(float(hl)) else "not reached within the horizon"
    lines.append(f"Coercion exchange ratio: {ratio}; leverage half-life: {hl_s}.")
    return lines


def _with_range(df: pd.DataFrame, name: str, da: xr.DataArray) -> None:
    """Add ``name`` (median across members) and, for ensembles, ``name_p05``/``name_p95``."""
    df[name] = _med(da).values
    if "member" in da.dims and da.sizes["member"] > 1:
        q = da.quantile([0.05, 0.95], dim="member")
        df[f"{name}_p05"] = q.sel(quantile=0.05).values
        df[f"{name}_p95"] = q.sel(quantile=0.95).values


def sector_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per sector over the horizon (docs/economy.md): output lost (USD), domestic revenue lost
    (USD), jobs lost at the peak month and on average (persons), and the peak month; plus a
    TOTAL row. Medians across members, with ``_p05``/``_p95`` ranges for ensembles."""
    loss = ds["sector_output_loss"]
    df = pd.DataFrame(index=pd.Index(list(ds["sector"].values) + ["TOTAL"], name="sector"))

    def with_total(da: xr.DataArray) -> xr.DataArray:
        da = da.reset_coords(drop=True)
        return xr.concat([da, da.sum("sector").expand_dims(sector=["TOTAL"])], dim="sector")

    total = loss.sum("time").reset_coords(drop=True)
    _with_range(df, "output_loss", with_total(total))
    _with_range(df, "domestic_revenue_lost", with_total(total * ds["domestic_tax_rate"]))
    jobs = ds["employment_loss"].reset_coords(drop=True)
    peak = xr.concat(
        [jobs.max("time"), jobs.sum("sector").max("time").expand_dims(sector=["TOTAL"])],
        dim="sector",
    )
    _with_range(df, "jobs_lost_peak", peak)
    days = ds["days_in_period"]
    _with_range(df, "jobs_lost_mean", with_total((jobs * days).sum("time") / days.sum("time")))
    med = _med(with_total(loss.reset_coords(drop=True)))
    months = pd.DatetimeIndex(med.idxmax("time").values).strftime("%Y-%m")
    df["peak_month"] = np.where(med.max("time").values > 1e-9, months, "")
    return df


def staple_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per basket item: the peak daily price index and its month, the mean over the horizon and
    at its end (1 = baseline), and the CPI weight. Medians, with ranges for ensembles."""
    mx, mean = ds["staple_price_index_max"], ds["staple_price_index"]
    df = pd.DataFrame(index=pd.Index(ds["item"].values, name="item"))
    df["cpi_weight"] = ds["cpi_weight"].values
    _with_range(df, "peak_change_pct", 100.0 * (mx.max("time") - 1.0))
    med = _med(mx)
    months = pd.DatetimeIndex(med.idxmax("time").values).strftime("%Y-%m")
    df["peak_month"] = np.where(med.max("time").values > 1.0 + 1e-9, months, "")
    days = ds["days_in_period"]
    _with_range(df, "mean_change_pct", 100.0 * ((mean * days).sum("time") / days.sum("time") - 1))
    _with_range(df, "end_change_pct", 100.0 * (mean.isel(time=-1) - 1.0))
    return df


def economy_summary(ds: xr.Dataset) -> list[str]:
    """Lines for ``chokepoint run``: customs loss, domestic revenue loss and the total."""
    if "treasury_revenue_lost" not in ds:
        return []
    customs = float(_med(ds["treasury_loss"].sum("time")))
    domestic = float(_med(ds["domestic_revenue_lost"].sum("time")))
    total = float(_med(ds["treasury_revenue_lost"].sum("time")))
    return [
        f"Treasury revenue lost: {total:,.0f} USD = customs {customs:,.0f} + domestic "
        f"{domestic:,.0f} (sector output loss x domestic tax rate; `chokepoint economy` for "
        "sectors, jobs and staple prices)."
    ]
