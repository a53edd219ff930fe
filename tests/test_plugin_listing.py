"""`palabre plugins` and /-/plugins.json say which package provides each plugin, its version,
the hooks it implements and the activities and kits it brings (issue 7): a practitioner can
tell where a slug comes from, and an installed plugin that does not show is not loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from palabre.engine.plugins import DEFAULT_PLUGINS
from support import Server

PLUGIN = '''
from palabre.engine import Activity, hookimpl


class MoodMeter(Activity):
    slug = "mood_meter"
    name = "Mood meter"


@hookimpl
def register_activities():
    return [MoodMeter]


@hookimpl
def on_event(event, workshop):
    pass
'''


def third_party(tmp_path: Path) -> Path:
    """An installed distribution `palabre-mood 2.3.1` (a dist-info on the path, as pip
    leaves it) whose `palabre` entry point brings one activity and one observer hook."""
    (tmp_path / "palabre_mood_plugin.py").write_text(PLUGIN)
    info = tmp_path / "palabre_mood-2.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: palabre-mood\nVersion: 2.3.1\n")
    (info / "entry_points.txt").write_text("[palabre]\nmood = palabre_mood_plugin\n")
    return tmp_path


def listed(env: dict[str, str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "palabre.engine.cli", "plugins", "--json"],
        capture_output=True, text=True, timeout=60, env=os.environ | env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_built_in_plugins_are_listed_with_their_package_and_hooks() -> None:
    plugins = {p["name"]: p for p in listed({})}
    assert set(DEFAULT_PLUGINS) <= set(plugins)
    version = metadata.version("palabre")
    for name in DEFAULT_PLUGINS:
        assert (plugins[name]["distribution"], plugins[name]["version"]) == ("palabre", version)
    assert plugins["palabre.plugins.dot_voting"]["activities"] == ["dot_voting"]
    assert plugins["palabre.plugins.dot_voting"]["hooks"] == ["register_activities"]
    assert plugins["palabre.plugins.common"]["hooks"] == ["register_locale_dirs"]
    assert "quick-start" in plugins["palabre.facilitator_kits"]["kits"]


def test_a_third_party_plugin_names_its_distribution_version_hooks_and_activity(
    tmp_path: Path,
) -> None:
    path = str(third_party(tmp_path))
    env = {"PYTHONPATH": os.pathsep.join([path, os.environ.get("PYTHONPATH", "")])}
    plugins = {p["name"]: p for p in listed(env)}
    assert plugins["mood"] == {
        "name": "mood", "distribution": "palabre-mood", "version": "2.3.1",
        "hooks": ["on_event", "register_activities"], "activities": ["mood_meter"], "kits": [],
    }  # fmt: skip
    # limited by the environment variable, it is not loaded, so not listed
    only = {p["name"] for p in listed(env | {"PALABRE_LOAD_PLUGINS": "palabre.plugins.axes"})}
    assert only == {"palabre.plugins.axes"}


def test_the_running_server_gives_the_same_list(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    path = str(third_party(tmp_path / "site"))
    env = {"PYTHONPATH": os.pathsep.join([path, os.environ.get("PYTHONPATH", "")])}
    server = Server(tmp_path / "w.db", env=env).start()
    try:
        served = httpx.get(f"{server.base}/-/plugins.json", timeout=10)
    finally:
        server.stop()
    assert served.status_code == 200
    assert served.json() == listed(env)
    assert "mood_meter" in [a for p in served.json() for a in p["activities"]]


def test_check_names_the_package_behind_each_activity_of_a_kit(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    path = str(third_party(tmp_path / "site"))
    kit = tmp_path / "humeur.toml"
    kit.write_text(
        '[workshop]\ntitle = "Humeur du jour"\nlanguage = "fr"\n\n'
        '[[steps]]\nid = "idees"\nactivity = "ideation"\ntitle = "Idées"\n\n'
        '[[steps]]\nid = "humeur"\nactivity = "mood_meter"\ntitle = "Votre humeur"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "palabre.engine.cli", "check", str(kit)],
        capture_output=True, text=True, timeout=60,
        env=os.environ | {"PYTHONPATH": os.pathsep.join([path, os.environ.get("PYTHONPATH", "")])},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "  mood_meter: palabre-mood 2.3.1\n" in done.stdout
    assert f"  ideation: palabre {metadata.version('palabre')}\n" in done.stdout


def test_palabre_trace_plugins_prints_each_hook_call_and_who_answers(tmp_path: Path) -> None:
    path = str(third_party(tmp_path))
    env = os.environ | {"PYTHONPATH": os.pathsep.join([path, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "palabre.engine.cli", "check", "quick-start"]
    traced = subprocess.run(command, capture_output=True, text=True, timeout=60,
                            env=env | {"PALABRE_TRACE_PLUGINS": "1"})  # fmt: skip
    assert traced.returncode == 0, traced.stderr
    lines = traced.stderr.splitlines()
    kits_line = next(line for line in lines if "register_kits()" in line)
    assert kits_line.startswith("[palabre trace] register_kits() -> palabre.facilitator_kits")
    assert "[palabre trace] register_activities() <- mood: ['mood_meter']" in lines
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert quiet.returncode == 0 and "[palabre trace]" not in quiet.stderr
