"""Phones in bulk: worker processes, each holding thousands of cheap WebSocket phones.

A phone joins through the real join flow (POST /j/<code>, cookie `palabre_p`), opens
/ws?as=participant with Origin and Cookie as a browser would (on the target's `port`, or
round-robin over its `ports`: edge workers behind an L4 balancer), answers pings, and keeps only
what the bench measures: when its views arrived (first `shared` and `personal` view since
the last `arm`), and for each of its acts the send time, the ack time and the ack's event
seq. It never parses a view (see wire.py).

The coordinator (`Fleet`) sends each worker a command through a pipe and waits for every
answer. Times are `time.monotonic()`: CLOCK_MONOTONIC is one clock for every process of the
machine, so a send time in one worker and a receive time on the screen compare directly.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import resource
import signal
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from wire import (
    ACK,
    CODE,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    SEQ,
    STREAM,
    FrameSplitter,
    client_frame,
    handshake,
    http_request,
)

ACT = b'{"type":"act","id":"%s","step":"%s","action":"%s","data":{"item":"%s"}}'


def raise_open_files() -> int:
    """Soft limit of open files up to the hard one; returns it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Phone(asyncio.Protocol):
    __slots__ = (
        "worker", "index", "cookie", "port", "transport", "splitter", "head", "opened", "closed",
        "t_shared", "t_personal", "waiting", "handshaken", "ready", "sent", "held",
    )  # fmt: skip

    def __init__(self, worker: Worker, index: int, cookie: str, port: int) -> None:
        self.worker, self.index, self.cookie, self.port = worker, index, cookie, port
        self.transport: Any = None
        self.splitter = FrameSplitter()
        self.head = bytearray()
        self.opened = self.closed = self.waiting = False
        self.t_shared = self.t_personal = 0.0
        loop = asyncio.get_running_loop()
        self.handshaken: asyncio.Future[None] = loop.create_future()  # the 101, or a failure
        self.ready: asyncio.Future[str] = loop.create_future()  # first view of both streams
        self.sent = 0  # votes sent since the ballots were last reset
        self.held = 0  # toggle mode: 1 while a dot is (or is about to be) on the item

    # -- asyncio callbacks ---------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        w = self.worker
        transport.write(handshake(w.host, self.port, w.ws_path, w.origin, self.cookie))

    def data_received(self, data: bytes) -> None:
        if not self.opened:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.head[9:12]).decode("ascii", "replace")
            if status != "101":
                self._settle(f"http {status}")
                self.transport.close()
                return
            self.opened, data, self.head = True, bytes(self.head[end + 4 :]), bytearray()
            self.waiting = True
            self.handshaken.set_result(None)
            if not data:
                return
        self.splitter.feed(data, self.on_message)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.worker.closed += 1
        self._settle("closed")

    # -- messages --------------------------------------------------------------------------
    def on_message(self, opcode: int, head: bytes, size: int) -> None:
        w = self.worker
        if opcode == OP_TEXT:
            w.received += 1
            w.bytes += size
            if b'"type":"view"' in head:
                self._on_view(head)
            elif b'"type":"ack"' in head:
                w.on_ack(head)
            elif b'"type":"error"' in head:
                w.errors += 1
        elif opcode == OP_PING:
            self.transport.write(client_frame(head, OP_PONG))
        elif opcode == OP_CLOSE:
            self.transport.close()

    def _on_view(self, head: bytes) -> None:
        match = STREAM.search(head)
        stream = match.group(1) if match else b""
        if stream == b"shared":
            if not self.t_shared:
                self.t_shared = time.monotonic()
        elif stream == b"personal" and not self.t_personal:
            self.t_personal = time.monotonic()
        if self.waiting and self.t_shared and self.t_personal:
            self.waiting = False
            self.worker.arrived()
            self._settle("ready")

    def _settle(self, outcome: str) -> None:
        if not self.handshaken.done():
            self.handshaken.set_result(None)
        if not self.ready.done():
            self.ready.set_result(outcome)

    def act(self, step: bytes, action: bytes, item: bytes) -> None:
        w = self.worker
        w.counter += 1
        action_id = b"%d.%d" % (w.number, w.counter)
        w.pending[action_id] = time.monotonic()
        self.transport.write(client_frame(ACT % (action_id, step, action, item)))


