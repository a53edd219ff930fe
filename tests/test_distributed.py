"""One workshop, several processes (issue 9): the writer on PostgreSQL with Redis as its
broker, edge workers holding the sockets, nginx in front as docs/deployment.md section 4
configures it. The same kits, played by turns, write the same log as on the embedded
single process; an edge or the writer killed during a vote loses nothing acknowledged, and
the phones come back.

Needs PALABRE_TEST_POSTGRES, PALABRE_TEST_REDIS and nginx (`.ci/run` provides them)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import websockets
from cluster import Cluster, Redis, require_services
from test_postgres_store import comparable
from turns import ACTIVITIES, Turns

from palabre.engine.record import build_record
from palabre.engine.replay import read_log
from support import Client, Server, close_all, handshake_status, run

CLOCK = {"PALABRE_TEST_CLOCK": "1"}


@pytest.mark.parametrize("kit", ["quick-start", "municipal-hackathon"])
def test_a_kit_plays_identically_embedded_and_on_edge_workers(kit: str, tmp_path: Path) -> None:
    require_services()
    from day import kit_path

    path = str(kit_path(kit))
    embedded = Server(tmp_path / "w.db", kit=path, env=CLOCK).start()
    try:
        cluster = Cluster(tmp_path, kit=path, edges=2, env=CLOCK).start()
    except BaseException:
        embedded.stop()
        raise

    async def side_by_side() -> list[list[bool]]:  # the suite stays short
        alone = Turns(embedded, lambda: read_log(embedded.db)).play()
        spread = Turns(cluster.front, cluster.log).play()
        return list(await asyncio.gather(alone, spread))

    try:
        alone, spread = run(side_by_side(), timeout=300)
    finally:
        embedded.stop()
        cluster.stop()
    assert spread == alone and sum(alone) > 20, (sum(spread), sum(alone))
    on_file = build_record(read_log(embedded.db), ACTIVITIES)
    on_edges = build_record(cluster.log(), ACTIVITIES)
    assert on_edges["status"] == "finished"
    assert comparable(on_edges) == comparable(on_file)


class Voter:
    """A phone as palabre.js behaves: actions with ids, kept until acknowledged, sent again
    with the same ids on a new socket when the old one drops."""

    def __init__(self, client: Client, front: Server, tag: str) -> None:
        self.client, self.front, self.tag = client, front, tag
        self.ok: list[str] = []
        self.refused: list[str] = []
        self.reconnects = 0

    async def vote(self, item: str, count: int) -> None:
        for n in range(count):
            action = "vote" if n % 2 == 0 else "unvote"
            action_id = f"{self.tag}-{n}"
            while True:
                try:
                    await self.client.send(action, {"item": item}, "vote", action_id)
                    await self.client.wait_for(lambda i=action_id: i in self.client.acks, 60)
                    break
                except (ConnectionError, websockets.ConnectionClosed):
                    await self._reconnect()
            (self.ok if self.client.acks[action_id]["ok"] else self.refused).append(action_id)

    async def _reconnect(self) -> None:
        self.reconnects += 1
        for _ in range(120):
            try:
                self.client = await self.client.copy(self.front).connect()
                return
            except Exception:  # refused or 502 while the proxy finds a live edge
                await asyncio.sleep(0.5)
        raise AssertionError("the phone never got back")


async def room_at_the_vote(cluster: Cluster, phones: int) -> tuple[list[Voter], str, Client]:
    front = cluster.front
    facilitator = await Client(front, "facilitator").login().connect()
    clients = [await Client(front, "participant").join(f"P{n}").connect() for n in range(phones)]
    await clients[0].act("post", {"title": "Un composteur collectif"}, step="ideas")
    assert (await facilitator.act("next"))["ok"]
    await clients[0].wait_for(lambda: "data-arg-item" in clients[0].regions.get("personal", ""))
    item = clients[0].regions["personal"].split('data-arg-item="', 1)[1].split('"', 1)[0]
    return [Voter(c, front, f"p{n}") for n, c in enumerate(clients)], item, facilitator


async def some_acknowledged(voters: list[Voter], count: int = 12) -> None:
    """Until COUNT actions in all are acknowledged: a fixed sleep could outlast the vote on
    a fast machine, and then nothing would be killed mid-vote."""
    while acknowledged(voters) < count:
        await asyncio.sleep(0.005)


async def vote_through(
    cluster: Cluster, phones: int, votes: int, disrupt: Callable[[], Awaitable[None]]
) -> tuple[list[Voter], int]:
    """PHONES each send VOTES actions (vote, unvote, vote, …); DISRUPT runs once a dozen
    are acknowledged, mid-vote however fast the machine. Every phone must end showing its
    dots as the log has them. Returns the voters and the acks counted before DISRUPT."""
    voters, item, facilitator = await room_at_the_vote(cluster, phones)
    voting = asyncio.gather(*(v.vote(item, votes) for v in voters))
    await some_acknowledged(voters)
    before = acknowledged(voters)
    await disrupt()
    await asyncio.wait_for(voting, 180)
    left = f"{5 - votes % 2} gommettes"  # an odd count ends on a vote: one dot used
    for voter in voters:  # wherever each phone is now
        await voter.client.send_raw('{"type":"resync"}')
        await voter.client.wait_for(
            lambda v=voter: left in v.client.regions.get("personal", ""), 30
        )
    await close_all(facilitator, *(v.client for v in voters))
    return voters, before


def acknowledged(voters: list[Voter]) -> int:
    return sum(len(v.ok) for v in voters)


def check_nothing_acknowledged_was_lost(cluster: Cluster, voters: list[Voter]) -> None:
    events = cluster.log().events
    by_id = Counter(e.action_id for e in events if e.kind.startswith("dot_voting."))
    for voter in voters:
        assert not voter.refused, voter.refused
        for action_id in voter.ok:
            assert by_id[action_id] == 1, (action_id, by_id[action_id])  # there, and once
    assert sum(by_id.values()) == acknowledged(voters)


def voting_survives(
    cluster: Cluster,
    phones: int,
    votes: int,
    disrupt: Callable[[], Awaitable[None]],
    *,
    phones_move: bool,
) -> list[Voter]:
    """The vote goes through DISRUPT, which struck mid-vote: phones moved to another edge
    (PHONES_MOVE) or kept their sockets, and nothing acknowledged was lost."""
    voters, before = run(vote_through(cluster, phones, votes, disrupt), timeout=300)
    assert 0 < before < acknowledged(voters)  # some acknowledged before, some after
    moved = sum(v.reconnects for v in voters)
    assert moved >= 1 if phones_move else moved == 0, moved
    check_nothing_acknowledged_was_lost(cluster, voters)
    return voters


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
def test_an_edge_killed_during_the_vote_loses_nothing_and_its_phones_move(
    proxy: str, tmp_path: Path
) -> None:
    cluster = Cluster(tmp_path, edges=2, proxy_kind=proxy).start()

    async def kill_an_edge() -> None:
        cluster.edge_workers[0].kill()

    try:
        voting_survives(cluster, 8, 40, kill_an_edge, phones_move=True)  # its phones moved
    finally:
        cluster.stop()


def test_the_writer_killed_during_the_vote_loses_nothing_and_phones_keep_their_sockets(
    tmp_path: Path,
) -> None:
    cluster = Cluster(tmp_path, edges=2, standby=True).start()

    async def kill_the_writer() -> None:
        assert cluster.writer is not None
        cluster.writer.kill()

    try:
        # Some votes were acknowledged by each writer; the edges kept the phones' sockets
        # and sent the unacknowledged votes again.
        voting_survives(cluster, 8, 40, kill_the_writer, phones_move=False)
    finally:
        cluster.stop()


def test_an_edge_guards_its_sockets_as_a_single_server_does(tmp_path: Path) -> None:
    """RELIABILITY rows 1, 2, 8 and 9 at an edge: Origin and cookie checked before accept,
    oversized messages refused, a flooder slowed down then cut off."""
    cluster = Cluster(tmp_path, edges=1).start()
    edge = cluster.edge_workers[0]
    try:
        phone = Client(cluster.front, "participant").join("Awa")
        cookie = phone.cookie_header()
        public = cluster.public

        async def main() -> None:
            assert await handshake_status(edge, "participant", cookie, "https://evil.test") == 403
            assert await handshake_status(edge, "participant", "", public) == 403
            forged = "palabre_p=" + cookie.split("=", 1)[1][:-3] + "AAA"
            assert await handshake_status(edge, "participant", forged, public) == 403
            assert await handshake_status(edge, "facilitator", cookie, public) == 403
            assert await handshake_status(edge, "participant", cookie, public) == 101

            big = await phone.copy().connect()
            await big.send_raw("x" * (64 * 1024 + 1))
            assert await big.closed() == 1009

            flooder = await phone.copy().connect()
            for n in range(300):
                try:
                    await flooder.send("vote", {"item": "none"}, "vote", f"flood-{n}")
                except websockets.ConnectionClosed:
                    break
            code = await flooder.closed()
            codes = Counter(a["error"]["code"] for a in flooder.acks.values() if not a["ok"])
            said = f"close {code}, {n + 1} sent, refusals {dict(codes)}"  # if it fails: why
            assert code == 1008, said
            assert "slow_down" in codes, said
            await close_all(big, flooder)

        run(main())
    finally:
        cluster.stop()


def test_a_writer_or_an_edge_without_its_broker_refuses_to_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    from support import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    cli = [sys.executable, "-m", "palabre.engine.cli"]
    serve = subprocess.run([*cli, "serve", "--db", str(tmp_path / "w.db"), "--broker", dead],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert serve.returncode == 1 and "cannot reach the broker" in serve.stderr, serve.stderr
    assert not (tmp_path / "w.db").exists()  # refused before anything was created
    edge = subprocess.run([*cli, "edge", "--public-url", "http://127.0.0.1:8000"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert edge.returncode == 1 and "needs --broker and --store" in edge.stderr, edge.stderr
    path = subprocess.run([*cli, "serve", "--db", str(tmp_path / "w.db"),
                           "--public-url", "http://127.0.0.1:8000/a b"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert path.returncode == 1 and "may hold only letters" in path.stderr, path.stderr


def test_redis_restarted_during_the_vote_loses_nothing(tmp_path: Path) -> None:
    """The broker keeps nothing: when it comes back, edges say hello again, unacknowledged
    actions are sent again, and every phone is shown the log's state."""
    require_services()
    redis = Redis().start()
    cluster = Cluster(tmp_path, edges=2, redis=redis.url).start()

    async def restart_redis() -> None:
        redis.kill()
        await asyncio.sleep(1.5)
        redis.start()

    try:
        voting_survives(cluster, 6, 41, restart_redis, phones_move=False)
    finally:
        cluster.stop()
        redis.stop()


