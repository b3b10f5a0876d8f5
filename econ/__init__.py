"""chokepoint: Afghan customs revenue through its border crossings under coercive measures.

Public API::

    import econ
    inputs = econ.load_inputs()            # shipped defaults, validated and calibrated
    scenario = econ.load_scenario("default")
    ds = econ.run(scenario, inputs=inputs)  # xarray.Dataset, monthly

or step by step (to couple with another model)::

    model = econ.Model(inputs, scenario)
    while model.t < model.T:
        day = model.step()                 # DayValues: date, member, crossing labels
    ds = model.result()

Scenarios can be built in Python from the measure classes (:class:`Tariff`,
:class:`BankGuarantee`, :class:`Restriction`, :class:`Closure`, :class:`Delay`,
:class:`AfghanDuty`) and changed during a run (:meth:`Model.add_measure`,
:meth:`Model.change_measure`); docs/coupling.md has a worked example.

Layers (docs/model.md, "Map of the code"): :mod:`econ.equations` (pure numpy) ←
:mod:`econ.spec` (validated records) ← :mod:`econ.model` (network, draws, schedule, engine,
run record, ensembles) ← :mod:`econ.io` (files) and :mod:`econ.analysis` (backtests,
sensitivity, calibration, forecast, tables) ← :mod:`econ.api` ← the ``cli`` package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# The public names are imported on first use (PEP 562), so that ``import econ`` (and with it
# ``chokepoint --version`` and any ``econ.<submodule>`` import) does not load xarray, pandas
# and the model: start-up is paid only by the commands that simulate (docs/performance.md).
_LAZY = {
    "run": "api",
    "run_streamed": "api",
    "InputError": "errors",
    "load_inputs": "io.inputs",
    "builtin_scenarios": "io.scenarios",
    "load_scenario": "io.scenarios",
    "parse_scenario": "io.scenarios",
    "DECOMPOSITION": "model",
    "VARIABLES": "model",
    "DayValues": "model",
    "Draws": "model",
    "Engine": "model",
    "Model": "model",
    "Network": "model",
    "RunRecord": "model",
    "Schedule": "model",
    "revenue_gap": "model",
    "Inputs": "spec.inputs",
    "AfghanDuty": "spec.scenario",
    "BankGuarantee": "spec.scenario",
    "Closure": "spec.scenario",
    "Delay": "spec.scenario",
    "Measure": "spec.scenario",
    "Restriction": "spec.scenario",
    "Scenario": "spec.scenario",
    "Tariff": "spec.scenario",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from .api import run, run_streamed
    from .errors import InputError
    from .io.inputs import load_inputs
    from .io.scenarios import builtin_scenarios, load_scenario, parse_scenario
    from .model import (
        DECOMPOSITION,
        VARIABLES,
        DayValues,
        Draws,
        Engine,
        Model,
        Network,
        RunRecord,
        Schedule,
        revenue_gap,
    )
    from .spec.inputs import Inputs
    from .spec.scenario import (
        AfghanDuty,
        BankGuarantee,
        Closure,
        Delay,
        Measure,
        Restriction,
        Scenario,
        Tariff,
    )


def __getattr__(name: str) -> Any:
    """Import a public name (or a subpackage such as ``econ.model``) on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


_SUBMODULES = frozenset(
    {"analysis", "api", "economy", "equations", "errors", "io", "model", "report", "spec"}
)

__all__ = [
    "__version__",
    "AfghanDuty",
    "BankGuarantee",
    "Closure",
    "DayValues",
    "Delay",
    "Measure",
    "Restriction",
    "Tariff",
    "DECOMPOSITION",
    "Draws",
    "Engine",
    "InputError",
    "Inputs",
    "Model",
    "Network",
    "RunRecord",
    "Scenario",
    "Schedule",
    "VARIABLES",
    "builtin_scenarios",
    "load_inputs",
    "load_scenario",
    "parse_scenario",
    "revenue_gap",
    "run",
    "run_streamed",
]
