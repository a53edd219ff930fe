"""The Starlette application: pages for the three surfaces, the join flow, the WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from .activity import N_
from .auth import COOKIE_NAMES, LANG_COOKIE, Identity, RoleName, normalise_join_code, same_secret
from .guard import BasePath, FailureLimiter, TrustedHosts
from .kits import LANGUAGES
from .plugins import describe_plugins
from .render import DISPLAYS_DIR, activity_dir
from .service import Service

MAX_FORM_BYTES = 4096
FRAME_ANCESTORS = {True: "'self'", False: "'none'"}
COOKIE_MAX_AGE = 60 * 60 * 24 * 14  # a workshop, its follow-up days, and a margin


class SecurityHeaders:
    """Headers every HTTP response carries; HTML pages add their own nonce-based CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                for name, value in _BASE_HEADERS:
                    if name not in names:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_BASE_HEADERS = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


class Pages:
    """Route handlers; each reads who is asking from a signed cookie, never from the URL."""

    def __init__(self, service: Service, origins: frozenset[str]) -> None:
        self.service = service
        self.origins = origins
        self.failures = FailureLimiter()

    # -- helpers -------------------------------------------------------------------------
    def lang_for(self, request: Request | WebSocket) -> str:
        requested = request.cookies.get(LANG_COOKIE)
        return requested if requested in LANGUAGES else self.service.kit.language

    def identity(self, request: Request | WebSocket, role: RoleName) -> Identity | None:
        identity = self.service.signer.read(role, request.cookies.get(COOKIE_NAMES[role]))
        if identity and role == "participant":
            person = self.service.workshop.roster.get(identity.participant_id)
            if person is None:
                return None
            # Jurors carry a participant cookie; their role comes from the roster.
            return Identity(identity.workshop_id, person.actor.role, identity.participant_id)
        return identity

    def page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        status: int = 200,
        frameable: bool = False,
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        lang = context.get("lang") or self.lang_for(request)
        base = {
            "nonce": nonce,
            "lang": lang,
            "kit": self.service.kit,
            "workshop": self.service.workshop,
            "languages": LANGUAGES,
        }
        html = self.service.renderer.render(lang, template, base | context)
        response = HTMLResponse(html, status_code=status)
        response.headers["content-security-policy"] = (
            f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
            "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
            f"frame-src 'self'; frame-ancestors {FRAME_ANCESTORS[frameable]}"
        )
        # Only the screen may be framed, and only by our own panel (its live preview).
        response.headers["x-frame-options"] = "SAMEORIGIN" if frameable else "DENY"
        response.headers["cache-control"] = "no-store"
        return response

    def surface(self, request: Request, audience: str, identity: Identity) -> HTMLResponse:
        lang = self.lang_for(request)
        views = self.service.views
        regions = views.shared(audience, lang)
        if identity.participant_id:
            regions |= views.personal(identity.participant_id, lang)
        preview = audience == "screen" and request.query_params.get("preview") == "1"
        context = {"regions": regions, "audience": audience, "lang": lang, "preview": preview}
        return self.page(request, f"{audience}.html", context, frameable=audience == "screen")

    def check_secret(
        self, request: Request, given: str, expected: str, message: str
    ) -> Response | None:
        """None when `given` is right; else the refusal. Wrong guesses are counted per client
        address and, past a burst, answered 429 without even being compared."""
        address = request.client.host if request.client else "?"
        if self.failures.blocked(address):
            response = self.refuse(
                request,
                N_("Too many wrong codes from this network. Wait a minute, then check the code."),
                429,
            )
            response.headers["retry-after"] = str(self.failures.retry_after(address))
            return response
        if same_secret(given, expected):
            return None
        self.failures.failed(address)
        return self.refuse(request, message, 404)

    def refuse(self, request: Request, message: str, status: int = 403) -> HTMLResponse:
        lang = self.lang_for(request)
        text = self.service.renderer.gettext(lang, message)
        return self.page(request, "error.html", {"message": text}, status=status)

    # -- the facilitator and the screen ----------------------------------------------------
    async def facilitator_login(self, request: Request) -> Response:
        secret = self.service.secrets.facilitator_secret
        message = N_("This facilitator link is not valid.")
        return self._login(request, request.path_params["secret"], secret, message, "facilitator")

    async def screen_login(self, request: Request) -> Response:
        token = self.service.secrets.screen_token
        message = N_("This screen link is not valid.")
        return self._login(request, request.path_params["token"], token, message, "screen")

    def _login(
        self, request: Request, given: str, expected: str, message: str, role: RoleName
    ) -> Response:
        refusal = self.check_secret(request, given, expected, message)
        if refusal is not None:
            return refusal
        # Swap the link for a cookie and leave the secret out of the address bar and history.
        response = RedirectResponse(f"{self.service.base}/{role}", status_code=303)
        self.set_cookie(response, role, self.service.signer.sign(role))
        return response

    async def facilitator(self, request: Request) -> Response:
        identity = self.identity(request, "facilitator")
        if identity is None:
            return self.refuse(request, N_("Open the facilitator link printed by the server."))
        return self.surface(request, "facilitator", identity)

    async def screen(self, request: Request) -> Response:
        identity = self.identity(request, "screen") or self.identity(request, "facilitator")
        if identity is None:
            return self.refuse(request, N_("Open the screen link printed by the server."))
        return self.surface(request, "screen", Identity(identity.workshop_id, "screen"))

    # -- participants ------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        return self.page(request, "home.html", {})

    async def join_by_form(self, request: Request) -> Response:
        code = normalise_join_code(request.query_params.get("code", ""))
        base = self.service.base
        return RedirectResponse(f"{base}/j/{code}" if code else f"{base}/", status_code=303)

    async def participant(self, request: Request) -> Response:
        identity = self.identity(request, "participant")
        if identity is None:
            code = self.service.secrets.join_code
            return RedirectResponse(f"{self.service.base}/j/{code}", status_code=303)
        return self.surface(request, "participant", identity)

    async def set_language(self, request: Request) -> Response:
        lang = request.path_params["lang"]
        back = request.query_params.get("next", f"{self.service.base}/p")
        if not back.startswith("/") or back.startswith("//"):
            back = f"{self.service.base}/p"
        response = RedirectResponse(back, status_code=303)
        if lang in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, lang, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax",
                path=self.cookie_path,
            )  # fmt: skip
        return response

    def set_cookie(self, response: Response, role: RoleName, value: str) -> None:
        response.set_cookie(
            COOKIE_NAMES[role],
            value,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            path=self.cookie_path,
        )

    @property
    def cookie_path(self) -> str:
        """Workshops sharing a host name keep their cookies apart by path."""
        return self.service.base or "/"

    # -- small JSON and assets ---------------------------------------------------------
    async def plugins_json(self, request: Request) -> Response:
        return JSONResponse(describe_plugins(self.service.pm))

    async def test_clock(self, request: Request) -> Response:
        """Moves the server's clock forward (PALABRE_TEST_CLOCK=1 only): tests of timed
        steps run in seconds instead of minutes."""
        if self.identity(request, "facilitator") is None:
            return JSONResponse({"error": "facilitator only"}, status_code=403)
        seconds = float(request.query_params.get("seconds", "0"))
        self.service.clock_offset += max(0.0, min(seconds, 86400.0))
        self.service.touch({"facilitator", "screen", "participant"})
        return JSONResponse({"now": self.service.clock()})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "step": self.service.workshop.current_step.step.id})


