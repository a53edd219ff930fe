"""The jury's settings: weighted criteria, a whole-number scale, and an optional audience vote."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from palabre.engine import ActivityConfig

ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
MAX_SCALE_STEPS = 11  # 0..10 still fits as a row of buttons on a phone


class Criterion(BaseModel):
    """One thing the jury judges, e.g. {id = "feasibility", label = "Faisabilité", weight = 2}.

    An empty label shows as "Overall score" in the reader's language."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    label: str = Field(default="", max_length=80)
    weight: float = Field(default=1.0, gt=0, le=100)
    description: str = Field(default="", max_length=300)


class ItemSetting(BaseModel):
    """A project written in the kit, for a jury step that has no `from`."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)


class JuryConfig(ActivityConfig):
    criteria: list[Criterion] = Field(
        default_factory=lambda: [Criterion(id="overall")], min_length=1, max_length=8
    )
    scale_min: int = Field(default=0, ge=0, le=99)
    scale_max: int = Field(default=5, ge=1, le=100)
    results: Literal["on_reveal", "live"] = "on_reveal"
    # 0: the jury alone decides; 1: the audience alone. In between, a weighted mix of the
    # normalised jury score and the normalised audience dots.
    audience_weight: float = Field(default=0.0, ge=0, le=1)
    audience_dots: int = Field(default=3, ge=1, le=100)
    audience_max_per_item: int = Field(default=1, ge=1, le=100)
    show: int = Field(default=10, ge=1, le=30)
    items: list[ItemSetting] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _coherent(self) -> JuryConfig:
        if self.scale_min >= self.scale_max:
            raise ValueError("scale_min must be smaller than scale_max")
        if self.scale_max - self.scale_min + 1 > MAX_SCALE_STEPS:
            raise ValueError(f"the scale may have at most {MAX_SCALE_STEPS} steps")
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError("each criterion needs its own id")
        if self.audience_max_per_item > self.audience_dots:
            raise ValueError("audience_max_per_item cannot be larger than audience_dots")
        return self

    @property
    def audience(self) -> bool:
        return self.audience_weight > 0

    @property
    def scale(self) -> list[int]:
        return list(range(self.scale_min, self.scale_max + 1))
