"""`palabre new-activity NAME`: a separate, installable package for a new activity.

The package's files are the `*.tmpl` files under engine/scaffold/, filled in with
`string.Template` (placeholders: see `Names.substitutions`; a literal dollar sign is
written $$). The activity is small but complete, with templates, a French catalog, a demo
kit and passing tests, so an author grows working code instead of filling in blanks.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from string import Template

SCAFFOLD_DIR = Path(__file__).parent / "scaffold"
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_NAME = 60  # short enough for one line of Python: `name = N_("...")`
# Latin letters that NFKD does not split into a base letter and an accent.
FOLD = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O", "ł": "l",
     "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "TH"}
)  # fmt: skip
# Names the generated modules import or define: the activity's class must not take one.
RESERVED = frozenset(
    "Action Activity ActivityConfig ActivityContract Actor Any Counter Event F Field Item P"
    " Path Rejection Rehearsal State False None True".split()
)


class ScaffoldError(Exception):
    """Why nothing was created: the command prints it and exits with status 2."""


def derive_slug(name: str) -> str:
    """'Météo du groupe' -> 'meteo_du_groupe': accents dropped, lower case, and `_` for
    each run of other characters. The result may still be invalid (see `plan`)."""
    folded = unicodedata.normalize("NFKD", name.translate(FOLD))
    # Accents go; any other non-ASCII character (’, —, another script) separates words.
    bare = "".join(ch for ch in folded if not unicodedata.combining(ch))
    ascii_only = "".join(ch if ch.isascii() else " " for ch in bare)
    return re.sub(r"[^a-z0-9]+", "_", ascii_only.lower()).strip("_")


@dataclass(frozen=True)
class Names:
    """Every name the package uses, derived from the activity's name and slug."""

    name: str
    slug: str

    @property
    def distribution(self) -> str:
        return "palabre-" + self.slug.replace("_", "-")

    @property
    def module(self) -> str:
        return "palabre_" + self.slug

    @property
    def kit(self) -> str:
        # Not "kit": `palabre serve NAME` finds installed kits by file stem, so each
        # package's demo kit needs a stem of its own.
        return self.slug.replace("_", "-") + "-demo"

    @property
    def camel(self) -> str:
        camel = "".join(part.capitalize() for part in self.slug.split("_"))
        taken = {camel, camel + "Config"} & RESERVED
        return camel + "Activity" if taken else camel

    def substitutions(self) -> dict[str, str]:
        line = f"from {self.module}.activity import {self.camel}"
        if len(line) > 100:  # wrapped as ruff would, so the tests pass `ruff format --check`
            line = f"from {self.module}.activity import (\n    {self.camel},\n)"
        return {
            "import_activity": line,
            "name": self.name,
            # A double-quoted string that Python, TOML and gettext catalogs all read.
            "name_literal": json.dumps(self.name, ensure_ascii=False),
            "slug": self.slug,
            "module": self.module,
            "distribution": self.distribution,
            "camel": self.camel,
            "kit": self.kit,
        }


def plan(name: str, slug: str | None = None) -> Names:
    """The names for NAME (and an explicit slug), or a ScaffoldError saying what to change."""
    shown = " ".join(name.split())
    if not shown:
        raise ScaffoldError('the activity needs a name, e.g. palabre new-activity "Mood meter"')
    if len(shown) > MAX_NAME or not shown.isprintable() or {'"', "\\"} & set(shown):
        raise ScaffoldError(
            f'the name must be 1 to {MAX_NAME} printable characters, without " or \\'
        )
    if slug is not None:
        if not SLUG.match(slug):
            raise ScaffoldError(f"--slug {slug!r}: {_slug_rule(slug)}")
        return Names(shown, slug)
    derived = derive_slug(shown)
    if not SLUG.match(derived):
        raise ScaffoldError(
            f"{shown!r} gives the slug {derived!r}: {_slug_rule(derived)}; "
            "change the name or choose a slug with --slug"
        )
    return Names(shown, derived)


def _slug_rule(slug: str) -> str:
    if not slug:
        return "a slug needs ASCII letters (accents are dropped, other scripts cannot be)"
    if len(slug) > 40:
        return "a slug has 40 characters at most"
    return "a slug starts with a letter a-z, then holds only a-z, 0-9 and _"


def render(names: Names) -> dict[Path, str]:
    """Every file of the package, by path relative to its folder."""
    values = names.substitutions()
    renamed = {
        "module": names.module,
        "test_slug.py": f"test_{names.slug}.py",
        "demo.toml": f"{names.kit}.toml",
    }
    files: dict[Path, str] = {}
    for source in sorted(SCAFFOLD_DIR.rglob("*.tmpl")):
        relative = source.relative_to(SCAFFOLD_DIR).with_suffix("")  # drops .tmpl
        target = Path(*(renamed.get(part, part) for part in relative.parts))
        files[target] = Template(source.read_text(encoding="utf-8")).substitute(values)
    if not files:
        raise ScaffoldError(f"no template files in {SCAFFOLD_DIR}: is Palabre fully installed?")
    return files


def create(names: Names, parent: Path, installed: Collection[str]) -> tuple[Path, list[Path]]:
    """Write the package into PARENT/<distribution>, or nothing at all: every check comes
    first, and a write that fails halfway removes the folder it created."""
    if names.slug in installed:
        raise ScaffoldError(
            f"the slug {names.slug!r} is taken by an installed activity (`palabre plugins` "
            "says which package provides it): choose another name, or a slug with --slug"
        )
    if not parent.is_dir():
        raise ScaffoldError(f"{parent}: no such folder")
    files = render(names)
    target = parent / names.distribution
    try:
        target.mkdir()  # refuses an existing folder, even one created a moment ago
    except FileExistsError:
        raise ScaffoldError(f"{target} already exists: nothing was written") from None
    try:
        for relative, text in files.items():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_text(text, encoding="utf-8")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target, sorted(files)


def main(name: str, parent: Path, slug: str | None = None) -> int:
    """The `palabre new-activity` command: 0 when created, 2 (and a message) when not."""
    from .plugins import collect_activities, get_plugin_manager

    try:
        names = plan(name, slug)
        target, files = create(names, parent, collect_activities(get_plugin_manager()))
    except ScaffoldError as exc:
        print(f"palabre: {exc}", file=sys.stderr)
        return 2
    where = target.resolve()
    print(f"Created {where} for the activity {names.name!r} (slug {names.slug}):")
    for relative in files:
        print(f"  {relative}")
    print("\nNext, in the environment where Palabre is installed:")
    print(f"  cd {shlex.quote(str(where))}")
    print("  pip install -e '.[test]'   # installs the package and its entry point")
    print("  python -m pytest           # its tests, with palabre.engine.testing")
    print(f"  palabre serve {names.module}/{names.kit}.toml   # the demo kit, in a workshop")
    print(f"Start with {names.module}/activity.py: README.md says what to edit first.")
    return 0
