"""Faults of activity code (a plugin's handle, reduce or template raising), kept so the
facilitator's panel can say which step broke and how, while the workshop goes on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("palabre.faults")

KEPT = 5  # the panel shows the latest few; the log has them all


@dataclass
class Fault:
    slug: str
    stage: str  # "handle", "reduce" or "render"
    detail: str  # exception type and message: the facilitator can pass it on
    count: int = 1
    last_at: float = 0.0


class Faults:
    """The latest distinct faults; `on_new` runs when one appears (to re-render the panel)."""

    def __init__(self, on_new: Callable[[], None] = lambda: None) -> None:
        self.on_new = on_new
        self._by_key: dict[tuple[str, str, str], Fault] = {}

    def record(self, slug: str, stage: str, exc: BaseException) -> None:
        """Log the exception with its traceback and keep it for the panel."""
        log.error("activity %r failed in %s", slug, stage, exc_info=exc)
        detail = f"{type(exc).__name__}: {exc}"[:300]
        key = (slug, stage, detail)
        fault = self._by_key.pop(key, None)
        if fault is None:
            fault = Fault(slug, stage, detail, count=0)
        fault.count += 1
        fault.last_at = time.time()
        self._by_key[key] = fault  # re-inserted: the dict keeps the latest last
        while len(self._by_key) > KEPT:
            del self._by_key[next(iter(self._by_key))]
        if fault.count == 1:
            self.on_new()

    def recent(self) -> list[Fault]:
        return list(reversed(self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)
