"""Four more real formats, each played whole against a real server with simulated phones:
what each step outputs feeds the next, and every result traces back to where it came from."""

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from day import Day, jurors_score, open_day, run_pitches, start_day_server
from support import run


async def finish_with_jury_and_awards(day: Day, jury: str, results: str,
                                      awards: list[str]) -> list:  # type: ignore[type-arg]
    """Three jurors score, the ranking is revealed, awards go to the top projects in turn,
    and the restitution is published to the end."""
    await day.next_step()
    await day.add_jurors(["Juré 1", "Jurée 2", "Juré 3"])
    await jurors_score(day, jury)
    await day.act("close", step=jury)
    await day.act("reveal", step=jury)
    ranked = day.outputs(jury)
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    await day.next_step()
    for project, award in zip(ranked, awards, strict=False):
        await day.act("give_award", {"item": project.id, "award": award}, results)
    while (await day.facilitator.act("publish", step=results))["ok"]:
        pass
    final = day.outputs(results)
    assert Counter(p.award for p in final if p.award) == Counter(awards)  # type: ignore[attr-defined]
    await day.facilitator.close()
    for juror in day.jurors:
        await juror.close()
    return final


def teams_of(day: Day, step: str, expected_origin: set[str], max_size: int) -> list:  # type: ignore[type-arg]
    teams = day.outputs(step)
    assert teams
    for team in teams:
        assert team.kind == "team" and 1 <= team.size <= max_size  # type: ignore[attr-defined]
        assert team.origin[0].id in expected_origin
    members = [m for team in teams for m in team.members]  # type: ignore[attr-defined]
    assert len(members) == len(set(members)), "someone is in two teams"
    return teams


def test_the_city_creativity_day_keeps_seven_challenges_of_twelve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PALABRE_TEST_CLOCK", "1")
    server, kit = start_day_server(tmp_path, "challenge-shortlist")

    async def main() -> None:
        day = await open_day(server, kit, participants=60)
        await day.play_until(lambda: day.count("dot_voting.voted") >= 200)
        await day.act("close", step="defis")
        await day.act("reveal", step="defis")
        seven = day.outputs("defis")
        assert len(seven) == 7
        assert [c.score for c in seven] == sorted((c.score for c in seven), reverse=True)

        await day.next_step()
        await day.play_until(lambda: day.count("teams.joined") >= 40)
        await day.act("close", step="equipes")
        teams = teams_of(day, "equipes", {c.id for c in seven}, max_size=7)

        await day.next_step()
        await run_pitches(day, "pitchs")
        assert len(day.outputs("pitchs")) == len(teams)
        final = await finish_with_jury_and_awards(day, "jury", "palmares",
                                                  ["laureat", "mention", "mention"])
        winner = next(p for p in final if p.award == "laureat")  # type: ignore[attr-defined]
        assert any(step.id in {c.id for c in seven} for step in winner.trail())

    try:
        run(main(), timeout=600)
    finally:
        server.stop()


def test_the_municipal_hackathon_forms_balanced_teams_from_ranked_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PALABRE_TEST_CLOCK", "1")
    server, kit = start_day_server(tmp_path, "municipal-hackathon")

    async def main() -> None:
        day = await open_day(server, kit, participants=40)
        await day.play_until(lambda: day.count("diagnosis.posted") >= 40)
        await day.act("close", step="problemes")
        problems = day.outputs("problemes")

        await day.next_step()
        by_theme: dict[str, list[str]] = defaultdict(list)
        for problem in problems:
            by_theme[problem.group].append(problem.id)
        for n, (theme, ids) in enumerate(sorted(by_theme.items())):
            for half, part in enumerate((ids[::2], ids[1::2])):
                if part:
                    await day.act("create", {"name": f"Défi {n + 1}.{half + 1}",
                                             "theme": theme, "items": " ".join(part)}, "defis")
        await day.act("open_vote", step="defis")
        await day.play_until(lambda: day.count("axes.voted") >= 80)
        await day.act("close_vote", step="defis")
        challenges = day.outputs("defis")
        assert len(challenges) == 5

        await day.next_step()
        await day.play_until(lambda: day.count("teams.ranked") >= 35)
        await day.act("assign", step="equipes")
        teams = teams_of(day, "equipes", {c.id for c in challenges}, max_size=8)
        assert sum(t.size for t in teams) == 40  # type: ignore[attr-defined]

        await day.next_step()
        await run_pitches(day, "pitchs")
        final = await finish_with_jury_and_awards(
            day, "jury", "prix", ["prix-jury", "prix-habitants", "accompagnement"])
        for project in (p for p in final if p.award):  # type: ignore[attr-defined]
            kinds = [step.kind for step in project.trail()]
            assert "axis" in kinds and "problem" in kinds

    try:
        run(main(), timeout=600)
    finally:
        server.stop()


