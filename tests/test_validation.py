"""Strict, finite, bounded validation of every file (issue #18): one line naming file and field.

Scenario and episode files, input tables, base_year.toml, parameters.toml and parameters files:
booleans and numeric strings are not numbers, NaN and infinity are refused, every number has an
upper bound, encodings and odd files are named (docs/reliability.md lists each case).
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_inputs import append_text, assert_one_line_error, regex_sub, replace_text, set_cell

import econ
from econ.io.parameters import apply_parameters_file
from econ.spec.scenario import NUMBER_BOUNDS

HEAD = 'name = "t"\nstart = "2023-01-01"\nmonths = 3\n'
M = '[[measure]]\nstart = "2023-01-11"\n'


def _scenario_error(text: str, *tokens: str) -> str:
    with pytest.raises(econ.InputError) as info:
        econ.parse_scenario(text, file="s.toml")
    return assert_one_line_error(info.value, "s.toml", *tokens)


# --------------------------------------------------------------------------- scenarios

SCENARIO_CASES = [
    ("rate-nan", HEAD + M + 'type = "tariff"\nrate = nan\n', ["measure 1", "rate", "finite"]),
    ("rate-inf", HEAD + M + 'type = "tariff"\nrate = inf\n', ["rate", "finite"]),
    ("rate-huge", HEAD + M + 'type = "tariff"\nrate = 1e308\n', ["rate", "out of range"]),
    ("rate-true", HEAD + M + 'type = "tariff"\nrate = true\n', ["rate", "boolean"]),
    ("rate-string", HEAD + M + 'type = "tariff"\nrate = "0.1"\n', ["rate", "string"]),
    (
        "lockup-range-nan",
        HEAD + M + 'type = "bank_guarantee"\nlockup_days = [10, nan]\n',
        ["lockup_days", "finite"],
    ),
    (
        "annual-cost-inf",
        HEAD + M + 'type = "bank_guarantee"\nlockup_days = 10\nannual_cost = inf\n',
        ["annual_cost", "finite"],
    ),
    ("extra-days-nan", HEAD + M + 'type = "delay"\nextra_days = nan\n', ["extra_days"]),
    ("capacity-true", HEAD + M + 'type = "closure"\ncapacity = true\n', ["capacity", "boolean"]),
    ("range-three", HEAD + M + 'type = "tariff"\nrate = [0.1, 0.2, 0.3]\n', ["rate", "3 item"]),
    ("months-string", HEAD.replace("months = 3", 'months = "12"'), ["months", "whole number"]),
    ("months-true", HEAD.replace("months = 3", "months = true"), ["months", "whole number"]),
    ("months-float", HEAD.replace("months = 3", "months = 3.0"), ["months", "whole number"]),
    ("seed-true", HEAD + "seed = true\n", ["seed", "whole number"]),
    ("seed-negative", HEAD + "seed = -1\n", ["seed"]),
    ("start-year-1", HEAD.replace("2023-01-01", "0001-01-01"), ["start", "2000-01-01"]),
    ("start-year-9999", HEAD.replace("2023-01-01", "9999-01-01"), ["start", "2050-12-31"]),
    ("start-number", HEAD.replace('"2023-01-01"', "20230101"), ["start", "date"]),
    ("start-datetime", HEAD.replace('"2023-01-01"', "2023-01-01T00:00:00"), ["start", "date"]),
    ("name-empty", HEAD.replace('"t"', '""'), ["name", "non-empty"]),
    ("name-number", HEAD.replace('"t"', "5"), ["name", "string"]),
    ("path-field", HEAD + 'path = "elsewhere.toml"\n', ["unknown field 'path'"]),
    ("text-field", HEAD + 'text = "x"\n', ["unknown field 'text'"]),
    (
        "measure-before-horizon",
        HEAD + '[[measure]]\ntype = "closure"\nstart = "2020-01-01"\nend = "2020-02-01"\n',
        ["measure 1 (closure)", "wholly outside the horizon", "fix"],
    ),
    (
        "measure-after-horizon",
        HEAD + '[[measure]]\ntype = "closure"\nlabel = "late"\nstart = "2030-01-01"\n',
        ["measure 1 (closure 'late')", "never act"],
    ),
    (
        "measure-date-window",
        HEAD + M + 'type = "closure"\nend = "2999-01-01"\n',
        ["measure 1", "end", "2100-12-31"],
    ),
    ("selector-string", HEAD + M + 'type = "closure"\ncrossings = "east"\n', ["crossings", "list"]),
    ("measure-not-table", HEAD + "measure = [1, 2]\n", ["measure 1", "table"]),
]


@pytest.mark.parametrize("text,tokens", [pytest.param(t, k, id=i) for i, t, k in SCENARIO_CASES])
def test_scenario_refused(text: str, tokens: list[str]) -> None:
    _scenario_error(text, *tokens)


BOUNDED = [(t, f) for t, fields in NUMBER_BOUNDS.items() for f in fields]


@pytest.mark.parametrize("mtype,field", BOUNDED)
def test_every_measure_number_has_bounds(mtype: str, field: str) -> None:
    extra = "lockup_days = 1\n" if mtype == "bank_guarantee" and field != "lockup_days" else ""
    if (mtype, field) == ("tariff", "rate"):  # above 1 only when meant (#17: rate = 20 for 20%)
        extra += "allow_rate_above_1 = true\n"
    lo, hi, _ = NUMBER_BOUNDS[mtype][field]
    ok = HEAD + M + f'type = "{mtype}"\n{extra}{field} = {hi}\n'
    assert econ.parse_scenario(ok).measures[0]  # the bounds themselves are allowed
    assert econ.parse_scenario(ok.replace(f"{field} = {hi}", f"{field} = {lo}")).measures[0]
    _scenario_error(ok.replace(f"{field} = {hi}", f"{field} = {hi * 1.001}"), field, "out of range")
    _scenario_error(ok.replace(f"{field} = {hi}", f"{field} = {lo - 0.001}"), field, "out of range")
    _scenario_error(ok.replace(f"{field} = {hi}", f"{field} = [{lo}, {hi * 2}]"), field)


def test_seed_up_to_2_64_minus_1() -> None:
    assert econ.parse_scenario(HEAD + f"seed = {2**64 - 1}\n").seed == 2**64 - 1
    _scenario_error(HEAD + f"seed = {2**64}\n", "seed")


def test_measure_announced_inside_horizon_acts() -> None:
    """Anticipation acts from the announcement: a measure announced in the horizon but starting
    after it is not 'outside'."""
    sc = econ.parse_scenario(
        HEAD + '[[measure]]\ntype = "closure"\nannounced = "2023-03-01"\nstart = "2023-06-01"\n'
    )
    assert len(sc.measures) == 1


def test_months_override_may_cut_measures_off(toy_inputs: econ.Inputs) -> None:
    sc = econ.parse_scenario(HEAD + M.replace("01-11", "03-11") + 'type = "closure"\n')
    ds = econ.run(sc, inputs=toy_inputs, months=1)  # the caller chose to cut it off
    assert ds.sizes["time"] == 1
    with pytest.raises(econ.InputError, match="argument 'months'"):
        sc.with_months(241)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_scenario_file_encodings(tmp_path: Path) -> None:
    text = HEAD + M + 'type = "closure"\nlabel = "Tõrkham"\n'
    plain = econ.load_scenario(_write(tmp_path, "plain.toml", text.encode()))
    bom = econ.load_scenario(_write(tmp_path, "bom.toml", b"\xef\xbb\xbf" + text.encode()))
    crlf = econ.load_scenario(_write(tmp_path, "crlf.toml", text.replace("\n", "\r\n").encode()))
    assert plain.measures == bom.measures == crlf.measures
    latin = _write(tmp_path, "latin.toml", text.encode("latin-1"))
    with pytest.raises(econ.InputError) as info:
        econ.load_scenario(latin)
    assert_one_line_error(info.value, "latin.toml", "not UTF-8", "save the file as UTF-8")
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(econ.InputError) as info:
        econ.load_scenario(tmp_path / "dir.toml")
    assert_one_line_error(info.value, str(tmp_path / "dir.toml"), "is a directory")


def test_episode_outcome_strict() -> None:
    path = econ.io.builtin_episodes()["torkham-closure-2023-09"]
    text = path.read_text(encoding="utf-8")
    for old, new, token in (
        ("observed = ", "observed = nan #", "finite"),
        ("observed = ", "observed = true #", "boolean"),
        ("tolerance = ", "tolerance = 1e9 #", "tolerance"),
        ("window_start = ", "window_start = 20230901 #", "date"),
    ):
        with pytest.raises(econ.InputError) as info:
            econ.io.parse_episode(text.replace(old, new, 1), file="e.toml")
        assert_one_line_error(info.value, "e.toml", "outcome 1", token)


# --------------------------------------------------------------------------- inputs

P = "parameters.toml"
INPUT_CASES = [
    (
        "border-hours-zero",
        set_cell("crossings.csv", 0, "border_hours", "0"),
        "crossings.csv",
        ["border_hours", "0.1"],
    ),
    (
        "afn-per-usd-true",
        replace_text("base_year.toml", "afn_per_usd = 86.72", "afn_per_usd = true"),
        "base_year.toml",
        ["afn_per_usd", "boolean"],
    ),
    (
        "afn-per-usd-string",
        replace_text("base_year.toml", "afn_per_usd = 86.72", 'afn_per_usd = "86.72"'),
        "base_year.toml",
        ["afn_per_usd", "string"],
    ),
    (
        "base-year-unknown-field",
        append_text("base_year.toml", "\nexchange_rate = 86.72\n"),
        "base_year.toml",
        ["unknown field 'exchange_rate'"],
    ),
    (
        "base-year-huge-revenue",
        replace_text(
            "base_year.toml", "customs_revenue_afn = 111500000000.0", "customs_revenue_afn = 1e308"
        ),
        "base_year.toml",
        ["customs_revenue_afn", "out of range"],
    ),
    (
        "unknown-table",
        append_text(P, '\n[smuggling]\nvalue = 1\nsource = "x"\n'),
        P,
        ["[smuggling]"],
    ),
    (
        "unknown-param-field",
        regex_sub(P, r"^p95 = 2\.5$", "p95 = 2.5\nmedian = 1.0"),
        P,
        ["import_demand_elasticity", "unknown field 'median'"],
    ),
    ("lognormal-p95-inf", regex_sub(P, r"^p95 = 2\.5$", "p95 = inf"), P, ["p95", "finite"]),
    ("p05-string", regex_sub(P, r"^p05 = 0\.4$", 'p05 = "0.4"'), P, ["p05", "string"]),
    ("value-true", regex_sub(P, r"^value = 1\.0$", "value = true"), P, ["value", "boolean"]),
    ("p95-above-range", regex_sub(P, r"^p95 = 2\.5$", "p95 = 11.0"), P, ["p95", "out of range"]),
    (
        "by-commodity-nan",
        regex_sub(P, r"^fuel = 0\.3$", "fuel = nan"),
        P,
        ["by_commodity", "fuel", "finite"],
    ),
    (
        "prior-string",
        regex_sub(P, r"^prior = \[8\.0, 3\.0, 20\.0\]$", 'prior = [8.0, "3", 20.0]'),
        P,
        ["route_substitution_elasticity", "prior", "string"],
    ),
    (
        "prior-huge",
        regex_sub(P, r"^prior = \[8\.0, 3\.0, 20\.0\]$", "prior = [8.0, 3.0, 1e400]"),
        P,
        ["route_substitution_elasticity", "prior", "finite"],
    ),
    (
        "dist-not-string",
        regex_sub(P, r'^dist = "lognormal"$', "dist = 3"),
        P,
        ["import_demand_elasticity", "dist", "not a string"],
    ),
]


@pytest.mark.parametrize(
    "edit,file,tokens", [pytest.param(e, f, k, id=i) for i, e, f, k in INPUT_CASES]
)
def test_input_refused(broken_inputs, edit, file: str, tokens: list[str]) -> None:
    d = broken_inputs()
    edit(d)
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    assert_one_line_error(info.value, file, *tokens)


TOY_TABLES = sorted(p.name for p in (Path(__file__).parent / "data" / "toy").glob("*.csv"))


@pytest.mark.parametrize("file", TOY_TABLES)
def test_header_only_table_refused(toy_dir: Path, tmp_path: Path, file: str) -> None:
    d = _copy(toy_dir, tmp_path)
    header = (d / file).read_text(encoding="utf-8").splitlines()[0]
    (d / file).write_text(header + "\n", encoding="utf-8")
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    assert_one_line_error(info.value, file, "no data rows")


@pytest.mark.parametrize("cut", [",", ",freight", ",freight,15"])
def test_row_cut_short_refused(toy_dir: Path, tmp_path: Path, cut: str) -> None:
    d = _copy(toy_dir, tmp_path)
    text = (d / "trader_groups.csv").read_text(encoding="utf-8")
    keep = text.rindex("\ntruckers,") + len("\ntruckers,Truckers,trucker,*,*,1")
    (d / "trader_groups.csv").write_text(text[:keep] + cut, encoding="utf-8")
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    assert_one_line_error(info.value, "trader_groups.csv", "row 4")


@pytest.mark.parametrize("row", [0, 1])
def test_row_with_a_cell_too_many_refused(toy_dir: Path, tmp_path: Path, row: int) -> None:
    """An unquoted comma shifts the columns; in the only data row pandas took the first cell
    as an index (a traceback, found by tests/test_fuzz.py)."""
    d = _copy(toy_dir, tmp_path)
    lines = (d / "revenue_monthly.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "0.5, comma," + lines[1]
    if row:
        lines.append(lines[1])
        lines[1] = (toy_dir / "revenue_monthly.csv").read_text(encoding="utf-8").splitlines()[1]
        lines[1] += "\n"
    (d / "revenue_monthly.csv").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    # the first data row: our check (pandas took its first cell as an index); later rows:
    # pandas' own "Expected 7 fields in line 3, saw 9"
    tokens = ["row 2", "a comma too many"] if row == 0 else ["line 3", "saw 9"]
    assert_one_line_error(info.value, "revenue_monthly.csv", *tokens)


def test_table_encodings(toy_dir: Path, tmp_path: Path, toy_inputs: econ.Inputs) -> None:
    """A BOM and CRLF line ends read as the plain file; latin-1 and a directory are named."""
    d = _copy(toy_dir, tmp_path)
    for f in TOY_TABLES:
        raw = (d / f).read_bytes()
        (d / f).write_bytes(b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n"))
    inp = econ.load_inputs(d)
    for f in ("crossings", "routes", "commodities", "flows", "trader_groups"):
        assert getattr(inp, f).equals(getattr(toy_inputs, f)), f
    text = (toy_dir / "crossings.csv").read_text(encoding="utf-8").replace("East Gate", "Ëast")
    (d / "crossings.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    assert_one_line_error(info.value, "crossings.csv", "not UTF-8", "byte")
    (d / "crossings.csv").unlink()
    (d / "crossings.csv").mkdir()
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    assert_one_line_error(info.value, "crossings.csv", "is a directory")


def _copy(src: Path, tmp_path: Path) -> Path:
    d = tmp_path / "inputs"
    shutil.copytree(src, d, ignore=shutil.ignore_patterns("scen"))
    return d


# --------------------------------------------------------------------------- parameters files

PARAM_FILE_CASES = [
    ("[queue_patience_days]\nvalue = true\n", ["queue_patience_days", "boolean"]),
    ("[queue_patience_days]\nvalue = 1e308\n", ["queue_patience_days", "out of range"]),
    ('[import_demand_elasticity]\np05 = "0.4"\np95 = 2.0\n', ["p05", "string"]),
    ("[import_demand_elasticity]\nby_commodity = [1, 2]\n", ["by_commodity", "not a table"]),
    ('[import_demand_elasticity]\nby_commodity = "fuel"\n', ["by_commodity", "not a table"]),
    ("[closure_expected_days.by_commodity]\ngoods = 2.0\n", ["cannot have per-commodity"]),
    ("[nonesuch]\nvalue = 1.0\n", ["unknown parameter [nonesuch]"]),
    (
        '[import_demand_elasticity]\nvalue = 5e-324\ndist = "uniform"\np05 = 0.0\np95 = 1.0\n'
        "by_commodity = { goods = 0.0 }\n",
        ["import_demand_elasticity", "at most 1000 times the value"],
    ),
    ("queue_patience_days = 3\n", ["not a table"]),
    ("[route_substitution_elasticity]\nvalue = 150.0\n", ["scales", "p95", "give p95"]),
]


@pytest.mark.parametrize("text,tokens", PARAM_FILE_CASES)
def test_parameters_file_refused(
    tmp_path: Path, toy_inputs: econ.Inputs, text: str, tokens: list[str]
) -> None:
    p = tmp_path / "params.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(econ.InputError) as info:
        apply_parameters_file(toy_inputs, p)
    assert_one_line_error(info.value, "params.toml", *tokens)


# --------------------------------------------------------------------------- row order


def _shuffled(src: Path, tmp_path: Path, seed: int) -> Path:
    """A copy of an inputs directory (either layout) with the data rows of every table in a
    random order."""
    d = tmp_path / f"shuffled{seed}"
    shutil.copytree(
        src, d, ignore=shutil.ignore_patterns("scen", "episodes", "scenarios", "build", "*.py")
    )
    rng = np.random.default_rng(seed)
    for f in sorted(d.rglob("*.csv")):
        head, *body = list(csv.reader(io.StringIO(f.read_text(encoding="utf-8"))))
        out = io.StringIO()
        rows = [head] + [body[i] for i in rng.permutation(len(body))]
        csv.writer(out, lineterminator="\n").writerows(rows)
        f.write_text(out.getvalue(), encoding="utf-8")
    return d


def _aligned(ds: xr.Dataset, ref: xr.Dataset) -> xr.Dataset:
    return ds.reindex(
        {
            d: ref[d]
            for d in ("crossing", "route", "commodity", "group", "sector", "import_group", "item")
            if d in ref.dims
        }
    )


@pytest.mark.parametrize(
    "which,scenario,months",
    [("toy", "closure", 3), ("default", "default", 4)],
)
def test_results_independent_of_row_order(
    request, tmp_path: Path, which: str, scenario: str, months: int
) -> None:
    """Shuffling the rows of every input table changes no result (labels aligned)."""
    src = request.getfixturevalue("toy_dir" if which == "toy" else "default_inputs")
    src = src if isinstance(src, Path) else src.directory
    sc = econ.load_scenario(src / "scen" / "closure.toml" if which == "toy" else scenario)
    ref = econ.run(sc, inputs=econ.load_inputs(src), months=months, members=2, rng=3)
    for seed in (1, 2):
        d = _shuffled(src, tmp_path, seed)
        ds = econ.run(sc, inputs=econ.load_inputs(d), months=months, members=2, rng=3)
        xr.testing.assert_allclose(_aligned(ds, ref), ref, rtol=1e-12, atol=1e-6)


def test_scenarios_doc_lists_the_bounds() -> None:
    """docs/scenarios.md's table of allowed ranges is NUMBER_BOUNDS, row for row."""
    doc = (Path(__file__).parent.parent / "docs" / "scenarios.md").read_text(encoding="utf-8")
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] in NUMBER_BOUNDS and " to " in cells[2]:
            lo, hi = (float(x.replace("−", "-")) for x in cells[2].split(" to "))
            rows[(cells[0], cells[1])] = (lo, hi)
    assert rows == {(t, f): b[:2] for t, fs in NUMBER_BOUNDS.items() for f, b in fs.items()}