class Worker:
    """One process's phones, driven by commands from the coordinator's pipe."""

    def __init__(self, pipe: Any, number: int) -> None:
        self.pipe, self.number = pipe, number
        self.phones: list[Phone] = []
        self.host, self.ws_path, self.origin = "127.0.0.1", "/ws", ""
        self.pending: dict[bytes, float] = {}  # action id -> send time
        self.acks: list[tuple[float, float, int, str]] = []  # sent, acked, seq, error code
        self.counter = self.received = self.bytes = self.errors = self.closed = 0
        self.missing = 0  # phones still waiting for their views since the last arm
        self.all_arrived = asyncio.Event()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        loop.add_reader(self.pipe.fileno(), lambda: inbox.put_nowait(self.pipe.recv()))
        while True:
            name, *args = await inbox.get()
            if name == "quit":
                break
            try:
                self.pipe.send(("ok", await getattr(self, name)(*args)))
            except Exception:
                self.pipe.send(("error", traceback.format_exc()))
        for phone in self.phones:
            if phone.transport is not None:
                phone.transport.abort()

    # -- bookkeeping -----------------------------------------------------------------------
    def on_ack(self, head: bytes) -> None:
        match = ACK.search(head)
        if match is None:
            return
        sent = self.pending.pop(match.group(1), None)
        if sent is None:
            return
        seq, code = SEQ.search(head), ""
        if match.group(2) != b"true":
            found = CODE.search(head)
            code = found.group(1).decode() if found else "refused"
        self.acks.append((sent, time.monotonic(), int(seq.group(1)) if seq else 0, code))

    def arrived(self) -> None:
        self.missing -= 1
        if self.missing <= 0:
            self.all_arrived.set()

    def live(self) -> list[Phone]:
        return [p for p in self.phones if p.opened and not p.closed]

    # -- commands --------------------------------------------------------------------------
    async def forget(self) -> int:
        """Drop every phone (between two servers)."""
        for phone in self.phones:
            if phone.transport is not None:
                phone.transport.abort()
        self.phones, self.pending, self.acks = [], {}, []
        self.received = self.bytes = self.errors = self.closed = 0
        await asyncio.sleep(0)
        return raise_open_files()

    async def storm(
        self,
        target: dict[str, Any],
        names: list[str],
        start: float,
        joins_at_once: int,
        connects_at_once: int,
        timeout: float,
    ) -> dict[str, Any]:
        """Join then connect every name, as fast as the bounds allow from `start` on."""
        self.host, self.origin = target["host"], target["origin"]
        self.ws_path = "/ws?as=participant"
        ports = target.get("ports") or [target["port"]]
        joining, connecting = asyncio.Semaphore(joins_at_once), asyncio.Semaphore(connects_at_once)
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        # Round-robin from the worker's number on, so that every port gets its share however
        # many workers there are.
        tasks = [
            asyncio.create_task(self._one_phone(
                target, name, ports[(self.number + i) % len(ports)], joining, connecting
            ))
            for i, name in enumerate(names)
        ]  # fmt: skip
        done, late = await asyncio.wait(tasks, timeout=timeout) if tasks else (set(), set())
        for task in late:
            task.cancel()
        outcomes, failures = [], {}
        for task in tasks:
            error = task.exception() if task in done else None
            outcome = task.result() if task in done and error is None else None
            reason = outcome[2] if outcome else type(error).__name__ if error else "timeout"
            if reason != "ready":
                failures[reason] = failures.get(reason, 0) + 1
            outcomes.append(outcome)
        return {
            "joined": [o[0] for o in outcomes if o and o[0]],
            "ready": [o[1] for o in outcomes if o and o[1]],
            "failures": failures,
        }

    async def _one_phone(
        self,
        target: dict[str, Any],
        name: str,
        port: int,
        joining: asyncio.Semaphore,
        connecting: asyncio.Semaphore,
    ) -> tuple[float, float, str]:
        body = b"name=" + quote(name).encode()
        path = f"/j/{target['join_code']}"
        cookie, reason = "", "join failed"
        async with joining:
            for attempt in range(4):
                try:
                    status, cookies = await http_request(
                        target["join_host"], target["join_port"], "POST", path, body
                    )
                except (TimeoutError, OSError) as exc:
                    status, cookies = 0, {}
                    reason = f"join {type(exc).__name__}"
                if "palabre_p" in cookies:
                    cookie = "palabre_p=" + cookies["palabre_p"]
                    break
                reason = f"join http {status}" if status else reason
                await asyncio.sleep(0.5 * (attempt + 1))
        if not cookie:
            return 0.0, 0.0, reason
        joined = time.monotonic()
        phone = Phone(self, len(self.phones), cookie, port)
        self.phones.append(phone)
        async with connecting:
            try:
                await asyncio.get_running_loop().create_connection(lambda: phone, self.host, port)
            except OSError as exc:
                phone._settle(f"connect {type(exc).__name__}")
            await phone.handshaken
        outcome = await phone.ready
        if outcome != "ready":
            return joined, 0.0, outcome
        return joined, max(phone.t_shared, phone.t_personal), "ready"

    async def arm(self) -> float:
        """Forget the views received so far; the next ones of each stream are timed."""
        live = self.live()
        for phone in live:
            phone.t_shared = phone.t_personal = 0.0
            phone.waiting = True
        self.missing, self.all_arrived = len(live), asyncio.Event()
        if not live:
            self.all_arrived.set()
        return time.monotonic()

    async def arrivals(self, timeout: float) -> list[float]:
        """Once every live phone has both streams again (or after `timeout`): the time each
        phone had both, 0.0 for a phone still missing one."""
        try:
            await asyncio.wait_for(self.all_arrived.wait(), timeout)
        except TimeoutError:
            pass
        return [
            max(p.t_shared, p.t_personal) if p.t_shared and p.t_personal else 0.0
            for p in self.live()
        ]

    async def reset_ballots(self) -> int:
        for phone in self.phones:
            phone.sent = phone.held = 0
        return len(self.phones)

    async def vote(
        self,
        start: float,
        seconds: float,
        rate: float,
        mode: str,
        step: str,
        items: list[str],
        dots: int,
        grace: float,
    ) -> dict[str, Any]:
        """Send votes at `rate` per second from `start` for `seconds`, round-robin over the
        live phones. `spend`: each phone votes once per item until its `dots` are spent
        (the bars only grow); `toggle`: each phone votes then unvotes one item, forever."""
        phones = self.live()
        self.acks, self.pending = [], {}
        if not phones or rate <= 0:
            return {"acks": [], "sent": 0, "unacked": 0, "cpu": 0.0, "late_ms": 0.0}
        step_b, wanted = step.encode(), [i.encode() for i in items]
        cpu0, sent, turn, late = time.process_time(), 0, 0, 0.0
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        while (elapsed := time.monotonic() - start) < seconds:
            due = min(int(elapsed * rate) + 1, math.ceil(seconds * rate)) - sent
            late = max(late, due / rate)
            for _ in range(due):
                phone = phones[turn % len(phones)]
                turn += 1
                if phone.closed:
                    continue
                if mode == "spend":
                    if phone.sent >= dots:
                        continue
                    item = wanted[(phone.index + phone.sent) % len(wanted)]
                    phone.act(step_b, b"vote", item)
                    phone.sent += 1
                else:
                    action = b"unvote" if phone.held else b"vote"
                    phone.act(step_b, action, wanted[phone.index % len(wanted)])
                    phone.held ^= 1
                sent += 1
            await asyncio.sleep(0.002)
        deadline = time.monotonic() + grace
        while self.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return {
            "acks": self.acks, "sent": sent, "unacked": len(self.pending),
            "cpu": time.process_time() - cpu0, "late_ms": 1000 * late,
        }  # fmt: skip

    async def stats(self) -> dict[str, Any]:
        return {
            "phones": len(self.phones), "live": len(self.live()), "received": self.received,
            "bytes": self.bytes, "errors": self.errors, "closed": self.closed,
            "cpu": time.process_time(),
        }  # fmt: skip


