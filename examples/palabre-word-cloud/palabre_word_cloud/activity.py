"""The word cloud: each person gives a few short words; the same word given by several
people grows on the screen; the facilitator can hide one; the most given go on to the next
step. Reads top to bottom: config, state, handle, reduce, views, outputs, export."""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# --8<-- [start:top]
from pydantic import Field

from palabre.engine import (
    N_,
    Action,
    Activity,
    ActivityConfig,
    Actor,
    Event,
    Item,
    Rejection,
    clean_text,
    duplicate_key,
)

P, F = frozenset({"participant"}), frozenset({"facilitator"})
MAX_WORDS_IN_ANSWER = 3  # "pistes cyclables" is one answer; a sentence is not
SCREEN_WORDS = 30  # the most given; more would not read from the back of a town hall
# Around an answer, not in it: "Vélo !" is "Vélo", "l'ombre" stays as typed.
PUNCTUATION = " .,;:!?…\"'«»“”‘’"
# Typed one way on one phone, another way on the next: "jeux d’eau" (iPhone), "jeux d'eau".
SAME_LETTERS = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "œ": "oe", "æ": "ae"})
# --8<-- [end:top]


# --8<-- [start:config]
class WordCloudConfig(ActivityConfig):
    prompt: str = Field(default="", max_length=200)
    words_per_person: int = Field(default=3, ge=1, le=10)
    max_length: int = Field(default=24, ge=2, le=40)
    # How many of the most given words go on to the next step (0: all of them).
    retain: int = Field(default=10, ge=0, le=50)


# --8<-- [end:config]


# --8<-- [start:state]
@dataclass
class Word:
    spellings: Counter[str] = field(default_factory=Counter)  # "Vélo" ×2, "velo" ×1
    givers: list[str] = field(default_factory=list)  # participant ids, never shown

    @property
    def text(self) -> str:
        # The most given spelling; on a tie, the first given (Counter keeps that order).
        return self.spellings.most_common(1)[0][0]


@dataclass
class CloudState:
    words: dict[str, Word] = field(default_factory=dict)  # by word_key, first given first
    mine: dict[str, dict[str, str]] = field(default_factory=dict)  # person -> key -> spelling
    # Hidden by the facilitator. Kept apart from `words`: a hidden word taken back by all
    # its givers and given again stays hidden.
    hidden: set[str] = field(default_factory=set)
    open: bool = True


# --8<-- [end:state]


