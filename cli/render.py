"""Render a command's :class:`~econ.report.present.Output` as table, markdown, csv, json or xlsx.

* ``table`` and ``markdown``: for people: each table under its title (units, ensemble, base
  year and baseline), figures as "median [p05–p95]", a sign legend where it helps, then the
  summary lines.
* ``csv``: plain CSV that any reader parses (no title lines): one table on stdout (``--table``
  picks it; without it the first, and a note on stderr names the others), or one file per
  table with ``--out-dir``. Summary lines go to stderr.
* ``json``: one document of the same schema for every command (econ.report.present.document).
* ``xlsx``: a workbook (``--out FILE.xlsx``), one sheet per table and an ``about`` sheet.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .formats import Format, Units

__all__ = ["Format", "Units", "emit", "human", "legacy", "write_xlsx"]

if TYPE_CHECKING:  # pandas is imported by the commands, not at start-up
    import pandas as pd

    from econ.report.present import Output


def _text_table(df: pd.DataFrame, title: str, markdown: bool) -> str:
    df = df.reset_index()
    cells = [[str(v) for v in row] for row in df.itertuples(index=False)]
    head = [str(c) for c in df.columns]
    if markdown:
        lines = [f"**{title}**", ""] if title else []
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines) + "\n"
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(head)
    ]
    out = [title] if title else []
    out.append(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))
        )
    )
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in cells
    ]
    return "\n".join(out) + "\n"


def _narrowed(df: pd.DataFrame, narrow: tuple[str, ...] | None, wide: bool) -> pd.DataFrame:
    if wide or narrow is None:
        return df
    keep = [
        c for c in df.columns if c in narrow or (c[:-4] in narrow and c[-4:] in ("_p05", "_p95"))
    ]
    return df[keep]


def human(out: Output, fmt: Format, units: str = "musd", wide: bool = False) -> str:
    """Table or markdown text of every table, with titles, legends and the summary lines."""
    from econ.report.present import folded, scaled, title_of

    parts = []
    for t in out.tables:
        df, shown = scaled(t, units)
        df = _narrowed(df, t.narrow, wide)
        text = _text_table(folded(df, shown), title_of(t, out, units), fmt is Format.markdown)
        if t.narrow is not None and not wide and len(df.columns) < len(t.frame.columns):
            text += "(more columns with --wide)\n"
        if t.legend:
            text += t.legend + "\n"
        parts.append(text)
    text = "\n".join(parts)
    if out.lines:
        text += "\n" + "\n".join(out.lines) + "\n"
    return text


def csv_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.reset_index().to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def write_xlsx(out: Output, path: Path, units: str = "musd") -> None:
    """A workbook: an ``about`` sheet (what, base year, baseline, titles, units, summary
    lines), then one sheet per table (numbers as numbers; ranges in their own columns)."""
    import pandas as pd

    from econ.report.present import scaled, title_of

    about = [
        ("command", out.command),
        ("scenario", out.scenario or ""),
        ("base year", out.base_year or ""),
        ("baseline", out.baseline or ""),
        ("members", out.members),
        ("amounts", "million USD" if units == "musd" else "USD"),
    ]
    about += [(f"sheet {t.name[:31]}", title_of(t, out, units)) for t in out.tables]
    about += [("legend", t.legend) for t in out.tables if t.legend][:1]
    about += [("summary", line) for line in out.lines]
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        pd.DataFrame(about, columns=["item", "value"]).to_excel(xw, sheet_name="about", index=False)
        for t in out.tables:
            df, _ = scaled(t, units)
            df.to_excel(xw, sheet_name=t.name[:31])
        for ws in xw.book.worksheets:
            for col in ws.columns:
                width = max(len(str(c.value or "")) for c in col[:50])
                ws.column_dimensions[col[0].column_letter].width = min(max(10, width + 2), 80)


def emit(
    out: Output,
    fmt: Format,
    *,
    units: str = "musd",
    wide: bool = False,
    out_file: Path | None = None,
    out_dir: Path | None = None,
    force: bool = False,
) -> None:
    """Write ``out`` in ``fmt``: to stdout, to ``out_file`` (xlsx) or to ``out_dir`` (csv)."""
    from econ.errors import InputError
    from econ.report.present import document, scaled

    from .common import note, write_atomic

    if fmt is Format.xlsx:
        if out_file is None or out_file.suffix.lower() != ".xlsx":
            raise InputError("--format xlsx writes a workbook: give --out FILE.xlsx")
        write_atomic(out_file, lambda p: write_xlsx(out, p, units), force)
        note(f"wrote {out_file}")
        for line in out.lines:
            note(line)
        return
    if fmt is Format.json:
        sys.stdout.write(json.dumps(document(out, units), indent=2, ensure_ascii=False) + "\n")
        return
    if fmt is Format.csv:
        if out_dir is not None:
            from econ.io.write import check_output

            out_dir.mkdir(parents=True, exist_ok=True)
            for t in out.tables:  # every file checked before any is written
                check_output(out_dir / f"{t.name}.csv", suffixes=(".csv",), force=force)
            for t in out.tables:
                text = csv_text(scaled(t, units)[0])
                write_atomic(
                    out_dir / f"{t.name}.csv",
                    lambda p, s=text: p.write_text(s, encoding="utf-8"),
                    force,
                )
            note(f"wrote {', '.join(t.name + '.csv' for t in out.tables)} to {out_dir}")
        elif out.tables:
            sys.stdout.write(csv_text(scaled(out.tables[0], units)[0]))
            if len(out.tables) > 1:
                note(
                    f"csv: printed table '{out.tables[0].name}'; the others "
                    f"({', '.join(t.name for t in out.tables[1:])}) with --table NAME or "
                    "--out-dir DIR"
                )
        for line in out.lines:
            note(line)
        return
    sys.stdout.write(human(out, fmt, units, wide))


def legacy(
    command: str,
    tables: list[tuple[str, pd.DataFrame]],
    *,
    names: list[str] | None = None,
    **about,
) -> Output:
    """An :class:`Output` from titled frames (commands whose tables carry no units)."""
    from econ.report.present import Output, Table, slug

    made, seen = [], set()
    for i, (title, df) in enumerate(tables):
        name = names[i] if names else slug(title)
        while name in seen:
            name += "-2"
        seen.add(name)
        made.append(Table(name, title, df))
    return Output(command, made, **about)
