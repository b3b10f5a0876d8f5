"""Each command's tables from result Datasets, as :class:`~econ.report.present.Output` s.

The CLI renders these (``chokepoint run|pressure|economy|compare``), the report embeds them,
and a Python caller can take them as they are::

    out = run_output(econ.run("default"))
    out.tables[0].frame            # revenue impact by crossing, USD, with units in attrs
"""

from __future__ import annotations

from collections.abc import Iterable

import xarray as xr

from ..analysis.tables import (
    PRESSURE_NARROW,
    SIGN_LEGEND,
    coal_table,
    compare_table,
    economy_summary,
    ledger_summary,
    national_path,
    pakistan_table,
    pressure_table,
    revenue_impact_table,
    sector_table,
    staple_table,
)
from .present import Output, Table, baseline_name

RUN_TABLES = ("crossings", "coal", "path")
#: the ledger's columns a person sees by default (``--wide``: each of Pakistan's lines too)
LEDGER_NARROW = (
    "afghan_customs_lost",
    "fees_collected",
    "pakistan_fiscal_net_cost",
    "fiscal_ratio_cumulative",
    "afghan_value_added_lost",
    "pakistan_value_added_lost",
    "value_added_ratio_cumulative",
)
PRESSURE_TABLES = ("groups", "ledger")
ECONOMY_TABLES = ("sectors", "staples")


def _about(ds: xr.Dataset) -> dict:
    return {
        "scenario": str(ds.attrs["scenario"]),
        "base_year": str(ds.attrs["base_year"]),
        "baseline": baseline_name(ds.attrs),
        "members": int(ds.sizes.get("member", 1)),
    }


def headline(ds: xr.Dataset) -> dict[str, float]:
    """The national revenue change over the horizon (USD; median and 5–95% range for
    ensembles) and its share of the baseline (%), for summaries."""
    t = revenue_impact_table(ds).loc["TOTAL"]
    out = {"revenue_change_usd": float(t["change"]), "revenue_change_pct": float(t["change_pct"])}
    if "change_p05" in t:
        out.update(
            revenue_change_usd_p05=float(t["change_p05"]),
            revenue_change_usd_p95=float(t["change_p95"]),
        )
    return out


def run_output(ds: xr.Dataset, tables: Iterable[str] = RUN_TABLES) -> Output:
    """``chokepoint run``: revenue impact by crossing, coal and the rest, the monthly path.

    ``ds`` is a result or its per-member summary (:func:`econ.analysis.tables.run_summary`,
    what a streamed ensemble keeps); both give the same tables and lines."""
    name = ds.attrs["scenario"]
    made = []
    for t in tables:
        if t == "crossings":
            made.append(
                Table(
                    "crossings",
                    f"Revenue impact by crossing, {name}, whole horizon",
                    revenue_impact_table(ds),
                    legend=SIGN_LEGEND,
                )
            )
        elif t == "coal":
            made.append(
                Table(
                    "coal",
                    f"Revenue impact, coal export duty and the rest, {name}, whole horizon",
                    coal_table(ds),
                )
            )
        elif t == "path":
            made.append(Table("path", "National customs revenue by month", national_path(ds)))
        else:
            raise ValueError(f"unknown table {t!r}; expected one of {', '.join(RUN_TABLES)}")
    return Output(
        "run",
        made,
        lines=ledger_summary(ds) + economy_summary(ds),
        summary=headline(ds),
        **_about(ds),
    )


def pressure_output(ds: xr.Dataset, tables: Iterable[str] = PRESSURE_TABLES) -> Output:
    """``chokepoint pressure``: trader groups, and the coercion ledger with Pakistan."""
    made = []
    for t in tables:
        if t == "groups":
            made.append(
                Table(
                    "groups",
                    f"Trader pressure by group, {ds.attrs['scenario']} (pressure = extra cost ÷ "
                    "baseline margin; costs over the whole horizon)",
                    pressure_table(ds),
                    narrow=PRESSURE_NARROW,
                )
            )
        elif t == "ledger":
            made.append(
                Table(
                    "ledger",
                    "Coercion ledger by month, like for like (fiscal ratio = Afghan customs lost "
                    "per USD of Pakistan's net fiscal cost, value-added ratio = Afghan margins "
                    "lost per USD of Pakistan's value added lost; cumulative; inf = Pakistan "
                    "gives up nothing on that account)",
                    pakistan_table(ds),
                    narrow=LEDGER_NARROW,
                )
            )
        else:
            raise ValueError(f"unknown table {t!r}; expected one of {', '.join(PRESSURE_TABLES)}")
    return Output("pressure", made, lines=ledger_summary(ds), **_about(ds))


def economy_output(ds: xr.Dataset, tables: Iterable[str] = ECONOMY_TABLES) -> Output:
    """``chokepoint economy``: sectors (output, domestic revenue, jobs) and staple prices."""
    made = []
    for t in tables:
        if t == "sectors":
            made.append(
                Table(
                    "sectors",
                    f"Sectors, {ds.attrs['scenario']} (output and revenue over the horizon; "
                    "jobs in persons)",
                    sector_table(ds),
                )
            )
        elif t == "staples":
            made.append(
                Table("staples", "Staple prices (% change against the baseline)", staple_table(ds))
            )
        else:
            raise ValueError(f"unknown table {t!r}; expected one of {', '.join(ECONOMY_TABLES)}")
    return Output("economy", made, lines=economy_summary(ds), **_about(ds))


def compare_output(results: dict[str, xr.Dataset]) -> Output:
    """``chokepoint compare``: national totals of each scenario side by side."""
    dss = list(results.values())
    years = ", ".join(sorted({str(d.attrs["base_year"]) for d in dss}))
    baselines = ", ".join(sorted({baseline_name(d.attrs) for d in dss}))
    return Output(
        "compare",
        [
            Table(
                "compare",
                "Scenarios compared, national, whole horizon",
                compare_table(results),
                legend=SIGN_LEGEND,
            )
        ],
        scenario=", ".join(results),
        base_year=years,
        baseline=baselines,
        members=max(int(d.sizes.get("member", 1)) for d in dss),
        summary={"scenarios": list(results)},
    )
