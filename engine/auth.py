"""Who is who: facilitator secret, signed device cookies, allowed WebSocket origins."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeSerializer

from .activity import Role

COOKIE_NAMES = {"facilitator": "palabre_f", "screen": "palabre_s", "participant": "palabre_p"}
LANG_COOKIE = "palabre_lang"
JOIN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed
JOIN_CODE_LENGTH = 6

RoleName = Literal["facilitator", "screen", "participant"]


def new_facilitator_secret() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalise_join_code(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


@dataclass(frozen=True)
class Identity:
    """Who a cookie says this is; jurors hold a participant cookie and the roster's role."""

    workshop_id: str
    role: Role
    participant_id: str | None = None


class CookieSigner:
    """Cookies carry the workshop id and role, signed with the workshop's own key, so a
    cookie from another workshop or another role never verifies."""

    def __init__(self, key: str, workshop_id: str) -> None:
        self.workshop_id = workshop_id
        self._serializer = URLSafeSerializer(key, salt="palabre-identity")

    def sign(self, role: RoleName, participant_id: str | None = None) -> str:
        return self._serializer.dumps([self.workshop_id, role, participant_id])

    def read(self, role: RoleName, value: str | None) -> Identity | None:
        if not value or len(value) > 512:
            return None
        try:
            workshop_id, signed_role, participant_id = self._serializer.loads(value)
        except (BadSignature, ValueError, TypeError):
            return None
        if workshop_id != self.workshop_id or signed_role != role:
            return None
        return Identity(workshop_id, role, participant_id)


def origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme.lower()}://{host.lower()}"


def allowed_origins(port: int, hosts: list[str], public_url: str | None) -> frozenset[str]:
    """The exact origins our own pages are served from; nothing is derived from headers."""
    origins = {f"http://{h}:{port}" for h in hosts}
    if port == 80:
        origins |= {f"http://{h}" for h in hosts}
    if public_url:
        origins.add(origin_of(public_url))
    return frozenset(o.lower() for o in origins)
