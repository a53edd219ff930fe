"""The results report: one self-contained, printable HTML page made from the workshop record.

Self-contained means it can be mailed or put on a town's website as one file: its styles
are inlined, its charts are SVG drawn here (engine/charts.py), it loads nothing and runs no
script. Each step's part is its activity's `<slug>/report.html` template when it has one,
else a generic list of what the step produced (`report_step.html`); both receive `step`
(the record's step) and `results` (the activity's export).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_date, format_time
from markupsafe import Markup

from .charts import bar_chart
from .render import DISPLAYS_DIR, Renderer

STYLESHEET = DISPLAYS_DIR / "static" / "report.css"


def render_report(record: dict[str, Any], renderer: Renderer, lang: str) -> str:
    steps = [step | {"template": _template(renderer, step)} for step in record["steps"]]
    context = {
        "record": record,
        "workshop": record["workshop"],
        "participation": record["participation"],
        "steps": steps,
        "in_progress": record["status"] != "finished",
        "css": Markup(STYLESHEET.read_text(encoding="utf-8")),
        "chart": lambda rows, **options: bar_chart(rows, lang=lang, **options),
        "day": lambda iso: _day(iso, lang),
        "clock": lambda iso: _clock(iso, lang),
    }
    return renderer.render(lang, "report.html", context)


def _template(renderer: Renderer, step: dict[str, Any]) -> str:
    own = f"{step['activity']}/report.html"
    return own if renderer.has_template(own) else "report_step.html"


def _local(iso: str) -> datetime:
    # Shown in the server's time zone: the room's, for a laptop in the room.
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()


def _day(iso: str | None, lang: str) -> str:
    return format_date(_local(iso), "long", locale=lang) if iso else ""


def _clock(iso: str | None, lang: str) -> str:
    return format_time(_local(iso), "short", locale=lang) if iso else ""