def test_the_social_and_solidarity_hackathon_judges_social_benefit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PALABRE_TEST_CLOCK", "1")
    server, kit = start_day_server(tmp_path, "social-solidarity")

    async def main() -> None:
        day = await open_day(server, kit, participants=80)
        await day.play_until(lambda: day.count("diagnosis.posted") >= 60)
        await day.act("close", step="enjeux")
        needs = day.outputs("enjeux")
        assert len({n.theme for n in needs}) == 5  # type: ignore[attr-defined]

        await day.next_step()
        by_theme: dict[str, list[str]] = defaultdict(list)
        for need in needs:
            by_theme[need.group].append(need.id)
        for theme, ids in sorted(by_theme.items()):
            await day.act("create", {"name": f"Projet : {theme}", "theme": theme,
                                     "items": " ".join(ids)}, "projets")
        subjects = day.outputs("projets")
        assert len(subjects) == 5 and all(s.origin for s in subjects)

        await day.next_step()
        await day.play_until(lambda: day.count("teams.joined") >= 35)
        await day.act("close", step="equipes")
        teams_of(day, "equipes", {s.id for s in subjects}, max_size=8)

        await day.next_step()
        await run_pitches(day, "pitchs")
        config = day.runtime("pitchs")
        del config
        await finish_with_jury_and_awards(day, "jury", "fete",
                                          ["coup-de-pouce", "accompagnement"])
        jury = day.runtime("jury").activity.config
        weights = {c.id: c.weight for c in jury.criteria}  # type: ignore[attr-defined]
        assert max(weights, key=weights.__getitem__) == "utilite"

    try:
        run(main(), timeout=600)
    finally:
        server.stop()


def test_the_open_data_day_combines_jury_and_audience(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PALABRE_TEST_CLOCK", "1")
    server, kit = start_day_server(tmp_path, "open-data-day")

    async def main() -> None:
        day = await open_day(server, kit, participants=50)
        await day.play_until(lambda: day.count("ideation.posted") >= 20)
        await day.act("close", step="sujets")
        subjects = day.outputs("sujets")

        await day.next_step()
        await day.play_until(lambda: day.count("teams.joined") >= 30)
        await day.act("close", step="groupes")
        teams_of(day, "groupes", {s.id for s in subjects}, max_size=7)

        await day.next_step()
        await run_pitches(day, "restitution")
        await day.next_step()
        await day.play_until(lambda: day.count("jury.voted") >= 40)  # the audience's dots
        await day.add_jurors(["Juré 1", "Jurée 2"])
        await jurors_score(day, "choix")
        await day.act("close", step="choix")
        ranked = day.outputs("choix")
        assert sum(p.audience_dots for p in ranked) >= 40  # type: ignore[attr-defined]
        for project in ranked:
            jury = (project.jury_score or 0) / 5  # type: ignore[attr-defined]
            assert 0 <= project.combined <= 1 and jury <= 1  # type: ignore[attr-defined]
        await day.facilitator.close()
        for juror in day.jurors:
            await juror.close()

    try:
        run(main(), timeout=600)
    finally:
        server.stop()
