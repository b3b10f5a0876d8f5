"""Benchmarks of issue 19: the jobs users wait on, as whole processes, against absolute targets.

    python benchmarks/bench_run.py [--repeat 3] [--slow] [--only NAME ...] [--kernel numpy|numba]
    python benchmarks/bench_run.py --before /path/to/main-checkout [--only NAME ...]

Every row runs the CLI (or ``python -c`` for library calls) in a subprocess and reports the
median wall time of ``--repeat`` runs, the CPU time (user + system, the process and its
children) and the peak memory: the largest sum of the resident set sizes of the process and
its descendants, sampled every 20 ms from ``/proc`` (Linux; elsewhere ``ru_maxrss`` of the
largest single process). ``--slow`` adds the rows that take minutes (``backtest --fit``,
the 10,000-member sweep and a 1,000-member sweep on a dask LocalCluster of 1 and of 2 worker
processes, with the speed-up); they run once. The table ends with the machine (cores, load
average before and after) and the numpy reference of the old ensemble ratio: bare numpy
additions on the engine's array shapes, which is what vectorising over members buys any
numpy code (docs/performance.md).
"""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = shutil.which("chokepoint") or str(Path(sys.executable).with_name("chokepoint"))

# name, command, target wall (s), target memory (GB), slow (None: no target)
JOBS: list[tuple[str, list[str], float | None, float | None, bool]] = [
    ("chokepoint --help", [CLI, "--help"], 0.3, None, False),
    ("chokepoint run default (whole process)", [CLI, "-q", "run", "default"], 1.0, None, False),
    (
        "1,000 members x 24 months, 2 workers",
        [CLI, "-q", "run", "default", "--months", "24", "-n", "1000", "--workers", "2"],
        5.0,
        1.5,
        False,
    ),
    (
        "1,000 members x 24 months, 2 workers, percentiles streamed",
        [CLI, "-q", "run", "default", "--months", "24", "-n", "1000", "--workers", "2"]
        + ["--percentiles-only", "--out", str(Path(tempfile.gettempdir()) / "bench-p1k.nc")]
        + ["--force"],
        None,
        None,
        False,
    ),
    ("calibrate", [CLI, "-q", "calibrate"], 8.0, None, False),
    ("sensitivity (default members)", [CLI, "-q", "sensitivity"], 3.0, None, False),
    ("backtest --fit (shipped grid)", [CLI, "-q", "backtest", "--fit"], 60.0, 2.0, True),
    (
        "10,000 members x 24 months, 2 workers, tables only (summaries streamed)",
        [CLI, "-q", "run", "default", "--months", "24", "-n", "10000", "--workers", "2"],
        60.0,
        2.0,
        True,
    ),
    (
        "10,000 members x 24 months, 2 workers, percentiles streamed",
        [CLI, "-q", "run", "default", "--months", "24", "-n", "10000", "--workers", "2"]
        + ["--percentiles-only", "--out", str(Path(tempfile.gettempdir()) / "bench-p.nc")]
        + ["--force"],
        60.0,
        2.0,
        True,
    ),
]
THROUGHPUT_TARGET = 150_000  # member-days per CPU-second, ensembles of >= 100 members
DASK_MEMBERS, DASK_TARGET = 1000, 1.6  # members of the dask sweep; speed-up of 2 workers over 1
DASK_SNIPPET = """
import econ
from distributed import Client, LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers={n}, threads_per_worker=1, dashboard_address=None) as cl:
        with Client(cl) as c:
            econ.run("default", months=24, members={m}, rng=1, chunk_size=50, dask=c)
"""


def _tree_rss(pid: int) -> int:
    """Resident set size (bytes) of ``pid`` and its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


#: the working directory of every run: an empty one, because ``python -m``/``-c`` put the
#: working directory first on sys.path, ahead of PYTHONPATH (run from a checkout, the "before"
#: of --before and the other version of --module were that checkout's own code until the
#: seventh pass of issue 19)
CWD = tempfile.mkdtemp(prefix="bench-run-cwd-")
atexit.register(shutil.rmtree, CWD, True)


def code_of(env: dict[str, str]) -> Path:
    """The checkout whose ``econ`` and ``cli`` a run under ``env`` imports."""
    code = "import cli, econ; print(econ.__file__); print(cli.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=CWD, capture_output=True, text=True, check=True
    ).stdout.split()
    roots = {Path(f).resolve().parents[1] for f in out}
    if len(roots) != 1:
        sys.exit(f"econ and cli come from different places: {out}")
    return roots.pop()


def measure(
    cmd: list[str], env: dict[str, str] | None = None, stdout=subprocess.DEVNULL
) -> tuple[float, float, float]:
    """Wall time (s), CPU time (s) and peak memory (GB) of one run of ``cmd`` (its standard
    output to ``stdout``, a file or DEVNULL), in the empty directory :data:`CWD`."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=CWD)
    peak = 0
    linux = Path("/proc").is_dir()
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if linux:
            peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-400:]}")
    if proc.stderr:
        proc.stderr.close()
    peak = max(peak, ru.ru_maxrss * 1024)
    return wall, ru.ru_utime + ru.ru_stime, peak / 1e9


