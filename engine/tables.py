"""The workshop record as tables, for the spreadsheet-shaped exports (CSV, XLSX, Markdown).

Three tables describe the day (`workshop`, `steps`, `tables_seated`); then each step's
results give one table per list of objects in its activity's export, named
`<step id>.<key>` (`diagnostic.problems`, `vote.ranking`), and one `<step id>.summary`
table for its single values. Nested values are flattened so that each cell holds one value:
an object's fields become columns `key.field`, a list of words one cell joined with "; ",
and a list of objects (an item's `origin`) the titles of those objects.
"""

from __future__ import annotations

import json
from typing import Any

Row = dict[str, Any]
Cell = str | int | float | bool | None


def record_tables(record: dict[str, Any]) -> dict[str, list[Row]]:
    """Every table of RECORD, in reading order: the day first, then each step's."""
    workshop = record["workshop"]
    participation = record["participation"]
    day: Row = {
        "title": workshop["title"],
        "status": record["status"],
        "current_step": record["current_step"],
        **{k: cell(v) for k, v in workshop.items() if k != "title"},
        **{f"participation.{k}": cell(v) for k, v in participation.items() if k != "tables"},
        "generated_at": record["generated_at"],
        "schema": f"{record['schema']} {record['version']}",
    }
    tables: dict[str, list[Row]] = {
        "workshop": [day],
        "steps": [{k: cell(v) for k, v in s.items() if k != "results"} for s in record["steps"]],
    }
    if participation["tables"]:
        tables["tables_seated"] = list(participation["tables"])
    for step in record["steps"]:
        if step["results"] is not None:
            for name, rows in results_tables(step["results"]).items():
                tables[f"{step['id']}.{name}"] = rows
    return tables


def results_tables(results: dict[str, Any]) -> dict[str, list[Row]]:
    """A step's export as tables: each non-empty list of objects, then its single values."""
    tables: dict[str, list[Row]] = {}
    summary: list[Row] = []
    for key, value in results.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables[key] = [flat_row(v) for v in value]
        elif isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
            # A mapping of lists (awards: prize -> titles): one row per entry.
            tables[key] = [{"key": k, "values": cell(v)} for k, v in value.items()]
        else:
            summary.append({"name": key, "value": cell(value)})
    if summary:
        tables["summary"] = summary
    return tables


def flat_row(row: dict[str, Any]) -> Row:
    flat: Row = {}
    for key, value in row.items():
        if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
            for sub, inner in value.items():
                flat[f"{key}.{sub}"] = cell(inner)
        else:
            flat[key] = cell(value)
    return flat


def cell(value: Any) -> Cell:
    """One value a spreadsheet cell can hold."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return "; ".join(_part(v) for v in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _part(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("title"), str):
        return str(value["title"])  # an origin item: its title says what it was
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def columns(rows: list[Row]) -> list[str]:
    """Every column of ROWS, in the order first seen."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)
