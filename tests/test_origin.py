"""Only our own pages may open our socket (RELIABILITY row 1: cross-site WebSocket hijacking).

Starlette's CORS middleware skips WebSockets and uvicorn never checks `Origin`, so the engine
does, before accepting. test_authorisation.py holds the hand-picked foreign origins; here:

- generated origins (schemes, hosts, ports, userinfo, paths, `null`, Unicode hosts, case,
  whitespace, near-misses of the allowed ones, a Host header that agrees with the Origin)
  sent raw to a real server with a valid participant cookie: exactly the allowed origins get
  101, every other one 403, and the event log is byte-identical afterwards. The allowed set
  is derived from the URLs the server printed, not written down here.
- a real Chromium that joined the workshop (so holds the participant cookie) visits pages on
  127.0.0.2 (another site) and on 127.0.0.1 at another port (same site, so the SameSite=Lax
  cookie is sent and only the Origin check stands); their script's socket never opens, while
  the same script on our own page does.

The model of "allowed": what HTTP makes of the header value (RFC 9110 §5.5: spaces and tabs
around it are not part of it), compared without ASCII case as origins are (RFC 6454 §4;
browsers always send lowercase), with one of the printed origins or their `localhost` alias.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from browser import browser  # noqa: F401  (fixture)
from support import Client, Server, events_dump

LONG = os.environ.get("PALABRE_LONG") == "1"


@pytest.fixture(scope="module")
def server(module_servers: Any) -> Server:
    started: Server = module_servers("origin")
    return started


@pytest.fixture(scope="module")
def cookie(server: Server) -> str:
    phone = Client(server, "participant").join("Origines générées")
    header = phone.cookie_header()
    phone.http.close()
    return header


def allowed_origins(server: Server) -> set[str]:
    """Our pages' origins, from the links `palabre serve` printed (and the loopback name
    for 127.0.0.1, which docs/protocol.md lists with it)."""
    printed = {f"{u.scheme}://{u.netloc}" for u in map(urlsplit, server.urls.values())}
    assert len(printed) == 1, server.urls  # the test server prints one public origin
    return printed | {o.replace("://127.0.0.1:", "://localhost:") for o in printed}


def accepted(value: bytes | None, allowed: set[str]) -> bool:
    if value is None:
        return False
    return value.strip(b" \t").lower().decode("latin-1") in allowed


def handshake(
    server: Server, cookie: str, origin: bytes | None, host: bytes, timeout: float = 20.0
) -> int:
    """The status of a raw WebSocket handshake carrying exactly these header bytes (0: no
    answer within `timeout`)."""
    key = base64.b64encode(secrets.token_bytes(16))
    lines = [
        b"GET /ws?as=participant HTTP/1.1",
        b"Host: " + host,
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + key,
        b"Sec-WebSocket-Version: 13",
        b"Cookie: " + cookie.encode(),
    ]
    if origin is not None:
        lines.append(b"Origin: " + origin)
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        head = b""
        try:
            while b"\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
        except TimeoutError:
            return 0
    return int(head.split(b" ", 2)[1])


# -- generated origins ------------------------------------------------------------------------
# Templates: "{port}" is the server's port, "{other}" a port nobody serves.
# fmt: off
SCHEMES = ["http", "https", "ws", "wss", "HTTP", "Http", "file", "chrome-extension", "null", ""]
SEPARATORS = ["://", ":/", ":", "//", ":///", ":\\\\"]
USERINFO = ["", "user@", "127.0.0.1:{port}@", "localhost:{port}@", "evil.test@", ":@"]
HOSTS = [
    "127.0.0.1", "localhost", "LOCALHOST", "LocalHost", "127.0.0.2", "127.1", "2130706433",
    "0x7f.0.0.1", "0177.0.0.1", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]", "127.0.0.1.",
    "localhost.", "evil.test", "host.evil.test", "127.0.0.1.evil.test", "localhost.evil.test",
    "evil.test.127.0.0.1", "xn--lcalhost-7ve", "lоcalhost", "ｌｏｃａｌｈｏｓｔ", "127。0。0。1",
    "localhoſt", "localhost\u200b", "ĺocalhost", "",
]
PORTS = [":{port}", ":{other}", "", ":80", ":443", ":0", ":0{port}", ":{port}0", ":",
         ":+{port}", ": {port}", ":{port} ", ":{port}.0"]
TAILS = ["", "/", "/ws", "//evil.test", "?x=1", "#f", "/127.0.0.1:{port}", ".", "/.",
         "@evil.test", "%00", ";", ","]
# fmt: on
SPACE = ["", "", "", " ", "\t", "  \t"]
TEXT = st.characters(exclude_categories=("Cs", "Cc")) | st.just("\t")

built = st.builds(
    lambda *parts: "".join(parts),
    *(
        st.sampled_from(options)
        for options in (SPACE, SCHEMES, SEPARATORS, USERINFO, HOSTS, PORTS, TAILS, SPACE)
    ),
)
near_misses = st.builds(  # one character changed, added or removed in an allowed origin
    lambda template, at, char, how: (
        template[:at] + char * (how != "drop") + template[at + (how != "add") :]
    ),
    st.sampled_from(["http://127.0.0.1:{port}", "http://localhost:{port}"]),
    st.integers(0, 24),
    TEXT,
    st.sampled_from(["add", "drop", "swap"]),
)
ORIGINS = st.one_of(
    built,
    near_misses,
    st.text(TEXT, max_size=40),
    st.sampled_from(["http://127.0.0.1:{port}", "http://localhost:{port}"]),
)


def wire(template: str, server: Server, other: int, encoding: str) -> bytes:
    text = template.replace("{port}", str(server.port)).replace("{other}", str(other))
    return text.encode(encoding, "replace")  # latin-1 or UTF-8: header values are bytes


@settings(
    max_examples=3000 if LONG else 300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    template=ORIGINS, encoding=st.sampled_from(["utf-8", "latin-1"]), host_from_origin=st.booleans()
)
@example(template="null", encoding="utf-8", host_from_origin=False)
@example(template="https://host.evil.test", encoding="utf-8", host_from_origin=True)
@example(template="https://evil.test/127.0.0.1:{port}", encoding="utf-8", host_from_origin=True)
@example(template="http://127.0.0.1:{port}@evil.test", encoding="utf-8", host_from_origin=True)
@example(template="HTTP://LOCALHOST:{port}", encoding="utf-8", host_from_origin=False)
@example(template=" http://127.0.0.1:{port}\t", encoding="utf-8", host_from_origin=False)
@example(template="http://127.0.0.1:{port}/", encoding="utf-8", host_from_origin=False)
@example(template="http://lоcalhost:{port}", encoding="utf-8", host_from_origin=True)
def test_only_the_servers_own_origins_open_a_socket(
    server: Server, cookie: str, template: str, encoding: str, host_from_origin: bool
) -> None:
    allowed = allowed_origins(server)
    origin = wire(template, server, other=server.port + 1, encoding=encoding)
    # DNS rebinding: an evil name pointing at us sends a Host that agrees with its Origin.
    host = f"127.0.0.1:{server.port}".encode()
    if host_from_origin and b"://" in origin:
        host = origin.split(b"://", 1)[1].split(b"/", 1)[0].strip() or host
    before = events_dump(server.db)
    status = handshake(server, cookie, origin, host)
    assert status == (101 if accepted(origin, allowed) else 403), (origin, host, status)
    assert events_dump(server.db) == before


def test_no_origin_header_and_malformed_ones_are_refused(server: Server, cookie: str) -> None:
    before = events_dump(server.db)
    host = f"127.0.0.1:{server.port}".encode()
    assert handshake(server, cookie, None, host) == 403
    # A control character: h11 answers 400 for NUL; for DEL, uvicorn's websockets-sansio
    # layer drops the handshake it cannot parse without answering (no socket either way).
    nul, delete = (b"http://127.0.0.1:%d%s" % (server.port, c) for c in (b"\x00", b"\x7f"))
    assert handshake(server, cookie, nul, host) == 400
    assert handshake(server, cookie, delete, host, timeout=2) in (0, 400)
    # The control: the same raw handshake from our own origin opens.
    assert handshake(server, cookie, server.base.encode(), host) == 101
    assert events_dump(server.db) == before


# -- a real browser ---------------------------------------------------------------------------
OPEN_SOCKET = """
(url) => new Promise((done) => {
  const seen = [];
  const ws = new WebSocket(url);
  ws.onopen = () => { seen.push("open"); ws.close(); };
  ws.onerror = () => seen.push("error");
  ws.onclose = (event) => { seen.push("close " + event.code); done(seen); };
  setTimeout(() => done(seen.concat("timeout")), 15000);
})
"""
EVIL_PAGE = """<!doctype html><meta charset="utf-8"><title>Jeu concours</title>
<script>window.outcome = ({script})({url!r});</script>"""


@pytest.fixture
def evil_sites() -> Iterator[list[str]]:
    """The same evil page on 127.0.0.2 (another site) and on 127.0.0.1 at another port (the
    same site: SameSite=Lax cookies go along)."""
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.2", 0))  # Linux routes all of 127.0.0.0/8 to loopback
    except OSError as exc:
        pytest.skip(f"127.0.0.2 is not usable on this machine: {exc}")
    finally:
        probe.close()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            target = self.path.split("?target=", 1)[-1]
            body = EVIL_PAGE.format(script=OPEN_SOCKET.strip(), url=target).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    servers = [ThreadingHTTPServer((host, 0), Evil) for host in ("127.0.0.2", "127.0.0.1")]
    for httpd in servers:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield [f"http://{h.server_address[0]}:{h.server_address[1]}" for h in servers]
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_a_page_elsewhere_cannot_open_the_socket_with_the_participants_cookie(
    browser: Any,  # noqa: F811
    server: Server,
    evil_sites: list[str],
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.urls["join"])
        page.fill("#name", "Victime")
        page.click("button[type=submit]")
        page.wait_for_url("**/p")
        socket_url = server.base.replace("http", "ws", 1) + "/ws?as=participant"
        before = events_dump(server.db)
        # The control: from our own page, the browser's cookie opens the socket.
        assert page.evaluate(OPEN_SOCKET, socket_url)[0] == "open"
        for site in evil_sites:
            page.goto(f"{site}/prize?target={socket_url}")
            page.wait_for_function("window.outcome !== undefined", timeout=20_000)
            outcome = page.evaluate("window.outcome")
            assert "open" not in outcome and outcome[-1].startswith("close"), (site, outcome)
        assert events_dump(server.db) == before
    finally:
        context.close()
