"""Scenario files (TOML): reading, validating and naming the built-in ones.

The format (docs/scenarios.md): ``name``, ``description``, ``start`` (YYYY-MM-DD),
``months``, optional ``seed``; ``[[measure]]`` entries with ``type`` (tariff |
bank_guarantee | restriction | closure | delay), ``start``, optional ``end`` (exclusive),
optional ``announced``, optional ``label``/``source``, and selectors ``crossings``,
``corridors``, ``routes``, ``commodities``, ``kinds`` (absent = all). Uncertain numbers and
end dates may be given as ``[low, high]``; a deterministic run uses the midpoint, an
ensemble draws uniformly between them. The record itself is :class:`econ.spec.Scenario`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError, input_error
from ..spec.checks import describe
from ..spec.scenario import MEASURE_TYPES, Scenario
from .toml import parse_toml, read_toml, resolve_toml


def builtin_dir() -> Path:
    """Directory of the built-in scenarios shipped with the inputs."""
    from .inputs import default_inputs_dir

    return default_inputs_dir() / "scenarios"


def builtin_scenarios() -> dict[str, Path]:
    """Built-in scenario names and their files."""
    return {p.stem: p for p in sorted(builtin_dir().glob("*.toml"))}


#: pydantic's own error types, in the project's words
_TYPE_WORDS = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "string_type": "expected a string",
    "list_type": 'expected a list, e.g. ["a", "b"]',
    "literal_error": None,  # pydantic's message lists the choices
    "greater_than": None,
    "less_than_equal": None,
    "greater_than_equal": None,
    "string_too_short": "expected a non-empty string",
}
#: fields a reader sets; a file may not
INTERNAL_FIELDS = ("path", "text")


def format_validation_error(file: str, exc: ValidationError, data: dict[str, Any]) -> InputError:
    """The first pydantic error of a scenario (or episode) as one line naming file and field."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = []
    if loc and loc[0] in ("measure", "measures") and len(loc) > 1:
        i = loc[1]
        mtype = ""
        try:
            mtype = data["measure"][i].get("type", "")
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
        where.append(f"measure {int(i) + 1}" + (f" ({mtype})" if isinstance(mtype, str) else ""))
        loc = loc[2:]
        if loc and loc[0] in MEASURE_TYPES:
            loc = loc[1:]
    field = ".".join(str(x) for x in loc if not isinstance(x, int))
    msg = err["msg"].replace("Value error, ", "")
    kind = err["type"]
    found = err.get("input")
    prefix = ", ".join(where) + ": " if where else ""
    if kind == "extra_forbidden":
        return input_error(
            file,
            f"{prefix}unknown field '{field}'",
            fix="remove it or correct its spelling (see docs/scenarios.md)",
        )
    if kind == "missing":
        return input_error(file, f"{prefix}missing field '{field}'", fix=f"add {field} = ...")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return input_error(
            file,
            f"{', '.join(where) or 'measure'}: unknown measure type",
            found=found.get("type") if isinstance(found, dict) else found,
            expected=", ".join(MEASURE_TYPES[:-1]) + " or " + MEASURE_TYPES[-1],
            fix="use one of the measure types",
        )
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return input_error(
            file,
            f"{prefix}{('field ' + repr(field) + ': ') if field else ''}expected a table",
            found=describe(found),
            fix="write it as a TOML table ([[measure]] or key = value lines)",
        )
    said = _TYPE_WORDS.get(kind)
    if said:
        msg = f"{said}, found {describe(found)}"
    elif kind != "value_error" and found is not None and not isinstance(found, dict):
        msg = f"{msg} (found {describe(found)})"
    fix = "" if "fix:" in msg else "correct the value (see docs/scenarios.md)"
    return input_error(
        file, f"{prefix}{'field ' + repr(field) + ': ' if field else ''}{msg}", fix=fix
    )


def scenario_from_data(data: dict[str, Any], file: str, text: str = "") -> Scenario:
    """Validate parsed scenario data; one-line :class:`InputError` naming ``file``."""
    for key in INTERNAL_FIELDS:
        if key in data:
            raise input_error(
                file,
                f"unknown field '{key}' (set by the reader, not by a file)",
                fix="remove it (see docs/scenarios.md)",
            )
    try:
        return Scenario.model_validate({**data, "path": file, "text": text})
    except ValidationError as exc:
        raise format_validation_error(file, exc, data) from None


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Parse and validate scenario TOML text."""
    return scenario_from_data(parse_toml(text, file), file, text)


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a scenario by built-in name (e.g. ``"default"``) or from a TOML path."""
    p = resolve_toml(path_or_name, builtin_scenarios(), "scenario")
    data, text = read_toml(p, what="scenario file")
    return scenario_from_data(data, p.name, text)
