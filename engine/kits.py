"""Kits: a workshop's steps in a TOML file, validated with errors a facilitator can act on."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .activity import Activity, ActivityConfig

LANGUAGES = ("fr", "en")
# What an activity's Config validators find in `info.context` when a kit is loaded.
KIT_CONTEXT_KEYS = ("tables", "language")
STEP_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class KitError(Exception):
    """A kit that cannot run. The message names the file, the step and the field."""


class WorkshopSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=120)
    language: str = "fr"
    place: str = ""
    date: str = ""
    tables: int = Field(default=0, ge=0, le=300)
    # People registered or expected: the panel shows joined devices against it, so a
    # facilitator sees at a glance who is missing (or that someone joined twice).
    expected: int = Field(default=0, ge=0, le=100_000)


class StepSection(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str
    activity: str
    title: str = Field(min_length=1, max_length=120)
    from_: str | None = Field(default=None, alias="from")
    show_join: bool = False
    config: dict[str, Any] = Field(default_factory=dict)


class KitFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workshop: WorkshopSection
    steps: list[StepSection] = Field(min_length=1)


@dataclass(frozen=True)
class Step:
    index: int
    id: str
    title: str
    activity: type[Activity]
    config: ActivityConfig
    source: str | None
    show_join: bool


@dataclass(frozen=True)
class Kit:
    name: str
    text: str
    title: str
    language: str
    place: str
    date: str
    steps: tuple[Step, ...]
    tables: int = 0
    expected: int = 0

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def load_kit(path: Path, activities: dict[str, type[Activity]]) -> Kit:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KitError(f"{path}: cannot read the kit: {exc.strerror}") from exc
    return parse_kit(text, str(path), activities)


def parse_kit(text: str, name: str, activities: dict[str, type[Activity]]) -> Kit:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KitError(f"{name}: not valid TOML: {exc}") from exc
    try:
        kit_file = KitFile.model_validate(raw)
    except ValidationError as exc:
        raise KitError(_describe(name, raw, exc)) from exc
    if kit_file.workshop.language not in LANGUAGES:
        raise KitError(
            f"{name}: [workshop], field 'language': expected one of {', '.join(LANGUAGES)}, "
            f"got {kit_file.workshop.language!r}"
        )
    context = {"tables": kit_file.workshop.tables, "language": kit_file.workshop.language}
    steps = tuple(_build_steps(name, kit_file.steps, activities, context))
    w = kit_file.workshop
    return Kit(name, text, w.title, w.language, w.place, w.date, steps, w.tables, w.expected)


def _build_steps(
    name: str,
    sections: list[StepSection],
    activities: dict[str, type[Activity]],
    context: dict[str, Any],
) -> list[Step]:
    seen: list[str] = []
    steps = []
    for index, section in enumerate(sections):
        where = f"{name}: step {index + 1} ({section.id!r})"
        if not STEP_ID.match(section.id):
            raise KitError(
                f"{where}, field 'id': expected lowercase letters, digits, '-' or '_', "
                "starting with a letter, at most 40 characters"
            )
        if section.id in seen:
            raise KitError(
                f"{where}, field 'id': expected a unique id, {section.id!r} is used twice"
            )
        activity = activities.get(section.activity)
        if activity is None:
            known = ", ".join(sorted(activities)) or "none installed"
            raise KitError(
                f"{where}, field 'activity': unknown activity {section.activity!r} "
                f"(expected one of: {known})"
            )
        if section.from_ is not None and section.from_ not in seen:
            later = any(s.id == section.from_ for s in sections)
            why = "names a later step" if later else "names no step"
            raise KitError(
                f"{where}, field 'from': {section.from_!r} {why}; expected the id of an "
                f"earlier step (one of: {', '.join(seen) or 'none'})"
            )
        try:
            # Validators may read the kit's settings from the context (e.g. a captains-only
            # step needs a kit with tables): see KIT_CONTEXT_KEYS.
            config = activity.Config.model_validate(section.config, context=context)
        except ValidationError as exc:
            raise KitError(_describe_config(where, exc)) from exc
        steps.append(
            Step(
                index, section.id, section.title, activity, config, section.from_, section.show_join
            )
        )
        seen.append(section.id)
    return steps


def _describe(name: str, raw: dict[str, Any], exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        if loc[:1] == ["steps"] and len(loc) > 1 and isinstance(loc[1], int):
            index = loc[1]
            step_id = _step_id(raw, index)
            field = ".".join(str(p) for p in loc[2:]) or "(whole step)"
            where = f"{name}: step {index + 1} ({step_id!r}), field {field!r}"
        else:
            where = f"{name}: field {'.'.join(str(p) for p in loc)!r}"
        lines.append(f"{where}: {_expected(err)}")
    return "\n".join(lines)


def _describe_config(where: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        field = ".".join(["config", *(str(p) for p in err["loc"])])
        lines.append(f"{where}, field {field!r}: {_expected(err)}")
    return "\n".join(lines)


def _expected(err: Any) -> str:
    if err["type"] == "missing":
        return "missing; this field is required"
    if err["type"] == "extra_forbidden":
        return "unknown field; remove it or check its spelling"
    got = err.get("input")
    return f"{err['msg']} (got {got!r})" if not isinstance(got, dict | list) else err["msg"]


def _step_id(raw: dict[str, Any], index: int) -> str:
    try:
        return str(raw["steps"][index].get("id", "?"))
    except (KeyError, IndexError, TypeError, AttributeError):
        return "?"
