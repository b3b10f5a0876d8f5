"""The output formats and amount units every command offers (``--format``, ``--units``).

Their own module so that :mod:`cli.common` (options) and :mod:`cli.render` (rendering,
which uses :mod:`cli.common`'s notes and atomic writes) import them without a cycle.
"""

from __future__ import annotations

from enum import StrEnum


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"
    xlsx = "xlsx"


class Units(StrEnum):
    usd = "usd"
    musd = "musd"
