"""`palabre serve` with one setting changed, for the bench only: uvicorn's
`limit_concurrency` (5,000 in engine/server.py) lifted.

uvicorn counts every open connection, WebSockets included, against that limit, and answers
HTTP requests past it with 503 (WebSocket upgrades are not checked). So with about 5,000
phones connected, the next phone cannot even load the join page: a room of 10,000 cannot be
measured until the limit moves. `load.py --lift-connection-cap` starts Palabre through this
file to see what else happens at 10,000; everything else is the real server.

    .venv/bin/python bench/serve_uncapped.py serve quick-start --db /tmp/x.db --port 8000
"""

from __future__ import annotations

import sys
from typing import Any

import palabre.engine.server as server
from palabre.engine.cli import main

_config = server.uvicorn_config


def uncapped_config(app: Any, host: str, port: int) -> Any:
    config = _config(app, host, port)
    config.limit_concurrency = None
    return config


server.uvicorn_config = uncapped_config

if __name__ == "__main__":
    sys.exit(main())
