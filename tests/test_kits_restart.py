"""Every bundled kit resumes exactly after a restart, at every step: the facilitator's panel
and a phone's page are the same before the server stops and after it starts again."""

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from palabre.engine.kits import load_kit
from palabre.engine.plugins import collect_activities, collect_kits, get_plugin_manager
from palabre.engine.simulate import make_phones, play
from support import Client, Server, run

PM = get_plugin_manager()
KITS = sorted(collect_kits(PM), key=lambda p: p.stem)
ACTIVITIES = collect_activities(PM)
# Countdown digits depend on the wall clock, not on the workshop's state.
CLOCK = re.compile(r'(data-(?:deadline|now)="\d+")|(<time[^>]*>[^<]*</time>)')
# Live connection counts depend on when the server notices a socket closed (the facilitator
# of the previous step, a phone's last poll), not on the workshop's state.
PRESENCE = re.compile(r'(data-testid="(?:connected|screens)">)[^<]*')


def stable(html: str) -> str:
    return PRESENCE.sub(r"\1", CLOCK.sub("", html))


async def snapshot(server: Server, phone: Client) -> dict[str, str]:
    facilitator = await Client(server, "facilitator").login().connect()
    viewer = await phone.copy(server).connect()
    await viewer.wait_for(lambda: "personal" in viewer.regions)
    seen = {f"facilitator.{k}": stable(v) for k, v in facilitator.regions.items()}
    seen |= {f"phone.{k}": stable(v) for k, v in viewer.regions.items()}
    await asyncio.gather(facilitator.close(), viewer.close())
    return seen


async def restart_at_every_step(
    kit_path: Path, folder: Path
) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """Plays the kit, stopping and starting its server at every step; returns what the
    panel and a phone showed before and after each restart."""
    kit = load_kit(kit_path, ACTIVITIES)
    db = folder / "w.db"
    server = await asyncio.to_thread(Server(db, kit=str(kit_path)).start)
    seen = []
    try:
        phones = make_phones(server.base, server.join_code, 8, kit.language, kit.tables,
                             seed=3, pace=0.05)
        watcher = Client(server, "participant")
        form = {"name": "Témoin"} | ({"table": "1"} if kit.tables else {})
        await asyncio.to_thread(watcher.http.post, f"/j/{server.join_code}", data=form)
        for index, step in enumerate(kit.steps):
            stop = asyncio.Event()
            playing = asyncio.create_task(play(phones, stop))
            await asyncio.sleep(0.5)  # enough for the phones to act; the suite stays short
            stop.set()
            await asyncio.wait_for(playing, 20)
            before = await snapshot(server, watcher)
            await asyncio.to_thread(server.stop)
            server = await asyncio.to_thread(Server(db, kit=str(kit_path), port=server.port).start)
            for phone in phones:
                phone.base_url = server.base
            seen.append((step.id, before, await snapshot(server, watcher)))
            if index + 1 < len(kit.steps):
                facilitator = await Client(server, "facilitator").login().connect()
                assert (await facilitator.act("next"))["ok"]
                await facilitator.close()
    finally:
        await asyncio.to_thread(server.stop)
    return seen


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every kit played and restarted, side by side (the suite stays short)."""

    async def every_kit() -> list[Any]:
        return await asyncio.gather(
            *(restart_at_every_step(p, tmp_path_factory.mktemp(p.stem)) for p in KITS),
            return_exceptions=True,
        )

    return dict(zip((p.stem for p in KITS), run(every_kit(), timeout=400), strict=True))


@pytest.mark.parametrize("kit", [p.stem for p in KITS])
def test_a_restart_at_any_step_resumes_the_workshop_exactly(
    restarted: dict[str, Any], kit: str
) -> None:
    outcome = restarted[kit]
    if isinstance(outcome, BaseException):
        raise outcome
    assert len(outcome) == len(load_kit(next(p for p in KITS if p.stem == kit), ACTIVITIES).steps)
    for step, before, after in outcome:
        assert after == before, f"step {step} did not resume identically"
