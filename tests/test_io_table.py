"""The FY1401 input-output table in inputs/io/: balance, Leontief properties, rebuild, sources.

The table is built by ``inputs/io/build_io.py`` from sourced CSVs; these tests read the shipped
outputs (USD million) and check the accounting identities to 1e-9 USD million.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

INPUTS = Path(__file__).resolve().parents[1] / "inputs"
YEAR = INPUTS / "base_years" / "FY1401"  # the base year of the IO table
IO_DIR = INPUTS / "io"
ATOL = 1e-9  # USD million
FINAL_IMPORT_USERS = ["household", "government", "gfcf"]


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chokepoint_build_io", IO_DIR / "build_io.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    return _load_builder()


@pytest.fixture(scope="module")
def t() -> dict[str, pd.DataFrame]:
    return {
        "Z": pd.read_csv(IO_DIR / "table_Z.csv", index_col=0),
        "Y": pd.read_csv(IO_DIR / "table_Y.csv", index_col=0),
        "VA": pd.read_csv(IO_DIR / "table_VA.csv", index_col=0),
        "M": pd.read_csv(IO_DIR / "imports_use.csv", index_col=0),
        "acc": pd.read_csv(IO_DIR / "sector_accounts.csv", index_col=0),
    }


@pytest.fixture(scope="module")
def sectors(t: dict[str, pd.DataFrame]) -> list[str]:
    return list(t["Z"].index)


# --------------------------------------------------------------------------- balance


def test_shapes_and_labels(t: dict[str, pd.DataFrame], sectors: list[str]) -> None:
    assert 8 <= len(sectors) <= 15
    assert list(t["Z"].columns) == sectors
    assert list(t["Y"].index) == sectors
    assert list(t["Y"].columns) == ["household", "government", "gfcf", "exports"]
    assert list(t["VA"].index) == ["border_taxes", "value_added"]
    assert list(t["VA"].columns) == sectors + ["household", "government", "gfcf", "exports"]
    assert list(t["M"].columns) == sectors + FINAL_IMPORT_USERS
    assert list(t["acc"].index) == sectors


def test_rows_balance(t: dict[str, pd.DataFrame], sectors: list[str]) -> None:
    """x_i = sum_j Z_ij + sum_f Y_if."""
    x = t["acc"]["output"]
    rows = t["Z"].sum(axis=1) + t["Y"].sum(axis=1)
    np.testing.assert_allclose(rows.to_numpy(), x.to_numpy(), rtol=0, atol=ATOL)


def test_columns_balance(t: dict[str, pd.DataFrame], sectors: list[str]) -> None:
    """x_j = sum_i Z_ij + sum_k M_kj + border_taxes_j + value_added_j."""
    x = t["acc"]["output"]
    cols = t["Z"].sum(axis=0) + t["M"][sectors].sum(axis=0) + t["VA"][sectors].sum(axis=0)
    np.testing.assert_allclose(cols.to_numpy(), x.to_numpy(), rtol=0, atol=ATOL)


def test_row_totals_equal_column_totals(t: dict[str, pd.DataFrame], sectors: list[str]) -> None:
    rows = t["Z"].sum(axis=1) + t["Y"].sum(axis=1)
    cols = t["Z"].sum(axis=0) + t["M"][sectors].sum(axis=0) + t["VA"][sectors].sum(axis=0)
    np.testing.assert_allclose(rows.to_numpy(), cols.to_numpy(), rtol=0, atol=ATOL)


def test_gdp_identity(t: dict[str, pd.DataFrame]) -> None:
    """Production GDP (value added + border taxes) = expenditure GDP (C + G + I + X - M)."""
    macro = pd.read_csv(IO_DIR / "macro.csv").set_index("key")["value"]
    production = t["VA"].to_numpy().sum()
    y = t["Y"]
    fd_imports = t["M"][FINAL_IMPORT_USERS].to_numpy().sum()
    fd_taxes = t["VA"].loc["border_taxes", FINAL_IMPORT_USERS].sum()
    expenditure = (
        y[["household", "government", "gfcf"]].to_numpy().sum()
        + fd_imports
        + fd_taxes
        + y["exports"].sum()
        - t["M"].to_numpy().sum()
    )
    assert production == pytest.approx(float(macro["gdp_usd_m"]), abs=1e-6)
    assert expenditure == pytest.approx(production, abs=1e-6)


def test_non_negative(t: dict[str, pd.DataFrame]) -> None:
    for key in ("Z", "Y", "VA", "M"):
        assert (t[key].to_numpy() >= 0).all(), key


# --------------------------------------------------------------------------- Leontief


def test_technical_coefficients(t: dict[str, pd.DataFrame]) -> None:
    """A = Z diag(x)^-1 is non-negative with column sums below 1."""
    x = t["acc"]["output"].to_numpy()
    a = t["Z"].to_numpy() / x[None, :]
    assert (a >= 0).all()
    assert (a.sum(axis=0) < 1).all()


def test_leontief_inverse(t: dict[str, pd.DataFrame], builder: ModuleType) -> None:
    """L = (I - A)^-1 exists, is non-negative, has a diagonal >= 1 and reproduces x = L y."""
    x = t["acc"]["output"].to_numpy()
    a = t["Z"].to_numpy() / x[None, :]
    assert np.isfinite(np.linalg.cond(np.eye(len(x)) - a))
    leon = builder.calc_leontief(a)
    assert (leon >= -1e-12).all()
    assert (np.diag(leon) >= 1 - 1e-12).all()
    np.testing.assert_allclose(leon @ t["Y"].sum(axis=1).to_numpy(), x, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(
        t["acc"]["output_multiplier"].to_numpy(), leon.sum(axis=0), rtol=1e-12
    )


def test_ras_hand_example(builder: ModuleType) -> None:
    """RAS from a uniform seed gives the independence table u_i v_j / total."""
    z = builder.calc_ras(np.ones((2, 2)), np.array([3.0, 7.0]), np.array([4.0, 6.0]))
    np.testing.assert_allclose(z, [[1.2, 1.8], [2.8, 4.2]], rtol=0, atol=1e-12)
    seed = np.array([[1.0, 0.0], [1.0, 1.0]])
    z = builder.calc_ras(seed, np.array([2.0, 3.0]), np.array([4.0, 1.0]))
    np.testing.assert_allclose(z, [[2.0, 0.0], [2.0, 1.0]], rtol=0, atol=1e-12)


def test_ras_rejects_inconsistent_totals(builder: ModuleType) -> None:
    with pytest.raises(builder.IOBuildError, match="inconsistent"):
        builder.calc_ras(np.ones((2, 2)), np.array([1.0, 1.0]), np.array([1.0, 2.0]))


# --------------------------------------------------------------------------- rebuild


def test_rebuild_reproduces_shipped_csvs(builder: ModuleType) -> None:
    tables = builder.build(builder.read_inputs())
    assert builder.check(tables) == []


def test_check_cli_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, str(IO_DIR / "build_io.py"), "--check", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------ consistency with inputs/


def _flows_by_commodity(direction: str) -> pd.Series:
    flows = pd.read_csv(YEAR / "flows.csv")
    comm = pd.read_csv(INPUTS / "commodities.csv").set_index("id")["direction"]
    ids = list(comm[comm == direction].index)
    return (flows.groupby("commodity")["value_usd"].sum() / 1e6).reindex(ids).fillna(0.0)


def test_imports_by_use_sum_to_base_year_imports(t: dict[str, pd.DataFrame]) -> None:
    """Each group's imports over all users = its FY1401 value in flows.csv; total = base year."""
    by_group = _flows_by_commodity("import")
    assert sorted(t["M"].index) == sorted(by_group.index)
    np.testing.assert_allclose(
        t["M"].sum(axis=1).reindex(by_group.index).to_numpy(),
        by_group.to_numpy(),
        rtol=0,
        atol=ATOL,
    )
    shares = t["M"].sum(axis=1) / t["M"].to_numpy().sum()
    np.testing.assert_allclose(
        shares.reindex(by_group.index), by_group / by_group.sum(), atol=1e-12
    )
    with open(YEAR / "base_year.toml", "rb") as fh:
        base = tomllib.load(fh)
    assert t["M"].to_numpy().sum() == pytest.approx(base["imports_usd"] / 1e6, rel=1e-6)


