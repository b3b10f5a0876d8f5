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

from ._version import __version__
from .api import run
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
]
