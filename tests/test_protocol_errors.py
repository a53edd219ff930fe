"""Bad messages get a clear answer and leave the socket usable; oversized ones close it."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from support import (
    Client,
    Server,
    close_all,
    events_dump,
    eventually,
    run,
)

MAX_MESSAGE = 64 * 1024


@pytest.fixture(scope="module")
def server(module_servers: Any) -> Server:
    started: Server = module_servers("protocol")  # stays on its first step, "ideas"
    return started


async def phone(server: Server) -> Client:
    return await Client(server, "participant").join("Protocole").connect()


async def assert_usable(client: Client) -> None:
    """The socket still takes actions after the bad message."""
    ack = await client.act(
        "post", {"title": f"Toujours utilisable {uuid.uuid4().hex[:8]}"}, step="ideas"
    )
    assert ack["ok"], ack
    assert client.ws.close_code is None


def assert_clear(error: dict[str, Any], code: str) -> None:
    assert error["code"] == code, error
    message = error["message"]
    assert isinstance(message, str) and len(message) >= 10, error
    assert "Traceback" not in message and "Error" not in message, error


def act(**fields: Any) -> str:
    return json.dumps({"type": "act", **fields})


# Messages that are not well-formed acts: answered with {"type": "error"}.
NOT_ACTS = [
    ("malformed JSON", '{"type": "act", "id": ', "bad_message"),
    ("empty text", "", "bad_message"),
    ("a JSON list", '[{"type": "act"}]', "bad_message"),
    ("a JSON string", '"act"', "bad_message"),
    ("a JSON number", "42", "bad_message"),
    ("JSON null", "null", "bad_message"),
    ("an object without type", '{"id": "x", "action": "post"}', "bad_message"),
    ("a type that is not text", '{"type": 7}', "bad_message"),
    ("deeply nested JSON", "[" * 30000 + "]" * 30000, "bad_message"),
    ("an unknown type", '{"type": "subscribe"}', "unknown_type"),
    ("act without id", act(step="ideas", action="post", data={"title": "x"}), "bad_message"),
    ("act with an empty id", act(id="", step="ideas", action="post", data={}), "bad_message"),
    ("act with a number as id", act(id=7, step="ideas", action="post", data={}), "bad_message"),
    (
        "act with a 65-character id",
        act(id="i" * 65, step="ideas", action="post", data={}),
        "bad_message",
    ),
    (
        "act with a lone surrogate as id",
        '{"type": "act", "id": "\\ud800", "step": "ideas", "action": "post", "data": {}}',
        "bad_message",
    ),
]


@pytest.mark.parametrize(("label", "raw", "code"), NOT_ACTS, ids=[c[0] for c in NOT_ACTS])
def test_a_message_that_is_not_a_valid_act_gets_a_clear_error(
    server: Server, label: str, raw: str, code: str
) -> None:
    async def main() -> None:
        client = await phone(server)
        try:
            before = events_dump(server.db)
            await client.send_raw(raw)
            await eventually(client, lambda: client.errors, f"an error for {label}")
            assert len(client.errors) == 1
            assert_clear(client.errors[0]["error"], code)
            assert not client.acks
            assert events_dump(server.db) == before
            await assert_usable(client)
        finally:
            await client.close()

    run(main())


# Acts with a usable id: answered with an ack refusing them, under that id.
REFUSED_ACTS = [
    (
        "data that is not an object",
        {"step": "ideas", "action": "post", "data": ["x"]},
        {"bad_message"},
    ),
    ("no action", {"step": "ideas", "data": {}}, {"bad_message"}),
    (
        "an unknown action on the current step",
        {"step": "ideas", "action": "dance", "data": {}},
        {"unknown_action"},
    ),
    (
        "an unknown workshop action",
        {"step": None, "action": "dance", "data": {}},
        {"unknown_action"},
    ),
    (
        "another activity's action",
        {"step": "ideas", "action": "vote", "data": {"item": "x"}},
        {"unknown_action"},
    ),
    (
        "a step that is not current",
        {"step": "vote", "action": "vote", "data": {"item": "x"}},
        {"step_over"},
    ),
    (
        "a step that does not exist",
        {"step": "nope", "action": "post", "data": {"title": "x"}},
        {"step_over", "unknown_step"},
    ),
    (
        "a title with a lone surrogate",
        {"step": "ideas", "action": "post", "data": {"title": "\ud800 jardin"}},
        {"invalid_text"},
    ),
    (
        "a title that is not text",
        {"step": "ideas", "action": "post", "data": {"title": ["x"]}},
        {"invalid_text"},
    ),
]


@pytest.mark.parametrize(
    ("label", "fields", "codes"), REFUSED_ACTS, ids=[c[0] for c in REFUSED_ACTS]
)
def test_an_act_that_cannot_be_done_is_refused_in_its_ack(
    server: Server, label: str, fields: dict[str, Any], codes: set[str]
) -> None:
    async def main() -> None:
        client = await phone(server)
        try:
            before = events_dump(server.db)
            action_id = uuid.uuid4().hex
            # ensure_ascii keeps a lone surrogate as the JSON escape "\ud800".
            await client.send_raw(json.dumps({"type": "act", "id": action_id, **fields}))
            await eventually(client, lambda: action_id in client.acks, f"an ack for {label}")
            ack = client.acks[action_id]
            assert ack["ok"] is False, ack
            assert ack["error"]["code"] in codes, ack
            assert_clear(ack["error"], ack["error"]["code"])
            assert events_dump(server.db) == before
            await assert_usable(client)
        finally:
            await client.close()

    run(main())


def _padded_act(size: int) -> str:
    """An act of exactly `size` bytes (a far too long title)."""
    empty = act(id="big", step="ideas", action="post", data={"title": ""})
    text = act(
        id="big", step="ideas", action="post", data={"title": "x" * (size - len(empty.encode()))}
    )
    assert len(text.encode()) == size
    return text


def test_a_message_of_64_kib_is_read_and_one_byte_more_closes_the_socket_with_1009(
    server: Server,
) -> None:
    async def main() -> None:
        client = await phone(server)
        try:
            await client.send_raw(_padded_act(MAX_MESSAGE))
            await eventually(client, lambda: "big" in client.acks, "an ack for 64 KiB")
            assert client.acks["big"]["error"]["code"] == "too_long", client.acks["big"]
            await assert_usable(client)

            await client.send_raw(_padded_act(MAX_MESSAGE + 1))
            assert await client.closed() == 1009
        finally:
            await client.close()
        # Another socket of the same phone is unaffected.
        again = await client.copy().connect()
        try:
            await assert_usable(again)
        finally:
            await again.close()

    run(main())


def test_a_binary_frame_gets_a_clear_answer_not_a_crash(server: Server) -> None:
    async def main() -> None:
        client = await phone(server)
        try:
            await client.send_raw(json.dumps({"type": "ping"}).encode())
            await client.wait_for(lambda: client.errors or client.ws.close_code is not None)
            if client.ws.close_code is not None:
                # Refusing binary frames is fine, if it is a proper close (1003: unsupported).
                assert client.ws.close_code == 1003, client.ws.close_code
            else:
                assert_clear(client.errors[0]["error"], "bad_message")
                await assert_usable(client)
        except ConnectionError:
            assert client.ws.close_code == 1003, client.ws.close_code
        finally:
            await client.close()

    run(main())


def test_a_burst_beyond_the_rate_limit_is_told_to_slow_down_and_stays_usable(
    server: Server,
) -> None:
    async def main() -> None:
        client = await phone(server)
        try:
            for _ in range(60):  # 40 fit in the burst allowance, 20 do not
                await client.send_raw('{"type": "ping"}')
            await eventually(
                client,
                lambda: client.pongs + len(client.errors) == 60,
                "an answer to each of the 60 pings",
            )
            assert client.pongs >= 40, client.pongs
            assert client.errors, "no slow_down for 60 messages at once"
            for error in client.errors:
                assert_clear(error["error"], "slow_down")
            # The allowance refills at 20 messages a second: a phone that waits a moment is
            # served again on the same socket.
            await asyncio.sleep(0.25)
            await assert_usable(client)
        finally:
            await client.close()

    run(main())


def test_a_flood_is_cut_off_with_1008_and_nobody_else_notices(server: Server) -> None:
    async def main() -> None:
        client = await phone(server)
        others = await phone(server)
        try:
            for _ in range(150):  # 40 allowed, then 50 refusals close the socket
                await client.send_raw('{"type": "ping"}')
            assert await client.closed() == 1008
            assert {e["error"]["code"] for e in client.errors} <= {"slow_down"}, client.errors
            await assert_usable(others)
        finally:
            await close_all(client, others)

    run(main())
