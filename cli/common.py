"""What every command shares: options, error handling, progress, notes, loading and running.

Commands live in :mod:`cli.app` (and :mod:`cli.calibrate_cmd`); both import from here, and
nothing here imports a command module. Heavy modules (xarray, pandas, statsmodels) are
imported inside the helpers so that ``chokepoint --help`` stays fast.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
import typer.core

from .formats import Format, Units

#: global flags, set by the main callback (they may stand before or after the subcommand)
OPTS = {"debug": False, "quiet": False}
GLOBAL_FLAGS = ("--debug", "--quiet", "-q")

InputsOpt = typer.Option(
    None,
    "--inputs",
    help="Directory with input tables (default: the shipped inputs).",
    file_okay=False,
)
FormatOpt = typer.Option(Format.table, "--format", "-f", help="Output format.")
BaseYearOpt = typer.Option(
    None,
    "--base-year",
    help="Base year of the inputs, e.g. FY1401 (default: the scenario's own, else the most "
    "recent; `chokepoint inputs check` lists them).",
)
MembersOpt = typer.Option(
    1,
    "--members",
    "-n",
    min=1,
    max=100_000,
    help="Ensemble members (1 = deterministic run at central values).",
)
SeedOpt = typer.Option(
    None,
    "--seed",
    min=0,
    max=2**64 - 1,
    help="Root seed of the ensemble, 0 to 2^64-1 (default: the scenario's, else 0).",
)
BaselineOpt = typer.Option(
    "flat",
    "--baseline",
    help="No-measure baseline: flat (base-year flows) or forecast (statsmodels path).",
)
ParamsOpt = typer.Option(
    None,
    "--params",
    dir_okay=False,
    help="TOML of parameters replacing the inputs' (e.g. from `calibrate --out`).",
)
WorkersOpt = typer.Option(1, "--workers", min=1, max=64, help="Processes for ensemble chunks.")
DaskOpt = typer.Option(
    None,
    "--dask",
    metavar="ADDRESS",
    help="Run ensemble chunks on dask: a scheduler address (tcp://host:8786), or 'local' to "
    "start a LocalCluster here (--workers processes, else one per core). Same numbers.",
)
MonthsOpt = typer.Option(None, "--months", min=1, max=240, help="Override the horizon.")
ForceOpt = typer.Option(False, "--force", help="Replace the output file if it exists.")
ScenarioArg = typer.Argument("default", help="Built-in scenario name or path to a TOML file.")
UnitsOpt = typer.Option(
    Units.musd, "--units", help="Amounts in tables: musd (million USD, the default) or usd."
)
WideOpt = typer.Option(
    False, "--wide", help="Every column (table and markdown show the main ones by default)."
)
OutDirOpt = typer.Option(
    None,
    "--out-dir",
    file_okay=False,
    help="With --format csv: write one CSV file per table into this directory.",
)
XlsxOpt = typer.Option(
    None, "--out", dir_okay=False, help="With --format xlsx: the workbook to write (FILE.xlsx)."
)
PlotOpt = typer.Option(
    None,
    "--plot",
    dir_okay=False,
    help="Also draw the charts to this file (.png, .svg or .pdf).",
)


class Group(typer.core.TyperGroup):
    """The command group: global flags (``--debug``, ``--quiet``) may follow the subcommand;
    a usage error is one line on stderr and exit code 2."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if "--" in args:
            head, tail = args[: args.index("--")], args[args.index("--") :]
        else:
            head, tail = args, []
        flags = [a for a in head if a in GLOBAL_FLAGS]
        rest = [a for a in head if a not in GLOBAL_FLAGS]
        return super().parse_args(ctx, flags + rest + tail)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            # the help was shown when the error was made (rich prints it); plain click returns it
            if exc.format_message().strip():
                typer.echo(exc.format_message())
            sys.exit(exc.exit_code)
        except UsageError as exc:
            typer.echo(usage_line(exc), err=True)
            sys.exit(exc.exit_code)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def usage_line(exc) -> str:
    """A click usage error as one line: the message and where to find the usage."""
    msg = " ".join(exc.format_message().split())
    path = exc.ctx.command_path if exc.ctx is not None else "chokepoint"
    return f"error: {msg} (usage: {path} --help)"


