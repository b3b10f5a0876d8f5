"""Default input data shipped with chokepoint (installed as ``econ.data``)."""
