"""Charts of results (matplotlib, imported when a chart is drawn; nothing is downloaded).

One function per chart draws on a matplotlib ``Axes`` from result Datasets;
:func:`figure` lays one or all of them out with a source line, :func:`save` writes PNG, SVG
or PDF. Amounts are in million USD; ensemble figures show the median with the 5–95% band.

* ``path``: national customs revenue a month, baseline against each scenario;
* ``crossings``: the revenue change by crossing, split into lost / diverted / delayed /
  spoiled / evaded / rate change;
* ``corridors``: each corridor's share of trade value over time, scenario against baseline;
* ``pressure``: trader pressure of the most pressed groups, the protest risk shaded;
* ``map``: the crossings at their coordinates (``crossings.csv``, approximate): size =
  baseline revenue, colour = revenue change. There is no basemap or country outline (none
  is shipped); neighbour countries are named at fixed label positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._version import __version__
from ..analysis.tables import COMPONENT_LABELS
from ..model.record import DECOMPOSITION
from .present import baseline_name

KINDS = ("all", "path", "crossings", "corridors", "pressure", "map")
FORMATS = ("png", "svg", "pdf")
#: days in an average month: revenue per period is shown per average month, so a partial
#: first or last period does not look like a collapse
MONTH_DAYS = 365.25 / 12
COLORS = ("#1f4e79", "#c0392b", "#2e8b57", "#8e44ad", "#d4a017", "#5d6d7e", "#e67e22")
PART_COLORS = {
    "revenue_lost_volume": "#c0392b",
    "revenue_diverted": "#2e86c1",
    "revenue_delayed": "#f5b041",
    "revenue_lost_spoilage": "#7d3c98",
    "revenue_lost_evasion": "#5d6d7e",
    "revenue_rate_change": "#17a589",
}
#: where the neighbours' names go on the map (label positions only, not borders)
NEIGHBOURS = {
    "PAKISTAN": (70.3, 30.6),
    "IRAN": (60.4, 33.4),
    "TURKMENISTAN": (61.3, 37.0),
    "UZBEKISTAN": (66.0, 38.4),
    "TAJIKISTAN": (70.2, 38.0),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def short_name(name: str) -> str:
    """A crossing's name without its bracketed or "+" tail: "Milak – Zaranj (Nimroz)" →
    "Milak – Zaranj"."""
    return str(name).split(" (")[0].split(" +")[0]


def _q(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Median and 5/95th percentiles across members (None, None for one member)."""
    if da.sizes.get("member", 1) == 1:
        return da.isel(member=0).values, None, None
    q = da.quantile([0.05, 0.5, 0.95], dim="member")
    return q.sel(quantile=0.5).values, q.sel(quantile=0.05).values, q.sel(quantile=0.95).values


def _dates(ax) -> None:
    """Short date labels that do not run into each other."""
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _per_month(ds: xr.Dataset, da: xr.DataArray) -> xr.DataArray:
    return da / ds["days_in_period"].clip(min=1) * MONTH_DAYS


def revenue_path(ax, results: dict[str, xr.Dataset]) -> None:
    """National customs revenue a month (million USD), each scenario with its baseline."""
    seen_baselines: set[tuple] = set()
    for i, (name, ds) in enumerate(results.items()):
        color = COLORS[i % len(COLORS)]
        t = pd.DatetimeIndex(ds["time"].values)
        base = _per_month(ds, ds["baseline_customs_revenue"].sum(["crossing", "commodity"])) / 1e6
        scen = _per_month(ds, ds["customs_revenue"].sum(["crossing", "commodity"])) / 1e6
        bm, blo, bhi = _q(base)
        key = (str(ds.attrs["base_year"]), tuple(t), tuple(np.round(bm, 3)))
        if key not in seen_baselines:
            seen_baselines.add(key)
            ax.plot(
                t,
                bm,
                color="#444444",
                ls="--",
                lw=1.4,
                label=f"baseline ({ds.attrs['base_year']}, {baseline_name(ds.attrs)})",
            )
            if blo is not None and not np.allclose(blo, bhi):
                ax.fill_between(t, blo, bhi, color="#999999", alpha=0.2, lw=0)
        m, lo, hi = _q(scen)
        ax.plot(t, m, color=color, lw=2, label=name + (" (median)" if lo is not None else ""))
        if lo is not None:
            ax.fill_between(t, lo, hi, color=color, alpha=0.2, lw=0, label=f"{name}: 5–95%")
    ax.set_ylabel("million USD a month")
    ax.set_title("National customs revenue: baseline and scenario")
    ax.legend(fontsize="small", loc="lower left", frameon=False)
    ax.grid(alpha=0.3)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo - 0.15 * (hi - lo), hi)  # room for the legend below the lines
    _dates(ax)


