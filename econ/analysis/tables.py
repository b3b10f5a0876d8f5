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

#: the quantiles every ensemble figure carries: the median and the 5–95% range
QUANTILES = (0.05, 0.5, 0.95)

#: the revenue variables the run tables sum (baseline, scenario and the decomposition)
REVENUE = ("baseline_customs_revenue", "customs_revenue", *DECOMPOSITION)
#: the ledger's totals over the horizon in the summary lines (and the economy's, if run)
LEDGER_TOTALS = (
    "treasury_loss",
    "pakistan_fiscal_net_cost",
    "afghan_value_added_lost",
    "pakistan_value_added_lost",
)
ECONOMY_TOTALS = ("domestic_revenue_lost", "treasury_revenue_lost")
#: the attribute marking a Dataset as a :func:`run_summary`
SUMMARY_ATTR = "summary_of"
#: the revenue sums of a summary: by crossing (over time and commodity), by the coal split
#: (over time, crossing and commodity) and by period (over crossing and commodity)
REVENUE_SUMS = ("crossing", "split", "period")


def is_run_summary(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a :func:`run_summary` rather than a result."""
    return ds.attrs.get(SUMMARY_ATTR) == "run tables"


def run_summary(ds: xr.Dataset) -> xr.Dataset:
    """What ``chokepoint run``'s tables and summary lines read of each member, a few kB per
    member instead of the result's megabyte: the revenue variables summed by crossing, by
    the coal split and by period, trader pressure by period and group, the peak protest risk
    by group, the ledger's (and the economy's) totals over the horizon, the peak treasury
    loss, the leverage half-life and the baseline's total.

    Every figure is a reduction of one member's values, so the summaries of the chunks of an
    ensemble, stacked along ``member``, are the summary of the whole ensemble, and the tables
    (:func:`revenue_impact_table`, :func:`coal_table`, :func:`national_path`,
    :func:`ledger_summary`, :func:`economy_summary`, which take either) come out the same
    as from the whole result (tests/test_stream.py). Attributes are the result's.
    """
    if is_run_summary(ds):
        return ds
    out: dict[str, xr.DataArray] = {}
    for by in REVENUE_SUMS:
        sums = _revenue_sums(ds, by)
        out.update({f"{v}_by_{by}": sums[v] for v in REVENUE})
    out.update({k: _part(ds, k) for k in LEDGER_PARTS})
    for v in ECONOMY_TOTALS:
        if v in ds:
            out[f"{v}_total"] = ds[v].sum("time").reset_coords(drop=True)
    summary = xr.Dataset(out, attrs=dict(ds.attrs))
    summary.attrs[SUMMARY_ATTR] = "run tables"
    return summary.transpose("member", ...)


def _revenue_sums(ds: xr.Dataset, by: str) -> xr.Dataset:
    """The :data:`REVENUE` variables summed ``by`` one of :data:`REVENUE_SUMS` (read from a
    summary, computed from a result); dims (member, crossing|split|time)."""
    if is_run_summary(ds):
        return xr.Dataset({v: ds[f"{v}_by_{by}"] for v in REVENUE})
    data = ds[list(REVENUE)].reset_coords(drop=True)
    if by == "crossing":
        return data.sum(["time", "commodity"])
    if by == "period":
        return data.sum(["crossing", "commodity"])
    is_coal = data["commodity"] == COAL
    parts = [
        data.where(is_coal, 0.0).sum(["time", "crossing", "commodity"]),
        data.where(~is_coal, 0.0).sum(["time", "crossing", "commodity"]),
        data.sum(["time", "crossing", "commodity"]),
    ]
    return xr.concat(parts, dim="split").assign_coords(split=["coal", "non-coal", "TOTAL"])


def _part(ds: xr.Dataset, name: str) -> xr.DataArray:
    """One per-member figure of :func:`ledger_summary` (one of :data:`LEDGER_PARTS`): a
    summary's own, or computed from a result."""
    if is_run_summary(ds):
        return ds[name]
    if name.endswith("_total") and name != "baseline_customs_revenue_total":
        da = ds[name.removesuffix("_total")].sum("time")
    elif name == "baseline_customs_revenue_total":
        da = ds["baseline_customs_revenue"]
        da = da.sum([d for d in da.dims if d != "member"])
    elif name == "peak_protest_risk":
        da = ds["protest_risk"].max("time")
    elif name == "treasury_loss_peak":
        da = ds["treasury_loss"].max("time")
    else:
        da = ds[name]
    return da.reset_coords(drop=True)


