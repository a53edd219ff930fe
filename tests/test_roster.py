"""People at tables: participants give their table and may captain it; jurors join with
their own link; the facilitator can re-seat people and designate captains."""

from pathlib import Path

import httpx

from support import Client, Server, read_events, run

KIT = """
[workshop]
title = "Hackathon des quartiers"
tables = 3

[[steps]]
id = "ideas"
activity = "ideation"
title = "Idées"

[[steps]]
id = "vote"
activity = "dot_voting"
title = "Vote"
from = "ideas"
"""


def tables_kit(tmp_path: Path) -> str:
    path = tmp_path / "tables.toml"
    path.write_text(KIT, encoding="utf-8")
    return str(path)


def join(server: Server, **form: str) -> httpx.Response:
    with httpx.Client(base_url=server.base, timeout=20) as http:
        return http.post(f"/j/{server.join_code}", data=form)


def test_a_participant_joins_at_a_table_and_one_captain_per_table(tmp_path: Path) -> None:
    server = Server(tmp_path / "w.db", kit=tables_kit(tmp_path)).start()
    try:
        page = httpx.get(f"{server.base}/j/{server.join_code}", timeout=20).text
        assert 'name="table"' in page and '<option value="3"' in page
        assert join(server, name="Awa", table="2", captain="on").status_code == 303
        second = join(server, name="Bruno", table="2", captain="on")
        assert second.status_code == 400
        assert "La table 2 a déjà un ou une capitaine." in second.text
        assert join(server, name="Bruno", table="2").status_code == 303
        assert join(server, name="Chloé").status_code == 400  # no table chosen
        assert join(server, name="Chloé", table="9").status_code == 400  # no such table
        joined = [e["data"] for e in read_events(server.db) if e["kind"] == "participant.joined"]
        assert [(d["name"], d["table"], d["captain"]) for d in joined] == [
            ("Awa", 2, True), ("Bruno", 2, False)]
    finally:
        server.stop()


def test_the_facilitator_designates_another_captain_and_the_previous_one_steps_down(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "w.db", kit=tables_kit(tmp_path)).start()

    async def main() -> None:
        join(server, name="Awa", table="1", captain="on")
        join(server, name="Bruno", table="1")
        people = {e["data"]["name"]: e["data"]["participant"] for e in read_events(server.db)
                  if e["kind"] == "participant.joined"}
        facilitator = await Client(server, "facilitator").login().connect()
        chrome = facilitator.regions["chrome"]
        assert "Bruno" in chrome and f'data-arg-participant="{people["Bruno"]}"' in chrome
        ack = await facilitator.act("set_captain", {"participant": people["Bruno"],
                                                    "captain": "1"})
        assert ack["ok"], ack
        refused = await facilitator.act("set_table", {"participant": people["Bruno"],
                                                      "table": "7"})
        assert refused["error"]["code"] == "unknown_table"
        captaincy = [(e["data"]["participant"], e["data"]["captain"])
                     for e in read_events(server.db) if e["kind"] == "participant.captain_set"]
        assert captaincy == [(people["Awa"], False), (people["Bruno"], True)]
        await facilitator.close()

    try:
        run(main())
    finally:
        server.stop()


def test_a_juror_joins_by_the_jury_link_and_cannot_vote_as_a_participant(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "w.db").start()

    async def main() -> None:
        juror = Client(server, "participant")
        assert juror.http.get(server.urls["jury"]).status_code == 200
        nameless = juror.http.post(server.urls["jury"], data={"name": ""})
        assert nameless.status_code == 400  # jurors give their name
        joined = juror.http.post(server.urls["jury"], data={"name": "Mme Diallo"})
        assert joined.status_code == 200 and joined.url.path == "/p"
        await juror.connect()
        refused = await juror.act("post", {"title": "Une idée de juré"}, step="ideas")
        assert refused["error"]["code"] == "forbidden"
        roles = [e["data"]["role"] for e in read_events(server.db)
                 if e["kind"] == "participant.joined"]
        assert roles == ["juror"]
        await juror.close()

    try:
        run(main())
        bad = httpx.get(f"{server.base}/jury/not-the-token", timeout=20)
        assert bad.status_code == 404
    finally:
        server.stop()


def test_table_mates_see_a_new_captain_or_neighbour_on_their_phones() -> None:
    from palabre.engine.roster import Roster

    roster = Roster(tables=2)
    ids = []
    for name, table in (("Awa", 1), ("Bruno", 1), ("Chloé", 2)):
        event = roster.join(name, "fr", "participant", table, False)
        roster.apply(event.kind, event.data, 0.0)
        ids.append(event.data["participant"])
    awa, bruno, chloe = ids
    (captaincy,) = roster.decide("set_captain", {"participant": bruno, "captain": "1"})
    assert roster.apply(captaincy.kind, captaincy.data, 0.0) == {awa, bruno}
    (move,) = roster.decide("set_table", {"participant": awa, "table": "2"})
    assert roster.apply(move.kind, move.data, 0.0) == {awa, bruno, chloe}
