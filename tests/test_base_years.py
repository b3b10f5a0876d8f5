"""Base years (issue #14): each reproduces its own totals, is rebuilt exactly from its sourced
build tables, is selected by argument, scenario or default; the coal duty is reconciled; the
standing measures are carried or left out on purpose; base-year measures act relatively."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import flat_copy

import econ
from econ.analysis.summary import inputs_summary, seed_share_check
from econ.analysis.tables import coal_table, revenue_impact_table
from econ.io.inputs import available_base_years, default_inputs_dir, inputs_for
from econ.spec.in_force import missing_measures

REPO_INPUTS = Path(__file__).resolve().parents[1] / "inputs"
LABELS = ("FY1401", "FY1403")
OCT_2023 = "2023-10-31"


@pytest.fixture(scope="module")
def years() -> dict[str, econ.Inputs]:
    return {y: econ.load_inputs(base_year=y) for y in LABELS}


def _totals(inp: econ.Inputs) -> dict[str, float]:
    f = inp.flows.join(inp.commodities["direction"], on="commodity")
    return {
        "imports": float(f.loc[f.direction == "import", "value_usd"].sum()),
        "exports": float(f.loc[f.direction == "export", "value_usd"].sum()),
        "revenue": float(inp.baseline_revenue_by_crossing().sum()),
    }


# --------------------------------------------------------------------------- the base years


def test_shipped_base_years_and_default_is_most_recent() -> None:
    assert available_base_years() == LABELS
    assert econ.load_inputs().label == "FY1403"


@pytest.mark.parametrize("label", LABELS)
def test_base_year_reproduces_its_observed_totals(years, label: str) -> None:
    """Calibrated flows give the year's customs revenue, imports and exports together."""
    inp = years[label]
    by, t = inp.base_year, _totals(inp)
    assert t["revenue"] == pytest.approx(by["customs_revenue_afn"] / by["afn_per_usd"], rel=1e-9)
    assert t["imports"] == pytest.approx(by["imports_usd"], rel=1e-9)
    assert t["exports"] == pytest.approx(by["exports_usd"], rel=1e-9)
    # that is possible because every crossing calibrates with factor 1
    np.testing.assert_allclose(inp.calibration_factor.to_numpy(), 1.0, rtol=1e-8)
    model = inp.baseline_revenue_by_crossing()
    np.testing.assert_allclose(model.to_numpy(), inp.revenue_usd().to_numpy(), rtol=1e-9)


def test_observed_totals_are_the_sourced_figures(years) -> None:
    fy1401, fy1403 = years["FY1401"].base_year, years["FY1403"].base_year
    assert fy1401["customs_revenue_afn"] == 111.5e9 and fy1401["afn_per_usd"] == 86.72
    assert fy1401["imports_usd"] == pytest.approx(599.2e9 / 86.72, abs=0.1)
    assert fy1401["exports_usd"] == pytest.approx(170.4e9 / 86.72, abs=0.1)
    assert fy1403["imports_usd"] == 11.164e9 and fy1403["exports_usd"] == 1.785e9
    assert fy1403["customs_revenue_afn"] == 110e9 and fy1403["afn_per_usd"] == 70.0


def _corridor_share(inp: econ.Inputs, corridor: str) -> float:
    f = inp.flows.join(inp.routes["corridor"], on="route")
    f = f.join(inp.commodities["direction"], on="commodity")
    imp = f[f.direction == "import"]
    return float(imp.loc[imp.corridor == corridor, "value_usd"].sum() / imp["value_usd"].sum())


def test_fy1403_has_its_own_corridor_structure(years) -> None:
    """Transit through Pakistan collapsed after Oct 2023; Iran took its place."""
    a, b = years["FY1401"], years["FY1403"]
    assert _corridor_share(a, "pakistan") == pytest.approx(0.48, abs=0.01)
    assert _corridor_share(b, "pakistan") == pytest.approx(0.23, abs=0.01)
    assert _corridor_share(b, "iran") > 0.5 > _corridor_share(a, "iran")
    f = b.flows.join(b.routes[["corridor", "kind"]], on="route")
    transit = f[(f.corridor == "pakistan") & (f.kind == "transit")]["value_usd"].sum()
    assert transit == pytest.approx(0.94e9, rel=0.02)  # Pakistani customs, re-based
    assert b.base_year["measures_in_force"] == [
        "pk-transit-fee",
        "pk-negative-list",
        "pk-bank-guarantee",
        "pk-chaman-documents",
    ]
    assert a.base_year["measures_in_force"] == []


