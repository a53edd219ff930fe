"""The facilitator's report and exports over HTTP: `/report` and `/report/export.<format>`.

Both are made from the workshop's file, read-only, as `palabre report` and `palabre export`
make them, so what the facilitator downloads during the day is what the command gives after
it. Replaying the log takes a moment on a big day: it runs in a worker thread, on its own
copy of the workshop, while the live one goes on serving the room.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .activity import N_
from .exporters import write
from .record import build_record
from .report import render_report
from .service import Service

# format in the URL -> (export format, media type)
DOWNLOADS = {
    "json": ("json", "application/json"),
    "zip": ("csv", "application/zip"),
    "md": ("md", "text/markdown; charset=utf-8"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "sqlite": ("sqlite", "application/vnd.sqlite3"),
}
# No script at all; inline styles only (the page must stand alone once saved).
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def report_routes(service: Service, pages: Any) -> list[Route]:
    """`pages` is the app's Pages: its cookie check and its refusal page."""

    def facilitator_only(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def guarded(request: Request) -> Response:
            if pages.identity(request, "facilitator") is None:
                return pages.refuse(  # type: ignore[no-any-return]
                    request, N_("Open the facilitator link printed by the server.")
                )
            return await handler(request)  # type: ignore[no-any-return]

        return guarded

    async def record() -> dict[str, Any]:
        store = service.store
        return await asyncio.to_thread(lambda: build_record(store.read_log(), service.activities))

    async def report(request: Request) -> Response:
        lang = pages.lang_for(request)
        the_record = await record()
        html = await asyncio.to_thread(render_report, the_record, service.renderer, lang)
        response = HTMLResponse(html, headers={"cache-control": "no-store"})
        response.headers["content-security-policy"] = REPORT_CSP
        return response

    def download(suffix: str) -> Callable[[Request], Any]:
        fmt, media_type = DOWNLOADS[suffix]

        async def export(request: Request) -> Response:
            the_record = await record()
            body = await asyncio.to_thread(_export_bytes, the_record, fmt, suffix)
            name = f"palabre-{service.kit.name.rsplit('/', 1)[-1].removesuffix('.toml')}"
            return Response(body, media_type=media_type, headers={
                "content-disposition": f'attachment; filename="{name}.{suffix}"',
                "cache-control": "no-store",
            })  # fmt: skip

        return export

    routes = [Route("/report", facilitator_only(report))]
    routes += [
        Route(f"/report/export.{suffix}", facilitator_only(download(suffix)))
        for suffix in DOWNLOADS
    ]
    return routes


def _export_bytes(record: dict[str, Any], fmt: str, suffix: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="palabre-export-") as folder:
        out = Path(folder) / f"export.{suffix}"
        write(record, fmt, out)
        return out.read_bytes()
