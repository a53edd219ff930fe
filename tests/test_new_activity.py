"""`palabre new-activity NAME` creates a separate package for a new activity that works as
generated: its slug comes from the name, nothing is ever overwritten, and once installed
with pip (in a child virtual environment) its own tests pass, `palabre plugins` and
`palabre check` name it, and a real `palabre serve` plays it with a phone and a screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from importlib import metadata
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from packaging.version import Version

from palabre.engine.cli import main
from palabre.engine.contract import ActivityContract
from palabre.engine.scaffold import derive_slug, plan
from support import Client, Server, close_all, run

NAME = "Météo du groupe"
DIST, MODULE, SLUG, KIT = (
    "palabre-meteo-du-groupe", "palabre_meteo_du_groupe", "meteo_du_groupe", "meteo-du-groupe-demo"
)  # fmt: skip
FILES = {
    "pyproject.toml", "README.md", "babel.cfg", f"tests/test_{SLUG}.py",
    f"{MODULE}/__init__.py", f"{MODULE}/activity.py", f"{MODULE}/{KIT}.toml",
    f"{MODULE}/locales/fr/LC_MESSAGES/palabre.po",
    *(f"{MODULE}/templates/{page}.html"
      for page in ("facilitator", "screen", "participant", "personal", "results")),
}  # fmt: skip


def new_activity(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["new-activity", *args])
    out, err = capsys.readouterr()
    return code, out, err


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Météo du groupe", "meteo_du_groupe"),
        ("  Cœur   d’ARTICHAUT !", "coeur_d_artichaut"),
        ("Vote à 2 tours", "vote_a_2_tours"),
        ("Øresund—Straße", "oresund_strasse"),
        ("élan_vital", "elan_vital"),
    ],
)
def test_the_slug_is_the_name_in_ascii_lower_case_with_underscores(name: str, slug: str) -> None:
    assert derive_slug(name) == slug
    assert plan(name).slug == slug


def test_every_name_of_the_package_follows_from_the_slug() -> None:
    names = plan(NAME)
    assert (names.name, names.distribution, names.module, names.kit, names.camel) == (
        NAME, DIST, MODULE, KIT, "MeteoDuGroupe"
    )  # fmt: skip
    # A class name that the generated modules already import takes a suffix.
    assert plan("Action").camel == "ActionActivity"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["3 minutes chrono"],
            "'3 minutes chrono' gives the slug '3_minutes_chrono': a slug starts with a letter",
        ),
        (["会议"], "'会议' gives the slug '': a slug needs ASCII letters"),
        (["x" * 41], "a slug has 40 characters at most"),
        (["   "], "the activity needs a name"),
        (["Vote", "--slug", "Vote-2"], "--slug 'Vote-2': a slug starts with a letter"),
        (['Le "oui"'], 'without " or \\'),
        (["Dot voting"], "the slug 'dot_voting' is taken by an installed activity"),
    ],
)
def test_a_name_without_a_valid_free_slug_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    code, out, err = new_activity(capsys, *args, "--dir", str(tmp_path))
    assert code == 2 and out == ""
    assert err.startswith("palabre: ") and says in err, err
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_slug_replaces_the_derived_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = new_activity(capsys, "3 minutes chrono", "--slug", "chrono", "--dir",
                                  str(tmp_path))  # fmt: skip
    assert code == 0, err
    assert files_under(tmp_path / "palabre-chrono") >= {"palabre_chrono/chrono-demo.toml"}


def test_an_existing_folder_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / DIST).mkdir()
    (tmp_path / DIST / "pyproject.toml").write_text("mine\n")
    code, out, err = new_activity(capsys, NAME, "--dir", str(tmp_path))
    assert code == 2 and out == ""
    assert f"palabre: {tmp_path / DIST} already exists: nothing was written" in err
    assert files_under(tmp_path) == {f"{DIST}/pyproject.toml"}
    assert (tmp_path / DIST / "pyproject.toml").read_text() == "mine\n"


def test_a_missing_parent_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = new_activity(capsys, NAME, "--dir", str(tmp_path / "nowhere"))
    assert code == 2 and "nowhere: no such folder" in err
    assert list(tmp_path.iterdir()) == []


def test_the_command_says_what_it_created_and_what_to_run_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = new_activity(capsys, NAME, "--dir", str(tmp_path))
    assert code == 0 and err == ""
    target = tmp_path.resolve() / DIST
    assert files_under(target) == FILES
    assert out.startswith(f"Created {target} for the activity '{NAME}' (slug {SLUG}):\n")
    listed = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert set(listed[: len(FILES)]) == FILES
    for step in (f"cd {target}", "pip install -e '.[test]'", "python -m pytest",
                 f"palabre serve {MODULE}/{KIT}.toml"):  # fmt: skip
        assert f"\n  {step}" in out, out
    pyproject = (target / "pyproject.toml").read_text(encoding="utf-8")
    assert f'[project.entry-points.palabre]\n{SLUG} = "{MODULE}"' in pyproject
    assert f'name = "{DIST}"' in pyproject and 'version = "0.1.0"' in pyproject
    assert "class TestMeteoDuGroupeContract(ActivityContract):" in (
        target / "tests" / f"test_{SLUG}.py"
    ).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args",
    [[NAME], ["Action"], ["Long", "--slug", "abcdefghij" * 4], ["L", "--slug", "a_b" * 13]],
)
def test_the_generated_code_passes_ruff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = new_activity(capsys, *args, "--dir", str(tmp_path))
    assert code == 0, err
    (package,) = tmp_path.iterdir()
    for command in (["check"], ["format", "--check", "--diff"]):
        # In the package's folder, so its own pyproject.toml configures ruff.
        done = subprocess.run([sys.executable, "-m", "ruff", *command, "."], cwd=package,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, f"ruff {command[0]}: {done.stdout}{done.stderr}"


def test_the_french_catalog_translates_every_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert new_activity(capsys, NAME, "--dir", str(tmp_path))[0] == 0
    package = tmp_path / DIST
    # Extracted as the package's babel.cfg tells `pybabel extract` to.
    with (package / "babel.cfg").open(encoding="utf-8") as fp:
        method_map, options_map = parse_mapping_cfg(fp, "babel.cfg")  # type: ignore[no-untyped-call]
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = extract_from_dir(str(package), method_map, options_map, keywords=keywords)
    messages = {m if isinstance(m, str) else m[0] for _, _, m, _, _ in found}
    assert {NAME, "The vote is closed.", "person has answered"} <= messages
    with (package / MODULE / "locales/fr/LC_MESSAGES/palabre.po").open("rb") as fp:
        catalog = read_po(fp, locale="fr", domain="palabre")
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]: m
        for m in catalog
        if m.id and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    assert messages == set(translated), "extracted and translated messages differ"
    assert not [m.id for m in catalog if m.fuzzy and m.id]


# -- the real proof: installed with pip, tested, listed, checked and served -------------------
def editable_install_options() -> list[str]:
    """pip builds the package in the child with setuptools. Without build isolation, it
    uses the setuptools this suite's environment has (the child sees it through the .pth):
    nothing to download, but only if that setuptools builds PEP 660 editable installs (64 or
    later) and has `bdist_wheel` (built in from 70.1, from the `wheel` package before). When
    it cannot (Python 3.12+ environments have no setuptools unless asked; an older one may
    lack `wheel`), pip builds in isolation instead, fetching the package's build requirement
    (`setuptools>=64`) from PyPI, which developers' machines and CI reach. Installing
    setuptools into the child would download the same thing and leave it there; isolation
    keeps build tools out of the environment under test."""
    try:
        setuptools = Version(metadata.version("setuptools"))
    except metadata.PackageNotFoundError:
        return []
    try:
        metadata.version("wheel")
        has_wheel = True
    except metadata.PackageNotFoundError:
        has_wheel = False
    if setuptools >= Version("70.1") or (setuptools >= Version("64") and has_wheel):
        return ["--no-build-isolation"]
    return []


def child_environment(where: Path) -> Path:
    """A virtual environment that sees this suite's packages (the editable palabre too:
    `site.addsitedir` also runs the parent's .pth files) and has nothing else installed."""
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    # Both, where they differ (lib64 for compiled packages on some systems).
    parents = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(purelib) / "_palabre_parent.pth").write_text(
        "".join(f"import site; site.addsitedir({parent!r})\n" for parent in parents),
        encoding="utf-8",
    )
    return python


