"""Tables: for each scenario and phone count, the median of the runs with min and max, for
Palabre and the baseline, and their ratio. The same figures go to the JSON file."""

from __future__ import annotations

import math
import statistics
from typing import Any

# scenario key -> (title, [(figure key, label)]); the first figures are the targets.
TABLES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "votes": ("1. Votes to projector", [
        ("screen_p50_ms", "vote -> screen p50 (ms)"),
        ("screen_p99_ms", "vote -> screen p99 (ms)"),
        ("server_cpu_pct", "server CPU (% of a core)"),
        ("ack_p50_ms", "vote -> ack p50 (ms)"),
        ("ack_p99_ms", "vote -> ack p99 (ms)"),
        ("votes_per_s", "votes acknowledged / s"),
        ("screen_views_per_s", "screen views / s"),
        ("phones_cpu_pct", "phone workers CPU (%)"),
    ]),
    "steps": ("2. Step change", [
        ("last_p50_ms", "last phone p50 (ms)"),
        ("last_p99_ms", "last phone p99 (ms)"),
        ("phone_p50_ms", "any phone p50 (ms)"),
        ("phone_p99_ms", "any phone p99 (ms)"),
        ("screen_p50_ms", "screen p50 (ms)"),
        ("server_cpu_pct", "server CPU (% of a core)"),
        ("phones_cpu_pct", "phone workers CPU (%)"),
    ]),
    "ingest": ("3. Durable ingest", [
        ("max_sustained_per_s", "max sustained acks / s"),
        ("ack_p50_ms_at_max", "ack p50 at that rate (ms)"),
        ("ack_p99_ms_at_max", "ack p99 at that rate (ms)"),
    ]),
    "memory": ("4. Memory", [
        ("kib_per_phone", "server RSS per phone (KiB)"),
        ("rss_before_mib", "RSS before the phones (MiB)"),
        ("rss_after_mib", "RSS with the phones (MiB)"),
    ]),
    "storm": ("5. Join storm", [
        ("all_ready_s", "all connected with a view (s)"),
        ("half_ready_s", "half of them (s)"),
        ("all_joined_s", "all joined over HTTP (s)"),
        ("ready", "phones with a view"),
    ]),
}  # fmt: skip
# Counted, not measured: reported under the table when not zero.
PROBLEMS = {
    "votes": ("refused", "unacked", "unmatched", "seq_gaps"),
    "steps": ("missing",),
    "storm": ("failed",),
    "ingest": ("never_broke",),
}
NOTE = {"never_broke": "never broke: the maximum is a lower bound"}


def summary(values: list[float]) -> dict[str, Any]:
    finite = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return {"runs": values, "median": math.nan, "min": math.nan, "max": math.nan}
    return {
        "runs": values,
        "median": statistics.median(finite),
        "min": min(finite),
        "max": max(finite),
    }


def aggregate(results: dict[str, dict[int, list[dict[str, Any]]]]) -> dict[str, Any]:
    """results[kind][phones] = runs -> out[scenario][phones][kind][figure] = summary."""
    out: dict[str, Any] = {}
    for kind, by_n in results.items():
        for n, runs in by_n.items():
            for scenario in TABLES:
                figures = [run[scenario] for run in runs if scenario in run]
                if not figures:
                    continue
                keys = [k for k, v in figures[0].items() if isinstance(v, int | float)]
                cell = out.setdefault(scenario, {}).setdefault(str(n), {})
                cell[kind] = {k: summary([f.get(k, math.nan) for f in figures]) for k in keys}
    return out


def fmt(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def cell(figure: dict[str, Any] | None) -> str:
    if figure is None:
        return "-"
    if len([v for v in figure["runs"] if math.isfinite(v)]) <= 1:
        return fmt(figure["median"])
    return f"{fmt(figure['median'])} [{fmt(figure['min'])}-{fmt(figure['max'])}]"


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if a is None or b is None or not b["median"] or not math.isfinite(b["median"]):
        return "-"
    r = a["median"] / b["median"]
    return f"{r:.2f}x" if math.isfinite(r) else "-"


def tables(agg: dict[str, Any], runs: int, notes: dict[str, str]) -> str:
    lines: list[str] = []
    for scenario, (title, rows) in TABLES.items():
        if scenario not in agg:
            continue
        lines += ["", f"## {title}: {notes.get(scenario, '')}".rstrip(": "),
                  f"median [min-max] of {runs} run(s); ratio = Palabre / baseline", "",
                  "| phones | figure | Palabre | baseline | ratio |",
                  "|---:|---|---:|---:|---:|"]  # fmt: skip
        for n, kinds in agg[scenario].items():
            p, b = kinds.get("palabre", {}), kinds.get("baseline", {})
            for key, label in rows:
                fp, fb = p.get(key), b.get(key)
                lines.append(
                    f"| {int(n):,} | {label} | {cell(fp)} | {cell(fb)} | {ratio(fp, fb)} |"
                )
            for kind, figures in kinds.items():
                for key in PROBLEMS.get(scenario, ()):
                    worst = figures.get(key, {}).get("max", 0)
                    if worst and math.isfinite(worst):
                        what = NOTE.get(key, f"{key} (worst run): {fmt(worst)}")
                        lines.append(f"|  | {kind}: {what} |  |  |  |")
    return "\n".join(lines)


def ingest_levels(results: dict[str, dict[int, list[dict[str, Any]]]]) -> str:
    """The rising rates of the first run of each server, level by level."""
    lines = ["", "### Durable ingest, level by level (first run)", "",
             "| server | offered / s | acked / s | ack p50 (ms) | ack p99 (ms) | refused | "
             "sustained |", "|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    found = False
    for kind, by_n in results.items():
        for runs in by_n.values():
            first = next((r["ingest"] for r in runs if "ingest" in r), None)
            if first is None:
                continue
            found = True
            for lv in first["levels"]:
                lines.append(
                    f"| {kind} | {fmt(lv['offered'])} | {fmt(lv['acked_per_s'])} | "
                    f"{fmt(lv['ack_p50_ms'])} | {fmt(lv['ack_p99_ms'])} | {fmt(lv['refused'])} | "
                    f"{'yes' if lv['sustained'] else 'no'} |"
                )
    return "\n".join(lines) if found else ""
