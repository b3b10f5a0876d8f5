"""Regenerate the golden regression numbers: python tests/data/golden/regenerate.py

Run it only after a deliberate change of model behaviour, and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
TOY = HERE.parent / "toy"


def golden_numbers() -> dict[str, dict[str, list[float]]]:
    import econ

    inputs = econ.load_inputs(TOY)
    out = {}
    for label, kw in (("deterministic", {}), ("seeded3", {"members": 3, "rng": 2024})):
        ds = econ.run(econ.load_scenario(TOY / "scen" / "closure.toml"), inputs=inputs, **kw)
        out[label] = {
            v: ds[v].sum([d for d in ds[v].dims if d != "member"]).values.tolist()
            for v in sorted(ds.data_vars)
        }
    return out


if __name__ == "__main__":
    (HERE / "toy_closure.json").write_text(
        json.dumps(golden_numbers(), indent=1, sort_keys=True) + "\n"
    )
    print("wrote", HERE / "toy_closure.json")
