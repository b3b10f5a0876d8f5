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

import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError, input_error
from ..spec.checks import describe
from ..spec.scenario import MEASURE_TYPES, Scenario
from .toml import parse_toml, read_toml, resolve_toml

log = logging.getLogger(__name__)


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


#: the fields of a scenario that extends another and are not scenario fields themselves
COMPOSITION_FIELDS = ("extends", "remove_measures", "change")


def _measure_ref(file: str, ref: Any, measures: list[dict[str, Any]], what: str) -> int:
    """The 0-based position of the measure ``ref`` names: its ``id``, its ``label`` or its
    number (1-based, as error messages count)."""
    if (
        isinstance(ref, int)
        and not isinstance(ref, bool)
        or (isinstance(ref, str) and ref.isdigit())
    ):
        i = int(ref) - 1
        if 0 <= i < len(measures):
            return i
    elif isinstance(ref, str):
        for key in ("id", "label"):
            hits = [i for i, m in enumerate(measures) if m.get(key) == ref]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise input_error(
                    file,
                    f"{what}: {key} {ref!r} names {len(hits)} measures of the base scenario",
                    fix="name the measure by its number instead",
                )
    known = ", ".join(
        f"{i + 1}"
        + (f" ({m.get('id') or m.get('label')})" if m.get("id") or m.get("label") else "")
        for i, m in enumerate(measures)
    )
    raise input_error(
        file,
        f"{what}: no measure of the base scenario is {ref!r}",
        expected=f"a measure id, label or number: {known}" if known else "none (it has none)",
        fix="correct the reference",
    )


def compose(
    data: dict[str, Any], file: str, base_dir: Path | None = None, seen: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Resolve ``extends``: the base scenario's data with this file's fields applied.

    * top-level fields (``name``, ``description``, ``start``, ``months``, ``seed``,
      ``base_year``) override the base's; ``[leaves_out]`` entries are added to its;
    * ``remove_measures = [...]`` removes measures of the base by ``id``, ``label`` or number
      (1-based);
    * ``[change.<ref>]`` tables set fields of one measure of the base (same references);
    * ``[[measure]]`` entries are added after the base's (remaining) measures.

    ``extends`` names a built-in scenario or a TOML path (relative to the extending file);
    a base may itself extend another. Returns plain scenario data (no composition fields).
    """
    if "extends" not in data:
        for k in COMPOSITION_FIELDS[1:]:
            if k in data:
                raise input_error(
                    file, f"'{k}' needs 'extends'", fix='add extends = "<base scenario>"'
                )
        return data
    ref = data["extends"]
    if not isinstance(ref, str) or not ref:
        raise input_error(file, "'extends' must name a scenario", found=ref)
    rel = Path(ref)
    if base_dir is not None and rel.suffix and not rel.is_absolute():
        rel = base_dir / rel
    p = resolve_toml(rel if rel.suffix else ref, builtin_scenarios(), "scenario")
    key = str(p.resolve())
    if key in seen:
        raise input_error(file, f"'extends' goes round in a circle through {p.name}")
    base, _ = read_toml(p, what="scenario file")
    base = compose(base, p.name, p.parent, seen + (key,))
    out = {k: v for k, v in base.items() if k != "measure"}
    measures = [dict(m) for m in base.get("measure", [])]
    for k, v in data.items():
        if k in ("measure", "leaves_out", *COMPOSITION_FIELDS):
            continue
        out[k] = v
    if "leaves_out" in data:
        out["leaves_out"] = {**base.get("leaves_out", {}), **data["leaves_out"]}
    changes = data.get("change", {})
    if not isinstance(changes, dict):
        raise input_error(file, "'change' must be tables [change.<measure>]", found=changes)
    for mref, fields in changes.items():
        i = _measure_ref(file, mref, measures, f"change.{mref}")
        if not isinstance(fields, dict):
            raise input_error(file, f"change.{mref}: give the fields to set as a table")
        measures[i].update(fields)
    drop = data.get("remove_measures", [])
    if not isinstance(drop, list):
        raise input_error(file, "'remove_measures' must be a list", found=drop)
    gone = {_measure_ref(file, r, measures, "remove_measures") for r in drop}
    measures = [m for i, m in enumerate(measures) if i not in gone]
    measures = _within(measures, out, file)
    out["measure"] = measures + list(data.get("measure", []))
    if "name" not in data:
        out["name"] = Path(file).stem if file.endswith(".toml") else f"{base.get('name')}-variant"
    return out


def _within(measures: list[dict], out: dict[str, Any], file: str) -> list[dict]:
    """The base's measures that touch the variant's horizon: a variant that moves or shortens
    the horizon leaves out the inherited measures wholly outside it (logged), where a measure
    the file itself adds there is an error (Scenario._within_horizon)."""
    import datetime as dt

    from ..spec.scenario import add_months

    def day(v: Any) -> dt.date | None:
        if isinstance(v, list):
            v = v[-1] if v else None
        return None if v is None else dt.date.fromisoformat(str(v)[:10])

    try:
        start, months = day(out["start"]), int(out["months"])
        end = add_months(start, months)
        kept = []
        for m in measures:
            first, last = day(m.get("announced") or m.get("start")), day(m.get("end"))
            if first is not None and (first >= end or (last is not None and last <= start)):
                log.info("%s: inherited measure %r left out: outside the horizon", file, m)
                continue
            kept.append(m)
    except (KeyError, TypeError, ValueError):
        return measures  # malformed fields: validation names them
    return kept


def parse_scenario(text: str, file: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Parse and validate scenario TOML text (``extends`` resolved, relative to
    ``base_dir``)."""
    data = parse_toml(text, file)
    if any(k in data for k in COMPOSITION_FIELDS):  # compose refuses them without extends
        sc = scenario_from_data(compose(data, file, base_dir), file)
        return sc.model_copy(update={"text": _composed_text(sc, text)})
    return scenario_from_data(data, file, text)


def _composed_text(sc: Scenario, text: str) -> str:
    """A composed scenario's recorded text: the resolved scenario (re-runnable on its own),
    with the file as written in comments."""
    original = "\n".join("# " + ln for ln in text.strip().splitlines())
    return f"# resolved from a scenario with 'extends'; as written:\n{original}\n\n" + (
        sc.to_toml()
    )


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a scenario by built-in name (e.g. ``"default"``) or from a TOML path."""
    p = resolve_toml(path_or_name, builtin_scenarios(), "scenario")
    data, text = read_toml(p, what="scenario file")
    if any(k in data for k in COMPOSITION_FIELDS):  # compose refuses them without extends
        sc = scenario_from_data(compose(data, p.name, p.parent), p.name)
        return sc.model_copy(update={"text": _composed_text(sc, text)})
    return scenario_from_data(data, p.name, text)
