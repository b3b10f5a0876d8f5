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
    ForceOpt,
    FormatOpt,
    Group,
    InputsOpt,
    MembersOpt,
    MonthsOpt,
    OutDirOpt,
    ParamsOpt,
    PlotOpt,
    ScenarioArg,
    SeedOpt,
    UnitsOpt,
    WideOpt,
    WorkersOpt,
    XlsxOpt,
    check_baseline,
    check_out,
    check_plot_path,
    guard,
    load_and_run,
    load_and_stream,
    load_inputs,
    note,
    parse_grid,
    progress_bar,
    run_base_year,
    run_one,
    save_chart,
    write_atomic,
)
from .render import Format, Units, emit, legacy

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


#: the formats the tornado chart can be drawn in (matplotlib)
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


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
        None,
        "--out",
        help="Write the full Dataset to FILE.nc (compressed netCDF4), or with --format xlsx "
        "the tables to FILE.xlsx (a new file unless --force).",
        dir_okay=False,
    ),
    force: bool = ForceOpt,
    no_stamp: bool = typer.Option(
        False,
        "--no-stamp",
        help="With --out FILE.nc: leave out the creation stamp (date_created), so that the same "
        "run writes a byte-identical file.",
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
    units: Units = UnitsOpt,
    wide: bool = WideOpt,
    out_dir: Path | None = OutDirOpt,
    plot: Path | None = PlotOpt,
    dask: str | None = DaskOpt,
) -> None:
    """Run a scenario and print the revenue-impact table, the coal and non-coal revenue
    change and the national monthly path (amounts in million USD unless --units usd).

    With --members N every figure is the ensemble median with its 5–95% range
    ("median [p05–p95]"; separate _p05/_p95 columns in csv, json and xlsx)."""

    def go() -> None:
        from econ.report.outputs import RUN_TABLES, run_output

        xlsx = out is not None and out.suffix.lower() == ".xlsx"
        check_out(out, (".nc", ".xlsx"), force, "--out")
        if fmt is Format.xlsx and not xlsx:
            raise typer.BadParameter("--format xlsx needs --out FILE.xlsx", param_hint="--out")
        if plot is not None:
            check_plot_path(plot)
        check_out(plot, PLOT_SUFFIXES, force, "--plot")
        opts = dict(members=members, seed=seed, baseline=baseline, workers=workers, dask=dask)
        names = RUN_TABLES if table is Table.all else (table.value,)
        if not xlsx and members > 1 and plot is None:
            # members streamed chunk by chunk (to the file, or its percentiles, if --out): the
            # tables come from the per-member summary, never from every member's result
            streamed = load_and_stream(
                scenario,
                inputs,
                params,
                months,
                out=out,
                percentiles_only=percentiles_only,
                stamp=not no_stamp,
                force=force,
                base_year=base_year,
                **opts,
            )
            if out is not None:
                note(f"wrote {out}")
            emit(
                run_output(streamed.summary, names),
                fmt,
                units=units.value,
                wide=wide,
                out_dir=out_dir,
                force=force,
            )
            return
        ds = load_and_run(
            scenario,
            inputs,
            params,
            months,
            base_year=base_year,
            out=None if xlsx else out,
            percentiles_only=percentiles_only,
            **opts,
        )
        result = run_output(ds, names)
        if out is not None and not xlsx:
            from econ.io.write import write_netcdf
            from econ.model.record import percentiles

            saved = percentiles(ds) if percentiles_only and ds.sizes["member"] > 1 else ds
            write_netcdf(saved, out, stamp=not no_stamp, overwrite=force)
            note(f"wrote {out}")
        if plot is not None:
            save_chart({ds.attrs["scenario"]: ds}, plot, force=force)
        emit(
            result,
            Format.xlsx if xlsx else fmt,
            units=units.value,
            wide=wide,
            out_file=out if xlsx else None,
            out_dir=out_dir,
            force=force,
        )

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
    base_year: str | None = BaseYearOpt,
    units: Units = UnitsOpt,
    out: Path | None = XlsxOpt,
    force: bool = ForceOpt,
    out_dir: Path | None = OutDirOpt,
) -> None:
    """The economy behind the border: output, domestic revenue and jobs lost by sector, and
    staple prices (docs/economy.md)."""

    def go() -> None:
        check_out(out, (".xlsx",), force, "--out")
        from econ.errors import InputError
        from econ.report.outputs import ECONOMY_TABLES, economy_output

        inp = load_inputs(inputs, params, run_base_year(scenario, base_year))
        if inp.economy is None:
            raise InputError(
                f"{inp.directory.name}: no input-output table (io/); fix: add io/ to the inputs "
                "directory (the shipped inputs have one) or run without --inputs"
            )
        opts = dict(members=members, seed=seed, baseline=baseline, workers=workers)
        ds = run_one(scenario, inp, months, base_year=base_year, **opts)
        names = ECONOMY_TABLES if table is EconomyTable.all else (table.value,)
        emit(
            economy_output(ds, names),
            fmt,
            units=units.value,
            out_file=out,
            out_dir=out_dir,
            force=force,
        )

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
    units: Units = UnitsOpt,
    wide: bool = WideOpt,
    out: Path | None = XlsxOpt,
    force: bool = ForceOpt,
    out_dir: Path | None = OutDirOpt,
    dask: str | None = DaskOpt,
) -> None:
    """Who pays: trader-group pressure and protest risk, and the coercion ledger with Pakistan.

    The groups table shows its main columns; --wide shows every cost component."""

    def go() -> None:
        check_out(out, (".xlsx",), force, "--out")
        from econ.report.outputs import PRESSURE_TABLES, pressure_output

        opts = dict(members=members, seed=seed, baseline=baseline, workers=workers, dask=dask)
        ds = load_and_run(scenario, inputs, params, months, base_year=base_year, **opts)
        names = PRESSURE_TABLES if table is PressureTable.all else (table.value,)
        emit(
            pressure_output(ds, names),
            fmt,
            units=units.value,
            wide=wide,
            out_file=out,
            out_dir=out_dir,
            force=force,
        )

    guard(go)