def fail(exc: BaseException) -> None:
    """One line on stderr and exit code 1 (the traceback with ``--debug``)."""
    if OPTS["debug"]:
        raise exc
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(1)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwinds the command (temporary files are removed on the way)
    and ends it with one line and exit code 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum, frame) -> None:
    raise Interrupted(signum)


def guard(fn: Callable[[], None]) -> None:
    """Run a command body: input errors and other expected failures become one line, exit 1;
    SIGINT and SIGTERM one line, exit 130 and 143."""
    from econ.errors import InputError

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, _interrupt) for s in handled}
    try:
        fn()
    except InputError as exc:
        fail(exc)
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        removed = [n for n in getattr(exc, "__notes__", []) if n.startswith("removed")]
        typer.echo(
            f"error: interrupted by {signal.Signals(signum).name}"
            + (f"; {'; '.join(removed)}, nothing written" if removed else ""),
            err=True,
        )
        raise typer.Exit(128 + int(signum)) from None
    except (typer.Exit, typer.Abort):
        raise
    except BrokenPipeError:
        # the reader (e.g. `head`) went away: stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        if OPTS["debug"]:
            raise
        typer.echo(
            f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            "(rerun with --debug for the traceback)",
            err=True,
        )
        raise typer.Exit(1) from None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def note(text: str) -> None:
    """A note on stderr (silent with ``--quiet``)."""
    if not OPTS["quiet"]:
        typer.echo(text, err=True)


@contextmanager
def progress_bar(total_label: str) -> Iterator[Callable[[int, int], None] | None]:
    """``with progress_bar(label) as cb``: a rich progress callback on stderr for the block,
    or ``None`` when quiet or not a terminal."""
    if OPTS["quiet"] or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    prog = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total} days",
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = prog.add_task(total_label, total=None)

    def cb(done: int, total: int) -> None:
        prog.update(task, completed=done, total=total)

    with prog:
        yield cb


def check_out(path: Path | None, suffixes: tuple[str, ...], force: bool, option: str) -> None:
    """Refuse an output path before any work (see :func:`econ.io.write.check_output`)."""
    if path is not None:
        from econ.io.write import check_output

        check_output(path, suffixes=suffixes, force=force, option=option)


def write_atomic(path: Path, writer: Callable[[Path], None], force: bool) -> None:
    """Write ``path`` through a temporary file in the same directory (see econ.io.write);
    an existing file is replaced only with ``force``."""
    from econ.io.write import write_atomic as _write

    _write(path, writer, overwrite=force)


def load_inputs(inputs: Path | None, params: Path | None = None, base_year: str | None = None):
    """Load the inputs (``--inputs``, ``--base-year``), with a parameters file applied
    (``--params``)."""
    import econ

    inp = econ.load_inputs(inputs, base_year=base_year)
    if params is not None:
        from econ.io.parameters import apply_parameters_file

        inp = apply_parameters_file(inp, params)
    return inp


def run_base_year(scenario, base_year: str | None = None) -> str | None:
    """The base year a scenario (a name, path or :class:`~econ.Scenario`) runs on:
    ``--base-year`` if given, else the scenario's own (``None``: the most recent). Loading the
    inputs for it at once saves the reload :func:`econ.io.inputs.inputs_for` would do."""
    import econ

    sc = scenario if isinstance(scenario, econ.Scenario) else econ.load_scenario(scenario)
    return base_year or getattr(sc, "base_year", None)