def test_the_writer_deaf_for_a_moment_hears_again_what_it_missed(tmp_path: Path) -> None:
    """Only the writer's subscription is cut (Redis stays up, the edges' too): what the edges
    publish before it subscribes again is lost to it, since pub/sub keeps nothing. On
    subscribing again it has the edges send their unacknowledged actions again; without
    that, those votes would wait for an ack for ever. (Written, this test found two ways
    they did: redis-py subscribes again by itself, unseen by the engine, and edges ignored
    a request coming within a second of their last answer, the very answer lost.)"""
    import redis

    cluster = Cluster(tmp_path, edges=2).start()
    assert cluster.writer is not None

    def writer_listener() -> dict[str, Any]:
        client = redis.Redis.from_url(cluster.redis)
        try:
            name = f"palabre:{cluster.workshop}:writer:"
            (listener,) = [c for c in client.client_list()
                           if c["name"].startswith(name) and "P" in c["flags"]]  # fmt: skip
            return listener
        finally:
            client.close()

    cut: list[str] = []

    async def cut_the_writer_s_subscription() -> None:
        client = redis.Redis.from_url(cluster.redis)
        try:
            cut.append(writer_listener()["id"])
            client.client_kill_filter(_id=cut[0])
        finally:
            client.close()

    try:
        voting_survives(cluster, 6, 41, cut_the_writer_s_subscription, phones_move=False)
        assert writer_listener()["id"] != cut[0]  # it was cut, and it subscribed again
        assert any("subscription back" in line for line in cluster.writer.later_output)
    finally:
        cluster.stop()


def test_an_edge_paused_past_the_writer_s_patience_comes_back_whole(tmp_path: Path) -> None:
    """An edge frozen (SIGSTOP: a long pause, a network partition) for longer than the
    writer waits for it is forgotten; when it wakes, the writer has it announce its sockets
    again, and its phones, which never lost their sockets, vote on with nothing lost."""
    import signal

    from palabre.engine.broker import EDGE_TIMEOUT_SECONDS

    cluster = Cluster(tmp_path, edges=1).start()
    edge = cluster.edge_workers[0]
    assert edge.proc is not None

    async def pause_the_edge() -> None:
        edge.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
        await asyncio.sleep(EDGE_TIMEOUT_SECONDS + 2.5)
        edge.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]

    try:
        voting_survives(cluster, 4, 21, pause_the_edge, phones_move=False)
        assert any("silent for" in line for line in cluster.writer.later_output)  # type: ignore[union-attr]
    finally:
        if edge.proc.poll() is None:
            edge.proc.send_signal(signal.SIGCONT)
        cluster.stop()
