"""Episode files: a scenario TOML (``docs/scenarios.md``) with ``[[outcome]]`` tables
(``docs/validation.md``). :func:`load_episode` splits the two and validates both."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from ..errors import input_error
from ..spec.checks import describe
from ..spec.episode import Episode, Outcome
from .scenarios import scenario_from_data
from .toml import parse_toml, read_toml, resolve_toml


def episodes_dir() -> Path:
    from .inputs import default_inputs_dir

    return default_inputs_dir() / "episodes"


def builtin_episodes() -> dict[str, Path]:
    """Shipped episode names and their files."""
    return {p.stem: p for p in sorted(episodes_dir().glob("*.toml"))}


def parse_episode(text: str, file: str = "<episode>") -> Episode:
    """Parse an episode's TOML text into its scenario and outcomes."""
    return episode_from_data(parse_toml(text, file), file, text)


def episode_from_data(data: dict, file: str, text: str = "") -> Episode:
    """Validate parsed episode data (scenario fields plus ``outcome`` tables)."""
    data = dict(data)
    raw = data.pop("outcome", [])
    if not isinstance(raw, list) or not raw or not all(isinstance(o, dict) for o in raw):
        raise input_error(
            file,
            "no [[outcome]] tables",
            fix="add at least one [[outcome]] (see docs/validation.md)",
        )
    sc = scenario_from_data(data, file, text)
    outcomes = []
    seen = set()
    for i, o in enumerate(raw):
        try:
            out = Outcome.model_validate(o)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            what = err["msg"].replace("Value error, ", "")
            if err["type"] != "value_error" and not isinstance(err.get("input"), dict):
                what += f" (found {describe(err.get('input'))})"
            oid = o.get("id", "?") if isinstance(o, dict) else "?"
            raise input_error(
                file,
                f"outcome {i + 1} ({oid}): {'field ' + repr(field) + ': ' if field else ''}{what}",
                fix="correct the outcome (see docs/validation.md)",
            ) from None
        if out.id in seen:
            raise input_error(
                file,
                f"outcome {i + 1}: duplicate id",
                found=out.id,
                fix="give each outcome its own id",
            )
        seen.add(out.id)
        if out.window_start < sc.start or out.window_end > sc.end:
            raise input_error(
                file,
                f"outcome {i + 1} ({out.id}): window outside the scenario horizon",
                found=(out.window_start.isoformat(), out.window_end.isoformat()),
                expected=f"within {sc.start} .. {sc.end}",
                fix="widen the horizon (start, months)",
            )
        if out.compare_start is not None and (
            out.compare_start < sc.start or out.compare_end > sc.end
        ):
            raise input_error(
                file,
                f"outcome {i + 1} ({out.id}): comparison period outside the scenario horizon",
                found=(out.compare_start.isoformat(), out.compare_end.isoformat()),
                expected=f"within {sc.start} .. {sc.end}",
                fix="move start earlier",
            )
        outcomes.append(out)
    return Episode(sc.name, sc, tuple(outcomes), file)


def load_episode(path_or_name: str | Path) -> Episode:
    """Load a shipped episode by name or an episode file by path."""
    p = resolve_toml(path_or_name, builtin_episodes(), "episode")
    data, text = read_toml(p, what="episode file")
    return episode_from_data(data, p.name, text)
