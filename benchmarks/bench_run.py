"""Benchmarks: compute time of the default scenario, of a 1,000-member ensemble, and
start-up time of the CLI.

    python benchmarks/bench_run.py [--members 1000] [--workers 2] [--chunk-size 100] [--repeat 2]

Targets: default scenario over 24 months <= 0.5 s (issue 4); `chokepoint --help` <= 0.3 s
(issue 4); a 1,000-member ensemble over 24 months <= 50x one deterministic run (issue 6).
Prints one line per benchmark with the best of several repeats and whether it met its target.
The ensemble runs on one process and on ``--workers`` processes (default: all cores, at
most 2); its chunk size is the library default unless ``--chunk-size`` is given.

It also measures a reference for the ensemble ratio on this machine: the same ratio for a
loop of bare in-place numpy additions on arrays of the engine's shape (members × the F
route × commodity cells the loop works on), chunked as the ensemble is. That is what
vectorising over members gives any numpy code whose work is on those cells: the model
cannot beat it by much, and a target below it cannot be met by vectorisation in numpy
(docs/uncertainty.md, "Speed").
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import subprocess
import sys
import time


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument(
        "--chunk-size", type=int, default=None, help="members per chunk (default: econ.run's)"
    )
    ap.add_argument(
        "--repeat", type=int, default=2, help="repeats of each ensemble run (the best is kept)"
    )
    args = ap.parse_args()
    import econ

    inputs = econ.load_inputs()
    sc = econ.load_scenario("default").with_months(24)
    econ.run(sc, inputs=inputs)  # warm-up
    t_run = best_of(lambda: econ.run(sc, inputs=inputs))
    exe = shutil.which("chokepoint")
    cmd = [exe, "--help"] if exe else [sys.executable, "-m", "cli.app", "--help"]
    t_help = best_of(lambda: subprocess.run(cmd, capture_output=True, check=True))
    rows = [
        ("default scenario, 24 months (compute)", t_run, 0.5, "s"),
        ("chokepoint --help (process)", t_help, 0.3, "s"),
    ]
    chunk = {} if args.chunk_size is None else {"chunk_size": args.chunk_size}
    for workers in sorted({1, args.workers}):
        t_ens = best_of(
            lambda w=workers: econ.run(
                sc, inputs=inputs, members=args.members, rng=1, workers=w, **chunk
            ),
            repeat=args.repeat,
        )
        rows.append(
            (
                f"{args.members} members, {workers} process(es): x deterministic",
                t_ens / t_run,
                50.0,
                "x",
            )
        )
        print(
            f"  ({args.members} members on {workers} process(es): {t_ens:.1f} s; "
            f"one member costs {t_ens / args.members * 1e3:.1f} ms = "
            f"1/{t_run * args.members / t_ens:.1f} of a run)"
        )
    chunk_size = args.chunk_size or inspect.signature(econ.run).parameters["chunk_size"].default
    cells = econ.Model(inputs, sc).network.cells.n_cells
    ref = numpy_reference(cells, args.members, chunk_size, days=(sc.end - sc.start).days)
    print(
        f"  (reference: bare numpy additions on {args.members} x {cells} cells in chunks of "
        f"{chunk_size} take {ref:.0f}x the time on 1 x {cells} on this machine)"
    )
    for name, t, target, unit in rows:
        print(
            f"{name:55s} {t:8.3f} {unit}   target <= {target} {unit}   "
            f"{'ok' if t <= target else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
