"""The ``chokepoint`` command line: parses, calls the library, renders.

Exit codes: 0 ok, 1 input or model error (one line on stderr), 2 usage error.
Heavy modules (xarray, pandas, statsmodels) are imported inside the commands so
that ``chokepoint --help`` stays fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from .calibrate_cmd import register as _register_calibrate
from .common import (
    OPTS,
    BaselineOpt,
    BaseYearOpt,
    DaskOpt,
    FormatOpt,
    Group,
    InputsOpt,
    MembersOpt,
    MonthsOpt,
    ParamsOpt,
    ScenarioArg,
    SeedOpt,
    WorkersOpt,
    check_baseline,
    guard,
    load_and_run,
    load_inputs,
    note,
    parse_grid,
    progress_bar,
    run_base_year,
    run_one,
    summary_lines,
    write_atomic,
)
from .render import Format

app = typer.Typer(
    name="chokepoint",
    cls=Group,
    help="Afghan customs revenue through its border crossings under coercive trade measures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
inputs_app = typer.Typer(help="Inspect and validate input data.", no_args_is_help=True)
app.add_typer(inputs_app, name="inputs")
_register_calibrate(app)


class Table(StrEnum):
    all = "all"
    crossings = "crossings"
    coal = "coal"
    path = "path"


def _version(value: bool) -> None:
    if value:
        from econ._version import __version__

        typer.echo(f"chokepoint {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or notes on stderr."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """chokepoint: revenue lost, diverted and delayed when crossings are taxed or closed."""
    OPTS["debug"] = debug
    OPTS["quiet"] = quiet


@app.command()
def run(
    scenario: str = ScenarioArg,
    inputs: Path | None = InputsOpt,
    months: int | None = MonthsOpt,
    fmt: Format = FormatOpt,
    table: Table = typer.Option(Table.all, "--table", help="Which table(s) to print."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the full Dataset to this netCDF file.", dir_okay=False
    ),
    members: int = MembersOpt,
    seed: int | None = SeedOpt,
    percentiles_only: bool = typer.Option(
        False,
        "--percentiles-only",
        help="With --out: store the 5/50/95th percentiles, not every member.",
    ),
    baseline: str = BaselineOpt,
    params: Path | None = ParamsOpt,
    workers: int = WorkersOpt,
    base_year: str | None = BaseYearOpt,
    dask: str | None = DaskOpt,
) -> None:
    """Run a scenario and print the revenue-impact table (USD), the coal and non-coal revenue
    change and the national monthly path.

    With --members N every figure is the ensemble median, with its 5–95% range in
    the _p05/_p95 columns."""

    def go() -> None:
        from econ.analysis.tables import (
            coal_table,
            economy_summary,
            ledger_summary,
            national_path,
            revenue_impact_table,
        )
        from econ.model.record import percentiles

        from .render import render_many

        opts = dict(members=members, seed=seed, baseline=baseline, workers=workers, dask=dask)
        ds = load_and_run(scenario, inputs, params, months, base_year=base_year, **opts)
        by = ds.attrs["base_year"]
        tables = []
        if table in (Table.all, Table.crossings):
            tables.append(
                (
                    f"Revenue impact by crossing, {ds.attrs['scenario']} "
                    f"(USD, whole horizon; base year {by})",
                    revenue_impact_table(ds),
                )
            )
        if table in (Table.all, Table.coal):
            tables.append(
                (
                    f"Revenue impact, coal export duty and the rest, {ds.attrs['scenario']} "
                    f"(USD, whole horizon; base year {by})",
                    coal_table(ds),
                )
            )
        if table in (Table.all, Table.path):
            tables.append(
                (f"National customs revenue by month (USD; base year {by})", national_path(ds))
            )
        if out is not None:
            saved = percentiles(ds) if percentiles_only and ds.sizes["member"] > 1 else ds
            write_atomic(out, lambda p: saved.to_netcdf(p, engine="scipy"))
            note(f"wrote {out}")
        sys.stdout.write(render_many(tables, fmt))
        summary_lines(ledger_summary(ds) + economy_summary(ds), fmt)

    guard(go)


class EconomyTable(StrEnum):
    all = "all"
    sectors = "sectors"
    staples = "staples"


@app.command()
def economy(
    scenario: str = ScenarioArg,
    inputs: Path | None = InputsOpt,
    months: int | None = MonthsOpt,
    fmt: Format = FormatOpt,
    table: EconomyTable = typer.Option(
        EconomyTable.all, "--table", help="Which table(s) to print."
    ),
    members: int = MembersOpt,
    seed: int | None = SeedOpt,
    baseline: str = BaselineOpt,
    params: Path | None = ParamsOpt,
    workers: int = WorkersOpt,
) -> None:
    """The economy behind the border: output, domestic revenue and jobs lost by sector, and
    staple prices (docs/economy.md)."""

    def go() -> None:
        from econ.analysis.tables import economy_summary, sector_table, staple_table
        from econ.errors import InputError

        from .render import render_many

        inp = load_inputs(inputs, params)
        if inp.economy is None:
            raise InputError(
                f"{inp.directory.name}: no input-output table (io/); fix: add io/ to the inputs "
                "directory (the shipped inputs have one) or run without --inputs"
            )
        ds = run_one(
            scenario, inp, months, members=members, seed=seed, baseline=baseline, workers=workers
        )
        tables = []
        if table in (EconomyTable.all, EconomyTable.sectors):
            tables.append(
                (
                    f"Sectors, {ds.attrs['scenario']} (output and revenue in USD over the "
                    "horizon; jobs in persons)",
                    sector_table(ds),
                )
            )
        if table in (EconomyTable.all, EconomyTable.staples):
            tables.append(("Staple prices (% change against the baseline)", staple_table(ds)))
        sys.stdout.write(render_many(tables, fmt))
        summary_lines(economy_summary(ds), fmt)

    guard(go)


class PressureTable(StrEnum):
    all = "all"
    groups = "groups"
    ledger = "ledger"


@app.command()
def pressure(
    scenario: str = ScenarioArg,
    inputs: Path | None = InputsOpt,
    months: int | None = MonthsOpt,
    fmt: Format = FormatOpt,
    table: PressureTable = typer.Option(
        PressureTable.all, "--table", help="Which table(s) to print."
    ),
    members: int = MembersOpt,
    seed: int | None = SeedOpt,
    baseline: str = BaselineOpt,
    params: Path | None = ParamsOpt,
    workers: int = WorkersOpt,
    base_year: str | None = BaseYearOpt,
    dask: str | None = DaskOpt,
) -> None:
    """Who pays: trader-group pressure and protest risk, and the coercion ledger with Pakistan."""

    def go() -> None:
        from econ.analysis.tables import ledger_summary, pakistan_table, pressure_table

        from .render import render_many

        opts = dict(members=members, seed=seed, baseline=baseline, workers=workers, dask=dask)
        ds = load_and_run(scenario, inputs, params, months, base_year=base_year, **opts)
        by = ds.attrs["base_year"]
        tables = []
        if table in (PressureTable.all, PressureTable.groups):
            tables.append(
                (
                    f"Trader pressure by group, {ds.attrs['scenario']} "
                    f"(costs in USD, whole horizon; base year {by})",
                    pressure_table(ds),
                )
            )
        if table in (PressureTable.all, PressureTable.ledger):
            tables.append(
                (
                    "Coercion ledger by month, like for like (USD; fiscal ratio = Afghan customs "
                    "lost per USD of Pakistan's net fiscal cost, value-added ratio = Afghan "
                    "margins lost per USD of Pakistan's value added lost; cumulative; inf = "
                    f"Pakistan gives up nothing on that account; base year {by})",
                    pakistan_table(ds),
                )
            )
        sys.stdout.write(render_many(tables, fmt))
        summary_lines(ledger_summary(ds), fmt)

    guard(go)


@app.command()
def scenarios(
    inputs: Path | None = InputsOpt,
    fmt: Format = FormatOpt,
    base_year: str | None = BaseYearOpt,
) -> None:
    """List the built-in scenarios with their descriptions (each checked against the inputs
    of the base year it runs on)."""

    def go() -> None:
        import pandas as pd

        import econ
        from econ.io.inputs import inputs_for

        from .render import render

        inp = econ.load_inputs(inputs, base_year=base_year)
        rows = []
        for name, path in econ.builtin_scenarios().items():
            sc = econ.load_scenario(path)
            on = inputs_for(sc, inp, base_year)
            econ.Model(on, sc)  # raises a one-line InputError if a selector does not fit the inputs
            rows.append(
                {
                    "name": name,
                    "base_year": on.label,
                    "start": sc.start.isoformat(),
                    "months": sc.months,
                    "measures": len(sc.measures),
                    "description": sc.description.strip().splitlines()[0]
                    if sc.description.strip()
                    else "",
                }
            )
        df = pd.DataFrame(rows).set_index("name")
        sys.stdout.write(render(df, fmt, "Built-in scenarios"))

    guard(go)


@app.command()
def compare(
    names: list[str] = typer.Argument(..., help="Two or more scenario names or paths."),
    inputs: Path | None = InputsOpt,
    months: int | None = MonthsOpt,
    fmt: Format = FormatOpt,
    members: int = MembersOpt,
    seed: int | None = SeedOpt,
    baseline: str = BaselineOpt,
    params: Path | None = ParamsOpt,
    workers: int = WorkersOpt,
    base_year: str | None = BaseYearOpt,
) -> None:
    """Set scenarios side by side: national revenue impact and its decomposition (USD).

    Each scenario runs on its own base year unless --base-year is given (column base_year)."""

    def go() -> None:
        from econ.analysis.tables import compare_table

        from .render import render

        inp = load_inputs(inputs, params, base_year)
        opts = dict(members=members, seed=seed, baseline=baseline, workers=workers)
        res = {}
        for n in names:
            ds = run_one(n, inp, months, base_year=base_year, **opts)
            res[ds.attrs["scenario"] if ds.attrs["scenario"] not in res else n] = ds
        years = ", ".join(sorted({str(d.attrs["base_year"]) for d in res.values()}))
        sys.stdout.write(
            render(
                compare_table(res),
                fmt,
                f"Scenarios compared (USD, national, whole horizon; base year {years})",
            )
        )

    guard(go)


class Metric(StrEnum):
    revenue_loss = "revenue_loss"
    peak_pressure = "peak_pressure"


@app.command()
def sensitivity(
    scenario: str = ScenarioArg,
    inputs: Path | None = InputsOpt,
    months: int | None = MonthsOpt,
    members: int = typer.Option(
        200,
        "--members",
        "-n",
        min=0,
        max=100_000,
        help="Ensemble size for the variance-based indices (0: swings only).",
    ),
    seed: int | None = SeedOpt,
    bins: int = typer.Option(
        10, "--bins", min=2, max=100, help="Bins of the first-order index estimator."
    ),
    plot: Path | None = typer.Option(
        None,
        "--plot",
        dir_okay=False,
        help="Draw a tornado chart of the swings to this PNG (needs matplotlib).",
    ),
    metric: Metric = typer.Option(
        Metric.revenue_loss, "--metric", help="Metric the tornado chart shows."
    ),
    top: int = typer.Option(15, "--top", min=1, help="Parameters in the chart."),
    fmt: Format = FormatOpt,
    params: Path | None = ParamsOpt,
    workers: int = WorkersOpt,
    base_year: str | None = BaseYearOpt,
    dask: str | None = DaskOpt,
) -> None:
    """Rank the uncertain numbers by their effect on the revenue loss and peak trader pressure.

    One-at-a-time swings between each number's 5th and 95th percentile (others central),
    and first-order variance indices S1 from an ensemble (binning estimator; values
    below S1_noise are indistinguishable from zero)."""

    def go() -> None:
        import econ
        from econ.analysis.sensitivity import sensitivity as sens
        from econ.analysis.sensitivity import tornado

        from .render import render

        if plot is not None:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                raise econ.InputError(
                    "--plot needs matplotlib; fix: pip install 'chokepoint[plot]'"
                ) from None
        from econ.io.inputs import inputs_for

        sc = econ.load_scenario(scenario)
        if months is not None:
            sc = sc.with_months(months)
        inp = inputs_for(sc, load_inputs(inputs, params, run_base_year(sc, base_year)), base_year)
        prog, cb = progress_bar(f"sensitivity {sc.name}")
        if prog is not None:
            with prog:
                table = sens(
                    sc,
                    inp,
                    members=members if members > 1 else 1,
                    rng=seed,
                    bins=bins,
                    workers=workers,
                    progress=cb,
                    dask=dask,
                )
        else:
            table = sens(
                sc,
                inp,
                members=members if members > 1 else 1,
                rng=seed,
                bins=bins,
                workers=workers,
                dask=dask,
            )
        if plot is not None:
            kind = plot.suffix.lstrip(".").lower() or "png"
            write_atomic(plot, lambda p: tornado(table, metric.value, p, top=top, format=kind))
            note(f"wrote {plot}")
        c = table.attrs["central"]
        title = (
            f"Sensitivity, {sc.name} (base year {inp.label}): central revenue loss "
            f"{c['revenue_loss']:,.0f} USD, peak pressure {c['peak_pressure']:.3g}"
        )
        if members > 1:
            title += (
                f"; S1 from {table.attrs['members']} members, "
                f"noise level {table.attrs['S1_noise']:.3f}"
            )
        sys.stdout.write(render(table, fmt, title))

    guard(go)


@app.command()
def backtest(
    inputs: Path | None = InputsOpt,
    episodes: list[str] | None = typer.Argument(
        None, help="Episode names or files (default: all shipped)."
    ),
    members: int = MembersOpt,
    seed: int | None = SeedOpt,
    baseline: str = BaselineOpt,
    params: Path | None = ParamsOpt,
    fit_grid: bool = typer.Option(
        False,
        "--fit",
        help="Also fit the dynamics on a grid to all episodes "
        "and report the leave-one-episode-out error.",
    ),
    grid: list[str] | None = typer.Option(
        None,
        "--grid",
        metavar="NAME=V1,V2,...",
        help="Fit on this grid instead of the default (repeat for more parameters; implies --fit).",
    ),
    protest: bool = typer.Option(
        False,
        "--protest",
        help="Also fit the protest risk to the protest and no-protest cases, "
        "with leave-one-case-out scores against a base rate.",
    ),
    fmt: Format = FormatOpt,
    base_year: str | None = BaseYearOpt,
    dask: str | None = typer.Option(
        None,
        "--dask",
        metavar="ADDRESS",
        help="Run the fit's grid chunks on dask: a scheduler address, or 'local' for a "
        "LocalCluster here. Same numbers.",
    ),
) -> None:
    """Score the model against documented episodes, next to two naive baselines.

    Per outcome: observed, the model (median and 5–95% with --members), its error and
    whether it is within the outcome's tolerance, and the same for "no diversion" and
    "instant full diversion". Then a summary over the outcomes all three can compute.
    With --fit or --grid: the leave-one-episode-out errors and each grid parameter's
    profile loss (flat = not identified by the episodes). With --protest: the protest-risk
    fit to documented protests and to pressure without protest. Each episode runs on its own
    base year (--base-year picks the inputs for episodes that name none)."""

    def go() -> None:
        from econ.analysis.backtest import backtest as run_backtest
        from econ.analysis.backtest import check_grid, fit, out_of_sample_summary, summary

        from .render import render_many

        check_baseline(baseline)
        inp = load_inputs(inputs, params, base_year)
        fit_on = None if not grid else check_grid(parse_grid(grid), inp, source="--grid")
        table, results = run_backtest(
            inp,
            episodes or None,
            members=members,
            rng=seed,
            baseline=baseline,
            progress=lambda name: note(f"episode {name}"),
        )
        shown = table.drop(
            columns=[c for c in table.columns if c.endswith("_within") and c != "model_within"]
        )
        if fmt in (Format.table, Format.markdown):
            # the reasons are long: a flag here, the text in csv/json and docs/validation.md
            shown = shown.assign(known_failure=shown["known_failure"] != "")
        years = ", ".join(sorted({str(r.dataset.attrs["base_year"]) for r in results}))
        tables = [
            (
                "Backtest by outcome (percent; error = predictor - observed, percentage points; "
                f"base year {years})",
                shown,
            ),
            ("Summary over outcomes every predictor can compute", summary(table, common=True)),
            (
                "Summary over the fitted outcomes every predictor can compute (fit = true)",
                summary(table, common=True, fitted=True),
            ),
            ("Summary over each predictor's outcomes", summary(table)),
        ]
        if fit_grid or grid:
            res = fit(
                inp,
                fit_on,
                episodes=episodes or None,
                progress=lambda name: note(f"fit: episode {name}"),
                dask=dask,
            )
            best = ", ".join(f"{k} = {v:g}" for k, v in res["best"].items())
            note(
                f"in-sample best: {best} (loss {res['in_sample_loss']:.3f}, objective with the "
                f"prior penalty {res['in_sample_objective']:.3f}; loss at the shipped central "
                f"values {res['central_loss']:.3f})"
            )
            tables.append(
                (
                    "Leave-one-episode-out: loss (mean capped |error|/tolerance) "
                    "of each held-out episode",
                    res["out_of_sample"],
                )
            )
            tables.append(
                (
                    "Summary out of sample (leave one episode out), over the fitted outcomes "
                    "every predictor can compute",
                    out_of_sample_summary(table, res["out_of_sample_errors"]),
                )
            )
            if not res["time_split"].empty:
                tables.append(
                    (
                        "Time split: fit on the earlier outcomes, score the later ones",
                        res["time_split"],
                    )
                )
            tables.append(
                (
                    "Profile objective: the smallest penalised loss at each grid value over the "
                    "other grid parameters",
                    res["profile"],
                )
            )
            tables.append(
                (
                    "Profile loss without the priors (flat = not pinned down by the episodes)",
                    res["profile_unpenalised"],
                )
            )
        if protest:
            from econ.analysis.protest import fit_protest, protest_cases

            pres = fit_protest(
                protest_cases(inp, episodes or None, progress=lambda n: note(f"protest: {n}")),
                inp,
            )
            note(
                f"protest risk fit: intercept {pres['intercept']:.3f}, slope "
                f"{pres['slope']:.3f} per month of margin lost (base rate only: intercept "
                f"{pres['base_rate_intercept']:.3f})"
            )
            tables.append(
                (
                    "Protest cases (probability of at least one protest in the window: fitted, "
                    "leave one case out, and a base rate with no slope)",
                    pres["cases"],
                )
            )
            tables.append(("Protest risk scores (higher log score is better)", pres["scores"]))
        sys.stdout.write(render_many(tables, fmt))

    guard(go)


@inputs_app.command("check")
def inputs_check(
    inputs: Path | None = InputsOpt,
    fmt: Format = FormatOpt,
    base_year: str | None = BaseYearOpt,
) -> None:
    """Validate the inputs of a base year and print a summary: totals against base_year.toml,
    revenue by crossing, and which crossing revenues are observed and which are residual
    allocations (or one error line and exit code 1)."""

    def go() -> None:
        import econ
        from econ.analysis.summary import inputs_summary

        from .render import render_many

        inp = econ.load_inputs(inputs, base_year=base_year)
        sys.stdout.write(render_many(inputs_summary(inp), fmt))

    guard(go)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
