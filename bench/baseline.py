"""The baseline: a minimal raw `websockets` server doing Palabre's fan-out with pre-rendered
bytes, so every Palabre figure can be read against what the transport alone costs.

It speaks enough of Palabre's protocol for the same driver to measure it unchanged: a join
endpoint (POST /j/<code> sets `palabre_p`; GET /f/<secret> and /s/<token> set the
facilitator's and screen's cookies) on a second port (the `websockets` server only parses
GET), `/ws?as=<audience>` with the Origin and the cookie checked, `act` messages acknowledged
with an event seq after a group commit to SQLite (WAL, synchronous=FULL), and every 10 ms
tick with changes: one commit, the acks, then one message per audience to every socket
(`websockets.broadcast`: a plain loop, no task per send, no compression).

The views are the bytes Palabre sent in a calibration run (templates file written by
load.py): the same sizes, with only the seq and the bar values filled in. Steps alternate
between the kit's two ("ideas", "vote") on next/previous/goto.

    .venv/bin/python bench/baseline.py --port 8100 --http-port 8101 \\
        --templates templates.json --db /tmp/baseline.db
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import sys
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve

TICK_SECONDS = 0.01
BAR_VALUE = re.compile(r'(class="bar__value">)(\d+)(<)')
COOKIE_FOR = {"participant": "palabre_p", "screen": "palabre_s", "facilitator": "palabre_f"}
SECRET, TOKEN, CODE = "baseline-secret", "baseline-token", "BASE42"


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


class View:
    """One pre-rendered view: its regions are encoded once (again only when the bar values
    change); each message is then the seq spliced between two fixed strings."""

    def __init__(self, stream: str, regions: dict[str, str]) -> None:
        self.head = f'{{"type":"view","stream":"{stream}","seq":'
        self.parts = {k: BAR_VALUE.split(v) for k, v in regions.items()}
        self.bars = any(len(parts) > 1 for parts in self.parts.values())
        self.counts: tuple[int, ...] | None = None
        self.encoded = encode(regions)

    def message(self, seq: int, counts: tuple[int, ...] = ()) -> str:
        if self.bars and counts != self.counts:
            self.counts, self.encoded = counts, encode(self._fill(counts))
        return f'{self.head}{seq},"regions":{self.encoded}}}'

    def _fill(self, counts: tuple[int, ...]) -> dict[str, str]:
        regions = {}
        for key, parts in self.parts.items():
            # split() with 3 groups: text, (prefix, number, suffix, text)*
            out = [parts[0]]
            for bar, i in enumerate(range(1, len(parts), 4)):
                value = counts[bar] if bar < len(counts) else 0
                out += [parts[i], str(value), parts[i + 2], parts[i + 3]]
            regions[key] = "".join(out)
        return regions


class Room:
    def __init__(self, templates: dict[str, Any], db_path: str, origin: str) -> None:
        self.origin = origin
        self.items: list[str] = templates["items"]
        self.steps = list(templates["steps"])
        self.views = {
            step: {
                audience: View("personal" if audience == "personal" else "shared", regions)
                for audience, regions in by_audience.items()
                if audience in ("screen", "participant", "personal", "facilitator")
            }
            for step, by_audience in templates["steps"].items()
        }
        self.step = self.steps[0]
        self.counts = dict.fromkeys(self.items, 0)
        self.participants: set[str] = set()
        self.sockets: dict[str, set[ServerConnection]] = {a: set() for a in COOKIE_FOR}
        self.by_participant: dict[str, set[ServerConnection]] = {}
        self.seq = self.shared_seq = 0
        self.personal_seq: dict[str, int] = {}
        self.rows: list[tuple[int, str, str]] = []
        self.acks: list[tuple[ServerConnection, str]] = []
        self.committed: list[asyncio.Future[None]] = []
        self.shared_changed, self.facilitator_changed = False, False
        self.personal_changed: set[str] = set()
        self.wake = asyncio.Event()
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, actor, data)")

    # -- the tick ------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self.wake.wait()
            await asyncio.sleep(TICK_SECONDS)
            self.wake.clear()
            self.commit()

    def record(self, actor: str, data: dict[str, Any]) -> int:
        self.seq += 1
        self.rows.append((self.seq, actor, encode(data)))
        self.wake.set()
        return self.seq

    def commit(self) -> None:
        rows, self.rows = self.rows, []
        if rows:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)
            self.db.execute("COMMIT")
        committed, self.committed = self.committed, []
        for future in committed:
            future.set_result(None)
        acks, self.acks = self.acks, []
        for conn, text in acks:
            broadcast([conn], text)
        if self.shared_changed:
            self.shared_seq += 1
            for audience in ("screen", "participant", "facilitator"):
                broadcast(self.sockets[audience], self.shared(audience))
        elif self.facilitator_changed:
            self.shared_seq += 1
            broadcast(self.sockets["facilitator"], self.shared("facilitator"))
        for pid in self.personal_changed:
            self.send_personal(pid, self.by_participant.get(pid, ()))
        self.shared_changed = self.facilitator_changed = False
        self.personal_changed = set()

    def shared(self, audience: str) -> str:
        return self.views[self.step][audience].message(self.shared_seq, tuple(self.counts.values()))

    def send_personal(self, pid: str, conns: Any) -> None:
        if conns:
            seq = self.personal_seq[pid] = self.personal_seq.get(pid, 0) + 1
            broadcast(conns, self.views[self.step]["personal"].message(seq))

    # -- actions -------------------------------------------------------------------------
    def act(self, conn: ServerConnection, role: str, pid: str, message: dict[str, Any]) -> None:
        action, data = str(message.get("action")), message.get("data") or {}
        seq = self.record(pid or role, {"action": action, "data": data})
        if action in ("vote", "unvote") and data.get("item") in self.counts:
            self.counts[data["item"]] += 1 if action == "vote" else -1
            self.personal_changed.add(pid)
        elif action in ("next", "previous", "goto"):
            self.step = self.steps[(self.steps.index(self.step) + 1) % len(self.steps)]
            self.personal_changed |= set(self.by_participant)
        elif action == "reset":
            self.counts = dict.fromkeys(self.items, 0)
            self.personal_changed |= set(self.by_participant)
        self.shared_changed = True
        self.acks.append(
            (conn, encode({"type": "ack", "id": message["id"], "ok": True, "seq": seq}))
        )

    async def join(self) -> str:
        pid = f"p{len(self.participants) + 1}"
        self.participants.add(pid)
        self.record(pid, {"joined": pid})
        self.facilitator_changed = True
        done = asyncio.get_running_loop().create_future()
        self.committed.append(done)
        await done  # the cookie is set only once the participant is on disk
        return pid

    # -- sockets -------------------------------------------------------------------------
    def check(self, conn: ServerConnection, request: Any) -> Any:
        """Before the handshake: the Origin and the audience's cookie (403 otherwise)."""
        query = parse_qs(urlsplit(request.path).query)
        role = (query.get("as") or [""])[0]
        cookies = dict(
            c.strip().split("=", 1)
            for c in request.headers.get("Cookie", "").split(";")
            if "=" in c
        )
        value = cookies.get(COOKIE_FOR.get(role, ""), "")
        known = value in self.participants if role == "participant" else value == "ok"
        if request.headers.get("Origin") != self.origin or not known:
            return conn.respond(HTTPStatus.FORBIDDEN, "forbidden\n")
        conn.identity = (role, value if role == "participant" else "")  # type: ignore[attr-defined]
        return None

    async def handler(self, conn: ServerConnection) -> None:
        role, pid = conn.identity  # type: ignore[attr-defined]
        self.sockets[role].add(conn)
        if pid:
            self.by_participant.setdefault(pid, set()).add(conn)
        self.facilitator_changed = True
        self.wake.set()
        broadcast([conn], self.shared(role))
        if pid:
            self.send_personal(pid, [conn])
        try:
            async for text in conn:
                message = json.loads(text)
                if message.get("type") == "ping":
                    broadcast([conn], encode({"type": "pong", "now": 0}))
                elif message.get("type") == "act":
                    self.act(conn, role, pid, message)
        except Exception:  # a phone cut off mid-message is none of the baseline's business
            pass
        finally:
            self.sockets[role].discard(conn)
            if pid:
                self.by_participant.get(pid, set()).discard(conn)
            self.facilitator_changed = True
            self.wake.set()

    # -- the join endpoint ---------------------------------------------------------------
    async def http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target = head.split(b" ", 2)[:2]
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            path = unquote(target.decode())
            cookie = ""
            if method == b"POST" and path == f"/j/{CODE}":
                cookie = "palabre_p=" + await self.join()
            elif path == f"/f/{SECRET}":
                cookie = "palabre_f=ok"
            elif path == f"/s/{TOKEN}":
                cookie = "palabre_s=ok"
            status = "303 See Other" if cookie else "404 Not Found"
            extra = f"Location: /\r\nSet-Cookie: {cookie}; HttpOnly; Path=/\r\n" if cookie else ""
            end = "Content-Length: 0\r\nConnection: close\r\n\r\n"
            writer.write(f"HTTP/1.1 {status}\r\n{extra}{end}".encode())
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()


async def main(args: argparse.Namespace) -> None:
    with open(args.templates, encoding="utf-8") as f:
        templates = json.load(f)
    room = Room(templates, args.db, f"http://127.0.0.1:{args.port}")
    ticker = asyncio.create_task(room.run())
    http = await asyncio.start_server(room.http, "127.0.0.1", args.http_port, backlog=2048)
    async with serve(
        room.handler,
        "127.0.0.1",
        args.port,
        process_request=room.check,
        compression=None,
        max_size=65536,
        ping_interval=15,
        ping_timeout=15,
        backlog=2048,
    ):
        base = f"http://127.0.0.1:{args.http_port}"
        print(f"Facilitator: {base}/f/{SECRET}")
        print(f"Screen:      {base}/s/{TOKEN}")
        print(f"Join:        {base}/j/{CODE}")
        print("Application startup complete.", flush=True)
        try:
            await asyncio.Future()
        finally:
            http.close()
            ticker.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="the WebSocket port")
    parser.add_argument("--http-port", type=int, required=True, help="the join endpoint's port")
    parser.add_argument("--templates", required=True, help="views captured from Palabre")
    parser.add_argument("--db", required=True)
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)
