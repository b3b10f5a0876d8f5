"""Documented episodes: a scenario plus observed outcomes to check the model against.

An episode file is a scenario TOML (``docs/scenarios.md``) with ``[[outcome]]`` tables
(``docs/validation.md``). :func:`load_episode` splits the two and validates both.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import input_error
from .scenario import Scenario, _format_validation_error, resolve_toml

METRICS = ("trade_change", "revenue_change", "corridor_share", "protest_risk")


class Outcome(BaseModel):
    """One observed outcome of an episode (all values in percent or percentage points)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    metric: Literal["trade_change", "revenue_change", "corridor_share", "protest_risk"]
    window_start: dt.date
    window_end: dt.date
    compare_start: dt.date | None = None
    compare_end: dt.date | None = None
    crossings: list[str] | None = None
    corridors: list[str] | None = None
    routes: list[str] | None = None
    kinds: list[Literal["bilateral", "transit"]] | None = None
    commodities: list[str] | None = None
    direction: Literal["import", "export"] | None = None
    groups: list[str] | None = None
    observed: float
    tolerance: float
    comparison: Literal["before_after", "counterfactual", "level"]
    source: str
    note: str = ""
    #: may a fit of parameters use this outcome? (false: say why in the note)
    fit: bool = True
    #: a known failure: the model cannot match it honestly; the reason (docs/validation.md)
    known_failure: str = ""

    @model_validator(mode="after")
    def _check(self) -> "Outcome":
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        if self.tolerance <= 0:
            raise ValueError("tolerance must be positive")
        if self.comparison == "before_after":
            if self.compare_start is None or self.compare_end is None:
                raise ValueError("a before_after outcome needs compare_start and compare_end")
            if self.compare_end <= self.compare_start:
                raise ValueError("compare_end must be after compare_start")
        if self.metric == "protest_risk" and not self.groups:
            raise ValueError("a protest_risk outcome needs groups = [...]")
        if self.metric != "protest_risk" and self.groups:
            raise ValueError("groups only apply to protest_risk outcomes")
        if not self.source.strip():
            raise ValueError("every outcome needs a source")
        return self


@dataclass(frozen=True)
class Episode:
    """A documented episode: its scenario and observed outcomes."""

    name: str
    scenario: Scenario
    outcomes: tuple[Outcome, ...]
    path: str = ""


def episodes_dir() -> Path:
    from .inputs import default_inputs_dir

    return default_inputs_dir() / "episodes"


def builtin_episodes() -> dict[str, Path]:
    """Shipped episode names and their files."""
    return {p.stem: p for p in sorted(episodes_dir().glob("*.toml"))}


def parse_episode(text: str, file: str = "<episode>") -> Episode:
    """Parse an episode's TOML text into its scenario and outcomes."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise input_error(file, f"malformed TOML: {exc}", fix="correct the TOML syntax") from None
    raw = data.pop("outcome", [])
    if not isinstance(raw, list) or not raw:
        raise input_error(file, "no [[outcome]] tables", fix="add at least one [[outcome]] (see docs/validation.md)")
    try:
        sc = Scenario.model_validate({**data, "path": file, "text": text})
    except ValidationError as exc:
        raise _format_validation_error(file, exc, data) from None
    outcomes = []
    seen = set()
    for i, o in enumerate(raw):
        try:
            out = Outcome.model_validate(o)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            what = err["msg"].replace("Value error, ", "")
            oid = o.get("id", "?") if isinstance(o, dict) else "?"
            raise input_error(file, f"outcome {i + 1} ({oid}): {'field ' + repr(field) + ': ' if field else ''}{what}",
                              fix="correct the outcome (see docs/validation.md)") from None
        if out.id in seen:
            raise input_error(file, f"outcome {i + 1}: duplicate id", found=out.id, fix="give each outcome its own id")
        seen.add(out.id)
        if out.window_start < sc.start or out.window_end > sc.end:
            raise input_error(file, f"outcome {i + 1} ({out.id}): window outside the scenario horizon",
                              found=(out.window_start.isoformat(), out.window_end.isoformat()),
                              expected=f"within {sc.start} .. {sc.end}", fix="widen the horizon (start, months)")
        if out.compare_start is not None and (out.compare_start < sc.start or out.compare_end > sc.end):
            raise input_error(file, f"outcome {i + 1} ({out.id}): comparison period outside the scenario horizon",
                              found=(out.compare_start.isoformat(), out.compare_end.isoformat()),
                              expected=f"within {sc.start} .. {sc.end}", fix="move start earlier")
        outcomes.append(out)
    return Episode(sc.name, sc, tuple(outcomes), file)


def load_episode(path_or_name: str | Path) -> Episode:
    """Load a shipped episode by name or an episode file by path."""
    p = resolve_toml(path_or_name, builtin_episodes(), "episode")
    return parse_episode(p.read_text(encoding="utf-8"), file=p.name)
