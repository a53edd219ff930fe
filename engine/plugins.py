"""Plugin manager factory and the activity registry built from it."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import pluggy
from pluggy import HookImpl, Result

from . import hookspecs
from .activity import Activity

DEFAULT_PLUGINS: tuple[str, ...] = (
    "palabre.plugins.common",
    "palabre.plugins.diagnosis",
    "palabre.plugins.axes",
    "palabre.plugins.ideation",
    "palabre.plugins.dot_voting",
    "palabre.plugins.teams",
    "palabre.plugins.pitches",
    "palabre.plugins.jury",
    "palabre.plugins.results",
    "palabre.facilitator_kits",
)

ENTRY_POINT_GROUP = "palabre"
# Comma-separated plugin names to load (built-in module paths or entry-point names);
# unset means all. Lets a practitioner isolate a faulty plugin.
LOAD_PLUGINS_ENV = "PALABRE_LOAD_PLUGINS"
# Set to 1 to print every hook call (with the plugins that answer it) on stderr: why does
# my hook not run, and in which order do they run?
TRACE_PLUGINS_ENV = "PALABRE_TRACE_PLUGINS"


class PluginError(Exception):
    """A plugin could not load, or two plugins clash."""


def get_plugin_manager(load_entry_points: bool = True) -> pluggy.PluginManager:
    """A fresh manager per engine: plugins never leak between workshops or tests."""
    pm = pluggy.PluginManager("palabre")
    pm.add_hookspecs(hookspecs)
    allowed = _allowed_plugins()
    for module_path in DEFAULT_PLUGINS:
        if allowed is None or module_path in allowed:
            pm.register(importlib.import_module(module_path), name=module_path)
    if load_entry_points:
        _load_entry_points(pm, allowed)
    if _tracing():
        pm.add_hookcall_monitoring(_trace_before, _trace_after)
    return pm


def _tracing() -> bool:
    return os.environ.get(TRACE_PLUGINS_ENV) == "1"


def _trace(text: str) -> None:
    print(f"[palabre trace] {text}", file=sys.stderr, flush=True)


def _trace_before(hook: str, impls: Sequence[HookImpl], kwargs: Mapping[str, object]) -> None:
    answering = ", ".join(impl.plugin_name for impl in impls) or "no plugin"
    _trace(f"{hook}({', '.join(kwargs)}) -> {answering}")


def _trace_after(
    outcome: Result[object], hook: str, impls: Sequence[HookImpl], kwargs: Mapping[str, object]
) -> None:
    if outcome.exception is not None:
        _trace(f"{hook} raised {outcome.exception!r}")


def _allowed_plugins() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_entry_points(pm: pluggy.PluginManager, allowed: set[str] | None) -> None:
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist.name if ep.dist else "?"
        try:
            plugin = ep.load()
        except Exception as exc:  # the error must say which distribution to blame
            raise PluginError(
                f"Plugin {ep.name!r} from distribution {dist!r} failed to import: {exc!r}"
            ) from exc
        if pm.is_registered(plugin):
            continue
        pm.register(plugin, name=ep.name)


def collect_activities(pm: pluggy.PluginManager) -> dict[str, type[Activity]]:
    """Every registered activity by slug; a slug claimed twice stops start-up."""
    by_slug: dict[str, type[Activity]] = {}
    for impl in pm.hook.register_activities.get_hookimpls():
        returned = list(cast(Iterable[type[Activity]], impl.function() or ()))
        if _tracing():
            slugs = [getattr(a, "slug", repr(a)) for a in returned]
            _trace(f"register_activities() <- {impl.plugin_name}: {slugs}")
        for activity in returned:
            _check_activity(activity, impl.plugin_name)
            previous = by_slug.get(activity.slug)
            if previous is not None and previous is not activity:
                raise PluginError(
                    f"Two activities claim the slug {activity.slug!r}: "
                    f"{_qualname(previous)} and {_qualname(activity)} "
                    f"(plugin {impl.plugin_name!r})"
                )
            by_slug[activity.slug] = activity
    return by_slug


def collect_kits(pm: pluggy.PluginManager) -> list[Path]:
    kits: list[Path] = []
    for paths in pm.hook.register_kits():
        kits.extend(Path(p) for p in paths or ())
    return kits


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Every loaded plugin: the distribution that provides it and its version, the hooks it
    implements, and the activities and kits it brings (`palabre plugins`, /-/plugins.json).
    What a practitioner needs to tell which package a slug comes from, or why a hook
    does not run."""
    dists = {ep.name: ep.dist for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    own_version = _own_version()
    described = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda pair: pair[0]):
        dist = dists.get(name) if name not in DEFAULT_PLUGINS else None
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        described.append(
            {
                "name": name,
                "distribution": dist.name if dist else "palabre",
                "version": dist.version if dist else own_version,
                "hooks": hooks,
                "activities": sorted(_provided(plugin, "register_activities", "slug")),
                "kits": sorted(_provided(plugin, "register_kits", "stem")),
            }
        )
    return described


def _provided(plugin: object, hook: str, attribute: str) -> list[str]:
    function = getattr(plugin, hook, None)
    if function is None:
        return []
    return [str(getattr(thing, attribute, thing)) for thing in function() or ()]


def _own_version() -> str:
    try:
        return metadata.version("palabre")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _check_activity(activity: type[Activity], plugin_name: str) -> None:
    if not (isinstance(activity, type) and issubclass(activity, Activity)):
        raise PluginError(f"Plugin {plugin_name!r} registered {activity!r}, not an Activity")
    if not getattr(activity, "slug", None):
        raise PluginError(f"Activity {_qualname(activity)} has no slug")


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
