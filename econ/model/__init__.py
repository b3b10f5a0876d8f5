"""The model layer: a run's stages and the ensemble runner (numpy inside, xarray at the edge).

- :class:`Network`: the static network built from the inputs;
- :class:`Draws`: each member's parameter and measure values;
- :class:`Schedule`: the scenario compiled to wedges and capacities by day;
- :class:`Engine`: the state and the daily step;
- :class:`RunRecord`: period sums and the labelled Dataset;
- :class:`Model`: all of them for one run; :func:`run_members`: ensembles in chunks.
"""

from .draws import Draws
from .engine import Engine
from .ensemble import run_members
from .model import DayValues, Model, root_seed
from .network import Network
from .record import DECOMPOSITION, LEDGER_VARIABLES, VARIABLES, RunRecord, percentiles, revenue_gap
from .schedule import Schedule

__all__ = [
    "DECOMPOSITION",
    "Draws",
    "Engine",
    "LEDGER_VARIABLES",
    "DayValues",
    "Model",
    "Network",
    "RunRecord",
    "Schedule",
    "VARIABLES",
    "percentiles",
    "revenue_gap",
    "root_seed",
    "run_members",
]
