"""``chokepoint calibrate``: estimate σ and adjustment time scales from the episode panel.

Call :func:`register` on the main Typer app. The command imports the library (pandas,
statsmodels) only when it runs, so ``chokepoint --help`` stays fast; shared helpers come
from :mod:`cli.common`.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from .common import OPTS, ForceOpt, check_out, guard, note, write_atomic
from .render import Format


class Method(StrEnum):
    ppml = "ppml"
    ols = "ols"


class Cov(StrEnum):
    HC1 = "HC1"
    HC0 = "HC0"
    cluster = "cluster"


def register(app: typer.Typer) -> None:
    """Add the ``calibrate`` command to ``app``."""

    @app.command("calibrate")
    def calibrate(
        inputs: Path | None = typer.Option(
            None,
            "--inputs",
            file_okay=False,
            help="Directory with input tables (default: the shipped inputs).",
        ),
        panel: Path | None = typer.Option(
            None,
            "--panel",
            dir_okay=False,
            help="Episode panel CSV (default: episode_panel.csv in the inputs).",
        ),
        out: Path | None = typer.Option(
            None,
            "--out",
            dir_okay=False,
            help="Write the estimated parameters to this TOML file (for `run --params FILE`), "
            "or with a .xlsx name the tables as a workbook.",
        ),
        method: Method = typer.Option(
            Method.ppml,
            "--method",
            help="ppml: Poisson GLM (gravity PPML); ols: least squares on logs.",
        ),
        param: list[str] | None = typer.Option(
            None,
            "--param",
            help="Parameter to estimate (repeatable); default: "
            "route_substitution_elasticity and adjust_medium_days.",
        ),
        cov: Cov = typer.Option(
            Cov.HC1, "--cov", help="Robust covariance: HC1, HC0 or cluster (by series)."
        ),
        include_weak: bool = typer.Option(
            False, "--include-weak", help="Also write weakly identified estimates to --out."
        ),
        fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
        base_year: str | None = typer.Option(
            None,
            "--base-year",
            help="Base year of the inputs, e.g. FY1401 (default: each episode's own, else the "
            "most recent).",
        ),
        force: bool = ForceOpt,
    ) -> None:
        """Estimate the route-substitution elasticity and adjustment time scales from the panel.

        Runs the model for each documented episode, fits the panel's monthly trade and revenue
        by PPML with series x episode fixed effects, prints estimates with standard errors and
        fit statistics, and optionally writes a parameters file that `run --params` accepts.
        """

        def go() -> None:
            import econ
            from econ.analysis.calibrate import (
                DEFAULT_PARAMS,
                estimate,
                load_panel,
                to_parameters_toml,
            )

            from .render import emit, legacy

            check_out(out, (".toml", ".xlsx"), force, "--out")
            inp = econ.load_inputs(inputs, base_year=base_year)
            pan = load_panel(panel if panel is not None else _default_panel(inp), inputs=inp)
            names = tuple(param) if param else DEFAULT_PARAMS

            def progress(i: int, obj: float, values: dict[str, float]) -> None:
                if not OPTS["quiet"] and sys.stderr.isatty():
                    shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items() if k in names)
                    typer.echo(f"iteration {i}: objective {obj:.6g}; {shown}", err=True)

            res = estimate(
                pan,
                inputs=inp,
                params=names,
                method=method.value,
                cov_type=cov.value,
                progress=progress,
            )
            years = ", ".join(sorted(_base_years(pan, inp)))
            tables = [
                (
                    "Estimates (90% interval lognormal from the SE of log θ; "
                    f"episodes on base year {years})",
                    res.table(),
                ),
                (f"Fit (base year {years})", res.fit_table()),
            ]
            if res.dropped:
                import pandas as pd

                tables.append(
                    ("Rows dropped", pd.DataFrame({"reason": list(res.dropped)}).rename_axis("n"))
                )
            xlsx = out is not None and out.suffix.lower() == ".xlsx"
            if out is not None and not xlsx:
                text = to_parameters_toml(res, inp, include_weak=include_weak)
                write_atomic(out, lambda p: p.write_text(text, encoding="utf-8"), force)
                shown = [
                    n
                    for n in res.params
                    if n in res.written
                    or (include_weak and n in res.weak and n not in res.at_bound)
                ]
                note(f"wrote {out} ({', '.join(shown) or 'no parameter: none well identified'})")
            result = legacy(
                "calibrate", tables, names=["estimates", "fit", "dropped"], base_year=years
            )
            emit(
                result,
                Format.xlsx if xlsx else fmt,
                out_file=out if xlsx else None,
                force=force,
            )

        guard(go)


def _default_panel(inp) -> Path:
    """The panel next to the inputs, else the shipped one."""
    from econ.analysis.calibrate import PANEL_FILE, default_panel_path

    p = Path(inp.directory) / PANEL_FILE
    return p if p.is_file() else default_panel_path()


def _base_years(panel, inp) -> set[str]:
    """The base years the panel's episodes run on (each its own, else the inputs')."""
    from econ.analysis.calibrate.design import load_episode

    return {load_episode(n, inp).base_year or inp.label for n in panel["episode"].unique()}
