"""The teams activity: people form teams around the items of an earlier step — first come
first served, by ranked choices that the facilitator turns into teams, or table by table."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from palabre.engine import (
    ALL,
    N_,
    Action,
    Activity,
    Actor,
    Event,
    Item,
    Rejection,
    clean_text,
)

from .assignment import assign
from .board import Board
from .model import NAME_MAX, Team, TeamsConfig, TeamsState, item_team_id, table_team_id

P, F = frozenset({"participant"}), frozenset({"facilitator"})
CHOICE_FIELD = re.compile(r"^choice(\d{1,2})$")
_PLAIN = {"close": "teams.closed", "reopen": "teams.reopened"}


class Teams(Activity):
    slug = "teams"
    name = N_("Teams")
    Config = TeamsConfig
    config: TeamsConfig
    actions = {
        "join": P,
        "leave": P,
        "rank": P,
        "volunteer": P,
        "pick": P | F,
        "name_team": P | F,
        "close": F,
        "reopen": F,
        "assign": F,
        "move": F,
        "designate": F,
    }

    def initial_state(self, inputs: list[Item]) -> TeamsState:
        items = inputs or [Item(**s.model_dump()) for s in self.config.items]
        items = items[: self.config.shortlist] if self.config.shortlist else items
        state = TeamsState(self.config.mode, {i.id: i for i in items})
        if state.mode != "tables":
            state.teams = {item_team_id(i): Team(item_team_id(i), i) for i in state.items}
        return state

    def board(self, state: TeamsState) -> Board:
        return Board(self.config, self.roster, state)

    # -- handle -----------------------------------------------------------------------------
    def handle(self, state: TeamsState, action: Action, actor: Actor) -> list[Event]:
        if action.name in _PLAIN:
            return [Event(_PLAIN[action.name])]
        if action.name not in self.actions:
            raise Rejection("unknown_action", N_("Unknown action."))
        decide = getattr(self, f"_{action.name}")
        events: list[Event] = decide(state, action.data, actor)
        return events

    def _join(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        _mode(state, "first_come")
        _open(state)
        team = state.teams[item_team_id(_item(state, data.get("item")).id)]
        if actor.key in state.member_of:
            raise Rejection(
                "already_in_team", N_("You are already in a team. Leave it to join another one.")
            )
        if len(team.members) >= self.config.max_size:
            raise Rejection(
                "team_full",
                N_("This team is full ({limit} people). Choose another one."),
                limit=self.config.max_size,
            )
        return [Event("teams.joined", {"team": team.id})]

    def _leave(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        _mode(state, "first_come")
        _open(state)
        return [Event("teams.left", {"team": _own_team(state, actor).id})]

    def _rank(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        _mode(state, "ranked")
        if state.assigned:
            raise Rejection("already_assigned", N_("The teams are already made."))
        _open(state)
        numbered = sorted(
            (int(m.group(1)), value)
            for key, value in data.items()
            if (m := CHOICE_FIELD.match(key)) and value not in ("", None)
        )
        chosen = [value for _, value in numbered]
        if len(chosen) > self.config.choices:
            raise Rejection(
                "too_many_choices",
                N_("Choose at most {limit} items."),
                limit=self.config.choices,
            )
        if not chosen:
            raise Rejection("no_choice", N_("Choose at least one item."))
        ids = [_item(state, value).id for value in chosen]
        if len(set(ids)) != len(ids):
            raise Rejection("duplicate_choice", N_("You chose the same item twice."))
        return [Event("teams.ranked", {"items": ids})]

    def _volunteer(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        _mode(state, "first_come", "ranked")
        team = _own_team(state, actor)
        if team.captain == actor.key:
            return []
        if team.captain is not None:
            raise Rejection("captain_taken", N_("Your team already has a captain."))
        return [Event("teams.captain_set", {"team": team.id, "participant": actor.key})]

    def _designate(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        _mode(state, "first_come", "ranked")
        pid = self._participant(data.get("participant"))
        team = state.team_of(pid)
        if team is None:
            raise Rejection("not_in_team", N_("This person is not in a team."))
        return [Event("teams.captain_set", {"team": team.id, "participant": pid})]

    def _name_team(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        if actor.role == "facilitator":
            team = state.teams.get(str(data.get("team", "")))
            if team is None:
                raise Rejection("unknown_team", N_("This team does not exist."))
            team_id, table = team.id, team.table
        elif state.mode == "tables":
            table = _own_table(actor)
            team_id = table_team_id(table)
        else:
            own = _own_team(state, actor)
            if own.captain != actor.key:
                raise Rejection("not_captain", N_("Only the team’s captain can do that."))
            team_id, table = own.id, None
        name = clean_text(data.get("name"), field="name", max_graphemes=NAME_MAX, required=False)
        return [Event("teams.named", {"team": team_id, "name": name, "table": table})]

    def _pick(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        _mode(state, "tables")
        _open(state)
        table = self._table(data.get("table")) if actor.role == "facilitator" else _own_table(actor)
        item = _item(state, data.get("item"))
        current = state.table_team(table)
        if current is not None and current.item_id == item.id:
            return []
        limit = self.config.max_tables_per_item
        if limit is not None and self.board(state).tables_on(item.id) >= limit:
            raise Rejection(
                "item_full",
                N_("Already {limit} tables on this item. Choose another one."),
                limit=limit,
            )
        return [
            Event("teams.picked", {"team": table_team_id(table), "table": table, "item": item.id})
        ]

    def _assign(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        _mode(state, "ranked")
        if state.assigned:
            raise Rejection("already_assigned", N_("The teams are already made."))
        people = self.board(state).participants()
        people += sorted(pid for pid in state.rankings if pid not in self.roster)
        if not people or not state.items:
            raise Rejection(
                "nothing_to_assign", N_("There is nobody or nothing to make teams with.")
            )
        result = assign(
            list(state.items),
            [(pid, state.rankings.get(pid, [])) for pid in people],
            min_size=self.config.min_size,
            max_size=self.config.max_size,
            keep_all_items=self.config.keep_all_items,
        )
        teams = {item_team_id(item): members for item, members in result.teams.items()}
        data = {"teams": teams, "dropped": result.dropped, "satisfaction": result.satisfaction}
        return [Event("teams.assigned", data)]

    def _move(self, state: TeamsState, data: Mapping[str, Any], actor: Actor) -> list[Event]:
        _mode(state, "first_come", "ranked")
        if state.mode == "ranked" and not state.assigned:
            raise Rejection("not_assigned", N_("Make the teams first."))
        pid = self._participant(data.get("participant"))
        target = str(data.get("team") or "")
        if target and target not in state.teams:
            raise Rejection("unknown_team", N_("This team does not exist."))
        current = state.member_of.get(pid, "")
        if not target and not current:
            raise Rejection("not_in_team", N_("This person is not in a team."))
        if target == current:
            return []
        return [Event("teams.moved", {"participant": pid, "from": current, "to": target})]

    def _participant(self, value: Any) -> str:
        person = self.roster.get(str(value or ""))
        if person is None or person.role != "participant" or person.participant_id is None:
            raise Rejection("unknown_participant", N_("This person is not in the workshop."))
        return str(person.participant_id)

    def _table(self, value: Any) -> int:
        try:
            table = int(value)
        except (TypeError, ValueError):
            raise Rejection("unknown_table", N_("Choose a table number."), field="table") from None
        if not any(a.table == table and a.role == "participant" for a in self.roster.values()):
            raise Rejection("unknown_table", N_("There is nobody at table {table}."), table=table)
        return table

    # -- reduce -----------------------------------------------------------------------------
    def reduce(self, state: TeamsState, event: Event) -> TeamsState:
        d = event.data
        kind = event.kind.removeprefix("teams.")
        if kind == "joined":
            state.place(event.actor, d["team"])
        elif kind == "left":
            state.remove(event.actor)
        elif kind == "moved":
            state.remove(d["participant"])
            if d["to"]:
                state.place(d["participant"], d["to"])
        elif kind == "ranked":
            state.rankings[event.actor] = list(d["items"])
        elif kind == "captain_set":
            state.teams[d["team"]].captain = d["participant"]
        elif kind == "named":
            state.team(d["team"], d.get("table")).name = d["name"]
        elif kind == "picked":
            state.team(d["team"], d["table"]).item_id = d["item"]
        elif kind in ("closed", "reopened"):
            state.open = kind == "reopened"
        elif kind == "assigned":
            for team_id, members in d["teams"].items():
                for pid in members:
                    state.place(pid, team_id)
            state.assigned, state.open = True, False
            state.dropped, state.satisfaction = list(d["dropped"]), dict(d["satisfaction"])
        return state

    def affected_participants(self, state: TeamsState, event: Event) -> Iterable[str]:
        """The people whose own card shows this team: its members, before and after."""
        if event.kind in ("teams.closed", "teams.reopened", "teams.assigned"):
            everyone: Iterable[str] = ALL
            return everyone
        d = event.data
        ids = {event.actor, str(d.get("participant") or "")}
        board = self.board(state)
        for team_id in (d.get("team"), d.get("from"), d.get("to")):
            team = state.teams.get(team_id or "")
            if team is not None:
                ids.update(board.members(team))
        return ids - {"", "facilitator", "screen"}

    # -- views and outputs ------------------------------------------------------------------
    def view(self, state: TeamsState, audience: str) -> dict[str, Any]:
        return self.board(state).view(audience)

    def personal_view(self, state: TeamsState, me: Actor) -> dict[str, Any]:
        return self.board(state).personal(me)

    def outputs(self, state: TeamsState) -> list[Item]:
        return self.board(state).outputs()

    def export(self, state: TeamsState) -> dict[str, Any]:
        return self.board(state).export()


# -- checks ---------------------------------------------------------------------------------
def _mode(state: TeamsState, *modes: str) -> None:
    if state.mode not in modes:
        raise Rejection("wrong_mode", N_("Teams are not formed that way in this step."))


def _open(state: TeamsState) -> None:
    if not state.open:
        raise Rejection("closed", N_("Teams are closed for now."))


def _item(state: TeamsState, value: Any) -> Item:
    item = state.items.get(value) if isinstance(value, str) else None
    if item is None:
        raise Rejection("unknown_item", N_("This choice is not on the list."))
    return item


def _own_team(state: TeamsState, actor: Actor) -> Team:
    team = state.team_of(actor.key)
    if team is None:
        raise Rejection("not_in_team", N_("You are not in a team."))
    return team


def _own_table(actor: Actor) -> int:
    if actor.table is None:
        raise Rejection("no_table", N_("You have no table. Ask the facilitator for one."))
    if not actor.captain:
        raise Rejection("not_captain", N_("Only your table’s captain can do that."))
    return int(actor.table)
