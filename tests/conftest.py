import sys
from pathlib import Path

# Tests import their helpers (support.py) as a plain module.
sys.path.insert(0, str(Path(__file__).parent))

# Server fixtures (`start_server`, `module_servers`) live with the other helpers.
from support import module_servers, start_server  # noqa: E402,F401