#: the per-member figures of the summary lines (:func:`ledger_summary`, half-life)
LEDGER_PARTS = (
    "trader_pressure",
    "peak_protest_risk",
    "treasury_loss_peak",
    "leverage_half_life_months",
    "baseline_customs_revenue_total",
    *(f"{v}_total" for v in LEDGER_TOTALS),
)


def with_units(df: pd.DataFrame, units: dict[str, str]) -> pd.DataFrame:
    """Record each column's unit in ``df.attrs["units"]`` (range columns ``x_p05``/``x_p95``
    take the unit of ``x``); presentation (econ.report.present) scales and rounds by it."""
    full = {}
    for c in df.columns:
        base = c[:-4] if c.endswith(("_p05", "_p95")) else c
        if base in units:
            full[c] = units[base]
    df.attrs["units"] = full
    return df


def add_stat(df: pd.DataFrame, name: str, da: xr.DataArray, *, method: str = "linear") -> None:
    """Add column ``name``: the median of ``da`` across members (the value itself in a
    deterministic run) and, for ensembles, ``name_p05``/``name_p95``. ``da`` has dims
    (member, <df's index>) or (member,) for a one-row frame. ``method="inverted_cdf"`` for
    unbounded figures (an exchange ratio that may be infinite)."""
    import warnings

    da = da.reset_coords(drop=True)
    n = da.sizes.get("member", 1)
    if n == 1:
        df[name] = np.asarray(da.isel(member=0).values if "member" in da.dims else da.values)
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        q = da.quantile(list(QUANTILES), dim="member", skipna=True, method=method)
    df[name] = q.sel(quantile=QUANTILES[1]).values
    df[f"{name}_p05"] = q.sel(quantile=QUANTILES[0]).values
    df[f"{name}_p95"] = q.sel(quantile=QUANTILES[2]).values


IMPACT_UNITS = {
    "baseline": "USD",
    "scenario": "USD",
    "change": "USD",
    "change_pct": "%",
    **{lab: "USD" for lab in COMPONENT_LABELS.values()},
}
#: one line on how to read the signs of a revenue-impact table
SIGN_LEGEND = (
    "Signs: change < 0 is revenue lost; lost, diverted, delayed, spoiled, evaded and "
    "rate_change > 0 are losses to the treasury, < 0 gains (diverted sums to 0 nationally)."
)


def revenue_impact_table(
    ds: xr.Dataset, *, quantiles: tuple[float, ...] = (0.05, 0.5, 0.95)
) -> pd.DataFrame:
    """Per-crossing revenue impact over the whole horizon (USD), plus a total row.

    Columns: baseline, scenario, change, change_pct, and the decomposition of the
    loss (lost, diverted, delayed, spoiled, evaded, rate_change). With several members, each
    figure is the median and ``<col>_p05``/``<col>_p95`` columns give the range.
    """
    sums = _revenue_sums(ds, "crossing")
    total = sums.sum("crossing").expand_dims(crossing=["TOTAL"])
    sums = xr.concat([sums, total], dim="crossing")
    return _impact_frame(ds, sums, "crossing", quantiles)


#: the commodity whose revenue is an export duty of its own (docs/model.md §1)
COAL = "coal"


