"""Reading the teams: who is in which team (from the state, or from the roster's tables),
and what each audience is shown. Screens get counts, never names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from palabre.engine import Actor, Item

from .assignment import OTHER, UNRANKED
from .model import Team, TeamsConfig, TeamsState, table_team_id

SCREEN_TEAMS = 24  # cards that fit the projector; the rest are counted


class Board:
    def __init__(self, config: TeamsConfig, roster: Mapping[str, Actor], state: TeamsState) -> None:
        self.config = config
        self.roster = roster
        self.state = state
        self.tables = state.mode == "tables"

    # -- who --------------------------------------------------------------------------------
    def participants(self) -> list[str]:
        """Everyone who can be in a team, in joining order (jurors cannot)."""
        return [pid for pid, a in self.roster.items() if a.role == "participant"]

    def members(self, team: Team) -> list[str]:
        if self.tables:
            return [
                p
                for p, a in self.roster.items()
                if a.role == "participant" and a.table == team.table
            ]
        return list(team.members)

    def captain(self, team: Team) -> str | None:
        if self.tables:
            return next((p for p in self.members(team) if self.roster[p].captain), None)
        return team.captain

    def name(self, pid: str | None) -> str:
        actor = self.roster.get(pid or "")
        return actor.name if actor else ""

    def team_of(self, me: Actor) -> Team | None:
        if not self.tables:
            return self.state.team_of(me.key)
        if me.table is None:
            return None
        return self.state.table_team(me.table) or Team(table_team_id(me.table), "", me.table)

    def teams(self) -> list[Team]:
        """The teams to show: every item's team in first-come mode (people join empty ones);
        after a ranked assignment the teams it made (and any the facilitator filled since);
        every seated table in tables mode."""
        state = self.state
        if self.tables:
            seated = sorted(
                {
                    a.table
                    for a in self.roster.values()
                    if a.table is not None and a.role == "participant"
                }
            )
            return [state.table_team(t) or Team(table_team_id(t), "", t) for t in seated]
        if state.mode == "ranked" and not state.assigned:
            return []
        dropped = {t.id for t in state.teams.values() if t.item_id in state.dropped}
        return [t for t in state.teams.values() if t.members or t.id not in dropped]

    def unassigned(self) -> list[str]:
        if self.tables:
            return [p for p in self.participants() if self.roster[p].table is None]
        return [p for p in self.participants() if p not in self.state.member_of]

    def tables_on(self, item_id: str) -> int:
        """Seated tables working on an item (a table whose people all moved counts no more)."""
        return sum(1 for t in self.teams() if t.item_id == item_id)

    # -- cards ------------------------------------------------------------------------------
    def card(self, team: Team, with_names: bool = False) -> dict[str, Any]:
        """A team as shown: counts always; names only with `with_names` (never on the screen)."""
        item = self.state.items.get(team.item_id)
        members = self.members(team)
        captain = self.captain(team)
        limit = None if self.tables else self.config.max_size
        card = {
            "id": team.id,
            "item": item,
            "title": team.name or (item.title if item else ""),
            "name": team.name,
            "size": len(members),
            "max": limit,
            "full": self.state.mode == "first_come" and len(members) >= self.config.max_size,
            "short": not self.tables and 0 < len(members) < self.config.min_size,
            "over": limit is not None and len(members) > limit,
            "has_captain": captain is not None,
            "table": team.table,
            "dots": [n < len(members) for n in range(max(limit or 0, len(members)))],
        }
        if with_names:
            card["members"] = [
                {"id": p, "name": self.name(p), "captain": p == captain} for p in members
            ]
            card["captain_name"] = self.name(captain)
        return card

    # -- views ------------------------------------------------------------------------------
    def view(self, audience: str) -> dict[str, Any]:
        state = self.state
        teams = self.teams()
        placed = len(self.participants()) - len(self.unassigned())
        base: dict[str, Any] = {
            "mode": state.mode,
            "open": state.open,
            "assigned": state.assigned,
            "prompt": self.config.prompt,
            "config": self.config,
            "entries": list(state.items.values()),
            "people": len(self.participants()),
            "placed": placed,
            "unassigned": len(self.participants()) - placed,
            "ranked": len(state.rankings),
            "by_item": self._by_item(teams) if self.tables else [],
            "unpicked": sum(1 for t in teams if not t.item_id) if self.tables else 0,
        }
        if audience == "facilitator":
            return base | self._facilitator(teams)
        cards = [self.card(t) for t in teams]
        if audience == "screen":
            return base | {"teams": cards[:SCREEN_TEAMS], "more": max(0, len(cards) - SCREEN_TEAMS)}
        return base | {"teams": cards}

    def _facilitator(self, teams: list[Team]) -> dict[str, Any]:
        state = self.state
        everyone = [
            {
                "id": p,
                "name": self.name(p),
                "team": state.member_of.get(p, ""),
                "table": self.roster[p].table,
            }
            for p in self.participants()
        ]
        rows = [
            (str(n), state.satisfaction[str(n)])
            for n in range(1, self.config.choices + 1)
            if str(n) in state.satisfaction
        ]
        rows += [
            (key, state.satisfaction[key]) for key in (OTHER, UNRANKED) if key in state.satisfaction
        ]
        without = set(self.unassigned())
        return {
            "teams": [self.card(t, with_names=True) for t in teams],
            "unassigned_people": [p for p in everyone if p["id"] in without],
            "everyone": everyone,
            "targets": [self.card(t) for t in state.teams.values()],
            "satisfaction": rows,
            "dropped": [state.items[i] for i in state.dropped if i in state.items],
        }

    def _by_item(self, teams: list[Team]) -> list[dict[str, Any]]:
        """Tables mode: each item with the tables working on it (table numbers are no one's
        identity, so the screen may show them)."""
        limit = self.config.max_tables_per_item
        rows = []
        for item in self.state.items.values():
            tables = sorted(t.table for t in teams if t.item_id == item.id and t.table is not None)
            rows.append(
                {"item": item, "tables": tables, "full": limit is not None and len(tables) >= limit}
            )
        return rows

    def personal(self, me: Actor) -> dict[str, Any]:
        state = self.state
        team = self.team_of(me)
        card = self.card(team) if team is not None else None
        mates, captain = [], None
        if team is not None:
            captain = self.captain(team)
            mates = [self.name(p) for p in self.members(team) if p != me.key]
        return {
            "mode": state.mode,
            "spectator": me.role != "participant",  # jurors watch, they form no team
            "open": state.open,
            "assigned": state.assigned,
            "config": self.config,
            "team": card,
            "mates": mates,
            "captain_name": self.name(captain) if captain and captain != me.key else "",
            "am_captain": captain is not None and captain == me.key,
            "table": me.table,
            "entries": list(state.items.values()),
            "ranking": [state.items[i] for i in state.rankings.get(me.key, []) if i in state.items],
            "slots": min(self.config.choices, len(state.items)),
            "full_items": {r["item"].id for r in self._by_item(self.teams()) if r["full"]}
            if self.tables
            else set(),
        }

    # -- outputs ----------------------------------------------------------------------------
    def outputs(self) -> list[Item]:
        found = []
        for team in self.teams():
            item = self.state.items.get(team.item_id)
            members = self.members(team)
            if item is None or not members:
                continue
            captain = self.captain(team)
            extra: dict[str, Any] = {"table": team.table} if self.tables else {}
            found.append(
                Item(
                    id=team.id,
                    title=team.name or item.title,
                    description=item.description,
                    kind="team",
                    group=item.group,
                    origin=[item],
                    item_id=item.id,
                    name=team.name,
                    members=members,
                    member_names=[self.name(p) for p in members],
                    size=len(members),
                    captain=captain,
                    captain_name=self.name(captain),
                    **extra,
                )
            )
        return found

    def export(self) -> dict[str, Any]:
        """Results without device ids: names only."""
        private = {"members", "captain"}
        return {
            "mode": self.state.mode,
            "people": len(self.participants()),
            "unassigned": len(self.unassigned()),
            "dropped": list(self.state.dropped),
            "satisfaction": dict(self.state.satisfaction),
            "outputs": [
                {k: v for k, v in item.model_dump().items() if k not in private}
                for item in self.outputs()
            ],
        }
