"""A whole quick-start workshop in a real Chromium, through the real pages only: the panel on
a laptop, the projector at 1080p, eight phones that join by the URL decoded from the QR code
on the projector. Ideas typed in the real form reach the projector; the facilitator hides,
merges and undoes both from the panel; « Étape suivante » and « Étape précédente » move every
surface; dots tapped on phones become bars once revealed; a phone that loses the Wi-Fi while
someone types catches up without a reload and keeps the text; a reload keeps the person and
their dots; and no page ever asks anything of another server.

Screenshots of each surface at each step go to tests/artifacts/workshop-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from browser import PHONE, browser  # noqa: F401  (fixture)
from browser import screenshot as save_screenshot
from support import Server

DESK = {"viewport": {"width": 1366, "height": 768}}
ROOM = {"viewport": {"width": 1920, "height": 1080}}
DOTS, MAX_PER_ITEM = 5, 3  # facilitator_kits/quick-start.toml

# One idea per phone; phone 1's is a duplicate of phone 0's, phone 5's gets hidden.
IDEAS = [
    "Des bancs à l'ombre près du marché",
    "Plus de bancs sur la place",
    "Un jardin partagé au pied des immeubles",
    "Une piste cyclable sûre vers le collège",
    "Un café des aînés le mardi",
    "Des toilettes publiques au parc",
    "Une fête des voisins en juin",
]
TYPED = ("Un composteur", " collectif", " dans la cour")  # phone 7, across a Wi-Fi cut
MEANWHILE = "Éclairer l'allée des Tilleuls"  # posted by phone 0 while phone 7 is offline
COMPOST = "".join(TYPED)
# Which items each phone taps + on (phone 0 spends every dot, up to the cap on one item).
TAPS = [
    [IDEAS[0]] * 3 + [IDEAS[2]] * 2,
    [IDEAS[0], IDEAS[3]],
    [IDEAS[2], IDEAS[2]],
    [IDEAS[3]],
    [IDEAS[4], COMPOST],
    [IDEAS[0]],
    [MEANWHILE, IDEAS[2]],
    [COMPOST, COMPOST, IDEAS[1]],
]
LATE_TAP = (7, IDEAS[6])  # a dot placed once the bars are on the screen


def screenshot(page: Any, name: str) -> None:
    """tests/browser.py's screenshot, once arrival animations and bar transitions are over
    (a card caught mid-fade would look greyed out)."""
    page.wait_for_function(
        "() => document.getAnimations().every((a) => a.playState !== 'running')")
    save_screenshot(page, name)


def decode_qr(png: Path) -> str:
    results = zxingcpp.read_barcodes(Image.open(png))
    assert results, f"no QR code found in {png}"
    return str(results[0].text)


class Requests:
    """Every request and WebSocket of every page of the given contexts."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def watch(self, context: Any) -> Any:
        context.on("request", lambda r: self.urls.append(r.url))
        context.on("page", lambda page: page.on("websocket", lambda ws: self.urls.append(ws.url)))
        return context

    def outside(self, base: str) -> list[str]:
        ours = (base + "/", base.replace("http://", "ws://", 1) + "/")
        return [u for u in self.urls if not u.startswith(ours) and not u.startswith("data:")]


def idea_card(panel: Any, title: str) -> Any:
    return panel.locator("[data-region=main] li.card",
                         has=panel.locator(".card__title", has_text=title))


def vote_item(phone: Any, title: str) -> Any:
    return phone.locator(".vote-item", has=phone.locator(".card__title", has_text=title))


def screen_bar(screen: Any, title: str) -> Any:
    return screen.locator(".bar", has=screen.locator(".bar__label", has_text=title)) \
        .locator(".bar__value")


def post(phone: Any, title: str) -> None:
    phone.fill("#idea-title", title)
    phone.get_by_role("button", name="Envoyer mon idée").tap()
    expect(phone.locator("[data-region=personal] .card--mine .card__title",
                         has_text=title)).to_be_visible()
    expect(phone.locator("#idea-title")).to_have_value("")  # reset after the ack