@app.command()
def scenarios(
    inputs: Path | None = InputsOpt,
    fmt: Format = FormatOpt,
    base_year: str | None = BaseYearOpt,
    brief: bool = typer.Option(
        False, "--brief", help="One line per scenario (the description's first line)."
    ),
    out: Path | None = XlsxOpt,
    force: bool = ForceOpt,
) -> None:
    """List the built-in scenarios: base year, horizon, the whole description, each measure
    in words and its source (each scenario checked against the inputs of its base year)."""

    def go() -> None:
        check_out(out, (".xlsx",), force, "--out")
        import pandas as pd

        import econ
        from econ.io.inputs import inputs_for

        inp = econ.load_inputs(inputs, base_year=base_year)
        rows, measures, networks = [], [], {}
        for name, path in econ.builtin_scenarios().items():
            sc = econ.load_scenario(path)
            on = inputs_for(sc, inp, base_year)
            if on.label not in networks:
                networks[on.label] = econ.Network.from_inputs(on)
            # raises a one-line InputError if a selector does not fit the inputs
            econ.Model(on, sc, network=networks[on.label], economy=False)
            text = sc.description.strip()
            rows.append(
                {
                    "name": name,
                    "base_year": on.label,
                    "start": sc.start.isoformat(),
                    "months": sc.months,
                    "measures": len(sc.measures),
                    "description": (text.splitlines()[0] if text else "")
                    if brief
                    else " ".join(text.split()),
                }
            )
            for i, (m, words) in enumerate(zip(sc.measures, sc.describe())):
                measures.append(
                    {
                        "scenario": name,
                        "measure": i + 1,
                        "what": words,
                        "source": " ".join(m.source.split()),
                    }
                )
        tables = [("Built-in scenarios", pd.DataFrame(rows).set_index("name"))]
        names = ["scenarios"]
        if not brief:
            tables.append(
                ("Their measures and sources", pd.DataFrame(measures).set_index("scenario"))
            )
            names.append("measures")
        result = legacy("scenarios", tables, names=names, base_year=base_year)
        if fmt in (Format.table, Format.markdown) and not brief:
            raw = {
                n: econ.load_scenario(p).description for n, p in econ.builtin_scenarios().items()
            }
            sys.stdout.write(_scenarios_text(rows, measures, fmt is Format.markdown, raw))
            return
        emit(result, fmt, out_file=out, force=force)

    guard(go)


