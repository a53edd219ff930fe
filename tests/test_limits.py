"""One client cannot hurt the room: limits on size, rate, connections and slow readers.

Against a real `palabre serve` on loopback (RELIABILITY rows 8, 9, 10 and 16):

- row 8: a 16 MiB message closes its socket with 1009, twenty times over, and the server's
  peak memory never grows by the size of one such message: it never holds one.
- row 9: a phone that floods acts without waiting for acks is told to slow down, then cut off
  (1008), on every socket it reconnects with; all its sockets together get no more through
  than the documented allowance of one phone (a burst of 40, then 20 a second), and 100
  phones acting meanwhile all get their acks.
- row 10: 2,000 idle sockets do not stop the facilitator: every move is acknowledged and
  reaches every idle socket, and memory per socket stays small. A peer that stops answering
  pings is dropped after the ping interval and timeout; a live one beside it stays.
- row 16: a projector that stops reading while 300 people vote holds nobody up, and when it
  reads again it gets the latest view, not a backlog of every view it missed.

Work is counted, never timed (the machine is shared): time bounds are generous deadlines.
`bench/flood.py` measures the ack latencies of row 9. `PALABRE_LONG=1` runs bigger versions.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.typing import Origin
from websockets.uri import parse_uri

from support import Client, Server, bars, close_all, dots_spent, eventually, read_events, run

LONG = os.environ.get("PALABRE_LONG") == "1"
# The allowance documented in docs/protocol.md: a burst of 40, then 20 messages a second;
# after 50 refusals the socket is closed with 1008.
BURST, RATE, STRIKES = 40, 20.0, 50
ITEMS = [
    (f"i{n:02d}", f"Proposition numéro {n} pour que le quartier vive mieux ensemble")
    for n in range(40)
]


def vote_kit(tmp_path: Path, items: list[tuple[str, str]] = ITEMS) -> str:
    """One dot-voting step with live results: every vote changes every screen."""
    listed = ", ".join(f'{{id = "{i}", title = "{t}"}}' for i, t in items)
    path = tmp_path / "vote.toml"
    path.write_text(
        f"""
[workshop]
title = "Limites"
language = "fr"

[[steps]]
id = "vote"
activity = "dot_voting"
title = "Vote"
[steps.config]
dots = 5
max_per_item = 5
results = "live"
items = [{listed}]
""",
        encoding="utf-8",
    )
    return str(path)


# -- helpers ----------------------------------------------------------------------------------
def memory_kib(server: Server, field: str = "VmRSS") -> int:
    """The server's resident memory (VmRSS) or its peak since the last reset (VmHWM)."""
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    assert match, status
    return int(match.group(1))


def reset_peak_memory(server: Server) -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    assert server.proc is not None
    Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")


class Phone(Client):
    """A participant joined in bulk: Client's socket, views and acks, but a shared HTTP
    transport (each Client makes its own TLS context, ~20 ms; hundreds of phones add up)."""

    def __init__(self, server: Server, cookie: str, transport: httpx.HTTPTransport) -> None:
        self.server, self.audience = server, "participant"
        self.http = httpx.Client(base_url=server.base, transport=transport)
        self.http.cookies.set("palabre_p", cookie)
        self.ws = self._reader = None
        self.regions, self.views, self.acks, self.ack_log, self.errors = {}, [], {}, [], []
        self.pongs = 0
        self._changed = asyncio.Event()


async def join_many(server: Server, names: list[str]) -> list[str]:
    """Join once per name, many at a time; returns each participant's cookie."""
    transport, gate = httpx.AsyncHTTPTransport(), asyncio.Semaphore(16)

    async def join(name: str) -> str:
        # Straight to the transport: no cookie jar carrying one phone's cookie to the next.
        request = httpx.Request("POST", f"{server.base}/j/{server.join_code}", data={"name": name})
        async with gate:
            response = await transport.handle_async_request(request)
            await response.aread()
        assert response.status_code == 303, response.status_code
        cookies = httpx.Response(303, headers=response.headers, request=request).cookies
        return str(cookies["palabre_p"])

    try:
        return list(await asyncio.gather(*(join(n) for n in names)))
    finally:
        await transport.aclose()


