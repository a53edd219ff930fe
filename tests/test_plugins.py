"""The plugin contract: a fresh manager per engine, built-ins from DEFAULT_PLUGINS,
third-party activities by entry point, clear errors when plugins clash or fail."""

import inspect
import types
from importlib import metadata
from pathlib import Path

import pytest

from palabre.engine import Activity, hookimpl
from palabre.engine.plugins import (
    DEFAULT_PLUGINS,
    PluginError,
    collect_activities,
    collect_kits,
    get_plugin_manager,
)


def test_each_engine_gets_its_own_plugin_manager() -> None:
    first, second = get_plugin_manager(), get_plugin_manager()
    extra = types.ModuleType("extra_plugin")
    first.register(extra)
    assert first.is_registered(extra) and not second.is_registered(extra)


def test_builtin_plugins_come_from_the_default_plugins_tuple() -> None:
    pm = get_plugin_manager(load_entry_points=False)
    names = {name for name, _ in pm.list_name_plugin()}
    assert names == set(DEFAULT_PLUGINS)
    assert {"ideation", "dot_voting"} <= set(collect_activities(pm))


def _plugin_with(slug: str, class_name: str) -> types.ModuleType:
    module = types.ModuleType(f"plugin_{class_name}")
    activity = type(class_name, (Activity,), {"slug": slug, "name": slug,
                                              "__module__": module.__name__})

    @hookimpl
    def register_activities() -> list[type[Activity]]:
        return [activity]

    module.register_activities = register_activities  # type: ignore[attr-defined]
    return module


def test_a_duplicate_activity_slug_fails_naming_both_classes() -> None:
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(_plugin_with("ideation", "OtherIdeation"), name="other")
    with pytest.raises(PluginError) as excinfo:
        collect_activities(pm)
    message = str(excinfo.value)
    assert "'ideation'" in message
    assert "palabre.plugins.ideation.activity.Ideation" in message
    assert "plugin_OtherIdeation.OtherIdeation" in message


def test_register_activities_must_return_activity_subclasses() -> None:
    pm = get_plugin_manager(load_entry_points=False)
    module = types.ModuleType("bad_plugin")

    @hookimpl
    def register_activities() -> list[object]:
        return [dict]

    module.register_activities = register_activities  # type: ignore[attr-defined]
    pm.register(module, name="bad")
    with pytest.raises(PluginError, match="'bad' registered .*not an Activity"):
        collect_activities(pm)


def _fake_distribution(tmp_path: Path, target: str) -> Path:
    """An installed distribution (dist-info on sys.path) with one `palabre` entry point."""
    info = tmp_path / "palabre_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: palabre-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[palabre]\nbroken = {target}\n")
    return tmp_path


def test_a_plugin_that_fails_to_import_names_its_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(_fake_distribution(tmp_path, "no_such_module_xyz")))
    assert any(ep.name == "broken" for ep in metadata.entry_points(group="palabre"))
    with pytest.raises(PluginError, match="'broken' from distribution 'palabre-broken'"):
        get_plugin_manager()


def test_an_environment_variable_limits_which_plugins_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(_fake_distribution(tmp_path, "no_such_module_xyz")))
    monkeypatch.setenv("PALABRE_LOAD_PLUGINS", "palabre.plugins.dot_voting")
    pm = get_plugin_manager()  # the broken plugin is not even imported
    assert set(collect_activities(pm)) == {"dot_voting"}


def test_kits_are_registered_through_a_hook() -> None:
    kits = collect_kits(get_plugin_manager(load_entry_points=False))
    assert any(path.name == "quick-start.toml" for path in kits)


def test_hookspecs_are_documented_and_synchronous() -> None:
    from palabre.engine import hookspecs

    specs = [getattr(hookspecs, name) for name in dir(hookspecs)
             if hasattr(getattr(hookspecs, name), "palabre_spec")]
    assert len(specs) >= 5
    for spec in specs:
        assert spec.__doc__ and len(spec.__doc__.strip()) > 20, spec.__name__
        assert not inspect.iscoroutinefunction(spec), f"{spec.__name__} must be synchronous"
