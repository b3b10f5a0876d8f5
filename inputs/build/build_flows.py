"""Rebuild each base year's flows, crossing revenues and collected rates from sourced inputs.

Usage (from anywhere)::

    python inputs/build/build_flows.py            # rewrite inputs/base_years/<label>/ for all years
    python inputs/build/build_flows.py FY1403     # one base year
    python inputs/build/build_flows.py --check    # exit 1 if a shipped file differs from a rebuild

For base year ``Y`` it reads the shared tables in ``inputs/`` (``routes.csv``,
``commodities.csv``), the shared build tables in ``inputs/build/`` (``seed_weights.csv``,
``duty_rates.csv``, ``crosschecks.csv``), the year's totals in
``inputs/base_years/Y/base_year.toml`` and the year's build tables in ``inputs/build/Y/``
(``route_imports.csv``, ``import_shares.csv``, ``exports.csv``, ``export_weights.csv``,
``revenue_anchors.csv``). Every number in them carries its source. It writes
``inputs/base_years/Y/flows.csv``, ``revenue_by_crossing.csv`` and ``rates.csv``.

The steps (inputs/SOURCES.md §4-§5 gives the reasons):

1. **Exports.** Each export group's value (observed, or a share of what the observed ones leave
   of the year's export total) is spread over routes by the year's export weights.
2. **Coal rate.** ``τ_coal = coal duty (AFN) ÷ (coal value × AFN per USD)``; other export groups
   pay no duty.
3. **Imports.** The seed weights (route × commodity intensity: the route's share of a
   commodity relative to its national share) are fitted by iterative proportional fitting
   (IPF) to the route totals (scaled to the year's recorded imports) and the commodity shares.
   IPF keeps zeros at zero and changes only row and column scales.
4. **Import rates.** ``τ[k] = u · (duty + BRT·(1 + duty) + advance tax + fees)`` with one uplift
   ``u`` that makes the import revenue equal customs revenue less the coal duty.
5. **Anchors.** A crossing (or a customs house of several crossings) with a revenue figure of
   its own has its import routes' totals scaled until its flow-implied revenue equals that
   figure; the other routes take up the difference so imports still add up. Steps 3-5 repeat
   until every anchor holds to 1e-13.
6. **Revenue by crossing.** Anchors are written as given; every other crossing gets its
   flow-implied revenue, which is its share of the residual in proportion to flow-implied
   revenue (the pool factor is 1 because ``u`` closes the national total). Torkham takes the
   rounding residual so that the rows add up to the national total exactly.

The result calibrates with factor 1 at every crossing, so the model's baseline reproduces the
year's customs revenue, imports and exports together (``tests/test_inputs.py``).
"""

from __future__ import annotations

import csv
import io
import sys
import tomllib
from pathlib import Path

import numpy as np

