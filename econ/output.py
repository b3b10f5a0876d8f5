"""Labelled results: wrap the model's numpy outputs in a self-describing xarray Dataset."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ._version import __version__

if TYPE_CHECKING:
    from .model import Model

#: name -> (dims after member/time, units, long_name, cell method)
VARIABLES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "trade_value": (("crossing", "commodity"), "USD",
                    "Trade value cleared through the crossing (imports and exports; see the direction coordinate)", "sum"),
    "baseline_trade_value": (("crossing", "commodity"), "USD",
                             "Trade value cleared in the no-measure baseline", "sum"),
    "customs_revenue": (("crossing", "commodity"), "USD", "Afghan customs revenue collected", "sum"),
    "baseline_customs_revenue": (("crossing", "commodity"), "USD",
                                 "Afghan customs revenue in the no-measure baseline", "sum"),
    "customs_revenue_afn": (("crossing", "commodity"), "AFN",
                            "Afghan customs revenue collected, at the base-year exchange rate", "sum"),
    "spoiled_value": (("crossing", "commodity"), "USD", "Value of cargo spoiled while queuing", "sum"),
    "revenue_lost_volume": (("crossing", "commodity"), "USD",
                            "Revenue lost because less is traded nationally (allocated by baseline crossing share)", "sum"),
    "revenue_diverted": (("crossing", "commodity"), "USD",
                         "Revenue lost (+) or gained (-) by re-routing between Afghan crossings; sums to ~0 nationally", "sum"),
    "revenue_delayed": (("crossing", "commodity"), "USD",
                        "Revenue held back in queues and re-routed cargo (+), or recovered as backlogs clear (-)", "sum"),
    "revenue_lost_spoilage": (("crossing", "commodity"), "USD",
                              "Revenue lost on cargo spoiled in queues", "sum"),
    "revenue_lost_evasion": (("crossing", "commodity"), "USD",
                             "Revenue lost to evasion and smuggling as the fiscal wedge rises", "sum"),
    "queue_trucks": (("crossing",), "truck", "Trucks queuing at the end of the period", "point"),
    "queue_trucks_max": (("crossing",), "truck", "Largest end-of-day queue within the period", "max"),
    "wait_days": (("crossing",), "day", "Mean expected wait for a truck joining the queue", "mean"),
    "route_trade_value": (("route", "commodity"), "USD", "Trade value arriving by route", "sum"),
    "baseline_route_trade_value": (("route", "commodity"), "USD",
                                   "Trade value arriving by route in the no-measure baseline", "sum"),
    "tariff_paid": (("route", "commodity"), "USD", "Fees and tariffs paid to the corridor country", "sum"),
    "guarantee_cost": (("route", "commodity"), "USD", "Cost of bank guarantees (fees and opportunity cost)", "sum"),
    "capital_locked": (("route", "commodity"), "USD", "Mean capital locked in guarantees over the period", "mean"),
    "extra_transport_cost": (("route", "commodity"), "USD",
                             "Extra freight and time cost: waits and delays beyond the route's baseline, plus the premium of a costlier route mix", "sum"),
    "demurrage_cost": (("crossing", "commodity"), "USD", "Truck demurrage while queuing", "sum"),
}

#: who-pays variables from :meth:`Model.ledger`: name -> (dims after member, units, long_name, cell method)
LEDGER_VARIABLES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "trader_cost": (("time", "group", "component"), "USD",
                    "Extra cost borne by the trader group, by component", "sum"),
    "trader_baseline_margin": (("time", "group"), "USD",
                               "Trader group's gross margin in the no-measure baseline", "sum"),
    "trader_capital_locked": (("time", "group"), "USD",
                              "Mean capital the trader group has locked in guarantees", "mean"),
    "trader_pressure": (("time", "group"), "1",
                        "Trader pressure: extra cost / baseline gross margin in the period", "mean"),
    "trader_pressure_accumulated": (("time", "group"), "month",
                                    "Accumulated pressure: months of baseline margin lost, decaying with "
                                    "pressure_half_life_days (end of period)", "point"),
    "protest_risk": (("time", "group"), "1",
                     "Protest risk: logistic in accumulated pressure (end of period)", "point"),
    "pakistan_cost": (("time", "pakistan_component"), "USD",
                      "Pakistan's ledger: exports to Afghanistan lost, transit handling lost, fees collected "
                      "(net cost = first + second - third)", "sum"),
    "pakistan_net_cost": (("time",), "USD",
                          "Net cost to Pakistan: exports lost + transit handling lost - fees collected", "sum"),
    "treasury_loss": (("time",), "USD",
                      "Afghan customs revenue lost against the baseline (baseline - scenario, national)", "sum"),
    "coercion_exchange_ratio": (("time",), "1",
                                "Afghan treasury revenue lost per USD of net cost to Pakistan in the period "
                                "(NaN where Pakistan's net cost is not positive)", "point"),
    "coercion_exchange_ratio_cumulative": (("time",), "1",
                                           "Cumulative Afghan treasury revenue lost per cumulative USD of net "
                                           "cost to Pakistan (NaN where that cost is not positive)", "point"),
    "leverage_half_life_months": ((), "month",
                                  "Months from the peak monthly revenue loss until it halves "
                                  "(NaN: no loss, or it does not halve within the horizon)", "point"),
}

DECOMPOSITION = ("revenue_lost_volume", "revenue_diverted", "revenue_delayed",
                 "revenue_lost_spoilage", "revenue_lost_evasion")


def build_dataset(model: "Model") -> xr.Dataset:
    """Build the result Dataset from a model that has been stepped."""
    inp = model.inputs
    o = dict(model.out)
    o["customs_revenue_afn"] = o["customs_revenue"] * inp.afn_per_usd
    coords = {
        "member": ("member", model.member_ids.astype(np.int32), {"long_name": "ensemble member"}),
        "time": ("time", model.periods.values, {"long_name": "start of reporting period"}),
        "days_in_period": ("time", model.days_in_period[: model.P].astype(np.int32),
                           {"units": "day", "long_name": "days simulated in the period"}),
        "crossing": ("crossing", np.array(model.crossing_ids, dtype=object), {"long_name": "border crossing"}),
        "crossing_name": ("crossing", inp.crossings["name"].to_numpy(object)),
        "crossing_country": ("crossing", inp.crossings["country"].to_numpy(object)),
        "commodity": ("commodity", np.array(model.commodity_ids, dtype=object), {"long_name": "commodity group"}),
        "direction": ("commodity", inp.commodities["direction"].to_numpy(object)),
        "route": ("route", np.array(model.route_ids, dtype=object), {"long_name": "route (gateway to crossing)"}),
        "route_crossing": ("route", inp.routes["crossing"].to_numpy(object)),
        "route_corridor": ("route", inp.routes["corridor"].to_numpy(object)),
        "route_kind": ("route", inp.routes["kind"].to_numpy(object)),
    }
    gm = model.groups
    from .ledger import COMPONENTS, PAKISTAN_COMPONENTS

    coords.update({
        "group": ("group", np.array(gm.ids, dtype=object), {"long_name": "trader group"}),
        "group_name": ("group", np.array(gm.names, dtype=object)),
        "group_kind": ("group", np.array(gm.kinds, dtype=object)),
        "margin_basis": ("group", np.array(gm.basis, dtype=object)),
        "working_capital": ("group", gm.working_capital(model.e0),
                            {"units": "USD", "long_name": "group's working capital at base-year turnover"}),
        "component": ("component", np.array(COMPONENTS, dtype=object), {"long_name": "trader cost component"}),
        "pakistan_component": ("pakistan_component", np.array(PAKISTAN_COMPONENTS, dtype=object),
                               {"long_name": "Pakistan ledger component"}),
    })
    data_vars = {}
    for name, (dims, units, long_name, method) in VARIABLES.items():
        arr = o[name][:, : model.P]
        data_vars[name] = (("member", "time") + dims, arr,
                           {"units": units, "long_name": long_name,
                            "cell_methods": f"time: {method}"})
    names = list(model.draws)
    coords["parameter"] = ("parameter", np.array(names, dtype=object),
                           {"long_name": "uncertain number drawn per member"})
    data_vars["parameter_value"] = (("member", "parameter"),
                                    np.stack([model.draws[n] for n in names], axis=1)
                                    if names else np.zeros((model.M, 0)),
                                    {"units": "various",
                                     "long_name": "Each member's value of every parameter (units as in parameters.toml; "
                                                  "per-commodity parameters: the global value that scales them) and of "
                                                  "each measure range (end dates in days from the scenario start)"})
    led = model.ledger()
    for name, (dims, units, long_name, method) in LEDGER_VARIABLES.items():
        attrs = {"units": units, "long_name": long_name}
        if "time" in dims:
            attrs["cell_methods"] = f"time: {method}"
        data_vars[name] = (("member",) + dims, led[name], attrs)
    ds = xr.Dataset(data_vars, coords=coords)
    sc = model.scenario
    ds.attrs = {
        "title": f"chokepoint result: {sc.name}",
        "Conventions": "CF-1.8",
        "source": f"chokepoint {__version__}",
        "package_version": __version__,
        "scenario": sc.name,
        "scenario_description": sc.description,
        "scenario_text": sc.text,
        "scenario_start": sc.start.isoformat(),
        "scenario_months": sc.months,
        "seed": model.seed,
        "members": model.M,
        "deterministic": int(model.deterministic),
        "freq": model.freq,
        "baseline": ("flat (FY1401 level)" if model.forecast is None
                     else f"forecast: {model.forecast.model} ({model.forecast.selection})"),
        "base_year": str(inp.base_year["label"]),
        "afn_per_usd": inp.afn_per_usd,
        "input_hashes": json.dumps(inp.hashes, sort_keys=True),
        "inputs_dir": str(inp.directory.name),
        "history": f"chokepoint {__version__}: run {sc.name} ({model.M} member(s), freq {model.freq})",
    }
    return ds


def revenue_gap(ds: xr.Dataset) -> xr.DataArray:
    """Baseline minus scenario revenue (USD), equal to the sum of the decomposition."""
    return ds["baseline_customs_revenue"] - ds["customs_revenue"]


def percentiles(ds: xr.Dataset, q: tuple[float, ...] = (5.0, 50.0, 95.0)) -> xr.Dataset:
    """Summarise an ensemble: every variable's percentiles across members.

    The ``member`` dimension is replaced by ``percentile`` (values in percent); NaNs (e.g.
    an undefined exchange ratio) are skipped. Attributes are kept, with
    ``members_summarised`` recording the ensemble size.
    """
    import warnings

    with warnings.catch_warnings():
        # an all-NaN slice (e.g. a ratio undefined in every member) gives NaN, as it should
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        out = ds.quantile([v / 100.0 for v in q], dim="member", skipna=True, keep_attrs=True)
    out = out.assign_coords(quantile=[float(v) for v in q]).rename(quantile="percentile")
    out["percentile"].attrs = {"units": "%", "long_name": "percentile across ensemble members"}
    out.attrs = dict(ds.attrs, members_summarised=int(ds.sizes["member"]))
    return out
