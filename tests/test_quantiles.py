"""The vectorised percentiles across members against numpy's nanquantile and xarray's quantile."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import econ
from econ.model.quantiles import nanquantile
from econ.model.record import percentiles

#: numbers with ties, infinities and NaN (drawn from a few values, so slices repeat them)
_VALUES = st.sampled_from([0.0, 1.0, -1.0, 2.5, 1e300, -1e-300, 7.0, np.inf, -np.inf, np.nan])


@settings(max_examples=300, deadline=None)
@given(
    a=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=7),
        elements=_VALUES | st.floats(-1e6, 1e6) | st.just(np.nan),
    ),
    q=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
    data=st.data(),
)
def test_nanquantile_is_numpys_bit_for_bit(a, q, data):
    """Every value numpy's nanquantile gives (NaN where a slice has no number, infinities,
    ties), for both methods and any axis. Fails on any other interpolation or index rule."""
    axis = data.draw(st.integers(0, a.ndim - 1))
    q = np.array(q)
    for method in ("linear", "inverted_cdf"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanquantile(a, q, axis=axis, method=method)
        got = nanquantile(a, q, axis, method)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want, err_msg=method)


def test_nanquantile_block_by_block(monkeypatch):
    """Slices taken a few at a time give the values of all at once (numpy's)."""
    import econ.model.quantiles as quantiles

    rng = np.random.default_rng(2)
    a = rng.normal(size=(9, 40, 11))
    a[rng.uniform(size=a.shape) < 0.3] = np.nan
    a[:, 3] = np.nan
    q = np.array([0.05, 0.5, 0.95])
    monkeypatch.setattr(quantiles, "BLOCK_SLICES", 7)
    for method in ("linear", "inverted_cdf"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanquantile(a, q, axis=0, method=method)
        np.testing.assert_array_equal(nanquantile(a, q, 0, method), want)


def test_nanquantile_by_hand():
    a = np.array([[3.0, np.nan, 1.0, 2.0], [np.nan] * 4])
    got = nanquantile(a, np.array([0.0, 0.25, 0.5, 1.0]), 1)
    # numbers 1, 2, 3: the 25th percentile is 1 + 0.5 * (2 - 1); the second row has none
    np.testing.assert_array_equal(got[:, 0], [1.0, 1.5, 2.0, 3.0])
    assert np.isnan(got[:, 1]).all()
    # inverted_cdf takes a member's own value: the smallest with at least q of the numbers
    np.testing.assert_array_equal(
        nanquantile(a, np.array([0.3, 0.5]), 1, "inverted_cdf")[:, 0], [1.0, 2.0]
    )
    with pytest.raises(ValueError, match="method"):
        nanquantile(a, np.array([0.5]), 1, "nearest")


def test_percentiles_of_a_run_are_xarrays():
    """percentiles() of an ensemble is what xarray's quantile gave it (the previous
    implementation): values, dims, coordinates, attributes and variable order."""
    ds = econ.run("pakistan-closure-2025", months=4, members=12, rng=5)
    got = percentiles(ds)
    unbounded = [v for v in ds.data_vars if np.isinf(ds[v].values).any()]
    assert unbounded  # the exchange ratios: inverted_cdf, not interpolated
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        want = ds.drop_vars(unbounded).quantile([0.05, 0.5, 0.95], dim="member", keep_attrs=True)
        for v in unbounded:
            want[v] = ds[v].quantile(
                [0.05, 0.5, 0.95], dim="member", keep_attrs=True, method="inverted_cdf"
            )
    want = want.assign_coords(quantile=[5.0, 50.0, 95.0]).rename(quantile="percentile")
    want["percentile"].attrs = {"units": "%", "long_name": "percentile across ensemble members"}
    want.attrs = dict(ds.attrs, members_summarised=12)
    xr.testing.assert_identical(got, want)
    assert list(got.data_vars) == list(ds.data_vars)


def test_percentiles_of_other_dtypes_go_through_xarray():
    """Variables that are not float64 (an integer count, a float32 with an infinity) take
    xarray's quantile, inverted_cdf where infinite, as before; float64 ones the vectorised
    path; together in the variables' order."""
    rng = np.random.default_rng(4)
    x32 = rng.normal(size=(9, 3)).astype(np.float32)
    x32[2, 1] = np.inf
    ds = xr.Dataset(
        {
            "count": (("member", "cell"), rng.integers(0, 50, (9, 3))),
            "x32": (("member", "cell"), x32),
            "x64": (("member", "cell"), rng.normal(size=(9, 3)), {"units": "1"}),
        },
        coords={"member": np.arange(9)},
    )
    got = percentiles(ds)
    assert list(got.data_vars) == ["count", "x32", "x64"]
    q = [0.05, 0.5, 0.95]
    want_count = ds["count"].quantile(q, dim="member").values
    want_x32 = ds["x32"].quantile(q, dim="member", method="inverted_cdf").values
    np.testing.assert_array_equal(got["count"].values, want_count)
    np.testing.assert_array_equal(got["x32"].values, want_x32)
    np.testing.assert_array_equal(got["x64"].values, np.nanquantile(ds["x64"].values, q, axis=0))
    assert got["x64"].attrs == {"units": "1"} and got.sizes["percentile"] == 3
