"""docs/protocol.md stays true: every message type and every action in the code is there."""

from pathlib import Path

import pytest

from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.protocol import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES
from palabre.engine.roster import ROSTER_ACTIONS
from palabre.engine.workshop import WORKSHOP_ACTIONS

DOC = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", CLIENT_MESSAGE_TYPES + SERVER_MESSAGE_TYPES)
def test_every_message_type_has_its_section(kind: str) -> None:
    assert f"### `{kind}`" in DOC


@pytest.mark.parametrize("action", sorted(WORKSHOP_ACTIONS | ROSTER_ACTIONS))
def test_every_workshop_action_is_documented(action: str) -> None:
    assert f"| `{action}` | facilitator |" in DOC


def _activity_actions() -> list[tuple[str, str, frozenset[str]]]:
    activities = collect_activities(get_plugin_manager(load_entry_points=False))
    return [(slug, name, roles) for slug, cls in sorted(activities.items())
            for name, roles in cls.actions.items()]


@pytest.mark.parametrize(("slug", "action", "roles"), _activity_actions())
def test_every_builtin_activity_action_is_documented_with_its_roles(
    slug: str, action: str, roles: frozenset[str]
) -> None:
    section = DOC.split(f'(`activity = "{slug}"`)', 1)
    assert len(section) == 2, f"no section for activity {slug}"
    body = section[1].split("\n### ", 1)[0]
    assert f"| `{action}` | {', '.join(sorted(roles))} |" in body
