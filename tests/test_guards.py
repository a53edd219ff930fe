"""Guards in front of the routes (RELIABILITY rows 4, 5 and 18).

- Row 5: join codes are six characters, so wrong codes (and wrong jury, facilitator and
  screen links) are throttled per client address: 30 tries, then 429 with Retry-After, while
  phones from other addresses still join.
- Row 4: identity is a cookie, never an address: 300 phones behind one router all join, each
  a distinct participant, and the panel shows joined devices against the people expected.
- Row 18: a malformed Host header gets 400; with --allowed-host, so does any other name, and
  the WebSocket handshake is refused; no authorisation code reads the URL or the Host.
"""

from __future__ import annotations

import ast
import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from palabre.engine.guard import FAILURE_BURST, FailureLimiter, host_name
from support import TLS, Client, Server, close_all, events_dump, handshake_status, run

ROOT = Path(__file__).parent.parent


# -- the limiter on its own --------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limiter_allows_a_burst_of_failures_then_one_every_two_seconds() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(burst=30, per_second=0.5, clock=clock)
    for _ in range(30):
        assert not limiter.blocked("10.0.0.1")
        limiter.failed("10.0.0.1")
    assert limiter.blocked("10.0.0.1")
    assert not limiter.blocked("10.0.0.2"), "another address is not punished"
    assert limiter.retry_after("10.0.0.1") == 2
    clock.now += 2
    assert not limiter.blocked("10.0.0.1")
    limiter.failed("10.0.0.1")
    assert limiter.blocked("10.0.0.1")


