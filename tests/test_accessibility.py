"""Accessibility of the three surfaces in a real Chromium: axe-core (tests/axe.py) on every
page at each step of a quick-start workshop, no serious or critical violation; every field
has a label; a keyboard user sees where the focus is; and every control of the facilitator
panel is reachable with Tab alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe import axe_source, blocking, describe, run_axe
from playwright.sync_api import expect

from browser import PHONE, browser  # noqa: F401  (fixture)
from support import Server

ROOT = Path(__file__).resolve().parent.parent
DESK = {"viewport": {"width": 1366, "height": 768}}
ROOM = {"viewport": {"width": 1920, "height": 1080}}

# Every element a keyboard user can act on.
CONTROLS = ("a[href], button, input:not([type=hidden]), select, textarea, summary, "
            "[tabindex]:not([tabindex='-1'])")
UNLABELLED_FIELDS = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea'))
  .filter((f) => !(f.labels && f.labels.length) && !f.getAttribute('aria-label')
                 && !f.getAttribute('aria-labelledby'))
  .map((f) => f.outerHTML.slice(0, 160))"""
SETTLED = "() => document.getAnimations().every((a) => a.playState !== 'running')"


def settle(page: Any) -> None:
    """Arrival animations and bar transitions finished: axe must not measure a card whose
    opacity is still rising (it would report its contrast mid-animation)."""
    page.wait_for_function(SETTLED)


