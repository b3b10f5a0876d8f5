"""Summary of validated inputs (for ``chokepoint inputs check``)."""

from __future__ import annotations

import pandas as pd

from ..spec.inputs import Inputs

#: the crossings whose combined share the seed article puts at about 40%
SEED_CROSSINGS = ("torkham", "spin-boldak")
SEED_SHARE = 0.40
#: what each ``method`` of revenue_by_crossing.csv says about the figure
METHODS = {
    "observed": "observed: a reported figure for the crossing",
    "observed-split": "observed for the customs house, split between its crossings by flows",
    "estimated": "estimated from the crossing's own figures of another period",
    "allocated": "residual allocation: the national total less the others, by flows",
    "derived": "derived (see source)",
}
#: methods that carry evidence about the crossing itself
EVIDENCE = ("observed", "observed-split", "estimated")


def torkham_chaman_share(inputs: Inputs) -> float:
    """Share of base-year customs revenue collected at Torkham and Spin Boldak/Chaman."""
    rev = inputs.revenue_by_crossing["revenue_afn"]
    return float(rev.reindex(list(SEED_CROSSINGS)).fillna(0.0).sum() / rev.sum())


def seed_share_check(inputs: Inputs) -> str:
    """How the Torkham + Spin Boldak share relates to the seed article's ~40%.

    It is a check only when both crossings' revenues are evidence about them (observed or
    estimated); a residual allocation in proportion to flows says nothing about the share.
    """
    share = torkham_chaman_share(inputs)
    methods = inputs.revenue_by_crossing["method"].reindex(list(SEED_CROSSINGS))
    if not all(m in EVIDENCE for m in methods):
        which = ", ".join(f"{c} {m}" for c, m in methods.items())
        return (
            f"not a check: the share comes from allocations ({which}), not from "
            f"figures for these crossings (seed article: about {100 * SEED_SHARE:.0f}%)"
        )
    if abs(share - SEED_SHARE) <= 0.05:
        return f"within 5 points of the seed article's about {100 * SEED_SHARE:.0f}%"
    return (
        f"DISAGREES with the seed article's about {100 * SEED_SHARE:.0f}% by more than "
        "5 points: see inputs/SOURCES.md"
    )


def revenue_evidence(inputs: Inputs) -> pd.DataFrame:
    """Per method of revenue_by_crossing.csv: the crossings and their share of revenue."""
    rev = inputs.revenue_by_crossing
    total = float(rev["revenue_afn"].sum())
    rows = {}
    for method, g in rev.groupby("method", sort=False):
        rows[method] = {
            "meaning": METHODS.get(str(method), str(method)),
            "crossings": ", ".join(g.index),
            "n": len(g),
            "share_pct": 100.0 * float(g["revenue_afn"].sum()) / total if total else 0.0,
        }
    df = pd.DataFrame(rows).T
    df.index.name = "method"
    return df


def inputs_summary(inputs: Inputs) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables: counts and totals, revenue by crossing with the kind of figure each is,
    and which revenues are observed and which are residual allocations."""
    imp = inputs.commodities["direction"].eq("import")
    f = inputs.flows.join(inputs.commodities["direction"], on="commodity")
    share = torkham_chaman_share(inputs)
    revenue_afn = inputs.revenue_by_crossing["revenue_afn"]
    by = inputs.base_year
    label = inputs.label

    def total(direction: str) -> float:
        return float(f.loc[f.direction == direction, "value_usd"].sum())

    def observed(key: str) -> str:
        return f"{float(by[key]):,.0f}" if key in by else "not given"

    overview = pd.DataFrame(
        {
            "value": {
                "inputs": str(inputs.directory),
                "base year": f"{label} ({by['start']} to {by['end']})",
                "base years available": ", ".join(inputs.base_years) or label,
                "crossings": len(inputs.crossings),
                "routes": len(inputs.routes),
                "commodities (import/export)": f"{int(imp.sum())}/{int((~imp).sum())}",
                "flows": len(inputs.flows),
                "imports, calibrated (USD/yr)": f"{total('import'):,.0f}",
                "imports, base_year.toml (USD/yr)": observed("imports_usd"),
                "exports, calibrated (USD/yr)": f"{total('export'):,.0f}",
                "exports, base_year.toml (USD/yr)": observed("exports_usd"),
                "customs revenue (AFN/yr)": f"{revenue_afn.sum():,.0f}",
                "customs revenue (USD/yr)": f"{inputs.revenue_usd().sum():,.0f}",
                "AFN per USD": inputs.afn_per_usd,
                "measures in the base year's flows": ", ".join(by.get("measures_in_force", []))
                or "none",
                "Torkham + Spin Boldak share": f"{100 * share:.1f}%",
                "Torkham + Spin Boldak vs seed article": seed_share_check(inputs),
            }
        }
    )
    overview.index.name = "item"
    rev = pd.DataFrame(
        {
            "country": inputs.crossings["country"],
            "revenue_afn": inputs.revenue_by_crossing["revenue_afn"],
            "revenue_usd": inputs.revenue_usd(),
            "share_pct": 100
            * inputs.revenue_by_crossing["revenue_afn"]
            / inputs.revenue_by_crossing["revenue_afn"].sum(),
            "method": inputs.revenue_by_crossing["method"],
            "calibration_factor": inputs.calibration_factor,
        }
    )
    rev.index.name = "crossing"
    return [
        (f"Inputs, base year {label}", overview),
        (f"Customs revenue by crossing, {label} (method: what kind of figure it is)", rev),
        (
            f"Which crossing revenues are observed and which are residual allocations, {label}",
            revenue_evidence(inputs),
        ),
    ]