def run_in(python: Path, *args: str, cwd: Path, timeout: float = 120) -> str:
    done = subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=os.environ | {"PYTHONUNBUFFERED": "1"})  # fmt: skip
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-4000:]}{done.stderr}"
    return done.stdout


class ChildServer(Server):
    """`palabre serve` run by the child environment's interpreter."""

    def __init__(self, db: Path, kit: str, python: Path) -> None:
        super().__init__(db, kit=kit)
        self.python = python

    def command(self) -> list[str]:
        return [str(self.python), *super().command()[1:]]


def test_the_package_installs_passes_its_tests_and_plays_in_a_real_workshop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        pip = Version(metadata.version("pip"))
    except metadata.PackageNotFoundError:
        pip = Version("0")
    assert pip >= Version("22.3"), f"installing into the child needs pip 22.3 or later, not {pip}"
    assert new_activity(capsys, NAME, "--dir", str(tmp_path))[0] == 0
    package = tmp_path / DIST
    python = child_environment(tmp_path / "venv")
    run_in(Path(sys.executable), "-m", "pip", "--python", str(python), "install", "-q",
           "--no-deps", *editable_install_options(), "-e", str(package), cwd=tmp_path,
           timeout=300)  # fmt: skip

    tested = run_in(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    checks = sum(1 for name in dir(ActivityContract) if name.startswith("test_"))
    assert f"{4 + checks} passed" in tested, tested  # 4 behaviour tests and the contract

    plugins = json.loads(run_in(python, "-m", "palabre.engine.cli", "plugins", "--json",
                                cwd=tmp_path))  # fmt: skip
    ours = [p for p in plugins if p["distribution"] == DIST]
    assert ours == [{
        "name": SLUG, "distribution": DIST, "version": "0.1.0",
        "hooks": ["register_activities", "register_kits"], "activities": [SLUG], "kits": [KIT],
    }], plugins  # fmt: skip

    kit = package / MODULE / f"{KIT}.toml"
    checked = run_in(python, "-m", "palabre.engine.cli", "check", str(kit), cwd=tmp_path)
    assert f"  1. main-levee: {SLUG} — À main levée\n" in checked, checked
    assert f"  {SLUG}: {DIST} 0.1.0\n" in checked, checked

    server = ChildServer(tmp_path / "w.db", str(kit), python).start()
    try:
        run(_play(server), timeout=60)
    finally:
        server.stop()


async def _play(server: Server) -> None:
    phone = await Client(server, "participant").join("Zéphyrine Quillard").connect()
    screen = await Client(server, "screen").login().connect()
    panel = await Client(server, "facilitator").login().connect()
    try:
        question = "Comment arrivez-vous à cet atelier\u202f?"
        assert question in screen.regions["main"], screen.regions["main"]
        assert 'data-action="choose"' in phone.regions["personal"], phone.regions
        ack = await phone.act("choose", {"choice": "En forme"}, step="main-levee")
        assert ack["ok"], ack
        await phone.wait_for(lambda: "Votre réponse\u00a0: En forme" in phone.regions["personal"])
        await screen.wait_for(lambda: '<span class="count">1</span>' in screen.regions["main"])
        refused = await phone.act("choose", {"choice": "Ailleurs"}, step="main-levee")
        assert refused["error"]["message"] == "Ce n’est pas l’un des choix proposés.", refused
        assert (await panel.act("reveal", step="main-levee"))["ok"]
        await screen.wait_for(lambda: 'class="bar__value">1<' in screen.regions["main"])
        assert "Zéphyrine" not in screen.regions["main"]
    finally:
        await close_all(phone, screen, panel)
