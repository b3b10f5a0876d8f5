"""The validated records the model consumes: inputs, scenarios and their measures,
parameters, episodes. Reading them from files is :mod:`econ.io`'s job."""

from .episode import Episode, Outcome
from .inputs import Inputs
from .parameters import REQUIRED, Parameter, parse_parameters
from .scenario import (
    MEASURE_NUMBERS,
    AfghanDuty,
    BankGuarantee,
    Closure,
    Delay,
    Restriction,
    Scenario,
    Tariff,
    add_months,
    central,
    measure_fields,
    measure_key,
)

__all__ = [
    "AfghanDuty",
    "BankGuarantee",
    "Closure",
    "Delay",
    "Episode",
    "Inputs",
    "MEASURE_NUMBERS",
    "Outcome",
    "Parameter",
    "REQUIRED",
    "Restriction",
    "Scenario",
    "Tariff",
    "add_months",
    "central",
    "measure_fields",
    "measure_key",
    "parse_parameters",
]
