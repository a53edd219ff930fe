"""An activity whose code raises — in `handle`, half-way through `reduce`, or in a template —
breaks only what it touches (issue 7): the person is told their action was not taken, the
facilitator's panel names the activity and the error, the log has the traceback, nothing
half-done is written, and the rest of the workshop keeps working, also after a restart."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from support import Client, Server, close_all, read_events, run

PLUGIN = '''
from palabre.engine import Activity, Event, Rejection, hookimpl

P, F = frozenset({"participant"}), frozenset({"facilitator"})


class Fragile(Activity):
    """Counts taps; three actions break it on purpose."""

    slug = "fragile"
    name = "Fragile"
    actions = {"tap": P, "crash_handle": P, "crash_reduce": P, "break_screen": F}

    def initial_state(self, inputs):
        return {"taps": 0, "screen_broken": False}

    def handle(self, state, action, actor):
        if action.name == "crash_handle":
            return [Event("fragile.tapped")] + [Event("fragile.x", {"n": action.data["n"]})]
        if action.name == "crash_reduce":
            return [Event("fragile.tapped"), Event("fragile.poison")]
        if action.name == "break_screen":
            return [Event("fragile.screen_broken")]
        return [Event("fragile.tapped")]

    def reduce(self, state, event):
        if event.kind == "fragile.tapped":
            state["taps"] += 1
        elif event.kind == "fragile.poison":
            raise ZeroDivisionError("poisoned event")
        elif event.kind == "fragile.screen_broken":
            state["screen_broken"] = True
        return state

    def view(self, state, audience):
        return {"taps": state["taps"], "broken": state["screen_broken"]}


@hookimpl
def register_activities():
    return [Fragile]
'''
TEMPLATE = '<p data-testid="taps">taps={{ view.taps }}</p>'
SCREEN = '{% if view.broken %}{{ view.no_such_thing.deeper }}{% endif %}' + TEMPLATE
KIT = """
[workshop]
title = "Atelier fragile"
language = "fr"

[[steps]]
id = "fragile"
activity = "fragile"
title = "Étape fragile"

[[steps]]
id = "idees"
activity = "ideation"
title = "Idées"
"""


def fragile_server(tmp_path: Path) -> Server:
    """A server whose kit uses `fragile`, installed as a distribution on the path."""
    site = tmp_path / "site"
    package = site / "palabre_fragile"
    (package / "templates").mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN)
    for audience in ("facilitator", "participant"):
        (package / "templates" / f"{audience}.html").write_text(TEMPLATE)
    (package / "templates" / "screen.html").write_text(SCREEN)
    info = site / "palabre_fragile-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: palabre-fragile\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[palabre]\nfragile = palabre_fragile\n")
    kit = tmp_path / "fragile.toml"
    kit.write_text(textwrap.dedent(KIT), encoding="utf-8")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return Server(tmp_path / "w.db", kit=str(kit), env=env)


def test_an_activity_that_raises_breaks_only_the_action_and_the_facilitator_is_told(
    tmp_path: Path,
) -> None:
    server = fragile_server(tmp_path).start()
    try:
        run(_play(server))
        output = "\n".join(server.later_output)
    finally:
        server.stop()
    assert "KeyError" in output and "Traceback" in output, output[-3000:]
    assert "poisoned event" in output
    # Nothing of the two failed actions was written: three good taps only.
    kinds = [e["kind"] for e in read_events(server.db) if e["step"] == "fragile"]
    assert kinds == ["fragile.tapped"] * 3 + ["fragile.screen_broken"]
    # After a restart the log replays (the poison never reached it) to the same count.
    server.start()
    try:
        run(_after_restart(server))
    finally:
        server.stop()


async def _play(server: Server) -> None:
    ana = await Client(server, "participant").join("Ana").connect()
    bea = await Client(server, "participant").join("Béa").connect()
    panel = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    try:
        assert (await ana.act("tap", step="fragile"))["ok"]
        refused = await ana.act("crash_handle", step="fragile")
        assert refused["error"]["code"] == "activity_failed"
        assert "l’équipe d’animation est prévenue" in refused["error"]["message"]
        await panel.wait_for(lambda: "KeyError" in panel.regions.get("chrome", ""))
        assert "fragile" in panel.regions["chrome"] and "handle" in panel.regions["chrome"]
        # The other phone (and the same one) carry on.
        assert (await bea.act("tap", step="fragile"))["ok"]
        # reduce raises on the second of two events: the first (a tap) is undone too.
        poisoned = await ana.act("crash_reduce", step="fragile", action_id="poison-1")
        assert poisoned["error"]["code"] == "activity_failed"
        await panel.wait_for(lambda: "ZeroDivisionError" in panel.regions["chrome"])
        assert (await ana.act("tap", step="fragile"))["ok"]
        await screen.wait_for(lambda: "taps=3" in screen.regions["main"])
        # Sent again with the same id, it is tried again (and refused), not acked as done.
        again = await ana.act("crash_reduce", step="fragile", action_id="poison-1")
        assert again["error"]["code"] == "activity_failed"
        # A template that raises: the screen shows an error in its region only.
        assert (await panel.act("break_screen", step="fragile"))["ok"]
        await screen.wait_for(lambda: "render-error" in screen.regions["main"])
        await panel.wait_for(lambda: "render (screen)" in panel.regions["chrome"])
        assert "taps=3" in panel.regions["main"] and "taps=3" in ana.regions["main"]
        # The facilitator moves on: the next step works as usual.
        assert (await panel.act("next"))["ok"]
        await ana.wait_for(lambda: 'data-action="post"' in ana.regions["main"])
        assert (await ana.act("post", {"title": "Un banc"}, step="idees"))["ok"]
    finally:
        await close_all(ana, bea, panel, screen)


async def _after_restart(server: Server) -> None:
    panel = await Client(server, "facilitator").login().connect()
    try:
        assert (await panel.act("previous"))["ok"]
        await panel.wait_for(lambda: "taps=3" in panel.regions["main"])
        assert "faults" not in panel.regions["chrome"]  # faults are not kept across restarts
    finally:
        await close_all(panel)
