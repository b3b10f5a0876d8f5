"""Percentiles across ensemble members, NaN skipped, vectorised: numpy's ``nanquantile``
bit for bit, without its per-slice Python loop.

``np.nanquantile(a, q, axis=...)`` (which ``xarray``'s ``quantile(skipna=True)`` calls) removes
the NaNs of every 1-D slice in a Python loop (``apply_along_axis``): a 10,000-member run's
percentiles spent most of their time there (docs/performance.md, "Streaming"). Here each
slice is sorted once (NaNs sort last), the count of its numbers ``n`` gives the virtual index
of every percentile, and the neighbours are interpolated with numpy's own formulas
(``numpy/lib/_function_base_impl.py``: ``_get_indexes``, ``_get_gamma``, ``_lerp``,
``_inverted_cdf``), so the values are numpy's. tests/test_quantiles.py compares the two on
random arrays with NaN, infinities, ties and all-NaN slices. The one difference: where a
slice holds both 0.0 and -0.0, which of the two a percentile returns may differ (they are
equal numbers).
"""

from __future__ import annotations

import numpy as np

#: the interpolation methods provided (numpy's names)
METHODS = ("linear", "inverted_cdf")
#: at most this many slices, and about this many bytes of members, are sorted at once
BLOCK_SLICES, BLOCK_BYTES = 1024, 2**20


def nanquantile(a: np.ndarray, q: np.ndarray, axis: int, method: str = "linear") -> np.ndarray:
    """``np.nanquantile(a, q, axis=axis, method=method)`` for a float64 array ``a`` and a 1-D
    array of quantiles ``q`` in [0, 1]: shape ``(len(q),) + a.shape`` without ``axis``; NaN
    where a slice has no number."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}: expected one of {', '.join(METHODS)}")
    a = np.asarray(a)
    if a.dtype != np.float64:
        raise TypeError(f"expected a float64 array, got {a.dtype}")
    q = np.asarray(q, dtype=np.float64)
    a = np.moveaxis(a, axis, -1)
    shape, m = a.shape[:-1], a.shape[-1]
    a = a.reshape(-1, m)  # (slices, members)
    out = np.empty((len(q), a.shape[0]))
    # a block of slices at a time: the temporaries (a dozen per slice) stay small next to the
    # slab whatever its shape
    step = min(BLOCK_SLICES, max(1, BLOCK_BYTES // (8 * max(m, 1))))
    with np.errstate(invalid="ignore"):  # inf − inf between infinite neighbours, as numpy
        for lo in range(0, a.shape[0], step):
            s = np.sort(a[lo : lo + step], axis=-1)  # NaNs last
            n = np.count_nonzero(~np.isnan(s), axis=-1)  # the numbers of each slice
            for i, qi in enumerate(q):
                out[i, lo : lo + step] = _one(s, n, qi, method)
            out[:, lo : lo + step][:, n == 0] = np.nan
    return out.reshape((len(q),) + shape)


def _one(s: np.ndarray, n: np.ndarray, q: np.float64, method: str) -> np.ndarray:
    """One quantile of every sorted slice of ``s`` holding ``n`` numbers (n ≥ 1 where used)."""
    last = np.maximum(n - 1, 0)  # numpy's index -1 of the slice without its NaNs
    if method == "inverted_cdf":
        index = n * q - 1
        previous = np.floor(index)
        k = np.where(index - previous == 0, previous, previous + 1).astype(np.intp)
        k[k < 0] = 0
        return np.take_along_axis(s, np.minimum(k, last)[..., None], axis=-1)[..., 0]
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    nxt = previous + 1
    above = virtual >= n - 1
    previous[above] = -1
    nxt[above] = -1
    below = virtual < 0
    previous[below] = 0
    nxt[below] = 0
    previous, nxt = previous.astype(np.intp), nxt.astype(np.intp)
    gamma = virtual - previous  # numpy's _get_gamma: after the bounds are applied
    lo = np.take_along_axis(s, np.where(previous < 0, last, previous)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(s, np.where(nxt < 0, last, nxt)[..., None], axis=-1)[..., 0]
    # numpy's _lerp
    diff = hi - lo
    res = lo + diff * gamma
    np.subtract(hi, diff * (1 - gamma), out=res, where=gamma >= 0.5)
    return res