def test_the_limiter_forgets_refilled_addresses_so_a_spray_cannot_grow_memory() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(burst=3, per_second=1, clock=clock)
    limiter.failed("guesser")
    limiter.failed("guesser")
    limiter.failed("guesser")
    for n in range(30_000):
        limiter.failed(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
        clock.now += 0.001
    assert len(limiter._buckets) <= 10_000


# -- wrong codes over HTTP ---------------------------------------------------------------------
def _client_from(server: Server, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address, verify=TLS)
    return httpx.Client(base_url=server.base, transport=transport, timeout=20)


def test_wrong_join_codes_are_throttled_per_address_and_others_still_join(
    start_server: Any,
) -> None:
    server = start_server()
    before = events_dump(server.db)
    guesser = _client_from(server, "127.0.0.1")
    statuses = [guesser.get(f"/j/ZZZZ{n:02d}").status_code for n in range(int(FAILURE_BURST))]
    assert statuses == [404] * int(FAILURE_BURST)
    blocked = guesser.post(f"/j/{server.join_code}", data={"name": "Guesser"})
    assert blocked.status_code == 429, "the right code is not even compared once blocked"
    assert int(blocked.headers["retry-after"]) >= 1
    assert "Trop de codes erronés" in blocked.text
    for path in ("/jury/wrong", "/f/wrong", "/s/wrong"):
        assert guesser.get(path).status_code == 429, path
    assert events_dump(server.db) == before, "no guess wrote anything"

    neighbour = _client_from(server, "127.0.0.2")
    joined = neighbour.post(f"/j/{server.join_code}", data={"name": "Voisine"},
                            follow_redirects=True)
    assert joined.status_code == 200 and joined.url.path == "/p"
    guesser.close()
    neighbour.close()


def test_right_answers_cost_nothing(start_server: Any) -> None:
    server = start_server()
    with httpx.Client(base_url=server.base, timeout=20) as http:
        for _ in range(int(FAILURE_BURST) * 2):
            assert http.get(f"/j/{server.join_code}").status_code == 200
        assert http.get("/j/WRONG1").status_code == 404


# -- one router, many people -----------------------------------------------------------------
KIT = """
[workshop]
title = "Conseil de quartier"
expected = 300

[[steps]]
id = "ideas"
activity = "ideation"
title = "Vos idées"
show_join = true
"""


def test_three_hundred_phones_behind_one_address_all_join_as_distinct_people(
    tmp_path: Path, start_server: Any
) -> None:
    kit = tmp_path / "council.toml"
    kit.write_text(KIT, encoding="utf-8")
    server = start_server(kit=str(kit))
    run(_join_three_hundred(server), timeout=180)


async def _join_three_hundred(server: Server) -> None:
    async def join(n: int) -> str:
        async with httpx.AsyncClient(base_url=server.base, timeout=60, verify=TLS) as http:
            response = await http.post(f"/j/{server.join_code}", data={"name": f"P{n}"})
            assert response.status_code == 303, response.text
            assert response.headers["location"] == "/p"
            cookie = http.cookies.get("palabre_p")
            assert cookie
            return cookie

    limit = asyncio.Semaphore(30)

    async def bounded(n: int) -> str:
        async with limit:
            return await join(n)

    cookies = await asyncio.gather(*(bounded(n) for n in range(300)))
    assert len(set(cookies)) == 300, "every device is its own participant"
    joined = [e for e in _events(server) if e["kind"] == "participant.joined"]
    assert len({e["data"]["participant"] for e in joined}) == 300
    facilitator = await Client(server, "facilitator").login().connect()
    try:
        chrome = facilitator.regions["chrome"]
        assert '<span data-testid="joined">300</span> au total sur 300 attendus' in chrome
    finally:
        await close_all(facilitator)


def _events(server: Server) -> list[dict[str, Any]]:
    from support import read_events

    return read_events(server.db)


# -- Host headers ----------------------------------------------------------------------------
def raw_status(server: Server, host_lines: list[bytes], path: bytes = b"/") -> int:
    """Status of a GET sent byte for byte, so any Host header (or none, or two) can be sent."""
    request = b"GET " + path + b" HTTP/1.1\r\n" + b"".join(
        b"Host: " + h + b"\r\n" for h in host_lines) + b"Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(request)
        head = sock.recv(1024)
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize("host", [
    b"", b"evil host", b"a@b", b"x" * 300, b"host:80:80", b"host:port", b"-bad.test",
    b"caf\xc3\xa9.test", b"under_score..test", b"[::1", b"host/path", b"host?x",
])
def test_a_malformed_host_header_gets_400(host: bytes, module_servers: Any) -> None:
    server = module_servers("hosts")
    assert raw_status(server, [host]) == 400


def test_a_missing_or_doubled_host_header_gets_400(start_server: Any) -> None:
    server = start_server()
    assert raw_status(server, []) == 400
    assert raw_status(server, [b"127.0.0.1", b"evil.test"]) == 400
    assert raw_status(server, [f"127.0.0.1:{server.port}".encode()]) == 200, "the control"


def test_with_allowed_hosts_any_other_name_gets_400_and_no_socket(tmp_path: Path) -> None:
    server = Server(tmp_path / "w.db", args=["--allowed-host", "Atelier.Example"]).start()
    try:
        port = str(server.port).encode()
        assert raw_status(server, [b"atelier.example"]) == 200
        assert raw_status(server, [b"ATELIER.example:" + port]) == 200
        assert raw_status(server, [b"127.0.0.1:" + port]) == 200, "the --public-url host"
        assert raw_status(server, [b"evil.test"]) == 400
        assert raw_status(server, [b"localhost:" + port]) == 400
        assert raw_status(server, [b"evil.test"], f"/j/{server.join_code}".encode()) == 400
        screen = Client(server, "screen").login()
        cookie = screen.cookie_header()
        assert run(handshake_status(server, "screen", cookie)) == 101
        evil = f"ws://localhost:{server.port}/ws?as=screen"
        assert run(_handshake_at(evil, cookie, server.base)) == 403
        screen.http.close()
    finally:
        server.stop()


async def _handshake_at(url: str, cookie: str, origin: str) -> int:
    import websockets
    from websockets.exceptions import InvalidStatus

    try:
        ws = await websockets.connect(url, origin=origin,  # type: ignore[arg-type]
                                      additional_headers={"Cookie": cookie}, open_timeout=20)
    except InvalidStatus as exc:
        return int(exc.response.status_code)
    await ws.close()
    return 101


def test_host_names_are_parsed_strictly() -> None:
    assert host_name("Example.TEST:8000") == "example.test"
    assert host_name("[::1]:8000") == "[::1]"
    assert host_name("192.168.1.20") == "192.168.1.20"
    assert host_name("evil.test@good.test") is None
    assert host_name("") is None


# -- nothing decides access from the URL or the Host ----------------------------------------
# Every read of a request's URL or Host header in engine/ and plugins/, with why it is safe.
# The join form posts back to its own path, read through guard.route_path (the path only,
# never the host): nothing else reads the request's URL.
URL_READS: dict[tuple[str, str, str], str] = {}


def _url_reads() -> set[tuple[str, str, str]]:
    found = set()
    for path in [*ROOT.glob("engine/*.py"), *ROOT.glob("plugins/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                name = _url_read(node)
                if name:
                    found.add((str(path.relative_to(ROOT)), func.name, name))
    return found


def _url_read(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in ("url", "base_url", "url_for"):
        if isinstance(node.value, ast.Name) and node.value.id in ("request", "websocket"):
            return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        if node.value in ("host", b"host", "Host", "x-forwarded-host", "forwarded"):
            return f"header {node.value!r}"
    return None


def test_no_authorisation_reads_the_request_url_or_host() -> None:
    found = _url_reads()
    # The Host guard itself reads the header, by design.
    found = {f for f in found if f[0] != "engine/guard.py"}
    assert found == set(URL_READS), (
        "a new read of the request URL or Host header: authorisation must come from signed "
        f"cookies and secrets only; if it is safe, add it to URL_READS with why: {found}")


# -- one cookie, many sockets (row 10) --------------------------------------------------------
def test_one_phone_holding_too_many_sockets_loses_its_oldest_ones(start_server: Any) -> None:
    from palabre.engine.hub import MAX_SOCKETS_PER_PARTICIPANT as LIMIT

    server = start_server()
    run(_too_many_sockets(server, LIMIT))


async def _too_many_sockets(server: Server, limit: int) -> None:
    phone = Client(server, "participant").join("Onglets")
    tabs = []
    try:
        for _ in range(limit + 8):
            tabs.append(await phone.copy().connect())
        codes = await asyncio.gather(*(t.closed(timeout=20) for t in tabs[:8]))
        assert codes == [1008] * 8, codes
        assert all(t.ws.close_code is None for t in tabs[8:]), "the newest sockets stay open"
        ack = await tabs[-1].act("post", {"title": "Toujours là"}, step="ideas")
        assert ack["ok"], ack
    finally:
        await close_all(*tabs)