def check_baseline(baseline: str) -> None:
    """``--baseline`` must name a known baseline (one line, exit 1, otherwise)."""
    from econ.analysis.forecast import BASELINES
    from econ.errors import InputError

    if baseline not in BASELINES:
        raise InputError(f"--baseline: unknown baseline {baseline!r}; fix: use flat or forecast")


def run_one(
    scenario: str,
    inputs,
    months: int | None,
    label: str = "",
    *,
    members: int = 1,
    seed: int | None = None,
    baseline: str = "flat",
    workers: int = 1,
    base_year: str | None = None,
    out: Path | None = None,
    percentiles_only: bool = False,
    dask: str | None = None,
):
    """Load and run one scenario with a progress bar; warn about non-finite members.

    The scenario runs on ``base_year`` if given, else on its own base year, else on that of
    ``inputs`` (:func:`econ.io.inputs.inputs_for`). Before running, the memory guard
    estimates what the run (and writing ``out``) needs and refuses in one line when the
    machine does not have it."""
    import econ
    from econ.model.memory import ensemble_bytes, guard_members, members_that_fit, writer_bytes

    check_baseline(baseline)
    sc = econ.load_scenario(scenario)
    if months is not None:
        sc = sc.with_months(months)

    def need(m: int, pct: bool = percentiles_only) -> dict[str, int]:
        parts = ensemble_bytes(inputs, sc, m, workers=workers)
        if out is not None:
            parts.update(writer_bytes(parts["the result"], m, pct))
        return parts

    def fix(fits: int) -> str:
        text = f"use at most {fits:,} --members" if fits else "free memory"
        if out is not None and not percentiles_only:
            with_pct = members_that_fit(lambda m: sum(need(m, True).values()), members)
            if with_pct > fits:
                text += " or --percentiles-only"
                text += f" (which fits up to {with_pct:,})" if with_pct < members else ""
        return text

    guard_members(
        need,
        members,
        what=f"--members {members:,}" + (" with --out" if out is not None else ""),
        fix=fix,
    )
    kw = dict(inputs=inputs, members=members, rng=seed, baseline=baseline, workers=workers)
    kw["base_year"] = base_year
    if dask is not None:
        kw["dask"] = dask
    with progress_bar(label or sc.name) as cb:
        ds = econ.run(sc, progress=cb, **kw)
    bad = ds.attrs.get("nonfinite_members", 0)
    if bad:
        note(
            f"warning: {bad} of {ds.sizes['member']} member(s) have non-finite results "
            "(kept; see the Dataset)"
        )
    return ds


def load_and_stream(
    scenario: str,
    inputs: Path | None,
    params: Path | None,
    months: int | None,
    *,
    out: Path | None,
    percentiles_only: bool = False,
    stamp: bool = True,
    force: bool = False,
    members: int = 1,
    seed: int | None = None,
    baseline: str = "flat",
    workers: int = 1,
    base_year: str | None = None,
    dask: str | None = None,
    label: str = "",
):
    """``run --members N`` (without a chart or an Excel file): load the inputs as
    :func:`load_and_run` does and run chunk by chunk (:func:`econ.run_streamed`), writing
    the members to ``out`` by region, or with ``percentiles_only`` their percentiles, or
    without ``out`` keeping only each member's summary; returns the
    :class:`econ.api.Streamed` (its ``summary`` makes the tables). The memory guard counts one
    chunk per worker, the slabs and the per-member summary, not every member."""
    import econ
    from econ.model.memory import (
        CHUNK,
        STREAM_CHUNK,
        guard_members,
        stream_writer_bytes,
        streamed_bytes,
    )

    check_baseline(baseline)
    year = run_base_year(scenario, base_year)
    inp = load_inputs(inputs, params, year)
    sc = econ.load_scenario(scenario)
    if months is not None:
        sc = sc.with_months(months)

    chunk = CHUNK if out is None else STREAM_CHUNK  # econ.run_streamed's default

    def need(m: int) -> dict[str, int]:
        parts = streamed_bytes(inp, sc, m, workers=workers, chunk_size=chunk)
        if out is not None:
            kw = dict(percentiles_only=percentiles_only, chunk_size=chunk)
            parts.update(stream_writer_bytes(inp, sc, m, **kw))
        return parts

    guard_members(
        need,
        members,
        what=f"--members {members:,}"
        + (" with --out" if out is not None else "")
        + ", chunk by chunk",
        fix=lambda fits: f"use at most {fits:,} --members" if fits else "free memory",
    )
    kw = dict(inputs=inp, members=members, rng=seed, baseline=baseline, workers=workers)
    kw.update(base_year=base_year, out=out, stamp=stamp, overwrite=force)
    if out is None:
        kw["reduce"] = "summary"
    elif percentiles_only:
        kw["reduce"] = "percentiles"
    if dask is not None:
        kw["dask"] = dask
    with progress_bar(label or sc.name) as cb:
        streamed = econ.run_streamed(sc, progress=cb, **kw)
    bad = streamed.summary.attrs.get("nonfinite_members", 0)
    if bad:
        where = f"see {out}" if out is not None else "write them with --out FILE.nc"
        note(f"warning: {bad} of {members} member(s) have non-finite results (kept; {where})")
    return streamed


