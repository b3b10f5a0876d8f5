"""The one TOML reader: every scenario, episode, input and parameters file goes through it.

Whatever goes wrong (no such file, a directory in its place, not UTF-8, a byte-order mark,
malformed TOML) is raised as one :class:`~econ.errors.InputError` line naming the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ..errors import input_error
from ..spec.checks import type_argument

BOM = "\ufeff"


def read_text(
    path: str | Path, label: str | None = None, *, what: str = "file", fix: str = ""
) -> str:
    """A text file's contents as UTF-8; one-line :class:`InputError` otherwise.

    ``label`` names the file in messages (default: its name).
    """
    p = Path(path)
    name = label or p.name
    if p.is_dir():
        raise input_error(
            name, f"is a directory, not a {what}", fix=fix or "pass the path of the file itself"
        )
    if not p.is_file():
        raise input_error(
            name,
            f"{what} not found" + (f" in {p.parent}" if label else ""),
            fix=fix or "check the path",
        )
    raw = p.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise input_error(
            name,
            f"not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})",
            fix="save the file as UTF-8 (e.g. 'Save as… UTF-8' or iconv -t utf-8)",
        ) from None


def parse_toml(text: str, label: str) -> dict[str, Any]:
    """Parse TOML text; a malformed file is a one-line :class:`InputError` naming ``label``.

    A UTF-8 byte-order mark at the start is accepted and dropped."""
    type_argument("text", text, str, "the TOML text as a string")
    if text.startswith(BOM):
        text = text[len(BOM) :]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise input_error(label, f"malformed TOML: {exc}", fix="correct the TOML syntax") from None


def read_toml(
    path: str | Path, label: str | None = None, *, what: str = "file", fix: str = ""
) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file: ``(data, text)``. Errors are one line naming the file."""
    p = Path(path)
    text = read_text(p, label, what=what, fix=fix)
    return parse_toml(text, label or p.name), text


def resolve_toml(path_or_name: str | Path, shipped: dict[str, Path], what: str) -> Path:
    """A shipped file by name, or an existing TOML path; one-line InputError otherwise."""
    type_argument(what, path_or_name, (str, os.PathLike), f"a built-in {what} name or a path")
    p = Path(path_or_name)
    if not p.suffix and str(path_or_name) in shipped:
        return shipped[str(path_or_name)]
    if p.is_dir():
        raise input_error(
            str(path_or_name),
            f"is a directory, not a {what} file",
            fix=f"use a path to a .toml file or one of {', '.join(shipped)}",
        )
    if not p.is_file():
        raise input_error(
            str(path_or_name),
            f"no such {what} file or built-in name",
            fix=f"use a path to a .toml file or one of {', '.join(shipped)}",
        )
    return p
