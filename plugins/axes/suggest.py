"""Suggestions for the facilitator: unsorted items that share significant words with an axis,
or with each other. Only ever shown, never applied: the facilitator decides with a click."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from palabre.engine import Item

from .model import AxesState, item_theme

MAX_MOVES = 8
MAX_CLUSTERS = 5

# French function words (and a few English ones, kits are sometimes bilingual), accents
# removed as `_fold` removes them; words under three letters are dropped anyway.
STOP_WORDS = frozenset(
    """
    les des une uns unes aux ces ses mes tes nos vos leur leurs son sa ton ta mon ma
    que qui quoi dont ou est sont etre ete avoir avons avez ont fait faire font plus moins
    pas par pour sur sous dans avec sans entre vers chez elle elles ils nous vous lui eux
    cette cet ceux celle celles tout tous toute toutes tres trop peu bien mal aussi comme
    mais donc car quand alors ainsi meme autre autres certains chaque encore deja jamais
    toujours rien quelque quelques assez beaucoup etc cela ceci ici afin lors selon depuis
    avant apres pendant contre faut peut peuvent doit doivent manque besoin probleme
    problemes the and for with from that this are was not too
    """.split()
)
_WORD = re.compile(r"[a-z0-9]+")


def _fold(text: str) -> str:
    """Lower case without accents, so "École" and "ecoles" meet."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stem(word: str) -> str:
    # Plurals are the commonest near-duplicates in short French titles (logement/logements).
    if len(word) > 4 and word[-1] in "sx":
        return word[:-1]
    return word


def words(text: str) -> set[str]:
    """The significant words of a text, folded and crudely singularised."""
    return {
        _stem(w)
        for w in _WORD.findall(_fold(text).replace("’", " ").replace("'", " "))
        if len(w) >= 3 and w not in STOP_WORDS and not w.isdigit()
    }


def _item_words(item: Item) -> set[str]:
    return words(f"{item.title} {item.description}")


@dataclass(frozen=True)
class Move:
    """Put `item` into `axis`: they share `shared` (folded words)."""

    item: Item
    axis_id: str
    axis_name: str
    shared: tuple[str, ...]


@dataclass(frozen=True)
class Cluster:
    """Several unsorted items share `word`: perhaps a new axis, themed if they agree."""

    word: str
    items: tuple[Item, ...]
    theme: str

    @property
    def name(self) -> str:
        return self.word.capitalize()

    @property
    def item_ids(self) -> str:
        return " ".join(item.id for item in self.items)


def suggest_moves(state: AxesState, limit: int = MAX_MOVES) -> list[Move]:
    """For each unsorted item, the axis sharing the most words with it (same theme first);
    the `limit` items sharing the most (0: all)."""
    bags = {
        axis.id: words(axis.name).union(*(_item_words(i) for i in state.items_of(axis.id)))
        for axis in state.axes.values()
    }
    moves = []
    for item in state.unsorted():
        mine = _item_words(item)
        best = max(
            state.axes.values(),
            key=lambda a: (len(mine & bags[a.id]), a.theme == item_theme(item)),
            default=None,
        )
        if best is not None and mine & bags[best.id]:
            moves.append(Move(item, best.id, best.name, tuple(sorted(mine & bags[best.id]))))
    moves.sort(key=lambda m: -len(m.shared))  # stable: input order among equals
    return moves[:limit] if limit else moves


def suggest_clusters(state: AxesState, taken: Iterable[str] = ()) -> list[Cluster]:
    """Groups of at least two unsorted items sharing a word, biggest first, each item in one
    group only; items in `taken` (already suggested for an axis) are left out."""
    skip = set(taken)
    pool = {item.id: (item, _item_words(item)) for item in state.unsorted() if item.id not in skip}
    names = {_fold(axis.name) for axis in state.axes.values()}
    clusters: list[Cluster] = []
    while pool and len(clusters) < MAX_CLUSTERS:
        counts: dict[str, list[Item]] = {}
        for item, bag in pool.values():
            for word in sorted(bag):
                counts.setdefault(word, []).append(item)
        candidates = [(w, its) for w, its in counts.items() if len(its) >= 2 and w not in names]
        if not candidates:
            break
        word, members = max(candidates, key=lambda c: (len(c[1]), -_first(c[1], pool)))
        themes = {item_theme(i) for i in members}
        clusters.append(Cluster(word, tuple(members), themes.pop() if len(themes) == 1 else ""))
        for item in members:
            del pool[item.id]
    return clusters


def _first(members: list[Item], pool: dict[str, tuple[Item, set[str]]]) -> int:
    # Among equally big groups, the one whose first item came first: stable on screen.
    order = list(pool)
    return order.index(members[0].id)
