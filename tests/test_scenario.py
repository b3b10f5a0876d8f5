"""Scenario files: built-ins and episodes compile, invalid ones give one-line InputErrors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import econ
from econ.io.inputs import default_inputs_dir
from econ.spec.scenario import central

HEAD = 'name = "t"\nstart = "2023-01-01"\nmonths = 3\n'
CLOSURE = (
    '[[measure]]\ntype = "closure"\nstart = "2023-01-11"\nend = "2023-01-21"\n'
    'crossings = ["east"]\n'
)
TARIFF = '[[measure]]\ntype = "tariff"\nstart = "2023-01-11"\nrate = 0.1\n'
EPISODES = sorted((default_inputs_dir() / "episodes").glob("*.toml"))


def assert_one_line(exc: BaseException, file: str, *tokens: str) -> None:
    msg = str(exc)
    assert "\n" not in msg, msg
    assert msg.startswith(file), msg
    for t in tokens:
        assert t in msg, f"{t!r} not in {msg!r}"


# --------------------------------------------------------------------------- built-ins and episodes


def test_builtin_names() -> None:
    names = set(econ.builtin_scenarios())
    assert {
        "baseline",
        "default",
        "maximum-pressure",
        "pakistan-closure-2025",
        "transit-fee",
    } <= names


@pytest.mark.parametrize("name", sorted(econ.builtin_scenarios()))
def test_builtin_scenario_compiles(name: str, default_inputs: econ.Inputs) -> None:
    by_name = econ.load_scenario(name)
    by_path = econ.load_scenario(econ.builtin_scenarios()[name])
    assert by_name == by_path
    assert by_name.name == name  # file stem and name field agree
    assert by_name.months > 0
    model = econ.Model(default_inputs, by_name)
    assert len(model.measures) == len(by_name.measures)
    assert model.T == (by_name.end - by_name.start).days
    for m in model.measures:
        assert m.mask.any()


def test_baseline_has_no_measures_and_default_has_some() -> None:
    assert econ.load_scenario("baseline").measures == []
    assert len(econ.load_scenario("default").measures) >= 5


def _strip_outcomes(text: str) -> str:
    """Episode files are scenarios followed by [[outcome]] tables: cut at the first one."""
    i = text.find("\n[[outcome]]")
    return text if i < 0 else text[: i + 1]


def test_there_are_episodes() -> None:
    assert len(EPISODES) >= 6


@pytest.mark.parametrize("path", EPISODES, ids=[p.stem for p in EPISODES])
def test_episode_compiles(path: Path, tmp_path: Path, default_inputs: econ.Inputs) -> None:
    # load_scenario forbids unknown top-level fields, so it rejects 'outcome';
    # the episode's scenario part is everything before the first [[outcome]]
    text = path.read_text(encoding="utf-8")
    assert "[[outcome]]" in text
    stripped = _strip_outcomes(text)
    assert "[[outcome]]" not in stripped
    assert "[[measure]]" not in text[len(stripped) :], "measures after outcomes"
    p = tmp_path / path.name
    p.write_text(stripped, encoding="utf-8")
    sc = econ.load_scenario(p)
    assert sc.name == path.stem
    assert len(sc.measures) == text.count("[[measure]]") > 0
    assert all(m.source.strip() for m in sc.measures)
    model = econ.Model(default_inputs, sc)
    assert len(model.measures) == len(sc.measures)


def test_episode_with_outcomes_is_rejected_by_load_scenario() -> None:
    with pytest.raises(econ.InputError) as info:
        econ.load_scenario(EPISODES[0])
    assert_one_line(info.value, EPISODES[0].name, "unknown field 'outcome'")


def test_toy_closure_scenario(toy_dir: Path, toy_inputs: econ.Inputs) -> None:
    sc = econ.load_scenario(toy_dir / "scen" / "closure.toml")
    assert sc.name == "toy-closure" and sc.months == 3
    assert sc.end == dt.date(2023, 4, 1)
    model = econ.Model(toy_inputs, sc)
    (m,) = model.measures
    assert m.type == "closure"
    assert (m.start, int(m.end[0])) == (10, 20)
    assert m.crossing_mask.tolist() == [True, False]
    # closure of east covers its routes (port-east, land-east), not port-west
    assert m.mask.any(axis=1).tolist() == [True, True, False]


# --------------------------------------------------------------------------- parse errors


PARSE_ERRORS = [
    ("malformed-toml", HEAD + "months = = 3\n", ["malformed TOML", "line 4"]),
    ("unknown-top-level-field", HEAD + "colour = 1\n", ["unknown field 'colour'"]),
    (
        "unknown-measure-field",
        HEAD + CLOSURE + "colour = 1\n",
        ["measure 1", "unknown field 'colour'"],
    ),
    (
        "unknown-measure-type",
        HEAD + CLOSURE.replace('"closure"', '"embargo"'),
        ["measure 1", "unknown measure type", "embargo"],
    ),
    ("negative-tariff", HEAD + TARIFF.replace("0.1", "-0.1"), ["measure 1", "rate", "-0.1"]),
    ("share-above-one", HEAD + CLOSURE + "capacity = 1.5\n", ["measure 1", "capacity", "1.5"]),
    (
        "quota-above-one",
        HEAD + CLOSURE.replace('"closure"', '"restriction"') + "quota = 2.0\n",
        ["measure 1", "quota", "2.0"],
    ),
    (
        "end-before-start",
        HEAD + CLOSURE.replace('end = "2023-01-21"', 'end = "2023-01-05"'),
        ["measure 1", "end", "2023-01-05"],
    ),
    (
        "end-equals-start",
        HEAD + CLOSURE.replace('end = "2023-01-21"', 'end = "2023-01-11"'),
        ["measure 1", "end"],
    ),
    (
        "announced-after-start",
        HEAD + CLOSURE + 'announced = "2023-01-12"\n',
        ["measure 1", "announced", "2023-01-12"],
    ),
    (
        "range-high-low",
        HEAD + TARIFF.replace("rate = 0.1", "rate = [0.3, 0.1]"),
        ["measure 1", "rate", "high below low"],
    ),
    (
        "date-range-high-low",
        HEAD + CLOSURE.replace('end = "2023-01-21"', 'end = ["2023-01-31", "2023-01-21"]'),
        ["measure 1", "end", "high below low"],
    ),
    ("months-zero", HEAD.replace("months = 3", "months = 0"), ["months"]),
    ("months-too-many", HEAD.replace("months = 3", "months = 241"), ["months"]),
    ("missing-name", HEAD.replace('name = "t"\n', ""), ["missing field 'name'"]),
    ("bad-date", HEAD.replace('"2023-01-01"', '"2023-02-30"'), ["start"]),
    ("unknown-kind", HEAD + CLOSURE + 'kinds = ["smuggling"]\n', ["measure 1", "kinds"]),
    ("second-measure-named", HEAD + CLOSURE + TARIFF.replace("0.1", "-1.0"), ["measure 2", "rate"]),
]


@pytest.mark.parametrize("text,tokens", [pytest.param(t, k, id=i) for i, t, k in PARSE_ERRORS])
def test_parse_error(text: str, tokens: list[str]) -> None:
    with pytest.raises(econ.InputError) as info:
        econ.parse_scenario(text, file="bad.toml")
    assert_one_line(info.value, "bad.toml", *tokens)


def test_load_scenario_error_names_file(tmp_path: Path) -> None:
    p = tmp_path / "mine.toml"
    p.write_text(HEAD + CLOSURE + "capacity = 1.5\n", encoding="utf-8")
    with pytest.raises(econ.InputError) as info:
        econ.load_scenario(p)
    assert_one_line(info.value, "mine.toml", "capacity")


def test_unknown_builtin_name() -> None:
    with pytest.raises(econ.InputError) as info:
        econ.load_scenario("no-such-scenario")
    assert_one_line(info.value, "no-such-scenario", "baseline", "default")


def test_valid_minimal_scenario_parses() -> None:
    sc = econ.parse_scenario(HEAD + CLOSURE, file="ok.toml")
    assert sc.start == dt.date(2023, 1, 1) and sc.months == 3
    (m,) = sc.measures
    assert m.type == "closure" and m.capacity == 0.0 and m.crossings == ["east"]
    assert m.end == dt.date(2023, 1, 21)


# ------------------------------------------------------------- id errors at Model construction


MODEL_ERRORS = [
    (
        "unknown-crossing",
        HEAD + CLOSURE.replace('["east"]', '["north"]'),
        ["measure 1", "crossings", "north", "east (East Gate), west (West Gate)"],
    ),
    (
        "unknown-route",
        HEAD + CLOSURE.replace('crossings = ["east"]', 'routes = ["nowhere"]'),
        ["measure 1", "routes", "nowhere"],
    ),
    (
        "unknown-corridor",
        HEAD + CLOSURE.replace('crossings = ["east"]', 'corridors = ["china"]'),
        ["measure 1", "corridors", "china"],
    ),
    (
        "unknown-commodity",
        HEAD + TARIFF + 'commodities = ["gold"]\n',
        ["measure 1", "commodities", "gold"],
    ),
    (
        "matches-no-flow",
        HEAD + TARIFF + 'routes = ["port-east"]\ncommodities = ["fruit"]\n',
        ["measure 1", "matches no baseline flow"],
    ),
    (
        "commodities-on-closure",
        HEAD + CLOSURE + 'commodities = ["goods"]\n',
        ["measure 1", "closure", "commodities"],
    ),
]


@pytest.mark.parametrize("text,tokens", [pytest.param(t, k, id=i) for i, t, k in MODEL_ERRORS])
def test_model_id_error(text: str, tokens: list[str], toy_inputs: econ.Inputs) -> None:
    sc = econ.parse_scenario(text, file="ids.toml")  # parses: ids are checked against inputs
    with pytest.raises(econ.InputError) as info:
        econ.Model(toy_inputs, sc)
    assert_one_line(info.value, "ids.toml", *tokens)


def test_selectors_intersect(toy_inputs: econ.Inputs) -> None:
    sc = econ.parse_scenario(
        HEAD + TARIFF + 'corridors = ["pakistan"]\nkinds = ["transit"]\ncommodities = ["goods"]\n',
        file="ok.toml",
    )
    (m,) = econ.Model(toy_inputs, sc).measures
    # routes port-east, land-east, port-west x commodities goods, fruit
    assert m.mask.tolist() == [[True, False], [False, False], [False, False]]
    assert m.crossing_mask.tolist() == [True, False]


# --------------------------------------------------------------------------- central()


def test_central_numbers() -> None:
    assert central((0.0, 0.5)) == pytest.approx(0.25)
    assert central((20, 60)) == 40
    assert central((0.012, 0.22)) == pytest.approx(0.116)
    assert central(0.3) == 0.3
    assert central(None) is None


def test_central_dates() -> None:
    lo, hi = dt.date(2024, 7, 21), dt.date(2024, 7, 23)
    assert central((lo, hi)) == dt.date(2024, 7, 22)
    assert central((dt.date(2023, 1, 1), dt.date(2023, 1, 31))) == dt.date(2023, 1, 16)
    assert central((lo, lo)) == lo
    # odd span: a date between the bounds
    mid = central((dt.date(2023, 9, 15), dt.date(2023, 9, 16)))
    assert dt.date(2023, 9, 15) <= mid <= dt.date(2023, 9, 16)
    assert central(lo) == lo


def test_deterministic_model_uses_midpoints(toy_inputs: econ.Inputs) -> None:
    text = (
        HEAD
        + TARIFF.replace("rate = 0.1", "rate = [0.1, 0.3]")
        + 'end = ["2023-01-21", "2023-01-31"]\ncrossings = ["west"]\n'
    )
    sc = econ.parse_scenario(text, file="mid.toml")
    (m,) = sc.measures
    assert central(m.rate) == pytest.approx(0.2)
    assert central(m.end) == dt.date(2023, 1, 26)
    (cm,) = econ.Model(toy_inputs, sc).measures
    np.testing.assert_allclose(cm.values["rate"], [0.2])
    assert cm.end.tolist() == [25]
    assert cm.start == 10
