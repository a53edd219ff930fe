"""The teams activity's settings and state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from palabre.engine import ActivityConfig, Item, require_tables

Mode = Literal["first_come", "ranked", "tables"]
NAME_MAX = 40  # graphemes in a team name: it must fit a card on the projector


class ItemSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)
    group: str = Field(default="", max_length=200)


class TeamsConfig(ActivityConfig):
    """How people form teams around the items of an earlier step (`from`)."""

    mode: Mode = "first_come"
    min_size: int = Field(default=5, ge=1, le=100)
    max_size: int = Field(default=7, ge=1, le=100)
    # ranked: how many items each person may rank, and whether every item gets a team even
    # when there are too few people to fill them all to min_size.
    choices: int = Field(default=3, ge=1, le=10)
    keep_all_items: bool = False
    # tables: how many tables may pick the same item (None: no limit).
    max_tables_per_item: int | None = Field(default=None, ge=1, le=300)
    # Only the first N items of the `from` step (a dot-vote ranks them: its shortlist).
    shortlist: int | None = Field(default=None, ge=1, le=200)
    # Items to use when the step has no `from` (or it produced nothing).
    items: list[ItemSetting] = Field(default_factory=list, max_length=200)
    prompt: str = Field(default="", max_length=200)

    @field_validator("mode")
    @classmethod
    def _tables_mode_needs_tables(cls, mode: str, info: ValidationInfo) -> str:
        if mode == "tables":
            require_tables('mode = "tables"', info)
        return mode

    @model_validator(mode="after")
    def _sizes_in_order(self) -> TeamsConfig:
        if self.min_size > self.max_size:
            raise ValueError("min_size cannot be larger than max_size")
        return self


@dataclass
class Team:
    """A team. In tables mode its members and captain are the roster's people at `table`
    (read when needed, never copied); otherwise they are kept here, in joining order."""

    id: str
    item_id: str
    table: int | None = None
    members: list[str] = field(default_factory=list)
    captain: str | None = None
    name: str = ""


@dataclass
class TeamsState:
    mode: Mode
    items: dict[str, Item]
    teams: dict[str, Team] = field(default_factory=dict)
    open: bool = True
    member_of: dict[str, str] = field(default_factory=dict)  # participant id -> team id
    rankings: dict[str, list[str]] = field(default_factory=dict)  # ranked: id -> item ids
    assigned: bool = False
    dropped: list[str] = field(default_factory=list)
    satisfaction: dict[str, int] = field(default_factory=dict)

    def team_of(self, participant_id: str) -> Team | None:
        team_id = self.member_of.get(participant_id)
        return self.teams.get(team_id) if team_id else None

    def table_team(self, table: int) -> Team | None:
        return self.teams.get(table_team_id(table))

    # -- changes, made only by `reduce` -------------------------------------------------------
    def place(self, pid: str, team_id: str) -> None:
        self.remove(pid)
        self.teams[team_id].members.append(pid)
        self.member_of[pid] = team_id

    def remove(self, pid: str) -> None:
        team = self.team_of(pid)
        if team is None:
            return
        team.members.remove(pid)
        if team.captain == pid:
            team.captain = None
        del self.member_of[pid]

    def team(self, team_id: str, table: int | None) -> Team:
        """A team by id; a table's team is made the first time the table names or picks."""
        if team_id not in self.teams:
            self.teams[team_id] = Team(team_id, "", table)
        return self.teams[team_id]


def item_team_id(item_id: str) -> str:
    return f"team-{item_id}"


def table_team_id(table: int) -> str:
    return f"table-{table}"
