"""The hooks a Palabre plugin can implement. All are synchronous; call them with keywords."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from jinja2 import Environment
    from starlette.routing import BaseRoute

    from .activity import Activity
    from .events import StoredEvent

hookspec = pluggy.HookspecMarker("palabre")
hookimpl = pluggy.HookimplMarker("palabre")


@hookspec
def register_activities() -> Sequence[type[Activity]]:  # type: ignore[empty-body]
    """Return `Activity` subclasses this plugin provides; each `slug` must be unique."""


@hookspec
def register_kits() -> Sequence[Path]:  # type: ignore[empty-body]
    """Return paths of kit TOML files this plugin ships; `palabre kits` lists them."""


@hookspec
def register_locale_dirs() -> Sequence[Path]:  # type: ignore[empty-body]
    """Return extra `locales/` folders (holding `<lang>/LC_MESSAGES/palabre.po`) for code
    that is not an activity's own package, such as helpers shared by several activities.

    An activity's own `locales/` folder is found without this hook.
    """


@hookspec
def prepare_jinja2_environment(env: Environment) -> None:
    """Adjust the Jinja environment (filters, globals) before any template renders.

    Called once per language environment.
    """


@hookspec
def register_routes() -> Sequence[BaseRoute]:  # type: ignore[empty-body]
    """Return extra Starlette routes, mounted before Palabre's own."""


@hookspec
def on_event(event: StoredEvent, workshop: Any) -> None:
    """Observe every event once it is committed to the log (also during replay: no).

    Called after commit, in commit order, only for live events, never during start-up
    replay. Must be quick and must not raise: an exception is logged and ignored.
    """