def worker_main(pipe: Any, number: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    raise_open_files()
    asyncio.run(Worker(pipe, number).serve())


class Fleet:
    """The coordinator's handle on the worker processes."""

    def __init__(self, workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Any] = []
        self.procs: list[Any] = []
        for number in range(workers):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(theirs, number), daemon=True)
            proc.start()
            theirs.close()
            self.pipes.append(mine)
            self.procs.append(proc)
        self.threads = ThreadPoolExecutor(workers)

    @property
    def size(self) -> int:
        return len(self.pipes)

    def split(self, n: int) -> list[int]:
        return [n // self.size + (1 if i < n % self.size else 0) for i in range(self.size)]

    async def each(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        """Sends calls[i] to worker i; returns their answers in order."""
        for pipe, call in zip(self.pipes, calls, strict=True):
            pipe.send(call)
        loop = asyncio.get_running_loop()
        answers = await asyncio.gather(
            *(loop.run_in_executor(self.threads, pipe.recv) for pipe in self.pipes)
        )
        for status, value in answers:
            if status != "ok":
                raise RuntimeError(f"a phone worker failed:\n{value}")
        return [value for _, value in answers]

    async def all(self, *call: Any) -> list[Any]:
        return await self.each([call] * self.size)

    def close(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("quit",))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        self.threads.shutdown(wait=False)
