"""Benchmarks: compute time of the default scenario and start-up time of the CLI.

    python benchmarks/bench_run.py

Targets (issue 4): default scenario over 24 months <= 0.5 s; `chokepoint --help` <= 0.3 s.
Prints one line per benchmark with the best of several repeats and whether it met its target.
"""

from __future__ import annotations

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


def main() -> None:
    import econ

    inputs = econ.load_inputs()
    sc = econ.load_scenario("default").with_months(24)
    econ.run(sc, inputs=inputs)  # warm-up
    t_run = best_of(lambda: econ.run(sc, inputs=inputs))
    exe = shutil.which("chokepoint")
    cmd = [exe, "--help"] if exe else [sys.executable, "-m", "cli.app", "--help"]
    t_help = best_of(lambda: subprocess.run(cmd, capture_output=True, check=True))
    for name, t, target in (("default scenario, 24 months (compute)", t_run, 0.5),
                            ("chokepoint --help (process)", t_help, 0.3)):
        print(f"{name:45s} {t:7.3f} s   target <= {target} s   {'ok' if t <= target else 'SLOW'}")


if __name__ == "__main__":
    main()