class Audit:
    """axe, <html lang> and field labels on each page; failures are collected so that one
    run lists every page at fault."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.minor: dict[str, list[str]] = {}
        self.pages: list[str] = []

    def check(self, page: Any, where: str) -> None:
        settle(page)
        self.pages.append(where)
        lang = page.evaluate("document.documentElement.lang")
        if lang not in ("fr", "en"):
            self.failures.append(f"{where}: <html lang> is {lang!r}")
        unlabelled = page.evaluate(UNLABELLED_FIELDS)
        if unlabelled:
            self.failures.append(f"{where}: fields without a label: {unlabelled}")
        violations = run_axe(page)
        bad = blocking(violations)
        if bad:
            self.failures.append(f"axe on {where} ({page.url}):\n{describe(bad)}")
        others = [f"{v['id']} [{v['impact']}]" for v in violations if v not in bad]
        if others:
            self.minor[where] = others

    def assert_clean(self) -> None:
        if self.minor:  # shown with -s or on failure: worth fixing, not blocking
            print("minor/moderate axe findings:", self.minor)
        assert not self.failures, "\n\n".join(self.failures)


def join(context: Any, url: str, name: str = "") -> Any:
    page = context.new_page()
    page.goto(url)
    page.fill("#name", name)
    page.get_by_role("button", name="Rejoindre").click()
    page.wait_for_url("**/p")
    return page


def post_idea(phone: Any, title: str) -> None:
    phone.fill("#idea-title", title)
    phone.get_by_role("button", name="Envoyer mon idée").click()
    expect(phone.locator("[data-region=personal] .card--mine .card__title",
                         has_text=title)).to_be_visible()


def idea_card(panel: Any, title: str) -> Any:
    return panel.locator("[data-region=main] li.card",
                         has=panel.locator(".card__title", has_text=title))


def test_every_page_at_every_step_has_no_serious_accessibility_violation(
    browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    axe_source()  # skip (or fail in CI) before starting anything if axe-core cannot be had
    server = Server(tmp_path / "w.db").start()
    audit = Audit()
    try:
        outside = browser.new_context(**DESK).new_page()
        outside.goto(server.base + "/")
        audit.check(outside, "home page")
        outside.goto(server.base + "/j/NOPE42")
        audit.check(outside, "error page (unknown join code)")
        outside.goto(server.base + "/facilitator")
        audit.check(outside, "error page (no facilitator cookie)")

        panel = browser.new_context(**DESK).new_page()
        panel.goto(server.urls["facilitator"])
        screen = browser.new_context(**ROOM).new_page()
        screen.goto(server.urls["screen"])
        expect(screen.locator(".join-qr svg")).to_be_visible()
        audit.check(panel, "facilitator, ideas, empty")
        audit.check(screen, "screen, ideas, empty, join panel")

        ana_context = browser.new_context(**PHONE)
        joining = ana_context.new_page()
        joining.goto(server.urls["join"])
        audit.check(joining, "join page")
        joining.close()
        ana = join(ana_context, server.urls["join"], "Ana")
        audit.check(ana, "phone, ideas, nothing posted")
        bea = join(browser.new_context(**PHONE), server.urls["join"], "Béa")
        post_idea(ana, "Des bancs à l'ombre")
        post_idea(ana, "Un jardin partagé")
        post_idea(bea, "Plus de bancs sur la place")
        post_idea(bea, "Une fête des voisins")
        expect(screen.locator(".card")).to_have_count(4)
        ana.locator("details.edit summary").first.click()  # an edit form, open
        audit.check(ana, "phone, ideas, own ideas and an edit form")
        audit.check(screen, "screen, ideas, join panel")

        # The facilitator tidies: one hidden, one merged (the panel offers to undo both).
        idea_card(panel, "Une fête").get_by_role("button", name="Masquer").click()
        merged = idea_card(panel, "Plus de bancs")
        panel.get_by_label("Idée à garder").select_option(label="Des bancs à l'ombre")
        merged.get_by_role("button", name="Regrouper avec l’idée gardée").click()
        expect(merged.get_by_role("button", name="Défaire le regroupement")).to_be_visible()
        expect(screen.locator(".card")).to_have_count(2)
        audit.check(panel, "facilitator, ideas, a hidden and a merged idea")
        audit.check(bea, "phone, ideas, own idea hidden and merged")

        # The ideas step always shows the join panel (show_join in the kit); the vote step
        # shows it when the facilitator asks.
        panel.get_by_role("button", name="Étape suivante").click()
        expect(ana.locator(".vote-item")).to_have_count(2)
        expect(screen.locator(".screen-step")).to_have_text("Vote par gommettes")
        expect(screen.locator(".join-qr")).to_have_count(0)
        ana.get_by_role("button", name="Ajouter une gommette").first.click()
        expect(ana.locator(".vote-item .badge").first).to_have_attribute("data-mine", "1")
        audit.check(ana, "phone, vote, a dot placed")
        audit.check(panel, "facilitator, vote")
        audit.check(screen, "screen, vote, no join panel")
        panel.get_by_role("button", name="Afficher le QR code").click()
        expect(screen.locator(".join-qr svg")).to_be_visible()
        audit.check(screen, "screen, vote, join panel")

        panel.get_by_role("button", name="Dévoiler les résultats").click()
        expect(screen.locator(".bar")).to_have_count(2)
        audit.check(screen, "screen, vote, results revealed, join panel")
        panel.get_by_role("button", name="Masquer le QR code").click()
        expect(screen.locator(".join-qr")).to_have_count(0)
        audit.check(screen, "screen, vote, results revealed")
        audit.check(panel, "facilitator, vote, results revealed")
        expect(bea.locator(".bar")).to_have_count(2)
        audit.check(bea, "phone, vote, results shown")
        panel.get_by_role("button", name="Clore le vote").click()
        expect(ana.get_by_text("Le vote est clos.")).to_be_visible()
        audit.check(ana, "phone, vote closed")
    finally:
        server.stop()
    audit.assert_clean()


def test_the_screen_without_and_with_the_join_panel_during_ideas(
    browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    """quick-start's ideas step always shows the join panel; a kit whose ideas step leaves it
    to the facilitator shows the screen's ideas without it, then with it on request."""
    axe_source()
    kit = (ROOT / "facilitator_kits" / "quick-start.toml").read_text(encoding="utf-8")
    assert "show_join = true\n" in kit
    path = tmp_path / "no-join.toml"
    path.write_text(kit.replace("show_join = true\n", ""), encoding="utf-8")
    server = Server(tmp_path / "w.db", kit=str(path)).start()
    audit = Audit()
    try:
        panel = browser.new_context(**DESK).new_page()
        panel.goto(server.urls["facilitator"])
        screen = browser.new_context(**ROOM).new_page()
        screen.goto(server.urls["screen"])
        post_idea(join(browser.new_context(**PHONE), server.urls["join"]), "Des bancs")
        expect(screen.locator(".card")).to_have_count(1)
        expect(screen.locator(".join-qr")).to_have_count(0)
        audit.check(screen, "screen, ideas, no join panel")
        audit.check(panel, "facilitator, ideas, join QR not forced by the step")
        panel.get_by_role("button", name="Afficher le QR code").click()
        expect(screen.locator(".join-qr svg")).to_be_visible()
        audit.check(screen, "screen, ideas, join panel on request")
    finally:
        server.stop()
    audit.assert_clean()


