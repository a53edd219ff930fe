"""Chromium for browser tests: Debian's package driven by Playwright. Skipped when absent,
unless PALABRE_REQUIRE_BROWSER=1 (CI), where its absence is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("PALABRE_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium is required (apt-get install chromium): /usr/bin/chromium missing")
    pytest.skip("Chromium not installed (apt-get install chromium)")


@pytest.fixture
def browser() -> Iterator[object]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=ARGS)
        yield instance
        instance.close()


def screenshot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    return path
