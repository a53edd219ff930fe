"""The word cloud, played in memory with palabre.engine.testing (the `rehearse` fixture comes
from the opt-in plugin named in pyproject.toml; it also re-checks replay after each test)."""

from palabre_word_cloud.activity import WordCloud

from palabre.engine.contract import ActivityContract
from palabre.engine.testing import Rehearsal

SETTINGS = {"prompt": "En un mot, qu’est-ce qui manque au quartier ?", "words_per_person": 2}


# --8<-- [start:test_grouping]
def test_the_same_word_given_by_several_people_grows(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    for name, word in [("Ana", "Vélo"), ("Bruno", "vélo "), ("Chloé", "VÉLO"), ("Dan", "Bancs")]:
        room.join(name).act("add", word=word)
    words = room.view("screen")["words"]
    assert [(w["text"], w["count"], w["size"]) for w in words] == [("Bancs", 1, 2), ("Vélo", 3, 5)]
    assert "Vélo" in room.html("screen") and "Ana" not in room.html("screen")


# --8<-- [end:test_grouping]


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
    assert [text for _, text in ana.view()["mine"]] == ["Fontaine", "Ombre"]


# --8<-- [end:test_refusals]


def test_a_hidden_word_leaves_the_screen_and_the_next_step_but_not_the_export(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    room.join("Ana").act("add", word="Insulte")
    room.join("Bruno").act("add", word="Marché")
    room.facilitator.act("hide", word="insulte")
    assert "Insulte" not in room.html("screen") and "Insulte" in room.html("facilitator")
    assert [item.title for item in room.outputs()] == ["Marché"]
    assert {"text": "Insulte", "count": 1, "hidden": True} in room.export()["words"]
    room.facilitator.act("show", word="insulte")
    assert "Insulte" in room.html("screen")


def test_a_closed_cloud_takes_no_more_words(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana = room.join("Ana")
    room.facilitator.act("close")
    assert ana.refused("add", word="Parc").code == "closed"
    assert "Le nuage de mots est fermé." in room.html("participant")
    room.facilitator.act("reopen")
    ana.act("add", word="Parc")


def test_a_participant_cannot_hide_a_word(rehearse) -> None:
    room = rehearse(WordCloud, SETTINGS)
    ana = room.join("Ana")
    ana.act("add", word="Parc")
    assert ana.refused("hide", word="parc").code == "forbidden"


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
