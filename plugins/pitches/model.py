"""Settings, state and countdown arithmetic of the pitches activity.

A timer is never a ticking thing on the server: it is a *deadline* (while running) or the
*seconds left* (while stopped), both computed by `handle` from the action's server time
and stored in events, so replaying the log after a restart gives the same deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from palabre.engine import ActivityConfig, Item

Phase = Literal["ready", "pitch", "questions", "done"]
MAX_ADDED_SECONDS = 600  # extra time one pitch may get in all (+30 s / +1 min presses)


# -- config ---------------------------------------------------------------------------------
class PitchSetting(BaseModel):
    """A pitch listed in the kit, for a step without `from`; any extra key (need, budget,
    place…) is shown on the project sheet."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    group: str = Field(default="", max_length=200)


class PitchesConfig(ActivityConfig):
    duration_seconds: int = Field(default=180, ge=10, le=3600)
    warn_seconds: int = Field(default=30, ge=0, le=3600)
    questions_seconds: int = Field(default=0, ge=0, le=3600)  # 0: no questions time
    items: list[PitchSetting] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _warn_within_duration(self) -> PitchesConfig:
        if self.warn_seconds >= self.duration_seconds:
            raise ValueError("warn_seconds must be smaller than duration_seconds")
        return self


# -- state ----------------------------------------------------------------------------------
@dataclass
class Record:
    """What happened to one pitch, kept for the outputs and the day's report."""

    phase: Phase = "ready"
    skipped: bool = False
    added: float = 0.0  # seconds added to this pitch, both phases together
    started_at: float | None = None
    ended_at: float | None = None
    seconds: float = 0.0  # pitch time actually used (pauses excluded)
    overrun: float = 0.0
    left: float = 0.0  # seconds left when the pitch ended (< 0 when it overran)
    questions_seconds: float = 0.0
    order: int | None = None  # 1 for the first pitch started, 2 for the next…

    @property
    def pitched(self) -> bool:
        return self.started_at is not None


@dataclass
class Timer:
    """The current pitch's clock: `deadline` while running, `remaining` while stopped.
    `used` counts the seconds it has run in this phase (so pauses are not speaking time)."""

    remaining: float = 0.0
    deadline: float | None = None
    running_since: float | None = None
    used: float = 0.0

    @property
    def running(self) -> bool:
        return self.deadline is not None

    def left_at(self, at: float) -> float:
        return self.deadline - at if self.deadline is not None else self.remaining

    def used_at(self, at: float) -> float:
        since = self.running_since
        return self.used + (at - since if since is not None else 0.0)


@dataclass
class PitchesState:
    items: dict[str, Item]
    queue: list[str]
    records: dict[str, Record]
    current: str | None
    timer: Timer = field(default_factory=Timer)
    started: int = 0  # pitches started so far, to number them

    @property
    def record(self) -> Record | None:
        return self.records[self.current] if self.current is not None else None

    def position(self) -> int:
        return self.queue.index(self.current) if self.current is not None else -1

    def neighbour(self, step: int) -> str | None:
        index = self.position() + step
        inside = self.current is not None and 0 <= index < len(self.queue)
        return self.queue[index] if inside else None


# -- countdown faces ------------------------------------------------------------------------
def clock_text(left_ms: int) -> str:
    """Counting down "03:00", then "+0:12" once over: the same rule as palabre.js."""
    if left_ms < 0:
        seconds = -left_ms // 1000
        return f"+{seconds // 60}:{seconds % 60:02d}"
    seconds = -(-left_ms // 1000)  # ceil: 00:01 until the very last millisecond
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def duration_text(seconds: float) -> str:
    """A time used, like "2:58"."""
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


@dataclass(frozen=True)
class Countdown:
    """What a `<time data-countdown>` shows; templates call `face(now)` for the first paint."""

    state: Literal["idle", "running", "paused"]
    phase: Phase
    warn_ms: int
    deadline_ms: int | None = None
    remaining_ms: int = 0

    def left_ms(self, now: float) -> int:
        if self.deadline_ms is not None:
            return self.deadline_ms - round(now * 1000)
        return self.remaining_ms

    def face(self, now: float) -> dict[str, Any]:
        left = self.left_ms(now)
        overrun = left < 0
        warning = not overrun and 0 < self.warn_ms and left <= self.warn_ms
        return {
            "text": clock_text(left),
            "overrun": overrun,
            "classes": " is-overrun" if overrun else " is-warning" if warning else "",
        }


def countdown(timer: Timer, phase: Phase, warn_seconds: int) -> Countdown:
    if phase in ("ready", "done"):
        state: Literal["idle", "running", "paused"] = "idle"
    else:
        state = "running" if timer.running else "paused"
    deadline = round(timer.deadline * 1000) if timer.deadline is not None else None
    return Countdown(state, phase, warn_seconds * 1000, deadline, round(timer.remaining * 1000))
