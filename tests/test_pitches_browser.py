"""The pitch countdown in a real Chromium: the projector's digits count down on their own,
follow the server's clock when it moves (the test clock), turn to the warning state, and
flip to the overrun by themselves when the deadline passes, with no message from the server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from browser import PHONE, browser, screenshot  # noqa: F401  (fixture)
from support import Client, Server

MINIBUS = ("Un minibus électrique conduit par des bénévoles, le samedi matin, "
           "pour les personnes âgées isolées du quartier.")
LONG = "Un texte très long qui raconte tout le projet en détail, " * 6
KIT = f"""
[workshop]
title = "Pitchs de test"
language = "fr"

[[steps]]
id = "pitches"
activity = "pitches"
title = "Les pitchs"
[steps.config]
duration_seconds = 180
warn_seconds = 30
[[steps.config.items]]
id = "navette"
title = "Navette solidaire"
group = "Mobilité"
description = "{MINIBUS}"
need = "Aller au marché le samedi"
objective = "Que les aînés sortent de chez eux chaque semaine"
place = "Quartier Saint-Leu, place du marché"
budget = "12 000 €"
partners = ["CCAS", "Mairie", "Taxis"]
skills = "Conduite, coordination des bénévoles"
[[steps.config.items]]
id = "jardin"
title = "Jardin partagé et nourricier au pied des immeubles de la résidence des Tilleuls"
description = "{LONG}"
need = "{LONG}"
objective = "{LONG}"
place = "{LONG}"
budget = "3 000 €"
partners = "{LONG}"
skills = "{LONG}"
timeline = "{LONG}"
custom_field = "{LONG}"
another_one = "{LONG}"
"""


def seconds_shown(text: str) -> int:
    """ "02:58" -> 178; "+0:03" -> -3."""
    sign = -1 if text.startswith("+") else 1
    minutes, seconds = text.lstrip("+").split(":")
    return sign * (int(minutes) * 60 + int(seconds))


def test_the_projector_countdown_runs_warns_and_overruns_on_its_own(
    browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("PALABRE_TEST_CLOCK", "1")
    kit = tmp_path / "pitches.toml"
    kit.write_text(KIT, encoding="utf-8")
    server = Server(tmp_path / "w.db", kit=str(kit)).start()
    clock = Client(server, "facilitator").login()
    try:
        panel = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        panel.goto(server.urls["facilitator"])
        screen = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
        screen.goto(server.urls["screen"])
        digits = screen.locator("[data-countdown]")
        assert digits.inner_text() == "03:00"
        screenshot(screen, "pitches-screen-ready")

        panel.click("[data-region=main] button[data-action=start]")
        screen.wait_for_selector("[data-countdown][data-state=running]")
        first = seconds_shown(digits.inner_text())
        expect(digits).not_to_have_text(digits.inner_text(), timeout=3000)
        screen.wait_for_timeout(1500)  # what is tested here is time passing
        later = seconds_shown(digits.inner_text())
        assert first - 3 <= later < first <= 180, (first, later)
        size = screen.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('[data-countdown]')).fontSize)")
        assert size >= 200, f"digits are {size}px tall on a 1080p projector"
        overflow = screen.evaluate(
            "[document.documentElement.scrollHeight, document.documentElement.scrollWidth]")
        assert overflow[0] <= 1080 and overflow[1] <= 1920, "the screen has scrollbars"
        screenshot(screen, "pitches-screen-running")

        assert clock.http.post("/-/test/clock?seconds=160").status_code == 200
        screen.wait_for_selector("[data-countdown].is-warning")
        left = seconds_shown(digits.inner_text())
        assert 0 < left <= 20
        screenshot(screen, "pitches-screen-warning")

        # Two seconds before the deadline, the server's last render is not overrun: the
        # page alone must turn to the overrun, on the server's clock, not the browser's.
        assert clock.http.post(f"/-/test/clock?seconds={left - 2}").status_code == 200
        expect(digits).to_have_text(re.compile(r"^00:0[0-3]$"), timeout=3000)
        assert "is-overrun" not in (digits.get_attribute("class") or "")
        screen.wait_for_selector("[data-countdown].is-overrun", timeout=8000)
        assert digits.inner_text().startswith("+0:")
        assert "is-warning" not in (digits.get_attribute("class") or "")
        assert screen.locator(".countdown__when-over").is_visible()
        assert screen.locator(".countdown__when-over").inner_text().lower() == "temps dépassé"
        expect(digits).to_have_text(re.compile(r"^\+0:(0[2-9]|[1-5]\d)$"), timeout=5000)
        screenshot(screen, "pitches-screen-overrun")

        phone = browser.new_context(**PHONE).new_page()
        phone.goto(server.urls["join"])
        phone.click("button[type=submit]")
        phone.wait_for_url("**/p")
        phone.wait_for_selector("[data-countdown].is-overrun")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(phone, "pitches-phone-overrun")
        panel.wait_for_selector("[data-countdown].is-overrun")
        screenshot(panel, "pitches-facilitator-overrun")

        # A wordy project must fit too: no scrollbars, the digits keep their size.
        panel.click("[data-region=main] button[data-action=next]")
        screen.locator(".pitch-sheet__title", has_text="Jardin").wait_for()
        expect(digits).to_have_text("03:00")
        assert screen.evaluate("document.documentElement.scrollHeight") <= 1080
        screenshot(screen, "pitches-screen-long-sheet")
        panel.wait_for_selector(".pitch-row--done")
        screenshot(panel, "pitches-facilitator-next")
    finally:
        clock.http.close()
        server.stop()
