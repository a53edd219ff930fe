"""Posted texts: the one set of rules that ideation and diagnosis share.

People post a short title (with an optional description and the kit's extra fields), then
edit or withdraw what they own; the facilitator hides, unhides, merges duplicates (and undoes
a merge), and closes or reopens the board. Each activity keeps its own event names
(`<prefix>.posted`, …), its own id key in event data ("idea", "problem") and its own wording:
messages are msgids the activity marks with `N_`, so its catalog translates its own nouns and
this module needs no catalog of its own.

Who owns a post is a string: a participant id, or `table:<n>` when a table shares a sheet.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from palabre.engine import ALL, Action, Actor, Event, Item, Rejection, clean_text, duplicate_key

# Names an extra field may not take: they are the post's own form fields or Item fields,
# and an extra field is copied into the output Item and read back from the same form.
_P, _F = frozenset({"participant"}), frozenset({"facilitator"})
# The actions of any activity built on a Board: authors post and tidy their own posts, the
# facilitator moderates (each moderation has its undo) and opens or closes posting.
ACTIONS: dict[str, frozenset[str]] = {
    "post": _P,
    "edit": _P,
    "withdraw": _P,
    "hide": _F,
    "unhide": _F,
    "merge": _F,
    "unmerge": _F,
    "close": _F,
    "reopen": _F,
}

RESERVED_NAMES = frozenset(
    {"id", "title", "description", "kind", "group", "score", "origin", "merged", "owner"}
    | {"idea", "problem", "into", "frame", "theme", "table", "extra"}
)
MODERATION = {
    "hide": "hidden",
    "unhide": "unhidden",
    "merge": "merged",
    "unmerge": "unmerged",
    "close": "closed",
    "reopen": "reopened",
}
TABLE_PREFIX = "table:"


# -- config pieces ----------------------------------------------------------------------------
class ExtraField(BaseModel):
    """A field the kit adds to each post (a project sheet's need, budget, partners…)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")
    label: str = Field(min_length=1, max_length=80)
    max_length: int = Field(default=120, ge=1, le=2000)
    required: bool = False
    multiline: bool = False

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_NAMES:
            raise ValueError(f"{name!r} is already used by every post; choose another name")
        return name


def check_unique_names(fields: Sequence[ExtraField]) -> None:
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError("each extra field needs its own name")


@dataclass(frozen=True)
class Limits:
    max_title: int
    max_description: int  # 0: no description at all
    extra_fields: Sequence[ExtraField] = ()


@dataclass(frozen=True)
class Wording:
    """The activity's msgids for each refusal (`too_many` takes `{limit}`)."""

    closed: str
    too_many: str
    duplicate: str
    not_yours: str
    merged: str
    unknown: str
    bad_merge: str
    not_merged: str


# -- state ------------------------------------------------------------------------------------
@dataclass
class Post:
    id: str
    title: str
    description: str
    extra: dict[str, str]
    author: str  # who posted it (a participant id); never shown to others
    owner: str  # who may change it: the author, or `table:<n>`
    group: str = ""  # the theme or frame it was posted under
    table: int | None = None  # the author's table when posting, if seated
    hidden: bool = False
    withdrawn: bool = False
    merged_into: str | None = None
    merged_from: list[str] = field(default_factory=list)

    @property
    def visible(self) -> bool:
        return not (self.hidden or self.withdrawn or self.merged_into)


@dataclass
class Board:
    posts: dict[str, Post] = field(default_factory=dict)  # in posting order
    open: bool = True

    def visible(self) -> list[Post]:
        return [p for p in self.posts.values() if p.visible]

    def owned_by(self, owner: str) -> list[Post]:
        return [p for p in self.posts.values() if p.owner == owner and not p.withdrawn]

    def merged_count(self, post: Post) -> int:
        """How many posts were folded into this one, counting merges of merges."""
        return sum(1 + self.merged_count(self.posts[i]) for i in post.merged_from)


def table_owner(table: int) -> str:
    return f"{TABLE_PREFIX}{table}"


def members(owner: str, roster: Mapping[str, Actor]) -> set[str]:
    """The participants an owner stands for: one person, or everyone seated at a table."""
    if not owner.startswith(TABLE_PREFIX):
        return {owner}
    table = int(owner.removeprefix(TABLE_PREFIX))
    return {pid for pid, actor in roster.items() if actor.table == table}


def clean_texts(data: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """Title, description and extra fields, checked in that order; raises the first
    Rejection found."""
    title = clean_text(data.get("title"), field="title", max_graphemes=limits.max_title)
    description = ""
    if limits.max_description:
        description = clean_text(
            data.get("description"),
            field="description",
            max_graphemes=limits.max_description,
            required=False,
            multiline=True,
        )
    extra = {
        f.name: clean_text(
            data.get(f.name),
            field=f.name,
            max_graphemes=f.max_length,
            required=f.required,
            multiline=f.multiline,
        )
        for f in limits.extra_fields
    }
    return {"title": title, "description": description, "extra": extra}


# -- the rules --------------------------------------------------------------------------------
class PostRules:
    """Decisions and folding for one activity's board. `key` names the post in event data;
    `group_key`, if set, is the event field that files a post under a group."""

    def __init__(
        self, prefix: str, key: str, unknown_code: str, wording: Wording, group_key: str = ""
    ) -> None:
        self.prefix, self.key, self.unknown_code = prefix, key, unknown_code
        self.wording, self.group_key = wording, group_key

    def _event(self, past: str, **data: Any) -> Event:
        return Event(f"{self.prefix}.{past}", data)

    # -- deciding (never changes the board) ----------------------------------------------------
    def check_open(self, board: Board) -> None:
        if not board.open:
            raise Rejection("closed", self.wording.closed)

    def post(
        self, board: Board, actor: Actor, owner: str, texts: dict[str, Any], cap: int, **more: Any
    ) -> Event:
        mine = board.owned_by(owner)
        if len(mine) >= cap:
            raise Rejection("too_many", self.wording.too_many, limit=cap)
        key = duplicate_key(texts["title"])
        if any(duplicate_key(p.title) == key for p in mine):
            raise Rejection("duplicate", self.wording.duplicate, field="title")
        data = {self.key: secrets.token_hex(6), **texts, **more}
        if owner != actor.key:
            data["owner"] = owner
        if actor.table is not None:
            data["table"] = actor.table
        return self._event("posted", **data)

    def find(self, board: Board, post_id: Any) -> Post:
        post = board.posts.get(post_id) if isinstance(post_id, str) else None
        if post is None:
            raise Rejection(self.unknown_code, self.wording.unknown)
        return post

    def own(self, board: Board, data: Mapping[str, Any], owner: str) -> Post:
        post = self.find(board, data.get(self.key))
        if post.owner != owner or post.withdrawn:
            raise Rejection("not_yours", self.wording.not_yours)
        if post.merged_into:
            raise Rejection("merged", self.wording.merged)
        return post

    def edit(self, post: Post, texts: dict[str, Any], **more: Any) -> Event:
        return self._event("edited", **{self.key: post.id, **texts, **more})

    def withdraw(self, post: Post) -> Event:
        return self._event("withdrawn", **{self.key: post.id})

    def moderate(self, board: Board, action: Action) -> Event:
        """hide, unhide, merge, unmerge, close, reopen: the facilitator's actions."""
        past = MODERATION[action.name]
        if action.name in ("close", "reopen"):
            return self._event(past)
        post = self.find(board, action.data.get(self.key))
        if action.name == "unmerge":
            # The post comes back as it was; `into` names the post it leaves (whose author's
            # list changes too).
            if not post.merged_into:
                raise Rejection("not_merged", self.wording.not_merged)
            return self._event(past, **{self.key: post.id, "into": post.merged_into})
        if action.name != "merge":
            return self._event(past, **{self.key: post.id})
        target = self.find(board, action.data.get("into"))
        if target.id == post.id or not (target.visible and post.visible):
            raise Rejection("bad_merge", self.wording.bad_merge)
        return self._event(past, **{self.key: post.id, "into": target.id})

    # -- folding -------------------------------------------------------------------------------
    def reduce(self, board: Board, event: Event) -> None:
        d, past = event.data, event.kind.removeprefix(f"{self.prefix}.")
        if past == "posted":
            board.posts[d[self.key]] = Post(
                d[self.key],
                d["title"],
                d["description"],
                d.get("extra", {}),
                event.actor,
                d.get("owner") or event.actor,
                d.get(self.group_key, "") if self.group_key else "",
                d.get("table"),
            )
        elif past == "edited":
            post = board.posts[d[self.key]]
            post.title, post.description = d["title"], d["description"]
            post.extra = d.get("extra", {})
            if self.group_key and self.group_key in d:
                post.group = d[self.group_key]
        elif past == "withdrawn":
            board.posts[d[self.key]].withdrawn = True
        elif past in ("hidden", "unhidden"):
            board.posts[d[self.key]].hidden = past == "hidden"
        elif past == "merged":
            board.posts[d[self.key]].merged_into = d["into"]
            board.posts[d["into"]].merged_from.append(d[self.key])
        elif past == "unmerged":
            post = board.posts[d[self.key]]
            post.merged_into = None
            target = board.posts[d["into"]]
            if post.id in target.merged_from:
                target.merged_from.remove(post.id)
        elif past in ("closed", "reopened"):
            board.open = past == "reopened"

    def affected(self, board: Board, event: Event, roster: Mapping[str, Actor]) -> Iterable[str]:
        """Whose own list an event changes: the owners (every member of a table) and authors
        of the posts it touches, and whoever acted."""
        if event.kind in (f"{self.prefix}.closed", f"{self.prefix}.reopened"):
            return ALL
        people = {event.actor}
        for post_id in (event.data.get(self.key), event.data.get("into")):
            post = board.posts.get(post_id) if isinstance(post_id, str) else None
            if post is not None:
                people |= {post.author} | members(post.owner, roster)
        return people


# -- showing ----------------------------------------------------------------------------------
def public(board: Board, post: Post) -> dict[str, Any]:
    """A post as anyone may see it: never its author."""
    return {
        "id": post.id,
        "title": post.title,
        "description": post.description,
        "extra": post.extra,
        "group": post.group,
        "merged": board.merged_count(post),
    }


def moderated(board: Board, post: Post) -> dict[str, Any]:
    """A post as the facilitator sees it: its state too (still no author)."""
    return public(board, post) | {
        "table": post.table,
        "hidden": post.hidden,
        "withdrawn": post.withdrawn,
        "merged_into": post.merged_into,
    }


def newest(posts: Sequence[Post], limit: int | None = None) -> list[Post]:
    ordered = list(reversed(posts))
    return ordered if limit is None else ordered[:limit]


def item(board: Board, post: Post, **fields: Any) -> Item:
    """A visible post as the next step's material; extra fields become Item fields."""
    fixed = {
        "id": post.id,
        "title": post.title,
        "description": post.description,
        "merged": board.merged_count(post),
    }
    return Item.model_validate(fixed | post.extra | fields)


def export_rows(board: Board) -> list[dict[str, Any]]:
    return [moderated(board, p) for p in board.posts.values()]
