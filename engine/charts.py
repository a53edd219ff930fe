"""Charts for the report, drawn on the server as SVG: no script, nothing fetched, the same
on screen and on paper. Bars are solid dark grey with their value written at their end, so
a black-and-white printout reads as well as the screen."""

from __future__ import annotations

from collections.abc import Sequence

from babel.numbers import format_decimal
from markupsafe import Markup, escape

ROW = 30  # px per bar, in the SVG's own units; the chart scales to the page's width
LABEL_WIDTH = 370  # room for MAX_LABEL characters at LABEL_SIZE, even wide capitals
BAR_WIDTH = 320
VALUE_WIDTH = 80
LABEL_SIZE = 14
MAX_LABEL = 40  # characters: a longer title is cut with "…" (its full text is in the list)


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    label: str,
    unit: str = "",
    highlight: int = 0,
    lang: str = "en",
) -> Markup:
    """A horizontal bar per (title, value), largest scale first as given. LABEL names the
    chart for screen readers; the first HIGHLIGHT bars are drawn black (the retained ones)."""
    top = max((value for _, value in rows), default=0) or 1
    height = ROW * len(rows) + 4
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
    ]
    for index, (title, value) in enumerate(rows):
        y = index * ROW + 2
        length = round(BAR_WIDTH * value / top, 1)
        fill = "#111" if index < highlight else "#666"
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + ROW / 2 + 5}" text-anchor="end" '
            f'font-size="{LABEL_SIZE}">{escape(_short(title))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{max(length, 1)}" height="{ROW - 8}" '
            f'fill="{fill}"/>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + ROW / 2 + 5}" font-size="15" '
            f'font-weight="bold">{escape(_number(value, lang))}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(title: str) -> str:
    return title if len(title) <= MAX_LABEL else title[: MAX_LABEL - 1].rstrip() + "…"


def _number(value: float, lang: str) -> str:
    return str(format_decimal(value, format="#,##0.#", locale=lang))