# -- keyboard ---------------------------------------------------------------------------------
FOCUS_STYLE = """(el) => { const s = getComputedStyle(el);
  return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow].join(' | '); }"""


def keyboard_focus(page: Any, target: Any, limit: int = 80) -> None:
    """Tab from the top of the page until `target` has the focus (fails if it never does)."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    handle = target.element_handle()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(el) => document.activeElement === el", handle):
            return
    raise AssertionError(f"Tab never reached {target}")


def assert_focus_is_visible(page: Any, target: Any, where: str) -> None:
    page.evaluate("document.activeElement && document.activeElement.blur()")
    unfocused = target.evaluate(FOCUS_STYLE)
    keyboard_focus(page, target)
    focused = target.evaluate(FOCUS_STYLE)
    assert focused != unfocused, f"{where}: no visible change on keyboard focus ({focused})"
    width = target.evaluate("(el) => parseFloat(getComputedStyle(el).outlineWidth) || 0")
    shadow = target.evaluate("(el) => getComputedStyle(el).boxShadow")
    assert width >= 2 or shadow != "none", f"{where}: focus indicator too thin ({focused})"


def test_a_keyboard_user_sees_the_focus_on_every_surface(
    browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    server = Server(tmp_path / "w.db").start()
    try:
        panel = browser.new_context(**DESK).new_page()
        panel.goto(server.urls["facilitator"])
        assert_focus_is_visible(panel, panel.get_by_role("button", name="Étape suivante"),
                                "facilitator, « Étape suivante »")
        assert_focus_is_visible(panel, panel.get_by_role("button", name="Écran noir"),
                                "facilitator, a ghost button")
        phone_context = browser.new_context(**PHONE)
        page = phone_context.new_page()
        page.goto(server.urls["join"])
        assert_focus_is_visible(page, page.locator("#name"), "join page, the name field")
        assert_focus_is_visible(page, page.get_by_role("button", name="Rejoindre"),
                                "join page, « Rejoindre »")
        page.get_by_role("button", name="Rejoindre").click()
        page.wait_for_url("**/p")
        assert_focus_is_visible(page, page.locator("#idea-title"), "phone, the idea field")
        assert_focus_is_visible(page, page.get_by_role("button", name="Envoyer mon idée"),
                                "phone, « Envoyer mon idée »")
        post_idea(page, "Des bancs")
        panel.get_by_role("button", name="Étape suivante").click()
        plus = page.get_by_role("button", name="Ajouter une gommette").first
        expect(plus).to_be_visible()
        assert_focus_is_visible(page, plus, "phone, the + of a vote")
    finally:
        server.stop()


TAB_ORDER = """(controls) => {
  window.__controls = Array.from(document.querySelectorAll(controls)).filter((el) =>
    !el.disabled && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
    && !el.closest('[inert]')
    // Inside a closed <details>, a control is reached by opening it: its <summary> is.
    && !(el.closest('details:not([open])') && !el.closest('summary')));
  window.__reached = new Set();
  return window.__controls.map((el) => el.outerHTML.slice(0, 140));
}"""


FOCUSED = """() => { const a = document.activeElement;
  const i = window.__controls.indexOf(a); if (i >= 0) window.__reached.add(i);
  return [a === document.body, a.getClientRects().length > 0, a.outerHTML.slice(0, 140)]; }"""


def assert_every_control_is_reachable_by_tab(page: Any, where: str) -> int:
    controls = page.evaluate(TAB_ORDER, CONTROLS)
    assert controls, f"{where}: no controls found"
    page.evaluate("document.activeElement && document.activeElement.blur()")
    hidden_focus = []
    for _ in range(len(controls) * 2 + 10):
        page.keyboard.press("Tab")
        on_body, visible, html = page.evaluate(FOCUSED)
        if not visible and not on_body:
            hidden_focus.append(html)
        if page.evaluate("window.__reached.size") == len(controls):
            break
    missing = page.evaluate(
        "() => window.__controls.filter((_, i) => !window.__reached.has(i))"
        ".map((el) => el.outerHTML.slice(0, 140))")
    assert not missing, f"{where}: not reachable with Tab: {missing}"
    assert not hidden_focus, f"{where}: the focus went to invisible elements: {hidden_focus}"
    return len(controls)


def test_every_facilitator_control_is_reachable_by_tab(
    browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    server = Server(tmp_path / "w.db").start()
    try:
        panel = browser.new_context(**DESK).new_page()
        panel.goto(server.urls["facilitator"])
        phones = [join(browser.new_context(**PHONE), server.urls["join"]) for _ in range(2)]
        for n, title in enumerate(("Des bancs", "Un jardin", "Plus de bancs", "Un marché")):
            post_idea(phones[n % 2], title)
        expect(panel.locator("[data-region=main] li.card")).to_have_count(4)
        idea_card(panel, "Un marché").get_by_role("button", name="Masquer").click()
        merged = idea_card(panel, "Plus de bancs")
        panel.get_by_label("Idée à garder").select_option(label="Des bancs")
        merged.get_by_role("button", name="Regrouper avec l’idée gardée").click()
        expect(merged.get_by_role("button", name="Défaire le regroupement")).to_be_visible()
        # The sidebar's details (screen preview) open too: its contents are controls as well.
        panel.locator("details.screen-preview summary").click()
        count = assert_every_control_is_reachable_by_tab(panel, "facilitator, ideas")
        assert count >= 12, count

        panel.get_by_role("button", name="Étape suivante").click()
        expect(panel.get_by_role("button", name="Dévoiler les résultats")).to_be_visible()
        assert_every_control_is_reachable_by_tab(panel, "facilitator, vote")
        # And the controls work from the keyboard: Enter on « Dévoiler les résultats ».
        reveal = panel.get_by_role("button", name="Dévoiler les résultats")
        keyboard_focus(panel, reveal)
        panel.keyboard.press("Enter")
        expect(panel.get_by_role("button", name="Masquer les résultats")).to_be_visible()
    finally:
        server.stop()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_pages_declare_their_language(browser: Any, tmp_path: Path, lang: str) -> None:  # noqa: F811
    server = Server(tmp_path / "w.db").start()
    try:
        page = browser.new_context(**PHONE).new_page()
        page.goto(f"{server.base}/lang/{lang}?next=/j/{server.join_code}")
        assert page.evaluate("document.documentElement.lang") == lang
        page.get_by_role("button", name={"fr": "Rejoindre", "en": "Join"}[lang]).click()
        page.wait_for_url("**/p")
        assert page.evaluate("document.documentElement.lang") == lang
    finally:
        server.stop()