# --8<-- [start:actions]
class WordCloud(Activity):
    slug = "word_cloud"  # what kits write: activity = "word_cloud"
    name = N_("Word cloud")  # shown on the panel, translated
    Config = WordCloudConfig
    config: WordCloudConfig
    actions = {"add": P, "remove": P, "hide": F, "show": F, "close": F, "reopen": F}
    # --8<-- [end:actions]

    def initial_state(self, inputs: list[Item]) -> CloudState:
        return CloudState()

    # --8<-- [start:handle]
    def handle(self, state: CloudState, action: Action, actor: Actor) -> list[Event]:
        if action.name in ("add", "remove") and not state.open:
            raise Rejection("closed", N_("The word cloud is closed."))
        if action.name == "add":
            text = self._word(action.data.get("word"))
            key = word_key(text)
            mine = state.mine.get(actor.key, {})
            if key in mine:
                raise Rejection("already_given", N_("You already gave this word."), field="word")
            if len(mine) >= self.config.words_per_person:
                raise Rejection(
                    "no_words_left",
                    N_("You have given your {limit} words; remove one to give another."),
                    limit=self.config.words_per_person,
                )
            return [Event("word_cloud.added", {"key": key, "text": text})]
        # The other actions name a word by its key (the pages send it) or any spelling of it.
        key = known_key(action.data.get("word"))
        if action.name == "remove":
            if key not in state.mine.get(actor.key, {}):
                raise Rejection("unknown_word", N_("This word is not among yours."))
            return [Event("word_cloud.removed", {"key": key})]
        if action.name in ("hide", "show"):
            if key not in state.words:
                raise Rejection("unknown_word", N_("There is no such word."))
            kind = "hidden" if action.name == "hide" else "shown"
            return [Event(f"word_cloud.{kind}", {"key": key})]
        return [Event("word_cloud.closed" if action.name == "close" else "word_cloud.reopened")]

    def _word(self, value: Any) -> str:
        # clean_text refuses what is not text, empty or too long, naming the field.
        text = clean_text(value, field="word", max_graphemes=self.config.max_length)
        text = " ".join(text.split()).strip(PUNCTUATION)
        if not word_key(text):  # nothing but punctuation
            raise Rejection("empty_text", N_("Please write something."), field="word")
        if len(text.split()) > MAX_WORDS_IN_ANSWER:
            raise Rejection(
                "too_many_words",
                N_("A few words only: {limit} at most."),
                field="word",
                limit=MAX_WORDS_IN_ANSWER,
            )
        return text

    # --8<-- [end:handle]

    # --8<-- [start:reduce]
    def reduce(self, state: CloudState, event: Event) -> CloudState:
        kind, data = event.kind.removeprefix("word_cloud."), event.data
        if kind == "added":
            word = state.words.setdefault(data["key"], Word())
            word.spellings[data["text"]] += 1
            word.givers.append(event.actor)
            state.mine.setdefault(event.actor, {})[data["key"]] = data["text"]
        elif kind == "removed":
            word = state.words[data["key"]]
            text = state.mine[event.actor].pop(data["key"])
            word.givers.remove(event.actor)
            word.spellings[text] -= 1
            word.spellings += Counter()  # drops spellings nobody gives any more
            if not word.givers:
                del state.words[data["key"]]
        elif kind == "hidden":
            state.hidden.add(data["key"])
        elif kind == "shown":
            state.hidden.discard(data["key"])
        elif kind in ("closed", "reopened"):
            state.open = kind == "reopened"
        return state

    # --8<-- [end:reduce]

    # --8<-- [start:views]
    def view(self, state: CloudState, audience: str) -> dict[str, Any]:
        words = [
            {"key": key, "text": w.text, "count": len(w.givers), "hidden": key in state.hidden}
            for key, w in state.words.items()
        ]
        words.sort(key=lambda w: -w["count"])  # stable: on a tie, the first given first
        contributors = sum(1 for given in state.mine.values() if given)
        common = {"prompt": self.config.prompt, "open": state.open, "contributors": contributors}
        if audience == "facilitator":
            return common | {"words": words}  # hidden ones too, to show them again
        if audience == "participant":
            return common  # phones give words; the room screen shows them
        visible = [w for w in words if not w["hidden"]]
        shown = visible[:SCREEN_WORDS]
        least, most = (shown[-1]["count"], shown[0]["count"]) if shown else (0, 0)
        for word in shown:
            word["size"] = size_class(word["count"], least, most)
        # The biggest words in the middle, smaller ones around them; no names, no ids.
        return common | {"words": middle_out(shown), "more": len(visible) - len(shown)}

    def personal_view(self, state: CloudState, me: Actor) -> dict[str, Any]:
        mine = state.mine.get(me.key, {})
        return {
            "open": state.open,
            "mine": [
                {"key": key, "text": text, "hidden": key in state.hidden}
                for key, text in sorted(mine.items(), key=lambda pair: pair[1].casefold())
            ],
            "left": self.config.words_per_person - len(mine),
            "max_length": self.config.max_length,
        }

    # --8<-- [end:views]

    # --8<-- [start:outputs]
    def outputs(self, state: CloudState) -> list[Item]:
        ranked = [w for w in self.view(state, "facilitator")["words"] if not w["hidden"]]
        kept = ranked[: self.config.retain] if self.config.retain else ranked
        return [
            Item(id=word_id(w["key"]), title=w["text"], kind="word", score=float(w["count"]))
            for w in kept
        ]

    def export(self, state: CloudState) -> dict[str, Any]:
        view = self.view(state, "facilitator")
        return {
            "prompt": self.config.prompt,
            "contributors": view["contributors"],
            # Counts, never who gave what: the record is shared after the day.
            "words": [
                {"text": w["text"], "count": w["count"], "hidden": w["hidden"]}
                for w in view["words"]
            ],
            "outputs": [item.model_dump() for item in self.outputs(state)],
        }

    # --8<-- [end:outputs]


# --8<-- [start:helpers]
def word_key(text: str) -> str:
    """The key under which spellings of a word are one: the engine's `duplicate_key` (case,
    spaces, width), then without accents on Latin letters, since on a phone "velo" is often
    "vélo" typed in a hurry. Marks on other scripts stay: there they tell words apart."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFD", duplicate_key(text)):
        if unicodedata.combining(ch) and kept and kept[-1].isascii():
            continue
        kept.append(ch)
    key = unicodedata.normalize("NFC", "".join(kept)).translate(SAME_LETTERS)
    return key.strip(PUNCTUATION)


def known_key(value: Any) -> str:
    """The key of a word named in an action, or "" (which no word has) for odd data."""
    if not isinstance(value, str) or len(value) > 200:
        return ""
    return word_key(value)


# --8<-- [end:helpers]


def word_id(key: str) -> str:
    """A short, stable id for a word (keys hold spaces and accents; ids go in attributes)."""
    return "w-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def size_class(count: int, least: int, most: int) -> int:
    """1 (the least given on the screen) to 5 (the most given); 3 while all are equal."""
    if most == least:
        return 3
    return 1 + round(4 * (count - least) / (most - least))


def middle_out(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Biggest in the centre, smaller ones alternating left and right of it."""
    arranged: list[dict[str, Any]] = []
    for n, word in enumerate(words):
        if n % 2:
            arranged.insert(0, word)
        else:
            arranged.append(word)
    return arranged
