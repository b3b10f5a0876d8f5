"""Summary of validated inputs (for ``chokepoint inputs check``)."""

from __future__ import annotations

import pandas as pd

from ..spec.inputs import Inputs

#: the crossings whose combined share the seed article puts at about 40%
SEED_CROSSINGS = ("torkham", "spin-boldak")
SEED_SHARE = 0.40


def torkham_chaman_share(inputs: Inputs) -> float:
    """Share of base-year customs revenue collected at Torkham and Spin Boldak/Chaman."""
    rev = inputs.revenue_by_crossing["revenue_afn"]
    return float(rev.reindex(list(SEED_CROSSINGS)).fillna(0.0).sum() / rev.sum())


def inputs_summary(inputs: Inputs) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables: counts and totals, revenue by crossing, and the seed-share check."""
    imp = inputs.commodities["direction"].eq("import")
    f = inputs.flows.join(inputs.commodities["direction"], on="commodity")
    share = torkham_chaman_share(inputs)
    revenue_afn = inputs.revenue_by_crossing["revenue_afn"]

    def total(direction: str) -> float:
        return float(f.loc[f.direction == direction, "value_usd"].sum())

    overview = pd.DataFrame(
        {
            "value": {
                "inputs": str(inputs.directory),
                "base year": inputs.base_year["label"],
                "crossings": len(inputs.crossings),
                "routes": len(inputs.routes),
                "commodities (import/export)": f"{int(imp.sum())}/{int((~imp).sum())}",
                "flows": len(inputs.flows),
                "imports, calibrated (USD/yr)": f"{total('import'):,.0f}",
                "exports, calibrated (USD/yr)": f"{total('export'):,.0f}",
                "customs revenue (AFN/yr)": f"{revenue_afn.sum():,.0f}",
                "customs revenue (USD/yr)": f"{inputs.revenue_usd().sum():,.0f}",
                "AFN per USD": inputs.afn_per_usd,
                "Torkham + Spin Boldak share (inputs)": f"{100 * share:.1f}%",
                "Torkham + Spin Boldak share (seed article)": f"about {100 * SEED_SHARE:.0f}%",
                "agreement": (
                    "within 5 points"
                    if abs(share - SEED_SHARE) <= 0.05
                    else "DISAGREES by more than 5 points: see inputs/SOURCES.md"
                ),
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
    return [("Inputs", overview), ("Base-year customs revenue by crossing", rev)]
