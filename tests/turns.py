"""A whole kit played by turns, the same way every time, against any setup: the embedded
single process or the writer with edge workers behind a proxy (issue 9: "the same kit plays
identically").

Phones act one at a time. Each turn, the phone's controls are read from its view rendered
from the workshop's log as it stands (so what a phone sees never depends on when a socket
update arrived), one is chosen with the phone's seeded random generator and sent over the
phone's real socket; the next turn waits for its ack. The facilitator moves each step
along as the kit's guide says, per activity. Two setups playing the same kit with the same
seed must then write the same log, clock readings and random ids aside."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx

from palabre.engine.events import Log
from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.render import Renderer
from palabre.engine.replay import rebuild
from palabre.engine.simulate import SimulatedPhone, make_phones
from palabre.engine.views import JoinInfo, Views
from palabre.engine.workshop import Workshop
from support import Client, Server, close_all

PM = get_plugin_manager()
ACTIVITIES = collect_activities(PM)
RENDERER = Renderer(ACTIVITIES, PM)
ROUNDS = 3  # turns per phone per step
PITCH_SECONDS = 185  # each pitch three minutes and five seconds, on the server's clock


class Turns:
    def __init__(self, front: Server, read_log: Callable[[], Log], phones: int = 8,
                 jurors: int = 2, seed: int = 7) -> None:  # fmt: skip
        self.front = front
        self.read_log = read_log
        self.count = phones
        self.juror_count = jurors
        self.seed = seed
        self.phones: list[tuple[SimulatedPhone, Client, str]] = []
        self.jurors: list[Client] = []
        self.facilitator: Client | None = None
        self.acks: list[bool] = []  # every phone and facilitator ack, in order

    def workshop(self) -> Workshop:
        return rebuild(self.read_log(), ACTIVITIES)

    # -- the day -------------------------------------------------------------------------
    async def play(self) -> list[bool]:
        workshop = self.workshop()
        kit = workshop.kit
        sims = make_phones(self.front.base, self.front.join_code, self.count, kit.language,
                           kit.tables, seed=self.seed)  # fmt: skip
        for sim in sims:
            await sim.join()  # one at a time: participants join in the same order
            pid = self._last_joined()
            client = Client(self.front, "participant")
            client.http.cookies.set(*sim.cookie.split("=", 1))
            self.phones.append((sim, await client.connect(), pid))
        self.facilitator = await Client(self.front, "facilitator").login().connect()
        try:
            for n in range(len(kit.steps)):
                step = self.workshop().current_step
                await self._before(step.activity.slug, step.step.id)
                for _ in range(ROUNDS):
                    for sim, client, pid in self.phones:
                        await self._turn(sim, client, pid)
                await self._after(step.activity.slug, step.step.id)
                if n + 1 < len(kit.steps):
                    await self._move("next")
        finally:
            await close_all(self.facilitator, *self.jurors, *(c for _, c, _ in self.phones))
        return self.acks

    def _last_joined(self) -> str:
        joined = [e for e in self.read_log().events if e.kind == "participant.joined"]
        return str(joined[-1].data["participant"])

    async def _turn(self, sim: SimulatedPhone, client: Client, pid: str) -> None:
        workshop = self.workshop()
        views = Views(workshop, RENDERER, JoinInfo("", "", "", ""))
        regions = views.shared("participant", sim.lang) | views.personal(pid, sim.lang)
        chosen = sim.choose(regions)
        if chosen is None:
            return
        control, data = chosen
        ack = await client.act(control.action, data, control.step)
        self.acks.append(bool(ack["ok"]))

    async def _move(self, action: str, data: dict[str, Any] | None = None,
                    step: str | None = None) -> bool:  # fmt: skip
        assert self.facilitator is not None
        ack = await self.facilitator.act(action, data or {}, step)
        self.acks.append(bool(ack["ok"]))
        return bool(ack["ok"])

    # -- the facilitator, per activity ---------------------------------------------------
    async def _before(self, slug: str, step: str) -> None:
        if slug == "axes":
            by_theme: dict[str, list[str]] = defaultdict(list)
            for item in self._outputs_before(step):
                by_theme[item.group].append(item.id)
            for n, (theme, ids) in enumerate(sorted(by_theme.items())):
                for half, part in enumerate((ids[::2], ids[1::2])):
                    if part:
                        data = {"name": f"Axe {n + 1}.{half + 1}", "theme": theme,
                                "items": " ".join(part)}  # fmt: skip
                        await self._move("create", data, step)
            await self._move("open_vote", step=step)
        elif slug == "jury":
            await self._jury(step)

    async def _after(self, slug: str, step: str) -> None:
        if slug == "diagnosis":
            await self._move("close", step=step)
        elif slug == "axes":
            await self._move("close_vote", step=step)
        elif slug == "dot_voting":
            await self._move("close", step=step)
            await self._move("reveal", step=step)
        elif slug == "teams":
            await self._move("assign", step=step) or await self._move("close", step=step)
        elif slug == "pitches":
            await self._pitches(step)
        elif slug == "jury":
            await self._move("close", step=step)
            await self._move("reveal", step=step)
        elif slug == "results":
            await self._awards(step)

    def _outputs_before(self, step: str) -> list[Any]:
        """What the step's source step produced (its `from`)."""
        workshop = self.workshop()
        runtime = workshop.step_by_id(step)
        assert runtime is not None and runtime.step.source
        source = workshop.step_by_id(runtime.step.source)
        assert source is not None
        return list(source.activity.outputs(source.state))

    async def _pitches(self, step: str) -> None:
        runtime = self.workshop().step_by_id(step)
        assert runtime is not None
        queue = runtime.activity.outputs(runtime.state)
        for n, _ in enumerate(queue):
            await self._move("start", step=step)
            self._advance_clock(PITCH_SECONDS)
            await self._move("done", step=step)
            if runtime.activity.config.questions_seconds:  # type: ignore[attr-defined]
                await self._move("done", step=step)
            if n + 1 < len(queue):
                await self._move("next", step=step)

    def _advance_clock(self, seconds: float) -> None:
        assert self.facilitator is not None
        cookies = {c.name: c.value for c in self.facilitator.http.cookies.jar}
        response = httpx.post(f"{self.front.base}/-/test/clock?seconds={seconds}",
                              cookies=cookies, timeout=20)  # fmt: skip
        assert response.status_code == 200, response.text

    async def _jury(self, step: str) -> None:
        for n in range(self.juror_count):
            juror = Client(self.front, "participant")
            response = juror.http.post(self.front.urls["jury"], data={"name": f"Juré {n + 1}"})
            assert response.status_code == 200, response.text
            self.jurors.append(await juror.connect())
        runtime = self.workshop().step_by_id(step)
        assert runtime is not None
        config: Any = runtime.activity.config
        projects = [item.id for item in runtime.activity.outputs(runtime.state)]
        span = config.scale_max - config.scale_min + 1
        for j, juror in enumerate(self.jurors):
            for p, project in enumerate(projects):
                for c, criterion in enumerate(config.criteria):
                    value = config.scale_min + (5 * (j + 1) + 3 * p + c) % span
                    data = {"item": project, "criterion": criterion.id, "score": str(value)}
                    ack = await juror.act("score", data, step)
                    self.acks.append(bool(ack["ok"]))

    async def _awards(self, step: str) -> None:
        runtime = self.workshop().step_by_id(step)
        assert runtime is not None
        config: Any = runtime.activity.config
        ranked = self._outputs_before(step)
        for project, award in zip(ranked, config.awards, strict=False):
            await self._move("give_award", {"item": project.id, "award": award.id}, step)
        while await self._move("publish", step=step):
            pass
