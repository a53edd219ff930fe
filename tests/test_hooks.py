"""Every hook of engine/hookspecs.py, exercised by the example plugins that docs/plugins.md
quotes (tests/plugin_examples/ and the word-cloud example package): in process for the
hooks read at start-up, installed into a real server for routes and event observers."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import httpx
import pytest

from palabre.engine import Rejection
from palabre.engine.kits import load_kit
from palabre.engine.plugins import collect_activities, collect_kits, get_plugin_manager
from palabre.engine.render import Renderer
from support import Client, Server, close_all, read_events, run

TESTS = Path(__file__).resolve().parent


def manager(*plugins: object) -> object:
    pm = get_plugin_manager(load_entry_points=False)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def test_register_activities_and_register_kits_bring_the_word_cloud_and_its_kit() -> None:
    import palabre_word_cloud

    pm = manager(palabre_word_cloud)
    activities = collect_activities(pm)  # type: ignore[arg-type]
    assert activities["word_cloud"] is palabre_word_cloud.WordCloud
    kits = [k for k in collect_kits(pm) if k.stem == "ice-breaker"]  # type: ignore[arg-type]
    assert len(kits) == 1
    kit = load_kit(kits[0], activities)
    assert [s.activity.slug for s in kit.steps] == ["word_cloud", "dot_voting"]


def test_register_locale_dirs_translates_a_shared_helpers_message() -> None:
    from plugin_examples import town_rules

    with pytest.raises(Rejection) as refused:
        town_rules.refuse_phone_numbers("appelez le 06 12 34 56 78")
    town_rules.refuse_phone_numbers("rendez-vous au 12 rue Haute")  # a few digits are fine
    pm = manager(town_rules)
    renderer = Renderer(collect_activities(pm), pm)  # type: ignore[arg-type]
    assert renderer.gettext("fr", refused.value.message) == (
        "Merci de ne pas publier de numéros de téléphone."
    )
    assert renderer.gettext("en", refused.value.message) == "Please do not post phone numbers."
    without = manager()
    bare = Renderer(collect_activities(without), without)  # type: ignore[arg-type]
    assert bare.gettext("fr", refused.value.message) == refused.value.message


def test_prepare_jinja2_environment_adds_a_filter_to_every_language() -> None:
    from plugin_examples import initials_filter

    calls: list[str] = []
    spy = types.SimpleNamespace(prepare_jinja2_environment=initials_filter.hookimpl(
        lambda env: calls.append(env.globals["lang"])))  # fmt: skip
    pm = manager(initials_filter, spy)
    renderer = Renderer(collect_activities(pm), pm)  # type: ignore[arg-type]
    for lang in ("fr", "en"):
        template = renderer.envs[lang].from_string("{{ 'Ana Dupont Roy'|initials }}")
        assert template.render() == "A. D. R."
    assert sorted(calls) == ["en", "fr"]  # once per language environment


def installed(tmp_path: Path, entry_points: dict[str, str]) -> dict[str, str]:
    """Environment for a server that has the example plugins installed as a distribution."""
    info = tmp_path / "palabre_examples-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: palabre-examples\nVersion: 1.0\n")
    lines = "".join(f"{name} = {module}\n" for name, module in entry_points.items())
    (info / "entry_points.txt").write_text("[palabre]\n" + lines)
    path = os.pathsep.join([str(tmp_path), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path}


def test_register_routes_mounts_a_plugin_route_beside_palabres_own(tmp_path: Path) -> None:
    env = installed(tmp_path, {"uptime": "plugin_examples.uptime_route"})
    server = Server(tmp_path / "w.db", env=env).start()
    try:
        uptime = httpx.get(f"{server.base}/-/uptime", timeout=10)
        home = httpx.get(f"{server.base}/", timeout=10)
        plugins = httpx.get(f"{server.base}/-/plugins.json", timeout=10).json()
    finally:
        server.stop()
    assert uptime.status_code == 200 and uptime.json()["up_seconds"] >= 0
    assert home.status_code == 200
    listed = next(p for p in plugins if p["name"] == "uptime")
    assert listed["hooks"] == ["register_routes"] and listed["distribution"] == "palabre-examples"


def test_on_event_sees_each_committed_event_once_and_a_failing_observer_is_ignored(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    env = installed(tmp_path, {"audit": "plugin_examples.audit_log",
                               "broken": "plugin_examples.broken_observer"})  # fmt: skip
    server = Server(tmp_path / "w.db", env=env | {"PALABRE_AUDIT_LOG": str(audit)}).start()
    try:
        run(_join_vote_and_move_on(server))
    finally:
        server.stop()
    seen = [json.loads(line) for line in audit.read_text().splitlines()]
    events = read_events(server.db)
    stored = [{"seq": e["seq"], "kind": e["kind"], "step": e["step"]} for e in events]
    # Every event after start-up, once, in commit order (the two opening events are
    # written before any plugin could observe them).
    assert seen == stored[2:] and len(seen) >= 3
    assert "observer bug at event" in "\n".join(server.later_output)
    # A restart replays the log without calling on_event again.
    server.start()
    server.stop()
    assert len(audit.read_text().splitlines()) == len(seen)


async def _join_vote_and_move_on(server: Server) -> None:
    ana = await Client(server, "participant").join("Ana").connect()
    panel = await Client(server, "facilitator").login().connect()
    try:
        assert (await ana.act("post", {"title": "Un banc"}, step="ideas"))["ok"]
        assert (await panel.act("next"))["ok"]  # the broken observer raises: still ok
        assert (await panel.act("previous"))["ok"]
    finally:
        await close_all(ana, panel)
