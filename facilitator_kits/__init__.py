"""The kits bundled with Palabre, registered like any plugin's."""

from pathlib import Path

from palabre.engine import hookimpl

KITS_DIR = Path(__file__).parent


@hookimpl
def register_kits() -> list[Path]:
    return sorted(KITS_DIR.glob("*.toml"))
