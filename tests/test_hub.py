"""The hub renders each changed view once per tick and gives every socket of an audience
the same bytes; a socket that does not read keeps only the newest view of each stream."""

import asyncio
import uuid
from pathlib import Path
from typing import Any

from palabre.engine.auth import Identity
from palabre.engine.hub import Connection
from palabre.engine.kits import load_kit
from palabre.engine.plugins import collect_activities, collect_kits, get_plugin_manager
from palabre.engine.service import Service


class Socket:
    """Stands in for a Starlette WebSocket on the sending side only."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000) -> None:
        pass


def make_service(tmp_path: Path) -> Service:
    pm = get_plugin_manager(load_entry_points=False)
    activities = collect_activities(pm)
    (kit_path,) = [p for p in collect_kits(pm) if p.stem == "quick-start"]
    service = Service(tmp_path / "w.db", load_kit(kit_path, activities), activities, pm,
                      "http://127.0.0.1:9")
    service.hub.pacer.FACTOR, service.hub.pacer.FLOOR = 0, {}  # what is sent, not when
    return service


def connect(service: Service, audience: str, participant: str | None = None) -> Connection:
    conn = Connection(Socket(), audience, "fr", participant)  # type: ignore[arg-type]
    service.hub.add(conn)
    return conn


def act(service: Service, conn: Connection, action: str, data: dict[str, Any]) -> None:
    identity = Identity(service.workshop.id, conn.audience, conn.participant_id)  # type: ignore[arg-type]
    service.submit(conn, identity, {"id": uuid.uuid4().hex, "step": "ideas",
                                    "action": action, "data": data})


def test_a_change_is_rendered_once_per_audience_whatever_the_number_of_sockets(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        service = make_service(tmp_path)
        people = [service.join(f"p{n}", "fr") for n in range(20)]
        phones = [connect(service, "participant", p) for p in people for _ in range(2)]
        screens = [connect(service, "screen") for _ in range(3)]
        connect(service, "facilitator")
        service.commit_tick()
        before = service.hub.renders
        act(service, phones[0], "post", {"title": "Des bancs à l'ombre"})
        service.commit_tick()
        # one render each for participant, screen and facilitator (all in French)
        assert service.hub.renders - before == 3
        shared = {conn.views["shared"] for conn in phones}
        assert len(shared) == 1  # the very same message for 40 sockets
        assert {conn.views["shared"] for conn in screens} == {screens[0].views["shared"]}
        assert "Des bancs à l&#39;ombre" in screens[0].views["shared"]
        service.store.close()

    asyncio.run(scenario())


def test_a_socket_that_does_not_read_keeps_only_the_newest_view(tmp_path: Path) -> None:
    async def scenario() -> None:
        service = make_service(tmp_path)
        author = service.join("a", "fr")
        phone = connect(service, "participant", author)
        slow_screen = connect(service, "screen")
        for n in range(9):  # under the 10-ideas cap
            act(service, phone, "post", {"title": f"Idée numéro {n}"})
            service.commit_tick()
        assert set(slow_screen.views) == {"shared"}  # one pending message, not nine
        assert "Idée numéro 8" in slow_screen.views["shared"]
        sender = asyncio.create_task(slow_screen.run_sender())
        await asyncio.sleep(0.05)
        sender.cancel()
        socket = slow_screen.websocket
        assert len(socket.sent) == 1 and "Idée numéro 8" in socket.sent[0]  # type: ignore[attr-defined]
        service.store.close()

    asyncio.run(scenario())


def test_only_the_participants_an_event_concerns_get_a_new_personal_view(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        service = make_service(tmp_path)
        people = [service.join(f"p{n}", "fr") for n in range(5)]
        phones = [connect(service, "participant", p) for p in people]
        service.commit_tick()
        for phone in phones:
            phone.views.clear()
        act(service, phones[2], "post", {"title": "Un composteur"})
        service.commit_tick()
        with_personal = [n for n, phone in enumerate(phones) if "personal" in phone.views]
        assert with_personal == [2]
        assert all("shared" in phone.views for phone in phones)
        service.store.close()

    asyncio.run(scenario())
