"""The README's set-up commands are what CI runs, and the quickstart works."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    blocks = [b.strip() for b in _bash_blocks()]
    assert len(blocks) == 2
    assert "chokepoint run default" in blocks[0]
    assert "pytest" in blocks[1]
    assert blocks[1] in (ROOT / ".ci" / "run").read_text()


def test_quickstart_is_at_most_ten_lines():
    block = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)[0]
    assert len(block.strip().splitlines()) <= 10


def test_quickstart_runs(capsys):
    block = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)[0]
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "million USD lost over the horizon" in out
    assert "revenue_lost_volume" in out


def test_every_result_variable_and_attribute_is_documented():
    """docs/outputs.md names every variable and attribute a result Dataset carries."""
    import econ

    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    ds = econ.run("default", months=1)
    missing = [v for v in list(ds.data_vars) + list(ds.attrs) if f"`{v}`" not in text]
    assert not missing, f"undocumented in docs/outputs.md: {missing}"


def _headline() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- headline:.*?-->\n(.*?)<!-- end headline -->", text, flags=re.S)
    assert m, "README has no headline block"
    return m.group(1)


def test_readme_headline_is_the_backtest_output():
    """The in-sample headline in the README is what `chokepoint backtest` computes."""
    import econ
    from econ.analysis.backtest import backtest, summary

    table, _ = backtest(econ.load_inputs())
    s = summary(table, common=True, fitted=True)
    line = _headline().splitlines()[0]
    found = re.findall(
        r"for (\d+) of (\d+)(?: outcomes)? \(MAE ([\d.]+) pp\)|for (\d+) of (\d+) \(([\d.]+) pp\)",
        line,
    )
    got = [tuple(x for x in f if x) for f in found]
    want = [
        (
            str(round(s.loc[p, "within_tolerance_pct"] * s.loc[p, "outcomes"] / 100)),
            str(int(s.loc[p, "outcomes"])),
            f"{s.loc[p, 'mae_pp']:.1f}",
        )
        for p in ("model", "no_diversion", "instant_diversion")
    ]
    assert got == want, (got, want)
