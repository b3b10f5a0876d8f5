"""Estimate behavioural parameters from the episode panel (``chokepoint calibrate``).

- :mod:`.panel`: read and validate the panel;
- :mod:`.design`: episodes, row selections and the model's value of each row;
- :mod:`.estimator`: PPML / OLS through the model, identification, inference;
- :mod:`.result`: the result object and the parameters file it writes.
"""

from .design import load_episode, simulate_panel
from .estimator import COV_TYPES, DEFAULT_PARAMS, ESTIMABLE, METHODS, estimate
from .panel import PANEL_FILE, default_panel_path, load_panel
from .result import CHI2_90, WEAK_SE_LOG, CalibrationResult, to_parameters_toml

__all__ = [
    "CHI2_90",
    "COV_TYPES",
    "CalibrationResult",
    "DEFAULT_PARAMS",
    "ESTIMABLE",
    "METHODS",
    "PANEL_FILE",
    "WEAK_SE_LOG",
    "default_panel_path",
    "estimate",
    "load_episode",
    "load_panel",
    "simulate_panel",
    "to_parameters_toml",
]
