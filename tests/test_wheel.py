"""A wheel built from the repository carries its templates, static files, kits and
catalogs, installs in a fresh virtual environment, and serves the three surfaces."""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from support import Server

ROOT = Path(__file__).parent.parent
MUST_CARRY = [
    "palabre/engine/cli.py",
    "palabre/engine/locales/fr/LC_MESSAGES/palabre.po",
    "palabre/displays/static/palabre.js",
    "palabre/displays/static/morph.js",
    "palabre/displays/static/palabre.css",
    "palabre/displays/templates/screen.html",
    "palabre/displays/locales/fr/LC_MESSAGES/palabre.po",
    "palabre/plugins/ideation/templates/screen.html",
    "palabre/plugins/ideation/locales/fr/LC_MESSAGES/palabre.po",
    "palabre/plugins/dot_voting/templates/personal.html",
    "palabre/facilitator_kits/quick-start.toml",
    # `palabre new-activity` fills these in (engine/scaffold.py).
    "palabre/engine/scaffold/module/activity.py.tmpl",
    "palabre/engine/scaffold/module/locales/fr/LC_MESSAGES/palabre.po.tmpl",
    "palabre/engine/scaffold/tests/test_slug.py.tmpl",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(ROOT)], check=True, timeout=300)
    (path,) = out.glob("palabre-*.whl")
    return path


def test_the_wheel_carries_templates_static_files_kits_and_catalogs(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in MUST_CARRY if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    assert not any(name.startswith(("engine/", "tests/")) for name in names)


def test_the_wheel_installs_in_a_fresh_venv_and_serves_every_surface(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   timeout=600, cwd=tmp_path)
    server = InstalledServer(tmp_path / "w.db", python=python)
    server.start()
    try:
        with httpx.Client(base_url=server.base, follow_redirects=True, timeout=20) as http:
            facilitator = http.get(server.urls["facilitator"])
            assert facilitator.status_code == 200
            assert 'data-audience="facilitator"' in facilitator.text
            screen = http.get(server.urls["screen"])
            assert screen.status_code == 200 and "<svg" in screen.text  # the join QR
            assert http.get("/-/static/palabre.js").status_code == 200
        with httpx.Client(base_url=server.base, follow_redirects=True, timeout=20) as phone:
            joined = phone.post(f"/j/{server.join_code}", data={"name": "Lina"})
            assert joined.status_code == 200 and 'data-audience="participant"' in joined.text
    finally:
        server.stop()
    # The installed command finds its scaffold files, outside the repository.
    made = subprocess.run([str(env_dir / "bin" / "palabre"), "new-activity", "Mood meter",
                           "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    package = tmp_path / "palabre-mood-meter"
    assert "class MoodMeter(Activity)" in (package / "palabre_mood_meter/activity.py").read_text()
    assert (package / "tests" / "test_mood_meter.py").is_file()


class InstalledServer(Server):
    """The same server, run from the wheel's own console script, outside the repository."""

    def __init__(self, db: Path, python: Path) -> None:
        super().__init__(db)
        self.python = python

    def command(self) -> list[str]:
        script = self.python.parent / "palabre"
        return [str(script), "serve", "--db", str(self.db), "--host", "127.0.0.1",
                "--port", str(self.port), "--public-url", self.base]
