"""Ranking items by a score, with ties kept together and explained."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Ranked(Generic[T]):
    """One row of a ranking. `rank` is shared by tied rows ("2nd ex aequo");
    `tie_break` says in words (an English msgid) what separated it from the row above when the
    main scores were equal, or is "" if nothing did."""

    rank: int
    item: T
    score: float
    tied: bool = False
    tie_break: str = ""
    keys: tuple[float, ...] = field(default_factory=tuple)


def rank(
    items: Sequence[T],
    score: Callable[[T], float],
    tie_breakers: Sequence[tuple[str, Callable[[T], float]]] = (),
) -> list[Ranked[T]]:
    """Highest score first. Equal scores are separated by each tie-breaker in turn (higher
    wins); rows still equal on every key share a rank and keep their input order."""
    order = {id(item): n for n, item in enumerate(items)}

    def keys(item: T) -> tuple[float, ...]:
        return (score(item), *(fn(item) for _, fn in tie_breakers))

    ordered = sorted(items, key=lambda i: (tuple(-k for k in keys(i)), order[id(i)]))
    rows: list[Ranked[T]] = []
    for position, item in enumerate(ordered, start=1):
        k = keys(item)
        previous = rows[-1] if rows else None
        if previous is not None and previous.keys == k:
            rows.append(Ranked(previous.rank, item, k[0], True, "", k))
            if not previous.tied:
                rows[-2] = Ranked(
                    previous.rank,
                    previous.item,
                    previous.score,
                    True,
                    previous.tie_break,
                    previous.keys,
                )
            continue
        reason = ""
        if previous is not None and previous.keys[0] == k[0]:
            reason = next(
                name for n, (name, _) in enumerate(tie_breakers) if previous.keys[n + 1] != k[n + 1]
            )
        rows.append(Ranked(position, item, k[0], False, reason, k))
    return rows
