"""Standing measures: measures in force from a date on (``inputs/measures_in_force.toml``).

Pakistan's October 2023 measures against Afghan transit (the 10% fee, the negative list, the
per-consignment bank guarantee) have not been lifted. A scenario or episode that starts while a
standing measure is in force should *carry* it: have a measure whose ``id`` is the standing
measure's id, in force on its first day. Otherwise it describes a world without that measure,
which is allowed only on purpose: the scenario lists the id under ``leaves_out`` with a reason.
:func:`missing_measures` names what is neither carried nor left out (the model logs a warning,
:func:`warn_missing_measures`); :func:`check_measure_ids` rejects ids that name no standing
measure, or a measure of another type.

A base year lists in its ``base_year.toml`` the standing measures its flows already carry
(``measures_in_force``); a scenario's measures with those ids then act relative to the base
year (docs/model.md §1, "Base-year measures").
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from ..errors import input_error
from .scenario import MEASURE_TYPES, Scenario

log = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _date(value: Any, file: str, where: str, field: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise input_error(
            file,
            f"{where}: field '{field}' is not a date",
            found=value,
            fix="write the date as YYYY-MM-DD",
        ) from None


def parse_standing_measures(data: dict[str, Any], file: str) -> tuple[dict[str, Any], ...]:
    """Validate the ``[[measure]]`` tables of ``measures_in_force.toml``.

    Each has ``id`` (kebab-case, unique), ``type`` (a measure type), ``start`` and optional
    ``end`` (exclusive) dates, ``label`` and ``source`` (both non-empty).
    """
    extra = set(data) - {"measure"}
    if extra:
        raise input_error(
            file, f"unknown field '{sorted(extra)[0]}'", fix="only [[measure]] tables belong here"
        )
    raw = data.get("measure", [])
    if not isinstance(raw, list):
        raise input_error(file, "'measure' must be an array of tables", fix="write [[measure]]")
    out: list[dict[str, Any]] = []
    for i, m in enumerate(raw):
        where = f"measure {i + 1}"
        if not isinstance(m, dict):
            raise input_error(file, f"{where} is not a table", fix="write [[measure]]")
        unknown = set(m) - {"id", "type", "start", "end", "label", "source"}
        if unknown:
            raise input_error(
                file,
                f"{where}: unknown field '{sorted(unknown)[0]}'",
                fix="use id, type, start, end, label and source",
            )
        for key in ("id", "type", "start", "label", "source"):
            if key not in m or (isinstance(m[key], str) and not m[key].strip()):
                raise input_error(file, f"{where}: missing field '{key}'", fix=f"add {key} = ...")
        if not isinstance(m["id"], str) or not SLUG.match(m["id"]):
            raise input_error(
                file,
                f"{where}: 'id' is not a lowercase kebab-case id",
                found=m["id"],
                fix="use lowercase letters, digits and single hyphens",
            )
        if m["type"] not in MEASURE_TYPES:
            raise input_error(
                file,
                f"{where}: unknown measure type",
                found=m["type"],
                expected=", ".join(MEASURE_TYPES),
                fix="use one of the measure types",
            )
        if m["id"] in {o["id"] for o in out}:
            raise input_error(file, f"{where}: duplicate id", found=m["id"], fix="rename it")
        start = _date(m["start"], file, where, "start")
        end = _date(m["end"], file, where, "end") if "end" in m else None
        if end is not None and end <= start:
            raise input_error(
                file, f"{where}: end is not after start", found=str(end), fix="correct the dates"
            )
        out.append({**m, "start": start, "end": end})
    return tuple(out)


def in_force_on(entry: dict[str, Any], day: dt.date) -> bool:
    """Whether a standing measure is in force on ``day``."""
    return entry["start"] <= day and (entry["end"] is None or day < entry["end"])


def _low(end: Any) -> dt.date | None:
    return end[0] if isinstance(end, tuple) else end


def carried(scenario: Scenario, measure_id: str) -> bool:
    """Whether the scenario has a measure with ``id`` = ``measure_id`` in force on its first
    day (for every draw of its end date)."""
    for m in scenario.measures:
        end = _low(m.end)
        if (
            m.id == measure_id
            and m.start <= scenario.start
            and (end is None or end > scenario.start)
        ):
            return True
    return False


def check_measure_ids(
    scenario: Scenario, standing: tuple[dict[str, Any], ...], file: str = ""
) -> None:
    """Measure ids and ``leaves_out`` entries must name standing measures (of the same type).

    Nothing is checked when no standing measures are defined (inputs without
    ``measures_in_force.toml``).
    """
    if not standing:
        return
    file = file or scenario.path or scenario.name
    by_id = {s["id"]: s for s in standing}
    known = ", ".join(by_id)
    for i, m in enumerate(scenario.measures):
        if m.id is None:
            continue
        if m.id not in by_id:
            raise input_error(
                file,
                f"measure {i + 1} ({m.type}): unknown id",
                found=m.id,
                expected=f"an id from measures_in_force.toml ({known})",
                fix="correct the id, or drop it if the measure is not a standing one",
            )
        if by_id[m.id]["type"] != m.type:
            raise input_error(
                file,
                f"measure {i + 1} ({m.type}): id '{m.id}' names a {by_id[m.id]['type']} measure",
                fix="give the id to the measure of that type",
            )
    for mid in scenario.leaves_out:
        if mid not in by_id:
            raise input_error(
                file,
                "unknown id in 'leaves_out'",
                found=mid,
                expected=f"an id from measures_in_force.toml ({known})",
                fix="correct the id",
            )
        if carried(scenario, mid):
            raise input_error(
                file,
                f"'leaves_out' names '{mid}' but the scenario carries it",
                fix=f"remove '{mid}' from leaves_out or the measure with id = '{mid}'",
            )


def missing_measures(
    scenario: Scenario, standing: tuple[dict[str, Any], ...]
) -> list[dict[str, Any]]:
    """Standing measures in force on the scenario's first day that it neither carries nor
    leaves out on purpose."""
    return [
        s
        for s in standing
        if in_force_on(s, scenario.start)
        and not carried(scenario, s["id"])
        and s["id"] not in scenario.leaves_out
    ]


def warn_missing_measures(scenario: Scenario, standing: tuple[dict[str, Any], ...]) -> list[str]:
    """Check the ids (:func:`check_measure_ids`) and log one warning naming the standing
    measures the scenario misses; returns their ids."""
    check_measure_ids(scenario, standing)
    missing = missing_measures(scenario, standing)
    if missing:
        log.warning(
            "scenario %s starts %s, when these measures were in force, but does not carry "
            "them: %s. Add them (a measure with id = ...; see measures_in_force.toml) or list "
            "them under [leaves_out] with the reason (docs/scenarios.md)",
            scenario.name,
            scenario.start.isoformat(),
            "; ".join(f"{s['id']} ({s['label']}, from {s['start'].isoformat()})" for s in missing),
        )
    return [s["id"] for s in missing]


__all__ = [
    "carried",
    "check_measure_ids",
    "in_force_on",
    "missing_measures",
    "parse_standing_measures",
    "warn_missing_measures",
]
