"""What an analyst takes away (#17): plain CSV, one JSON schema, Excel, ranges with --members,
units, charts, sweeps, the one-file report, netCDF files, and scenario-authoring messages.

Cheap on purpose: the toy inputs (two crossings, three months) except where the shipped
inputs are the point, small ensembles, module-scoped results.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

import econ
from cli.app import app
from econ.report.document import SECTIONS
from econ.report.present import JSON_KEYS

runner = CliRunner()


def invoke(*args: str, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


def check_schema(obj: dict, command: str) -> None:
    """The one JSON document of every command (docs/outputs.md, "Machine-readable output")."""
    assert tuple(obj) == JSON_KEYS
    assert obj["command"] == command
    for key in ("scenario", "base_year", "baseline"):
        assert obj[key] is None or isinstance(obj[key], str)
    assert isinstance(obj["tables"], dict) and obj["tables"]
    for name, rows in obj["tables"].items():
        assert re.fullmatch(r"[a-z0-9-]+", name), name
        assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
        for r in rows:
            for v in r.values():
                assert v is None or isinstance(v, (str, int, float, bool)), (name, v)
    s = obj["summary"]
    assert isinstance(s["lines"], list) and isinstance(s["members"], int)
    assert set(s["titles"]) == set(obj["tables"]) and set(s["units"]) == set(obj["tables"])


@pytest.fixture(scope="module")
def toy_args(toy_dir: Path) -> list[str]:
    return ["--inputs", str(toy_dir), str(toy_dir / "scen" / "closure.toml")]


@pytest.fixture(scope="module")
def toy_json(toy_args) -> dict:
    return json.loads(invoke("run", *toy_args, "--format", "json").stdout)


@pytest.fixture(scope="module")
def toy_ensemble_json(toy_args) -> dict:
    return json.loads(invoke("run", *toy_args, "-n", "4", "--format", "json").stdout)


# --------------------------------------------------------------------------- csv, json, xlsx


def test_csv_out_dir_reads_back_with_pandas(toy_args, tmp_path: Path) -> None:
    invoke("run", *toy_args, "--format", "csv", "--out-dir", tmp_path)
    frames = {p.stem: pd.read_csv(p) for p in sorted(tmp_path.glob("*.csv"))}
    assert sorted(frames) == ["coal", "crossings", "path"]
    crossings = frames["crossings"].set_index("crossing")
    assert list(crossings.index) == ["east", "west", "TOTAL"]
    assert all(pd.api.types.is_numeric_dtype(crossings[c]) for c in crossings.columns)
    assert crossings.loc["TOTAL", "diverted"] == 0  # no 6.5e-08 of float noise
    assert len(frames["path"]) == 3


def test_csv_one_table_on_stdout_others_named_on_stderr(toy_args) -> None:
    result = invoke("run", *toy_args, "--format", "csv")
    df = pd.read_csv(io.StringIO(result.stdout))
    assert df.columns[0] == "crossing"
    assert "--table NAME" in result.stderr and "path" in result.stderr


@pytest.mark.parametrize(
    "command, args",
    [
        ("run", ["TOY"]),
        ("pressure", ["TOY"]),
        ("compare", ["TOY2"]),
        ("sweep", ["TOY", "--set", "capacity=0:0.5:0.5"]),
        ("inputs check", ["--inputs", "TOYDIR"]),
    ],
)
def test_json_one_schema_for_every_command(command, args, toy_args, toy_dir) -> None:
    scen = str(toy_dir / "scen" / "closure.toml")
    expanded: list[str] = []
    for a in args:
        if a == "TOY":
            expanded += ["--inputs", str(toy_dir), scen]
        elif a == "TOY2":
            expanded += ["--inputs", str(toy_dir), scen, "baseline"]
        elif a == "TOYDIR":
            expanded.append(str(toy_dir))
        else:
            expanded.append(a)
    result = invoke(*command.split(), *expanded, "--format", "json")
    obj = json.loads(result.stdout)
    check_schema(obj, command)
    if command != "inputs check":
        assert obj["base_year"] == "TOY" and obj["baseline"] == "flat"


def test_json_summary_carries_the_summary_lines(toy_json) -> None:
    check_schema(toy_json, "run")
    assert any(line.startswith("Peak trader pressure") for line in toy_json["summary"]["lines"])
    assert toy_json["summary"]["units"]["crossings"]["baseline"] == "million USD"


def test_xlsx_one_sheet_per_table(toy_args, tmp_path: Path) -> None:
    out = tmp_path / "run.xlsx"
    invoke("run", *toy_args, "--format", "xlsx", "--out", out)
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == ["about", "crossings", "coal", "path"]
    about = dict(zip(sheets["about"]["item"], sheets["about"]["value"]))
    assert about["base year"] == "TOY" and about["baseline"] == "flat"
    crossings = sheets["crossings"].set_index("crossing")
    assert crossings.loc["TOTAL", "baseline"] == pytest.approx(47.7, abs=0.01)  # million USD


def test_units_usd_and_musd(toy_args, toy_json) -> None:
    usd = json.loads(invoke("run", *toy_args, "-f", "json", "--units", "usd").stdout)
    musd = toy_json  # the default
    a = usd["tables"]["crossings"][-1]["baseline"]
    b = musd["tables"]["crossings"][-1]["baseline"]
    assert a / 1e6 == pytest.approx(b, abs=0.005)
    assert "amounts in USD" in usd["summary"]["titles"]["crossings"]


def test_every_figure_carries_its_range_with_members(toy_ensemble_json, toy_args, toy_dir) -> None:
    obj = toy_ensemble_json
    assert obj["summary"]["members"] == 4
    for name in ("crossings", "path"):
        cols = set(obj["tables"][name][0])
        for c in ("scenario", "change", "lost", "diverted", "delayed"):
            assert {f"{c}_p05", f"{c}_p95"} <= cols, (name, c)
        assert "median [p05–p95] of 4 members" in obj["summary"]["titles"][name]
    scen = str(toy_dir / "scen" / "closure.toml")
    for cmd in (["compare", scen, "baseline"], ["pressure", scen]):
        other = json.loads(invoke(*cmd, "--inputs", toy_dir, "-n", "4", "--format", "json").stdout)
        for name, rows in other["tables"].items():
            assert any(c.endswith("_p95") for c in rows[0]), (cmd[0], name)
    table = invoke("run", *toy_args, "-n", "4").stdout
    assert re.search(r"-?\d+\.\d+ \[-?\d+\.\d+ ?– ?-?\d+\.\d+\]", table)


def test_titles_name_base_year_and_baseline_and_legend(toy_args) -> None:
    text = invoke("run", *toy_args).stdout
    titles = [ln for ln in text.splitlines() if "(amounts in" in ln]
    assert len(titles) == 3
    assert all("base year TOY" in t and "baseline flat" in t for t in titles)
    assert "Signs: change < 0 is revenue lost" in text


# --------------------------------------------------------------------------- netCDF


def test_netcdf_compressed_with_long_names_and_no_overwrite(toy_args, tmp_path: Path) -> None:
    import h5py
    import xarray as xr

    out = tmp_path / "run.nc"
    invoke("run", *toy_args, "--out", out)
    with h5py.File(out) as f:
        assert f["customs_revenue"].compression == "gzip"
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        for name, coord in ds.coords.items():
            assert coord.attrs.get("long_name"), name
    again = runner.invoke(app, ["run", *toy_args, "--out", str(out)])
    assert again.exit_code == 1 and "--force" in again.stderr
    wrong = runner.invoke(app, ["run", *toy_args, "--out", str(tmp_path / "run.txt")])
    assert wrong.exit_code == 1 and ".nc or .xlsx" in wrong.stderr


# --------------------------------------------------------------------------- charts

#: pixel size of each chart at the default 110 dpi (econ.report.charts.figure)
SIZES = {
    "all": (1650, 1815),
    "path": (1210, 660),
    "crossings": (1100, 770),
    "corridors": (1210, 660),
    "pressure": (1210, 660),
    "map": (990, 880),
}


@pytest.fixture(scope="module")
def toy_result(toy_dir):
    return econ.run(toy_dir / "scen" / "closure.toml", inputs=toy_dir, members=3)


@pytest.mark.parametrize("kind", [k for k in SIZES if k != "all"])
def test_every_chart_kind(kind, toy_result, tmp_path: Path) -> None:
    from econ.report.charts import figure, save

    out = tmp_path / f"{kind}.png"
    save(figure({"toy-closure": toy_result}, kind), out)
    assert out.stat().st_size > 10_000
    with Image.open(out) as im:
        assert im.size == SIZES[kind]
        # not blank: a chart has many colours
        assert len(im.convert("RGB").getcolors(maxcolors=1_000_000)) > 20


def test_plot_command_and_plot_on_run_and_compare(toy_args, toy_dir, tmp_path: Path) -> None:
    invoke("plot", *toy_args, "--kind", "map", "--out", tmp_path / "p.pdf")
    assert (tmp_path / "p.pdf").read_bytes()[:4] == b"%PDF"
    invoke("run", *toy_args, "--plot", tmp_path / "run.svg")
    assert (tmp_path / "run.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    scen = str(toy_dir / "scen" / "closure.toml")
    invoke("compare", scen, "baseline", "--inputs", toy_dir, "--plot", tmp_path / "cmp.png")
    with Image.open(tmp_path / "cmp.png") as im:
        assert im.size == SIZES["all"]
        assert len(im.convert("RGB").getcolors(maxcolors=1_000_000)) > 20
    bad = runner.invoke(app, ["plot", *toy_args, "--out", str(tmp_path / "p.gif")])
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert ".png" in bad.stderr


# --------------------------------------------------------------------------- sweep


def test_sweep_first_point_equals_a_plain_run(toy_inputs, toy_dir) -> None:
    from econ.analysis.sweep import sweep

    sc = econ.load_scenario(toy_dir / "scen" / "closure.toml")
    df = sweep(sc, toy_inputs, "capacity", np.array([0.5, 0.0]))
    changed = sc.model_copy(
        update={"measures": [sc.measures[0].model_copy(update={"capacity": 0.5})]}
    )
    ds = econ.run(changed, inputs=toy_inputs)
    loss = float((ds.baseline_customs_revenue - ds.customs_revenue).sum())
    assert df["revenue_loss"].iloc[0] == pytest.approx(loss, rel=1e-9)
    assert df["revenue_loss"].iloc[1] > df["revenue_loss"].iloc[0]  # shut harder, lose more


def test_sweep_cli_table_plot_and_flag(toy_args, tmp_path: Path) -> None:
    result = invoke(
        "sweep", *toy_args, "--set", "measure1.days=5:25:10", "--plot", tmp_path / "s.png"
    )
    assert "Sweep of measure1.days" in result.stdout
    assert "loss_rising" in result.stdout
    assert "The treasury's loss" in result.stdout
    with Image.open(tmp_path / "s.png") as im:
        assert im.size[0] > 1000
    bad = runner.invoke(app, ["sweep", *toy_args, "--set", "rate=1:0:1"])
    assert bad.exit_code == 1 and "malformed sweep" in bad.stderr


def test_sweep_flags_where_the_loss_stops_rising() -> None:
    from econ.analysis.sweep import sweep_summary

    df = pd.DataFrame(
        {"revenue_loss": [0.0, 5e6, 8e6, 7e6], "loss_rising": [False, True, True, False]},
        index=pd.Index([0.0, 0.1, 0.2, 0.3], name="rate"),
    )
    df.attrs.update(field="rate", peak_value=0.2)
    line = sweep_summary(df)
    assert line.startswith("Raising rate beyond 0.2 no longer raises the treasury's loss")


# --------------------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def report_html(toy_args, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    invoke("report", *toy_args, "-n", "3", "--out", out)
    return out.read_text(encoding="utf-8")


def test_report_html_holds_every_section(report_html: str) -> None:
    for _, heading in SECTIONS:
        assert f">{heading}</h2>" in report_html.replace("&#x27;", "'"), heading
    assert report_html.count('src="data:image/png;base64,') == 5  # the charts, embedded
    assert not re.search(r'src="(?!data:)', report_html)  # nothing fetched from elsewhere
    assert "base year TOY" in report_html and "baseline flat" in report_html
    assert "median [p05–p95]" in report_html


def test_report_md_and_xlsx(toy_args, tmp_path: Path) -> None:
    md = tmp_path / "r.md"
    invoke("report", *toy_args, "--no-sensitivity", "--no-charts", "--out", md)
    text = md.read_text(encoding="utf-8")
    assert all(f"## {heading}" in text for _, heading in SECTIONS)
    xlsx = tmp_path / "r.xlsx"
    invoke("report", *toy_args, "--no-sensitivity", "--no-charts", "--out", xlsx)
    with pd.ExcelFile(xlsx) as book:
        sheets = book.sheet_names
    assert sheets[0] == "report" and {"crossings", "path", "groups", "ledger"} <= set(sheets)
    bad = runner.invoke(app, ["report", *toy_args, "--out", str(tmp_path / "r.pdf")])
    assert bad.exit_code == 1 and ".html" in bad.stderr


# --------------------------------------------------------------------------- authoring


HEAD = 'name = "t"\nstart = "2023-07-01"\nmonths = 3\n'


@pytest.mark.parametrize(
    "body, tokens",
    [
        (
            '[[measure]]\ntype = "tariff"\nstart = "2023-08-01"\nrate = 20\n',
            ["measure 1 (tariff)", "out of range [0, 10]", "did you mean 0.20?"],
        ),
        (
            '[[measure]]\ntype = "tariff"\nstart = "2023-08-01"\nrate = 5\n',
            ["measure 1 (tariff)", "rate = 5 is above 1", "did you mean 0.05?"],
        ),
        (
            '[[measure]]\ntype = "closure"\nstart = "2023-08-01"\ncapacity = 50\n'
            'crossings = ["torkham"]\n',
            ["measure 1 (closure)", "out of range [0, 1]", "did you mean 0.50?"],
        ),
        (
            '[[measure]]\ntype = "closure"\nlabel = "late"\nstart = "2024-08-01"\n'
            'crossings = ["torkham"]\n',
            ["measure 1 (closure 'late')", "wholly outside the horizon"],
        ),
        (
            '[[measure]]\ntype = "closure"\nstart = "2023-08-01"\ncrossings = ["peshawar"]\n',
            ["unknown id", "'peshawar'", "spin-boldak (Spin Boldak"],
        ),
        ("remove_measures = [1]\n", ["'remove_measures' needs 'extends'"]),
    ],
)
def test_authoring_mistakes_give_their_message(body, tokens, tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(HEAD + body, encoding="utf-8")
    result = runner.invoke(app, ["run", str(f), "--months", "1"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bad.toml")
    for t in tokens:
        assert t in lines[0], (t, lines[0])


def test_common_names_and_extends(tmp_path: Path, default_inputs) -> None:
    f = tmp_path / "variant.toml"
    f.write_text(
        'extends = "default"\nname = "variant"\nmonths = 4\n'
        'remove_measures = ["pk-negative-list"]\n'
        "[change.pk-transit-fee]\nrate = 0.2\n"
        '[[measure]]\ntype = "closure"\nstart = "2023-08-01"\nend = "2023-08-05"\n'
        'crossings = ["chaman", "Torkham"]\n',
        encoding="utf-8",
    )
    sc = econ.load_scenario(f)
    base = econ.load_scenario("default")
    assert sc.name == "variant" and sc.months == 4
    # one removed, three inherited ones outside the shorter horizon left out, one added (the
    # Chaman document rule starts on the horizon's end but is announced inside it: it acts)
    assert len(base.measures) == 9 and len(sc.measures) == 6
    assert all(m.first_day < sc.end for m in sc.measures)
    assert "pk-negative-list" not in {m.id for m in sc.measures}
    assert next(m for m in sc.measures if m.id == "pk-transit-fee").rate == 0.2
    model = econ.Model(econ.io.inputs.inputs_for(sc, default_inputs, None), sc)
    closure = model.measures[-1]
    names = {model.network.crossing_ids[i] for i in np.flatnonzero(closure.crossing_mask)}
    assert names == {"spin-boldak", "torkham"}
    assert econ.parse_scenario(sc.text).measures == sc.measures  # the recorded text re-runs


def test_scenarios_shows_whole_descriptions_and_sources() -> None:
    # (its JSON is the one schema: test_cli.py::test_scenarios_list reads its CSV, and
    # the document comes from the same renderer as the other commands')
    text = invoke("scenarios").stdout
    flat = " ".join(text.split())
    last = " ".join(econ.load_scenario("default").description.split())[-60:]
    assert last in flat
    assert "Source: SRO 1380(I)/2023" in flat


def test_usage_errors_one_line_exit_2_and_debug_after_the_subcommand(toy_args) -> None:
    bad = runner.invoke(app, ["run", *toy_args, "--no-such-flag"])
    assert bad.exit_code == 2
    assert bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("error: ")
    missing = runner.invoke(app, ["run", "no-such-scenario", "--debug"])
    assert missing.exit_code == 1 and isinstance(missing.exception, econ.InputError)


def test_every_format_of_the_toy_commands(toy_dir, tmp_path: Path) -> None:
    """The formats the other tests leave out, one run each (table, markdown, csv, xlsx)."""
    scen = str(toy_dir / "scen" / "closure.toml")
    base = ["--inputs", str(toy_dir)]
    cases = [
        (["pressure", scen], "markdown", "| group |"),
        (["pressure", scen], "xlsx", None),
        (["compare", scen, "baseline"], "csv", "name,base_year,months"),
        (["compare", scen, "baseline"], "xlsx", None),
        (["sweep", scen, "--set", "capacity=0,0.5"], "csv", "capacity,revenue_loss"),
        (["sweep", scen, "--set", "capacity=0,0.5"], "xlsx", None),
    ]
    for i, (cmd, fmt, expect) in enumerate(cases):
        extra = ["--out", str(tmp_path / f"{i}.xlsx")] if fmt == "xlsx" else []
        result = invoke(*cmd, *base, "--format", fmt, *extra)
        if fmt == "xlsx":
            with pd.ExcelFile(tmp_path / f"{i}.xlsx") as book:
                assert book.sheet_names[0] == "about" and len(book.sheet_names) >= 2, cmd
            assert result.stdout == ""
        else:
            assert expect in result.stdout, (cmd, fmt, result.stdout[:300])
