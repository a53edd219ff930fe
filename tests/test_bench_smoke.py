"""The load bench (bench/load.py, issue 6) keeps working: its smoke mode, 200 phones for a
few seconds per scenario against a real `palabre serve` and the `websockets` baseline,
completes and prints every table with figures that are numbers above zero.

Nothing here is timed: figures depend on the machine and its load, and are read by people
from the full runs (`bench/README.md`). What this proves is that the harness itself (the
phone workers' hand-written HTTP and WebSocket client, the join flow, the screen's reading
of the bars, the baseline speaking the same protocol) still fits the server, so that the
full run can be trusted to measure what it says.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from report import TABLES  # noqa: E402


def test_the_smoke_run_prints_every_table_with_sane_figures(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "load.py"), "--smoke", "--json", str(out)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for title, _ in TABLES.values():
        assert f"## {title}" in done.stdout, done.stdout
    report = json.loads(out.read_text())
    assert not report["errors"]
    for scenario, (_, rows) in TABLES.items():
        for server in ("palabre", "baseline"):
            [figures] = [by_server[server] for by_server in report["figures"][scenario].values()]
            for key, label in rows:
                value = figures[key]["median"]
                assert math.isfinite(value) and value > 0, (scenario, server, label, value)


def test_the_performance_page_holds_the_benchs_own_tables() -> None:
    """docs/performance.md is the bench's output pasted whole: the command that made it, the
    commit it measured, and every table under the title the bench prints today."""
    doc = (BENCH.parent / "docs" / "performance.md").read_text(encoding="utf-8")
    assert ".venv/bin/python bench/load.py --json load.json" in doc
    assert "engine: /tmp/loadsnap/palabre/engine (checkout " in doc
    for title, rows in TABLES.values():
        assert f"## {title}" in doc or f"### {title}" in doc, title
        for _, label in rows:
            assert f"| {label} |" in doc, (title, label)