# --------------------------------------------------------------------------- episode panel


def test_episode_panel_file(tmp_path: Path, default_inputs: econ.Inputs) -> None:
    """calibrate --panel: a BOM is accepted; a huge value, latin-1 and a directory are named."""
    from econ.analysis.calibrate import default_panel_path, load_panel

    text = default_panel_path().read_text(encoding="utf-8")
    ref = load_panel(default_panel_path(), inputs=default_inputs)
    bom = _write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + text.encode())
    assert load_panel(bom, inputs=default_inputs).equals(ref)
    head, first, *rest = text.splitlines(keepends=True)
    cells = next(csv.reader([first]))
    cells[PANEL_VALUE] = "1e308"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    huge = _write(tmp_path, "huge.csv", (head + out.getvalue() + "".join(rest)).encode())
    for path, tokens in (
        (huge, ["huge.csv", "row 2", "value out of range"]),
        (_write(tmp_path, "latin.csv", (text + "x,é\n").encode("latin-1")), ["not UTF-8"]),
        (tmp_path, ["is a directory"]),
    ):
        with pytest.raises(econ.InputError) as info:
            load_panel(path, inputs=default_inputs)
        assert_one_line_error(info.value, tokens[0] if path == huge else str(path), *tokens)


PANEL_VALUE = 8  # the value column of episode_panel.csv
