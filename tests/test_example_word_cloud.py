"""The example third-party package (examples/palabre-word-cloud) proves the public API is
enough (issue 7): its own tests pass, and installed as any plugin is (the README's test
command installs it), it plays in a real workshop, in a real browser, and feeds the next step."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

from axe import AXE_JS, assert_no_serious_violations
from playwright.sync_api import expect

from browser import browser, screenshot  # noqa: F401  (fixture)
from support import Client, Server, close_all, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "palabre-word-cloud"
SHOTS = ROOT / "docs" / "screenshots"
# The example's own suite: its test functions, parametrised cases and contract checks.
EXAMPLE_TESTS = 29


def test_the_example_package_passes_its_own_tests() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed[1]) >= EXAMPLE_TESTS, done.stdout[-500:]


def require_the_example() -> None:
    try:
        version = metadata.version("palabre-word-cloud")
    except metadata.PackageNotFoundError:
        raise AssertionError(
            "palabre-word-cloud is not installed: the README's test command installs it "
            "(pip install -e '.[test]' -e examples/palabre-word-cloud)"
        ) from None
    assert version == "0.1.0"


def test_the_example_plays_in_a_real_workshop_and_feeds_a_dot_vote(tmp_path: Path) -> None:
    require_the_example()
    # Found by name: the package's register_kits hook hands the kit to `palabre serve`.
    server = Server(tmp_path / "w.db", kit="ice-breaker").start()
    try:
        run(_play(server))
    finally:
        server.stop()


def word_class(main: str, text: str) -> int:
    """The size class (1 to 5) the screen gives a word."""
    found = re.search(rf'word-cloud__word--(\d)"[^>]*>{re.escape(text)}<', main)
    assert found, f"{text!r} is not on the screen: {main}"
    return int(found[1])


async def _play(server: Server) -> None:
    names = ("Ana Zéphyr", "Bruno Quenelle", "Chloé Rambert", "Dalia Moreau")
    people = [Client(server, "participant").join(name) for name in names]
    phones = [await p.connect() for p in people]
    panel = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    try:
        given = [["Parc", "Bancs", "Fontaine"], ["parc", "Ombre"], ["PARC", "ombre"], ["Parc"]]
        for phone, words in zip(phones, given, strict=True):
            for word in words:
                assert (await phone.act("add", {"word": word}, step="nuage"))["ok"]
        await screen.wait_for(lambda: "4</span> personnes" in screen.regions["main"])
        main = screen.regions["main"]
        assert word_class(main, "Parc") == 5 and word_class(main, "Bancs") == 1
        assert word_class(main, "Bancs") < word_class(main, "Ombre") < word_class(main, "Parc")
        assert "parc" not in re.findall(r">([^<]+)</li>", main)  # one word, one spelling
        for name in names:
            assert name not in main and name.split()[0] not in main
        refused = await phones[0].act("add", {"word": "Jardin"}, step="nuage")
        assert refused["error"]["code"] == "no_words_left"
        assert refused["error"]["message"] == (  # the kit is in French
            "Vous avez donné vos 3 mots\u202f; retirez-en un pour en donner un autre."
        )
        # The facilitator hides a word: it leaves the screen, and the vote.
        assert (await panel.act("hide", {"word": "bancs"}, step="nuage"))["ok"]
        await screen.wait_for(lambda: "Bancs" not in screen.regions["main"])
        assert "Bancs" in panel.regions["main"]  # still on the panel, to show it again
        assert (await panel.act("next"))["ok"]
        await phones[1].wait_for(lambda: 'data-action="vote"' in phones[1].regions["personal"])
        ballot = phones[1].regions["personal"]
        titles = re.findall(r'<p class="card__title" dir="auto">([^<]+)</p>', ballot)
        assert titles == ["Parc", "Ombre", "Fontaine"], ballot  # most given first
        item = re.search(r'data-action="vote"[^>]*data-arg-item="([^"]+)"', ballot)
        assert item, ballot
        assert (await phones[1].act("vote", {"item": item[1]}, step="vote"))["ok"]
    finally:
        await close_all(*phones, panel, screen)


# Seven neighbours' words: one given by all, a few by several, the rest once.
NEIGHBOURS = [
    ["Parc", "Ombre", "Bancs"],
    ["parc", "ombre", "Pistes cyclables"],
    ["Parc", "Ombre", "Jeux d’eau"],
    ["PARC", "Bancs", "Marché couvert"],
    ["Parc", "Bancs", "Fontaine"],
    ["parc", "fontaine", "Toilettes publiques"],
    ["Parc", "Boîte à livres", "Calme"],
]


async def _seed(server: Server) -> None:
    phones = [await Client(server, "participant").join().connect() for _ in NEIGHBOURS]
    try:
        for phone, words in zip(phones, NEIGHBOURS, strict=True):
            for word in words:
                assert (await phone.act("add", {"word": word}, step="nuage"))["ok"]
    finally:
        await close_all(*phones)


def test_the_word_cloud_on_a_room_screen_and_a_phone(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    require_the_example()
    server = Server(tmp_path / "w.db", kit="ice-breaker").start()
    try:
        with ThreadPoolExecutor(1) as apart:  # Playwright's sync API holds this thread's loop
            apart.submit(run, _seed(server)).result()
        screen = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
        screen.goto(server.urls["screen"])
        screen.locator(".word-cloud__word", has_text="Calme").wait_for()

        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
            device_scale_factor=2,
        ).new_page()  # fmt: skip
        phone.goto(server.urls["join"])
        phone.fill("#name", "Nadia")
        phone.click("button[type=submit]")
        phone.wait_for_url("**/p")
        for word in ("Vélo", "parc"):
            phone.fill("input[name=word]", word)
            phone.click("form[data-action=add] button[type=submit]")
            phone.locator(".word-cloud-mine", has_text=word.capitalize()).wait_for()
        screen.locator(".word-cloud__word", has_text="Vélo").wait_for()

        sizes = screen.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('.word-cloud__word')]
                .map((w) => [w.textContent.trim(), parseFloat(getComputedStyle(w).fontSize)]))"""
        )
        assert sizes["Parc"] > sizes["Bancs"] > sizes["Calme"] >= 32, sizes
        assert sizes["Calme"] == sizes["Vélo"], "words given once share the smallest size"
        for page, width in ((screen, 1920), (phone, 390)):
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{page.url} scrolls sideways ({scroll_width}px)"
        fits = screen.evaluate(
            """() => { const m = document.querySelector('[data-region=main]');
                       return [m.scrollHeight <= m.clientHeight + 1,
                               document.documentElement.scrollHeight]; }"""
        )
        assert fits == [True, 1080], "the projector's words overflow"
        assert "Nadia" not in screen.inner_text("body")
        # "Envoyé" goes after 2.5 s: not in the picture.
        expect(phone.locator("#toast")).not_to_have_class(re.compile("is-visible"))
        for page, name in ((screen, "word-cloud-screen"), (phone, "word-cloud-phone")):
            SHOTS.mkdir(exist_ok=True)
            shutil.copyfile(screenshot(page, name), SHOTS / f"{name}.png")
        # A refusal shows under the field, in French, and keeps what was typed.
        phone.fill("input[name=word]", "Transports en commun gratuits")
        phone.click("form[data-action=add] button[type=submit]")
        feedback = phone.locator("form[data-action=add] [data-feedback]")
        feedback.filter(has_text="24 caractères maximum").wait_for()
        assert phone.input_value("input[name=word]") == "Transports en commun gratuits"
        # From the panel, the facilitator hides a word: it leaves the screen.
        panel = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        panel.goto(server.urls["facilitator"])
        calme = panel.locator(".word-cloud-panel__word", has_text="Calme")
        calme.get_by_role("button", name="Masquer de l’écran").click()
        screen.locator(".word-cloud__word", has_text="Calme").wait_for(state="detached")
        expect(calme).to_have_class(re.compile("card--hidden"))
        if AXE_JS.is_file():  # fetched by the accessibility tests when npm is there
            for page, where in ((screen, "screen"), (phone, "phone"), (panel, "panel")):
                assert_no_serious_violations(page, f"the word cloud's {where}")
    finally:
        server.stop()
