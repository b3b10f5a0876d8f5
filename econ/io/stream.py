"""Ensemble results streamed chunk by chunk: members written to netCDF by region, and a
statistic across members (the percentiles) reduced slab by slab, never all members at once.

:class:`MembersFile` writes chunks along ``member`` into one netCDF4 file: at the first chunk,
xarray creates every variable with the whole ensemble's length (encoded, named and compressed
exactly as :func:`econ.io.write.write_netcdf` writes a result, and ``member`` a fixed
dimension), writing all but the member variables; each chunk is then written into its region
(``[at : at + n]`` along ``member``) through h5py. :func:`write_members` does that atomically
for a result file; read back with xarray, the file is the in-memory result
(tests/test_stream.py).

:func:`reduce_members` writes the chunks to a scratch file of that kind (in a temporary
directory, removed on success, on error and on interruption), then reduces each variable
slab by slab along a dimension other than ``member`` (``time``): the memory held is one
chunk while writing, and one slab of every member while reducing. The reduction is the
caller's (``reduce(slab, infinite)``, e.g. :func:`econ.model.record.percentiles`), applied to
slabs of the whole ensemble, so its result is that of the in-memory ensemble whenever the
statistic of a cell depends only on that cell's members (a percentile does).
docs/performance.md, "Streaming", gives the design and measured memory.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .netcdf import COMPLEVEL, encoding
from .write import creation_stamp, netcdf_attrs, write_atomic

log = logging.getLogger(__name__)

MEMBER = "member"
#: target bytes of one HDF5 chunk of a member variable (a few hundred kB reads and
#: compresses well; the whole member axis of a small variable, a few members of a large one)
CHUNK_BYTES = 512 * 2**10
#: bytes of members read at once when a variable is reduced slab by slab
#: (econ.model.memory.SLAB_BYTES estimates the same)
SLAB_BYTES = 64 * 2**20


def scratch_compression() -> dict[str, Any]:
    """h5py's compression arguments for a variable of the scratch file of
    :func:`reduce_members`: LZ4, an HDF5 filter of ``hdf5plugin``. The file is written once and
    read once by h5py, never by another program, so it takes the fastest lossless filter
    measured on these results: LZ4 writes 4x and reads 7x as fast as h5py's built-in LZF, at a
    slightly smaller size (docs/performance.md, "Streaming"); it is not a netCDF filter.
    Importing ``hdf5plugin`` registers its filters with HDF5 in this process, which every
    process that writes or reads a scratch file must do."""
    import hdf5plugin

    return dict(hdf5plugin.LZ4())


#: ``reduce(slab, infinite)``: a statistic across ``member`` of a Dataset of one variable's
#: slab, told which variables hold an infinite value anywhere in the ensemble
Reducer = Callable[[xr.Dataset, frozenset[str]], xr.Dataset]


def member_variables(ds: xr.Dataset) -> list[str]:
    """Names of the variables (coordinates included) along ``member``, which must be their
    first axis."""
    names = []
    for k, v in ds.variables.items():
        if MEMBER in v.dims:
            if v.dims[0] != MEMBER:
                raise ValueError(f"{k}: member must be the first axis, found {v.dims}")
            names.append(k)
    return names


class MembersFile:
    """A netCDF4 file of ``members`` members written chunk by chunk, by region.

    ``add(part)`` takes the chunks in member order; ``finish(attrs)`` checks that every member
    arrived, updates the global attributes with ``attrs`` and closes the file. ``along``
    names a dimension to chunk the file by (one index per HDF5 chunk) so that slabs along it
    read fast (:func:`reduce_members`); by default a chunk holds whole member series.
    ``scratch`` makes a private file for :func:`reduce_members`: compressed with
    :func:`scratch_compression` and chunked along ``member`` by the first part's members, so
    that each part fills whole HDF5 chunks, compressed once (a part writing into chunks that
    straddle two parts had each chunk decompressed and compressed again, half the time of a
    streamed run's writing); such a file is not valid netCDF.
    Used as a context manager, the file is closed on error (not finished).
    """

    def __init__(
        self,
        path: str | Path,
        members: int,
        *,
        along: str | None = None,
        complevel: int = COMPLEVEL,
        scratch: bool = False,
    ) -> None:
        self.path, self.members = Path(path), int(members)
        self.along, self.complevel, self.scratch = along, complevel, scratch
        self.at = 0
        self.names: list[str] = []
        self.infinite: set[str] = set()
        self.file: Any = None

    def __enter__(self) -> MembersFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def add(self, part: xr.Dataset) -> None:
        """Write the chunk ``part`` into members ``at .. at + n`` of the file."""
        n = part.sizes[MEMBER]
        if self.at + n > self.members:
            raise ValueError(f"{self.path}: {self.at + n} members arrived, {self.members} expected")
        if self.file is None:
            self._create(part)
        for k in self.names:
            target = self.file[k]
            data = np.asarray(part.variables[k].values)
            if data.dtype != target.dtype or data.shape[1:] != target.shape[1:]:
                raise ValueError(
                    f"{k}: chunk has {data.dtype} {data.shape[1:]}, the file "
                    f"{target.dtype} {target.shape[1:]}"
                )
            target[self.at : self.at + n, ...] = data
            if data.dtype.kind == "f" and k not in self.infinite and np.isinf(data).any():
                self.infinite.add(k)
        self.at += n

    def finish(self, attrs: Mapping[str, Any] | None = None) -> None:
        """Check every member arrived, update the global attributes, close the file."""
        if self.at != self.members:
            raise ValueError(f"{self.path}: {self.at} of {self.members} members arrived")
        for k, v in netcdf_attrs(dict(attrs or {})).items():
            self.file.attrs[k] = v
        self.close()

    def _create(self, part: xr.Dataset) -> None:
        """Create the file with the whole ensemble's shape, encoded by xarray exactly as
        ``to_netcdf`` encodes a result, but without writing the member variables: they are
        given as zero-stride (memory-free) arrays of full length and skipped by the writer,
        to be written chunk by chunk into their regions."""
        import h5py
        from xarray.backends import H5NetCDFStore

        self.names = member_variables(part)

        def full(k: str, v: xr.Variable) -> xr.Variable:
            if k not in self.names:
                return v
            shape = (self.members, *v.shape[1:])
            empty = np.broadcast_to(np.zeros((), v.dtype), shape)
            return xr.Variable(v.dims, empty, v.attrs, v.encoding)

        template = xr.Dataset(
            {k: full(k, v) for k, v in part.data_vars.variables.items()},
            coords={k: full(k, v) for k, v in part.coords.variables.items()},
            attrs=netcdf_attrs(dict(part.attrs)),
        )
        store = H5NetCDFStore.open(
            self.path, mode="w", format="NETCDF4", invalid_netcdf=self.scratch
        )
        try:
            template.dump_to_store(
                store, writer=_SkipMembers(set(self.names)), encoding=self._encoding(part)
            )
        finally:
            store.close()
        self.file = h5py.File(self.path, "r+")

    def _encoding(self, part: xr.Dataset) -> dict[str, dict]:
        """:func:`econ.io.netcdf.encoding`, with every member variable compressed and chunked
        by size (whatever the first chunk's size, so the file does not depend on it)."""
        enc = {
            k: dict(v, complevel=self.complevel) if "complevel" in v else v
            for k, v in encoding(part).items()
        }
        for k in self.names:
            v = part.variables[k]
            shape = list(v.shape[1:])
            if self.along is not None and self.along in v.dims:
                shape[v.dims.index(self.along) - 1] = 1
            per_member = v.dtype.itemsize * math.prod(shape)
            n = int(min(self.members, max(1, CHUNK_BYTES // max(per_member, 1))))
            if self.scratch:
                # a part's members per chunk, unless that makes chunks too small to be worth
                # it (parts of a few members: then by size, rewriting a few small chunks)
                part_n = min(self.members, part.sizes[MEMBER])
                if part_n * per_member >= CHUNK_BYTES // 8:
                    n = part_n
                enc[k] = {**scratch_compression(), "chunksizes": (n, *shape)}
                continue
            enc[k] = {
                "zlib": True,
                "complevel": self.complevel,
                "shuffle": True,
                "chunksizes": (n, *shape),
            }
        return enc


class _SkipMembers:
    """An xarray array writer that writes every variable but those along ``member``."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def add(self, source: Any, target: Any, region: Any = None) -> None:
        if str(getattr(target, "variable_name", "")).rsplit("/", 1)[-1] in self.names:
            return
        target[...] = source

    def sync(self, **kwargs: Any) -> None:
        pass


def write_members(
    chunks: Iterable[xr.Dataset],
    path: str | Path,
    *,
    members: int,
    stamp: bool = True,
    overwrite: bool = True,
    attrs: Callable[[], Mapping[str, Any]] | None = None,
) -> None:
    """Write the ``members`` members arriving in ``chunks`` to ``path`` by region, atomically.

    Compressed and named as :func:`econ.io.write.write_netcdf` writes the whole result
    (xarray reads back the same Dataset). ``attrs()``,
    called after the last chunk, gives global attributes known only then (the count of
    non-finite members); ``stamp`` adds ``date_created``; without it the same chunks give a
    byte-identical file. ``overwrite`` as in :func:`econ.io.write.write_atomic`; the
    temporary file is removed if a chunk fails or the process is interrupted.
    """

    def writer(tmp: Path) -> None:
        with MembersFile(tmp, members) as f:
            for part in chunks:
                f.add(part)
            extra = dict(attrs() if attrs is not None else {})
            if stamp:
                extra["date_created"] = creation_stamp()
            f.finish(extra)

    write_atomic(path, writer, overwrite=overwrite)
    log.info("wrote %d members to %s by region", members, path)


def reduce_members(
    chunks: Iterable[xr.Dataset],
    reduce: Reducer,
    *,
    members: int,
    along: str = "time",
    scratch_dir: str | Path | None = None,
    attrs: Callable[[], Mapping[str, Any]] | None = None,
    slab_bytes: int = SLAB_BYTES,
) -> xr.Dataset:
    """Reduce the ``members`` members arriving in ``chunks`` across ``member`` without holding
    them all: ``reduce(ensemble)`` computed slab by slab.

    The chunks are written to a scratch netCDF file (in a temporary directory under
    ``scratch_dir``, else ``$TMPDIR``; removed afterwards, also on error or interruption),
    chunked one index of ``along`` per HDF5 chunk. Then each variable along ``member`` is read
    ``slab_bytes`` at a time, whole along ``member`` and sliced along ``along`` (whole when it
    has no ``along``), and ``reduce(slab, infinite)`` is applied to a Dataset of that slab
    with the ensemble's coordinates and attributes (``attrs()`` added, as the in-memory
    result has them); ``infinite`` names the variables holding an infinite value anywhere.
    The slabs' results are put together in the layout ``reduce`` gives a whole chunk.
    """
    with tempfile.TemporaryDirectory(prefix=".chokepoint-scratch-", dir=scratch_dir) as tmp:
        scratch = Path(tmp) / "members.h5"  # LZ4-compressed HDF5: not netCDF
        layout: xr.Dataset | None = None
        template: dict[str, Any] = {}
        with MembersFile(scratch, members, along=along, scratch=True) as f:
            for part in chunks:
                f.add(part)
                if layout is None:
                    # the result's layout (variables, dims, coords) from the first chunk
                    layout = reduce(part, frozenset(f.infinite))
                    template = _template(part)
            infinite = frozenset(f.infinite)
            names = [k for k in f.names if k in template["data_vars"]]
            f.finish()
        if layout is None:
            raise ValueError("no chunk arrived")
        global_attrs = dict(template["attrs"], **(attrs() if attrs is not None else {}))
        log.info("reducing %d members from %s, %d variable(s)", members, scratch, len(names))
        return _reduce_file(
            scratch, names, layout, template, global_attrs, reduce, infinite, along, slab_bytes
        )


def _template(part: xr.Dataset) -> dict[str, Any]:
    """What a slab needs besides its data: the coordinates not along ``member``, each data
    variable's dims and attributes, the global attributes."""
    return {
        "coords": {k: v for k, v in part.coords.variables.items() if MEMBER not in v.dims},
        "data_vars": {
            k: (v.dims, dict(v.attrs))
            for k, v in part.data_vars.variables.items()
            if MEMBER in v.dims
        },
        "member": part.coords.variables.get(MEMBER),
        "attrs": dict(part.attrs),
    }


def _reduce_file(
    path: Path,
    names: list[str],
    layout: xr.Dataset,
    template: dict[str, Any],
    global_attrs: dict[str, Any],
    reduce: Reducer,
    infinite: frozenset[str],
    along: str,
    slab_bytes: int,
) -> xr.Dataset:
    import h5py

    scratch_compression()  # the filter registered, also where another process wrote the file
    out = layout.copy(deep=False)
    result_attrs: dict[str, Any] | None = None
    with h5py.File(path, "r") as f:
        member = f[MEMBER][...]
        mv = template["member"]
        member_var = xr.Variable(mv.dims, member.astype(mv.dtype), mv.attrs)
        for name in names:
            source = f[name]
            dims, var_attrs = template["data_vars"][name]
            res_dims = layout[name].dims
            # filled in place: the layout's own array, so the result is held once
            data = np.require(out.variables[name].values, requirements=["W", "C"])
            for sl in _slabs(source.shape, source.dtype.itemsize, dims, along, slab_bytes):
                index = tuple(sl if d == along else slice(None) for d in dims)
                coords = {
                    k: (v[{along: sl}] if along in v.dims else v)
                    for k, v in template["coords"].items()
                }
                coords[MEMBER] = member_var
                slab = xr.Dataset(
                    {name: xr.Variable(dims, source[index], var_attrs)},
                    coords=coords,
                    attrs=global_attrs,
                )
                r = reduce(slab, infinite)
                part = r[name].transpose(*res_dims)
                data[tuple(sl if d == along else slice(None) for d in res_dims)] = part.values
                result_attrs = r.attrs
            out[name] = xr.Variable(res_dims, data, layout[name].attrs)
    out.attrs = dict(result_attrs if result_attrs is not None else global_attrs)
    return out


def _slabs(
    full: tuple[int, ...], itemsize: int, dims: tuple[str, ...], along: str, slab_bytes: int
) -> list[slice]:
    """Slices along ``along`` of about ``slab_bytes`` each (one slice of all when the
    variable has no ``along``)."""
    if along not in dims:
        return [slice(None)]
    axis = dims.index(along)
    step_bytes = itemsize * math.prod(full) // max(full[axis], 1)
    step = max(1, slab_bytes // max(step_bytes, 1))
    return [slice(i, min(i + step, full[axis])) for i in range(0, full[axis], step)]
