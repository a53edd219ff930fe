"""Opt-in pytest plugin for activity authors.

Turn it on with `-p palabre.engine.pytest_plugin` (e.g. in `addopts` of your pyproject's
`[tool.pytest.ini_options]`) or `pytest_plugins = ["palabre.engine.pytest_plugin"]` in
your root `conftest.py`. It gives:

- the `rehearse` fixture: `rehearse(MyActivity, config, ...)` makes a `Rehearsal` (same
  arguments), and after the test checks that each one it made still renders every
  audience in every language and replays to the same state — so every test also tests
  that what it did can be shown and survives a restart;
- the `clock`-free habit: rehearsals start at a fixed instant and move with
  `room.clock.advance(seconds)`;
- a report header naming Palabre's version and the plugins that loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

pytest.register_assert_rewrite("palabre.engine.contract", "palabre.engine.testing")

from .plugins import describe_plugins, get_plugin_manager  # noqa: E402
from .testing import Rehearsal  # noqa: E402

# Set on a test item whose call failed: its rehearsals are left as the failure left them.
CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def rehearse(request: pytest.FixtureRequest) -> Iterator[Callable[..., Rehearsal]]:
    made: list[Rehearsal] = []

    def make(*args: Any, **kwargs: Any) -> Rehearsal:
        room = Rehearsal(*args, **kwargs)
        made.append(room)
        return room

    yield make
    if request.node.stash.get(CALL_FAILED, False):
        return  # the test's own failure says what went wrong; a second report would not
    for room in made:
        check_rehearsal(room)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[CALL_FAILED] = True
    return report


def check_rehearsal(room: Rehearsal) -> None:
    """What must hold after any test: every region renders, and the log replays to the
    same export and views."""
    pages = room.every_html()
    again = room.replay()
    assert again.export() == room.export(), "after this test, a replay gives another export"
    assert again.outputs() == room.outputs(), "after this test, a replay gives other outputs"
    assert again.every_html() == pages, "after this test, a replay gives other views"


def pytest_report_header() -> list[str]:
    try:
        plugins = describe_plugins(get_plugin_manager())
    except Exception as exc:  # a broken plugin must not stop the test run before it starts
        return [f"palabre: plugins failed to load: {exc}"]
    own = next((p["version"] for p in plugins if p["distribution"] == "palabre"), "?")
    others = sorted({f"{p['distribution']} {p['version']}" for p in plugins} - {f"palabre {own}"})
    return [f"palabre {own}; other plugins: {', '.join(others) or 'none'}"]
