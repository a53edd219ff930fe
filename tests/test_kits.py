"""Kits: bundled ones are valid; a kit with a mistake says where and what was expected."""

import subprocess
import sys
from pathlib import Path

import pytest

from palabre.engine.kits import KitError, load_kit
from palabre.engine.plugins import collect_activities, collect_kits, get_plugin_manager

ACTIVITIES = collect_activities(get_plugin_manager())

GOOD_HEAD = '[workshop]\ntitle = "Atelier"\n'
IDEAS = '[[steps]]\nid = "ideas"\nactivity = "ideation"\ntitle = "Idées"\n'


def palabre_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "palabre.engine.cli", "check", str(path)],
                          capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "atelier.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", collect_kits(get_plugin_manager()), ids=lambda p: p.stem)
def test_every_bundled_kit_is_valid(path: Path) -> None:
    kit = load_kit(path, ACTIVITIES)
    assert kit.steps and kit.title


@pytest.mark.parametrize(
    ("body", "step", "field", "expected"),
    [
        pytest.param(IDEAS.replace("ideation", "brainstorm"), "ideas", "activity",
                     "(expected one of: axes, diagnosis, dot_voting, ideation, ",
                     id="unknown-activity"),
        pytest.param('[[steps]]\nid = "ideas"\nactivity = "ideation"\n', "ideas", "title",
                     "required", id="missing-field"),
        pytest.param('[[steps]]\nid = "vote"\nactivity = "dot_voting"\ntitle = "V"\n'
                     'from = "ideas"\n' + IDEAS, "vote", "from", "names a later step",
                     id="from-a-later-step"),
        pytest.param(IDEAS + '[[steps]]\nid = "vote"\nactivity = "dot_voting"\ntitle = "V"\n'
                     '[steps.config]\ndots = "five"\n', "vote", "config.dots",
                     "integer", id="wrong-type-in-config"),
        pytest.param(IDEAS + '[steps.config]\ncolour = "red"\n', "ideas", "config.colour",
                     "unknown field", id="unknown-config-field"),
        pytest.param(IDEAS + IDEAS, "ideas", "id", "unique", id="duplicate-step-id"),
        pytest.param('[[steps]]\nid = "problems"\nactivity = "diagnosis"\ntitle = "D"\n'
                     '[steps.config]\nwho = "captains"\nthemes = [{id = "a", title = "A"}]\n',
                     "problems", "config.who", "needs tables", id="captains-without-tables"),
    ],
)
def test_a_kit_with_a_mistake_fails_check_naming_file_step_and_field(
    tmp_path: Path, body: str, step: str, field: str, expected: str
) -> None:
    path = write(tmp_path, GOOD_HEAD + body)
    result = palabre_check(path)
    assert result.returncode == 1, result.stdout
    message = result.stderr
    assert str(path) in message
    assert f"({step!r})" in message
    assert f"field {field!r}" in message
    assert expected in message


def test_check_accepts_a_good_kit_and_lists_its_steps(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + IDEAS + '[[steps]]\nid = "vote"\nactivity = '
                 '"dot_voting"\ntitle = "Vote"\nfrom = "ideas"\n')
    result = palabre_check(path)
    assert result.returncode == 0, result.stderr
    assert "2. vote: dot_voting (from ideas)" in result.stdout


def test_invalid_toml_is_reported_with_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "[workshop\ntitle=")
    with pytest.raises(KitError, match="atelier.toml: not valid TOML"):
        load_kit(path, ACTIVITIES)


def test_an_unknown_language_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + 'language = "de"\n' + IDEAS)
    with pytest.raises(KitError, match="field 'language': expected one of fr, en"):
        load_kit(path, ACTIVITIES)


def test_dot_voting_cap_cannot_exceed_the_budget(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + IDEAS + '[[steps]]\nid = "vote"\nactivity = '
                 '"dot_voting"\ntitle = "V"\nfrom = "ideas"\n[steps.config]\ndots = 2\n'
                 'max_per_item = 3\n')
    with pytest.raises(KitError, match="max_per_item cannot be larger than dots"):
        load_kit(path, ACTIVITIES)