def test_coal_reconciled_with_the_ministry(years) -> None:
    """FY1401 coal: 44.24bn AFN of exports and 14.60bn AFN of duty (MoF), not 63% of exports."""
    inp = years["FY1401"]
    coal = inp.flows.loc[inp.flows["commodity"] == "coal", "value_usd"].sum()
    fx = inp.afn_per_usd
    assert coal * fx == pytest.approx(44.24e9, rel=1e-9)
    rate = inp.commodities.loc["coal", "effective_rate"]
    assert coal * rate * fx == pytest.approx(14.60e9, rel=1e-9)
    assert rate == pytest.approx(14.60 / 44.24, rel=1e-9)
    # tonnage × price: 2.7 Mt in 10 months ≈ 3.24 Mt a year at the declared ~$160/t
    assert 140 < coal / 3.24e6 < 180
    # FY1403: $92m of coal (World Bank), about 2bn AFN of duty at $30/t
    b = years["FY1403"]
    coal_b = b.flows.loc[b.flows["commodity"] == "coal", "value_usd"].sum()
    assert coal_b == pytest.approx(92e6, rel=1e-9)
    assert coal_b * b.commodities.loc["coal", "effective_rate"] * 70 == pytest.approx(2e9)


def test_rebuild_reproduces_the_shipped_files() -> None:
    """inputs/build/build_flows.py rebuilds flows, revenue and rates of every base year."""
    spec = importlib.util.spec_from_file_location(
        "build_flows", REPO_INPUTS / "build" / "build_flows.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.labels(REPO_INPUTS) == list(LABELS)
    for label in LABELS:
        out = mod.build(label, REPO_INPUTS)
        for name, text in out.items():
            shipped = (REPO_INPUTS / "base_years" / label / name).read_text(encoding="utf-8")
            assert text == shipped, f"{label}/{name} differs from its rebuild"


def test_revenue_methods_say_what_is_observed(years) -> None:
    a = years["FY1401"].revenue_by_crossing["method"]
    assert a["hairatan"] == "observed"
    assert a["islam-qala"] == a["torghundi"] == "observed-split"
    assert a["torkham"] == a["spin-boldak"] == a["kabul"] == "allocated"
    assert set(years["FY1403"].revenue_by_crossing["method"]) == {"allocated"}
    # the Torkham + Chaman share is then not evidence: inputs check says so
    assert seed_share_check(years["FY1401"]).startswith("not a check")
    tables = dict(inputs_summary(years["FY1401"]))
    evidence = next(t for title, t in tables.items() if title.startswith("Which crossing"))
    assert set(evidence.index) == {"allocated", "observed-split", "observed", "estimated"}
    assert evidence["share_pct"].sum() == pytest.approx(100.0)


# --------------------------------------------------------------------------- layouts


def test_unknown_base_year_is_one_line() -> None:
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(base_year="FY1399")
    msg = str(info.value)
    assert msg.startswith("--base-year") and "FY1401, FY1403" in msg and "\n" not in msg


def test_flat_directory_of_one_base_year_loads(tmp_path: Path, years) -> None:
    d = flat_copy(tmp_path / "flat", "FY1403")
    inp = econ.load_inputs(d)
    assert inp.label == "FY1403" and inp.base_years == ("FY1403",)
    assert _totals(inp) == pytest.approx(_totals(years["FY1403"]), rel=1e-12)
    with pytest.raises(econ.InputError, match="not found"):
        econ.load_inputs(d, base_year="FY1401")


def test_flat_directory_before_base_years_loads(tmp_path: Path, toy_dir: Path) -> None:
    """The old layout: one base year, collected rates as a column of commodities.csv."""
    inp = econ.load_inputs(toy_dir)
    assert inp.label == "TOY" and not (toy_dir / "rates.csv").exists()
    assert list(inp.commodities["effective_rate"]) == [0.2, 0.1]
    d = tmp_path / "both"
    shutil.copytree(toy_dir, d)
    (d / "rates.csv").write_text("commodity,effective_rate,source\ngoods,0.2,x\nfruit,0.1,x\n")
    with pytest.raises(econ.InputError, match="'effective_rate' given beside rates.csv"):
        econ.load_inputs(d)


def test_utilization_is_per_base_year(years) -> None:
    """Capacity is the base year's load ÷ that year's normal utilisation (utilization.csv):
    Torkham's 2024 truck counts give FY1403 its own value; FY1401 keeps the issue-13 one."""
    from econ.model.network import Network

    assert years["FY1401"].crossings.loc["torkham", "utilization"] == 0.65
    assert years["FY1403"].crossings.loc["torkham", "utilization"] == 0.61
    for inp in years.values():
        net = Network.from_inputs(inp)
        u = inp.crossings["utilization"].reindex(list(net.crossing_ids)).to_numpy()
        np.testing.assert_allclose(net.capacity, net.baseline_load / u, rtol=1e-12)
    # the shared crossings.csv holds what does not change between base years
    assert "utilization" not in (REPO_INPUTS / "crossings.csv").read_text().splitlines()[0]


def test_utilization_column_in_a_flat_directory(tmp_path: Path, toy_dir: Path) -> None:
    """The flat layout may carry utilisation as a column of crossings.csv (the toy does), but
    not beside a utilization.csv; every crossing needs exactly one value."""
    assert list(econ.load_inputs(toy_dir).crossings["utilization"]) == [0.4, 0.25]
    d = tmp_path / "both"
    shutil.copytree(toy_dir, d)
    (d / "utilization.csv").write_text("crossing,utilization,source\neast,0.4,x\nwest,0.25,x\n")
    with pytest.raises(econ.InputError, match="'utilization' given beside utilization.csv"):
        econ.load_inputs(d)
    d = flat_copy(tmp_path / "flat", "FY1403")
    p = d / "utilization.csv"
    p.write_text("\n".join(p.read_text().splitlines()[:-1]) + "\n")  # drop kabul
    with pytest.raises(econ.InputError, match="not one utilisation per crossing.*kabul"):
        econ.load_inputs(d)


def test_per_year_table_beside_base_years_is_an_error(tmp_path: Path) -> None:
    d = tmp_path / "inputs"
    shutil.copytree(default_inputs_dir(), d, ignore=shutil.ignore_patterns("build", "io"))
    shutil.copy2(d / "base_years" / "FY1401" / "flows.csv", d / "flows.csv")
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    assert str(info.value).startswith("flows.csv") and "base_years/" in str(info.value)


def test_label_must_match_its_directory(tmp_path: Path) -> None:
    d = tmp_path / "inputs"
    shutil.copytree(default_inputs_dir(), d, ignore=shutil.ignore_patterns("build", "io"))
    (d / "base_years" / "FY1403").rename(d / "base_years" / "FY1404")
    with pytest.raises(econ.InputError, match="label differs"):
        econ.load_inputs(d)


def test_per_year_errors_name_the_base_year_file(tmp_path: Path) -> None:
    d = tmp_path / "inputs"
    shutil.copytree(default_inputs_dir(), d, ignore=shutil.ignore_patterns("build", "io"))
    p = d / "base_years" / "FY1403" / "rates.csv"
    p.write_text(p.read_text().replace("fuel,0.", "fuel,1.", 1))
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    assert str(info.value).startswith("base_years/FY1403/rates.csv, row 2")


def test_unknown_measure_in_force_of_a_base_year(tmp_path: Path) -> None:
    d = flat_copy(tmp_path / "flat", "FY1403")
    p = d / "base_year.toml"
    p.write_text(p.read_text().replace('"pk-chaman-documents"', '"pk-visa-fee"'))
    with pytest.raises(econ.InputError, match="unknown id in 'measures_in_force'"):
        econ.load_inputs(d)


# --------------------------------------------------------------------------- selecting a base year


def test_scenarios_run_on_their_own_base_year() -> None:
    assert econ.load_scenario("default").base_year == "FY1401"
    assert econ.load_scenario("pakistan-closure-2025").base_year == "FY1403"
    ds = econ.run("default", months=1)
    assert ds.attrs["base_year"] == "FY1401"
    ds = econ.run("default", months=1, base_year="FY1403")
    assert ds.attrs["base_year"] == "FY1403"
    ds = econ.run("baseline", months=1)  # names none: the most recent
    assert ds.attrs["base_year"] == "FY1403"


def test_inputs_for_keeps_loaded_parameters(years) -> None:
    inp = years["FY1403"].with_parameters(
        {
            **years["FY1403"].parameters,
            "queue_patience_days": years["FY1403"].parameters["queue_patience_days"],
        }
    )
    sc = econ.load_scenario("default")
    got = inputs_for(sc, inp)
    assert got.label == "FY1401" and got.parameters is inp.parameters
    assert inputs_for(econ.load_scenario("baseline"), inp) is inp


def test_scenario_base_year_is_validated() -> None:
    with pytest.raises(econ.InputError, match="base_year"):
        econ.parse_scenario('name = "x"\nstart = "2025-01-01"\nmonths = 1\nbase_year = "FY 1403"\n')


# --------------------------------------------------------------------------- measures in force

HEAD = 'name = "late"\nstart = "2025-07-01"\nmonths = 2\nbase_year = "FY1403"\n'
CLOSURE = (
    '[[measure]]\ntype = "closure"\nstart = "2025-08-01"\ncapacity = 0.0\n'
    'corridors = ["pakistan"]\n'
)


def test_missing_measures_are_named_in_a_warning(caplog) -> None:
    sc = econ.parse_scenario(HEAD + CLOSURE)
    with caplog.at_level(logging.WARNING, logger="econ.spec.in_force"):
        econ.run(sc)
    text = " ".join(r.getMessage() for r in caplog.records if r.name == "econ.spec.in_force")
    for mid in ("pk-transit-fee", "pk-negative-list", "pk-bank-guarantee", "pk-chaman-documents"):
        assert mid in text
    assert "leaves_out" in text


def test_leaving_out_on_purpose_silences_the_warning(caplog) -> None:
    reasons = "\n".join(
        f'{m} = "studied without it"'
        for m in ("pk-transit-fee", "pk-negative-list", "pk-bank-guarantee", "pk-chaman-documents")
    )
    sc = econ.parse_scenario(HEAD + "\n[leaves_out]\n" + reasons + "\n\n" + CLOSURE)
    with caplog.at_level(logging.WARNING, logger="econ.spec.in_force"):
        econ.run(sc)
    assert not [r for r in caplog.records if r.name == "econ.spec.in_force"]


def test_scenario_before_the_measures_needs_none(caplog) -> None:
    sc = econ.parse_scenario(
        HEAD.replace("2025-07-01", "2023-07-01") + CLOSURE.replace("2025", "2023")
    )
    with caplog.at_level(logging.WARNING, logger="econ.spec.in_force"):
        econ.run(sc)
    assert not [r for r in caplog.records if r.name == "econ.spec.in_force"]


@pytest.mark.parametrize(
    "text,match",
    [
        ('\n[leaves_out]\npk-visa = "x"\n', "unknown id in 'leaves_out'"),
        ('\n[leaves_out]\npk-transit-fee = " "\n', "give the reason"),
        (
            '\n[[measure]]\ntype = "delay"\nid = "pk-transit-fee"\nstart = "2023-10-03"\n'
            'extra_days = 1.0\ncrossings = ["torkham"]\n',
            "names a tariff measure",
        ),
        (
            '\n[[measure]]\ntype = "tariff"\nid = "pk-visa"\nstart = "2023-10-03"\nrate = 0.1\n'
            'corridors = ["pakistan"]\n',
            "unknown id",
        ),
        (
            '\n[leaves_out]\npk-transit-fee = "x"\n\n[[measure]]\ntype = "tariff"\n'
            'id = "pk-transit-fee"\nstart = "2023-10-03"\nrate = 0.1\ncorridors = ["pakistan"]\n'
            'kinds = ["transit"]\n',
            "but the scenario carries it",
        ),
    ],
)
def test_measure_ids_and_leaves_out_are_validated(text: str, match: str) -> None:
    with pytest.raises(econ.InputError, match=match):
        econ.run(econ.parse_scenario(HEAD + text), months=1)


def _after_october_2023(sc: econ.Scenario) -> bool:
    return sc.start.isoformat() > OCT_2023


def test_builtin_scenarios_and_episodes_carry_the_measures_in_force(years) -> None:
    """Every shipped scenario and episode starting after October 2023 carries them."""
    standing = years["FY1403"].measures_in_force
    cases = [econ.load_scenario(p) for p in econ.builtin_scenarios().values()]
    cases += [econ.io.load_episode(p).scenario for p in econ.io.builtin_episodes().values()]
    late = [sc for sc in cases if _after_october_2023(sc)]
    assert {sc.name for sc in late} == {"pakistan-closure-2025", "maximum-pressure"}
    for sc in cases:
        assert missing_measures(sc, standing) == [], sc.name


def test_base_year_measures_leave_the_baseline_unchanged() -> None:
    """On FY1403 the carried measures are already in the flows: nothing moves until the
    closure of 12 Oct 2025."""
    ds = econ.run("pakistan-closure-2025", freq="D")
    before = ds.sel(time=slice(None, "2025-10-11"))
    gap = (before.baseline_customs_revenue - before.customs_revenue).sum()
    assert float(abs(gap)) < 1e-6 * float(before.baseline_customs_revenue.sum())
    assert float(before["tariff_paid"].sum()) > 0  # the fee is still paid
    # the Chaman document rule's days are in FY1403's capacity (load ÷ utilisation) already:
    # carrying the rule on does not cut the capacity again, so no queue builds
    assert float(before["queue_trucks"].max()) < 1e-6
    after = ds.sel(time=slice("2025-10-12", None))
    assert float((after.baseline_customs_revenue - after.customs_revenue).sum()) > 0


def test_lifting_a_base_year_measure_raises_transit() -> None:
    sc = econ.load_scenario("pakistan-closure-2025")
    measures = []
    for m in sc.measures:
        if m.type == "closure":
            continue
        if m.id == "pk-bank-guarantee":
            m = m.model_copy(update={"end": __import__("datetime").date(2025, 8, 1)})
        measures.append(m)
    lifted = sc.model_copy(update={"measures": measures})
    ds = econ.run(lifted)
    net = econ.Network.from_inputs(econ.load_inputs(base_year="FY1403"))
    transit = np.asarray(net.pak_transit[:, 0] > 0)
    rtv = ds["route_trade_value"].isel(member=0).sum("commodity").to_numpy()
    base = ds["baseline_route_trade_value"].isel(member=0).sum("commodity").to_numpy()
    assert rtv[-1, transit].sum() > base[-1, transit].sum() * 1.01


def test_guarantee_costs_commission_for_its_validity() -> None:
    """w = levy · (annual_cost · lockup + fee · validity) / 365 on the guaranteed routes."""
    sc = econ.load_scenario("default")
    model = econ.Model(inputs_for(sc, None), sc)
    i = next(j for j, m in enumerate(sc.measures) if m.type == "bank_guarantee")
    m = sc.measures[i]
    w = model.schedule.wedges((m.start - sc.start).days)
    levy = model.draws.params["guarantee_levy_rate"][0]
    expected = levy * (0.165 * 40 + 0.0125 * 365) / 365
    cm = model.schedule.measures[i]
    assert w.guarantee[0][cm.mask] == pytest.approx(expected, rel=1e-12)
    assert expected / (levy * 0.116 * 40 / 365) == pytest.approx(2.4, abs=0.05)


# --------------------------------------------------------------------------- coal and the rest


@pytest.mark.parametrize("label", LABELS)
def test_coal_table_splits_the_total(label: str) -> None:
    ds = econ.run("pakistan-closure-2025", base_year=label)
    t = coal_table(ds)
    assert list(t.index) == ["coal", "non-coal", "TOTAL"]
    for col in ("baseline", "scenario", "change", "lost", "diverted", "delayed"):
        assert t.loc["coal", col] + t.loc["non-coal", col] == pytest.approx(
            t.loc["TOTAL", col], rel=1e-9, abs=1e-3
        )
    assert t.loc["TOTAL", "change"] == pytest.approx(
        revenue_impact_table(ds).loc["TOTAL", "change"], rel=1e-9
    )
    assert t.loc["coal", "change"] < 0


def test_coal_matters_far_less_from_fy1403() -> None:
    a = coal_table(econ.run("pakistan-closure-2025", base_year="FY1401"))
    b = coal_table(econ.run("pakistan-closure-2025"))
    assert b.loc["coal", "baseline"] < 0.2 * a.loc["coal", "baseline"]
    assert -b.loc["coal", "change"] < 0.2 * -a.loc["coal", "change"]


def test_package_data_ships_every_input_file() -> None:
    """pyproject's package-data globs for econ.data cover every file in inputs/ (so an installed
    package has both base years, the standing measures and the build tables)."""
    import fnmatch
    import tomllib

    with (REPO_INPUTS.parent / "pyproject.toml").open("rb") as fh:
        globs = tomllib.load(fh)["tool"]["setuptools"]["package-data"]["econ.data"]
    files = [
        p.relative_to(REPO_INPUTS).as_posix()
        for p in REPO_INPUTS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.name != "__init__.py"
    ]

    def shipped(f: str, g: str) -> bool:  # setuptools globs do not cross directories
        fs, gs = f.split("/"), g.split("/")
        return len(fs) == len(gs) and all(map(fnmatch.fnmatchcase, fs, gs))

    missing = [f for f in files if not any(shipped(f, g) for g in globs)]
    assert not missing, f"not shipped by pyproject package-data: {missing}"
