"""The installed package is the package in the tree: pyproject lists every package directory."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package_directory() -> None:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        listed = set(tomllib.load(fh)["tool"]["setuptools"]["packages"])
    tree = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("econ", "cli")
        for p in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert tree - listed == set(), f"package directories missing from pyproject: {tree - listed}"
    assert listed - tree - {"econ.data"} == set(), "pyproject lists packages that do not exist"