def tap_plus(phone: Any, title: str) -> None:
    item = vote_item(phone, title)
    badge = item.locator(".badge")
    before = int(badge.get_attribute("data-mine") or "0")
    item.get_by_role("button", name="Ajouter une gommette").tap()
    expect(badge).to_have_attribute("data-mine", str(before + 1))


def dots_left(phone: Any) -> str:
    return re.sub(r"\s+", " ", phone.locator(".dots-left").inner_text()).strip()


def ballot(phone: Any) -> dict[str, str]:
    return {title: vote_item(phone, title).locator(".badge").get_attribute("data-mine") or ""
            for title in [*IDEAS, MEANWHILE, COMPOST]}


def no_scrollbars(screen: Any, phones: list[Any]) -> None:
    size = screen.evaluate(
        "[document.documentElement.scrollHeight, document.documentElement.scrollWidth]")
    assert size[0] <= 1080 and size[1] <= 1920, f"the screen scrolls: {size}"
    for phone in phones:
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360, phone.url


def test_a_quick_start_workshop_through_the_real_pages(
    browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    server = Server(tmp_path / "w.db").start()
    requests = Requests()
    try:
        _workshop(browser, server, requests, tmp_path)
        assert not requests.outside(server.base), (
            f"requests outside the server: {requests.outside(server.base)}")
        assert any(u.startswith("ws://") for u in requests.urls), "no WebSocket was seen"
    finally:
        server.stop()


def _workshop(browser: Any, server: Server, requests: Requests, tmp_path: Path) -> None:  # noqa: F811
    panel = requests.watch(browser.new_context(**DESK)).new_page()
    panel.goto(server.urls["facilitator"])
    expect(panel.get_by_role("button", name="Étape suivante")).to_be_enabled()
    screen = requests.watch(browser.new_context(**ROOM)).new_page()
    screen.goto(server.urls["screen"])

    # -- joining by the QR code on the projector ----------------------------------------------
    qr = screen.locator(".join-qr svg")
    qr.wait_for()
    qr.screenshot(path=str(tmp_path / "qr.png"))
    join_url = decode_qr(tmp_path / "qr.png")
    assert join_url == server.urls["join"]
    screenshot(screen, "workshop-01-screen-join")
    phones = []
    for n in range(8):
        phone = requests.watch(browser.new_context(**PHONE)).new_page()
        phone.goto(join_url)
        phone.fill("#name", f"Personne {n}")
        phone.get_by_role("button", name="Rejoindre").tap()
        phone.wait_for_url("**/p")
        phones.append(phone)
    expect(panel.get_by_test_id("connected")).to_have_text("8")
    screenshot(phones[0], "workshop-02-phone-ideas-empty")

    # -- ideas ----------------------------------------------------------------------------------
    for phone, title in zip(phones, IDEAS, strict=False):
        post(phone, title)
    expect(screen.locator(".card")).to_have_count(len(IDEAS))
    for title in IDEAS:
        expect(screen.locator(".card__title", has_text=title)).to_be_visible()
    expect(screen.locator(".screen-count .count")).to_have_text(str(len(IDEAS)))

    # Phone 7 starts typing, loses the Wi-Fi, keeps typing; meanwhile phone 0 posts.
    typist = phones[7]
    typist.evaluate("window.__samePage = 'yes'")
    field = typist.locator("#idea-title")
    field.press_sequentially(TYPED[0])
    typist.context.set_offline(True)
    expect(typist.locator("#connection")).to_contain_text("Hors ligne")
    field.press_sequentially(TYPED[1])
    post(phones[0], MEANWHILE)
    expect(screen.locator(".card__title", has_text=MEANWHILE)).to_be_visible()
    expect(typist.locator("main .card__title", has_text=MEANWHILE)).to_have_count(0)
    screenshot(typist, "workshop-03-phone-offline-typing")
    typist.context.set_offline(False)
    expect(typist.locator("main .card__title", has_text=MEANWHILE)).to_be_visible()
    expect(typist.locator("#connection")).to_have_text("")
    expect(field).to_have_value(TYPED[0] + TYPED[1])
    assert typist.evaluate("window.__samePage") == "yes", "the phone reloaded"
    field.press_sequentially(TYPED[2])
    field.press("Enter")
    expect(typist.locator(".card--mine .card__title", has_text=COMPOST)).to_be_visible()
    total = len(IDEAS) + 2
    expect(screen.locator(".screen-count .count")).to_have_text(str(total))
    expect(typist.locator("main .section-title")).to_have_text(f"{total} idées pour l’instant")
    no_scrollbars(screen, phones)
    screenshot(screen, "workshop-04-screen-ideas")
    panel.evaluate("window.scrollTo(0, 0)")
    screenshot(panel, "workshop-04-facilitator-ideas")
    screenshot(phones[3], "workshop-04-phone-ideas")

    # -- the facilitator hides one, merges two, and undoes both ------------------------------------
    hidden = idea_card(panel, IDEAS[5])
    hidden.get_by_role("button", name="Masquer").click()
    expect(screen.locator(".card__title", has_text=IDEAS[5])).to_have_count(0)
    expect(phones[5].get_by_text("Masquée par l’équipe d’animation.")).to_be_visible()
    expect(hidden).to_have_class(re.compile(r"\bcard--hidden\b"))

    duplicate = idea_card(panel, IDEAS[1])
    # One picker for the step ("Idée à garder"), then a button on each duplicate.
    picker = panel.get_by_label("Idée à garder")
    picker.select_option(label=IDEAS[0])
    duplicate.get_by_role("button", name="Regrouper avec l’idée gardée").click()
    expect(screen.locator(".card__title", has_text=IDEAS[1])).to_have_count(0)
    kept = screen.locator(".card", has=screen.locator(".card__title", has_text=IDEAS[0]))
    expect(kept.locator(".card__meta")).to_have_text("+1")
    expect(phones[1].get_by_text("Regroupée avec une idée proche.")).to_be_visible()
    expect(duplicate).to_contain_text(f"Regroupée avec « {IDEAS[0]} »")
    expect(screen.locator(".screen-count .count")).to_have_text(str(total - 2))
    expect(panel.locator("#toast.is-visible")).to_have_count(0)  # « Envoyé » has faded
    # The picker keeps its choice after the merge and the views that followed it.
    expect(picker.locator("option:checked")).to_have_text(IDEAS[0])
    screenshot(panel, "workshop-05-facilitator-moderated")
    screenshot(screen, "workshop-05-screen-moderated")

    hidden.get_by_role("button", name="Afficher").click()
    duplicate.get_by_role("button", name="Défaire le regroupement").click()
    expect(screen.locator(".card__title", has_text=IDEAS[5])).to_be_visible()
    expect(screen.locator(".card__title", has_text=IDEAS[1])).to_be_visible()
    expect(kept.locator(".card__meta")).to_have_count(0)
    expect(phones[1].get_by_text("Regroupée avec une idée proche.")).to_have_count(0)
    expect(phones[5].get_by_text("Masquée par l’équipe d’animation.")).to_have_count(0)
    expect(screen.locator(".screen-count .count")).to_have_text(str(total))
    expect(duplicate.get_by_role("button", name="Masquer")).to_be_visible()

    # -- « Étape suivante »: every surface moves to the vote ---------------------------------------
    panel.get_by_role("button", name="Étape suivante").click()
    _all_on_the_vote(panel, screen, phones, total)
    screenshot(screen, "workshop-06-screen-vote")
    screenshot(panel, "workshop-06-facilitator-vote")
    screenshot(phones[0], "workshop-06-phone-vote")

    expected: dict[str, int] = {}
    for phone, taps in zip(phones, TAPS, strict=True):
        for title in taps:
            tap_plus(phone, title)
            expected[title] = expected.get(title, 0) + 1
    full = phones[0]
    expect(full.locator(".dots-left")).to_contain_text("Il vous reste 0 gommette")
    expect(full.locator("button[data-action=vote]:enabled")).to_have_count(0)
    expect(vote_item(full, IDEAS[0]).locator(".badge")).to_have_attribute(
        "data-mine", str(MAX_PER_ITEM))
    expect(screen.locator(".screen-count .count")).to_have_text("8")  # people who voted
    expect(screen.locator(".bar")).to_have_count(0)  # results wait for the reveal
    no_scrollbars(screen, phones)
    screenshot(full, "workshop-07-phone-voted")
    phones[1].evaluate("window.scrollTo(0, 0)")
    screenshot(phones[1], "workshop-07-phone-voting")

    panel.get_by_role("button", name="Dévoiler les résultats").click()
    expect(screen.locator(".bar")).to_have_count(total)
    for title in [*IDEAS, MEANWHILE, COMPOST]:
        expect(screen_bar(screen, title)).to_have_text(str(expected.get(title, 0)))
    first = screen.locator(".bar__label").first
    expect(first).to_have_text(IDEAS[0])  # most dots first
    phone, title = LATE_TAP
    tap_plus(phones[phone], title)
    expect(screen_bar(screen, title)).to_have_text(str(expected.get(title, 0) + 1))
    expect(phones[3].locator(".bar")).to_have_count(total)  # revealed on phones too
    no_scrollbars(screen, phones)
    screenshot(screen, "workshop-08-screen-results")
    screenshot(panel, "workshop-08-facilitator-results")
    screenshot(phones[3], "workshop-08-phone-results")

    # -- « Étape précédente » and back: every surface follows, nothing is lost ---------------------
    before = {n: (dots_left(p), ballot(p)) for n, p in enumerate(phones)}
    panel.get_by_role("button", name="Étape précédente").click()
    expect(screen.locator(".screen-step")).to_have_text("Vos idées")
    expect(screen.locator(".card")).to_have_count(total)
    for phone in phones:
        expect(phone.locator("#idea-title")).to_be_visible()
        expect(phone.locator(".vote-item")).to_have_count(0)
    expect(idea_card(panel, COMPOST)).to_be_visible()
    screenshot(phones[2], "workshop-09-phone-back-to-ideas")
    panel.get_by_role("button", name="Étape suivante").click()
    _all_on_the_vote(panel, screen, phones, total, revealed=True)
    for n, phone in enumerate(phones):
        assert (dots_left(phone), ballot(phone)) == before[n], f"phone {n} lost its dots"

    # -- a reload keeps the person and their dots --------------------------------------------------
    reloaded = phones[4]
    reloaded.reload()
    expect(reloaded).to_have_url(re.compile(r"/p$"))
    expect(reloaded.get_by_role("button", name="Rejoindre")).to_have_count(0)
    expect(reloaded.locator(".vote-item")).to_have_count(total)
    assert (dots_left(reloaded), ballot(reloaded)) == before[4]
    tap_plus(reloaded, IDEAS[3])  # and it still votes as the same person
    expect(reloaded.locator(".dots-left")).to_contain_text(f"Il vous reste {DOTS - 3} gommettes")
    expect(panel.get_by_test_id("connected")).to_have_text("8")


def _all_on_the_vote(panel: Any, screen: Any, phones: list[Any], total: int,
                     revealed: bool = False) -> None:
    expect(screen.locator(".screen-step")).to_have_text("Vote par gommettes")
    if revealed:
        expect(screen.locator(".bar")).to_have_count(total)
    else:
        expect(screen.get_by_text("Votez sur votre téléphone")).to_be_visible()
    expect(screen.locator(".join-qr")).to_have_count(0)
    reveal = "Masquer les résultats" if revealed else "Dévoiler les résultats"
    expect(panel.get_by_role("button", name=reveal)).to_be_visible()
    for phone in phones:
        expect(phone.locator(".phone-step")).to_have_text("Vote par gommettes")
        expect(phone.locator(".vote-item")).to_have_count(total)
        expect(phone.locator(".dots")).to_be_attached()