def create_app(
    service: Service,
    origins: frozenset[str],
    extra_routes: list[BaseRoute] | None = None,
    allowed_hosts: frozenset[str] = frozenset(),
) -> Starlette:
    from .joining import JoinPages
    from .live import LiveEndpoint
    from .report_routes import report_routes

    pages = Pages(service, origins)
    joining = JoinPages(pages)
    routes: list[BaseRoute] = list(extra_routes or [])
    for hook_routes in service.pm.hook.register_routes():
        routes.extend(hook_routes or [])
    for slug, activity in sorted(_activities(service).items()):
        static_dir = activity_dir(activity) / "static"
        if static_dir.is_dir():
            routes.append(Mount(f"/-/static/{slug}", StaticFiles(directory=static_dir)))
    routes += [
        Route("/", pages.home),
        Route("/j", pages.join_by_form),
        Route("/j/{code}", joining.join_page, methods=["GET"]),
        Route("/j/{code}", joining.join_submit, methods=["POST"]),
        Route("/jury/{token}", joining.jury_page, methods=["GET"]),
        Route("/jury/{token}", joining.jury_submit, methods=["POST"]),
        Route("/p", pages.participant),
        Route("/f/{secret}", pages.facilitator_login),
        Route("/facilitator", pages.facilitator),
        Route("/s/{token}", pages.screen_login),
        Route("/screen", pages.screen),
        Route("/lang/{lang}", pages.set_language),
        Route("/-/plugins.json", pages.plugins_json),
        Route("/-/health", pages.health),
        *report_routes(service, pages),
        WebSocketRoute("/ws", LiveEndpoint(service, origins, pages).endpoint),
        Mount("/-/static", StaticFiles(directory=DISPLAYS_DIR / "static")),
    ]

    if os.environ.get("PALABRE_TEST_CLOCK") == "1":
        routes.insert(0, Route("/-/test/clock", pages.test_clock, methods=["POST"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(service.run())
        try:
            yield
        finally:
            task.cancel()
            service.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(TrustedHosts, allowed=allowed_hosts)
    app.add_middleware(BasePath, base=service.base)
    app.add_middleware(SecurityHeaders)  # outermost: refusals carry the headers too
    return app


def _activities(service: Service) -> dict[str, Any]:
    return service.activities
