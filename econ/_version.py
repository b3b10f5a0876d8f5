"""Package version (single source, read from the installed metadata when available)."""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("chokepoint")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.1.0+src"
