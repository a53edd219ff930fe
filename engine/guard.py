"""Guards in front of the routes: wrong secrets are rate-limited, Host headers are checked.

Join codes are short (six characters read aloud from a projector), so guessing them must be
slow: every wrong code, jury link, facilitator or screen link costs the sender's address a
token. Right answers cost nothing, so a town hall behind one router joins freely; only the
one guessing is refused. Identity is never keyed on an address, only this throttle is.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# A room mistypes a code now and then; a script tries thousands. 30 tries at once, then one
# more every two seconds: a person never notices, a billion codes take decades.
FAILURE_BURST = 30.0
FAILURES_PER_SECOND = 0.5
MAX_TRACKED_ADDRESSES = 10_000


class FailureLimiter:
    """A token bucket of wrong secrets per client address."""

    def __init__(
        self,
        burst: float = FAILURE_BURST,
        per_second: float = FAILURES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, stamp)

    def blocked(self, address: str) -> bool:
        return self._tokens(address) < 1

    def failed(self, address: str) -> None:
        tokens = self._tokens(address)
        if len(self._buckets) >= MAX_TRACKED_ADDRESSES:
            self._forget_the_refilled()
        self._buckets[address] = (max(0.0, tokens - 1), self.clock())

    def retry_after(self, address: str) -> int:
        missing = 1 - self._tokens(address)
        return max(1, int(missing / self.per_second + 0.999))

    def _tokens(self, address: str) -> float:
        tokens, stamp = self._buckets.get(address, (self.burst, self.clock()))
        return min(self.burst, tokens + (self.clock() - stamp) * self.per_second)

    def _forget_the_refilled(self) -> None:
        # Full buckets carry no information; dropping them bounds memory under a spray of
        # addresses without forgiving anyone who is still being throttled.
        for address in [a for a in self._buckets if self._tokens(a) >= self.burst]:
            del self._buckets[address]
        if len(self._buckets) >= MAX_TRACKED_ADDRESSES:
            self._buckets.clear()


# host[:port]: a DNS name, an IPv4 address or a bracketed IPv6 address; nothing else.
HOST_HEADER = re.compile(
    r"^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)"
    r"(?::[0-9]{1,5})?$"
)


def host_name(header: str) -> str | None:
    """The host part of a Host header, lowercased, or None when the header is malformed."""
    value = header.strip().lower()
    if len(value) > 260 or not HOST_HEADER.match(value):
        return None
    if value.startswith("["):
        return value[: value.index("]") + 1]
    return value.rsplit(":", 1)[0] if ":" in value else value


class TrustedHosts:
    """Refuses requests whose Host header is malformed (always) or, when the operator listed
    the names the server is reached by (--allowed-host), names another host: 400 for HTTP, a
    refused handshake for WebSockets. Nothing in the app builds links or decides access from
    the Host header; this keeps DNS-rebinding pages and cache poisoning out anyway."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._ok(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = PlainTextResponse("Invalid Host header", status_code=400)
        await response(scope, receive, send)

    def _ok(self, scope: Scope) -> bool:
        headers = [v for k, v in scope["headers"] if k == b"host"]
        if len(headers) != 1:
            return False
        name = host_name(headers[0].decode("latin-1"))
        return name is not None and (not self.allowed or name in self.allowed)


# A workshop's path on a shared host name: letters, digits and - _ . only, a segment or more.
BASE_PATH = re.compile(r"^(/[A-Za-z0-9._-]+)*$")


def base_path(public_url: str) -> str:
    """The path part of the public URL, without its trailing slash: "" for a host of its
    own, "/amiens" for https://ateliers.example.org/amiens (docs/deployment.md: many
    workshops on one host name, the proxy routing each path to its workshop's worker)."""
    from urllib.parse import urlsplit

    path = urlsplit(public_url).path.rstrip("/")
    if not BASE_PATH.match(path):
        raise ValueError(
            f"--public-url: its path {path!r} may hold only letters, digits and - _ . / "
            "(e.g. https://ateliers.example.org/amiens)"
        )
    return path


class BasePath:
    """Serves the app under its public URL's path: a request for /amiens/p is routed as /p
    (Starlette's root_path), and links are built with the prefix (the `base` template
    global). Requests without the prefix are served too: a proxy may strip it, and a health
    check may come straight to the worker."""

    def __init__(self, app: ASGIApp, base: str) -> None:
        self.app = app
        self.base = base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            self.base
            and scope["type"] in ("http", "websocket")
            and (path == self.base or path.startswith(self.base + "/"))
        ):
            scope = {**scope, "root_path": self.base}
        await self.app(scope, receive, send)


def route_path(scope: Scope) -> str:
    """The request's path without the workshop's prefix (as the routes see it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