def numpy_reference(cells: int, members: int, chunk: int, days: int, ops: int = 20) -> float:
    """Ensemble-to-single time ratio of ``ops`` bare ``np.add(a, b, out=c)`` per day on
    (members, cells) arrays in chunks of ``chunk`` members, against the same on one member."""
    import numpy as np

    def loop(m: int) -> float:
        a, b, c = np.ones((m, cells)), np.ones((m, cells)), np.empty((m, cells))
        t = time.perf_counter()
        for _ in range(days * ops):
            np.add(a, b, out=c)
        return time.perf_counter() - t

    sizes = [min(chunk, members - i) for i in range(0, members, chunk)]
    one = min(loop(1) for _ in range(3))
    many = min(sum(loop(m) for m in sizes) for _ in range(2))
    return many / one


def dask_rows() -> None:
    """The same sweep on a LocalCluster of 1 and of 2 worker processes: the speed-up."""
    walls = {}
    for n in (1, 2):
        code = DASK_SNIPPET.format(n=n, m=DASK_MEMBERS)
        wall, cpu, mem = measure([sys.executable, "-c", code])
        walls[n] = wall
        print(
            f"| dask LocalCluster, {n} worker(s), {DASK_MEMBERS:,} members | {wall:.2f} s "
            f"(CPU {cpu:.1f} s) | {mem:.2f} GB | | |",
            flush=True,
        )
    ratio = walls[1] / walls[2]
    print(
        f"| dask speed-up, 2 workers over 1 | {ratio:.2f}x | | >= {DASK_TARGET}x | "
        f"{'met' if ratio >= DASK_TARGET else 'MISSED'} |",
        flush=True,
    )


