"""The coupling API: Python-built scenarios, labelled steps, measures added or changed during a
run, partial results, clear type errors, and the worked example of docs/coupling.md."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import econ

ROOT = Path(__file__).resolve().parents[1]
D = dt.date


def toy_scenario(*measures, months: int = 2) -> econ.Scenario:
    return econ.Scenario(name="t", start=D(2023, 1, 1), months=months, measures=list(measures))


CLOSURE = econ.Closure(start=D(2023, 1, 11), end=D(2023, 1, 21), crossings=["east"])
FEE = econ.Tariff(rate=0.1, start=D(2023, 1, 15), corridors=["pakistan"])


def run_model(model: econ.Model) -> np.ndarray:
    return model.run().result().customs_revenue.values


def test_measure_classes_are_exported() -> None:
    for name in ("Tariff", "BankGuarantee", "Restriction", "Closure", "Delay", "AfghanDuty"):
        assert name in econ.__all__
        assert getattr(econ, name).model_fields["type"].default is not None


def test_python_scenario_to_toml_round_trips_and_is_recorded(toy_inputs) -> None:
    sc = toy_scenario(CLOSURE, FEE)
    again = econ.parse_scenario(sc.to_toml())
    assert again.measures == sc.measures and again.start == sc.start
    ds = econ.run(sc, inputs=toy_inputs)
    assert econ.parse_scenario(ds.attrs["scenario_text"]).measures == sc.measures


def test_step_returns_labelled_values(toy_inputs) -> None:
    model = econ.Model(toy_inputs, toy_scenario(CLOSURE))
    day = model.step()
    assert isinstance(day, econ.DayValues)
    assert day.date == D(2023, 1, 1) and model.date == D(2023, 1, 2)
    assert day.crossing == ("east", "west") and list(day.member) == [0]
    assert day.customs_revenue_by_crossing.shape == (1, 2)
    np.testing.assert_allclose(day.customs_revenue_by_crossing.sum(axis=1), day.customs_revenue)
    frame = day.to_frame()
    assert list(frame.index.get_level_values("crossing")) == ["east", "west"]
    assert frame.attrs["date"] == "2023-01-01"
    xs = day.to_xarray()
    assert list(xs.crossing.values) == ["east", "west"] and str(xs.time.values)[:10] == "2023-01-01"
    assert day["customs_revenue"] is day.customs_revenue  # a Mapping too


def test_result_covers_only_the_days_simulated(toy_inputs) -> None:
    model = econ.Model(toy_inputs, toy_scenario(CLOSURE))
    for _ in range(40):
        model.step()
    ds = model.result()
    assert ds.sizes["time"] == 2
    assert list(ds.days_in_period.values) == [31, 9]


def test_add_measure_before_it_starts_equals_the_scenario_with_it(toy_inputs) -> None:
    model = econ.Model(toy_inputs, toy_scenario(CLOSURE))
    for _ in range(10):
        model.step()
    assert model.add_measure(FEE) == 2
    assert model.scenario.measures[-1] == FEE
    got = run_model(model)
    want = econ.run(toy_scenario(CLOSURE, FEE), inputs=toy_inputs).customs_revenue.values
    np.testing.assert_array_equal(got, want)
    assert "tariff" in model.result().attrs["scenario_text"]


def test_change_measure_before_it_starts_equals_the_changed_scenario(toy_inputs) -> None:
    model = econ.Model(toy_inputs, toy_scenario(CLOSURE, FEE))
    for _ in range(5):
        model.step()
    changed = model.change_measure(2, rate=0.25)
    assert changed.rate == 0.25
    got = run_model(model)
    want = toy_scenario(CLOSURE, FEE.model_copy(update={"rate": 0.25}))
    np.testing.assert_array_equal(got, econ.run(want, inputs=toy_inputs).customs_revenue.values)


def test_change_during_a_measure_changes_only_the_days_after(toy_inputs) -> None:
    base = econ.Model(toy_inputs, toy_scenario(FEE), freq="D")
    model = econ.Model(toy_inputs, toy_scenario(FEE), freq="D")
    for _ in range(20):
        base.step()
        model.step()
    model.change_measure(1, rate=0.3)
    a, b = run_model(base), run_model(model)
    np.testing.assert_array_equal(a[:, :20], b[:, :20])
    assert not np.allclose(a[:, 21:], b[:, 21:])


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda m: m.add_measure("closure"), "argument 'measure': expected a measure"),
        (
            lambda m: m.add_measure(econ.Closure(start=D(2022, 12, 1), crossings=["east"])),
            "before the next day to simulate",
        ),
        (
            lambda m: m.add_measure(econ.Closure(start=D(2024, 1, 1), crossings=["east"])),
            "it would change nothing",
        ),
        (
            lambda m: m.add_measure(econ.Closure(start=D(2023, 1, 5), crossings=["north"])),
            "east (East Gate)",
        ),
        (lambda m: m.change_measure(3, rate=0.2), "argument 'number'"),
        (lambda m: m.change_measure(1, rat=0.2), "tariff has no field(s) rat"),
        (lambda m: m.change_measure(1, capacity=0.5), "no field(s) capacity"),
        (lambda m: m.change_measure(1, rate=20), "did you mean 0.20?"),
    ],
)
def test_run_time_changes_refuse_mistakes(toy_inputs, call, text) -> None:
    model = econ.Model(toy_inputs, toy_scenario(FEE))
    with pytest.raises(econ.InputError) as info:
        call(model)
    assert text in str(info.value) and "\n" not in str(info.value)
    assert model.scenario.measures == [FEE]  # nothing changed


def test_clear_errors_on_misuse(toy_inputs) -> None:
    with pytest.raises(econ.InputError, match=r"argument 'scenario': expected an econ.Scenario"):
        econ.Model(toy_inputs, "default")
    with pytest.raises(econ.InputError, match="argument 'inputs'"):
        econ.Model("inputs", toy_scenario())
    with pytest.raises(econ.InputError, match="argument 'months'.*found 0"):
        econ.run("default", months=0)
    with pytest.raises(econ.InputError, match="argument 'members'"):
        econ.Model(toy_inputs, toy_scenario(), members=0)


def test_worked_coupling_example_runs() -> None:
    """docs/examples/fiscal_coupling.py (docs/coupling.md) runs and does what it says."""
    path = ROOT / "docs" / "examples" / "fiscal_coupling.py"
    spec = importlib.util.spec_from_file_location("fiscal_coupling", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    table, model = mod.main(months=5)
    assert list(table.index) == [
        "2023-07-01",
        "2023-08-01",
        "2023-09-01",
        "2023-10-01",
        "2023-11-01",
    ]
    ds = model.result()
    national = ds.customs_revenue.sum(["crossing", "commodity"]).isel(member=0).values
    np.testing.assert_allclose(table["customs_revenue"].to_numpy(), national, rtol=1e-9)
    # the treasury reacted: a duty cut added after September, widened after October
    assert table["reaction"].tolist()[2:4] == [
        "duty cut via Iran: -1 point",
        "duty cut via Iran widened to -2 points",
    ]
    added = econ.parse_scenario(ds.attrs["scenario_text"]).measures[-1]
    assert added.type == "afghan_duty" and added.rate == pytest.approx(-0.02)
    # the months before the reaction are the plain run's
    plain = econ.run("default", months=3).customs_revenue.sum(["crossing", "commodity"])
    np.testing.assert_array_equal(national[:3], plain.isel(member=0).values)
