"""The jury's arithmetic: score sheets to weighted averages, mixed with the audience's dots,
ranked with ties explained. Pure functions, so the maths can be tested on their own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from palabre.engine import N_, Item
from palabre.plugins.common.ranking import Ranked, rank

from .config import JuryConfig

# item id -> criterion id -> score, for one juror
Sheet = Mapping[str, int]
PRECISION = 9  # float noise must not split a genuine tie

# Completes "Same score, separated by …"; the higher value goes first.
TIE_MORE_JURORS = N_("the number of jurors who scored it")
TIE_FIRST_CRITERION = N_("the mark on the first criterion")
TIE_AUDIENCE = N_("the audience's dots")


@dataclass(frozen=True)
class Score:
    """Everything known about one project's marks."""

    item: Item
    jury_score: float | None  # on the kit's scale, None if no juror has a complete sheet
    jurors_count: int
    criteria: dict[str, float | None]  # criterion id -> average on the scale
    audience_dots: int
    combined: float  # 0..1

    @property
    def first_criterion(self) -> float:
        first = next(iter(self.criteria.values()), None)
        return -1.0 if first is None else first


def complete(sheet: Sheet | None, config: JuryConfig) -> bool:
    """A sheet counts once every criterion has a mark: half a sheet would skew the weights."""
    return sheet is not None and all(c.id in sheet for c in config.criteria)


def weighted(sheet: Sheet, config: JuryConfig) -> float:
    total = sum(c.weight for c in config.criteria)
    return sum(c.weight * sheet[c.id] for c in config.criteria) / total


def score_item(
    item: Item,
    sheets: Sequence[Sheet],
    dots: int,
    top_dots: int,
    config: JuryConfig,
) -> Score:
    """`sheets`: the complete sheets of the jurors without a conflict on this item."""
    criteria: dict[str, float | None] = {
        c.id: (sum(s[c.id] for s in sheets) / len(sheets) if sheets else None)
        for c in config.criteria
    }
    jury = sum(weighted(s, config) for s in sheets) / len(sheets) if sheets else None
    span = config.scale_max - config.scale_min
    jury_norm = 0.0 if jury is None else (jury - config.scale_min) / span
    # The most-dotted project sets the audience's 1.0, as its longest bar does.
    audience_norm = dots / top_dots if top_dots else 0.0
    w = config.audience_weight
    combined = (1 - w) * jury_norm + w * audience_norm
    return Score(item, jury, len(sheets), criteria, dots, combined)


def ranking(scores: list[Score]) -> list[Ranked[Score]]:
    return rank(
        scores,
        score=lambda s: round(s.combined, PRECISION),
        tie_breakers=[
            (TIE_MORE_JURORS, lambda s: float(s.jurors_count)),
            (TIE_FIRST_CRITERION, lambda s: round(s.first_criterion, PRECISION)),
            (TIE_AUDIENCE, lambda s: float(s.audience_dots)),
        ],
    )


def output(row: Ranked[Score]) -> Item:
    """The ranked project for later steps; `origin` stays the input item's own."""
    s = row.item
    return s.item.model_copy(
        update={
            "score": round(100 * s.combined, 2),
            "jury_score": None if s.jury_score is None else round(s.jury_score, 3),
            "audience_dots": s.audience_dots,
            "combined": round(s.combined, 4),
            "jurors_count": s.jurors_count,
            "criteria_scores": {
                k: None if v is None else round(v, 3) for k, v in s.criteria.items()
            },
            "rank": row.rank,
            "tied": row.tied,
        }
    )
