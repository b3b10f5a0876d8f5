"""Reading and writing files: input tables, scenarios, episodes, parameters files, results.

Every reader validates at the boundary and raises one-line :class:`econ.InputError`s; writers
replace their target atomically."""

from .episodes import builtin_episodes, load_episode, parse_episode
from .inputs import default_inputs_dir, load_inputs
from .parameters import apply_parameters_file
from .scenarios import builtin_scenarios, load_scenario, parse_scenario

__all__ = [
    "apply_parameters_file",
    "builtin_episodes",
    "builtin_scenarios",
    "default_inputs_dir",
    "load_episode",
    "load_inputs",
    "load_scenario",
    "parse_episode",
    "parse_scenario",
]
