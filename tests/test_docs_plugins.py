"""docs/plugins.md stays true (issue 7): every hook documented with its exact signature and
tested by a test named after it, every Activity method and test helper in the reference,
and every code example identical to code the suite runs."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from palabre.engine import hookspecs
from palabre.engine.activity import Activity
from palabre.engine.contract import ActivityContract
from palabre.engine.testing import Person, Rehearsal

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
SNIPPET = re.compile(
    r"<!-- snippet: (?P<path>[^#\s]+)#(?P<name>[\w-]+) -->\n```[\w+]*\n(?P<code>.*?)```", re.S
)
MARKER = "--8<-- [{}:{}]"


def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def hooks() -> dict[str, object]:
    return {
        name: function
        for name, function in vars(hookspecs).items()
        if inspect.isfunction(function) and hasattr(function, "palabre_spec")
    }


def signature(function: object, name: str) -> str:
    """`name(a: T, b: U) -> R` as written in the source (annotations are strings there)."""
    sig = inspect.signature(function)  # type: ignore[arg-type]
    params = ", ".join(
        p.name if p.annotation is inspect.Parameter.empty else f"{p.name}: {p.annotation}"
        for p in sig.parameters.values()
    )
    return f"{name}({params}) -> {sig.return_annotation}"


def test_the_hookspecs_are_the_six_documented_hooks() -> None:
    assert set(hooks()) == {
        "register_activities", "register_kits", "register_locale_dirs",
        "prepare_jinja2_environment", "register_routes", "on_event",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_is_documented_with_its_exact_signature(name: str) -> None:
    text = doc()
    heading = f"### `{name}`"
    assert heading in text, f"docs/plugins.md has no section {heading}"
    section = text.split(heading, 1)[1].split("\n### ", 1)[0]
    expected = f"def {signature(hooks()[name], name)}"
    assert expected in section, f"the {name} section does not show `{expected}`"
    assert "<!-- snippet:" in section, f"the {name} section has no example from the suite"


def test_every_hook_has_a_test_named_after_it() -> None:
    names = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    tests = {n for n in names if n.startswith("test_")}
    untested = [hook for hook in hooks() if not any(hook in test for test in tests)]
    assert not untested, f"hooks with no test named after them: {untested}"


ACTIVITY_METHODS = [
    "__init__", "initial_state", "handle", "reduce", "affected_participants", "view",
    "personal_view", "outputs", "export",
]  # fmt: skip


def test_the_activity_reference_lists_every_method_with_its_signature() -> None:
    own = {n for n, v in vars(Activity).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert own | {"__init__"} == set(ACTIVITY_METHODS), "a method was added or removed"
    text = doc()
    for name in ACTIVITY_METHODS:
        line = f"#### `{signature(getattr(Activity, name), name)}`"
        assert line in text, f"docs/plugins.md lacks {line}"
    for attribute in ("slug", "name", "Config", "actions"):
        assert f"| `{attribute}` |" in text


def test_the_testing_reference_names_every_public_helper() -> None:
    text = doc()
    for name in _public(Rehearsal):
        assert f"room.{name}" in text or f"Rehearsal.{name}" in text, f"Rehearsal.{name}"
    for name in _public(Person):
        assert f"person.{name}" in text, f"Person.{name}"
    checks = [n for n in vars(ActivityContract) if n.startswith("test_")]
    assert len(checks) >= 8
    for name in checks:
        assert f"| `{name}` |" in text, f"the contract table lacks {name}"


def _public(cls: type) -> list[str]:
    return [n for n in vars(cls) if not n.startswith("_") and n not in ("submit",)]


def test_every_example_is_the_code_the_suite_runs() -> None:
    text = doc()
    found = list(SNIPPET.finditer(text))
    assert len(found) >= 10, f"only {len(found)} examples are tied to code"
    for match in found:
        path = ROOT / match["path"]
        assert path.is_file(), f"{match['path']} does not exist"
        assert match["path"].startswith(("tests/", "examples/")), "examples come from tested code"
        region = extract(path.read_text(encoding="utf-8"), match["name"])
        assert match["code"] == region, f"{match['path']}#{match['name']} differs from the docs"


def test_no_placeholder_is_left() -> None:
    for line in doc().splitlines():
        assert line.strip() not in {"TUTORIAL", "HOOKS", "TESTING"} and "SNIPPET_" not in line


def extract(source: str, name: str) -> str:
    """The lines between `--8<-- [start:name]` and `--8<-- [end:name]`, dedented."""
    lines = source.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if MARKER.format("start", name) in line]
    ends = [i for i, line in enumerate(lines) if MARKER.format("end", name) in line]
    assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0], f"markers of {name}"
    return textwrap.dedent("".join(lines[starts[0] + 1 : ends[0]]))
