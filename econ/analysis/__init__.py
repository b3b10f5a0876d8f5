"""Analyses built on the model: backtests against documented episodes, sensitivity, calibration
from the episode panel, the statsmodels revenue forecast, and summary tables. They use the
model and io layers and never import the public face (:mod:`econ`, :mod:`econ.api`)."""