BUILD = Path(__file__).resolve().parent
INPUTS = BUILD.parent
OUTPUTS = ("flows.csv", "revenue_by_crossing.csv", "rates.csv")
#: the crossing that takes the rounding residual of the revenue rows (as before)
RESIDUAL_CROSSING = "torkham"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def ipf(seed: np.ndarray, rows: np.ndarray, cols: np.ndarray, tol: float = 1e-15) -> np.ndarray:
    """Scale rows and columns of ``seed`` until its sums are ``rows`` and ``cols``."""
    v = seed.astype(float).copy()
    for _ in range(200_000):
        rs = v.sum(axis=1)
        v *= np.divide(rows, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
        cs = v.sum(axis=0)
        v *= np.divide(cols, cs, out=np.zeros_like(cs), where=cs > 0)[None, :]
        err = np.abs(v.sum(axis=1) - rows).max() / rows.sum()
        if err < tol:
            return v
    raise RuntimeError(f"IPF did not converge (row error {err:.3g})")


def build(label: str, inputs: Path = INPUTS) -> dict[str, str]:
    """The three output files of base year ``label`` as CSV text (nothing is written)."""
    build_dir = inputs / "build"
    year_dir = build_dir / label
    with (inputs / "base_years" / label / "base_year.toml").open("rb") as fh:
        by = tomllib.load(fh)
    fx = float(by["afn_per_usd"])
    imports_usd, exports_usd = float(by["imports_usd"]), float(by["exports_usd"])
    revenue_usd = float(by["customs_revenue_afn"]) / fx

    routes = read_csv(inputs / "routes.csv")
    route_ids = [r["id"] for r in routes]
    crossing_of = {r["id"]: r["crossing"] for r in routes}
    crossing_ids = [r["id"] for r in read_csv(inputs / "crossings.csv")]
    commodities = read_csv(inputs / "commodities.csv")
    imports = [c["id"] for c in commodities if c["direction"] == "import"]
    exports = [c["id"] for c in commodities if c["direction"] == "export"]
    n_r = len(route_ids)

    # 1-2. exports and their rates
    ex_rows = {r["commodity"]: r for r in read_csv(year_dir / "exports.csv")}
    fixed = {k: float(r["value_usd"]) for k, r in ex_rows.items() if r["value_usd"].strip()}
    rest = exports_usd - sum(fixed.values())
    export_value = {
        k: fixed.get(k, rest * float(ex_rows[k]["share_of_rest"] or 0.0)) for k in exports
    }
    ew = {r["route"]: r for r in read_csv(year_dir / "export_weights.csv")}
    v_exp = np.zeros((n_r, len(exports)))
    for j, k in enumerate(exports):
        w = np.array([float(ew[r][k]) if r in ew else 0.0 for r in route_ids])
        v_exp[:, j] = export_value[k] * w / w.sum()
    export_rate = {
        k: float(ex_rows[k]["duty_afn"] or 0.0) / fx / export_value[k] if export_value[k] else 0.0
        for k in exports
    }
    tau_exp = np.array([export_rate[k] for k in exports])

    # 3-5. imports, import rates and anchors
    seeds = {r["route"]: r for r in read_csv(build_dir / "seed_weights.csv")}
    seed = np.array([[float(seeds[r][k]) for k in imports] for r in route_ids])
    ri = {r["route"]: float(r["value_usd"]) for r in read_csv(year_dir / "route_imports.csv")}
    totals = np.array([ri.get(r, 0.0) for r in route_ids])
    totals *= imports_usd / totals.sum()
    shares = {r["commodity"]: float(r["share"]) for r in read_csv(year_dir / "import_shares.csv")}
    cols = np.array([shares[k] for k in imports])
    cols *= imports_usd / cols.sum()
    duty = {r["commodity"]: r for r in read_csv(build_dir / "duty_rates.csv")}
    base_rate = np.array(
        [
            float(duty[k]["duty"])
            + float(duty[k]["brt"]) * (1.0 + float(duty[k]["duty"]))
            + float(duty[k]["advance_tax"])
            + float(duty[k]["fees"])
            for k in imports
        ]
    )
    export_revenue_by_route = (v_exp * tau_exp).sum(axis=1)
    import_revenue_usd = revenue_usd - export_revenue_by_route.sum()

    anchors = read_csv(year_dir / "revenue_anchors.csv")
    anchor_routes = [
        np.array([crossing_of[r] in a["crossings"].split(";") for r in route_ids]) for a in anchors
    ]
    anchored = np.any(anchor_routes, axis=0) if anchors else np.zeros(n_r, bool)
    scale = np.ones(len(anchors))
    for _ in range(1000):
        t = totals.copy()
        for j, m in enumerate(anchor_routes):
            t[m] *= scale[j]
        t[~anchored] *= (imports_usd - t[anchored].sum()) / t[~anchored].sum()
        v_imp = ipf(seed, t, cols)
        u = import_revenue_usd / (v_imp * base_rate).sum()
        rev_r = (v_imp * u * base_rate).sum(axis=1)
        ratio = np.array(
            [
                (float(a["revenue_afn"]) / fx - export_revenue_by_route[m].sum()) / rev_r[m].sum()
                for a, m in zip(anchors, anchor_routes)
            ]
        )
        scale *= ratio
        if not anchors or np.abs(ratio - 1.0).max() < 1e-13:
            break
    else:
        raise RuntimeError("revenue anchors did not converge")

    # written precision: flows to the cent, rates to 12 decimals; revenue from the written values
    v_imp = np.round(v_imp, 2)
    v_exp = np.round(v_exp, 2)
    tau_imp = np.round(u * base_rate, 12)
    tau_exp = np.round(tau_exp, 12)

    # 6. revenue by crossing
    route_rev_afn = ((v_imp * tau_imp).sum(axis=1) + (v_exp * tau_exp).sum(axis=1)) * fx
    crossing_rev = {c: 0.0 for c in crossing_ids}
    for r, x in zip(route_ids, route_rev_afn):
        crossing_rev[crossing_of[r]] += x
    revenue: dict[str, tuple[int, str, str]] = {}
    for a in anchors:
        cs = a["crossings"].split(";")
        total = int(a["revenue_afn"])
        if len(cs) == 1:
            revenue[cs[0]] = (total, a["method"], a["source"])
            continue
        implied = sum(crossing_rev[c] for c in cs)
        parts = [round(total * crossing_rev[c] / implied) for c in cs[1:]]
        parts.insert(0, total - sum(parts))
        for c, x in zip(cs, parts):
            share = 100.0 * x / total
            revenue[c] = (x, a["method"], f"{a['source']}; {c} {share:.1f}% of the house's total")
    notes = {r["crossing"]: r["note"] for r in read_csv(build_dir / "crosschecks.csv")}
    national = int(round(float(by["customs_revenue_afn"])))
    allocated = [c for c in crossing_ids if c not in revenue]
    pool = national - sum(x for x, _, _ in revenue.values())
    for c in allocated:
        src = (
            f"allocated: {label} customs {national / 1e9:g}bn AFN less the anchored crossings "
            "(build/" + label + "/revenue_anchors.csv), in proportion to flow-implied revenue "
            "(flows.csv × rates.csv × AFN per USD; pool factor 1); rebuilt by "
            "inputs/build/build_flows.py"
        )
        if notes.get(c):
            src += f"; cross-check: {notes[c]}"
        revenue[c] = (int(round(crossing_rev[c])), "allocated", src)
    residual = pool - sum(revenue[c][0] for c in allocated)
    x, method, src = revenue[RESIDUAL_CROSSING]
    revenue[RESIDUAL_CROSSING] = (x + residual, method, src + "; takes the rounding residual")

    # text
    imp_src = (
        f"derived: seed weights (build/seed_weights.csv) fitted by IPF to route totals "
        f"(build/{label}/route_imports.csv) scaled to {label} imports "
        f"${imports_usd / 1e9:.3f}bn (base_year.toml) and commodity shares "
        f"(build/{label}/import_shares.csv), anchored crossings scaled to their revenue "
        f"(build/{label}/revenue_anchors.csv); rebuilt by inputs/build/build_flows.py"
    )
    exp_src = (
        f"derived: {label} export value of the group (build/{label}/exports.csv; exports "
        f"${exports_usd / 1e9:.3f}bn in base_year.toml) × route weights "
        f"(build/{label}/export_weights.csv); rebuilt by inputs/build/build_flows.py"
    )
    flow_rows = []
    for i, r in enumerate(route_ids):
        for k in [c["id"] for c in commodities]:
            if k in imports:
                v, src = v_imp[i, imports.index(k)], imp_src
            else:
                v, src = v_exp[i, exports.index(k)], exp_src
            if v > 0:
                flow_rows.append([r, k, f"{v:.2f}", src])
    rev_rows = [[c, str(revenue[c][0]), revenue[c][1], revenue[c][2]] for c in crossing_ids]
    rate_rows = []
    for c in commodities:
        k = c["id"]
        if k in imports:
            i = imports.index(k)
            src = (
                f"derived: u × (duty + BRT × (1 + duty) + advance tax + fees) from "
                f"build/duty_rates.csv ({100 * base_rate[i]:.2f}% before uplift); u = {u:.4f} "
                f"makes import revenue equal {label} customs less the coal duty: "
                f"{100 * import_revenue_usd / imports_usd:.2f}% of imports"
            )
            rate_rows.append([k, f"{tau_imp[i]:.12f}", src])
        else:
            j = exports.index(k)
            duty_afn = float(ex_rows[k]["duty_afn"] or 0.0)
            src = (
                f"derived: export duty {duty_afn / 1e9:g}bn AFN ÷ (export value "
                f"${export_value[k] / 1e6:.1f}m × {fx:g} AFN/USD) (build/{label}/exports.csv)"
                if duty_afn
                else "0: no export duty found (build/" + label + "/exports.csv)"
            )
            rate_rows.append([k, f"{tau_exp[j]:.12f}", src])
    return {
        "flows.csv": write_csv(["route", "commodity", "value_usd", "source"], flow_rows),
        "revenue_by_crossing.csv": write_csv(
            ["crossing", "revenue_afn", "method", "source"], rev_rows
        ),
        "rates.csv": write_csv(["commodity", "effective_rate", "source"], rate_rows),
    }


def labels(inputs: Path = INPUTS) -> list[str]:
    """Base years with build tables."""
    return sorted(p.name for p in (inputs / "build").iterdir() if (p / "exports.csv").is_file())


def main(argv: list[str]) -> int:
    check = "--check" in argv
    wanted = [a for a in argv if not a.startswith("--")] or labels()
    bad = []
    for label in wanted:
        out = build(label)
        for name, text in out.items():
            path = INPUTS / "base_years" / label / name
            if check:
                if not path.is_file() or path.read_text(encoding="utf-8") != text:
                    bad.append(str(path.relative_to(INPUTS)))
            else:
                path.write_text(text, encoding="utf-8")
    if bad:
        sys.stderr.write(f"out of date: {', '.join(bad)}; run python inputs/build/build_flows.py\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
