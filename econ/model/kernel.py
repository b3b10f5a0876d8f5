"""Which daily step a run uses: the numpy engine (the reference) or the day compiled with numba.

The numpy processes of :class:`~econ.model.engine.Engine` and the equations of
:mod:`econ.equations` are the documented truth. numba is optional (``pip install
"chokepoint[fast]"``); where it is installed, the engine can run :mod:`econ.model._daykernel`,
the same day compiled, with members in parallel threads (docs/performance.md). Nothing here
imports numba until a run asks for the compiled day, so ``chokepoint --help`` and commands
that do not simulate never load it.

Modes (``Model(kernel=...)``, or the environment variable ``CHOKEPOINT_KERNEL``, which wins):

- ``"numpy"``: always the numpy engine;
- ``"cached"``: the compiled day if numba is installed *and* its compiled code is already
  cached, else numpy: no run waits for a compile (the default of a single run);
- ``"compile"``: the compiled day if numba is installed, compiling it once (1–3 minutes cold,
  with a message) and caching it; else numpy (the default of ensembles, the fit, calibration
  and the sensitivity runs, where the compile pays for itself);
- ``"numba"``: the compiled day, or an error if numba is missing (tests, benchmarks).

The compiled code is cached in ``NUMBA_CACHE_DIR`` if set, else in
``$XDG_CACHE_HOME/chokepoint/numba`` (``~/.cache/chokepoint/numba``): a writable directory
outside the source tree, so an installed package in a read-only location still caches.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODES = ("numpy", "cached", "compile", "numba")
ENV = "CHOKEPOINT_KERNEL"

_loaded: Any = None  # the imported econ.model._daykernel
#: the compiled modules, cached by numba in one directory under one marker
KERNEL_FILES = ("_daykernel.py", "_econkernel.py", "_recordkernel.py")
#: the modules that lay out the kernels' arguments: their types are part of what is compiled
SIGNATURE_FILES = ("compiled.py",)


def numba_installed() -> bool:
    """Whether numba can be imported (without importing it)."""
    return importlib.util.find_spec("numba") is not None


def cache_dir() -> Path:
    """Where numba caches the compiled day (created on first use)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chokepoint" / "numba"


def _source_key() -> str:
    """The compiled day's identity: its source, the source that lays out its arguments (their
    types), where it lives (numba's cache is kept per source file: another checkout or install
    compiles anew), numba's and Python's versions."""
    src = b""
    for name in KERNEL_FILES + SIGNATURE_FILES:
        path = Path(__file__).with_name(name).resolve()
        src += path.read_bytes() + str(path).encode()
    ver = "?"
    try:
        from importlib.metadata import version

        ver = version("numba")
    except Exception:  # pragma: no cover - numba without metadata
        pass
    h = hashlib.sha256(src + ver.encode() + sys.version.encode()).hexdigest()[:16]
    return h


def _marker() -> Path:
    return cache_dir() / f"compiled-{_source_key()}"


def is_cached() -> bool:
    """Whether the compiled day is in the cache (so that using it costs no compile)."""
    return numba_installed() and _marker().exists()


def resolve(mode: str | None, default: str = "cached") -> str:
    """The kernel a run uses, ``"numpy"`` or ``"numba"``, from ``mode`` (``None``: the
    environment's ``CHOKEPOINT_KERNEL``, else ``default``)."""
    env = os.environ.get(ENV)
    mode = env or mode or default
    if mode not in MODES:
        raise ValueError(f"kernel must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "numpy":
        return "numpy"
    if not numba_installed():
        if mode == "numba":
            raise RuntimeError('the compiled kernel needs numba: pip install "chokepoint[fast]"')
        return "numpy"
    if mode == "cached" and not is_cached():
        return "numpy"
    return "numba"


def load() -> Any:
    """The compiled day's module, compiling (with a message) on the first use if not cached."""
    global _loaded
    if _loaded is not None:
        return _loaded
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))
    if "numba" in sys.modules:  # imported before us (a caller, a test): numba read its config
        from numba.core import config

        config.reload_config()
    cached = _marker().exists()
    if not cached:
        log.warning(
            "compiling the daily kernel with numba unless numba has it cached (once: up to 1-3 "
            "minutes; cached in %s)",
            cache,
        )
    from . import _daykernel

    _loaded = _daykernel
    return _daykernel


def load_economy() -> Any:
    """The compiled economy stage's module (after :func:`load`, which says if it compiles)."""
    load()
    from . import _econkernel

    return _econkernel


def load_record() -> Any:
    """The compiled record's daily sums (after :func:`load`)."""
    load()
    from . import _recordkernel

    return _recordkernel


class Compiling:
    """Times the first call of the compiled day and marks the cache once it succeeded."""

    def __init__(self) -> None:
        self.done = _marker().exists()
        self.start = time.perf_counter()

    def finished(self) -> None:
        if not self.done:
            self.done = True
            # the economy stage and the record's sums are compiled with the day, also by a run
            # without an economy, so that the marker says all are cached
            load_economy().warm()
            load_record().warm()
            _marker().touch()
            took = time.perf_counter() - self.start
            # a first day read from numba's own cache takes well under a second
            (log.warning if took >= 2.0 else log.info)("compiled the daily kernel in %.0f s", took)
