"""A finished or running workshop can be rebuilt read-only from its file."""

import asyncio
from pathlib import Path

from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.replay import load_workshop
from support import Client, Server, run


def test_the_outputs_of_each_step_can_be_rebuilt_from_the_file_of_a_running_server(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "w.db").start()

    async def main() -> None:
        phone = await Client(server, "participant").join("Awa").connect()
        for title in ("Un composteur collectif", "Des bancs à l'ombre"):
            assert (await phone.act("post", {"title": title}, step="ideas"))["ok"]
        facilitator = await Client(server, "facilitator").login().connect()
        assert (await facilitator.act("next"))["ok"]
        await phone.wait_for(lambda: "data-arg-item" in phone.regions.get("personal", ""))
        item = phone.regions["personal"].split('data-arg-item="', 1)[1].split('"', 1)[0]
        assert (await phone.act("vote", {"item": item}, step="vote"))["ok"]
        await asyncio.gather(phone.close(), facilitator.close())

    try:
        run(main())
        workshop = load_workshop(server.db, collect_activities(get_plugin_manager()))
        assert workshop.current_step.step.id == "vote"
        ideas = workshop.step_by_id("ideas")
        vote = workshop.step_by_id("vote")
        assert ideas is not None and vote is not None
        titles = {i.title for i in ideas.activity.outputs(ideas.state)}
        assert titles == {"Un composteur collectif", "Des bancs à l'ombre"}
        ranked = vote.activity.outputs(vote.state)
        assert ranked[0].score == 1.0 and ranked[1].score == 0.0
        assert len(workshop.roster) == 1
    finally:
        server.stop()
