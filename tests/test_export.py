"""Exports (issue 8): the national citizen hackathon, played whole at full scale (100 phones,
21 tables, three jurors), exported in every format by the `palabre export` command; each
file read back and compared with the event log: every dot and every score accounted for,
totals equal, and no device id, cookie or secret anywhere."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import pytest
from report_support import OVERFLOWING, print_pages

from browser import browser  # noqa: F401  (fixture)
from palabre.engine.cli import main as palabre
from palabre.engine.exporters import FORMULA_START, markdown, safe_cell
from palabre.engine.plugins import collect_activities, get_plugin_manager
from palabre.engine.record import SECRET_META, build_record, record_schema
from palabre.engine.replay import read_log

ACTIVITIES = collect_activities(get_plugin_manager())
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture(scope="module")
def day_db(national_day: Path) -> Path:
    """The national day, played once for the session (conftest.py)."""
    return national_day


@pytest.fixture(scope="module")
def exports(day_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("exports")
    files = {"json": out / "day.json", "csv": out / "day.zip", "md": out / "day.md",
             "xlsx": out / "day.xlsx", "sqlite": out / "day.sqlite"}  # fmt: skip
    for fmt, path in files.items():
        assert palabre(["export", str(day_db), "--format", fmt, "--out", str(path)]) == 0
    return files


def log_rows(db: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT actor, data FROM events WHERE kind = ? ORDER BY seq", (kind,))
        return [(actor, json.loads(data)) for actor, data in rows]
    finally:
        conn.close()


def dots_in_log(db: Path) -> Counter[str]:
    dots: Counter[str] = Counter()
    for _, data in log_rows(db, "axes.voted"):
        dots[data["axis"]] += 1
    for _, data in log_rows(db, "axes.unvoted"):
        dots[data["axis"]] -= 1
    return +dots


def scores_in_log(db: Path) -> dict[tuple[int, str, str], int]:
    """(juror number in order of first score, item, criterion) -> the last score given."""
    numbers: dict[str, int] = {}
    scores = {}
    for actor, data in log_rows(db, "jury.scored"):
        number = numbers.setdefault(actor, len(numbers) + 1)
        scores[(number, data["item"], data["criterion"])] = data["score"]
    return scores


def forbidden(db: Path) -> set[str]:
    """Device ids (every actor of the log) and every secret of the file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        actors = {a for (a,) in conn.execute("SELECT DISTINCT actor FROM events")}
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    finally:
        conn.close()
    secrets = {meta[k] for k in SECRET_META if k in meta}
    return {s for s in actors | secrets if s not in ("", "facilitator")}


def test_the_record_follows_its_schema_and_says_the_day_is_finished(day_db: Path) -> None:
    record = build_record(read_log(day_db), ACTIVITIES)
    jsonschema.validate(record, record_schema())
    assert record["status"] == "finished"
    assert record["participation"]["participants"] == 100
    assert [s["id"] for s in record["steps"]] == [
        "diagnostic", "axes", "projets", "pitchs", "decision", "resultats"]  # fmt: skip


def test_the_json_export_is_the_record_and_holds_every_dot_and_score(
    day_db: Path, exports: dict[str, Path]
) -> None:
    record = json.loads(exports["json"].read_text(encoding="utf-8"))
    again = build_record(read_log(day_db), ACTIVITIES, generated_at=0)
    assert record | {"generated_at": ""} == again | {"generated_at": ""}
    steps = {s["id"]: s["results"] for s in record["steps"]}
    assert {a["id"]: a["dots"] for a in steps["axes"]["axes"] if a["dots"]} == dots_in_log(day_db)
    exported = {
        (int(r["juror"].removeprefix("juror-")), r["item"], r["criterion"]): r["score"]
        for r in steps["decision"]["scores"]
    }
    assert exported == scores_in_log(day_db) and len(exported) == 3 * 21 * 3
    awards = Counter(p["award"] for p in steps["resultats"]["outputs"])
    assert awards == {"prototype": 5, "etude": 16}


