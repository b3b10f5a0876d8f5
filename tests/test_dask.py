"""Ensembles on dask: the same numbers as in this process, whatever the chunking (issue 19).

Run on a small in-process ``LocalCluster`` (threads, no worker processes: a worker process
would import the package and cost seconds of the suite's budget); a process cluster or a
remote scheduler runs the same tasks on pickled inputs (docs/performance.md, "Dask").
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import xarray as xr

import econ
from econ.io.inputs import inputs_for

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        # a free port for the scheduler's HTTP server (its default 8787 collided when two test
        # processes started a cluster at once: a warning, an error here)
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        dashboard_address=":0",
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_dask_identical_to_in_process_across_chunkings(default_inputs, client):
    sc = econ.load_scenario("transit-fee").with_months(1)
    kw = dict(inputs=inputs_for(sc, default_inputs), members=3, rng=7)
    ref = econ.run(sc, **kw, chunk_size=3)
    one = econ.run(sc, **kw, chunk_size=1, dask=client)
    whole = econ.run(sc, **kw, chunk_size=3, dask=client)
    xr.testing.assert_identical(ref, one)
    xr.testing.assert_identical(ref, whole)


def test_dask_rejects_an_unknown_target(default_inputs):
    with pytest.raises(ValueError, match="dask must be"):
        econ.run("default", inputs=default_inputs, members=2, months=1, dask=3.5)


def test_help_imports_no_heavy_module():
    """`chokepoint --help`, `--version` and `run --help` load neither dask nor xarray (nor numba,
    pandas, pymrio, matplotlib, scipy or statsmodels): start-up stays the CLI's own
    (docs/performance.md)."""
    code = (
        "import sys\n"
        "from cli.app import main\n"
        "for argv in (['--help'], ['--version'], ['run', '--help']):\n"
        "    sys.argv = ['chokepoint', *argv]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('dask', 'distributed', 'numba', 'xarray', 'pandas', 'pymrio', 'matplotlib',\n"
        "         'scipy', 'statsmodels')\n"
        "sys.stderr.write(repr(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().endswith("[]"), out.stderr[-300:]


def test_fit_grid_on_dask_gives_the_same_values(default_inputs, client):
    """The fit's grid chunks on dask give the in-process outcome values (chunks of 1 point)."""
    from econ.analysis.backtest import grid_values

    grid = {"adjust_medium_days": (20.0, 40.0)}
    eps = ["torkham-closure-2023-02"]  # 6 months
    points, ref = grid_values(default_inputs, grid, eps)
    points_d, got = grid_values(default_inputs, grid, eps, chunk=1, dask=client)
    pd.testing.assert_frame_equal(points, points_d)
    pd.testing.assert_frame_equal(ref, got)
    assert ref.attrs == got.attrs


def test_sensitivity_on_dask_gives_the_same_table(default_inputs, client):
    """The first-order ensemble's chunks, reduced to their members' metrics on the workers,
    give the in-process table exactly."""
    import pandas as pd

    from econ.analysis.sensitivity import sensitivity

    sc = econ.load_scenario("default").with_months(2)
    ref = sensitivity(sc, default_inputs, members=8, rng=2)
    got = sensitivity(sc, default_inputs, members=8, rng=2, dask=client)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