def _paragraphs(text: str) -> list[str]:
    """A description's paragraphs and list items, each as one line (its own wrapping gone)."""
    out: list[str] = []
    for line in text.strip().splitlines():
        stripped = line.strip()
        if not stripped:
            out.append("")
        elif stripped.startswith(("- ", "* ")) or not out or not out[-1]:
            out.append(stripped)
        else:
            out[-1] += " " + stripped
    return [p for p in out if p]


def _scenarios_text(
    rows: list[dict], measures: list[dict], markdown: bool, raw: dict[str, str]
) -> str:
    """The built-in scenarios for people: whole descriptions and every measure's source,
    wrapped to the terminal (a table would cut them)."""
    import shutil
    import textwrap

    width = min(110, shutil.get_terminal_size((100, 20)).columns)
    out = []
    for r in rows:
        head = (
            f"{r['name']}: base year {r['base_year']}, from {r['start']}, {r['months']} months, "
            f"{r['measures']} measure(s)"
        )
        out.append(f"## {head}" if markdown else head + "\n" + "=" * min(len(head), width))
        for par in _paragraphs(raw.get(r["name"], r["description"])):
            item = par.startswith(("- ", "* "))
            out.append(
                textwrap.fill(
                    par,
                    width,
                    subsequent_indent="  " if item else "",
                    break_on_hyphens=False,
                    break_long_words=False,
                )
            )
        for m in (m for m in measures if m["scenario"] == r["name"]):
            out.append(
                textwrap.fill(f"{m['measure']}. {m['what']}", width, subsequent_indent="   ")
            )
            if m["source"]:
                out.append(
                    textwrap.fill(
                        f"Source: {m['source']}",
                        width,
                        initial_indent="   ",
                        subsequent_indent="   ",
                    )
                )
        out.append("")
    return "\n".join(out)


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
    units: Units = UnitsOpt,
    out: Path | None = XlsxOpt,
    force: bool = ForceOpt,
    plot: Path | None = PlotOpt,
) -> None:
    """Set scenarios side by side: national revenue impact and its decomposition.

    Each scenario runs on its own base year unless --base-year is given (column base_year).
    With --members N each figure is the median with its 5–95% range."""

    def go() -> None:
        from econ.report.outputs import compare_output

        if plot is not None:
            check_plot_path(plot)
        check_out(out, (".xlsx",), force, "--out")
        check_out(plot, PLOT_SUFFIXES, force, "--plot")
        res = _run_many(names, inputs, params, months, base_year, members, seed, baseline, workers)
        if plot is not None:
            save_chart(res, plot, force=force)
        emit(compare_output(res), fmt, units=units.value, out_file=out, force=force)

    guard(go)


def _run_many(
    names, inputs, params, months, base_year, members, seed, baseline, workers, inp=None
) -> dict:
    """Run each scenario (on its own base year unless ``base_year``); keyed by name. ``inp``:
    the inputs already loaded."""
    inp = load_inputs(inputs, params, base_year) if inp is None else inp
    opts = dict(members=members, seed=seed, baseline=baseline, workers=workers)
    res = {}
    for n in names:
        ds = run_one(n, inp, months, base_year=base_year, **opts)
        res[ds.attrs["scenario"] if ds.attrs["scenario"] not in res else n] = ds
    return res


class ChartKind(StrEnum):
    all = "all"
    path = "path"
    crossings = "crossings"
    corridors = "corridors"
    pressure = "pressure"
    map = "map"


@app.command()
def plot(
    names: list[str] = typer.Argument(
        None, help="Scenario names or paths (default: default); the path chart shows them all."
    ),
    out: Path = typer.Option(
        ..., "--out", dir_okay=False, help="The chart file: .png, .svg or .pdf."
    ),
    force: bool = ForceOpt,
    kind: ChartKind = typer.Option(
        ChartKind.all,
        "--kind",
        help="all (one page of five charts), path, crossings, corridors, pressure or map.",
    ),
    inputs: Path | None = InputsOpt,
    months: int | None = MonthsOpt,
    members: int = MembersOpt,
    seed: int | None = SeedOpt,
    baseline: str = BaselineOpt,
    params: Path | None = ParamsOpt,
    workers: int = WorkersOpt,
    base_year: str | None = BaseYearOpt,
) -> None:
    """Draw charts of scenarios: national revenue a month against the baseline (with the
    5–95% band for --members N), revenue change by crossing in its parts, corridor shares,
    trader pressure with protest risk shaded, and a map of the crossings."""

    def go() -> None:
        check_plot_path(out)
        check_out(out, PLOT_SUFFIXES, force, "--out")
        res = _run_many(
            names or ["default"],
            inputs,
            params,
            months,
            base_year,
            members,
            seed,
            baseline,
            workers,
        )
        save_chart(res, out, kind.value, force=force)

    guard(go)


