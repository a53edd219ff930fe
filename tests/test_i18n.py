"""Translations: every message in the source has a French translation in its own catalog,
the catalogs are clean, and both languages render — in the Renderer and in a real server.

The catalogs are refreshed with the commands at the top of babel.cfg (one `pybabel extract`
and one `pybabel update` per location); this file extracts with the same map and keywords.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import string
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from palabre.engine import Action, Actor, Rejection
from palabre.engine.i18n import DOMAIN
from palabre.engine.plugins import LOAD_PLUGINS_ENV, collect_activities, get_plugin_manager
from palabre.engine.render import DISPLAYS_DIR, ENGINE_DIR, Renderer, activity_dir
from palabre.plugins.dot_voting.activity import DotVoting, DotVotingConfig
from palabre.plugins.ideation.activity import Ideation, IdeationConfig
from support import Client, Server

ROOT = Path(__file__).resolve().parent.parent
BABEL_CFG = ROOT / "babel.cfg"
# Babel's default keywords (_, gettext, ngettext, N_, …) plus `-k N_`, as on the command line.
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
FRENCH_PLURALS = "nplurals=2; plural=(n > 1);"
NBSP, NNBSP = "\u00a0", "\u202f"


# -- the four locations and their catalogs ------------------------------------------------------
def _plugin_manager() -> Any:
    # All the built-in plugins, and only them: neither PALABRE_LOAD_PLUGINS nor an unrelated
    # installed plugin may change what these tests check.
    with mock.patch.dict(os.environ):
        os.environ.pop(LOAD_PLUGINS_ENV, None)
        return get_plugin_manager(load_entry_points=False)


def _locations() -> dict[str, Path]:
    """Every directory whose `locales/` the Renderer loads: engine, displays, each activity."""
    places = {"engine": ENGINE_DIR, "displays": DISPLAYS_DIR}
    pm = _plugin_manager()
    for slug, cls in collect_activities(pm).items():
        places[slug] = activity_dir(cls)
    for extra in pm.hook.register_locale_dirs():
        for locale_dir in extra:
            places[Path(locale_dir).parent.name] = Path(locale_dir).parent
    return places


LOCATIONS = _locations()


def forms(value: Any) -> tuple[str, ...]:
    """A msgid or msgstr as a tuple of strings (one, or one per plural form)."""
    if isinstance(value, (tuple, list)):
        return tuple(str(v or "") for v in value)
    return (str(value or ""),)


def msg_key(msgid: Any) -> str:
    return forms(msgid)[0]


def po_path(location: str) -> Path:
    return LOCATIONS[location] / "locales" / "fr" / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_catalog(location: str) -> Catalog:
    with po_path(location).open("rb") as fp:
        return read_po(fp, locale="fr", domain=DOMAIN)


def extracted(location: str) -> dict[str, tuple[str | tuple[str, ...], set[str]]]:
    """msgid key -> (message, the files it comes from), extracted as `pybabel extract` does."""
    with BABEL_CFG.open(encoding="utf-8") as fp:
        method_map, options_map = parse_mapping_cfg(fp, str(BABEL_CFG))  # type: ignore[no-untyped-call]
    found: dict[str, tuple[str | tuple[str, ...], set[str]]] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(LOCATIONS[location]),
        method_map,
        options_map,
        keywords=KEYWORDS,
    ):
        assert context is None, f"{location}: {filename}: message contexts are not used"
        key = msg_key(message)
        previous, files = found.get(key, (message, set()))
        assert previous == message, f"{location}: {key!r} used with two plural forms"
        found[key] = (message, files | {filename})
    return found


def test_every_location_is_covered() -> None:
    assert {"engine", "displays", "ideation", "dot_voting"} <= set(LOCATIONS)
    assert LOCATIONS["ideation"] == ROOT / "plugins" / "ideation"
    assert LOCATIONS["dot_voting"] == ROOT / "plugins" / "dot_voting"
    for location in LOCATIONS:
        assert po_path(location).is_file(), f"no French catalog for {location}"


def test_extraction_finds_python_and_template_messages() -> None:
    # Guards against a babel.cfg that silently matches nothing.
    assert "Unknown action." in extracted("engine")
    assert "Join" in extracted("displays")
    ideation, dot_voting = extracted("ideation"), extracted("dot_voting")
    assert "You already posted this idea." in ideation  # activity.py, N_
    assert "Send my idea" in ideation  # templates/participant.html, _()
    assert dot_voting["%(num)d dot left"][0] == ("%(num)d dot left", "%(num)d dots left")


# -- (a) every message is translated, with the same placeholders --------------------------------
_PERCENT = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def placeholders(text: str) -> set[str]:
    names = set(_PERCENT.findall(text))
    try:
        names |= {field for _, field, _, _ in string.Formatter().parse(text) if field}
    except ValueError as exc:
        raise AssertionError(f"unbalanced braces in {text!r}") from exc
    return names


def _sample(names: set[str]) -> dict[str, Any]:
    return {name: 7 for name in names}


def _check_usable(text: str, names: set[str], files: set[str], where: str) -> None:
    """Use the translation the way the engine will, so a stray % or { cannot break a page."""
    params = _sample(names)
    if any(f.endswith(".html") for f in files):
        # Jinja's newstyle gettext always applies `%` with the call's variables (and `num`).
        text % (params | {"num": 7})  # noqa: B018
    if "{" in text or "}" in text or any(f.endswith(".py") for f in files):
        # engine/i18n.translate applies str.format with the Rejection's params (and `field`).
        text.format(**({"field": "title"} | params))


@pytest.mark.parametrize("location", sorted(LOCATIONS))
def test_every_source_message_has_a_french_translation(location: str) -> None:
    catalog = load_catalog(location)
    problems = []
    for key, (message, files) in sorted(extracted(location).items()):
        entry = catalog.get(key)
        where = f"{location}: {key!r} ({', '.join(sorted(files))})"
        if entry is None:
            problems.append(f"{where}: missing from the catalog; re-run the extraction")
            continue
        if entry.id != message:
            problems.append(f"{where}: catalog has {entry.id!r}, source has {message!r}")
            continue
        ids, strings = forms(message), forms(entry.string)
        expected = set().union(*(placeholders(i) for i in ids))
        if len(strings) != len(ids):  # French has two plural forms, like English
            problems.append(f"{where}: expected {len(ids)} form(s), got {len(strings)}")
        for text in strings:
            if not text or not text.strip():
                problems.append(f"{where}: no French translation")
            elif placeholders(text) != expected:
                problems.append(
                    f"{where}: {text!r} has placeholders {sorted(placeholders(text))}"
                    f", expected {sorted(expected)}"
                )
            else:
                try:
                    _check_usable(text, expected, files, where)
                except (KeyError, ValueError, TypeError, IndexError) as exc:
                    problems.append(f"{where}: {text!r} cannot be formatted: {exc!r}")
    assert not problems, "\n".join(problems)


# -- (b) clean catalogs ---------------------------------------------------------------------------
@pytest.mark.parametrize("location", sorted(LOCATIONS))
def test_catalog_is_clean(location: str) -> None:
    catalog = load_catalog(location)
    # A fuzzy header makes `pybabel compile` skip the whole catalog.
    assert not catalog.fuzzy, f"{location}: the header is marked fuzzy"
    headers = dict(catalog.mime_headers)
    assert headers.get("Language") == "fr"
    assert headers.get("Plural-Forms") == FRENCH_PLURALS
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"{location}: fuzzy entries (check, then drop the flag): {fuzzy}"
    assert not catalog.obsolete, f"{location}: obsolete entries: {list(catalog.obsolete)}"
    source = extracted(location)
    stale = [m.id for m in catalog if m.id and msg_key(m.id) not in source]
    assert not stale, f"{location}: no longer in the source (re-run pybabel update): {stale}"
    text = po_path(location).read_text(encoding="utf-8")
    assert "#, fuzzy" not in text and "#~" not in text


def test_a_message_shared_by_two_catalogs_reads_the_same() -> None:
    # The catalogs are merged into one Translations per language: the last one would win.
    seen: dict[str, tuple[str, Any]] = {}
    for location in sorted(LOCATIONS):
        for entry in load_catalog(location):
            if not entry.id:
                continue
            key = msg_key(entry.id)
            if key in seen:
                other, string_ = seen[key]
                assert string_ == entry.string, (
                    f"{key!r}: {other} says {string_!r}, {location} says {entry.string!r}"
                )
            seen[key] = (location, entry.string)


def _strip_placeholders(text: str) -> str:
    return re.sub(r"\{[^{}]*\}", "", _PERCENT.sub("", text))


def french_typography_problems(text: str) -> Iterator[str]:
    plain = _strip_placeholders(text)
    if "..." in plain:
        yield "use … rather than ..."
    if '"' in plain:
        yield "use « » rather than straight quotes"
    if "'" in plain:
        yield "use the typographic apostrophe ’"
    for match in re.finditer(r"[:;!?»]", plain):
        if match.start() == 0 or plain[match.start() - 1] not in (NBSP, NNBSP):
            yield f"no-break space needed before {match.group()!r}"
    for match in re.finditer("«", plain):
        if plain[match.end() : match.end() + 1] not in (NBSP, NNBSP):
            yield "no-break space needed after «"


@pytest.mark.parametrize("location", sorted(LOCATIONS))
def test_french_typography(location: str) -> None:
    problems = []
    for entry in load_catalog(location):
        if not entry.id:
            continue
        for text in forms(entry.string):
            problems += [f"{location}: {text!r}: {p}" for p in french_typography_problems(text)]
    assert not problems, "\n".join(problems)


# -- (c) rendering in both languages --------------------------------------------------------------
@pytest.fixture(scope="module")
def renderer() -> Renderer:
    pm = _plugin_manager()
    return Renderer(collect_activities(pm), pm)


def _render(renderer: Renderer, lang: str, template: str, **context: Any) -> str:
    return html.unescape(renderer.render(lang, template, context))


def _client_texts(page: str) -> dict[str, str]:
    """The strings base.html hands to palabre.js in data-i18n (JSON, \\u-escaped)."""
    match = re.search(r"data-i18n='([^']*)'", page)
    assert match, "no data-i18n attribute"
    return dict(json.loads(html.unescape(match.group(1))))


def test_shell_templates_render_in_both_languages(renderer: Renderer) -> None:
    kit = SimpleNamespace(title="Atelier")
    join = SimpleNamespace(code="ABC234", short_url="example.test/j/ABC234", qr_svg="<svg></svg>")
    fr = renderer.render("fr", "home.html", {"nonce": "n", "kit": kit})
    en = renderer.render("en", "home.html", {"nonce": "n", "kit": kit})
    assert '<html lang="fr">' in fr and '<html lang="en">' in en
    assert "Code d’accès affiché à l’écran" in html.unescape(fr)
    assert "Join code shown on the screen" in en and "Rejoindre" not in en
    assert _client_texts(fr)["sent"] == "Envoyé"
    assert _client_texts(en)["sent"] == "Sent"
    assert "Reconnexion…" == _client_texts(fr)["reconnecting"]
    panel_fr = _render(renderer, "fr", "join_panel.html", join=join)
    panel_en = _render(renderer, "en", "join_panel.html", join=join)
    assert "Rejoignez l’atelier depuis votre téléphone" in panel_fr
    assert 'aria-label="Code d’accès"' in panel_fr
    assert "Join from your phone" in panel_en


def _ideation_with(count: int) -> tuple[Ideation, Any]:
    activity = Ideation(IdeationConfig(max_title=80, max_description=280))
    state = activity.initial_state([])
    for n in range(count):
        actor = Actor("participant", f"p{n}")
        for event in activity.handle(state, Action("post", {"title": f"Idée {n}"}), actor):
            event = type(event)(event.kind, event.data, actor.key)
            state = activity.reduce(state, event)
    return activity, state


@pytest.mark.parametrize(
    ("count", "fr_count", "en_count"),
    [
        (0, "0 idée pour l’instant", "0 ideas so far"),
        (1, "1 idée pour l’instant", "1 idea so far"),
        (3, "3 idées pour l’instant", "3 ideas so far"),
    ],
)
def test_ideation_renders_in_both_languages(
    renderer: Renderer, count: int, fr_count: str, en_count: str
) -> None:
    activity, state = _ideation_with(count)
    context = {"view": activity.view(state, "participant"), "step": SimpleNamespace(id="ideas")}
    fr = _render(renderer, "fr", "ideation/participant.html", **context)
    en = _render(renderer, "en", "ideation/participant.html", **context)
    assert "Envoyer mon idée" in fr and "80 caractères maximum." in fr and fr_count in fr
    assert "Send my idea" in en and "At most 80 characters." in en and en_count in en
    assert "Envoyer" not in en


def test_dot_voting_renders_in_both_languages(renderer: Renderer) -> None:
    activity = DotVoting(
        DotVotingConfig(dots=5, max_per_item=3, items=[{"id": "a", "title": "Un jardin partagé"}])
    )
    state = activity.initial_state([])
    me = Actor("participant", "p1")
    for event in activity.handle(state, Action("vote", {"item": "a"}), me):
        state = activity.reduce(state, type(event)(event.kind, event.data, me.key))
    step = SimpleNamespace(id="vote")
    personal = {"view": activity.personal_view(state, Actor("participant", "p1")), "step": step}
    assert "Il vous reste 4 gommettes" in _render(
        renderer, "fr", "dot_voting/personal.html", **personal
    )
    assert "4 dots left" in _render(renderer, "en", "dot_voting/personal.html", **personal)
    board = {"view": activity.view(state, "facilitator"), "step": step}
    fr = _render(renderer, "fr", "dot_voting/facilitator.html", **board)
    en = _render(renderer, "en", "dot_voting/facilitator.html", **board)
    assert "personne a voté" in fr and "1 gommette posée" in fr and "Clore le vote" in fr
    assert "voter ·" in en and "1 dot spent" in en and "Close the vote" in en


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_activity_template_renders(renderer: Renderer, lang: str) -> None:
    step = SimpleNamespace(id="s")
    ideation, idea_state = _ideation_with(2)
    voting = DotVoting(DotVotingConfig(items=[{"id": "a", "title": "A"}]))
    vote_state = voting.initial_state([])
    for activity, state in ((ideation, idea_state), (voting, vote_state)):
        for audience in ("facilitator", "screen", "participant"):
            view = activity.view(state, audience)
            assert renderer.render(
                lang, f"{activity.slug}/{audience}.html", {"view": view, "step": step}
            )
        view = activity.personal_view(state, Actor("participant", "p0"))
        assert renderer.render(lang, f"{activity.slug}/personal.html", {"view": view, "step": step})


def test_a_rejection_is_translated_with_its_parameters(renderer: Renderer) -> None:
    activity = DotVoting(DotVotingConfig(dots=5, max_per_item=3, items=[{"id": "a", "title": "A"}]))
    state = activity.initial_state([])
    me = Actor("participant", "p1")
    for _ in range(3):
        for event in activity.handle(state, Action("vote", {"item": "a"}), me):
            state = activity.reduce(state, type(event)(event.kind, event.data, me.key))
    with pytest.raises(Rejection) as caught:
        activity.handle(state, Action("vote", {"item": "a"}), me)
    message = caught.value.message
    assert message == "This item already has the most dots allowed ({limit})."
    assert caught.value.params == {"limit": 3}
    fr = renderer.gettext("fr", message, {"limit": 3})
    assert fr == "Vous avez atteint le maximum de gommettes sur cette proposition (3)."
    en = renderer.gettext("en", message, {"limit": 3})
    assert en == "This item already has the most dots allowed (3)."
    assert renderer.gettext("fr", "Unknown action.") == "Action inconnue."


# -- (d) a real server: French by default, /lang/en switches, and back ---------------------------
def _page_language(page: str) -> str:
    match = re.search(r'<html lang="(\w+)">', page)
    assert match, page[:200]
    return match.group(1)


def test_server_pages_follow_the_language_cookie(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(LOAD_PLUGINS_ENV, raising=False)  # the quick-start kit needs both
    server = Server(tmp_path / "w.db").start()
    try:
        asyncio.run(_language_scenario(server))
    finally:
        server.stop()


async def _language_scenario(server: Server) -> None:
    phone = Client(server, "participant")
    try:
        # Before joining: the quick-start kit is French.
        join_page = phone.http.get(f"/j/{server.join_code}").text
        assert _page_language(join_page) == "fr"
        assert f"Bienvenue{NNBSP}!" in join_page and "Welcome!" not in join_page
        refused = phone.http.get("/facilitator")
        assert refused.status_code == 403
        assert "Ouvrez le lien d’animation" in html.unescape(refused.text)

        phone.join("Alice")
        page = html.unescape(phone.http.get("/p").text)
        assert _page_language(page) == "fr"
        assert "Envoyer mon idée" in page and "Send my idea" not in page
        assert 'href="/lang/en?next=/p"' in page
        assert _client_texts(page)["sent"] == "Envoyé"
        await _check_live(phone, "Envoyer mon idée", "Merci d’écrire quelque chose.")

        switched = phone.http.get("/lang/en?next=/p")
        assert switched.url.path == "/p"
        page = html.unescape(switched.text)
        assert _page_language(page) == "en"
        assert "Send my idea" in page and "Envoyer mon idée" not in page
        assert "At most 80 characters." in page
        assert _client_texts(page)["sent"] == "Sent"
        await _check_live(phone, "Send my idea", "Please write something.")

        back = html.unescape(phone.http.get("/lang/fr?next=/p").text)
        assert _page_language(back) == "fr"
        assert "Envoyer mon idée" in back and "80 caractères maximum." in back
    finally:
        await phone.close()


async def _check_live(phone: Client, expected_in_main: str, empty_title_error: str) -> None:
    """The WebSocket views and rejection messages use the language of the cookie."""
    phone.regions.clear()
    await phone.connect()
    try:
        assert expected_in_main in html.unescape(phone.regions["main"])
        ack = await phone.act("post", {"title": "   "}, step="ideas")
        assert ack["ok"] is False
        assert ack["error"]["message"] == empty_title_error
    finally:
        await phone.ws.close()
        phone.ws = None
