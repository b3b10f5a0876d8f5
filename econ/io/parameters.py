"""Parameters files: a subset of ``parameters.toml`` that replaces the inputs' parameters
(``chokepoint run --params FILE``, written by ``chokepoint calibrate --out``)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import input_error
from ..spec.inputs import Inputs
from ..spec.parameters import RANGES, Parameter, check_table, parse_parameters
from .toml import read_toml

log = logging.getLogger(__name__)


def _as_table(p: Parameter) -> dict[str, Any]:
    t: dict[str, Any] = {
        "value": p.value,
        "dist": p.dist,
        "unit": p.unit,
        "source": p.source,
        "description": p.description,
    }
    if p.p05 is not None:
        t["p05"] = p.p05
    if p.p95 is not None:
        t["p95"] = p.p95
    if p.by_commodity:
        t["by_commodity"] = dict(p.by_commodity)
    if p.prior is not None:
        t["prior"] = list(p.prior)
    return t


def _check_carried(file: str, name: str, par: Parameter, tab: dict[str, Any]) -> None:
    """Percentiles and per-commodity values carried over to a new value stay in range."""
    lo, hi = RANGES[name]
    carried = {}
    if "p05" not in tab and "p95" not in tab:
        carried.update(p05=par.p05, p95=par.p95)
    if "by_commodity" not in tab:
        carried.update({f"by_commodity.{k}": v for k, v in par.by_commodity.items()})
    for field, v in carried.items():
        if v is not None and not lo <= v <= hi:
            raise input_error(
                file,
                f"[{name}] value {par.value:g} scales the inputs' {field} to {v:g}, "
                f"outside the allowed range [{lo:g}, {hi:g}]",
                fix=f"give {field.split('.')[0]} with the new value",
            )


def apply_parameters_file(inputs: Inputs, path: str | Path) -> Inputs:
    """Inputs with the parameters in a TOML file (a subset of ``parameters.toml``) replaced.

    Each table names a parameter of the inputs and gives the fields to replace. When
    ``value`` changes and ``p05``/``p95`` or ``by_commodity`` are not given, the inputs'
    percentiles and per-commodity values are carried over scaled by the ratio of the new
    value to the old one (shifted by the difference for a normal distribution), so that the
    new value takes effect everywhere. The merged parameter set is validated with the rules
    of ``parameters.toml``; errors are one-line :class:`InputError` naming the file.
    """
    p = Path(path)
    file = p.name
    data, _ = read_toml(p, what="parameters file", fix="pass an existing TOML file with --params")
    if not data:
        log.warning(
            "%s: no parameter tables (e.g. calibrate identified nothing): inputs unchanged", file
        )
    known = inputs.parameters
    merged = {n: _as_table(q) for n, q in known.items()}
    for name, tab in data.items():
        check_table(file, name, tab)  # known name, strict numbers in range, before any use
        if name not in known:
            raise input_error(
                file,
                f"unknown parameter [{name}] for these inputs",
                expected=f"one of {', '.join(sorted(known))}",
                fix="correct the name, or add it to the inputs' parameters.toml",
            )
        par = known[name]
        value = tab.get("value")
        if value is not None and value != par.value:
            # the one rule for a new central value: spread and per-commodity values follow it
            if isinstance(tab.get("dist"), str):
                par = replace(par, dist=tab["dist"])
            par = par.with_value(
                value,
                keep_spread="p05" not in tab and "p95" not in tab,
                keep_by_commodity="by_commodity" not in tab,
            )
            _check_carried(file, name, par, tab)
            if par.by_commodity and "by_commodity" not in tab:
                log.info("%s: [%s] per-commodity values scaled to the new value", file, name)
        merged[name] = {**_as_table(par), **tab}
        log.info("%s: parameter %s set to %s", file, name, merged[name].get("value"))
    params = parse_parameters(merged, file, inputs.commodities.index)
    out = inputs.with_parameters(params)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    return replace(out, hashes={**out.hashes, f"params:{file}": digest})