async def connect_phones(server: Server, cookies: list[str]) -> list[Phone]:
    transport, gate = httpx.HTTPTransport(), asyncio.Semaphore(64)

    async def connect(cookie: str) -> Phone:
        async with gate:
            return await Phone(server, cookie, transport).connect()  # type: ignore[return-value]

    return list(await asyncio.gather(*(connect(c) for c in cookies)))


async def counted(facilitator: Client, phones: int, what: str, timeout: float = 20) -> None:
    """Wait until the facilitator's panel counts this many phones online."""
    shown = f'data-testid="connected">{phones}<'
    await eventually(facilitator, lambda: shown in facilitator.regions["chrome"], what, timeout)


def participant_id(db: Path, name: str) -> str:
    return next(
        str(e["actor"])
        for e in read_events(db)
        if e["kind"] == "participant.joined" and e["data"]["name"] == name
    )


class RawSocket:
    """A WebSocket that reads only when told to and never answers a ping: a phone whose app
    froze, or a projector on saturated Wi-Fi. The handshake is done with websockets' sans-I/O
    protocol over a plain socket, so nothing reads in the background."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock, self.protocol = sock, protocol
        self.messages: list[str] = []
        self.eof = False

    @classmethod
    async def open(
        cls, server: Server, audience: str, cookie: str, receive_buffer: int | None = None
    ) -> RawSocket:
        sock = socket.socket()
        if receive_buffer:  # a small window: the server's sends stall after a few KiB
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        url = server.base.replace("http", "ws", 1) + f"/ws?as={audience}"
        protocol = ClientProtocol(parse_uri(url), origin=Origin(server.base), max_size=None)
        request = protocol.connect()
        request.headers["Cookie"] = cookie
        protocol.send_request(request)
        raw = cls(sock, protocol)
        await asyncio.get_running_loop().sock_sendall(sock, b"".join(protocol.data_to_send()))
        while protocol.state is State.CONNECTING and not raw.eof:
            await raw.receive()
        assert protocol.state is State.OPEN, protocol.handshake_exc
        return raw

    async def receive(self) -> None:
        """Read what the kernel holds (waiting for some); pongs are never sent back."""
        data = await asyncio.get_running_loop().sock_recv(self.sock, 1 << 16)
        if data:
            self.protocol.receive_data(data)
        else:
            self.eof = True
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if getattr(event, "opcode", None) is Opcode.TEXT:
                self.messages.append(event.data.decode())  # type: ignore[union-attr]
        self.protocol.data_to_send()  # drop our pongs and close echo: a dead peer is silent

    async def read_until(self, predicate: Any, timeout: float = 30.0) -> None:
        async def loop() -> None:
            while not predicate() and not self.eof:
                await self.receive()

        await asyncio.wait_for(loop(), timeout)


def views_of(raw: RawSocket) -> list[dict[str, Any]]:
    return [m for m in map(json.loads, raw.messages) if m["type"] == "view"]


# -- row 8: oversized messages ----------------------------------------------------------------
HUGE = 16 * 1024 * 1024  # uvicorn's default limit; ours is 64 KiB


async def send_huge(client: Client) -> int | None:
    """Send one 16 MiB act; the server may close (and reset) before we finish sending."""
    text = '{"type": "act", "id": "huge", "step": "vote", "action": "vote", "data": {"item": "%s"}}'
    text %= "x" * HUGE
    try:
        await client.send_raw(text)
        await client.wait_for(lambda: "huge" in client.acks)  # were it read, an ack refusing it
    except (websockets.ConnectionClosed, ConnectionError):
        pass
    await client.close()
    return client.ws.close_code  # type: ignore[no-any-return]


def test_a_16_mib_message_closes_its_socket_with_1009_and_memory_stays_flat(
    tmp_path: Path, start_server: Any
) -> None:
    server = start_server(kit=vote_kit(tmp_path))
    rounds = 60 if LONG else 20

    async def main() -> None:
        phone = await Client(server, "participant").join("Gros colis").connect()
        other = await Client(server, "participant").join("Voisine").connect()
        try:
            before = memory_kib(server)
            reset_peak_memory(server)
            codes = [await send_huge(await phone.copy().connect()) for _ in range(rounds)]
            assert codes == [1009] * rounds, codes
            # Peak memory: had the server buffered one message whole, it would jump by 16 MiB.
            peak, after = memory_kib(server, "VmHWM"), memory_kib(server)
            assert peak - before < HUGE // 1024 // 2, (before, peak)
            assert after - before < HUGE // 1024 // 2, (before, after)
            # The others never noticed.
            for client in (other, phone):
                ack = await client.act("vote", {"item": ITEMS[0][0]}, step="vote")
                assert ack["ok"], ack
        finally:
            await close_all(phone, other)

    run(main(), timeout=300)


# -- row 9: a message flood -------------------------------------------------------------------
FLOOD_ITEMS = ITEMS[:10]  # a usual ballot: views stay the size they are in a real room


@dataclass
class Flood:
    """What a flood did: the flooder's sockets and the normal phones' acks and latencies."""

    sockets: list[dict[str, Any]] = field(default_factory=list)  # per flooder socket
    flooding: float = 0.0  # seconds from the flooder's first message to its last close
    normal_acks: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, send to ack


async def flood_once(flooder: Client, item: str, give_up: float) -> dict[str, Any]:
    """Send acts as fast as the socket takes them, never waiting for an ack, until cut off
    (or, were it never cut off, until `give_up`)."""
    sent, started = 0, time.monotonic()
    try:
        while flooder.ws.close_code is None and time.monotonic() < give_up:
            await flooder.send("unvote" if sent % 2 else "vote", {"item": item}, step="vote")
            sent += 1
            await asyncio.sleep(0)  # lets our reader see the close; the server sees no pause
    except websockets.ConnectionClosed:
        pass
    code = flooder.ws.close_code if time.monotonic() >= give_up else await flooder.closed()
    refusals = [a["error"]["code"] for a in flooder.ack_log if not a["ok"]]
    return {
        "sent": sent,
        "close_code": code,
        "seconds": time.monotonic() - started,
        "slow_downs": refusals.count("slow_down"),
        "let_through": len(flooder.ack_log) - refusals.count("slow_down"),
    }


async def keep_flooding(flooder: Client, until: float, item: str, flood: Flood) -> None:
    """A flooder that reconnects each time it is cut off, until the deadline."""
    started = time.monotonic()
    while time.monotonic() < until:
        again = await flooder.copy().connect()
        flood.sockets.append(await flood_once(again, item, until + 10))
        await again.close()
    flood.flooding = time.monotonic() - started


async def act_normally(phone: Client, until: float, pause: float, item: str, flood: Flood) -> None:
    """A person tapping: vote, take the dot back, vote... one tap every `pause` seconds."""
    taps = 0
    while time.monotonic() < until:
        await asyncio.sleep(pause)
        started = time.perf_counter()
        ack = await phone.act("unvote" if taps % 2 else "vote", {"item": item}, step="vote")
        flood.latencies.append(time.perf_counter() - started)
        flood.normal_acks.append(ack)
        taps += 1


async def flood_scenario(phones: list[Client], flooder: Client | None, seconds: float) -> Flood:
    """Normal phones tap every 0.5 to 1.5 s (spread evenly) while the flooder floods."""
    flood, until = Flood(), time.monotonic() + seconds
    normal = [
        act_normally(p, until, 0.5 + n / len(phones), ITEMS[n % 7][0], flood)
        for n, p in enumerate(phones)
    ]
    if flooder is not None:
        normal.append(keep_flooding(flooder, until, ITEMS[9][0], flood))
    await asyncio.gather(*normal)
    return flood


def test_a_flooder_is_slowed_then_cut_off_and_a_hundred_phones_beside_it_are_served(
    tmp_path: Path, start_server: Any
) -> None:
    server = start_server(kit=vote_kit(tmp_path, FLOOD_ITEMS))

    async def main() -> None:
        names = [f"Habitant {n}" for n in range(100)]
        phones = await connect_phones(server, await join_many(server, names))
        flooder = Client(server, "participant").join("Inondeur")
        try:
            flood = await flood_scenario(phones, flooder, seconds=30 if LONG else 3)
        finally:
            await close_all(*phones, flooder)
        assert flood.sockets, "the flooder never flooded"
        for fate in flood.sockets:  # each socket: told to slow down, then cut off
            assert fate["sent"] >= STRIKES and fate["slow_downs"] >= 1, fate
            assert fate["close_code"] == 1008, fate
            assert fate["let_through"] <= BURST + RATE * fate["seconds"] + 1, fate
        # Every normal tap was served, the same as without a flooder.
        assert len(flood.normal_acks) >= len(phones), len(flood.normal_acks)
        assert [a for a in flood.normal_acks if not a["ok"]] == []
        # What reached the log: one allowance for the phone, however often it reconnected
        # (the burst, the refill while it flooded, one for rounding).
        flooder_id = participant_id(server.db, "Inondeur")
        events = read_events(server.db)
        written = sum(
            e["actor"] == flooder_id and e["kind"] != "participant.joined" for e in events
        )
        assert written <= BURST + RATE * flood.flooding + 1, (written, flood.flooding)

    run(main(), timeout=300)


# -- row 10: a connection flood, and dead peers ------------------------------------------------
IDLE = 2000
# Joining is one fsync per phone (~5 ms here): by default the 2,000 sockets belong to 400
# phones (five tabs each); the long run makes them 2,000 phones.
IDLE_PHONES = 2000 if LONG else 400


def raise_open_files(needed: int) -> None:
    """Both ends of every socket live on this machine: raise the soft limit on open files (the
    server inherits it), or skip saying why."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"{needed} open files needed, the hard limit is {hard} (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_two_thousand_idle_sockets_do_not_slow_the_facilitator_down(start_server: Any) -> None:
    raise_open_files(IDLE + 500)
    server = start_server()  # quick-start: ideas, then a dot vote on them

    async def main() -> None:
        facilitator = await Client(server, "facilitator").login().connect()
        active = [
            await Client(server, "participant").join(f"Actif {n}").connect() for n in range(3)
        ]
        before = memory_kib(server)
        cookies = await join_many(server, [f"Silencieux {n}" for n in range(IDLE_PHONES)])
        idle = await connect_phones(server, [cookies[n % IDLE_PHONES] for n in range(IDLE)])
        try:
            await counted(facilitator, IDLE_PHONES + 3, "every phone counted", 60)
            for n, phone in enumerate(active):
                assert (await phone.act("post", {"title": f"Idée {n}"}, step="ideas"))["ok"]
            for move, title in (
                ("next", "Vote par gommettes"),
                ("previous", "Vos idées"),
                ("next", "Vote par gommettes"),
            ):
                ack = await facilitator.act(move)
                assert ack["ok"], (move, ack)
                assert await count_seeing(idle, title) == IDLE, move
            for phone in active:  # and the few who act are served
                assert (await phone.act("vote", {"item": _first_item(phone)}, step="vote"))["ok"]
            grown = memory_kib(server) - before
            # Measured here: under 40 KiB per socket (views, buffers, asyncio objects).
            assert grown / IDLE < 256, f"{grown / IDLE:.0f} KiB per idle socket"
        finally:
            await close_all(facilitator, *active, *idle)

    run(main(), timeout=300)


async def count_seeing(phones: list[Phone], title: str) -> int:
    """How many phones show this step (waiting, generously, for each to)."""
    await asyncio.gather(
        *(
            eventually(
                p, lambda p=p: title in p.regions["chrome"], f"{title} reaches an idle phone", 60
            )
            for p in phones
        )
    )
    return sum(title in p.regions["chrome"] for p in phones)


def _first_item(phone: Client) -> str:
    match = re.search(r'data-arg-item="([^"]+)"', phone.regions.get("personal", ""))
    assert match, phone.regions.get("personal", "")[:500]
    return match.group(1)


PING = 1.0  # PALABRE_PING_SECONDS for this server: a ping every second, a second to answer


def test_a_peer_that_stops_answering_pings_is_dropped_and_a_live_one_stays(
    start_server: Any,
) -> None:
    server = start_server(env={"PALABRE_PING_SECONDS": str(PING)})

    async def main() -> None:
        facilitator = await Client(server, "facilitator").login().connect()
        live = await Client(server, "participant").join("Vivant").connect()
        dead_cookie = Client(server, "participant").join("Figé").cookie_header()
        dead = await RawSocket.open(server, "participant", dead_cookie)
        try:
            await counted(facilitator, 2, "both phones counted")
            # Interval + timeout, and a generous margin for a loaded machine.
            await counted(facilitator, 1, "the dead peer dropped", timeout=2 * PING + 8)
            await dead.read_until(lambda: False, timeout=10)  # up to the server's FIN
            assert dead.eof and dead.protocol.close_rcvd is not None
            assert dead.protocol.close_rcvd.code == 1011, dead.protocol.close_rcvd
            # The live phone answered every ping meanwhile: still connected, still served.
            assert live.ws.close_code is None
            assert (await live.act("post", {"title": "Toujours là"}, step="ideas"))["ok"]
        finally:
            dead.sock.close()
            await close_all(facilitator, live)

    run(main())


# -- row 16: a slow projector -----------------------------------------------------------------
VOTERS = 300
WAVES = 40  # each wave votes once the last one is acknowledged: at least 40 screen updates
# What a frozen projector may get on resuming, before the latest view: what was already in
# its socket's buffers when it froze (asyncio's, up to 64 KiB, and the kernel's), not the
# backlog of every view since. A screen view here is about 15 KiB.
BUFFERED = 256 * 1024


def test_a_projector_that_stops_reading_holds_nobody_up_and_catches_up_with_the_latest_view(
    tmp_path: Path, start_server: Any
) -> None:
    # A ping every two minutes: the frozen projector, which answers none, stays for the test.
    server = start_server(kit=vote_kit(tmp_path), env={"PALABRE_PING_SECONDS": "120"})

    async def main() -> None:
        facilitator = await Client(server, "facilitator").login().connect()
        screen = await Client(server, "screen").login().connect()
        # The frozen projector: a tiny receive window, one fresh view read, then no reading.
        frozen = await RawSocket.open(server, "screen", screen.cookie_header(), 4096)
        await frozen.read_until(lambda: views_of(frozen))
        voters = await connect_phones(
            server, await join_many(server, [f"Votant {n}" for n in range(VOTERS)])
        )
        try:
            before, seen_before = memory_kib(server), len(screen.views)
            for wave in range(WAVES):
                group = voters[wave::WAVES]
                acks = await asyncio.gather(
                    *(
                        v.act("vote", {"item": ITEMS[(wave + n) % len(ITEMS)][0]}, step="vote")
                        for n, v in enumerate(group)
                    )
                )
                assert all(a["ok"] for a in acks), acks
            # Everyone reading got what they needed: their own dot, the room's total.
            for v in voters:
                await eventually(
                    v,
                    lambda v=v: dots_spent(v.regions["personal"]) == 1,
                    "a voter sees their dot spent",
                )
            await eventually(
                screen,
                lambda: sum(bars(screen.regions["main"]).values()) == VOTERS,
                "the projector that reads shows every vote",
            )
            missed = len(screen.views) - seen_before
            grown = memory_kib(server) - before
            latest = screen.views[-1]
            # It reads again: what sat in buffers when it froze, then the latest view.
            resumed = len(frozen.messages)
            await frozen.read_until(lambda: views_of(frozen)[-1]["seq"] >= latest["seq"])
            caught_up = frozen.messages[resumed:]
            assert json.loads(caught_up[-1]) == latest, "it did not catch up with the room"
            assert sum(bars(latest["regions"]["main"]).values()) == VOTERS
            # Not the backlog: the room's screen changed `missed` times while it was frozen.
            assert missed >= WAVES, missed
            backlog = f"{len(caught_up)} messages, {sum(map(len, caught_up))} bytes on resuming"
            assert len(caught_up) <= missed // 2, f"{backlog}; {missed} changes missed"
            assert sum(map(len, caught_up[:-1])) <= BUFFERED, f"{backlog}: a backlog"
            assert grown < 16 * 1024, f"{grown} KiB"
        finally:
            frozen.sock.close()
            await close_all(facilitator, screen, *voters)

    run(main(), timeout=300)
