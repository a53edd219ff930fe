"""Known-vulnerable versions of the web stack are never what runs (RELIABILITY row 17):
the installed versions meet the floors, and pyproject.toml pins those floors."""

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

FLOORS = {"starlette": "1.3.1", "uvicorn": "0.46.0", "jinja2": "3.1.6", "h11": "0.16.0"}
PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())


@pytest.mark.parametrize(("name", "floor"), sorted(FLOORS.items()))
def test_the_installed_version_meets_its_floor(name: str, floor: str) -> None:
    assert Version(metadata.version(name)) >= Version(floor)


@pytest.mark.parametrize(("name", "floor"), sorted(FLOORS.items()))
def test_pyproject_pins_the_floor(name: str, floor: str) -> None:
    assert f"{name}>={floor}" in PYPROJECT["project"]["dependencies"]