def test_exports_match_flows(t: dict[str, pd.DataFrame]) -> None:
    assert t["Y"]["exports"].sum() == pytest.approx(_flows_by_commodity("export").sum(), abs=1e-6)


def test_border_taxes_reproduce_customs_revenue(t: dict[str, pd.DataFrame]) -> None:
    """Imports x commodities.csv rates + coal export duty = FY1401 customs 111.5bn AFN."""
    with open(YEAR / "base_year.toml", "rb") as fh:
        base = tomllib.load(fh)
    collected = t["VA"].loc["border_taxes"].sum() * 1e6 * base["afn_per_usd"]
    assert collected == pytest.approx(base["customs_revenue_afn"], rel=2e-3)


def test_domestic_revenue(t: dict[str, pd.DataFrame]) -> None:
    """Sector revenue adds up to inland taxes + mining non-tax revenue; rates are in [0, 1)."""
    macro = pd.read_csv(IO_DIR / "macro.csv").set_index("key")["value"]
    acc = t["acc"]
    expected = (
        (macro["revenue_total_afn_bn"] - macro["customs_revenue_afn_bn"])
        * macro["inland_tax_share_of_noncustoms"]
        + macro["mining_nontax_revenue_afn_bn"]
    ) * 1e9
    assert acc["domestic_revenue_afn"].sum() == pytest.approx(expected, rel=1e-12)
    assert ((acc["domestic_tax_rate"] >= 0) & (acc["domestic_tax_rate"] < 1)).all()


def test_employment_total(t: dict[str, pd.DataFrame]) -> None:
    macro = pd.read_csv(IO_DIR / "macro.csv").set_index("key")["value"]
    assert t["acc"]["employment"].sum() == pytest.approx(macro["employment_total"], rel=1e-12)


# --------------------------------------------------------------------------- sources and basket


@pytest.mark.parametrize(
    "name",
    [
        "sectors.csv",
        "macro.csv",
        "pakistan_adb_mrio_2021.csv",
        "imports_by_use.csv",
        "exports_by_sector.csv",
        "z_seed.csv",
        "basket.csv",
    ],
)
def test_every_input_row_has_a_source(name: str) -> None:
    df = pd.read_csv(IO_DIR / name, keep_default_na=False)
    assert "source" in df.columns
    assert (df["source"].str.strip().str.len() > 10).all()


def test_basket() -> None:
    basket = pd.read_csv(IO_DIR / "basket.csv")
    comm = pd.read_csv(INPUTS / "commodities.csv").set_index("id")["direction"]
    assert set(basket["item"]) == {
        "wheat-flour",
        "fuel",
        "cooking-oil",
        "sugar",
        "rice",
        "medicines",
    }
    assert set(basket["commodity"]) <= set(comm[comm == "import"].index)
    assert (basket["cpi_weight"] > 0).all() and basket["cpi_weight"].sum() < 100
    assert ((basket["elasticity"] < 0) & (basket["elasticity"] > -2)).all()
