"""What each audience sees: the regions of each surface, rendered from the workshop state."""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from typing import Any

from .faults import Faults
from .render import Renderer
from .workshop import Workshop

SHARED_REGIONS = {
    "facilitator": ("chrome", "main"),
    "screen": ("chrome", "main", "join"),
    "participant": ("chrome", "main"),
}


PERSONAL_CACHE_SIZE = 4096
# Context entries that only change with the step (which is part of every cache key).
CONSTANT_PER_STEP = frozenset({"kit", "steps", "step", "join", "audience"})


@dataclass
class JoinInfo:
    url: str
    short_url: str
    code: str
    qr_svg: str


class Views:
    def __init__(self, workshop: Workshop, renderer: Renderer, join: JoinInfo) -> None:
        self.workshop = workshop
        self.renderer = renderer
        self.join = join
        self.connected = 0  # participant devices with a live socket, shown to the facilitator
        self.screens = 0  # projectors showing the screen link
        self.clock = time.time
        # Personal renders by what they depend on, shared by everyone whose personal view is
        # the same (at a step change, thousands of phones show the same form).
        self.personal_cache: dict[bytes, str] = {}
        self.faults = Faults()

    def shared(self, audience: str, lang: str) -> dict[str, str]:
        ctx = self.context(audience, lang)
        regions = {}
        for region in SHARED_REGIONS[audience]:
            regions[region] = self._render_region(audience, region, lang, ctx)
        return regions

    def personal(self, participant_id: str, lang: str) -> dict[str, str]:
        try:
            return {"personal": self.personal_html(participant_id, lang)}
        except Exception as exc:
            ctx = self.context("participant", lang)
            return {"personal": self._failure("participant", lang, ctx, exc)}

    def personal_html(self, participant_id: str, lang: str) -> str:
        """One person's own region for the current step; raises what the activity raises."""
        me = self.workshop.actor_for("participant", participant_id)
        runtime = self.workshop.current_step
        template = f"{runtime.activity.slug}/personal.html"
        if not runtime.opened or not self.renderer.has_template(template):
            return ""
        ctx = self.context("participant", lang) | {"me": me}
        ctx["view"] = runtime.activity.personal_view(runtime.state, me)
        key = self._personal_key(template, lang, ctx)
        html = self.personal_cache.get(key) if key else None
        if html is None:
            html = self.renderer.render(lang, template, ctx)
            if key:
                if len(self.personal_cache) >= PERSONAL_CACHE_SIZE:
                    self.personal_cache.clear()  # older steps' and states' renders
                self.personal_cache[key] = html
        return html

    def forget_personal(self) -> None:
        self.personal_cache.clear()

    def _personal_key(self, template: str, lang: str, ctx: dict[str, Any]) -> bytes | None:
        """What the render depends on: the values of the context names the template reads,
        pickled (only ever dumped, as a fingerprint: a third of the cost of their repr,
        and it sees every field). None when it cannot be known (a template reading the whole
        workshop or choosing its includes at run time, a value that cannot be pickled):
        then the view is rendered for each phone."""
        names = self.renderer.names_used(template)
        if names is None or "workshop" in names:
            return None
        used = sorted(n for n in names if n in ctx and n not in CONSTANT_PER_STEP)
        values = (self.workshop.current, template, lang, used, [ctx[n] for n in used])
        try:
            return pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return None

    def _render_region(self, audience: str, region: str, lang: str, ctx: dict[str, Any]) -> str:
        if region == "main":
            return self._activity_view(audience, lang, ctx)
        if region == "join":
            visible = self.workshop.join_visible()
            return self.renderer.render(lang, "join_panel.html", ctx) if visible else ""
        return self.renderer.render(lang, f"chrome_{audience}.html", ctx)

    def _activity_view(self, audience: str, lang: str, ctx: dict[str, Any]) -> str:
        try:
            return self.activity_html(audience, lang, ctx)
        except Exception as exc:
            return self._failure(audience, lang, ctx, exc)

    def activity_html(self, audience: str, lang: str, ctx: dict[str, Any] | None = None) -> str:
        """The current step's shared view for an audience; raises what the activity raises."""
        runtime = self.workshop.current_step
        if not runtime.opened:
            return ""
        ctx = self.context(audience, lang) if ctx is None else ctx
        view = runtime.activity.view(runtime.state, audience)  # type: ignore[arg-type]
        template = f"{runtime.activity.slug}/{audience}.html"
        return self.renderer.render(lang, template, ctx | {"view": view})

    def _failure(self, audience: str, lang: str, ctx: dict[str, Any], exc: Exception) -> str:
        """A plugin that fails to render breaks its own region, never the workshop."""
        slug = self.workshop.current_step.activity.slug
        self.faults.record(slug, f"render ({audience})", exc)
        detail = f"{type(exc).__name__}: {exc}" if audience == "facilitator" else ""
        return self.renderer.render(
            lang, "render_error.html", ctx | {"slug": slug, "detail": detail}
        )

    def _tables(self) -> list[dict[str, Any]]:
        """People by table, for the facilitator (names are never shown on the screen)."""
        tables = self.workshop.kit.tables
        if not tables:
            return []
        seated: dict[int, list[Any]] = {n: [] for n in range(1, tables + 1)}
        for actor in self.workshop.roster.actors.values():
            if actor.table in seated and actor.role == "participant":
                seated[actor.table].append(actor)
        return [
            {"number": n, "people": people, "captain": any(p.captain for p in people)}
            for n, people in seated.items()
        ]

    def context(self, audience: str, lang: str) -> dict[str, Any]:
        w = self.workshop
        return {
            "audience": audience,
            "workshop": w,
            "kit": w.kit,
            "steps": [r.step for r in w.steps],
            "step": w.current_step.step,
            "current": w.current,
            "join": self.join,
            "join_shown": w.join_visible(),
            "participants_joined": len(w.roster),
            "roster_tables": self._tables() if audience == "facilitator" else [],
            "now": self.clock(),
            "participants_connected": self.connected,
            "screens_connected": self.screens,
            "faults": self.faults.recent() if audience == "facilitator" else [],
        }
