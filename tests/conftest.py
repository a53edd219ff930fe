import sys
from pathlib import Path

import pytest

# Tests import their helpers (support.py) as a plain module.
sys.path.insert(0, str(Path(__file__).parent))

# Server fixtures (`start_server`, `module_servers`) live with the other helpers.
from support import module_servers, start_server  # noqa: E402,F401


@pytest.fixture(scope="session")
def national_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The national citizen hackathon played whole at full scale, once for the session: its
    own test checks it step by step; the export and report tests read the file it leaves."""
    from test_day_citizen_hackathon import play_national_day

    folder = tmp_path_factory.mktemp("national-day")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PALABRE_TEST_CLOCK", "1")
        play_national_day(folder)
    return folder / "day.db"
