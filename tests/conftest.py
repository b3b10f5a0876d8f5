"""Shared fixtures: toy and default inputs, and editable copies of the defaults."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import econ
from econ.io.inputs import default_inputs_dir

TOY_DIR = Path(__file__).parent / "data" / "toy"


@pytest.fixture(scope="session")
def toy_dir() -> Path:
    """Directory of the small hand-checkable toy inputs (2 crossings, 3 routes, 2 goods)."""
    assert (TOY_DIR / "crossings.csv").is_file()
    return TOY_DIR


@pytest.fixture
def broken_inputs(tmp_path: Path) -> Callable[[], Path]:
    """Factory: copy the default input tables (*.csv, *.toml; no subdirs) into a tmp dir.

    Returns the directory, so that a test can then break exactly one file.
    """

    def make() -> Path:
        dest = tmp_path / "inputs"
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir()
        for p in default_inputs_dir().iterdir():
            if p.is_file() and p.suffix in (".csv", ".toml"):
                shutil.copy2(p, dest / p.name)
        return dest

    return make


@pytest.fixture(scope="session")
def toy_inputs(toy_dir: Path) -> econ.Inputs:
    return econ.load_inputs(toy_dir)


@pytest.fixture(scope="session")
def default_inputs() -> econ.Inputs:
    return econ.load_inputs()
