"""Couple chokepoint to a toy fiscal model, month by month (docs/coupling.md).

The toy treasury spends a fixed amount a month and pays for it with customs revenue (from
chokepoint) and other revenue (fixed). When the month's customs shortfall against the
no-measure baseline passes a threshold, the treasury reacts from the next month: it cuts its
own collected rate on goods that now come via Iran (an ``AfghanDuty`` measure added during
the run) to keep that trade cheap, and it widens the cut if the shortfall persists
(``change_measure``). The model is stepped one day at a time; the fiscal model sees one
number a month.

Run it::

    python docs/examples/fiscal_coupling.py          # prints the monthly table (CSV)

``tests/test_coupling_example.py`` runs :func:`main` and checks what it returns.
"""

from __future__ import annotations

import datetime as dt
import sys

import pandas as pd

import econ

#: toy fiscal model: USD a month
SPENDING = 190e6
OTHER_REVENUE = 75e6
#: the treasury reacts when a month's customs shortfall exceeds this share of its baseline
THRESHOLD = 0.005


def main(scenario: str = "default", months: int = 5) -> tuple[pd.DataFrame, econ.Model]:
    """Run the coupled models; return the fiscal table (one row a month) and the model."""
    sc = econ.load_scenario(scenario).with_months(months)
    inputs = econ.io.inputs.inputs_for(sc, econ.load_inputs(), None)
    model = econ.Model(inputs, sc)
    rows, cut = [], None
    month = {"customs": 0.0, "baseline": 0.0}
    while model.t < model.T:
        day = model.step()  # DayValues: date, member, crossing labels
        month["customs"] += float(day.customs_revenue[0])
        month["baseline"] += float(day.baseline_customs_revenue[0])
        next_day = day.date + dt.timedelta(days=1)
        if next_day.day != 1 and model.t < model.T:
            continue
        # ---- the fiscal model's month
        shortfall = month["baseline"] - month["customs"]
        balance = month["customs"] + OTHER_REVENUE - SPENDING
        reaction = ""
        if model.t < model.T and shortfall > THRESHOLD * month["baseline"]:
            if cut is None:
                cut = model.add_measure(
                    econ.AfghanDuty(
                        rate=-0.01,
                        start=next_day,
                        corridors=["iran"],
                        label="treasury: duty cut on goods via Iran",
                    )
                )
                reaction = "duty cut via Iran: -1 point"
            else:
                rate = model.scenario.measures[cut - 1].rate - 0.01
                model.change_measure(cut, rate=rate)
                reaction = f"duty cut via Iran widened to {rate * 100:.0f} points"
        rows.append(
            {
                "month": day.date.replace(day=1).isoformat(),
                "customs_revenue": month["customs"],
                "baseline_customs_revenue": month["baseline"],
                "shortfall": shortfall,
                "fiscal_balance": balance,
                "reaction": reaction,
            }
        )
        month = {"customs": 0.0, "baseline": 0.0}
    return pd.DataFrame(rows).set_index("month"), model


if __name__ == "__main__":
    table, model = main()
    (table.drop(columns="reaction") / 1e6).round(2).join(table["reaction"]).to_csv(sys.stdout)
    added = [m for m in model.scenario.measures if m.label.startswith("treasury")]
    for m in added:  # the result records them too: model.result().attrs["scenario_text"]
        print("added during the run:", econ.spec.scenario.describe_measure(m), file=sys.stderr)
