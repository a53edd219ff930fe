"""Garbage collection for a process that holds thousands of sockets.

Why: CPython's full collection walks every tracked object. Each connected phone brings a few
hundred (protocol, parser, tasks), so with 5,000 phones a full collection stops the loop for
300 ms or more, every vote waits behind it, and during a join storm the collections come one
after another as the heap grows (measured: docs/performance.md). Objects that will live as
long as their socket are moved out of the collector's sight with `gc.freeze()` once the room
has grown; collections then walk only what is new. Sockets that closed after being frozen
may leave cycles behind that no collection sees: once as many have closed as are open, one
full collection (unfreeze, collect, freeze) gives that memory back.
"""

from __future__ import annotations

import gc

GROWTH = 0.25  # freeze again once connections grew by a quarter...
MIN_GROWTH = 500  # ...and by at least this many


class Collector:
    def __init__(self) -> None:
        self.frozen_with = 0  # connections open at the last freeze
        self.closed_at_reset = 0  # hub's count of closed sockets at the last full collection
        self.freezes = 0
        self.full_collections = 0

    def start(self) -> None:
        """After start-up: the replayed workshop, templates and modules live until exit."""
        gc.collect()
        gc.freeze()

    def after_tick(self, connections: int, closed: int) -> None:
        if closed - self.closed_at_reset > max(MIN_GROWTH, connections):
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.full_collections += 1
            self.closed_at_reset = closed
            self.frozen_with = connections
        elif connections - self.frozen_with >= max(MIN_GROWTH, self.frozen_with * GROWTH):
            gc.collect()  # only what is not frozen: the sockets opened since the last time
            gc.freeze()
            self.freezes += 1
            self.frozen_with = connections
        elif connections < self.frozen_with:
            self.frozen_with = connections  # grow again from here
