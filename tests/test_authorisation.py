"""Who may do what: roles checked on every message, Origin and cookies checked on every
handshake, headers that keep pages and cookies to themselves, secrets kept out of logs."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import (
    TLS,
    Client,
    Server,
    close_all,
    events_dump,
    eventually,
    free_port,
    handshake_status,
    run,
)

WORKSHOP_ACTIONS = [("next", {}), ("previous", {}), ("goto", {"step": "vote"}), ("toggle_join", {})]
IDEATION_FACILITATOR = ["hide", "unhide", "merge", "close", "reopen"]
VOTING_FACILITATOR = ["close", "reopen", "reveal", "hide_results"]


@pytest.fixture(scope="module")
def server(module_servers: Any) -> Server:
    started: Server = module_servers("auth")
    return started


@pytest.fixture(scope="module")
def other_server(module_servers: Any) -> Server:
    """Another workshop, on another database."""
    started: Server = module_servers("other")
    return started


def _bare(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base, follow_redirects=False, timeout=20, verify=TLS)


# -- roles on every message ---------------------------------------------------------------------
def test_a_participant_or_a_screen_cannot_perform_any_facilitator_action(
    tmp_path: Path, start_server: Any
) -> None:
    server = start_server(tmp_path / "roles.db")
    db = server.db

    async def main() -> None:
        facilitator = await Client(server, "facilitator").login().connect()
        screen = await Client(server, "screen").login().connect()
        phone = await Client(server, "participant").join("Curieux").connect()
        try:
            ideas = []
            for title in ("Idée A", "Idée B"):
                ack = await phone.act("post", {"title": title}, step="ideas")
                assert ack["ok"], ack
            await eventually(
                facilitator,
                lambda: facilitator.regions["main"].count('data-action="hide"') == 2,
                "the facilitator sees both ideas",
            )
            ideas = re.findall(
                r'data-action="hide" data-step="ideas" data-arg-idea="([^"]+)"',
                facilitator.regions["main"],
            )
            data = {"idea": ideas[0], "into": ideas[1]}

            async def refused_everything(on_step: str, names: list[str]) -> None:
                before = events_dump(db)
                for who in (phone, screen):
                    for name, args in WORKSHOP_ACTIONS:
                        ack = await who.act(name, args)
                        assert not ack["ok"] and ack["error"]["code"] == "forbidden", (name, ack)
                        assert ack["error"]["message"], ack
                    for name in names:
                        ack = await who.act(name, data, step=on_step)
                        assert not ack["ok"] and ack["error"]["code"] == "forbidden", (name, ack)
                assert events_dump(db) == before, "a refused action wrote to the log"

            await refused_everything("ideas", IDEATION_FACILITATOR)
            assert (await facilitator.act("next"))["ok"]
            await eventually(
                phone,
                lambda: "data-arg-item" in phone.regions.get("personal", ""),
                "the vote opens",
            )
            await refused_everything("vote", VOTING_FACILITATOR)
            # The same actions from the facilitator do work (the refusals were about the role).
            for name in VOTING_FACILITATOR:
                assert (await facilitator.act(name, step="vote"))["ok"], name
        finally:
            await close_all(facilitator, screen, phone)

    run(main())


# -- pages and handshakes for the wrong role ------------------------------------------------------
def test_a_participant_cookie_opens_neither_the_facilitator_page_nor_its_socket(
    server: Server,
) -> None:
    phone = Client(server, "participant").join("Pas animateur")
    cookie = phone.cookie("palabre_p")
    assert cookie
    with _bare(server) as http:
        http.cookies.set("palabre_p", cookie)
        assert http.get("/facilitator").status_code == 403
        assert http.get("/screen").status_code == 403
        assert http.get("/p").status_code == 200
        # The participant's signed value under the facilitator's cookie name does not pass.
        http.cookies.set("palabre_f", cookie)
        assert http.get("/facilitator").status_code == 403
    before = events_dump(server.db)

    async def main() -> None:
        header = f"palabre_p={cookie}"
        assert await handshake_status(server, "facilitator", header) == 403
        assert await handshake_status(server, "screen", header) == 403
        assert await handshake_status(server, "facilitator", f"{header}; palabre_f={cookie}") == 403
        assert await handshake_status(server, "admin", header) == 403
        assert await handshake_status(server, "participant", header) == 101

    run(main())
    phone.http.close()
    assert events_dump(server.db) == before


# -- Origin ---------------------------------------------------------------------------------------
def test_a_socket_from_a_foreign_origin_is_refused_before_accept(server: Server) -> None:
    phone = Client(server, "participant").join("Origines")
    header = phone.cookie_header()
    port, other = server.port, free_port()
    foreign = [
        "null",
        f"http://127.0.0.1:{other}",
        f"https://127.0.0.1:{port}",
        "http://evil.test",
        f"http://127.0.0.1.evil.test:{port}",
        f"http://127.0.0.1:{port}.evil.test",
        f"ws://127.0.0.1:{port}",
    ]
    before = events_dump(server.db)

    async def handshakes() -> None:
        for origin in foreign:
            assert await handshake_status(server, "participant", header, origin) == 403, origin
        assert await handshake_status(server, "participant", header, None) == 403, "no Origin"
        assert await handshake_status(server, "participant", header) == 101
        assert (
            await handshake_status(server, "participant", header, f"http://localhost:{port}") == 101
        )

    run(handshakes())
    assert events_dump(server.db) == before

    async def allowed() -> None:
        # The allowed origin gives a working socket, not just a handshake.
        await phone.connect()
        try:
            ack = await phone.act("post", {"title": "Par la bonne porte"}, step="ideas")
            assert ack["ok"], ack
        finally:
            await phone.close()

    run(allowed())
    assert len(events_dump(server.db)) == len(before) + 1, "only the one posted idea was written"


# -- forged and foreign cookies -------------------------------------------------------------------
def _garble(value: str) -> str:
    middle = len(value) // 2
    return value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]


def test_a_forged_or_garbled_cookie_is_refused(server: Server) -> None:
    facilitator = Client(server, "facilitator").login()
    phone = Client(server, "participant").join("Faussaire")
    f_cookie, p_cookie = facilitator.cookie("palabre_f"), phone.cookie("palabre_p")
    assert f_cookie and p_cookie
    forged_f = [
        _garble(f_cookie),
        f_cookie[:-3],
        f_cookie + "x",
        "",
        "not-a-cookie",
        f_cookie.split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "x" * 600,
    ]
    forged_p = [_garble(p_cookie), p_cookie[:-3], p_cookie.split(".")[0] + ".forged"]
    with _bare(server) as http:
        for value in forged_f:
            http.cookies.clear()
            http.cookies.set("palabre_f", value)
            assert http.get("/facilitator").status_code == 403, value
        for value in forged_p:
            http.cookies.clear()
            http.cookies.set("palabre_p", value)
            response = http.get("/p")
            assert response.status_code == 303, value
            assert response.headers["location"].startswith("/j/"), response.headers

    async def main() -> None:
        for value in forged_f:
            assert await handshake_status(server, "facilitator", f"palabre_f={value}") == 403
        for value in forged_p:
            assert await handshake_status(server, "participant", f"palabre_p={value}") == 403
        assert await handshake_status(server, "facilitator", f"palabre_f={f_cookie}") == 101

    run(main())
    facilitator.http.close()
    phone.http.close()


def test_a_cookie_from_another_workshop_is_refused(server: Server, other_server: Server) -> None:
    facilitator = Client(other_server, "facilitator").login()
    screen = Client(other_server, "screen").login()
    phone = Client(other_server, "participant").join("Voyageur")
    cookies = {
        "palabre_f": facilitator.cookie("palabre_f"),
        "palabre_s": screen.cookie("palabre_s"),
        "palabre_p": phone.cookie("palabre_p"),
    }
    assert all(cookies.values()), cookies
    with _bare(server) as http:
        for name, value in cookies.items():
            http.cookies.set(name, value)
        assert http.get("/facilitator").status_code == 403
        assert http.get("/screen").status_code == 403
        response = http.get("/p")
        assert response.status_code == 303 and response.headers["location"].startswith("/j/")
    # Each is good at home.
    with _bare(other_server) as http:
        for name, value in cookies.items():
            http.cookies.set(name, value)
        assert http.get("/facilitator").status_code == 200
        assert http.get("/p").status_code == 200

    async def main() -> None:
        for audience, name in (
            ("facilitator", "palabre_f"),
            ("screen", "palabre_s"),
            ("participant", "palabre_p"),
        ):
            header = f"{name}={cookies[name]}"
            assert await handshake_status(server, audience, header) == 403, audience
            assert await handshake_status(other_server, audience, header) == 101, audience

    run(main())
    for c in (facilitator, screen, phone):
        c.http.close()


# -- headers and cookies --------------------------------------------------------------------------
def _csp_nonce(response: httpx.Response) -> str:
    csp = response.headers.get("content-security-policy", "")
    match = re.search(r"script-src [^;]*'nonce-([A-Za-z0-9_\-+/=]+)'", csp)
    assert match, (str(response.url), csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    # Only the screen may be framed, and only by our own panel (its preview).
    framing = "'self'" if response.url.path == "/screen" else "'none'"
    assert f"frame-ancestors {framing}" in csp and "default-src 'none'" in csp, csp
    return match.group(1)


def test_pages_carry_a_nonce_csp_and_no_referrer(server: Server) -> None:
    facilitator = Client(server, "facilitator").login()
    screen = Client(server, "screen").login()
    phone = Client(server, "participant").join("Entêtes")
    pages = [
        (facilitator, "/facilitator"),
        (screen, "/screen"),
        (phone, "/p"),
        (phone, f"/j/{server.join_code}"),
        (phone, "/"),
    ]
    try:
        nonces = []
        for client, path in pages:
            response = client.http.get(path)
            assert response.status_code == 200, path
            nonce = _csp_nonce(response)
            assert f'nonce="{nonce}"' in response.text, path
            assert len(re.findall(r"<script\b", response.text)) == len(
                re.findall(r'<script nonce="' + re.escape(nonce) + '"', response.text)
            ), path
            assert response.headers.get("referrer-policy") == "no-referrer", path
            nonces.append(nonce)
        assert len(set(nonces)) == len(nonces), "a nonce was reused"
        # Refusals are pages too.
        with _bare(server) as http:
            refused = http.get("/facilitator")
            assert refused.status_code == 403
            _csp_nonce(refused)
            assert refused.headers.get("referrer-policy") == "no-referrer"
            assert http.get("/-/health").headers.get("referrer-policy") == "no-referrer"
    finally:
        for c in (facilitator, screen, phone):
            c.http.close()


def _set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def _assert_private(set_cookie: str) -> None:
    attributes = [a.strip().lower() for a in set_cookie.split(";")[1:]]
    assert "httponly" in attributes, set_cookie
    assert "samesite=lax" in attributes, set_cookie
    assert "path=/" in attributes, set_cookie


def test_cookies_are_httponly_and_samesite_lax(server: Server) -> None:
    with _bare(server) as http:
        checks = [
            (http.get(server.urls["facilitator"].replace(server.base, "")), "palabre_f"),
            (http.get(server.urls["screen"].replace(server.base, "")), "palabre_s"),
            (http.post(f"/j/{server.join_code}", data={"name": "Biscuit"}), "palabre_p"),
            (http.get("/lang/en?next=/p"), "palabre_lang"),
        ]
    for response, name in checks:
        assert response.status_code == 303, (name, response.status_code)
        cookies = [c for c in _set_cookies(response) if c.startswith(f"{name}=")]
        assert len(cookies) == 1, _set_cookies(response)
        _assert_private(cookies[0])
        # The secret link is swapped for a cookie and a clean address.
        assert response.headers["location"] in ("/facilitator", "/screen", "/p")


# -- secrets in logs ------------------------------------------------------------------------------
def test_the_facilitator_secret_never_reaches_the_log(server: Server) -> None:
    secret = server.urls["facilitator"].rsplit("/", 1)[-1]
    token = server.urls["screen"].rsplit("/", 1)[-1]
    assert len(secret) >= 22  # at least 128 bits of URL-safe base64
    with _bare(server) as http:
        assert http.get(f"/f/{secret}").status_code == 303
        assert http.get(f"/f/{secret}?from=qr").status_code == 303
        assert http.get(f"/f/{secret}/").status_code in (303, 307, 404)
        assert http.get(f"/s/{token}").status_code == 303
        assert http.get("/f/wrong-secret").status_code == 404
        marker = f"/-/health?probe={time.monotonic_ns()}"
        assert http.get(marker).status_code == 200

    async def socket() -> None:
        facilitator = await Client(server, "facilitator").login().connect()
        await facilitator.close()

    run(socket())
    # The access log is written by the server process; wait for the line of our last request.
    deadline = time.monotonic() + 20
    while marker not in "".join(server.later_output) and time.monotonic() < deadline:
        time.sleep(0.05)
    later = "".join(server.later_output)
    assert marker in later, "the access log line never came"
    access = [line for line in later.splitlines() if "/f/" in line or "/s/" in line]
    assert len(access) >= 5, later  # the requests above were logged, redacted
    welcome, _, after_welcome = server.output.partition("Keep the facilitator link")
    assert secret in welcome, "the welcome should print the facilitator link"
    for text in (after_welcome, later):
        assert secret not in text, [line for line in text.splitlines() if secret in line]
        assert token not in text, [line for line in text.splitlines() if token in line]


def test_a_socket_without_a_known_audience_is_refused(server: Server) -> None:
    phone = Client(server, "participant").join("Chemins")
    header = phone.cookie_header()

    async def main() -> list[int]:
        return list(
            await asyncio.gather(
                handshake_status(server, "participant", header, path="/ws"),
                handshake_status(server, "participant", header, path="/ws?as=PARTICIPANT"),
                handshake_status(server, "participant", header, path="/ws?as="),
            )
        )

    statuses = run(main())
    phone.http.close()
    assert statuses == [403, 403, 403]
