"""Playing a whole day against a real server: simulated phones do what participants do, and
a scripted facilitator does, step by step, what the kit's guide tells the facilitator to do.

The facilitator's moves per activity are here (`PLAYBOOKS`); a kit's test chains them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from palabre.engine import Item
from palabre.engine.kits import Kit, load_kit
from palabre.engine.plugins import collect_activities, collect_kits, get_plugin_manager
from palabre.engine.replay import load_workshop
from palabre.engine.simulate import SimulatedPhone, make_phones, play
from palabre.engine.workshop import StepRuntime, Workshop
from support import Client, Server

PM = get_plugin_manager()
ACTIVITIES = collect_activities(PM)


def kit_path(name: str) -> Path:
    return next(p for p in collect_kits(PM) if p.stem == name)


@dataclass
class Day:
    server: Server
    kit: Kit
    phones: list[SimulatedPhone]
    facilitator: Client
    jurors: list[Client] = field(default_factory=list)

    # -- reading the log ---------------------------------------------------------------
    def workshop(self) -> Workshop:
        return load_workshop(self.server.db, ACTIVITIES)

    def runtime(self, step_id: str) -> StepRuntime:
        runtime = self.workshop().step_by_id(step_id)
        assert runtime is not None and runtime.opened, step_id
        return runtime

    def outputs(self, step_id: str) -> list[Item]:
        runtime = self.runtime(step_id)
        return runtime.activity.outputs(runtime.state)

    def count(self, kind: str) -> int:
        workshop_file = self.server.db
        import sqlite3

        conn = sqlite3.connect(f"file:{workshop_file}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM events WHERE kind = ?",
                                    (kind,)).fetchone()[0])
        finally:
            conn.close()

    # -- acting ------------------------------------------------------------------------
    async def act(self, action: str, data: dict[str, Any] | None = None,
                  step: str | None = None) -> dict[str, Any]:
        ack = await self.facilitator.act(action, data or {}, step)
        assert ack["ok"], (action, data, ack)
        return ack

    async def next_step(self) -> None:
        await self.act("next")

    async def play_until(self, done: Callable[[], bool], limit: float = 60.0) -> None:
        """Let the phones play until `done()` holds (checked on the log), at most `limit` s."""
        stop = asyncio.Event()
        task = asyncio.create_task(play(self.phones, stop))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        try:
            while not done():
                assert loop.time() < deadline, "the simulated room did not get there in time"
                assert not task.done(), task.exception()
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)

    def advance_clock(self, seconds: float) -> None:
        cookies = {c.name: c.value for c in self.facilitator.http.cookies.jar}
        response = httpx.post(f"{self.server.base}/-/test/clock?seconds={seconds}",
                              cookies=cookies, timeout=20)
        assert response.status_code == 200, response.text

    async def add_jurors(self, names: list[str]) -> None:
        for name in names:
            juror = Client(self.server, "participant")
            response = juror.http.post(self.server.urls["jury"], data={"name": name})
            assert response.status_code == 200, response.text
            self.jurors.append(await juror.connect())


async def open_day(server: Server, kit: Kit, participants: int, pace: float = 0.3) -> Day:
    phones = make_phones(server.base, server.join_code, participants, kit.language,
                         kit.tables, seed=11, pace=pace)
    for phone in phones:
        await phone.join()
    facilitator = await Client(server, "facilitator").login().connect()
    return Day(server, kit, phones, facilitator)


def start_day_server(tmp_path: Path, kit_name: str) -> tuple[Server, Kit]:
    path = kit_path(kit_name)
    kit = load_kit(path, ACTIVITIES)
    return Server(tmp_path / "day.db", kit=str(path)).start(), kit


# -- what the facilitator does, per activity ------------------------------------------
async def run_pitches(day: Day, step: str) -> None:
    """Every team or project pitches, each a little over time on the server's clock."""
    queue = day.runtime(step).activity.outputs(day.runtime(step).state)
    for n, _ in enumerate(queue):
        await day.act("start", step=step)
        day.advance_clock(185)  # three minutes and five seconds: a small overrun
        await day.act("done", step=step)
        if day.runtime(step).activity.config.questions_seconds:  # type: ignore[attr-defined]
            await day.act("done", step=step)
        if n + 1 < len(queue):
            await day.act("next", step=step)


async def jurors_score(day: Day, step: str, seed: int = 5) -> None:
    """Each juror scores every project on every criterion (a fixed, varied pattern)."""
    runtime = day.runtime(step)
    config: Any = runtime.activity.config
    projects = [item.id for item in runtime.activity.outputs(runtime.state)]
    assert projects, "nothing to score"
    span = config.scale_max - config.scale_min + 1
    for j, juror in enumerate(day.jurors):
        for p, project in enumerate(projects):
            for c, criterion in enumerate(config.criteria):
                value = config.scale_min + (seed * (j + 1) + 3 * p + c) % span
                data = {"item": project, "criterion": criterion.id, "score": str(value)}
                ack = await juror.act("score", data, step)
                while not ack["ok"] and ack["error"]["code"] == "slow_down":
                    await asyncio.sleep(0.5)  # a person taps a few times a second at most
                    ack = await juror.act("score", data, step)
                assert ack["ok"], ack


Playbook = Callable[[Day, str], Awaitable[None]]
