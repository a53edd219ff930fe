"""Writing the workshop record in the export formats: JSON (the record itself), CSV (one file
per table, in a folder or a zip), XLSX (one sheet per table, with openpyxl), Markdown, and
SQLite (one table per table, with sqlite-utils: open it in Datasette as it is).

Spreadsheet cells never start a formula: a text typed by a participant that begins with
=, +, -, @ or a tab would run as one when the file is opened (CSV injection), so such text
is written with a leading apostrophe, which spreadsheets show as plain text.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .tables import Cell, Row, columns, record_tables

FORMATS = ("json", "csv", "md", "xlsx", "sqlite")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


def default_out(db_path: Path, fmt: str) -> Path:
    """workshop.db -> workshop-export.json, workshop-export.zip (CSV), …"""
    suffix = {"csv": ".zip"}.get(fmt, f".{fmt}")
    return db_path.with_name(f"{db_path.stem}-export{suffix}")


def write(record: dict[str, Any], fmt: str, out: Path) -> list[Path]:
    """Write RECORD to OUT in FMT; the files written (one, or a folder's CSV files)."""
    writers: dict[str, Callable[[dict[str, Any], Path], list[Path]]] = {
        "json": write_json, "csv": write_csv, "md": write_markdown, "xlsx": write_xlsx,
        "sqlite": write_sqlite,
    }  # fmt: skip
    return writers[fmt](record, out)


def write_json(record: dict[str, Any], out: Path) -> list[Path]:
    out.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [out]


def safe_cell(value: Cell) -> Cell:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(rows: list[Row]) -> str:
    buffer = io.StringIO()
    names = columns(rows)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if row.get(n) is None else safe_cell(row.get(n)) for n in names])
    # A byte-order mark: spreadsheets then read the accents of a French workshop right.
    return "\ufeff" + buffer.getvalue()


def write_csv(record: dict[str, Any], out: Path) -> list[Path]:
    """OUT ending in .zip: one archive; otherwise a folder (created) of CSV files."""
    files = {f"{name}.csv": csv_text(rows) for name, rows in record_tables(record).items()}
    files["README.txt"] = _readme(record)
    if out.suffix == ".zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                archive.writestr(name, text.encode("utf-8"))
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="")
        written.append(out / name)
    return written


def _readme(record: dict[str, Any]) -> str:
    state = "finished" if record["status"] == "finished" else "IN PROGRESS (not final)"
    return (
        f"{record['workshop']['title']}\r\n"
        f"Palabre export, {record['generated_at']}: the workshop is {state}.\r\n"
        "One CSV file per table (UTF-8, comma-separated); docs/export.md describes them.\r\n"
    )


def write_xlsx(record: dict[str, Any], out: Path) -> list[Path]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, rows in sheet_names(record_tables(record)).items():
        sheet = book.create_sheet(title)
        names = columns(rows)
        header = []
        for name in names:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            header.append(cell)
        sheet.freeze_panes = "A2"
        for index, name in enumerate(names):
            width = max([len(str(r.get(name) or "")) for r in rows] + [len(name)])
            sheet.column_dimensions[_column_letter(index)].width = min(60, max(8, width + 2))
        sheet.append(header)
        for row in rows:
            sheet.append([_xlsx_cell(sheet, row.get(n), WriteOnlyCell) for n in names])
    book.save(out)
    return [out]


def _xlsx_cell(sheet: Any, value: Cell, make: Any) -> Any:
    cell = make(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would take a leading "=" for a formula
    return cell


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def sheet_names(tables: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """Tables keyed by a valid, unique sheet name (31 characters, no []:*?/\\)."""
    named: dict[str, list[Row]] = {}
    for name, rows in tables.items():
        base = SHEET_NAME.sub("_", name)[:31]
        title, n = base, 2
        while title.lower() in {t.lower() for t in named}:
            title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
            n += 1
        named[title] = rows
    return named


def write_sqlite(record: dict[str, Any], out: Path) -> list[Path]:
    """A fresh database of the tables alone: no event log, no secret, nothing to hide, so
    it can be published (`datasette day.sqlite`). Its values stay typed: numbers are numbers."""
    import sqlite_utils

    out.unlink(missing_ok=True)
    db = sqlite_utils.Database(out)
    try:
        for name, rows in record_tables(record).items():
            names = columns(rows)  # every row with every column, so the table has them all
            db.table(name).insert_all([{n: row.get(n) for n in names} for row in rows])
    finally:
        db.close()
    return [out]


def write_markdown(record: dict[str, Any], out: Path) -> list[Path]:
    out.write_text(markdown(record), encoding="utf-8")
    return [out]


def markdown(record: dict[str, Any]) -> str:
    workshop = record["workshop"]
    lines = [f"# {_md(workshop['title'])}", ""]
    if record["status"] != "finished":
        lines += [f"> In progress: exported at {record['generated_at']}, before the last step.", ""]
    for name, rows in record_tables(record).items():
        names = columns(rows)
        lines += [f"## {name}", "", "| " + " | ".join(_md(n) for n in names) + " |",
                  "|" + "---|" * len(names)]  # fmt: skip
        for row in rows:
            lines.append("| " + " | ".join(_md(row.get(n)) for n in names) + " |")
        lines.append("")
    return "\n".join(lines)


def _md(value: Cell) -> str:
    if value is None:
        return ""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    # One table row per line; HTML in a cell is shown as typed, never as markup.
    return " ".join(text.split("\n")).replace("\r", "").replace("<", "&lt;")
