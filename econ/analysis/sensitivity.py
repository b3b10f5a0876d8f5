"""Which assumptions drive the answer: one-at-a-time swings and variance-based indices.

Two metrics per run (member): the cumulative Afghan treasury loss over the horizon (USD)
and the peak trader pressure (the largest monthly extra cost ÷ baseline margin of any
group). Two rankings:

* **One at a time (OAT)**: each uncertain number is set to its 5th and then its 95th
  percentile with every other number at its central value. All 2n + 1 runs go through
  the engine as one vectorised ensemble (``Model(values=...)``). The swing is
  |metric(p95) − metric(p05)|.
* **Variance-based first-order index** S1 = Var(E[Y | X_i]) / Var(Y), estimated from an
  ensemble by binning each input into equal-count bins (the "binning" estimator). With
  N members and B bins, an input with no effect still scores about (B − 1)/(N − 1)
  (reported as ``S1_noise``); read indices below it as zero.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..io.inputs import inputs_for
from ..model import Draws, Model
from ..model.ensemble import member_chunks
from ..spec.inputs import Inputs
from ..spec.scenario import Scenario, measure_fields, measure_key

log = logging.getLogger(__name__)

METRICS = {
    "revenue_loss": ("USD", "cumulative Afghan customs revenue lost over the horizon"),
    "peak_pressure": ("1", "largest monthly trader pressure of any group"),
}


#: the result variables the two metrics read (Model.result builds only these)
METRIC_VARIABLES = ("treasury_loss", "trader_pressure")


def metrics(ds: xr.Dataset) -> pd.DataFrame:
    """The two sensitivity metrics per member."""
    loss = ds["treasury_loss"].sum("time")
    peak = ds["trader_pressure"].max(["time", "group"])
    return pd.DataFrame(
        {"revenue_loss": loss.values, "peak_pressure": peak.values},
        index=pd.Index(ds["member"].values, name="member"),
    )


def member_metrics(ds: xr.Dataset) -> xr.Dataset:
    """A chunk of the ensemble reduced to what the first-order indices read: each member's
    parameter values and two metrics (applied where the chunk runs, so that the ensemble's
    results are never held: a few hundred bytes per member instead of about 1 MB)."""
    met = metrics(ds)
    return xr.Dataset(
        {
            "parameter_value": ds["parameter_value"],
            **{k: ("member", met[k].to_numpy()) for k in METRICS},
        },
        attrs=ds.attrs,
    )


def uncertain_numbers(inputs: Inputs, scenario: Scenario) -> dict[str, tuple[float, float, str]]:
    """Every uncertain number with its 5th and 95th percentile and unit.

    Parameters with a non-fixed distribution, and measure fields given as ``[low, high]``
    (uniform: low + 5% and 95% of the range; end dates as days from the scenario start).
    """
    out: dict[str, tuple[float, float, str]] = {}
    for name in sorted(inputs.parameters):
        par = inputs.parameters[name]
        if par.dist == "fixed" or par.p05 is None:
            continue
        lo, hi = (float(v) for v in par.quantile(np.array([0.05, 0.95])))
        out[name] = (lo, hi, par.unit)
    for i, m in enumerate(scenario.measures):
        for f in measure_fields(m):
            raw = getattr(m, f, None)
            if not isinstance(raw, tuple):
                continue
            a, b = raw
            if isinstance(a, dt.date):
                a, b = (a - scenario.start).days, (b - scenario.start).days
                unit = "day from start"
            else:
                unit = "1"
            out[measure_key(i, m.type, f)] = (a + 0.05 * (b - a), a + 0.95 * (b - a), unit)
    return out


def one_at_a_time(
    scenario: Scenario,
    inputs: Inputs,
    *,
    freq: str = "MS",
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """OAT swings of both metrics, one row per uncertain number (unsorted).

    Columns: ``unit``, ``low``, ``high`` (the 5th/95th percentile values), and per metric
    ``<metric>_low``, ``<metric>_high``, ``<metric>_swing``; the central run's metrics
    are in the frame's ``attrs["central"]``.
    """
    nums = uncertain_numbers(inputs, scenario)
    names = list(nums)
    M = 1 + 2 * len(names)
    central = Draws.build(
        inputs.parameters,
        scenario,
        tuple(inputs.commodities.index),
        member_ids=np.arange(1),
        seed=0,
        deterministic=True,
    )
    values: dict[str, np.ndarray] = {}
    for j, n in enumerate(names):
        base = float((central.values[n] if n in central.values else central.measure_values[n])[0])
        v = np.full(M, base)
        v[1 + 2 * j], v[2 + 2 * j] = nums[n][0], nums[n][1]
        values[n] = v
    model = Model(inputs, scenario, members=M, freq=freq, values=values)
    log.info("one-at-a-time: %d uncertain numbers, %d runs in one vectorised pass", len(names), M)
    met = metrics(model.run(progress=progress).result(variables=METRIC_VARIABLES))
    rows = []
    for j, n in enumerate(names):
        row = {"parameter": n, "unit": nums[n][2], "low": nums[n][0], "high": nums[n][1]}
        for k in METRICS:
            lo, hi = met[k].iloc[1 + 2 * j], met[k].iloc[2 + 2 * j]
            row.update({f"{k}_low": lo, f"{k}_high": hi, f"{k}_swing": abs(hi - lo)})
        rows.append(row)
    df = pd.DataFrame(rows).set_index("parameter")
    df.attrs["central"] = met.iloc[0].to_dict()
    return df


def first_order_indices(x: pd.DataFrame, y: pd.Series, bins: int = 10) -> pd.Series:
    """Binning estimate of S1 = Var(E[Y|X_i]) / Var(Y) for each column of ``x``.

    Each input is cut into ``bins`` equal-count bins (ties broken by rank); the index is
    the variance of the bin means (weighted by bin size) over the total variance.
    """
    yv = np.asarray(y, float)
    var = yv.var()
    out = {}
    for col in x.columns:
        if var <= 0 or x[col].nunique() < 2:
            out[col] = 0.0
            continue
        ranks = x[col].rank(method="first").to_numpy()
        b = np.minimum((ranks - 1) * bins // len(ranks), bins - 1).astype(int)
        counts = np.bincount(b, minlength=bins)
        means = np.bincount(b, weights=yv, minlength=bins) / np.maximum(counts, 1)
        out[col] = float((counts * (means - yv.mean()) ** 2).sum() / len(yv) / var)
    return pd.Series(out)


def sensitivity(
    scenario: Scenario,
    inputs: Inputs,
    *,
    members: int = 200,
    rng: int | None = None,
    bins: int = 10,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    dask: Any = None,
) -> pd.DataFrame:
    """OAT swings and first-order indices for both metrics, ranked by revenue-loss swing.

    Columns as in :func:`one_at_a_time`, plus ``<metric>_S1`` and ``<metric>_rank`` (by
    swing, 1 = largest). ``attrs`` hold the central metrics, ``members``, ``bins`` and
    ``S1_noise`` = (bins − 1)/(members − 1). The scenario runs on its own base year if it
    names one (:func:`econ.io.inputs.inputs_for`); ``attrs["base_year"]`` says which. ``dask``
    runs the ensemble's chunks on a dask cluster (as in :func:`econ.run`; the same numbers).
    """
    inputs = inputs_for(scenario, inputs)
    oat = one_at_a_time(scenario, inputs, progress=progress)
    if members > 1:
        # chunk by chunk, each reduced to its members' parameters and metrics where it runs
        parts = list(
            member_chunks(
                inputs,
                scenario,
                members=members,
                rng=rng,
                workers=workers,
                dask=dask,
                reduce_chunk=member_metrics,
            )
        )
        bad = sum(int(p.attrs.get("nonfinite_members", 0)) for p in parts)
        if bad:
            log.warning("%d of %d member(s) have non-finite results; they are kept", bad, members)
        ds = xr.concat(parts, "member", combine_attrs="drop_conflicts")
        x = ds["parameter_value"].to_pandas()
        met = ds[list(METRICS)].to_dataframe()
        for k in METRICS:
            s1 = first_order_indices(x, met[k], bins=bins)
            oat[f"{k}_S1"] = s1.reindex(oat.index).fillna(0.0)
        oat.attrs["seed"] = int(ds.attrs["seed"])
    for k in METRICS:
        oat[f"{k}_rank"] = oat[f"{k}_swing"].rank(ascending=False, method="min").astype(int)
    oat.attrs["base_year"] = inputs.label
    oat = oat.sort_values("revenue_loss_swing", ascending=False)
    oat.attrs.update(
        members=members,
        bins=bins,
        S1_noise=(bins - 1) / (members - 1) if members > 1 else float("nan"),
    )
    return oat


def tornado(table: pd.DataFrame, metric: str, path, top: int = 15, format: str = "png") -> None:
    """Draw a tornado chart of the OAT swings of ``metric`` to ``path`` (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    central = table.attrs["central"][metric]
    t = table.sort_values(f"{metric}_swing", ascending=False).head(top).iloc[::-1]
    scale, unit = (1e6, "million USD") if metric == "revenue_loss" else (1.0, "× baseline margin")
    lo = (t[f"{metric}_low"] - central) / scale
    hi = (t[f"{metric}_high"] - central) / scale
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(t) + 1.5))
    y = np.arange(len(t))
    ax.barh(y, lo, color="#4c72b0", label="5th percentile")
    ax.barh(y, hi, color="#dd8452", label="95th percentile")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, t.index)
    ax.set_xlabel(f"change from the central run ({central / scale:,.1f} {unit})")
    ax.set_title(
        f"One-at-a-time swings (5th–95th percentile)\n{METRICS[metric][1]}", fontsize="medium"
    )
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format=format)
    plt.close(fig)
