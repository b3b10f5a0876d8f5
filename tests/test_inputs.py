"""Input loading, the calibration identity, and one test per validation rule."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import econ
from econ.io.inputs import OPTIONAL_TABLES, SHARED_TABLES, TABLES, default_inputs_dir, read_schema

EXPECTED_CROSSINGS = {
    "torkham",
    "spin-boldak",
    "ghulam-khan",
    "angoor-adda",
    "dand-e-patan",
    "islam-qala",
    "milak",
    "abu-nasr-farahi",
    "torghundi",
    "aqina",
    "hairatan",
    "sher-khan-bandar",
    "ay-khanum",
    "kabul",
}


# --------------------------------------------------------------------------- helpers


def _read(d: Path, file: str) -> pd.DataFrame:
    return pd.read_csv(d / file, dtype=str, keep_default_na=False)


def set_cell(file: str, row: int, col: str, value: str) -> Callable[[Path], None]:
    """Edit: set data row ``row`` (0-based) of ``col`` to ``value``."""

    def edit(d: Path) -> None:
        df = _read(d, file)
        assert col in df.columns and row < len(df)
        df.loc[row, col] = value
        df.to_csv(d / file, index=False)

    return edit


def drop_column(file: str, col: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        df = _read(d, file)
        df.drop(columns=col).to_csv(d / file, index=False)

    return edit


def replace_text(file: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        text = (d / file).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {file}"
        (d / file).write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


def regex_sub(file: str, pattern: str, new: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        text = (d / file).read_text(encoding="utf-8")
        out, n = re.subn(pattern, new, text, count=1, flags=re.M)
        assert n == 1, f"{pattern!r} not found in {file}"
        (d / file).write_text(out, encoding="utf-8")

    return edit


def delete_file(file: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        (d / file).unlink()

    return edit


def append_text(file: str, text: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        with (d / file).open("a", encoding="utf-8") as fh:
            fh.write(text)

    return edit


def assert_one_line_error(exc: econ.InputError, file: str, *tokens: str) -> str:
    msg = str(exc)
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg.startswith(file), f"message does not start with the file name {file!r}: {msg}"
    for tok in tokens:
        assert tok in msg, f"{tok!r} not in message: {msg}"
    return msg


# --------------------------------------------------------------------------- loaders


def test_default_inputs_load(default_inputs: econ.Inputs) -> None:
    assert default_inputs.directory == default_inputs_dir()
    assert set(default_inputs.crossings.index) == EXPECTED_CROSSINGS
    assert len(default_inputs.crossings) == 14
    assert {"torkham", "spin-boldak", "islam-qala", "hairatan", "kabul"} <= set(
        default_inputs.crossings.index
    )
    assert default_inputs.crossings.loc["torkham", "country"] == "pakistan"
    assert default_inputs.crossings.loc["islam-qala", "country"] == "iran"
    assert default_inputs.crossings.loc["kabul", "country"] == "air"


def test_default_tables_have_consistent_ids(default_inputs: econ.Inputs) -> None:
    inp = default_inputs
    assert set(inp.revenue_by_crossing.index) == set(inp.crossings.index)
    assert set(inp.routes["crossing"]) <= set(inp.crossings.index)
    assert set(inp.flows["route"]) <= set(inp.routes.index)
    assert set(inp.flows["commodity"]) <= set(inp.commodities.index)
    assert {"fuel", "wheat-flour", "food-other", "sugar-oil", "coal"} <= set(inp.commodities.index)
    assert inp.routes.index.is_unique and inp.commodities.index.is_unique
    assert len(inp.flows) > len(inp.routes) > len(inp.crossings)
    assert set(inp.commodities["direction"]) == {"import", "export"}
    assert set(inp.parameters) >= {"import_demand_elasticity", "route_substitution_elasticity"}


def test_toy_inputs_load(toy_inputs: econ.Inputs) -> None:
    assert list(toy_inputs.crossings.index) == ["east", "west"]
    assert list(toy_inputs.routes.index) == ["port-east", "land-east", "port-west"]
    assert list(toy_inputs.commodities.index) == ["goods", "fruit"]
    assert len(toy_inputs.flows) == 5
    # the toy revenue is built to match its flows exactly: calibration factor 1
    assert toy_inputs.calibration_factor.to_numpy() == pytest.approx([1.0, 1.0], rel=1e-12)


def _shipped(file: str) -> list[Path]:
    """The shipped copies of an input table: at the top, or one per base year."""
    d = default_inputs_dir()
    if file in SHARED_TABLES:
        return [d / file]
    return sorted((d / "base_years").glob(f"*/{file}"))


SOURCED = [
    str(p.relative_to(default_inputs_dir()))
    for p in sorted(default_inputs_dir().rglob("*.csv"))
    if "source" in pd.read_csv(p, nrows=0).columns
]


@pytest.mark.parametrize("file", SOURCED)
def test_every_source_cell_non_empty(file: str) -> None:
    """Every shipped table with a source column (base years and build tables included)."""
    df = _read(default_inputs_dir(), file)
    blank = df["source"].str.strip() == ""
    assert not blank.any(), f"{file}: empty source in rows {list(df.index[blank] + 2)}"


def test_every_table_is_sourced() -> None:
    for file in TABLES:
        for path in _shipped(file):
            assert "source" in pd.read_csv(path, nrows=0).columns, path


def test_every_parameter_has_source(default_inputs: econ.Inputs) -> None:
    for name, p in default_inputs.parameters.items():
        assert p.source.strip(), name


@pytest.mark.parametrize(
    "name,factors",
    [
        # its source: x1.6 homogeneous bulk, x0.6 perishables and coal tied to Pakistani buyers
        ("route_substitution_elasticity", {0.6, 0.8, 1.0, 1.2, 1.6}),
    ],
)
def test_per_commodity_profile_follows_the_central_value(
    default_inputs: econ.Inputs, name: str, factors: set[float]
) -> None:
    """A fitted parameter's per-commodity values are its documented relative profile times its
    central value: a new central value written without rescaling the profile would leave every
    commodity at the old fit (members and the fit scale the profile by draw / value)."""
    p = default_inputs.parameters[name]
    ratios = {round(v / p.value, 6) for v in p.by_commodity.values()}
    assert ratios <= factors, sorted(ratios - factors)
    assert 1.0 in ratios


# --------------------------------------------------------------------------- calibration identity


@pytest.mark.parametrize("which", ["default_inputs", "toy_inputs"])
def test_calibration_identity(which: str, request: pytest.FixtureRequest) -> None:
    inp: econ.Inputs = request.getfixturevalue(which)
    model = inp.baseline_revenue_by_crossing()
    observed = inp.revenue_usd()
    assert list(model.index) == list(observed.index) == list(inp.crossings.index)
    for c in inp.crossings.index:
        assert model[c] == pytest.approx(observed[c], rel=1e-9, abs=1e-9), c
    assert model.sum() == pytest.approx(observed.sum(), rel=1e-9)
    national = inp.base_year["customs_revenue_afn"] / inp.afn_per_usd
    assert model.sum() == pytest.approx(national, rel=1e-9)
    assert observed.sum() == pytest.approx(national, rel=1e-9)


def test_toy_revenue_by_hand(toy_inputs: econ.Inputs) -> None:
    # east: (365e6 + 182.5e6) * 0.2 + 73e6 * 0.1; west: 365e6 * 0.2 + 36.5e6 * 0.1
    rev = toy_inputs.baseline_revenue_by_crossing()
    assert rev["east"] == pytest.approx(116.8e6, rel=1e-12)
    assert rev["west"] == pytest.approx(76.65e6, rel=1e-12)


# --------------------------------------------------------------------------- validation rules

# (id, edit, file that must start the message, tokens that must appear in it)
P = "parameters.toml"
RULES = [
    ("missing-file", delete_file("routes.csv"), "routes.csv", ["not found"]),
    ("missing-file-base-year", delete_file("base_year.toml"), "base_year.toml", ["not found"]),
    ("missing-file-parameters", delete_file("parameters.toml"), "parameters.toml", ["not found"]),
    (
        "missing-column",
        drop_column("crossings.csv", "border_hours"),
        "crossings.csv",
        ["missing column", "border_hours"],
    ),
    (
        "malformed-csv-unbalanced-quote",
        append_text("crossings.csv", 'extra,"Unterminated,pakistan,X,34,70,road,10,1,src\n'),
        "crossings.csv",
        ["malformed CSV", "row"],
    ),
    # a stray quote mid-file: pandas reads on to the next quote, so the error surfaces later
    # in the file; it must still be an InputError naming the file
    (
        "stray-quote-mid-file",
        replace_text(
            "routes.csv",
            "pakistan-torkham,torkham,pakistan,",
            'pakistan-torkham,torkham,pakistan,"',
        ),
        "routes.csv",
        ["row", "column"],
    ),
    (
        "text-in-number",
        set_cell("utilization.csv", 0, "utilization", "lots"),
        "utilization.csv",
        ["row 2", "utilization", "lots"],
    ),
    (
        "empty-required-cell",
        set_cell("utilization.csv", 3, "utilization", ""),
        "utilization.csv",
        ["row 5", "utilization", "empty"],
    ),
    (
        "empty-text-cell",
        set_cell("routes.csv", 0, "gateway", ""),
        "routes.csv",
        ["row 2", "gateway", "empty"],
    ),
    (
        "nan",
        set_cell("rates.csv", 0, "effective_rate", "NaN"),
        "rates.csv",
        ["row 2", "effective_rate"],
    ),
    (
        "inf",
        set_cell("utilization.csv", 0, "utilization", "inf"),
        "utilization.csv",
        ["row 2", "utilization", "inf"],
    ),
    (
        "negative-capacity",
        set_cell("utilization.csv", 0, "utilization", "-5"),
        "utilization.csv",
        ["row 2", "utilization", "-5"],
    ),
    (
        "effective-rate-above-1",
        set_cell("rates.csv", 0, "effective_rate", "1.5"),
        "rates.csv",
        ["row 2", "effective_rate", "1.5"],
    ),
    (
        "not-allowed-mode",
        set_cell("crossings.csv", 0, "mode", "boat"),
        "crossings.csv",
        ["row 2", "mode", "boat"],
    ),
    (
        "bad-slug-upper-case",
        set_cell("commodities.csv", 0, "id", "Fuel"),
        "commodities.csv",
        ["row 2", "'id'", "Fuel"],
    ),
    (
        "duplicate-crossing-id",
        set_cell("crossings.csv", 1, "id", "torkham"),
        "crossings.csv",
        ["'id'", "torkham"],
    ),
    (
        "route-unknown-crossing",
        set_cell("routes.csv", 0, "crossing", "nowhere"),
        "routes.csv",
        ["row 2", "crossing", "nowhere", "crossings.csv"],
    ),
    (
        "flow-unknown-commodity",
        set_cell("flows.csv", 0, "commodity", "unobtainium"),
        "flows.csv",
        ["row 2", "commodity", "unobtainium", "commodities.csv"],
    ),
    (
        "duplicate-flow-pair",
        set_cell("flows.csv", 1, "commodity", "fuel"),
        "flows.csv",
        ["row 3", "duplicate", "pakistan-torkham", "fuel"],
    ),
    (
        "corridor-vs-country",
        set_cell("routes.csv", 0, "corridor", "iran"),
        "routes.csv",
        ["row 2", "corridor", "iran"],
    ),
    (
        "revenue-sum",
        set_cell("revenue_by_crossing.csv", 0, "revenue_afn", "28982787265"),
        "revenue_by_crossing.csv",
        ["do not add up", "customs_revenue_afn"],
    ),
    (
        "revenue-sum-via-base-year",
        replace_text(
            "base_year.toml",
            "customs_revenue_afn = 111500000000.0",
            "customs_revenue_afn = 111600000000.0",
        ),
        "revenue_by_crossing.csv",
        ["do not add up", "customs_revenue_afn"],
    ),
    (
        "monthly-end-before-start",
        set_cell("revenue_monthly.csv", 2, "end", "2021-05-01"),
        "revenue_monthly.csv",
        ["row 4", "'end'", "before start"],
    ),
    (
        "monthly-overlap",
        set_cell("revenue_monthly.csv", 3, "start", "2021-06-01"),
        "revenue_monthly.csv",
        ["row 5", "'start'", "overlaps"],
    ),
    (
        "monthly-usd-inconsistent",
        set_cell("revenue_monthly.csv", 0, "revenue_usd", "1"),
        "revenue_monthly.csv",
        ["row 2", "revenue_usd"],
    ),
    (
        "monthly-bad-date",
        set_cell("revenue_monthly.csv", 0, "start", "2020-13-40"),
        "revenue_monthly.csv",
        ["start", "date"],
    ),
    (
        "base-year-malformed-toml",
        replace_text("base_year.toml", "afn_per_usd = 86.72", "afn_per_usd = = 86.72"),
        "base_year.toml",
        ["malformed TOML", "line 4"],
    ),
    (
        "base-year-missing-field",
        regex_sub("base_year.toml", r"^afn_per_usd = .*\n", ""),
        "base_year.toml",
        ["missing field", "afn_per_usd"],
    ),
    (
        "base-year-negative",
        replace_text("base_year.toml", "afn_per_usd = 86.72", "afn_per_usd = -1"),
        "base_year.toml",
        ["afn_per_usd", "out of range", "-1"],
    ),
    (
        "param-missing",
        replace_text(P, "[closure_expected_days]", "[closure_expected_dayz]"),
        P,
        ["missing parameter", "closure_expected_days"],
    ),
    (
        "param-unknown-dist",
        replace_text(P, 'dist = "lognormal"', 'dist = "cauchy"'),
        P,
        ["import_demand_elasticity", "dist", "cauchy"],
    ),
    (
        "param-p05-above-p95",
        replace_text(P, "p05 = 0.4\np95 = 2.5", "p05 = 2.5\np95 = 0.4"),
        P,
        ["import_demand_elasticity", "percentiles"],
    ),
    (
        "param-unknown-by-commodity",
        replace_text(P, "fuel = 0.3", "kerosene = 0.3"),
        P,
        ["import_demand_elasticity.by_commodity", "kerosene"],
    ),
    (
        "param-out-of-range",
        regex_sub(P, r"^value = 1\.0$", "value = 20.0"),
        P,
        ["import_demand_elasticity", "out of range", "20"],
    ),
    (
        "param-missing-source",
        regex_sub(P, r"^source = .*\n", ""),
        P,
        ["import_demand_elasticity", "source"],
    ),
    (
        "param-malformed-toml",
        replace_text(P, "value = 1.0", "value = = 1.0"),
        P,
        ["malformed TOML"],
    ),
    (
        "trader-group-unknown-crossing",
        set_cell("trader_groups.csv", 0, "crossings", "torkham;nowhere"),
        "trader_groups.csv",
        ["row 2", "crossings", "nowhere"],
    ),
    (
        "trader-group-unknown-commodity",
        set_cell("trader_groups.csv", 0, "commodities", "nothing"),
        "trader_groups.csv",
        ["row 2", "commodities", "nothing"],
    ),
    (
        "trader-group-shares-exceed-one",
        set_cell("trader_groups.csv", 0, "share", "0.9"),
        "trader_groups.csv",
        ["torkham", "exceed 1", "share"],
    ),
    (
        "trader-group-unknown-basis",
        set_cell("trader_groups.csv", 0, "margin_basis", "profit"),
        "trader_groups.csv",
        ["margin_basis", "goods, freight"],
    ),
    (
        "trader-group-missing-basis",
        drop_column("trader_groups.csv", "margin_basis"),
        "trader_groups.csv",
        ["missing column", "margin_basis"],
    ),
]


def _case(r):
    if hasattr(r, "marks"):  # already a pytest.param: first value is the id
        return pytest.param(*r.values[1:], id=r.values[0], marks=r.marks)
    return pytest.param(*r[1:], id=r[0])


@pytest.mark.parametrize("edit,file,tokens", [_case(r) for r in RULES])
def test_validation_rule(broken_inputs, edit, file: str, tokens: list[str]) -> None:
    d = broken_inputs()
    econ.load_inputs(d)  # the untouched copy is valid
    edit(d)
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    assert_one_line_error(info.value, file, *tokens)


def test_range_error_shows_plain_number(broken_inputs) -> None:
    """The 'found' value of a range failure should read as the user wrote it, not a numpy repr."""
    d = broken_inputs()
    set_cell("utilization.csv", 0, "utilization", "-5")(d)
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(d)
    msg = str(info.value)
    assert "np.float64" not in msg and "(found -5.0)" in msg


def test_missing_inputs_directory(tmp_path: Path) -> None:
    with pytest.raises(econ.InputError) as info:
        econ.load_inputs(tmp_path / "nope")
    assert_one_line_error(info.value, str(tmp_path / "nope"), "not found")


def test_input_error_is_value_error() -> None:
    assert issubclass(econ.InputError, ValueError)
    assert str(econ.InputError("a\n  b\tc")) == "a b c"


# --------------------------------------------------------------------------- schema.csv


def _schema_columns(file: str) -> list[str]:
    sch = read_schema()
    return list(sch.loc[sch["file"] == file, "column"])


def test_schema_lists_exactly_the_table_files() -> None:
    assert set(read_schema()["file"]) == set(TABLES) | set(OPTIONAL_TABLES)


@pytest.mark.parametrize("base", ["default", "toy"])
@pytest.mark.parametrize("file", TABLES + OPTIONAL_TABLES)
def test_schema_describes_every_column(file: str, base: str, toy_dir: Path) -> None:
    paths = _shipped(file) if base == "default" else [toy_dir / file]
    paths = [p for p in paths if p.is_file()]
    if not paths:
        pytest.skip(f"{file} not in {base} inputs")
    for path in paths:
        _check_header(file, path)


def _check_header(file: str, path: Path) -> None:
    header = list(pd.read_csv(path, nrows=0).columns)
    beside = {p.name for p in path.parent.iterdir()}
    if file == "commodities.csv" and "rates.csv" not in beside:
        header = [c for c in header if c != "effective_rate"]  # flat layout before base years
    if file == "crossings.csv" and "utilization.csv" not in beside:
        header = [c for c in header if c != "utilization"]  # likewise
    schema_cols = _schema_columns(file)
    assert set(header) - set(schema_cols) == set(), "columns missing from schema.csv"
    assert set(schema_cols) - set(header) == set(), "schema.csv columns missing from the file"
    assert len(header) == len(set(header))


def test_schema_rows_are_well_formed() -> None:
    sch = read_schema()
    assert not sch.duplicated(["file", "column"]).any()
    assert set(sch["type"]) <= {"slug", "str", "float", "int", "date"}
    assert set(sch["required"].str.lower()) <= {"true", "false"}
    for _, r in sch.iterrows():
        if r["min"] and r["max"]:
            assert float(r["min"]) <= float(r["max"]), (r["file"], r["column"])
        if r["references"]:
            tfile, _, tcol = r["references"].rpartition(".")
            assert tcol in _schema_columns(tfile), r["references"]
        assert r["description"].strip(), (r["file"], r["column"])


def test_parameters_toml_parses_and_has_all_required() -> None:
    from econ.spec.parameters import REQUIRED

    with (default_inputs_dir() / "parameters.toml").open("rb") as fh:
        data = tomllib.load(fh)
    assert set(REQUIRED) <= set(data)
    for name in REQUIRED:
        lo, hi = REQUIRED[name]
        assert lo <= data[name]["value"] <= hi, name
        assert math.isfinite(data[name]["value"])


def test_pakistan_fiscal_rejects_an_unknown_crossing_in_one_line(tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "in"
    shutil.copytree(default_inputs_dir(), d)
    f = d / "pakistan_fiscal.csv"
    f.write_text(f.read_text().replace("torkham;ghulam-khan", "torkhum;ghulam-khan", 1))
    with pytest.raises(econ.InputError) as e:
        econ.load_inputs(d)
    msg = str(e.value)
    assert "pakistan_fiscal.csv" in msg and "torkhum" in msg and "fix:" in msg
    assert "\n" not in msg
    # without the file the inputs are complete: Pakistan's levies are then zero
    f.unlink()
    assert econ.load_inputs(d).pakistan_fiscal.empty


# --------------------------------------------------------------------------- pandera's verdict


def _validated_tables() -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """(file, table as read, its schema rows) of every table the loader validates, in every
    shipped base year."""
    import econ.io.inputs as inputs_mod

    seen = []
    real = inputs_mod._validate_table

    def spy(file, df, rows):
        seen.append((file, df.copy(), rows))
        return real(file, df, rows)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(inputs_mod, "_validate_table", spy)
        for year in inputs_mod.base_year_dirs(default_inputs_dir()):
            econ.load_inputs(base_year=year)
    return seen


def _pandera_only(file: str, df: pd.DataFrame, rows: pd.DataFrame):
    """_validate_table with pandera judging every table: its frame, or its message."""
    import econ.io.inputs as inputs_mod

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(inputs_mod, "_accepted", lambda df, rows: None)
        try:
            return inputs_mod._validate_table(file, df, rows)
        except econ.InputError as exc:
            return str(exc)


def test_tables_passing_pandera_are_accepted_without_it_as_pandera_returns_them():
    """The accepting path (no pandera import) gives pandera's frame, bit for bit and dtype
    for dtype, on every shipped table. Fails if it coerces a column differently."""
    import econ.io.inputs as inputs_mod

    tables = _validated_tables()
    assert len(tables) >= 9
    for file, df, rows in tables:
        assert inputs_mod._accepted(df, rows) is not None, file
        got = inputs_mod._validate_table(file, df, rows)
        want = _pandera_only(file, df, rows)
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=file)


#: cell values that break, or nearly break, some rule of schema.csv
_TRICKY = [
    "",
    " ",
    "-1",
    "0",
    "1e400",
    "-1e-300",
    "nan",
    "inf",
    "1_000",
    "1,5",
    "١٢",
    "5 ",
    "+3",
    "1e3",
    "Abc",
    "a--b",
    "a_b",
    "-a",
    "a-",
    "torkham",
    "pakistan",
    "air",
    "2023-1-1",
    "2023-01-01",
    "9999-99-99",
    "x\n",
    "2023-01-01 ",
    "0x10",
    "100000000000",
]


def test_accepting_path_agrees_with_pandera_on_broken_tables():
    """Every shipped table with one cell replaced (by a tricky value or by a copy of another
    row's cell): the loader accepts it exactly when pandera does, with pandera's frame, and
    otherwise raises pandera's message. Fails if the accepting path lets through a table
    pandera rejects."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    import econ.io.inputs as inputs_mod

    tables = _validated_tables()

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        file, df, rows = data.draw(st.sampled_from(tables))
        df = df.copy()
        col = data.draw(st.sampled_from([c for c in rows["column"] if c in df.columns]))
        i = data.draw(st.integers(0, len(df) - 1))
        value = data.draw(st.sampled_from(_TRICKY) | st.sampled_from(df[col].tolist()))
        df.loc[df.index[i], col] = value
        want = _pandera_only(file, df, rows)
        try:
            got = inputs_mod._validate_table(file, df, rows)
        except econ.InputError as exc:
            got = str(exc)
        if isinstance(want, str) or isinstance(got, str):
            assert got == want
        else:
            pd.testing.assert_frame_equal(got, want, check_exact=True)

    check()
