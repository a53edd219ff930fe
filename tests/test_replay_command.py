"""`palabre replay DB` (issue 8): a past workshop served read-only, stepped from the panel.
The facilitator moves between steps and sees each as it ended; nobody can join or act; the
day's file is not changed, and the day's facilitator link opens nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from support import Client, Server, close_all, run


class Replay(Server):
    def command(self) -> list[str]:
        return [*super().command()[:3], "replay", str(self.db), "--host", "127.0.0.1",
                "--port", str(self.port), "--public-url", self.base]  # fmt: skip


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_replay_steps_through_the_day_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "day.db"
    day = Server(db).start()
    titles = ["Un composteur collectif", "Des bancs à l’ombre"]

    async def the_day() -> None:
        phone = await Client(day, "participant").join("Awa").connect()
        for title in titles:
            assert (await phone.act("post", {"title": title}, step="ideas"))["ok"]
        facilitator = await Client(day, "facilitator").login().connect()
        assert (await facilitator.act("next"))["ok"]
        await close_all(phone, facilitator)

    try:
        run(the_day())
    finally:
        day.stop()
    before = digest(db)
    replay = Replay(db).start()

    async def the_replay() -> None:
        facilitator = await Client(replay, "facilitator").login().connect()
        assert 'data-arg-step="vote"' in facilitator.regions["chrome"]
        assert (await facilitator.act("goto", {"step": "ideas"}))["ok"]
        await facilitator.wait_for(lambda: titles[0] in facilitator.regions["main"])
        refused = await facilitator.act("close", step="ideas")
        assert refused["error"]["code"] == "read_only"
        refused = await facilitator.act("set_next_steps", {"text": "Rien"})
        assert refused["error"]["code"] == "read_only"
        assert (await facilitator.act("next"))["ok"]
        await facilitator.close()

    try:
        assert replay.urls["facilitator"] != day.urls["facilitator"]  # new links
        run(the_replay())
        with httpx.Client(base_url=replay.base, timeout=20) as http:
            joined = http.post(f"/j/{replay.join_code}", data={"name": "Intrus"})
            assert joined.status_code == 403
            assert "C’est la rediffusion d’un atelier passé" in joined.text  # the kit is French
            old_link = day.urls["facilitator"].replace(day.base, replay.base)
            assert http.get(old_link).status_code == 404
    finally:
        replay.stop()
    assert digest(db) == before, "the replay wrote to the day's file"


def test_replay_refuses_a_file_that_is_not_a_workshop(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "palabre.engine.cli", "replay", str(tmp_path / "none.db")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "no such file" in done.stderr