@app.command()
def sweep(
    scenario: str = ScenarioArg,
    set_: str = typer.Option(
        ...,
        "--set",
        metavar="FIELD=START:STOP:STEP",
        help="The number to sweep and its values (STOP included), e.g. pk-transit-fee.rate=0:0.3:"
        "0.05, closure.days=5:60:5, measure3.cover=0:1:0.25, queue_patience_days=10:60:10; or "
        "FIELD=V1,V2,...",
    ),
    inputs: Path | None = InputsOpt,
    months: int | None = MonthsOpt,
    fmt: Format = FormatOpt,
    baseline: str = BaselineOpt,
    params: Path | None = ParamsOpt,
    base_year: str | None = BaseYearOpt,
    units: Units = UnitsOpt,
    out: Path | None = XlsxOpt,
    force: bool = ForceOpt,
    plot: Path | None = PlotOpt,
) -> None:
    """Run a scenario for a series of values of one number, as one vectorised batch: the
    cumulative revenue loss, Pakistan's net fiscal cost and the peak trader pressure per
    value, and where raising the value stops raising the treasury's loss."""

    def go() -> None:
        import econ
        from econ.analysis.forecast import baseline_forecast
        from econ.analysis.sweep import parse_set, sweep_summary
        from econ.analysis.sweep import sweep as run_sweep
        from econ.io.inputs import inputs_for
        from econ.report.present import Output, Table, baseline_name

        check_baseline(baseline)
        if plot is not None:
            check_plot_path(plot)
        check_out(out, (".xlsx",), force, "--out")
        check_out(plot, PLOT_SUFFIXES, force, "--plot")
        field, values = parse_set(set_)
        sc = econ.load_scenario(scenario)
        if months is not None:
            sc = sc.with_months(months)
        inp = inputs_for(sc, load_inputs(inputs, params, run_base_year(sc, base_year)), base_year)
        note(f"sweep {sc.name}: {field} over {len(values)} values in one batch")
        df = run_sweep(sc, inp, field, values, forecast=baseline_forecast(inp, sc, baseline))
        frame = df.copy()
        frame.attrs = {"units": df.attrs["units"]}
        line = sweep_summary(df)
        result = Output(
            "sweep",
            [Table("sweep", f"Sweep of {field}, {sc.name}, whole horizon", frame)],
            scenario=sc.name,
            base_year=df.attrs["base_year"],
            baseline=baseline_name({"baseline": df.attrs["baseline"]}),
            lines=[line],
            summary={"field": field, "key": df.attrs["key"], "peak_value": df.attrs["peak_value"]},
        )
        if plot is not None:
            from econ.report.charts import save, sweep_figure

            about = f"scenario {sc.name}; base year {inp.label}; baseline {result.baseline}"
            write_atomic(
                plot,
                lambda p: save(sweep_figure(df, field, sc.name, about), p, _fmt(plot)),
                force,
            )
            note(f"wrote {plot}")
        emit(result, fmt, units=units.value, out_file=out, force=force)

    guard(go)


def _fmt(path: Path) -> str:
    return path.suffix.lstrip(".").lower()


class ReportFormat(StrEnum):
    html = "html"
    md = "md"
    xlsx = "xlsx"


