"""Joining a workshop: participants by the join code (the QR), jurors by their own link."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .activity import N_, Rejection
from .auth import normalise_join_code
from .guard import route_path
from .text import clean_text

if TYPE_CHECKING:
    from .app import Pages

MAX_FORM_BYTES = 4096


class JoinPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.service = pages.service

    async def join_page(self, request: Request) -> Response:
        refused = self._replay_refusal(request) or self._code_refusal(request)
        return refused or self._form_or_redirect(request, "participant", {})

    async def join_submit(self, request: Request) -> Response:
        refused = self._replay_refusal(request) or self._code_refusal(request)
        return refused or await self._submit(request, "participant")

    async def jury_page(self, request: Request) -> Response:
        refused = self._replay_refusal(request) or self._token_refusal(request)
        return refused or self._form_or_redirect(request, "juror", {})

    async def jury_submit(self, request: Request) -> Response:
        refused = self._replay_refusal(request) or self._token_refusal(request)
        return refused or await self._submit(request, "juror")

    def _replay_refusal(self, request: Request) -> Response | None:
        if not self.service.read_only:
            return None
        message = N_("This is a replay of a past workshop: nobody can join it.")
        return self.pages.refuse(request, message, 403)

    # -----------------------------------------------------------------------------------
    def _form_or_redirect(
        self,
        request: Request,
        role: str,
        form: dict[str, str],
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        if self.pages.identity(request, "participant") and not error:
            return RedirectResponse(f"{self.service.base}/p", status_code=303)
        context: dict[str, Any] = {
            "action": self.service.base + route_path(request.scope),
            "role": role,
            "tables": self.service.kit.tables,
            "form": form,
            "error": error,
        }
        return self.pages.page(request, "join.html", context, status=status)

    async def _submit(self, request: Request, role: str) -> Response:
        if self.pages.identity(request, "participant"):
            return RedirectResponse(f"{self.service.base}/p", status_code=303)
        form = await _read_form(request)
        lang = self.pages.lang_for(request)
        try:
            name = clean_text(
                form.get("name"), field="name", max_graphemes=40, required=role == "juror"
            )
            table = _table(form.get("table"), self.service.kit.tables, role)
            captain = form.get("captain") == "on"
            participant_id = await self.service.join_committed(name, lang, role, table, captain)
        except Rejection as rejection:
            error = self.service.renderer.gettext(lang, rejection.message, rejection.params)
            return self._form_or_redirect(request, role, form, error=error, status=400)
        response = RedirectResponse(f"{self.service.base}/p", status_code=303)
        self.pages.set_cookie(
            response, "participant", self.service.signer.sign("participant", participant_id)
        )
        return response

    def _code_refusal(self, request: Request) -> Response | None:
        return self.pages.check_secret(
            request,
            normalise_join_code(request.path_params["code"]),
            self.service.secrets.join_code,
            N_("Unknown join code. Check the code on the screen."),
        )

    def _token_refusal(self, request: Request) -> Response | None:
        return self.pages.check_secret(
            request,
            request.path_params["token"],
            self.service.secrets.jury_token,
            N_("This jury link is not valid."),
        )


def _table(raw: str | None, tables: int, role: str) -> int | None:
    if tables == 0 or role == "juror":
        return None
    if not raw:
        raise Rejection("no_table", N_("Choose your table number."), field="table")
    try:
        return int(raw)
    except ValueError:
        raise Rejection("no_table", N_("Choose your table number."), field="table") from None


async def _read_form(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            break
    fields = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), max_num_fields=10)
    return {key: values[0] for key, values in fields.items()}
