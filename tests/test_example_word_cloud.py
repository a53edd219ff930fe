"""The example third-party package (examples/palabre-word-cloud) proves the public API is
enough (issue 7): its own tests pass, and installed as any plugin is (the README's test
command installs it), it plays in a real workshop and feeds the next step."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from support import Client, Server, close_all, run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "palabre-word-cloud"


def test_the_example_package_passes_its_own_tests() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed[1]) >= 14, done.stdout[-500:]


def test_the_example_plays_in_a_real_workshop_and_feeds_a_dot_vote(tmp_path: Path) -> None:
    try:
        version = metadata.version("palabre-word-cloud")
    except metadata.PackageNotFoundError:
        raise AssertionError(
            "palabre-word-cloud is not installed: the README's test command installs it "
            "(pip install -e '.[test]' -e examples/palabre-word-cloud)"
        ) from None
    assert version == "0.1.0"
    server = Server(tmp_path / "w.db", kit="ice-breaker").start()
    try:
        run(_play(server))
    finally:
        server.stop()


async def _play(server: Server) -> None:
    people = [Client(server, "participant").join(n) for n in ("Ana Zéphyr", "Bruno Q", "Chloé R")]
    phones = [await p.connect() for p in people]
    panel = await Client(server, "facilitator").login().connect()
    screen = await Client(server, "screen").login().connect()
    try:
        given = [["Parc", "Bancs", "Fontaine"], ["parc", "Ombre"], ["PARC", "Ombre"]]
        for phone, words in zip(phones, given, strict=True):
            for word in words:
                assert (await phone.act("add", {"word": word}, step="nuage"))["ok"]
        await screen.wait_for(lambda: "word-cloud__word--5" in screen.regions["main"])
        main = screen.regions["main"]
        assert re.search(r'word-cloud__word--5"[^>]*>Parc<', main), main
        assert re.search(r'word-cloud__word--2"[^>]*>Bancs<', main), main
        assert "Ana Zéphyr" not in main and "Bruno Q" not in main
        refused = await phones[0].act("add", {"word": "Jardin"}, step="nuage")
        assert refused["error"]["code"] == "no_words_left"
        assert refused["error"]["message"].startswith("Vous avez donné vos 3 mots")  # fr kit
        # The facilitator hides a word: it leaves the screen, and the vote.
        assert (await panel.act("hide", {"word": "bancs"}, step="nuage"))["ok"]
        await screen.wait_for(lambda: "Bancs" not in screen.regions["main"])
        assert (await panel.act("next"))["ok"]
        await phones[1].wait_for(lambda: 'data-action="vote"' in phones[1].regions["personal"])
        ballot = phones[1].regions["personal"]
        assert "Parc" in ballot and "Ombre" in ballot and "Bancs" not in ballot
        item = re.search(r'data-action="vote"[^>]*data-arg-item="([^"]+)"', ballot)
        assert item, ballot
        assert (await phones[1].act("vote", {"item": item[1]}, step="vote"))["ok"]
    finally:
        await close_all(*phones, panel, screen)