def crossing_change(ax, ds: xr.Dataset) -> None:
    """Revenue lost at each crossing over the horizon (million USD), split into its parts
    (a negative part is a gain, e.g. revenue diverted *to* the crossing); the dot is the
    net loss."""
    parts = ds[list(DECOMPOSITION)].reset_coords(drop=True).sum(["time", "commodity"])
    base = ds["baseline_customs_revenue"].sum(["time", "commodity"])
    bm = _q(base)[0]
    order = np.argsort(bm)
    names = [short_name(n) for n in ds["crossing_name"].values]
    y = np.arange(len(order))
    left_pos = np.zeros(len(order))
    left_neg = np.zeros(len(order))
    for v in DECOMPOSITION:
        vals = _q(parts[v])[0][order] / 1e6
        if not np.any(np.abs(vals) > 1e-9):
            continue
        pos, neg = np.where(vals > 0, vals, 0), np.where(vals < 0, vals, 0)
        ax.barh(y, pos, left=left_pos, color=PART_COLORS[v], label=COMPONENT_LABELS[v])
        ax.barh(y, neg, left=left_neg, color=PART_COLORS[v])
        left_pos += pos
        left_neg += neg
    net = _q(sum(parts[v] for v in DECOMPOSITION))[0][order] / 1e6
    ax.plot(net, y, "o", color="black", ms=4, label="net loss")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [names[i] for i in order], fontsize="small")
    ax.set_xlabel("revenue lost over the horizon, million USD (negative = gained)")
    ax.set_title(f"Revenue change by crossing, {ds.attrs['scenario']}")
    ax.legend(fontsize="small", loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)


def corridor_shares(ax, ds: xr.Dataset) -> None:
    """Each corridor's share of trade value (%): scenario (solid) and baseline (dashed)."""
    corr = ds["route_corridor"].values
    t = pd.DatetimeIndex(ds["time"].values)

    def shares(var: str) -> pd.DataFrame:
        v = ds[var].sum("commodity")
        by = v.groupby(xr.DataArray(corr, dims="route", name="corridor")).sum("route")
        tot = by.sum("corridor")
        share = 100 * by / tot.where(tot > 0)
        return pd.DataFrame(_q(share)[0], index=t, columns=by["corridor"].values)

    scen, base = shares("route_trade_value"), shares("baseline_route_trade_value")
    keep = [c for c in scen.columns if max(scen[c].max(), base[c].max()) >= 0.5]
    for i, c in enumerate(sorted(keep, key=lambda c: -base[c].mean())):
        color = COLORS[i % len(COLORS)]
        ax.plot(t, scen[c], color=color, lw=2, label=c)
        ax.plot(t, base[c], color=color, lw=1, ls="--")
    ax.plot([], [], color="#444444", ls="--", lw=1, label="baseline (dashed)")
    ax.set_ylabel("share of trade value, %")
    top = float(np.nanmax([scen[keep].max().max(), base[keep].max().max()]))
    ax.set_ylim(0, top * 1.4)  # the legend sits above the lines
    ax.set_title(f"Trade by corridor, {ds.attrs['scenario']}")
    ax.legend(fontsize="small", ncol=3, frameon=False, loc="upper center")
    _dates(ax)
    ax.grid(alpha=0.3)


def trader_pressure(ax, ds: xr.Dataset, top: int = 5) -> None:
    """Trader pressure of the ``top`` most pressed groups (extra cost ÷ baseline margin),
    the protest risk of the most pressed group shaded on the right axis (%)."""
    pr = ds["trader_pressure"]
    t = pd.DatetimeIndex(ds["time"].values)
    med = pr.isel(member=0) if pr.sizes["member"] == 1 else pr.median("member")
    peak = med.max("time").values
    order = np.argsort(-peak)[:top]
    names = ds["group_name"].values
    ax2 = ax.twinx()
    lead = int(order[0])
    risk = _q(ds["protest_risk"].isel(group=lead))
    ax2.fill_between(t, 0, 100 * risk[0], color="#c0392b", alpha=0.15, lw=0, step=None)
    ax2.set_ylabel(f"protest risk, % (shaded: {names[lead]})", color="#a93226")
    ax2.set_ylim(0, max(10.0, 100 * float(np.nanmax(risk[0])) * 2.5))
    ax2.tick_params(axis="y", colors="#a93226")
    for j, g in enumerate(order):
        m, lo, hi = _q(pr.isel(group=int(g)))
        color = COLORS[j % len(COLORS)]
        ax.plot(t, m, color=color, lw=2.2 if j == 0 else 1.4, label=names[g])
        if lo is not None and j == 0:
            ax.fill_between(t, lo, hi, color=color, alpha=0.15, lw=0, label=f"{names[g]}: 5–95%")
    ax.set_ylabel("pressure: extra cost ÷ baseline margin")
    ax.set_title(f"Trader pressure, most pressed groups, {ds.attrs['scenario']}")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.grid(alpha=0.3)
    ax.set_ylim(0, max(0.05, float(ax.get_ylim()[1])) * 1.45)  # room for the legend on top
    ax.legend(fontsize="small", frameon=False, loc="upper left", ncol=2)
    _dates(ax)


