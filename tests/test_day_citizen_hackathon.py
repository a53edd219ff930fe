"""The national citizen hackathon, played whole at real scale: 100 residents at 21 tables of
5 with captains; diagnosis on three themes, six axes (two per theme), one project per table,
3-minute pitches, a decision, five prototypes and sixteen projects kept for study — each
traced back to its axis and the problems it answers."""

from collections import defaultdict
from pathlib import Path

from day import jurors_score, open_day, run_pitches, start_day_server
from support import run

THEMES = {"education", "formation", "emploi"}
THEME_TITLES = {"Éducation", "Formation et orientation", "Emploi"}


def test_the_national_citizen_hackathon_day(national_day: Path) -> None:
    """The day is played, and checked step by step, by `play_national_day` through the
    `national_day` fixture (conftest.py): once for the session, since the export and
    report tests read the file it leaves."""
    assert national_day.is_file()


def play_national_day(tmp_path: Path) -> None:
    """Needs PALABRE_TEST_CLOCK=1 in the environment (the pitches move the server's clock)."""
    server, kit = start_day_server(tmp_path, "citizen-hackathon-day")

    async def main() -> None:
        day = await open_day(server, kit, participants=100, pace=0.5)
        workshop = day.workshop()
        captains = {a.participant_id for a in workshop.roster.actors.values() if a.captain}
        assert len(workshop.roster) == 100 and len(captains) == 21

        # Morning: table captains post their table's problems under the three themes.
        await day.play_until(lambda: day.count("diagnosis.posted") >= 35, limit=90)
        await day.act("close", step="diagnostic")
        problems = day.outputs("diagnostic")
        assert len(problems) >= 30
        assert {p.theme for p in problems} == THEMES  # type: ignore[attr-defined]
        posters = {e.actor for e in _events(day, "diagnosis.posted")}
        assert posters <= captains

        # The facilitation team groups problems into three axes per theme; the room keeps two.
        await day.next_step()
        by_theme: dict[str, list[str]] = defaultdict(list)
        for problem in problems:
            by_theme[problem.group].append(problem.id)  # axes name themes by their title
        for theme, ids in sorted(by_theme.items()):
            thirds = [ids[n::3] for n in range(3)]
            for n, part in enumerate(thirds):
                if part:
                    await day.act("create", {"name": f"Axe {theme} {n + 1}", "theme": theme,
                                             "items": " ".join(part)}, "axes")
        await day.act("open_vote", step="axes")
        await day.play_until(lambda: day.count("axes.voted") >= 400, limit=120)
        await day.act("close_vote", step="axes")
        axes = day.outputs("axes")
        assert len(axes) == 6
        per_theme = defaultdict(int)
        for axis in axes:
            per_theme[axis.theme] += 1  # type: ignore[attr-defined]
            assert axis.kind == "axis" and axis.origin
            assert {p.kind for p in axis.origin} == {"problem"}
        assert dict(per_theme) == {theme: 2 for theme in THEME_TITLES}

        # Afternoon: each table writes one project sheet under one axis.
        await day.next_step()
        await day.play_until(lambda: len(day.outputs("projets")) >= 21, limit=180)
        await day.act("close", step="projets")
        projects = day.outputs("projets")
        assert len(projects) == 21
        assert sorted(p.table for p in projects) == list(range(1, 22))  # type: ignore[attr-defined]
        axis_ids = {a.id for a in axes}
        for project in projects:
            assert project.origin and project.origin[0].id in axis_ids
            assert project.need and project.objective  # type: ignore[attr-defined]

        # Each table's spokesperson pitches for three minutes (and runs five seconds over).
        await day.next_step()
        await run_pitches(day, "pitchs")
        pitched = day.outputs("pitchs")
        assert len(pitched) == 21 and all(p.pitched for p in pitched)  # type: ignore[attr-defined]
        assert {round(p.overrun_seconds) for p in pitched} == {5}  # type: ignore[attr-defined]

        # The decision-makers score the projects; the ranking is revealed.
        await day.next_step()
        await day.add_jurors(["Mme la préfète", "M. le maire", "Mme la déléguée"])
        await jurors_score(day, "decision")
        await day.act("close", step="decision")
        await day.act("reveal", step="decision")
        ranked = day.outputs("decision")
        assert len(ranked) == 21
        scores = [r.score for r in ranked]
        assert scores == sorted(scores, reverse=True)

        # Five prototypes, sixteen kept for study, each traced back to the diagnosis.
        await day.next_step()
        for n, project in enumerate(ranked):
            award = "prototype" if n < 5 else "etude"
            await day.act("give_award", {"item": project.id, "award": award}, "resultats")
        refused = await day.facilitator.act("give_award", {"item": ranked[5].id,
                                                           "award": "prototype"}, "resultats")
        assert refused["error"]["code"] == "award_full"
        while (await day.facilitator.act("publish", step="resultats"))["ok"]:
            pass
        final = day.outputs("resultats")
        awards = defaultdict(list)
        for project in final:
            awards[project.award].append(project)  # type: ignore[attr-defined]
        assert len(awards["prototype"]) == 5 and len(awards["etude"]) == 16
        problem_ids = {p.id for p in problems}
        for project in awards["prototype"]:
            trail = project.trail()
            assert any(step.kind == "axis" for step in trail)
            answered = {step.id for step in trail if step.kind == "problem"}
            assert answered and answered <= problem_ids
        await day.facilitator.close()
        for juror in day.jurors:
            await juror.close()

    try:
        run(main(), timeout=600)
    finally:
        server.stop()


def _events(day, kind):  # type: ignore[no-untyped-def]
    import json
    import sqlite3

    conn = sqlite3.connect(f"file:{day.server.db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT actor, data FROM events WHERE kind = ?", (kind,))
        return [type("E", (), {"actor": a, "data": json.loads(d)}) for a, d in rows]
    finally:
        conn.close()
