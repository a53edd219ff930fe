"""What the broker carries for one workshop: a subscriber to every `palabre:<workshop>:*`
channel, in its own process (so that counting never delays the coordinator's screen), that
counts messages and bytes by kind:

- `views`: the writer's shared views, one publish per tick that changed them, for all edges;
- `batch`: `edge:<id>` channels, one publish per tick per edge (acks, personal views, fresh
  views for new sockets);
- `inbox`: the edges' hellos, byes and actions to the writer;
- `beat`: the writer's and the edges' once-a-second beats.

Bytes are the published payloads. Redis sends each to every subscriber (`views` to every
edge, and to this tap), which Redis' own `total_net_output_bytes` counts, for every client
of that Redis, this tap included: `redis_out_bytes`.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any


def kind_of(channel: str, data: bytes) -> str:
    if channel == "views":
        return "views" if data.startswith(b'{"k":"views"') else "beat"
    if channel.startswith("edge:"):
        return "batch"
    return "beat" if b'"beat":' in data[:80] else "inbox"


def tap_main(url: str, workshop: str, pipe: Any) -> None:
    import redis

    client = redis.Redis.from_url(url)
    subscriber = client.pubsub(ignore_subscribe_messages=True)
    prefix = f"palabre:{workshop}:"
    subscriber.psubscribe(prefix + "*")
    counts: Counter[str] = Counter()
    pipe.send(int(client.info("server")["process_id"]))
    while True:
        message = subscriber.get_message(timeout=0.005)
        if message is not None and message["type"] == "pmessage":
            kind = kind_of(message["channel"].decode()[len(prefix) :], message["data"])
            counts[f"redis_{kind}_msgs"] += 1
            counts[f"redis_{kind}_bytes"] += len(message["data"])
        if pipe.poll():
            if pipe.recv() == "quit":
                break
            stats = client.info("stats")
            pipe.send(dict(counts) | {"redis_out_bytes": stats["total_net_output_bytes"]})
    subscriber.close()
    client.close()


class RedisTap:
    def __init__(self, url: str, workshop: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=tap_main, args=(url, workshop, theirs), daemon=True)
        self.proc.start()
        theirs.close()
        if not self.pipe.poll(30):
            raise RuntimeError("the Redis tap did not start")
        self.redis_pid: int = self.pipe.recv()  # Redis' own process, for its CPU

    def read(self) -> dict[str, float]:
        """Cumulative counts since the tap started."""
        self.pipe.send("read")
        counts: dict[str, float] = self.pipe.recv()
        for kind in ("views", "batch", "inbox", "beat"):
            counts.setdefault(f"redis_{kind}_msgs", 0)
            counts.setdefault(f"redis_{kind}_bytes", 0)
        return counts

    def close(self) -> None:
        try:
            self.pipe.send("quit")
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