@app.command()
def report(
    names: list[str] = typer.Argument(None, help="Scenario names or paths (default: default)."),
    out: Path = typer.Option(
        ..., "--out", dir_okay=False, help="The report: FILE.html, FILE.md or FILE.xlsx."
    ),
    force: bool = ForceOpt,
    inputs: Path | None = InputsOpt,
    months: int | None = MonthsOpt,
    members: int = MembersOpt,
    seed: int | None = SeedOpt,
    baseline: str = BaselineOpt,
    params: Path | None = ParamsOpt,
    workers: int = WorkersOpt,
    base_year: str | None = BaseYearOpt,
    units: Units = UnitsOpt,
    sensitivity_: bool = typer.Option(
        True,
        "--sensitivity/--no-sensitivity",
        help="Rank what drives the result (one-at-a-time swings; about 20 s on the default).",
    ),
    validation: bool = typer.Option(
        True,
        "--validation/--no-validation",
        help="Score the model on the documented episodes (about 20 s; shipped inputs only).",
    ),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Embed the charts."),
) -> None:
    """Write a one-file report: the scenario in words, headline numbers with ranges, charts,
    the revenue-impact and pressure tables, what drives the result, the validation score,
    the base year and baseline, and the data sources (.html self-contained, .md, or .xlsx
    with one sheet per table)."""

    def go() -> None:
        import econ
        from econ.io.inputs import default_inputs_dir, inputs_for
        from econ.report import document

        fmt = _fmt(out)
        check_out(out, tuple("." + f for f in document.FORMATS), force, "--out")
        names_ = names or ["default"]
        loaded = load_inputs(inputs, params, base_year)
        res = _run_many(
            names_, inputs, params, months, base_year, members, seed, baseline, workers, loaded
        )
        scs = {}
        for n, key in zip(names_, res):
            sc = econ.load_scenario(n)
            scs[key] = sc.with_months(months) if months is not None else sc
        first = next(iter(scs.values()))
        inp = inputs_for(first, loaded, base_year)
        drivers, dnote = None, ""
        if sensitivity_:
            from econ.analysis.sensitivity import sensitivity as sens

            note(f"sensitivity of {first.name} (one at a time)")
            drivers = sens(first, inp, members=1)
            dnote = (
                f"Ranked for {first.name}; `chokepoint sensitivity {first.name} --members 200` "
                "adds variance-based indices."
            )
        else:
            dnote = "Not computed (--no-sensitivity)."
        vtable, vnote = None, ""
        shipped = inputs is None or Path(inputs).resolve() == default_inputs_dir().resolve()
        if validation and shipped:
            from econ.analysis.backtest import backtest, summary

            note("validation: backtest on the documented episodes")
            table, _ = backtest(load_inputs(inputs, params))
            vtable = summary(table, common=True, fitted=True)
            vnote = (
                "Share of observed outcomes within tolerance and mean absolute error (percentage "
                "points) of the model and two naive baselines; out of sample: "
                "`chokepoint backtest --fit` (docs/validation.md)."
            )
        elif validation:
            vnote = (
                "Not computed: the episodes are defined on the shipped inputs, and these are "
                f"{Path(inputs).name}."
            )
        else:
            vnote = "Not computed (--no-validation)."
        rep = document.build(
            res,
            scs,
            inp,
            drivers=drivers,
            drivers_note=dnote,
            validation=vtable,
            validation_note=vnote,
            charts=charts,
            units=units.value,
        )
        write_atomic(out, lambda p: document.write(rep, p, fmt), force)
        note(f"wrote {out}")

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
    force: bool = ForceOpt,
    fmt: Format = FormatOpt,
    params: Path | None = ParamsOpt,
    workers: int = WorkersOpt,
    base_year: str | None = BaseYearOpt,
    out: Path | None = XlsxOpt,
    dask: str | None = DaskOpt,
) -> None:
    """Rank the uncertain numbers by their effect on the revenue loss and peak trader pressure.

    One-at-a-time swings between each number's 5th and 95th percentile (others central),
    and first-order variance indices S1 from an ensemble (binning estimator; values
    below S1_noise are indistinguishable from zero)."""

    def go() -> None:
        check_out(out, (".xlsx",), force, "--out")
        import econ
        from econ.analysis.sensitivity import sensitivity as sens
        from econ.analysis.sensitivity import tornado

        if plot is not None:
            check_plot_path(plot)
        check_out(plot, PLOT_SUFFIXES, force, "--plot")
        from econ.io.inputs import inputs_for

        sc = econ.load_scenario(scenario)
        if months is not None:
            sc = sc.with_months(months)
        inp = inputs_for(sc, load_inputs(inputs, params, run_base_year(sc, base_year)), base_year)
        with progress_bar(f"sensitivity {sc.name}") as cb:
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
        if plot is not None:
            kind = plot.suffix.lstrip(".").lower() or "png"
            write_atomic(
                plot, lambda p: tornado(table, metric.value, p, top=top, format=kind), force
            )
            note(f"wrote {plot}")
        c = table.attrs["central"]
        title = (
            f"Sensitivity, {sc.name}: central revenue loss "
            f"{c['revenue_loss'] / 1e6:,.2f} million USD, peak pressure {c['peak_pressure']:.3g}"
        )
        if members > 1:
            title += (
                f"; S1 from {table.attrs['members']} members, "
                f"noise level {table.attrs['S1_noise']:.3f}"
            )
        result = legacy(
            "sensitivity",
            [(title, table)],
            names=["sensitivity"],
            scenario=sc.name,
            base_year=inp.label,
            baseline="flat",
            summary={"central": c},
        )
        emit(result, fmt, out_file=out, force=force)

    guard(go)