def coal_table(ds: xr.Dataset, *, quantiles: tuple[float, ...] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
    """Revenue impact over the whole horizon (USD) split into the coal export duty and the rest.

    Rows ``coal`` (the export duty on coal), ``non-coal`` (import duties and every other group)
    and ``TOTAL``; columns as in :func:`revenue_impact_table`. The coal duty was 13% of
    customs revenue in FY1401 and about 2% in FY1403, so a closure of the Pakistani crossings
    costs much less coal revenue from the later base year.
    """
    sums = _revenue_sums(ds, "split").rename(split="group")
    return _impact_frame(ds, sums, "group", quantiles)


def _impact_frame(
    ds: xr.Dataset, sums: xr.Dataset, index: str, quantiles: tuple[float, ...]
) -> pd.DataFrame:
    """Baseline, scenario, change, change_pct and the loss components of ``sums`` (summed
    over time), one row per ``index`` value; medians and 5–95% columns with several members."""
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
    df.index.name = index
    return with_units(df, IMPACT_UNITS)


def national_path(ds: xr.Dataset) -> pd.DataFrame:
    """National customs revenue by period (USD): baseline, scenario, change and components;
    for ensembles the median of each figure across members with its 5–95% range."""
    s = _revenue_sums(ds, "period")
    base, scen = s["baseline_customs_revenue"], s["customs_revenue"]
    change = scen - base
    df = pd.DataFrame(
        index=pd.Index(pd.DatetimeIndex(ds["time"].values).strftime("%Y-%m-%d"), name="period")
    )
    add_stat(df, "baseline", base)
    add_stat(df, "scenario", scen)
    add_stat(df, "change", change)
    add_stat(df, "change_pct", xr.where(base > 0, 100 * change / base.where(base > 0, 1), 0.0))
    for v, lab in COMPONENT_LABELS.items():
        add_stat(df, lab, s[v])
    return with_units(df, IMPACT_UNITS)


def compare_table(results: dict[str, xr.Dataset]) -> pd.DataFrame:
    """Scenarios side by side: national totals over each horizon (USD), with 5–95% ranges
    for ensembles, the base year, the horizon and the peak queue (trucks)."""
    frames = []
    for name, ds in results.items():
        t = revenue_impact_table(ds).loc[["TOTAL"]]
        t.index = pd.Index([name], name="name")
        t.insert(0, "base_year", str(ds.attrs["base_year"]))
        t.insert(1, "months", int(ds.attrs["scenario_months"]))
        add_stat(t, "peak_queue_trucks", ds["queue_trucks_max"].max(["time", "crossing"]))
        frames.append(t)
    df = pd.concat(frames)
    df.index.name = "name"
    return with_units(df, {**IMPACT_UNITS, "peak_queue_trucks": "truck"})


def _med(da: xr.DataArray) -> xr.DataArray:
    if da.sizes.get("member", 1) == 1:
        return da.isel(member=0)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        return da.median("member")


def pressure_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per trader group over the horizon: peak pressure, its rank among the groups (1 = most
    pressed) and its month, cumulative cost by component (USD), peak accumulated pressure,
    peak protest risk, capital locked.

    With several members each figure is the median across members (and the peak month
    is that of the median path); ``peak_pressure_p05``/``_p95`` and
    ``peak_protest_risk_p05``/``_p95`` and ``rank_p05``/``_p95`` give the 5–95% range.
    """
    pr = ds["trader_pressure"]
    risk = ds["protest_risk"]
    med_pr = _med(pr)
    df = pd.DataFrame(index=pd.Index(ds["group"].values, name="group"))
    df["kind"] = ds["group_kind"].values
    df["peak_pressure"] = _med(pr.max("time")).values
    # ranking of groups by peak pressure (1 = most pressed), per member: the ranking is what
    # the model says with some confidence, more than any group's level
    peak = pr.max("time").transpose("member", "group").values
    ranks = (-peak).argsort(axis=1).argsort(axis=1) + 1.0
    df["rank"] = np.median(ranks, axis=0)
    df["peak_month"] = pd.DatetimeIndex(med_pr.idxmax("time").values).strftime("%Y-%m")
    df.loc[med_pr.max("time").values <= 1e-9, "peak_month"] = ""
    cost = ds["trader_cost"].sum("time")
    for comp in ds["component"].values:
        add_stat(df, f"cost_{comp}", cost.sel(component=comp))
    add_stat(df, "cost_total", ds["trader_cost"].sum(["time", "component"]))
    add_stat(df, "baseline_margin", ds["trader_baseline_margin"].sum("time"))
    add_stat(df, "peak_accumulated", ds["trader_pressure_accumulated"].max("time"))
    add_stat(df, "peak_protest_risk", risk.max("time"))
    locked = ds["trader_capital_locked"].max("time")
    add_stat(df, "peak_capital_locked", locked)
    wc = ds["working_capital"].reset_coords(drop=True)
    add_stat(df, "locked_share_of_working_capital", xr.where(wc > 0, locked / wc.where(wc > 0), 0))
    if ds.sizes.get("member", 1) > 1:
        q = pr.max("time").quantile([0.05, 0.95], dim="member")
        df["peak_pressure_p05"] = q.sel(quantile=0.05).values
        df["peak_pressure_p95"] = q.sel(quantile=0.95).values
        df["rank_p05"] = np.quantile(ranks, 0.05, axis=0, method="inverted_cdf")
        df["rank_p95"] = np.quantile(ranks, 0.95, axis=0, method="inverted_cdf")
    order = ["kind", "peak_pressure", "rank", "peak_month"]
    df = df[order + [c for c in df.columns if c not in order]]
    units = {
        "peak_pressure": "1",
        "rank": "rank",
        "baseline_margin": "USD",
        "peak_accumulated": "month",
        "peak_protest_risk": "1",
        "peak_capital_locked": "USD",
        "locked_share_of_working_capital": "1",
        "cost_total": "USD",
        **{f"cost_{c}": "USD" for c in ds["component"].values},
    }
    return with_units(df, units)


#: the pressure table's columns a person sees by default (``--wide``: all of them)
PRESSURE_NARROW = (
    "kind",
    "peak_pressure",
    "rank",
    "peak_month",
    "cost_total",
    "peak_protest_risk",
    "locked_share_of_working_capital",
)


def pakistan_table(ds: xr.Dataset) -> pd.DataFrame:
    """The coercion ledger by period (USD), like for like: fiscal (Afghan customs lost against
    Pakistan's net fiscal cost: customs levies and provincial cess lost, less fees collected)
    and value added (Afghan traders' margins lost against Pakistan's exporters' and
    transporters' value added lost), with both exchange ratios (cumulative; ``inf`` where
    Pakistan gives up nothing on that account, blank where neither side loses)."""
    pk = ds["pakistan_cost"]
    df = pd.DataFrame(
        index=pd.Index(pd.DatetimeIndex(ds["time"].values).strftime("%Y-%m-%d"), name="period")
    )
    add_stat(df, "afghan_customs_lost", ds["treasury_loss"])
    for c in ds["pakistan_component"].values:
        add_stat(df, str(c), pk.sel(pakistan_component=c))
    add_stat(df, "pakistan_fiscal_net_cost", ds["pakistan_fiscal_net_cost"])
    add_stat(
        df,
        "fiscal_ratio_cumulative",
        ds["coercion_exchange_ratio_cumulative"],
        method="inverted_cdf",
    )
    add_stat(df, "afghan_value_added_lost", ds["afghan_value_added_lost"])
    add_stat(df, "pakistan_value_added_lost", ds["pakistan_value_added_lost"])
    add_stat(
        df,
        "value_added_ratio_cumulative",
        ds["value_added_exchange_ratio_cumulative"],
        method="inverted_cdf",
    )
    units = {c: "USD" for c in df.columns if not c.endswith(("_p05", "_p95"))}
    units.update(fiscal_ratio_cumulative="1", value_added_ratio_cumulative="1")
    return with_units(df, units)


def _ratio_text(afghan: float, pakistan: float, tol: float, afghan_what: str, what: str) -> str:
    if pakistan > tol:
        return f"{afghan / pakistan:.2f} USD of {afghan_what} per USD of Pakistan's {what}"
    if afghan <= tol:
        return "none (neither side loses)"
    if pakistan < -tol:
        return f"unbounded (Pakistan gains {-pakistan / 1e6:,.1f}m USD on this account)"
    return "unbounded (Pakistan gives up nothing on this account)"


def ledger_summary(ds: xr.Dataset) -> list[str]:
    """Summary lines for ``chokepoint run``: who is squeezed most and when; the coercion
    ledger like for like (fiscal, value added) and how long the leverage lasts.

    ``ds`` is a result or its :func:`run_summary`."""
    pt = _peak_pressure(_part(ds, "trader_pressure"), _part(ds, "peak_protest_risk"))
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
    tot = {v: float(_med(_part(ds, f"{v}_total"))) for v in LEDGER_TOTALS}
    tol = 1e-9 * _baseline_total(ds) / ds.sizes.get("member", 1)
    fiscal = _ratio_text(
        tot["treasury_loss"],
        tot["pakistan_fiscal_net_cost"],
        tol,
        "Afghan customs",
        "net fiscal cost",
    )
    va = _ratio_text(
        tot["afghan_value_added_lost"],
        tot["pakistan_value_added_lost"],
        tol,
        "Afghan traders' value added",
        "value added",
    )
    lines.append(
        f"Coercion exchange ratio (whole horizon): fiscal {fiscal}; value added {va}; "
        f"leverage half-life: {half_life_text(ds)}."
    )
    return lines


def _peak_pressure(pr: xr.DataArray, peak_risk: xr.DataArray) -> pd.DataFrame:
    """The columns ``peak_pressure``, ``peak_month`` and ``peak_protest_risk`` of
    :func:`pressure_table`, computed the same way, from trader pressure (member, time, group)
    and the peak protest risk (member, group)."""
    med_pr = _med(pr)
    df = pd.DataFrame(index=pd.Index(pr["group"].values, name="group"))
    df["peak_pressure"] = _med(pr.max("time")).values
    df["peak_month"] = pd.DatetimeIndex(med_pr.idxmax("time").values).strftime("%Y-%m")
    df.loc[med_pr.max("time").values <= 1e-9, "peak_month"] = ""
    add_stat(df, "peak_protest_risk", peak_risk)
    return df


def _baseline_total(ds: xr.Dataset) -> float:
    """The baseline's customs revenue over the horizon, summed member by member (the scale of
    the summary lines' tolerances)."""
    return float(_part(ds, "baseline_customs_revenue_total").sum())


def half_life_summary(ds: xr.Dataset) -> dict[str, float]:
    """The leverage half-life across members, counting members whose loss never halves.

    A member whose loss does not halve within the horizon has a half-life *beyond* it, not a
    missing one, so it counts as +inf in the median and the 5–95% range (quantiles without
    interpolation, so a range that reaches past the horizon says so). Members with no loss
    at all have no half-life and are left out. Returns ``members`` (with a loss),
    ``beyond`` (of those, how many never halve), ``horizon_months`` and ``median``/``p05``/
    ``p95`` in months (``inf`` = beyond the horizon; NaN if no member has a loss).
    """
    hl = np.asarray(_part(ds, "leverage_half_life_months").values, dtype=float)
    loss = np.asarray(_part(ds, "treasury_loss_peak").values, dtype=float)
    scale = _baseline_total(ds) / max(ds.sizes.get("member", 1), 1)
    has_loss = loss > 1e-9 * scale
    vals = np.where(np.isfinite(hl), hl, np.inf)[has_loss]
    horizon = float(ds.attrs.get("scenario_months", np.nan))
    out = {"members": float(vals.size), "beyond": float(np.isinf(vals).sum())}
    out["horizon_months"] = horizon
    if vals.size == 0:
        out.update(median=np.nan, p05=np.nan, p95=np.nan)
        return out
    q = np.quantile(vals, [0.5, 0.05, 0.95], method="inverted_cdf")
    out.update(median=float(q[0]), p05=float(q[1]), p95=float(q[2]))
    return out


def half_life_text(ds: xr.Dataset) -> str:
    """The half-life for a summary line: "4.0 months", "not reached within the horizon",
    or with several members "3.1 months [2.0–> 18] (beyond the horizon in 12 of 60 members)"
    and "> 18 months in 59 of 60 members"."""
    s = half_life_summary(ds)
    n, beyond = int(s["members"]), int(s["beyond"])
    if n == 0:
        return "none (no revenue loss)"

    def fmt(v: float) -> str:
        return f"> {s['horizon_months']:.0f}" if np.isinf(v) else f"{v:.1f}"

    if ds.sizes.get("member", 1) == 1:
        return "not reached within the horizon" if beyond else f"{s['median']:.1f} months"
    if np.isinf(s["median"]):
        return f"> {s['horizon_months']:.0f} months in {beyond} of {n} members (never halves)"
    text = f"{s['median']:.1f} months [{fmt(s['p05'])}–{fmt(s['p95'])}]"
    if beyond:
        text += f" (beyond the horizon in {beyond} of {n} members)"
    return text


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
    return with_units(
        df,
        {
            "output_loss": "USD",
            "domestic_revenue_lost": "USD",
            "jobs_lost_peak": "person",
            "jobs_lost_mean": "person",
        },
    )


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
    return with_units(
        df,
        {"cpi_weight": "%", "peak_change_pct": "%", "mean_change_pct": "%", "end_change_pct": "%"},
    )


def economy_summary(ds: xr.Dataset) -> list[str]:
    """Lines for ``chokepoint run``: customs loss, domestic revenue loss and the total
    (``ds`` a result or its :func:`run_summary`)."""
    summary = is_run_summary(ds)
    if ("treasury_revenue_lost_total" if summary else "treasury_revenue_lost") not in ds:
        return []

    def total_of(v: str) -> xr.DataArray:
        return ds[f"{v}_total"] if summary else ds[v].sum("time")

    customs = float(_med(total_of("treasury_loss")))
    domestic = float(_med(total_of("domestic_revenue_lost")))
    total = float(_med(total_of("treasury_revenue_lost")))
    return [
        f"Treasury revenue lost: {total:,.0f} USD = customs {customs:,.0f} + domestic "
        f"{domestic:,.0f} (sector output loss x domestic tax rate; `chokepoint economy` for "
        "sectors, jobs and staple prices)."
    ]