def crossing_map(ax, ds: xr.Dataset) -> None:
    """The crossings at their coordinates: area = baseline revenue, colour = change (%)."""
    plt = _pyplot()
    lat, lon = ds["crossing_lat"].values, ds["crossing_lon"].values
    base = _q(ds["baseline_customs_revenue"].sum(["time", "commodity"]))[0]
    scen = _q(ds["customs_revenue"].sum(["time", "commodity"]))[0]
    change = np.where(base > 0, 100 * (scen - base) / np.where(base > 0, base, 1), 0.0)
    lim = max(5.0, float(np.nanmax(np.abs(change))))
    size = 40 + 1400 * base / max(float(base.max()), 1e-9)
    sc = ax.scatter(
        lon,
        lat,
        s=size,
        c=change,
        cmap="RdBu",
        vmin=-lim,
        vmax=lim,
        edgecolors="#333333",
        linewidths=0.6,
        zorder=3,
    )
    labels = []
    for i in np.argsort(lon):
        labels.append(
            ax.annotate(
                short_name(ds["crossing_name"].values[i]),
                (float(lon[i]), float(lat[i])),
                xytext=LABEL_SLOTS[0],
                textcoords="offset points",
                fontsize=7,
                zorder=4,
            )
        )
    ax._chokepoint_labels = labels  # moved apart by declutter() once the layout is final
    for name, (x, y) in NEIGHBOURS.items():
        if lon.min() - 3 <= x <= lon.max() + 3 and lat.min() - 3 <= y <= lat.max() + 3:
            ax.text(
                x, y, name, fontsize=8, color="#999999", ha="center", style="italic", clip_on=True
            )
    cb = plt.colorbar(sc, ax=ax, shrink=0.8)
    cb.set_label("revenue change, % of baseline")
    ax.set_xlabel("longitude, °E")
    ax.set_ylabel("latitude, °N")
    pad = 1.5
    # at least Afghanistan's extent (about 60-75°E, 29-39°N), so a few crossings do not
    # give a sliver of a map
    x0, x1 = min(lon.min() - pad, 60.0), max(lon.max() + pad + 1, 74.0)
    y0, y1 = min(lat.min() - pad, 29.5), max(lat.max() + pad, 38.8)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1 / np.cos(np.deg2rad(float(np.mean(lat)))))
    ax.set_title(f"Crossings, {ds.attrs['scenario']}: revenue change")
    ax.text(
        0.01,
        0.01,
        "area = baseline revenue; positions approximate; no basemap",
        transform=ax.transAxes,
        fontsize=7,
        color="#555555",
    )
    ax.grid(alpha=0.2)


#: where a map label may go around its point (offset points), in order of preference
LABEL_SLOTS = ((6, 4), (6, -11), (-6, 4), (-6, -11), (6, 13), (6, -20), (-6, 13), (-6, -20))


def declutter(fig) -> None:
    """Move map labels (set by :func:`crossing_map`) to the first slot around their point
    where they overlap no label placed before them (measured on the drawn figure)."""
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        labels = getattr(ax, "_chokepoint_labels", None)
        if not labels:
            continue
        boxes = []
        for text in labels:
            for dx, dy in LABEL_SLOTS:
                text.set_position((dx, dy))
                text.set_horizontalalignment("left" if dx > 0 else "right")
                box = text.get_window_extent(renderer).expanded(1.05, 1.15)
                if not any(box.overlaps(b) for b in boxes):
                    break
            else:
                text.set_position(LABEL_SLOTS[0])
                text.set_horizontalalignment("left")
                box = text.get_window_extent(renderer)
            boxes.append(box)


