"""The word cloud, played in memory with palabre.engine.testing (the `rehearse` fixture comes
from the opt-in plugin named in pyproject.toml; it also re-checks replay after each test)."""

import json

import pytest
from palabre_word_cloud import register_kits
from palabre_word_cloud.activity import SCREEN_WORDS, WordCloud

from palabre.engine import ALL
from palabre.engine.contract import ActivityContract
from palabre.engine.testing import Rehearsal

SETTINGS = {"prompt": "En un mot, qu’est-ce qui manque au quartier ?", "words_per_person": 2}


# --8<-- [start:test_grouping]
def test_the_same_word_given_by_several_people_grows(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    for name, word in [("Ana", "Vélo"), ("Bruno", "velo "), ("Chloé", "VÉLO"), ("Dan", "Bancs")]:
        room.join(name).act("add", word=word)
    words = room.view("screen")["words"]
    assert [(w["text"], w["count"], w["size"]) for w in words] == [("Bancs", 1, 1), ("Vélo", 3, 5)]
    assert "Vélo" in room.html("screen") and "Ana" not in room.html("screen")


# --8<-- [end:test_grouping]


def test_a_word_is_shown_as_most_people_spelt_it(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    room.join("Ana").act("add", word="velo")  # first, but alone in writing it so
    room.join("Bruno").act("add", word="Vélo !")  # the exclamation is not part of the word
    room.join("Chloé").act("add", word="vélo")
    room.join("Dan").act("add", word="Vélo")
    room.join("Eva").act("add", word="coeur")
    room.join("Farid").act("add", word="Cœur")  # a tie: the first given wins
    room.join("Gabin").act("add", word="Jeux d’eau")  # an iPhone's apostrophe
    room.join("Hana").act("add", word="jeux d'eau")
    assert [(w["text"], w["count"]) for w in room.view("facilitator")["words"]] == [
        ("Vélo", 4),
        ("coeur", 2),
        ("Jeux d’eau", 2),
    ]


# --8<-- [start:test_refusals]
def test_a_person_gives_at_most_their_words_and_each_once(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana = room.join("Ana")
    ana.act("add", word="Ombre")
    assert ana.refused("add", word="ombre").code == "already_given"
    assert ana.refused("add", word="   ").code == "empty_text"
    assert ana.refused("add", word="des arbres partout ici").code == "too_many_words"
    ana.act("add", word="Jeux")
    refusal = ana.refused("add", word="Fontaine")
    assert refusal.code == "no_words_left"
    assert room.message(refusal) == (
        "Vous avez donné vos 2 mots\u202f; retirez-en un pour en donner un autre."
    )
    ana.act("remove", word="jeux")
    ana.act("add", word="Fontaine")
    assert [word["text"] for word in ana.view()["mine"]] == ["Fontaine", "Ombre"]


# --8<-- [end:test_refusals]


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        (None, "empty_text"),
        ("?!", "empty_text"),
        (42, "invalid_text"),
        ({"word": "Parc"}, "invalid_text"),
        (["Parc"], "invalid_text"),
        ("Parc" * 5000, "too_long"),
        ("des bancs partout ici", "too_many_words"),
    ],
)
def test_what_is_not_a_short_answer_is_refused_with_a_reason(rehearse, typed, code) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana = room.join("Ana")
    assert ana.refused("add", word=typed).code == code
    assert room.view("facilitator")["words"] == [] and ana.view()["left"] == 2


def test_refusals_read_in_the_persons_language(rehearse) -> None:
    room = rehearse(WordCloud, {"max_length": 18})
    ana = room.join("Ana")
    too_long = ana.refused("add", word="Transports en commun")
    assert room.message(too_long) == "C’est trop long\u00a0: 18 caractères maximum."
    assert room.message(too_long, "en") == "Too long: at most 18 characters."
    sentence = ana.refused("add", word="plus de bancs ici")
    assert room.message(sentence) == "Quelques mots seulement\u00a0: 3 au plus."
    assert ana.act("add", word="Pistes cyclables")  # an expression of two words is one answer


def test_a_person_takes_back_their_word_but_not_someone_elses(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana, bruno = room.join("Ana"), room.join("Bruno")
    ana.act("add", word="MARCHÉ")
    bruno.act("add", word="Marché")
    bruno.act("add", word="Poubelles")
    assert ana.refused("remove", word="poubelles").code == "unknown_word"
    assert ana.refused("remove", word={"key": "marche"}).code == "unknown_word"
    ana.act("remove", word="marche")  # the key the remove button sends
    assert [(w["text"], w["count"]) for w in room.view("facilitator")["words"]] == [
        ("Marché", 1),
        ("Poubelles", 1),
    ]
    bruno.act("remove", word="Poubelles")  # any spelling names the word too
    assert "Poubelles" not in room.html("screen")
    assert room.view("screen")["contributors"] == 1


def test_a_hidden_word_leaves_the_screen_and_the_next_step_but_not_the_export(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana = room.join("Ana")
    ana.act("add", word="Insulte")
    room.join("Bruno").act("add", word="Marché")
    assert room.facilitator.refused("hide", word="personne").code == "unknown_word"
    room.facilitator.act("hide", word="insulte")
    assert "Insulte" not in room.html("screen") and "Insulte" in room.html("facilitator")
    assert "Montrer à l’écran" in room.html("facilitator")
    assert "L’équipe d’animation a retiré ce mot de l’écran." in ana.html()
    assert [item.title for item in room.outputs()] == ["Marché"]
    assert {"text": "Insulte", "count": 1, "hidden": True} in room.export()["words"]
    # Taking it back and giving it again does not bring it back on the screen.
    ana.act("remove", word="insulte")
    ana.act("add", word="INSULTE")
    assert "INSULTE" not in room.html("screen")
    room.facilitator.act("show", word="insulte")
    assert "INSULTE" in room.html("screen")


def test_a_closed_cloud_takes_no_more_words(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana = room.join("Ana")
    ana.act("add", word="Parc")
    room.facilitator.act("close")
    assert ana.refused("add", word="Ombre").code == "closed"
    assert ana.refused("remove", word="parc").code == "closed"
    assert "Le nuage de mots est fermé." in room.html("participant")
    assert "le nuage de mots est fermé" in room.html("screen")
    assert 'data-action="add"' not in ana.html() and 'data-action="remove"' not in ana.html()
    room.facilitator.act("reopen")
    ana.act("add", word="Ombre")


def test_a_participant_cannot_hide_a_word(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana = room.join("Ana")
    ana.act("add", word="Parc")
    assert ana.refused("hide", word="parc").code == "forbidden"
    assert room.facilitator.refused("add", word="Parc").code == "forbidden"


def test_a_word_refreshes_its_givers_phone_and_the_facilitator_every_phone(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana = room.join("Ana")
    room.join("Bruno")
    ana.act("add", word="Parc")
    room.facilitator.act("hide", word="parc")
    added, hidden = room.events("word_cloud.")
    assert list(room.activity.affected_participants(room.state, added)) == [ana.participant_id]
    assert room.activity.affected_participants(room.state, hidden) == ALL


def test_the_screen_keeps_to_the_most_given_words_and_says_how_many_more(rehearse) -> None:
    room = rehearse(WordCloud, {"words_per_person": 10})
    for n in range(4):  # four neighbours, ten different words each
        person = room.join(f"Voisin {n}")
        for k in range(10):
            person.act("add", word=f"Mot {n * 10 + k}")
    room.join("Zoé").act("add", word="mot 39")
    screen = room.view("screen")
    assert len(screen["words"]) == SCREEN_WORDS and screen["more"] == 40 - SCREEN_WORDS
    assert max(screen["words"], key=lambda w: w["size"])["text"] == "Mot 39"
    assert "10 autres mots non affichés" in room.html("screen")
    assert "10 more words not shown" in room.html("screen", "en")


def test_without_a_prompt_the_phones_and_screen_ask_a_default_question(rehearse) -> None:
    room = rehearse(WordCloud)
    assert "En un mot\u00a0: de quoi ce lieu a-t-il besoin\u202f?" in room.html("screen")
    assert "In one word: what does this place need?" in room.html("participant", "en")


def test_the_export_counts_words_and_people_but_names_no_one(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    for name, words in [("Ana", ["Parc", "Ombre"]), ("Bruno", ["parc"]), ("Chloé", [])]:
        person = room.join(name)
        for word in words:
            person.act("add", word=word)
    room.facilitator.act("hide", word="ombre")
    export = json.loads(json.dumps(room.export()))
    assert export["contributors"] == 2
    assert export["words"] == [
        {"text": "Parc", "count": 2, "hidden": False},
        {"text": "Ombre", "count": 1, "hidden": True},
    ]
    assert [(o["title"], o["score"], o["kind"]) for o in export["outputs"]] == [("Parc", 2, "word")]
    for person in room.people:
        assert person.participant_id not in json.dumps(export)


# --8<-- [start:test_pipeline]
def test_the_most_given_words_become_the_items_of_a_dot_vote() -> None:
    room = Rehearsal.from_kit(
        """
        [workshop]
        title = "Brise-glace"
        [[steps]]
        id = "nuage"
        activity = "word_cloud"
        title = "En mots"
        config = { retain = 2 }
        [[steps]]
        id = "vote"
        activity = "dot_voting"
        title = "Vote"
        from = "nuage"
        """
    )
    for name, words in [("Ana", ["Parc", "Bancs"]), ("Bruno", ["parc", "Ombre"]),
                        ("Chloé", ["Ombre", "Parc"])]:  # fmt: skip
        person = room.join(name)
        for word in words:
            person.act("add", word=word)
    room.next()
    assert [item.title for item in room.state.items.values()] == ["Parc", "Ombre"]
    ana = room.people[0]
    ana.act("vote", item=next(iter(room.state.items)))
    assert "Parc" in room.html("facilitator")  # results stay off the screen until revealed


# --8<-- [end:test_pipeline]


def test_the_ice_breaker_kit_plays_the_cloud_then_the_vote() -> None:
    (kit,) = register_kits()  # the file `palabre serve ice-breaker` finds
    room = Rehearsal.from_kit(kit)
    assert room.step_id == "nuage" and room.activity.config.words_per_person == 3
    room.join("Ana").act("add", word="Jardins")
    room.next()
    assert room.step_id == "vote" and [i.title for i in room.state.items.values()] == ["Jardins"]


# --8<-- [start:contract]
class TestWordCloudContract(ActivityContract):
    activity = WordCloud
    config = SETTINGS

    def play(self, room: Rehearsal) -> None:
        # Names that appear nowhere else: the contract looks for them on the screen.
        for name, word in [("Zéphyrine Quillard", "Vélo"), ("Barnabé Ollivier", "vélo")]:
            room.join(name).act("add", word=word)
        room.join("Gwenaëlle Tardieu").act("add", word="Ombre")
        room.facilitator.act("hide", word="ombre")


# --8<-- [end:contract]
