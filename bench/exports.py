"""How long the results take to make from a workshop's file: the record (a replay of the
whole log), each export format and the report. The facilitator's panel makes them on demand
(`/report`, `/report/export.*`) in a worker thread, so these figures are the wait after a
click, not time taken from the room.

    .venv/bin/python bench/exports.py path/to/workshop.db --repeat 5

Without a file, it first plays the national citizen hackathon at full scale (100 phones,
21 tables, 3 jurors; about 30 s) with the suite's own scenario and measures that.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from palabre.engine.exporters import FORMATS, write  # noqa: E402
from palabre.engine.plugins import collect_activities, get_plugin_manager  # noqa: E402
from palabre.engine.record import build_record  # noqa: E402
from palabre.engine.render import Renderer  # noqa: E402
from palabre.engine.replay import read_log  # noqa: E402
from palabre.engine.report import render_report  # noqa: E402


def national_day(folder: Path) -> Path:
    import os

    from test_day_citizen_hackathon import play_national_day

    os.environ["PALABRE_TEST_CLOCK"] = "1"  # the pitches move the server's clock
    play_national_day(folder)
    return folder / "day.db"


def timed(work, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds) * 1000, max(seconds) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="palabre-bench-exports-"))
    db = args.db or national_day(folder)
    pm = get_plugin_manager()
    activities = collect_activities(pm)
    renderer = Renderer(activities, pm)
    log = read_log(db)
    record = build_record(log, activities)
    print(f"{db}: {len(log.events)} events, {record['participation']['participants']} people")
    rows = [("read the file", timed(lambda: read_log(db), args.repeat))]
    rows.append(("record (replay)", timed(lambda: build_record(read_log(db), activities),
                                          args.repeat)))  # fmt: skip
    for fmt in FORMATS:
        out = folder / f"export.{'zip' if fmt == 'csv' else fmt}"
        rows.append((f"write {fmt}", timed(lambda f=fmt, o=out: write(record, f, o),
                                           args.repeat)))  # fmt: skip
    for lang in ("fr", "en"):
        rows.append((f"report ({lang})", timed(
            lambda lang=lang: render_report(record, renderer, lang), args.repeat)))  # fmt: skip
    print(f"{'':18} {'median ms':>10} {'max ms':>8}  (of {args.repeat})")
    for name, (median, worst) in rows:
        print(f"{name:18} {median:10.1f} {worst:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
