"""Shared fixtures: toy and default inputs, and editable copies of the defaults."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

import econ
from econ.io.inputs import default_inputs_dir

TOY_DIR = Path(__file__).parent / "data" / "toy"

# Property tests draw the same examples on every run (CI cannot pass or fail by luck; a failure
# reproduces); CHOKEPOINT_HYPOTHESIS=explore draws new ones, to look for failures locally.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("CHOKEPOINT_HYPOTHESIS", "ci"))

# Tests run the numpy engine, the reference, whatever the numba cache of the machine holds (a
# single run takes the compiled day when it is cached, so results would depend on the cache);
# tests/test_daykernel.py runs the compiled day explicitly.
os.environ.setdefault("CHOKEPOINT_KERNEL", "numpy")


@pytest.fixture(scope="session")
def toy_dir() -> Path:
    """Directory of the small hand-checkable toy inputs (2 crossings, 3 routes, 2 goods)."""
    assert (TOY_DIR / "crossings.csv").is_file()
    return TOY_DIR


#: the base year the editable copies of the default inputs hold (their values are FY1401's)
BROKEN_BASE_YEAR = "FY1401"


def flat_copy(dest: Path, base_year: str = BROKEN_BASE_YEAR) -> Path:
    """Copy the shipped inputs of one base year into ``dest`` as a flat directory of one base
    year (shared and per-year tables side by side; the layout before base years)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir()
    src = default_inputs_dir()
    for d in (src, src / "base_years" / base_year):
        for p in d.iterdir():
            if p.is_file() and p.suffix in (".csv", ".toml"):
                shutil.copy2(p, dest / p.name)
    return dest


@pytest.fixture
def broken_inputs(tmp_path: Path) -> Callable[[], Path]:
    """Factory: copy the default inputs of FY1401 into a flat tmp dir (:func:`flat_copy`).

    Returns the directory, so that a test can then break exactly one file.
    """

    def make() -> Path:
        return flat_copy(tmp_path / "inputs")

    return make


@pytest.fixture(scope="session")
def toy_inputs(toy_dir: Path) -> econ.Inputs:
    return econ.load_inputs(toy_dir)


@pytest.fixture(scope="session")
def default_inputs() -> econ.Inputs:
    return econ.load_inputs()
