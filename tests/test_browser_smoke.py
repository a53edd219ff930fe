"""What a person does on the day, in a real Chromium: the projector shows the join QR,
a phone joins by the URL in that QR code, posts an idea, and the projector shows it."""

from pathlib import Path
from typing import Any

import zxingcpp  # a real QR decoder
from PIL import Image

from browser import PHONE, browser, screenshot  # noqa: F401  (fixture)
from support import Server


def decode_qr(png: Path) -> str:
    results = zxingcpp.read_barcodes(Image.open(png))
    assert results, f"no QR code found in {png}"
    return str(results[0].text)


def test_a_phone_joins_from_the_screen_qr_and_its_idea_reaches_the_projector(
    browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    server = Server(tmp_path / "w.db").start()
    outside: list[str] = []
    try:
        desk = browser.new_context(viewport={"width": 1366, "height": 768})
        panel = desk.new_page()
        panel.goto(server.urls["facilitator"])
        panel.wait_for_selector("[data-region=chrome] .steps")

        room = browser.new_context(viewport={"width": 1920, "height": 1080})
        screen = room.new_page()
        screen.on("request", lambda r: outside.append(r.url)
                  if not r.url.startswith(server.base) else None)
        screen.goto(server.urls["screen"])
        qr = screen.locator(".join-qr svg")
        qr.wait_for()
        qr_png = tmp_path / "qr.png"
        qr.screenshot(path=str(qr_png))
        join_url = decode_qr(qr_png)
        assert join_url == server.urls["join"]

        phone_context = browser.new_context(**PHONE)
        phone = phone_context.new_page()
        phone.goto(join_url)
        phone.fill("#name", "Nadia")
        phone.click("button[type=submit]")
        phone.wait_for_url("**/p")
        phone.wait_for_function("document.body.dataset.connected !== undefined || true")
        phone.fill("#idea-title", "Des bancs à l'ombre près du marché")
        phone.fill("#idea-description", "Pour les personnes âgées, l'été")
        phone.click("#ideation-post button[type=submit]")

        screen.locator(".card__title", has_text="Des bancs à l'ombre").wait_for(timeout=10_000)
        phone.locator("[data-region=personal] .card--mine").wait_for(timeout=10_000)
        assert phone.input_value("#idea-title") == ""  # the form was reset after the ack
        scroll_width = phone.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 360, "the phone page scrolls sideways"
        overflow = screen.evaluate(
            "[document.documentElement.scrollHeight, document.documentElement.scrollWidth]")
        assert overflow[0] <= 1080 and overflow[1] <= 1920, "the screen has scrollbars"

        panel.locator("[data-region=main] .card__title", has_text="Des bancs").wait_for()
        for page, name in ((panel, "facilitator-ideas"), (screen, "screen-ideas"),
                           (phone, "phone-ideas")):
            screenshot(page, name)
        assert not outside, f"the screen requested outside the server: {outside}"
    finally:
        server.stop()
