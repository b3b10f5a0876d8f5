"""Sweeps: one number of a scenario set to a series of values, run as one vectorised batch.

Every value is one member of a single :class:`~econ.model.Model` (``values=``: each member
carries its own value of the swept number, every other number at its central value), so a
sweep of 20 values costs about one run of 20 members. The swept number is named by
:func:`resolve_field`:

* a parameter of ``parameters.toml`` (``queue_patience_days``);
* a measure's number: ``<measure>.<field>`` where ``<measure>`` is ``measureN`` (1-based),
  the measure's ``id``, its ``label`` or its type when only one measure has it
  (``pk-transit-fee.rate``, ``closure.capacity``, ``measure3.cover``), or the bare field when
  only one measure has it (``rate``); the full key ``measure1.tariff.rate`` works too;
* a measure's length in days: ``<measure>.days`` (its end = start + days; a closure's
  length).

The table per value: cumulative Afghan customs revenue lost (USD), its share of the
baseline (%), Pakistan's net fiscal cost (USD), the peak trader pressure, and whether
raising the value still raised the loss (``attrs["peak_value"]``: the value after which
the treasury's loss stops rising, or None).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError, input_error
from ..model import Model
from ..spec.inputs import Inputs
from ..spec.scenario import MEASURE_NUMBERS, Scenario, measure_key

#: measure fields that are shares in [0, 1]
SHARES = ("cover", "excluded_share", "quota", "capacity")
#: at most this many values in one sweep
MAX_POINTS = 1000


def parse_set(spec: str) -> tuple[str, np.ndarray]:
    """``"FIELD=START:STOP:STEP"`` (STOP included when on the grid) or ``"FIELD=V1,V2,..."``
    → (field, values)."""
    field, sep, rest = spec.partition("=")
    field = field.strip()
    try:
        if ":" in rest:
            a, b, c = (float(x) for x in rest.split(":"))
            if c <= 0 or b < a:
                raise ValueError
            n = int(np.floor((b - a) / c + 1e-9)) + 1
            values = a + c * np.arange(n)
        else:
            values = np.array([float(x) for x in rest.split(",")])
    except ValueError:
        values = np.array([])
    if not sep or not field or values.size == 0:
        raise input_error(
            "--set",
            "malformed sweep",
            found=spec,
            expected="FIELD=START:STOP:STEP with STOP >= START and STEP > 0 "
            "(e.g. rate=0:0.3:0.05), "
            "or FIELD=V1,V2,...",
        )
    if values.size > MAX_POINTS:
        raise input_error("--set", f"{values.size} values; at most {MAX_POINTS}", found=spec)
    return field, np.round(values, 12)


def _measure_index(sc: Scenario, ref: str) -> int:
    ms = sc.measures
    if ref.startswith("measure") and ref[7:].isdigit():
        i = int(ref[7:]) - 1
        if 0 <= i < len(ms):
            return i
    for attr in ("id", "label", "type"):
        hits = [i for i, m in enumerate(ms) if getattr(m, attr) == ref]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise input_error(
                "--set",
                f"{len(hits)} measures have {attr} {ref!r}",
                fix=f"name one by number: measure{hits[0] + 1}, measure{hits[1] + 1}, ...",
            )
    raise input_error(
        "--set",
        f"no measure {ref!r} in {sc.name}",
        expected="measureN, a measure id, label or type: "
        + ", ".join(f"measure{i + 1} ({m.id or m.label or m.type})" for i, m in enumerate(ms)),
    )


def resolve_field(sc: Scenario, inputs: Inputs, field: str) -> tuple[str, float, str]:
    """The override key of ``field`` (a parameter or a measure key), the offset added to
    each value (a measure's start day for ``days``) and a label for people."""
    if field in inputs.parameters:
        return field, 0.0, field
    parts = field.split(".")
    if len(parts) == 3 and parts[0].startswith("measure"):
        parts = [parts[0], parts[2]]
    if len(parts) == 1:
        f = parts[0]
        hits = [i for i, m in enumerate(sc.measures) if f in MEASURE_NUMBERS[m.type] or f == "days"]
        if len(hits) != 1:
            raise input_error(
                "--set",
                f"'{f}' is not a parameter"
                + (f" and {len(hits)} measures have it" if hits else " nor a measure field"),
                fix="name the measure too, e.g. measure1." + f,
            )
        i = hits[0]
    elif len(parts) == 2:
        i, f = _measure_index(sc, parts[0]), parts[1]
    else:
        raise input_error("--set", f"cannot read the field {field!r}", expected="MEASURE.FIELD")
    m = sc.measures[i]
    if f == "days":
        return measure_key(i, m.type, "end"), float((m.start - sc.start).days), field
    if f not in MEASURE_NUMBERS[m.type]:
        raise input_error(
            "--set",
            f"measure {i + 1} ({m.type}) has no number '{f}'",
            expected=", ".join((*MEASURE_NUMBERS[m.type], "days")),
        )
    return measure_key(i, m.type, f), 0.0, field


def _check_values(key: str, field: str, values: np.ndarray) -> None:
    f = key.rsplit(".", 1)[-1]
    if key.startswith("measure") and f in SHARES and ((values < 0) | (values > 1)).any():
        raise InputError(f"--set: {field} is a share; its values must lie in [0, 1]")
    if key.startswith("measure") and (values < 0).any():
        raise InputError(f"--set: {field} cannot be negative")


def sweep(
    scenario: Scenario,
    inputs: Inputs,
    field: str,
    values: np.ndarray,
    *,
    forecast=None,
) -> pd.DataFrame:
    """Run ``scenario`` once per value of ``field`` in one vectorised batch (see the module
    docstring); one row per value. ``inputs`` must be the scenario's own
    (:func:`econ.io.inputs.inputs_for`)."""
    key, offset, label = resolve_field(scenario, inputs, field)
    values = np.asarray(values, dtype=float)
    _check_values(key, label, values)
    model = Model(
        inputs,
        scenario,
        members=len(values),
        values={key: values + offset},
        forecast=forecast,
    )
    ds = model.run().result()
    loss = ds["treasury_loss"].sum("time").values
    base = ds["baseline_customs_revenue"].sum(["time", "crossing", "commodity"]).values
    df = pd.DataFrame(index=pd.Index(values, name=label))
    df["revenue_loss"] = loss
    df["revenue_loss_pct"] = np.where(base > 0, 100 * loss / np.where(base > 0, base, 1), 0.0)
    df["pakistan_fiscal_cost"] = ds["pakistan_fiscal_net_cost"].sum("time").values
    df["fees_collected"] = (
        ds["pakistan_cost"].sel(pakistan_component="fees_collected").sum("time").values
    )
    df["peak_pressure"] = ds["trader_pressure"].max(["time", "group"]).values
    step = np.diff(loss, prepend=np.nan)
    tol = 1e-9 * float(np.max(np.abs(base))) if base.size else 0.0
    df["loss_step"] = step
    df["loss_rising"] = np.r_[False, step[1:] > tol] if len(values) > 1 else [False]
    peak = None
    for j in range(len(values) - 1):
        if loss[j + 1] <= loss[j] + tol:
            peak = float(values[j])
            break
    df["note"] = ["loss stops rising after this value" if v == peak else "" for v in values]
    df.attrs.update(
        peak_value=peak,
        field=label,
        key=key,
        scenario=scenario.name,
        base_year=str(ds.attrs["base_year"]),
        baseline=str(ds.attrs["baseline"]),
        units={
            "revenue_loss": "USD",
            "revenue_loss_pct": "%",
            "pakistan_fiscal_cost": "USD",
            "fees_collected": "USD",
            "peak_pressure": "1",
            "loss_step": "USD",
        },
    )
    return df


def sweep_summary(df: pd.DataFrame) -> str:
    """One line: where raising the value stops raising the treasury's loss."""
    field, peak = df.attrs["field"], df.attrs.get("peak_value")
    if len(df) < 2:
        return f"One value of {field}: nothing to compare."
    if peak is None:
        return (
            f"The treasury's loss rises with {field} over the whole sweep "
            f"({df.index[0]:g} to {df.index[-1]:g})."
        )
    top = float(df.loc[peak, "revenue_loss"])
    return (
        f"Raising {field} beyond {peak:g} no longer raises the treasury's loss "
        f"(loss at {peak:g}: {top / 1e6:,.2f} million USD)."
    )
