# --8<-- [start:register_routes]
"""A route for the town's monitoring probe: is the workshop server up?"""

import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from palabre.engine import hookimpl

STARTED = time.monotonic()


async def uptime(request: Request) -> JSONResponse:
    # Public, like every plugin route: it says nothing about the workshop or its people.
    return JSONResponse({"up_seconds": round(time.monotonic() - STARTED)})


@hookimpl
def register_routes() -> list[Route]:
    # Mounted before Palabre's own routes: choose paths under /-/ that nobody else uses.
    return [Route("/-/uptime", uptime)]


# --8<-- [end:register_routes]