def source_line(results: dict[str, xr.Dataset]) -> str:
    """The line under every chart: model version, scenarios, base years, baseline, members."""
    dss = list(results.values())
    years = ", ".join(sorted({str(d.attrs["base_year"]) for d in dss}))
    base = ", ".join(sorted({baseline_name(d.attrs) for d in dss}))
    n = max(int(d.sizes.get("member", 1)) for d in dss)
    ens = f"; {n} members, bands 5–95%" if n > 1 else "; deterministic run"
    return (
        f"Source: chokepoint {__version__} model; scenario(s) {', '.join(results)}; "
        f"base year {years}; baseline {base}{ens}."
    )


def figure(results: dict[str, xr.Dataset], kind: str = "all"):
    """A matplotlib Figure of one chart (``kind``) or all five, with a source line.

    ``results`` maps scenario names to result Datasets; the revenue path shows all of them,
    the other charts the first scenario that is not ``baseline``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    plt = _pyplot()
    focus = next((d for n, d in results.items() if n != "baseline"), next(iter(results.values())))
    draw = {
        "path": lambda ax: revenue_path(ax, results),
        "crossings": lambda ax: crossing_change(ax, focus),
        "corridors": lambda ax: corridor_shares(ax, focus),
        "pressure": lambda ax: trader_pressure(ax, focus),
        "map": lambda ax: crossing_map(ax, focus),
    }
    if kind == "all":
        fig = plt.figure(figsize=(15, 16.5))
        gs = fig.add_gridspec(3, 2, height_ratios=[1, 1.25, 1], hspace=0.32, wspace=0.28)
        draw["path"](fig.add_subplot(gs[0, :]))
        draw["crossings"](fig.add_subplot(gs[1, 0]))
        draw["map"](fig.add_subplot(gs[1, 1]))
        draw["corridors"](fig.add_subplot(gs[2, 0]))
        draw["pressure"](fig.add_subplot(gs[2, 1]))
        fig.subplots_adjust(left=0.13, right=0.95, top=0.96, bottom=0.05)
        fig.text(0.01, 0.01, source_line(results), fontsize=9, color="#555555")
        declutter(fig)
        return fig
    size = {"map": (9, 8), "crossings": (10, 7)}.get(kind, (11, 6))
    fig, ax = plt.subplots(figsize=size)
    draw[kind](ax)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.text(0.01, 0.01, source_line(results), fontsize=8, color="#555555")
    declutter(fig)
    return fig


def sweep_figure(table: pd.DataFrame, field: str, scenario: str, about: str = ""):
    """Sweep curves: cumulative revenue loss, Pakistan's net fiscal cost (million USD) and
    the peak trader pressure against the swept value; the loss's peak marked."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    x = table.index.to_numpy(dtype=float)
    specs = (
        ("revenue_loss", 1e6, "cumulative revenue loss, million USD", COLORS[1]),
        ("pakistan_fiscal_cost", 1e6, "Pakistan's net fiscal cost, million USD", COLORS[0]),
        ("peak_pressure", 1.0, "peak trader pressure (× baseline margin)", COLORS[3]),
    )
    for ax, (col, scale, label, color) in zip(axes, specs):
        ax.plot(x, table[col] / scale, "o-", color=color, lw=2, ms=4)
        ax.set_xlabel(field)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    peak = table.attrs.get("peak_value")
    if peak is not None:
        axes[0].axvline(peak, color="#555555", ls=":", lw=1)
        axes[0].annotate(
            "loss stops rising",
            (peak, float(table["revenue_loss"].max()) / 1e6),
            xytext=(5, -14),
            textcoords="offset points",
            fontsize=8,
        )
    fig.suptitle(f"Sweep of {field}, {scenario}")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.text(
        0.01, 0.01, f"Source: chokepoint {__version__} model; {about}", fontsize=8, color="#555555"
    )
    return fig


def save(fig: Any, path: Any, fmt: str | None = None, dpi: int = 110) -> None:
    """Write the figure as PNG, SVG or PDF (by ``fmt``, else the file's extension) and close
    it. The metadata carry no date, so the same result gives the same file."""
    plt = _pyplot()
    p = path if hasattr(path, "write") else Path(path)  # a file object, or a path
    fmt = (fmt or (p.suffix.lstrip(".") if isinstance(p, Path) else "") or "png").lower()
    if fmt not in FORMATS:
        raise ValueError(f"charts are written as {', '.join(FORMATS)}, not {fmt!r}")
    meta: dict[str, Any] = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {}}[fmt]
    if fmt == "pdf":
        meta = {"CreationDate": None}
    fig.savefig(p, format=fmt, dpi=dpi, metadata=meta)
    plt.close(fig)


def chart_kinds(kinds: Sequence[str]) -> list[str]:
    """Validated chart kinds."""
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown chart kind(s) {', '.join(bad)}; expected {', '.join(KINDS)}")
    return list(kinds)