#: backtest's tables by the start of their title: (prefix, machine name)
BACKTEST_TABLES = (
    ("Backtest by outcome", "outcomes"),
    ("Summary over outcomes every", "summary"),
    ("Summary over the fitted outcomes", "summary-fitted"),
    ("Summary over each predictor", "summary-each"),
    ("Leave-one-episode-out", "held-out"),
    ("Summary out of sample", "summary-out-of-sample"),
    ("Time split", "time-split"),
    ("Profile objective", "profile"),
    ("Profile loss without", "profile-unpenalised"),
    ("Protest cases", "protest-cases"),
    ("Protest risk scores", "protest-scores"),
)


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
    out: Path | None = XlsxOpt,
    force: bool = ForceOpt,
    out_dir: Path | None = OutDirOpt,
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
        check_out(out, (".xlsx",), force, "--out")
        from econ.analysis.backtest import backtest as run_backtest
        from econ.analysis.backtest import check_grid, fit, summary

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
            tables += _fit_tables(res, table)
        if protest:
            tables += _protest_tables(inp, episodes)
        # machine names of the tables (csv --out-dir files, json keys, Excel sheets)
        names = []
        for title, _ in tables:
            for prefix, name in BACKTEST_TABLES:
                if title.startswith(prefix):
                    names.append(name)
                    break
            else:
                names.append(None)
        result = legacy(
            "backtest",
            tables,
            names=[n or f"table-{i + 1}" for i, n in enumerate(names)],
            base_year=years,
            baseline=baseline,
            members=members,
        )
        emit(result, fmt, out_file=out, out_dir=out_dir, force=force)

    guard(go)


def _fit_tables(res: dict, table) -> list[tuple[str, object]]:
    """`backtest --fit`/`--grid`: the in-sample best (a note), the leave-one-episode-out and
    time-split tables with their summaries, and the profile losses."""
    from econ.analysis.backtest import out_of_sample_summary

    tables: list[tuple[str, object]] = []
    best = ", ".join(f"{k} = {v:g}" for k, v in res["best"].items())
    note(
        f"in-sample best: {best} (loss {res['in_sample_loss']:.3f}, objective with the "
        f"prior penalty {res['in_sample_objective']:.3f}; loss at the shipped central "
        f"values {res['central_loss']:.3f})"
    )
    tables.append(
        (
            "Leave-one-episode-out: loss (mean capped |error|/tolerance) of each held-out episode",
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
                "Summary out of sample (time split), over the later fitted outcomes "
                "every predictor can compute",
                out_of_sample_summary(table, res["time_split_errors"]),
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
    return tables


def _protest_tables(inp, episodes) -> list[tuple[str, object]]:
    """`backtest --protest`: the protest-risk fit (a note), its cases and its scores."""
    from econ.analysis.protest import fit_protest, protest_cases

    tables: list[tuple[str, object]] = []
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
    return tables


@inputs_app.command("check")
def inputs_check(
    inputs: Path | None = InputsOpt,
    fmt: Format = FormatOpt,
    base_year: str | None = BaseYearOpt,
    out: Path | None = XlsxOpt,
    force: bool = ForceOpt,
    out_dir: Path | None = OutDirOpt,
) -> None:
    """Validate the inputs of a base year and print a summary: totals against base_year.toml,
    revenue by crossing, and which crossing revenues are observed and which are residual
    allocations (or one error line and exit code 1)."""

    def go() -> None:
        check_out(out, (".xlsx",), force, "--out")
        import econ
        from econ.analysis.summary import inputs_summary

        inp = econ.load_inputs(inputs, base_year=base_year)
        result = legacy("inputs check", inputs_summary(inp), base_year=inp.label)
        emit(result, fmt, out_file=out, out_dir=out_dir, force=force)

    guard(go)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
