"""The one-file report: HTML (self-contained, charts embedded), Markdown or Excel.

Sections, in order (:data:`SECTIONS`): the scenario in words; the headline numbers with
their ranges; the charts; the revenue-impact tables; who pays (trader pressure and the
ledger with Pakistan); what drives the result (the sensitivity ranking); how good the model
is (the validation score of ``chokepoint backtest``); base year and baseline; data
sources. :func:`build` gathers them from result Datasets; :func:`write` writes the file.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from .._version import __version__
from ..spec.inputs import Inputs
from ..spec.scenario import Scenario
from .outputs import compare_output, headline, pressure_output, run_output
from .present import Output, Table, folded, scaled, title_of

SECTIONS = (
    ("scenario", "The scenario in words"),
    ("headline", "Headline numbers"),
    ("charts", "Charts"),
    ("revenue", "Revenue impact"),
    ("pressure", "Who pays: trader pressure and the ledger with Pakistan"),
    ("drivers", "What drives the result"),
    ("validation", "How good the model is"),
    ("basis", "Base year and baseline"),
    ("sources", "Data sources"),
)
FORMATS = ("html", "md", "xlsx")


@dataclass
class Report:
    """Everything a report holds, format-free."""

    title: str
    results: dict[str, xr.Dataset]
    scenarios: dict[str, Scenario]
    outputs: list[Output]
    headline: list[str]
    charts: dict[str, bytes] = field(default_factory=dict)  # caption -> PNG bytes
    drivers: pd.DataFrame | None = None
    drivers_note: str = ""
    validation: pd.DataFrame | None = None
    validation_note: str = ""
    basis: list[str] = field(default_factory=list)
    sources: pd.DataFrame | None = None
    units: str = "musd"


def _money(v: float) -> str:
    return f"{v / 1e6:,.1f} million USD"


def headline_lines(results: dict[str, xr.Dataset]) -> list[str]:
    """One line per scenario: revenue change over the horizon with its range, the share of
    the baseline, and the most pressed trader group."""
    from ..analysis.tables import ledger_summary

    lines = []
    for name, ds in results.items():
        h = headline(ds)
        rng = ""
        if "revenue_change_usd_p05" in h:
            rng = (
                f" [5–95%: {_money(h['revenue_change_usd_p05'])} to "
                f"{_money(h['revenue_change_usd_p95'])}]"
            )
        months = int(ds.attrs["scenario_months"])
        lines.append(
            f"{name}: customs revenue changes by {_money(h['revenue_change_usd'])}{rng} over "
            f"{months} months ({h['revenue_change_pct']:+.1f}% of the baseline)."
        )
        lines += [f"{name}: {line}" for line in ledger_summary(ds)]
    return lines


def sources_table(inputs: Inputs) -> pd.DataFrame:
    """Per input table with a ``source`` column: rows and the most cited sources."""
    rows = []
    for name in ("crossings", "routes", "commodities", "flows", "trader_groups", "rates"):
        df = getattr(inputs, name, None)
        if not isinstance(df, pd.DataFrame) or "source" not in df.columns:
            continue
        top = df["source"].astype(str).value_counts().head(2).index
        rows.append(
            {
                "table": name,
                "rows": len(df),
                "main sources": " | ".join(s[:160] for s in top),
            }
        )
    out = pd.DataFrame(rows).set_index("table") if rows else pd.DataFrame()
    return out


def build(
    results: dict[str, xr.Dataset],
    scenarios: dict[str, Scenario],
    inputs: Inputs,
    *,
    drivers: pd.DataFrame | None = None,
    drivers_note: str = "",
    validation: pd.DataFrame | None = None,
    validation_note: str = "",
    charts: bool = True,
    units: str = "musd",
) -> Report:
    """Gather a report from results (one Dataset per scenario, ``scenarios`` by the same
    names), the inputs they ran on, and optionally the sensitivity table
    (:func:`econ.analysis.sensitivity.sensitivity`) and the validation summary
    (:func:`econ.analysis.backtest.summary`)."""
    outputs = []
    if len(results) > 1:
        outputs.append(compare_output(results))
    for ds in results.values():
        outputs.append(run_output(ds, ("crossings", "path")))
        outputs.append(pressure_output(ds))
    rep = Report(
        title="chokepoint report: " + ", ".join(results),
        results=results,
        scenarios=scenarios,
        outputs=outputs,
        headline=headline_lines(results),
        drivers=drivers,
        drivers_note=drivers_note,
        validation=validation,
        validation_note=validation_note,
        sources=sources_table(inputs),
        units=units,
    )
    for name, ds in results.items():
        rep.basis.append(
            f"{name}: base year {ds.attrs['base_year']} (exchange rate {ds.attrs['afn_per_usd']} "
            f"AFN per USD); baseline {ds.attrs['baseline']}; "
            f"{ds.sizes['member']} member(s), seed {ds.attrs['seed']}; horizon "
            f"{ds.attrs['scenario_start']}, {ds.attrs['scenario_months']} months; inputs from "
            f"the directory '{ds.attrs['inputs_dir']}'; chokepoint {__version__}."
        )
    if charts:
        from . import charts as ch

        for kind, caption in (
            ("path", "National customs revenue a month, baseline and scenario"),
            ("crossings", "Revenue change by crossing and its parts"),
            ("map", "The crossings: size = baseline revenue, colour = change"),
            ("corridors", "Trade by corridor"),
            ("pressure", "Trader pressure, protest risk shaded"),
        ):
            buf = io.BytesIO()
            ch.save(ch.figure(results, kind), buf, fmt="png", dpi=90)
            rep.charts[caption] = buf.getvalue()
    return rep


# --------------------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1500px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #1f4e79; padding-bottom: .2em; }
h2 { font-size: 1.25em; color: #1f4e79; margin-top: 1.8em; }
table { border-collapse: collapse; font-size: .78em; margin: .6em 0 1.2em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f4f8; }
caption { text-align: left; font-weight: 600; padding: .3em 0; caption-side: top; }
.note { color: #555; font-size: .9em; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: .9em; }
img { max-width: min(100%, 1100px); border: 1px solid #eee; }
.scroll { overflow-x: auto; }
td.text { text-align: left; white-space: normal; min-width: 30em; font-size: .95em; }
"""