def compare(args: argparse.Namespace) -> None:
    """Rows timed alternately on ``args.before`` and on this checkout (before, after, after,
    before, ...: a drift of the machine's speed weighs on both alike); medians of each, and
    whether every run of both printed the same output."""
    env_before = dict(os.environ, PYTHONPATH=str(Path(args.before).resolve()))
    here = str(Path(__file__).resolve().parents[1])
    env_here = dict(os.environ, PYTHONPATH=here)
    envs = {"before": env_before, "after": env_here}
    for k, root in (("before", Path(args.before)), ("after", Path(here))):
        if code_of(envs[k]) != root.resolve():
            sys.exit(f"the {k} runs would import {code_of(envs[k])}, not {root}")
    print(
        "| job | before: wall (CPU) | after: wall (CPU) | after / before "
        "| peak memory before / after | output |"
    )
    print("|---|---|---|---|---|---|", flush=True)
    load0 = os.getloadavg()
    for name, cmd, _t, _m, slow in JOBS:
        if args.only and not any(s in name for s in args.only):
            continue
        if slow and not args.slow:
            continue
        cmd = [sys.executable, "-m", "cli.app", *cmd[1:]]
        runs: dict[str, list] = {"before": [], "after": []}
        outputs = set()
        n = 1 if slow else args.repeat
        for i in range(n):
            for k in ("before", "after") if i % 2 == 0 else ("after", "before"):
                with tempfile.TemporaryFile() as out:
                    runs[k].append(measure(cmd, envs[k], stdout=out))
                    out.seek(0)
                    outputs.add(out.read())
        walls = {k: statistics.median(x[0] for x in runs[k]) for k in runs}
        cells = []
        for k in ("before", "after"):
            cpu = statistics.median(x[1] for x in runs[k])
            cells.append(f"{walls[k]:.2f} s ({cpu:.1f} s)")
        mem = " / ".join(f"{max(x[2] for x in runs[k]):.2f} GB" for k in ("before", "after"))
        same = "identical" if len(outputs) == 1 else f"{len(outputs)} different"
        ratio = walls["after"] / walls["before"]
        print(f"| {name} | {cells[0]} | {cells[1]} | {ratio:.2f} | {mem} | {same} |", flush=True)
    load1 = os.getloadavg()
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load0[0]:.1f} before, {load1[0]:.1f} after; "
        f"{args.repeat} alternating runs each"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3, help="runs of each fast row (median)")
    ap.add_argument("--slow", action="store_true", help="add backtest --fit and 10,000 members")
    ap.add_argument("--only", nargs="*", help="rows whose name contains one of these")
    ap.add_argument(
        "--module",
        action="store_true",
        help="run python -m cli.app instead of the installed chokepoint (a checkout on PYTHONPATH)",
    )
    ap.add_argument(
        "--before",
        metavar="CHECKOUT",
        help="also time the CLI of another checkout (PYTHONPATH=CHECKOUT python -m cli.app, "
        "e.g. a `git worktree add` of an older commit), alternating run by run with this one "
        "(before, after, after, before, ...), and print both, their ratio and whether every "
        "run printed the same output (a fair before/after on a machine whose speed drifts); "
        "the numpy reference is skipped",
    )
    ap.add_argument(
        "--kernel",
        choices=("numpy", "numba"),
        help="the daily step every row runs (CHOKEPOINT_KERNEL); default: the CLI's own choice "
        "(the compiled day for ensembles when numba is installed, for single runs when cached)",
    )
    args = ap.parse_args()
    env = None if args.kernel is None else dict(os.environ, CHOKEPOINT_KERNEL=args.kernel)
    if args.before:
        compare(args)
        return
    if not args.module and not Path(CLI).exists():
        sys.exit("chokepoint is not installed: pip install -e . (or use --module)")
    load0 = os.getloadavg()
    print(f"kernel: {args.kernel or 'the CLI default'}\n")
    print("| job | median wall (range; CPU) | peak memory | target | |")
    print("|---|---|---|---|---|", flush=True)
    lines: list[str] = []
    throughput = None
    for name, cmd, t_target, m_target, slow in JOBS:
        if args.only and not any(s in name for s in args.only):
            continue
        if slow and not args.slow:
            lines.append(f"| {name} | not run (--slow) | | | |")
            print(lines[-1], flush=True)
            continue
        if args.module:  # the CLI of the checkout on PYTHONPATH (e.g. a "before" tree)
            cmd = [sys.executable, "-m", "cli.app", *cmd[1:]]
        runs = [measure(cmd, env) for _ in range(1 if slow else args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        mem = max(r[2] for r in runs)
        ok = (t_target is None or wall <= t_target) and (m_target is None or mem <= m_target)
        target = ", ".join(
            [f"<= {t_target:g} s"] * (t_target is not None)
            + [f"<= {m_target:g} GB"] * (m_target is not None)
        )
        spread = f"{min(r[0] for r in runs):.2f}-{max(r[0] for r in runs):.2f}"
        lines.append(
            f"| {name} | {wall:.2f} s ({spread}; CPU {cpu:.1f} s) | {mem:.2f} GB | {target} | "
            f"{'met' if ok else 'MISSED'} |"
        )
        print(lines[-1], flush=True)
        if name[0].isdigit():  # an ensemble: "1,000 members ..."
            n = int(name.split()[0].replace(",", ""))
            throughput = n * 731 / cpu  # whole process: includes start-up and input loading
            lines.append(
                f"| throughput ({name}) | {throughput / 1e3:.1f}k member-days per CPU-s "
                f"| | >= {THROUGHPUT_TARGET / 1e3:.0f}k | "
                f"{'met' if throughput >= THROUGHPUT_TARGET else 'MISSED'} |"
            )
            print(lines[-1], flush=True)
    if args.slow and (not args.only or any("dask" in s for s in args.only)):
        dask_rows()
    load1 = os.getloadavg()
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load0[0]:.1f} before, {load1[0]:.1f} after"
    )
    import econ

    inputs = econ.load_inputs()
    cells = econ.Model(inputs, econ.load_scenario("default")).network.cells.n_cells
    ref = numpy_reference(cells, 1000, 100, days=731)
    print(
        f"numpy reference: bare numpy additions on 1000 x {cells} cells in chunks of 100 take "
        f"{ref:.0f}x the time on 1 x {cells} on this machine"
    )


if __name__ == "__main__":
    main()
