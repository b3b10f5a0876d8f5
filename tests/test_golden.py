"""Golden regression of a small seeded run (regenerate with tests/data/golden/regenerate.py)."""

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "data" / "golden"


def _regen():
    spec = importlib.util.spec_from_file_location("regen", HERE / "regenerate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_golden_toy_closure():
    expected = json.loads((HERE / "toy_closure.json").read_text())
    got = _regen().golden_numbers()
    assert got.keys() == expected.keys()
    for label in expected:
        assert got[label].keys() == expected[label].keys()
        for var, values in expected[label].items():
            assert got[label][var] == pytest.approx(values, rel=1e-9, abs=1e-6), f"{label}/{var}"