def test_the_csv_export_has_a_file_per_table_with_the_same_totals(
    day_db: Path, exports: dict[str, Path]
) -> None:
    with zipfile.ZipFile(exports["csv"]) as archive:
        names = set(archive.namelist())
        assert {"workshop.csv", "steps.csv", "axes.axes.csv", "decision.scores.csv",
                "resultats.outputs.csv", "README.txt"} <= names  # fmt: skip
        tables = {
            name: list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
            for name in names if name.endswith(".csv")
        }  # fmt: skip
    dots = {row["id"]: int(row["dots"]) for row in tables["axes.axes.csv"] if int(row["dots"])}
    assert dots == dots_in_log(day_db)
    scores = tables["decision.scores.csv"]
    assert sum(int(r["score"]) for r in scores) == sum(scores_in_log(day_db).values())
    assert len(scores) == len(scores_in_log(day_db))
    (workshop,) = tables["workshop.csv"]
    assert workshop["status"] == "finished" and workshop["participation.participants"] == "100"
    assert len(tables["steps.csv"]) == 6


def test_the_xlsx_export_has_a_sheet_per_table_with_the_same_totals(
    day_db: Path, exports: dict[str, Path]
) -> None:
    book = openpyxl.load_workbook(exports["xlsx"], read_only=True)
    assert {"workshop", "steps", "axes.axes", "decision.scores"} <= set(book.sheetnames)
    rows = list(book["decision.scores"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    score = header.index("score")
    assert len(body) == len(scores_in_log(day_db))
    assert sum(r[score] for r in body) == sum(scores_in_log(day_db).values())
    axes = list(book["axes.axes"].iter_rows(values_only=True))
    dots = axes[0].index("dots")
    assert sum(r[dots] for r in axes[1:]) == sum(dots_in_log(day_db).values())


def test_the_markdown_export_has_a_table_per_table(day_db: Path, exports: dict[str, Path]) -> None:
    text = exports["md"].read_text(encoding="utf-8")
    record = build_record(read_log(day_db), ACTIVITIES)
    assert text.startswith(f"# {record['workshop']['title']}")
    section = text.split("## decision.scores\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| juror-")]
    assert len(rows) == len(scores_in_log(day_db))
    for project in record["steps"][2]["results"]["outputs"]:
        assert project["title"] in text


def test_no_device_id_cookie_or_secret_is_in_any_export(
    day_db: Path, exports: dict[str, Path]
) -> None:
    secrets = forbidden(day_db)
    assert len(secrets) > 100  # every phone and juror, and the file's secrets
    for fmt, path in exports.items():
        if fmt in ("csv", "xlsx"):  # zip archives: their members, uncompressed
            with zipfile.ZipFile(path) as archive:
                blobs = [archive.read(name) for name in archive.namelist()]
        else:
            blobs = [path.read_bytes()]
        for blob in blobs:
            leaked = [s for s in secrets if s.encode() in blob]
            assert not leaked, f"the {fmt} export holds {leaked[:3]}"


def test_the_sqlite_export_opens_in_any_sqlite_tool_with_the_same_totals(
    day_db: Path, exports: dict[str, Path]
) -> None:
    conn = sqlite3.connect(f"file:{exports['sqlite']}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        assert {"workshop", "steps", "axes.axes", "decision.scores"} <= tables
        assert "events" not in tables and "meta" not in tables  # no log, no secret
        count, total = conn.execute('SELECT count(*), sum(score) FROM "decision.scores"').fetchone()
        (dots,) = conn.execute('SELECT sum(dots) FROM "axes.axes"').fetchone()
    finally:
        conn.close()
    assert (count, total) == (len(scores_in_log(day_db)), sum(scores_in_log(day_db).values()))
    assert dots == sum(dots_in_log(day_db).values())


def test_an_export_made_during_the_day_says_it_is_in_progress(tmp_path: Path) -> None:
    from support import Server

    server = Server(tmp_path / "w.db").start()
    try:
        assert palabre(["export", str(server.db), "--format", "md",
                        "--out", str(tmp_path / "now.md")]) == 0  # fmt: skip
    finally:
        server.stop()
    record = build_record(read_log(server.db), ACTIVITIES)
    assert record["status"] == "in_progress"
    assert "> In progress" in (tmp_path / "now.md").read_text(encoding="utf-8")


def test_a_typed_formula_is_exported_as_text_and_markdown_cells_stay_cells() -> None:
    for text in ("=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)"):
        assert text.startswith(FORMULA_START) and safe_cell(text) == "'" + text
    assert safe_cell(-2) == -2 and safe_cell("Parc") == "Parc"
    record = {
        "schema": "palabre.workshop-record", "version": 1, "generated_at": "now",
        "status": "in_progress", "current_step": "s",
        "workshop": {"title": "T"}, "participation": {"tables": []},
        "steps": [{"id": "s", "title": "a|b\nc <b>", "results": None}],
    }  # fmt: skip
    text = markdown(record)
    assert "| a\\|b c &lt;b> |" in text


def test_a_file_that_is_not_a_workshop_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    assert palabre(["export", str(missing)]) == 1
    assert "no such file" in capsys.readouterr().err
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert palabre(["export", str(other)]) == 1
    assert "not a Palabre workshop" in capsys.readouterr().err
    assert not (tmp_path / "other-export.json").exists()


def test_scores_per_juror_keep_their_conflicts_apart(day_db: Path) -> None:
    record = build_record(read_log(day_db), ACTIVITIES)
    scores = record["steps"][4]["results"]["scores"]
    per_juror: dict[str, int] = defaultdict(int)
    for row in scores:
        per_juror[row["juror"]] += 1
        assert row["counted"] is True  # nobody declared a conflict in this day
    assert per_juror == {"juror-1": 63, "juror-2": 63, "juror-3": 63}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_national_days_report_shows_every_project_and_prints_on_a4(
    day_db: Path, browser: Any, lang: str, tmp_path: Path  # noqa: F811
) -> None:
    html = tmp_path / "report.html"
    assert palabre(["report", str(day_db), "--out", str(html), "--lang", lang]) == 0
    record = build_record(read_log(day_db), ACTIVITIES)
    page = browser.new_context(viewport={"width": 1000, "height": 1400}).new_page()
    page.goto(html.as_uri())
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.evaluate(OVERFLOWING) == [], "something is wider than the page"
    text = page.inner_text("body")
    for project in record["steps"][2]["results"]["outputs"]:
        assert project["title"] in text
    assert page.locator("svg.chart").count() >= 2  # the axes' dots and the jury's ranking
    assert page.evaluate("document.scripts.length") == 0 and "http" not in _links(page)
    pages = print_pages(page, tmp_path / "report.pdf")
    assert len(pages) >= 4, f"{len(pages)} pages for 36 problems and 21 projects"
    SHOTS.mkdir(exist_ok=True)
    for number, image in enumerate(pages[:3] if lang == "fr" else pages[:1], start=1):
        image.save(SHOTS / f"report-national-day-{lang}-page{number}.png")


def _links(page: Any) -> str:
    """Every address the page would load: none, it stands alone."""
    return " ".join(page.eval_on_selector_all(
        "[src], link[href]", "els => els.map(e => e.src || e.href)"))  # fmt: skip


def test_docs_export_describes_every_field_of_the_record_and_of_each_activitys_results(
    day_db: Path,
) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "export.md").read_text("utf-8")
    record = build_record(read_log(day_db), ACTIVITIES)
    for key in list(record) + list(record["workshop"]) + list(record["participation"]):
        assert f"`{key}`" in doc, f"docs/export.md does not describe {key!r}"
    for step in record["steps"]:
        row = next(
            (line for line in doc.splitlines() if line.startswith(f"| `{step['activity']}` |")),
            None,
        )
        assert row, f"docs/export.md has no row for the {step['activity']} activity"
        for key in step["results"]:
            assert key == "outputs" or f"`{key}`" in row, f"{step['activity']}: {key}"
