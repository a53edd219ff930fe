"""The axes step's settings, as a kit writes them under `[steps.config]`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from palabre.engine import ActivityConfig


class AxesConfig(ActivityConfig):
    # Shown on the screen and phones while the facilitator groups.
    prompt: str = Field(default="", max_length=200)
    # Longest axis name, in characters as people count them.
    max_name: int = Field(default=60, ge=10, le=120)
    max_axes: int = Field(default=30, ge=1, le=100)
    # 0: no vote, every axis goes forward. K > 0: a dot vote retains the top K axes...
    retain: int = Field(default=0, ge=0, le=50)
    # ...of each theme rather than overall (3 themes, retain = 2: six axes).
    retain_per_theme: bool = False
    # Dots per participant, and optionally at most this many on the axes of one theme.
    dots: int = Field(default=5, ge=1, le=100)
    dots_per_theme: int = Field(default=0, ge=0, le=100)
    max_per_item: int = Field(default=3, ge=1, le=100)
    # Dots on the screen and phones while voting ("live") or once the vote is closed.
    results: Literal["live", "on_close"] = "on_close"

    @model_validator(mode="after")
    def _caps_within_budgets(self) -> AxesConfig:
        if self.max_per_item > self.dots:
            raise ValueError("max_per_item cannot be larger than dots")
        if self.dots_per_theme > self.dots:
            raise ValueError("dots_per_theme cannot be larger than dots")
        if self.dots_per_theme and self.max_per_item > self.dots_per_theme:
            raise ValueError("max_per_item cannot be larger than dots_per_theme")
        return self
