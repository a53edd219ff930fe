"""docs/reliability.md maps each of the eighteen threats to the tests that prove our answer.
This keeps the map true: every row names at least one test, and every named test exists (a
renamed or deleted test fails here instead of leaving a promise without proof)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "reliability.md"
ROWS = range(1, 19)
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
ROW = re.compile(r"^\|\s*(\d+)\s*\|(.*)$")


def _rows() -> dict[int, list[tuple[str, str]]]:
    rows: dict[int, list[tuple[str, str]]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[int(match.group(1))] = REFERENCE.findall(match.group(2))
    return rows


@cache
def _test_names(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return frozenset(names)


def test_every_threat_has_a_row_naming_at_least_one_test() -> None:
    rows = _rows()
    assert sorted(rows) == list(ROWS), f"rows present: {sorted(rows)}"
    empty = [n for n, refs in rows.items() if not refs]
    assert not empty, f"rows without a test: {empty}"


def test_every_named_test_exists() -> None:
    missing = []
    for number, refs in _rows().items():
        for path, name in refs:
            if not (ROOT / path).exists() or name not in _test_names(path):
                missing.append(f"row {number}: {path}::{name}")
    assert not missing, "named in docs/reliability.md but not found:\n" + "\n".join(missing)
