"""chokepoint: Afghan customs revenue through its border crossings under coercive measures.

Public API::

    import econ
    inputs = econ.load_inputs()            # shipped defaults, validated and calibrated
    scenario = econ.load_scenario("default")
    ds = econ.run(scenario, inputs=inputs)  # xarray.Dataset, monthly

or step by step (to couple with another model)::

    model = econ.Model(inputs, scenario)
    while model.t < model.T:
        model.step()
    ds = model.result()
"""

from ._version import __version__
from .api import run
from .errors import InputError
from .inputs import Inputs, load_inputs
from .model import Model
from .output import DECOMPOSITION, VARIABLES, revenue_gap
from .scenario import Scenario, builtin_scenarios, load_scenario, parse_scenario

__all__ = [
    "__version__",
    "DECOMPOSITION",
    "InputError",
    "Inputs",
    "Model",
    "Scenario",
    "VARIABLES",
    "builtin_scenarios",
    "load_inputs",
    "load_scenario",
    "parse_scenario",
    "revenue_gap",
    "run",
]