def _html_table(df: pd.DataFrame, caption: str) -> str:
    df = df.reset_index()
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>"
        + "".join(
            # long text (sources, notes) wraps and reads from the left
            f'<td class="text">{html.escape(str(v))}</td>'
            if len(str(v)) > 60
            else f"<td>{html.escape(str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in df.itertuples(index=False)
    )
    return (
        f'<div class="scroll"><table><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _person(t: Table, out: Output, units: str, wide: bool = False) -> tuple[pd.DataFrame, str]:
    df, shown = scaled(t, units)
    if t.narrow is not None and not wide:
        keep = [c for c in df.columns if c in t.narrow or c[:-4] in t.narrow]
        df = df[keep]
    return folded(df, shown), title_of(t, out, units)


def _plain_frame(df: pd.DataFrame) -> pd.DataFrame:
    from .present import round_to

    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = round_to(out[c].to_numpy(dtype=float), None, digits=4)
    return out


def drivers_frame(table: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The sensitivity ranking for the report: the ``top`` numbers by revenue-loss swing."""
    cols = [
        c
        for c in (
            "unit",
            "low",
            "high",
            "revenue_loss_swing",
            "revenue_loss_rank",
            "peak_pressure_swing",
            "peak_pressure_rank",
        )
        if c in table.columns
    ]
    df = table[cols].head(top).copy()
    df["revenue_loss_swing"] = df["revenue_loss_swing"] / 1e6
    return _plain_frame(df.rename(columns={"revenue_loss_swing": "revenue_loss_swing_musd"}))


def _lead(text: str, limit: int = 400) -> str:
    """A description's lead: its lines up to the first list item or blank line, cut at
    ``limit`` characters (the measures follow in words, with their sources below)."""
    lines = []
    for line in text.strip().splitlines():
        if not line.strip() or line.lstrip().startswith(("-", "*")):
            break
        lines.append(line.strip())
    lead = " ".join(lines)
    return lead if len(lead) <= limit else lead[: limit - 1].rsplit(" ", 1)[0] + "…"


def sections(rep: Report) -> dict[str, list[tuple[str, Any]]]:
    """Each section's blocks: ("p", text), ("ul", [lines]), ("table", (frame, caption)),
    ("img", (caption, png))."""
    s: dict[str, list[tuple[str, Any]]] = {k: [] for k, _ in SECTIONS}
    for name, sc in rep.scenarios.items():
        first = _lead(sc.description)
        s["scenario"].append(
            ("p", f"{name}: {sc.months} months from {sc.start.isoformat()}. {first}".strip())
        )
        s["scenario"].append(
            ("ul", sc.describe() or ["No measures: every crossing open (the reference run)."])
        )
    s["headline"].append(("ul", rep.headline))
    for caption, png in rep.charts.items():
        s["charts"].append(("img", (caption, png)))
    if not rep.charts:
        s["charts"].append(("p", "Charts were not drawn (--no-charts)."))
    for out in rep.outputs:
        for t in out.tables:
            target = "pressure" if out.command == "pressure" else "revenue"
            s[target].append(("table", _person(t, out, rep.units)))
            if t.legend:
                s[target].append(("p", t.legend))
    if rep.drivers is not None:
        s["drivers"].append(
            (
                "table",
                (
                    drivers_frame(rep.drivers),
                    "One-at-a-time swings between each number's 5th and 95th percentile "
                    "(revenue-loss swing in million USD; rank 1 = largest)",
                ),
            )
        )
    if rep.drivers_note:
        s["drivers"].append(("p", rep.drivers_note))
    if rep.validation is not None:
        s["validation"].append(
            (
                "table",
                (
                    _plain_frame(rep.validation),
                    "Backtest over the fitted outcomes every predictor can compute "
                    "(chokepoint backtest; docs/validation.md)",
                ),
            )
        )
    if rep.validation_note:
        s["validation"].append(("p", rep.validation_note))
    s["basis"].append(("ul", rep.basis))
    s["sources"].append(
        (
            "p",
            "Every input number has a source or a derivation note (the source columns of the "
            "input tables and inputs/SOURCES.md); each measure cites its own:",
        )
    )
    cites = [
        f"{name}, {m.label or m.type}: {m.source}"
        for name, sc in rep.scenarios.items()
        for m in sc.measures
        if m.source
    ]
    if cites:
        s["sources"].append(("ul", cites))
    if rep.sources is not None and not rep.sources.empty:
        s["sources"].append(("table", (rep.sources, "Input tables and their main sources")))
    return s


def to_html(rep: Report) -> str:
    """The report as one self-contained HTML page (charts as embedded PNG)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(rep.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(rep.title)}</h1>",
        f'<p class="note">Generated by chokepoint {__version__} on '
        f"{dt.date.today().isoformat()}.</p>",
    ]
    for key, heading in SECTIONS:
        parts.append(f'<section id="{key}"><h2>{html.escape(heading)}</h2>')
        for kind, block in sections(rep)[key]:
            if kind == "p":
                parts.append(f"<p>{html.escape(block)}</p>")
            elif kind == "ul":
                parts.append(
                    "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in block) + "</ul>"
                )
            elif kind == "table":
                parts.append(_html_table(*block))
            elif kind == "img":
                caption, png = block
                data = base64.b64encode(png).decode("ascii")
                parts.append(
                    f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_table(df: pd.DataFrame, caption: str) -> str:
    df = df.reset_index()
    head = [str(c) for c in df.columns]
    lines = [f"**{caption}**", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
    lines += [
        "| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
        for row in df.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def to_markdown(rep: Report) -> str:
    """The report as Markdown; charts as embedded data-URI PNG images (one file)."""
    parts = [f"# {rep.title}", "", f"Generated by chokepoint {__version__}.", ""]
    for key, heading in SECTIONS:
        parts += [f"## {heading}", ""]
        for kind, block in sections(rep)[key]:
            if kind == "p":
                parts += [block, ""]
            elif kind == "ul":
                parts += [f"- {x}" for x in block] + [""]
            elif kind == "table":
                parts += [_md_table(*block)]
            elif kind == "img":
                caption, png = block
                data = base64.b64encode(png).decode("ascii")
                parts += [f"![{caption}](data:image/png;base64,{data})", "", f"*{caption}*", ""]
    return "\n".join(parts) + "\n"


def write_xlsx(rep: Report, path: str | Path) -> None:
    """The report as a workbook: ``report`` (the text sections), one sheet per table (numbers
    as numbers, ranges in their own columns), ``drivers``, ``validation``, ``sources`` and
    ``charts`` (the chart images)."""
    from openpyxl.drawing.image import Image

    text: list[tuple[str, str]] = [("title", rep.title)]
    for key, heading in SECTIONS:
        for kind, block in sections(rep)[key]:
            if kind == "p":
                text.append((heading, block))
            elif kind == "ul":
                text += [(heading, x) for x in block]
    used: set[str] = set()

    def sheet(name: str) -> str:
        name = name[:31]
        while name in used:
            name = name[:28] + f"~{len(used)}"
        used.add(name)
        return name

    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        pd.DataFrame(text, columns=["section", "text"]).to_excel(
            xw, sheet_name=sheet("report"), index=False
        )
        for out in rep.outputs:
            prefix = "" if len(rep.results) == 1 or out.command == "compare" else f"{out.scenario} "
            for t in out.tables:
                df, _ = scaled(t, rep.units)
                df.to_excel(xw, sheet_name=sheet(prefix + t.name))
        if rep.drivers is not None:
            drivers_frame(rep.drivers, top=len(rep.drivers)).to_excel(
                xw, sheet_name=sheet("drivers")
            )
        if rep.validation is not None:
            _plain_frame(rep.validation).to_excel(xw, sheet_name=sheet("validation"))
        if rep.sources is not None and not rep.sources.empty:
            rep.sources.to_excel(xw, sheet_name=sheet("sources"))
        if rep.charts:
            ws = xw.book.create_sheet(sheet("charts"))
            row = 1
            for caption, png in rep.charts.items():
                ws.cell(row=row, column=1, value=caption)
                img = Image(io.BytesIO(png))
                ws.add_image(img, f"A{row + 1}")
                row += int(img.height / 20) + 3
        for ws in xw.book.worksheets:
            for col in ws.columns:
                width = max(len(str(c.value or "")) for c in list(col)[:60])
                ws.column_dimensions[col[0].column_letter].width = min(max(10, width + 2), 90)


def write(rep: Report, path: str | Path, fmt: str | None = None) -> None:
    """Write the report as HTML, Markdown or Excel (by ``fmt``, else the extension)."""
    p = Path(path)
    fmt = (fmt or p.suffix.lstrip(".")).lower()
    fmt = {"htm": "html", "markdown": "md"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ValueError(f"a report is .html, .md or .xlsx, not {p.suffix or fmt!r}")
    if fmt == "html":
        p.write_text(to_html(rep), encoding="utf-8")
    elif fmt == "md":
        p.write_text(to_markdown(rep), encoding="utf-8")
    else:
        write_xlsx(rep, p)