def load_and_run(
    scenario: str,
    inputs: Path | None,
    params: Path | None,
    months: int | None,
    *,
    members: int = 1,
    seed: int | None = None,
    baseline: str = "flat",
    workers: int = 1,
    base_year: str | None = None,
    out: Path | None = None,
    percentiles_only: bool = False,
    dask: str | None = None,
):
    """``run`` and ``pressure``: load the inputs (``--inputs``, ``--params``, ``--base-year``)
    and run one scenario on its base year (:func:`run_one`; ``out`` and ``percentiles_only``
    for its memory guard).

    The inputs are loaded once, for the base year the run uses (``--base-year``, else the
    scenario's own), not first for the most recent base year and then again for the scenario's
    (a third of the start-up of ``chokepoint run default``; docs/performance.md)."""
    opts = dict(members=members, seed=seed, baseline=baseline, workers=workers, dask=dask)
    year = run_base_year(scenario, base_year)
    return run_one(
        scenario,
        load_inputs(inputs, params, year),
        months,
        base_year=base_year,
        out=out,
        percentiles_only=percentiles_only,
        **opts,
    )


CHART_FORMATS = (".png", ".svg", ".pdf")


def check_plot_path(path: Path) -> None:
    """Charts need matplotlib (a core dependency; one line if it is missing). The file itself
    is checked by :func:`check_out` with :data:`CHART_FORMATS`."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        from econ.errors import InputError

        raise InputError("charts need matplotlib; fix: pip install matplotlib") from None


def save_chart(results: dict, path: Path, kind: str = "all", *, force: bool = False) -> None:
    """Draw ``kind`` (econ.report.charts) of ``results`` to ``path``, atomically (an existing
    file is replaced only with ``force``)."""
    from econ.report.charts import figure, save

    fmt = path.suffix.lstrip(".").lower()
    write_atomic(path, lambda p: save(figure(results, kind), p, fmt), force)
    note(f"wrote {path}")


def parse_grid(specs: list[str]) -> dict[str, tuple[float, ...]]:
    """``["NAME=V1,V2", ...]`` to a grid; one-line InputError on a malformed item."""
    from econ.errors import input_error

    grid: dict[str, tuple[float, ...]] = {}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        try:
            values = tuple(float(v) for v in rest.split(","))
        except ValueError:
            values = ()
        if not sep or not name.strip() or not values:
            raise input_error(
                "--grid",
                "malformed grid",
                found=spec,
                expected="NAME=V1,V2,... with numbers, e.g. import_demand_elasticity=0.5,1,2",
            )
        if name.strip() in grid:
            raise input_error(
                "--grid", f"{name.strip()} given twice", fix="give each parameter once"
            )
        grid[name.strip()] = values
    return grid
