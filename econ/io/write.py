"""Writing files: never partial, never half-replaced, never over something that is not ours.

:func:`check_output` refuses a target before any work is done: a symbolic link, a device, a
directory, a pipe or socket, anything under ``/proc``, ``/sys`` or ``/dev``, an existing file
unless ``force``, a wrong extension, a place that cannot be written. :func:`write_atomic`
writes through a temporary file ``.<name>.<pid>.<random>.tmp`` in the target's directory and
renames it into place; it removes the temporary file when the writer fails or the process is
interrupted (the exception then carries a note naming it), and removes the temporary files a
killed earlier process of ours left behind. :func:`write_netcdf` writes a result with its
attributes made safe for netCDF3 and an optional creation stamp.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import OutputError

log = logging.getLogger(__name__)

#: directories whose entries are not files we may replace
SYSTEM_DIRS = (Path("/proc"), Path("/sys"), Path("/dev"))
INT32 = (-(2**31), 2**31 - 1)


def check_output(
    path: str | Path, *, suffixes: Iterable[str], force: bool = False, option: str = "--out"
) -> Path:
    """The target of an output, checked before any work; one-line :class:`OutputError` otherwise.

    ``suffixes`` are the allowed extensions (``(".nc",)``); ``force`` allows replacing an
    existing regular file; ``option`` names the flag or argument in messages.
    """
    p = Path(path)
    where = f"{option} {p}"
    try:
        resolved = p.parent.resolve() / p.name
    except (OSError, RuntimeError):
        resolved = p.absolute()
    for d in SYSTEM_DIRS:
        if resolved.is_relative_to(d) or p.absolute().is_relative_to(d):
            raise OutputError(
                f"{where}: is under {d}, not a place for result files; fix: write to a "
                "regular file in your own directory"
            )
    try:
        st = os.lstat(p)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise OutputError(f"{where}: cannot be checked ({exc.strerror})") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OutputError(
                f"{where}: is a symbolic link (to {os.readlink(p)}); fix: give the path of a "
                "new or regular file (the link is not replaced)"
            )
        if not stat.S_ISREG(st.st_mode):
            kind = _kind(st.st_mode)
            raise OutputError(
                f"{where}: is {kind}, not a regular file; fix: give the path of a new file"
            )
    allowed = tuple(s.lower() for s in suffixes)
    if p.suffix.lower() not in allowed:
        raise OutputError(
            f"{where}: expected a {' or '.join(allowed)} file (found extension "
            f"{p.suffix!r}); fix: name the file with {allowed[0]}"
        )
    if st is not None and not force:
        raise OutputError(
            f"{where}: the file exists; fix: pass --force to replace it, or choose another name"
        )
    parent = _nearest_existing(p.parent)
    if not parent.is_dir():
        raise OutputError(f"{where}: {parent} is not a directory; fix: choose another place")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{where}: cannot write in {parent} (permission denied); fix: choose a writable place"
        )
    return p


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"  # pragma: no cover


def _nearest_existing(d: Path) -> Path:
    d = d.absolute()
    while not d.exists() and d != d.parent:
        d = d.parent
    return d


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.(\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def clean_stale_temps(path: str | Path) -> list[Path]:
    """Remove the temporary files of ``path`` left by our processes that no longer run.

    Only files named ``.<name>.<pid>.<random>.tmp``, owned by this user, whose process is
    gone are removed (a running writer's file is left alone). Returns the files removed.
    """
    p = Path(path)
    pattern = _temp_pattern(p.name)
    removed = []
    try:
        entries = list(p.parent.iterdir()) if p.parent.is_dir() else []
    except OSError:
        return []
    for f in entries:
        m = pattern.match(f.name)
        if not m:
            continue
        try:
            st = os.lstat(f)
        except OSError:
            continue
        pid = int(m.group(1))
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not _alive(pid):
            try:
                f.unlink()
            except OSError:
                continue
            log.warning("removed stale temporary file %s (left by process %d)", f, pid)
            removed.append(f)
    return removed


def write_atomic(
    path: str | Path, writer: Callable[[Path], None], *, overwrite: bool = True
) -> None:
    """Write through a temporary file in the same directory, then rename it into place.

    ``writer(tmp)`` writes the whole file to ``tmp``; only when it returns is ``path``
    replaced, so a reader never sees a partial file. The temporary file is removed if the
    writer fails or the process is interrupted (a note on the exception names it), and stale
    temporary files of earlier, killed runs are removed first. An ``OSError`` becomes a
    one-line :class:`OutputError` naming ``path``, not the temporary file. With
    ``overwrite=False`` an existing ``path`` is never replaced, even one another process
    wrote while this one was computing (the file is linked into place, which fails if the
    name exists).
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(path)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
        )
        os.close(fd)
        writer(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        if overwrite:
            os.replace(tmp, path)
        else:
            _place_new(Path(tmp), path)
    except OutputError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise OutputError(
            f"{path}: cannot write ({type(exc).__name__}: {reason}); nothing was written; "
            "fix: check the place has room and permission"
        ) from exc
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            exc.add_note(f"removed temporary file {tmp}")
        raise
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _place_new(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` only if ``path`` does not exist (atomic where hard links are)."""
    try:
        os.link(tmp, path)  # fails if the name exists: no window between check and write
    except FileExistsError:
        raise OutputError(
            f"{path}: the file exists (written meanwhile by another process?); nothing was "
            "replaced; fix: pass --force to replace it, or choose another name"
        ) from None
    except OSError:  # no hard links here (some network or FUSE file systems)
        if os.path.lexists(path):
            raise OutputError(
                f"{path}: the file exists; nothing was replaced; fix: pass --force"
            ) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def netcdf_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes netCDF3 can hold exactly: an int outside 32 bits (e.g. a seed) becomes its
    decimal string, a bool an int; everything else is kept."""
    out = {}
    for k, v in attrs.items():
        if isinstance(v, bool):
            v = int(v)
        elif isinstance(v, int) and not INT32[0] <= v <= INT32[1]:
            v = str(v)
        out[k] = v
    return out


def creation_stamp() -> str:
    """Now in UTC (ISO 8601, seconds), or ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    when = (
        dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        if epoch.isdigit()
        else dt.datetime.now(dt.UTC)
    )
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def write_netcdf(ds: Any, path: str | Path, *, stamp: bool = True, overwrite: bool = True) -> None:
    """Write a result Dataset atomically as compressed netCDF4 (HDF5 with zlib, through
    h5netcdf; :mod:`econ.io.netcdf`).

    Attributes go through :func:`netcdf_attrs`. With ``stamp``, a ``date_created`` attribute
    records when (:func:`creation_stamp`); without it the same result gives a byte-identical
    file. ``overwrite`` as in :func:`write_atomic`.
    """
    from .netcdf import to_netcdf

    out = ds.copy(deep=False)
    out.attrs = netcdf_attrs(dict(ds.attrs))
    if stamp:
        out.attrs["date_created"] = creation_stamp()
    write_atomic(path, lambda p: to_netcdf(out, p), overwrite=overwrite)
