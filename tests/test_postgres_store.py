"""Workers sharing PostgreSQL (issue 9, first part): the same workshop played on the embedded
SQLite file and on PostgreSQL gives the same record; several workshops live in one
database, each owned by one worker at a time; a standby worker takes a workshop over within
seconds of its owner being killed, with every acknowledged action there.

Needs a real PostgreSQL: PALABRE_TEST_POSTGRES=postgresql://user:password@127.0.0.1/db
(`.ci/run` installs Debian's package, starts it on loopback and sets it)."""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from palabre.engine.pg_store import read_postgres_log
from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.record import build_record
from palabre.engine.replay import read_log
from support import Client, Server, close_all, run

URL = os.environ.get("PALABRE_TEST_POSTGRES", "")
ACTIVITIES = collect_activities(get_plugin_manager())
IDEAS = ["Un composteur collectif", "Des bancs à l’ombre", "Une fête des voisins"]


@pytest.fixture(autouse=True)
def postgres() -> None:
    if URL:
        return
    if os.environ.get("PALABRE_REQUIRE_SERVICES") == "1":
        pytest.fail("PALABRE_TEST_POSTGRES is not set: .ci/run starts PostgreSQL and sets it")
    pytest.skip("no PostgreSQL (set PALABRE_TEST_POSTGRES=postgresql://…)")


def on_postgres(tmp_path: Path, workshop: str, *extra: str) -> Server:
    return Server(tmp_path / "unused.db", args=["--store", URL, "--workshop", workshop, *extra])


def fresh_name() -> str:
    return "test-" + secrets.token_hex(6)  # each test its own workshops in the shared database


async def play(server: Server, keep: list[Client] | None = None) -> int:
    """Ideas posted, the vote opened, dots given: returns the actions acknowledged (and puts
    the phone in KEEP, to come back later)."""
    phone = await Client(server, "participant").join("Awa").connect()
    facilitator = await Client(server, "facilitator").login().connect()
    acked = 0
    try:
        for title in IDEAS:
            acked += (await phone.act("post", {"title": title}, step="ideas"))["ok"]
        acked += (await facilitator.act("next"))["ok"]
        await phone.wait_for(lambda: "data-arg-item" in phone.regions.get("personal", ""))
        item = phone.regions["personal"].split('data-arg-item="', 1)[1].split('"', 1)[0]
        for _ in range(2):
            acked += (await phone.act("vote", {"item": item}, step="vote"))["ok"]
    finally:
        await close_all(phone, facilitator)
    if keep is not None:
        keep.append(phone)
    return acked


TIMES = {"generated_at", "started_at", "ended_at", "last_event_at", "minutes"}
RANDOM_ID = re.compile(r"^[0-9a-f]{12}$")  # a post's id, drawn when it is posted


def comparable(record: dict[str, Any]) -> Any:
    """The record without what two runs never share: clock readings, and the random ids
    of posts (numbered instead in the order they appear, the same in both runs)."""
    numbers: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {walk(k): walk(v) for k, v in value.items() if k not in TIMES}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and RANDOM_ID.match(value):
            return numbers.setdefault(value, f"id-{len(numbers) + 1}")
        return value

    return walk(record)


def test_the_same_workshop_gives_the_same_record_on_sqlite_and_on_postgresql(
    tmp_path: Path,
) -> None:
    embedded = Server(tmp_path / "w.db").start()
    try:
        assert run(play(embedded)) == 6
    finally:
        embedded.stop()
    name = fresh_name()
    shared = on_postgres(tmp_path, name).start()
    try:
        assert "palabre:…@" in shared.output or "@" not in URL  # the password is not printed
        assert run(play(shared)) == 6
    finally:
        shared.stop()
    on_file = build_record(read_log(embedded.db), ACTIVITIES)
    in_database = build_record(read_postgres_log(URL, name), ACTIVITIES)
    assert comparable(in_database) == comparable(on_file)
    ideas = [i["title"] for i in in_database["steps"][0]["results"]["outputs"]]
    assert sorted(ideas) == sorted(IDEAS)


def test_two_workshops_share_a_database_and_each_has_one_worker(tmp_path: Path) -> None:
    first, second = fresh_name(), fresh_name()
    a = on_postgres(tmp_path, first).start()
    b = on_postgres(tmp_path, second).start()
    try:
        assert a.join_code != b.join_code
        rival = on_postgres(tmp_path, first)
        with pytest.raises(RuntimeError):
            rival.start()
        assert rival.proc is not None and rival.proc.wait(timeout=30) == 1
        assert "Another Palabre worker owns the workshop" in rival.output
        assert run(play(a)) == 6
    finally:
        a.stop()
        b.stop()
    assert len(read_postgres_log(URL, first).events) > len(read_postgres_log(URL, second).events)


def test_a_standby_worker_takes_the_workshop_over_with_every_acknowledged_action(
    tmp_path: Path,
) -> None:
    name = fresh_name()
    owner = on_postgres(tmp_path, name).start()
    standby = on_postgres(tmp_path, name, "--wait-for-lock", "120")
    started: dict[str, Any] = {}

    def start_standby() -> None:
        try:
            standby.start(timeout=150)
        except Exception as exc:  # reported by the assertion below
            started["error"] = exc

    waiting = threading.Thread(target=start_standby, daemon=True)
    try:
        phones: list[Client] = []
        acked = run(play(owner, phones))
        waiting.start()
        time.sleep(1.0)  # the standby is polling for the lock
        assert standby.proc is not None and standby.proc.poll() is None
        killed = time.monotonic()
        owner.kill()  # SIGKILL: no goodbye; PostgreSQL releases the lock with the session
        waiting.join(timeout=150)
        took_over = time.monotonic() - killed
        assert "error" not in started, started.get("error")
        assert took_over < 30, f"the standby took {took_over:.1f} s to take over"
        log = read_postgres_log(URL, name)
        acknowledged = [e for e in log.events if e.action_id and e.actor != ""]
        assert len(acknowledged) >= acked
        record = build_record(log, ACTIVITIES)
        assert sorted(i["title"] for i in record["steps"][0]["results"]["outputs"]) == sorted(IDEAS)
        # The phone comes back to the new worker as the same person and finds its dots.
        assert run(_back_on(standby, phones[0])) == 2
    finally:
        owner.stop()
        standby.stop()


async def _back_on(server: Server, phone: Client) -> int:
    """The dots this phone has given, as the new worker shows them to it."""
    again = await phone.copy(server).connect()
    try:
        await again.wait_for(lambda: "data-arg-item" in again.regions.get("personal", ""))
        item = again.regions["personal"].split('data-arg-item="', 1)[1].split('"', 1)[0]
        ack = await again.act("unvote", {"item": item}, step="vote")
        assert ack["ok"], ack  # it had dots to take back: the same person, on the same step
        return 1 + int((await again.act("unvote", {"item": item}, step="vote"))["ok"])
    finally:
        await again.close()
