"""The message bus between a workshop's writer and its edge workers: Redis pub/sub.

Why pub/sub and not streams: nothing here needs Redis to keep anything. The event log is in
the store (PostgreSQL or SQLite) and views are rebuilt from it; what travels on the bus is
either a view (the next one replaces it) or an action that the edge keeps until its ack
comes back and sends again to a new writer (engine/edge.py). A bus that forgets is then
enough, and Redis stays a cache-sized, restartable piece.

Channels, all under `palabre:<workshop>:`
- `views`        writer -> every edge: shared views, once per audience and language, and the
                 writer's beat (its epoch: a new writer means new seqs and re-registration);
- `edge:<id>`    writer -> one edge: personal views, replies (acks) and fresh views for
                 given sockets, sockets to close;
- `inbox`        edges -> writer: sockets opened and closed, actions, requests for fresh
                 views, and each edge's beat.

Each process names its connections `palabre:<workshop>:<role>:<pid>` (role `writer` or
`edge`): `redis-cli CLIENT LIST` shows who is connected, and a test can cut one of them.

Messages are JSON; a batch carries what one tick (writer) or a few milliseconds (edge)
produced, so Redis sees one publish per tick per channel, not one per phone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from .store import shown_store

log = logging.getLogger("palabre.broker")
BEAT_SECONDS = 1.0
# An edge not heard from for this long is gone: its sockets are forgotten by the writer.
EDGE_TIMEOUT_SECONDS = 5.0
RETRY_SECONDS = 0.5
MAX_QUEUED = 10_000  # messages waiting for Redis: about a minute of ticks and beats
NO_REDIS = "--broker needs the redis package: pip install 'palabre[broker]'"


class BrokerError(Exception):
    """Redis is not reachable or not Redis: said in one line at start-up."""


def channel(workshop: str, name: str) -> str:
    return f"palabre:{workshop}:{name}"


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


class Bus:
    """One Redis connection to publish (in order, pipelined) and one to listen."""

    def __init__(self, url: str, workshop: str, role: str) -> None:
        try:
            import redis.asyncio as redis
        except ImportError as exc:  # pragma: no cover - the extra is not installed
            raise BrokerError(NO_REDIS) from exc
        self.url = url
        self.workshop = workshop
        name = f"{channel(workshop, role)}:{os.getpid()}"  # what CLIENT LIST shows
        self._redis = redis.Redis.from_url(url, client_name=name)
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._idle = asyncio.Event()  # set when everything published so far is in Redis
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []

    def name(self, suffix: str) -> str:
        return channel(self.workshop, suffix)

    def publish(self, suffix: str, message: dict[str, Any]) -> None:
        """Queued, then sent in order by one task: callers are synchronous (the tick)."""
        if self._queue.qsize() >= MAX_QUEUED:
            # Redis has been away for a while. What waits is stale views (newer ones will
            # follow), hellos (sent again on resubscribing) and actions (edges send them
            # again): dropped, rather than memory growing without end.
            log.warning("broker unreachable: %d queued messages dropped", self._queue.qsize())
            while not self._queue.empty():
                self._queue.get_nowait()
        self._idle.clear()
        self._queue.put_nowait((self.name(suffix), dumps(message)))

    async def drained(self, timeout: float) -> None:
        """Returns once what was published so far is in Redis (or after TIMEOUT: Redis is
        away, and waiting longer helps nobody)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            pass

    def start(self, listen: list[str], handle: Callable[[str, Any], Awaitable[None] | None],
              on_connect: Callable[[], None] | None = None) -> None:  # fmt: skip
        self._tasks.append(asyncio.create_task(self._publisher()))
        channels = [self.name(s) for s in listen]
        self._tasks.append(asyncio.create_task(self._listener(channels, handle, on_connect)))

    async def _publisher(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            while True:
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for name, data in batch:
                            pipe.publish(name, data)
                        await pipe.execute()
                    if self._queue.empty():
                        self._idle.set()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Views are replaced by the next ones; actions are resent by the edge.
                    log.warning("broker unreachable (%s); retrying", exc)
                    await asyncio.sleep(RETRY_SECONDS)

    async def _listener(
        self,
        channels: list[str],
        handle: Callable[[str, Any], Awaitable[None] | None],
        on_connect: Callable[[], None] | None,
    ) -> None:
        prefix = len(self.name(""))
        first = channels[0].encode()
        subscribed = 0
        while True:
            # Subscribe confirmations are kept: redis-py reconnects and subscribes again by
            # itself after a dropped connection, and only its confirmation tells us so. What
            # was published in between is lost, hence ON_CONNECT on every (re)subscription.
            pubsub = self._redis.pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(*channels)
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "subscribe" and message.get("channel") == first:
                        subscribed += 1
                        if subscribed > 1:
                            log.warning("broker subscription back: asking for what was missed")
                        if on_connect is not None:
                            on_connect()
                    if kind != "message":
                        continue
                    try:
                        body = json.loads(message["data"])
                    except ValueError:
                        log.warning("unreadable broker message dropped")
                        continue
                    try:
                        result = handle(message["channel"].decode()[prefix:], body)
                        if result is not None:
                            await result
                    except Exception:  # one bad message must not stop the bus
                        log.exception("broker message could not be handled")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("broker subscription lost (%s); subscribing again", exc)
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()


def check_broker(url: str) -> None:
    """Refuse to start, in one line, when the broker is not there (rather than serve a
    workshop whose edges never hear from it)."""
    try:
        import redis
    except ImportError as exc:
        raise BrokerError(NO_REDIS) from exc
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except Exception as exc:
        raise BrokerError(f"cannot reach the broker at {shown_store(url)}: {exc}") from None
