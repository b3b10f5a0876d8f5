"""The chokepoint command line (typer CliRunner), plus one subprocess smoke test."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import econ
from cli.app import app

DECOMP = ["lost", "diverted", "delayed", "spoiled", "evaded", "rate_change"]
IMPACT_COLUMNS = ["crossing", "baseline", "scenario", "change", "change_pct", *DECOMP]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def toy_run_args(toy_dir: Path) -> list[str]:
    return ["run", "--inputs", str(toy_dir), str(toy_dir / "scen" / "closure.toml")]


def _stderr(result) -> str:
    """stderr alone when the runner separates it (click >= 8.2), else the mixed output."""
    try:
        return result.stderr
    except ValueError:  # older click without separate stderr
        return result.output


def _assert_one_error_line(result, *tokens: str) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    err = _stderr(result)
    assert "Traceback" not in result.output and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), lines[0]
    for t in tokens:
        assert t in lines[0], f"{t!r} not in {lines[0]!r}"
    return lines[0]


def _csv_rows(text: str) -> list[dict[str, str]]:
    """One plain CSV table (no title lines) as rows."""
    assert not text.startswith("#"), text[:80]
    return list(csv.DictReader(io.StringIO(text)))


def _csv_dir(path: Path) -> dict[str, list[dict[str, str]]]:
    """The tables --out-dir wrote, by file stem."""
    return {p.stem: _csv_rows(p.read_text(encoding="utf-8")) for p in sorted(path.glob("*.csv"))}


# --------------------------------------------------------------------------- help, version


def test_help_lists_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for cmd in ("run", "scenarios", "compare", "inputs"):
        assert cmd in result.stdout
    assert "--version" in result.stdout


def test_no_args_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output and "run" in result.output


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"chokepoint {econ.__version__}"
    assert econ.__version__ == "0.1.0"


# --------------------------------------------------------------------------- inputs check


def test_inputs_check_default(runner: CliRunner) -> None:
    result = runner.invoke(app, ["inputs", "check"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "base year FY1403" in out and "FY1401, FY1403" in out
    assert "Torkham + Spin Boldak share" in out
    assert "18.3%" in out  # (12.00 + 8.16) / 110 bn AFN, both allocated
    assert "not a check" in out and "agreement" not in out
    assert "torkham" in out and "spin-boldak" in out and "kabul" in out
    assert "110,000,000,000" in out
    assert "allocated" in out


def test_inputs_check_base_year(runner: CliRunner) -> None:
    result = runner.invoke(app, ["inputs", "check", "--base-year", "FY1401", "--format", "json"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["base_year"] == "FY1401"
    titles = obj["summary"]["titles"]
    (overview,) = [obj["tables"][k] for k, t in titles.items() if t.startswith("Inputs, base year")]
    items = {r["item"]: r["value"] for r in overview}
    assert items["Torkham + Spin Boldak share"] == "41.2%"
    assert items["Torkham + Spin Boldak vs seed article"].startswith("not a check")
    assert items["imports, calibrated (USD/yr)"] == items["imports, base_year.toml (USD/yr)"]
    (evidence,) = [
        obj["tables"][k] for k, t in titles.items() if t.startswith("Which crossing revenues")
    ]
    methods = {r["method"]: r for r in evidence}
    assert methods["observed"]["crossings"] == "hairatan"
    assert methods["observed-split"]["crossings"] == "islam-qala, torghundi"
    assert "torkham" in methods["allocated"]["crossings"]


def test_unknown_base_year_one_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["inputs", "check", "--base-year", "FY1300"])
    _assert_one_error_line(result, "--base-year", "FY1300", "FY1401, FY1403")


def test_inputs_check_toy_csv(runner: CliRunner, toy_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tables"
    args = ["inputs", "check", "--inputs", str(toy_dir), "--format", "csv", "--out-dir", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    tables = list(_csv_dir(out).values())
    assert len(tables) == 3
    (rev,) = [{r["crossing"]: r for r in t} for t in tables if t and "revenue_afn" in t[0]]
    assert set(rev) == {"east", "west"}
    assert float(rev["east"]["revenue_afn"]) == pytest.approx(8176000000)


def _break_crossings(d: Path) -> None:
    text = (d / "utilization.csv").read_text(encoding="utf-8")
    (d / "utilization.csv").write_text(
        text.replace("torkham,0.65,", "torkham,lots,", 1), encoding="utf-8"
    )


def test_inputs_check_broken(runner: CliRunner, broken_inputs) -> None:
    d = broken_inputs()
    _break_crossings(d)
    result = runner.invoke(app, ["inputs", "check", "--inputs", str(d)])
    line = _assert_one_error_line(result, "utilization.csv", "utilization", "lots")
    assert result.stdout == ""
    assert not isinstance(result.exception, econ.InputError)
    assert line


def test_inputs_check_broken_debug_raises(runner: CliRunner, broken_inputs) -> None:
    d = broken_inputs()
    _break_crossings(d)
    result = runner.invoke(app, ["--debug", "inputs", "check", "--inputs", str(d)])
    assert result.exit_code != 0
    assert isinstance(result.exception, econ.InputError)
    assert "utilization.csv" in str(result.exception)


def test_inputs_check_missing_toml_no_traceback(runner: CliRunner, broken_inputs) -> None:
    d = broken_inputs()
    (d / "base_year.toml").unlink()
    result = runner.invoke(app, ["inputs", "check", "--inputs", str(d)])
    _assert_one_error_line(result, "base_year.toml")


# --------------------------------------------------------------------------- run


def test_run_csv(runner: CliRunner, toy_run_args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "tables"
    args = [*toy_run_args, "--format", "csv", "--units", "usd", "--out-dir", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    found = _csv_dir(out)
    assert sorted(found) == ["coal", "crossings", "path"]  # by crossing, coal and rest, by month
    tables = [found["crossings"], found["coal"], found["path"]]
    first = tables[0]
    assert list(first[0].keys()) == IMPACT_COLUMNS
    rows = {r["crossing"]: {k: float(v) for k, v in r.items() if k != "crossing"} for r in first}
    assert list(rows) == ["east", "west", "TOTAL"]
    # 90 days of the toy's annual revenue: east 116.8e6, west 76.65e6 USD/yr
    # (whole USD: amounts are rounded at output)
    assert rows["east"]["baseline"] == pytest.approx(116.8e6 * 90 / 365, abs=0.5)
    assert rows["west"]["baseline"] == pytest.approx(76.65e6 * 90 / 365, abs=0.5)
    # east is closed: it loses revenue, some of which is diverted to west
    assert rows["east"]["change"] < 0 < rows["west"]["change"]
    assert rows["east"]["diverted"] > 0 > rows["west"]["diverted"]
    for r in rows.values():
        assert r["change"] == pytest.approx(r["scenario"] - r["baseline"], abs=1.5)
        assert r["change"] == pytest.approx(-sum(r[c] for c in DECOMP), abs=3.5)
    for c in ("baseline", "scenario", "change", *DECOMP):
        assert rows["TOTAL"][c] == pytest.approx(rows["east"][c] + rows["west"][c], abs=1.5)
    assert rows["TOTAL"]["diverted"] == 0.0  # no float noise: rounded at output
    # second table: coal and the rest (the toy has no coal); third: one row per month
    assert [r["group"] for r in tables[1]] == ["coal", "non-coal", "TOTAL"]
    assert float(tables[1][0]["baseline"]) == 0.0
    assert [r["period"] for r in tables[2]] == ["2023-01-01", "2023-02-01", "2023-03-01"]


def test_run_json(runner: CliRunner, toy_run_args: list[str]) -> None:
    result = runner.invoke(app, [*toy_run_args, "--format", "json"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert list(obj) == ["command", "scenario", "base_year", "baseline", "tables", "summary"]
    assert (obj["command"], obj["scenario"], obj["base_year"]) == ("run", "toy-closure", "TOY")
    assert list(obj["tables"]) == ["crossings", "coal", "path"]
    impact_title = obj["summary"]["titles"]["crossings"]
    assert "base year TOY" in impact_title
    assert "toy-closure" in impact_title
    assert [r["crossing"] for r in obj["tables"]["crossings"]] == ["east", "west", "TOTAL"]
    assert set(obj["tables"]["crossings"][0]) == set(IMPACT_COLUMNS)


def test_run_markdown(runner: CliRunner, toy_run_args: list[str]) -> None:
    result = runner.invoke(app, [*toy_run_args, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "| " + " | ".join(IMPACT_COLUMNS) + " |" in lines
    assert any(ln.startswith("|---|") for ln in lines)
    assert any(ln.startswith("| TOTAL |") for ln in lines)


def test_run_table_crossings_only(runner: CliRunner, toy_run_args: list[str]) -> None:
    result = runner.invoke(app, [*toy_run_args, "--format", "csv", "--table", "crossings"])
    assert result.exit_code == 0, result.output
    rows = _csv_rows(result.stdout)
    assert [r["crossing"] for r in rows] == ["east", "west", "TOTAL"]
    assert "#" not in result.stdout
    assert "National customs revenue by month" not in result.stdout


def test_run_table_path_only(runner: CliRunner, toy_run_args: list[str]) -> None:
    result = runner.invoke(app, [*toy_run_args, "--format", "json", "--table", "path"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert list(obj["tables"]) == ["path"]
    assert obj["summary"]["titles"]["path"] == (
        "National customs revenue by month (amounts in million USD; base year TOY; baseline flat)"
    )


def test_run_default_table_format(runner: CliRunner, toy_run_args: list[str]) -> None:
    result = runner.invoke(app, toy_run_args)
    assert result.exit_code == 0, result.output
    assert "Revenue impact by crossing, toy-closure" in result.stdout
    assert "TOTAL" in result.stdout and "east" in result.stdout


def test_run_out_netcdf(runner: CliRunner, toy_run_args: list[str], tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "x.nc"
    result = runner.invoke(app, [*toy_run_args, "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert sorted(p.name for p in out_dir.iterdir()) == ["x.nc"]  # no stray temp files
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        var = ds["customs_revenue"]
        assert var.attrs.get("units"), var.attrs
        assert var.attrs.get("long_name"), var.attrs
        assert "USD" in var.attrs["units"]
        assert set(var.dims) >= {"time", "crossing"}
        assert ds.sizes["time"] == 3
        assert ds.attrs["scenario"] == "toy-closure"
    assert "wrote" in _stderr(result)


def test_run_out_write_failure(runner: CliRunner, toy_run_args: list[str], tmp_path: Path) -> None:
    target = tmp_path / "taken.nc"
    target.mkdir()  # the out path is an existing directory
    result = runner.invoke(app, [*toy_run_args, "--format", "csv", "--out", str(target)])
    # --out is declared dir_okay=False, so click rejects it as a usage error (exit 2) before running
    assert result.exit_code == 2, result.output
    err = " ".join(_stderr(result).split())
    assert "Invalid value" in err and "--out" in err
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert target.is_dir() and list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.nc"]  # no temp file left


def test_run_out_write_failure_in_library(
    runner: CliRunner, toy_run_args: list[str], tmp_path: Path
) -> None:
    # 'dir_okay=False' lets click reject a directory; bypass it with a file whose parent is a file
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = runner.invoke(app, [*toy_run_args, "--out", str(blocker / "x.nc")])
    _assert_one_error_line(result)
    assert blocker.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_run_out_partial_write_cleaned_up(
    runner: CliRunner, toy_run_args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xr = pytest.importorskip("xarray")

    def failing_to_netcdf(self, path=None, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", failing_to_netcdf)
    out = tmp_path / "x.nc"
    result = runner.invoke(app, [*toy_run_args, "--out", str(out)])
    _assert_one_error_line(result, "OSError", "No space left on device")
    assert list(tmp_path.iterdir()) == []  # neither x.nc nor the temporary file


def test_run_invalid_scenario_file(runner: CliRunner, toy_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\nstart = "2023-01-01"\nmonths = 3\n[[measure]]\ntype = "closure"\n'
        'start = "2023-01-02"\ncapacity = 1.5\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["run", "--inputs", str(toy_dir), str(bad)])
    _assert_one_error_line(result, "bad.toml", "capacity")
    assert result.stdout == ""


def test_run_scenario_with_unknown_crossing(
    runner: CliRunner, toy_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "ids.toml"
    bad.write_text(
        'name = "ids"\nstart = "2023-01-01"\nmonths = 2\n[[measure]]\ntype = "closure"\n'
        'start = "2023-01-02"\ncrossings = ["torkham"]\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["run", "--inputs", str(toy_dir), str(bad)])
    _assert_one_error_line(result, "ids.toml", "torkham")


def test_run_unknown_scenario_name(runner: CliRunner, toy_dir: Path) -> None:
    result = runner.invoke(app, ["run", "--inputs", str(toy_dir), "no-such-scenario"])
    _assert_one_error_line(result, "no-such-scenario")


def test_run_months_out_of_range_is_usage_error(runner: CliRunner, toy_run_args: list[str]) -> None:
    result = runner.invoke(app, [*toy_run_args, "--months", "0"])
    assert result.exit_code == 2


def test_run_base_year_in_titles_and_coal(runner: CliRunner) -> None:
    args = ["run", "pakistan-closure-2025", "--months", "6", "--format", "json"]
    for extra, label in (([], "FY1403"), (["--base-year", "FY1401"], "FY1401")):
        result = runner.invoke(app, [*args, *extra, "--table", "coal"])
        assert result.exit_code == 0, result.output
        obj = json.loads(result.stdout)
        ((title,),) = [list(obj["summary"]["titles"].values())]
        ((rows,),) = [list(obj["tables"].values())]
        assert obj["base_year"] == label
        assert f"base year {label};" in title and "coal export duty" in title
        rows = {r["group"]: r for r in rows}
        # each figure is rounded to 0.01 million USD at output, so the parts add up to that
        assert rows["coal"]["change"] + rows["non-coal"]["change"] == pytest.approx(
            rows["TOTAL"]["change"], abs=0.0101
        )


def test_run_builtin_default_short(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["run", "default", "--months", "2", "--format", "json", "--table", "crossings"]
    )
    assert result.exit_code == 0, result.output
    (rows,) = json.loads(result.stdout)["tables"].values()
    assert [r["crossing"] for r in rows][-1] == "TOTAL"
    assert len(rows) == 15


# --------------------------------------------------------------------------- scenarios, compare


def test_scenarios_list(runner: CliRunner) -> None:
    result = runner.invoke(app, ["scenarios", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert {"default", "baseline"} <= set(rows)
    assert set(rows) == set(econ.builtin_scenarios())
    assert rows["baseline"]["measures"] == "0"
    assert int(rows["default"]["measures"]) > 0


def test_compare(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["compare", "baseline", "default", "--months", "3", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert set(rows) == {"baseline", "default"}
    assert float(rows["default"]["change"]) < 0
    assert float(rows["baseline"]["change"]) == pytest.approx(0.0, abs=1.0)


def test_compare_unknown_name(runner: CliRunner, toy_dir: Path) -> None:
    result = runner.invoke(
        app, ["compare", "baseline", "nonesuch", "--inputs", str(toy_dir), "--months", "2"]
    )
    _assert_one_error_line(result, "nonesuch")


# --------------------------------------------------------------------------- subprocess smoke


def test_subprocess_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.app", "--help"], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0 or "run" not in proc.stdout:  # pragma: no cover - fallback
        exe = shutil.which("chokepoint") or str(Path(sys.executable).with_name("chokepoint"))
        if not Path(exe).exists():
            pytest.skip("no working __main__ guard and no chokepoint console script")
        proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "run" in proc.stdout and "compare" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["pressure"],
        ["compare"],
        ["sensitivity"],
        ["backtest"],
        ["calibrate"],
        ["scenarios"],
        ["inputs", "check"],
    ],
)
def test_every_command_that_loads_inputs_takes_base_year(runner: CliRunner, command) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--base-year" in result.stdout
