"""Running the app under uvicorn with settings fit for a room of phones."""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pluggy
import uvicorn

from .activity import Activity
from .app import create_app
from .auth import allowed_origins
from .broker import check_broker
from .frames import FramedProtocol
from .guard import base_path, host_name
from .kits import Kit
from .network import default_public_url, local_hosts, qr_terminal
from .service import Service
from .simulate import make_phones, play
from .store import shown_store


class RedactSecrets(logging.Filter):
    """Access logs show paths; the facilitator and screen links must never be written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def _redact(text: str) -> str:
    for prefix in ("/f/", "/s/"):
        if text.startswith(prefix):
            return prefix + "…"
    return text


# A phone that stops answering pings is dropped after interval + timeout. Tests shorten it
# (PALABRE_PING_SECONDS=1) to prove the drop without waiting half a minute.
PING_SECONDS_ENV = "PALABRE_PING_SECONDS"


def ping_seconds() -> float:
    try:
        seconds = float(os.environ.get(PING_SECONDS_ENV, "15"))
    except ValueError:
        return 15.0
    return min(max(seconds, 0.2), 300.0)


# At most this many bytes a connection has not yet sent wait in the kernel; the rest waits in
# the connection's latest-wins outbox (hub.py), where a newer view replaces an older one.
# Left alone, Linux grows a socket's send buffer to 4 MiB: a stalled projector would get
# hundreds of stale views on resuming before the fresh one (RELIABILITY row 16).
UNSENT_BYTES_IN_KERNEL = 16 * 1024


def listening_socket(config: uvicorn.Config) -> socket.socket:
    """uvicorn's own listening socket, with options its connections inherit."""
    sock = config.bind_socket()
    if hasattr(socket, "TCP_NOTSENT_LOWAT"):  # Linux, macOS
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, UNSENT_BYTES_IN_KERNEL)
    return sock


# Descriptors kept for the database, its lock, logs and a few HTTP requests when the sockets
# have taken all the rest.
RESERVED_DESCRIPTORS = 64


def connection_capacity() -> int:
    """How many connections this process can hold: its open-file limit, raised to the hard
    limit first (often 1,024 soft for 500,000 hard). Past it uvicorn answers 503 at once,
    which a phone retries, instead of failing accept() over and over (EMFILE)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return max(soft - RESERVED_DESCRIPTORS, 32)


def uvicorn_config(app: Any, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=FramedProtocol,
        ws_max_size=65536,
        ws_ping_interval=ping_seconds(),
        ws_ping_timeout=ping_seconds(),
        ws_per_message_deflate=False,
        limit_concurrency=connection_capacity(),
        timeout_graceful_shutdown=3,
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )


@dataclass(frozen=True)
class Serving:
    """Where a worker listens and which backends it uses: `palabre serve`'s options."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    read_only: bool = False  # `palabre replay`
    workshop: str = "default"  # its name in a shared PostgreSQL database
    wait_for_lock: float = 0.0  # a standby: wait this long for the owner to stop
    broker: str | None = None  # redis://…: edge workers hold the sockets

    @property
    def url(self) -> str:
        return self.public_url or default_public_url(self.host, self.port)

    def origins(self) -> frozenset[str]:
        return allowed_origins(self.port, local_hosts(self.host), self.url)

    def trusted_hosts(self) -> frozenset[str]:
        return trusted_hosts(self.allowed_hosts, self.url)


def build_service(
    pm: pluggy.PluginManager,
    db: Path | str,
    kit: Kit | None,
    activities: dict[str, type[Activity]],
    serving: Serving,
) -> tuple[Service, Any]:
    s = serving
    service = Service(
        db, kit, activities, pm, s.url, s.read_only, s.workshop, s.wait_for_lock, s.broker
    )
    return service, create_app(service, s.origins(), allowed_hosts=s.trusted_hosts())


def trusted_hosts(listed: tuple[str, ...], public_url: str) -> frozenset[str]:
    """The Host names accepted: none listed means any well-formed Host; else the listed names
    plus the public URL's own host (the address printed on the QR code must always work)."""
    if not listed:
        return frozenset()
    public_host = host_name(urlsplit(public_url).netloc)
    return frozenset({h.lower() for h in listed} | ({public_host} if public_host else set()))


def run_server(
    pm: pluggy.PluginManager,
    db: Path | str,
    kit: Kit | None,
    activities: dict[str, type[Activity]],
    serving: Serving,
) -> int:
    if serving.broker:
        check_broker(serving.broker)  # one line, before anything is created
    service, app = build_service(pm, db, kit, activities, serving)
    logging.getLogger("uvicorn.access").addFilter(RedactSecrets())
    _print_welcome(service, db)
    config = uvicorn_config(app, serving.host, serving.port)
    uvicorn.Server(config).run(sockets=[listening_socket(config)])
    return 0


def run_demo(
    pm: pluggy.PluginManager,
    db: Path,
    kit: Kit,
    activities: dict[str, type[Activity]],
    serving: Serving,
    participants: int,
    pace: float,
) -> int:
    service, app = build_service(pm, db, kit, activities, serving)
    logging.getLogger("uvicorn.access").disabled = True  # hundreds of simulated requests
    _print_welcome(service, db)
    print(f"Demo: {participants} simulated phones join and take part; you drive the steps.")
    host, port = serving.host, serving.port
    asyncio.run(_serve_with_phones(service, app, host, port, participants, pace))
    return 0


def run_edge(
    pm: pluggy.PluginManager,
    store: str,
    activities: dict[str, type[Activity]],
    serving: Serving,
    wait: float = 60.0,
) -> int:
    """An edge worker: the workshop's cookie key from the store, then sockets only."""
    from .broker import Bus
    from .edge import EdgeSecrets, create_edge_app
    from .kits import parse_kit
    from .render import Renderer
    from .store import StoreError, read_meta

    assert serving.broker
    check_broker(serving.broker)
    meta = read_meta(store, serving.workshop)
    deadline = time.monotonic() + wait
    while "cookie_key" not in meta and time.monotonic() < deadline:
        time.sleep(0.5)  # the writer is starting: it creates the workshop
        meta = read_meta(store, serving.workshop)
    if "cookie_key" not in meta:
        raise StoreError(f"no workshop named {serving.workshop!r} in {shown_store(store)} "
                         "(start its writer, palabre serve --broker, first)")  # fmt: skip
    kit = parse_kit(meta["kit"], meta.get("kit_name", "kit.toml"), activities)
    found = EdgeSecrets(meta["workshop_id"], meta["cookie_key"], kit.language)
    app = create_edge_app(
        Bus(serving.broker, serving.workshop, "edge"), found, Renderer(activities, pm),
        serving.origins(), serving.trusted_hosts(), base_path(serving.url),
    )  # fmt: skip
    sys.stdout.write(
        f"Palabre edge for {kit.title!r} (workshop {serving.workshop!r}): sockets on "
        f"{serving.host}:{serving.port}, views from the writer through the broker.\n"
    )
    sys.stdout.flush()
    config = uvicorn_config(app, serving.host, serving.port)
    uvicorn.Server(config).run(sockets=[listening_socket(config)])
    return 0


async def _serve_with_phones(
    service: Service, app: Any, host: str, port: int, participants: int, pace: float
) -> None:
    config = uvicorn_config(app, host, port)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening_socket(config)]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    local = f"http://127.0.0.1:{port}" if host in ("0.0.0.0", "::", "") else f"http://{host}:{port}"
    phones = make_phones(
        local,
        service.secrets.join_code,
        participants,
        service.kit.language,
        service.kit.tables,
        pace=pace,
    )
    stop = asyncio.Event()
    players = asyncio.create_task(play(phones, stop))
    await serving
    stop.set()
    players.cancel()


def _print_welcome(service: Service, db: Path | str) -> None:
    w = service.workshop
    out = sys.stdout
    out.write(f"\nPalabre — {w.kit.title}\n")
    out.write(
        f"Workshop file: {shown_store(db)} (step {w.current + 1}/{len(w.steps)}: "
        f"{w.current_step.step.title})\n\n"
    )
    out.write(f"Facilitator: {service.facilitator_url()}\n")
    out.write(f"Screen:      {service.screen_url()}\n")
    out.write(f"Join:        {service.join_url()}\n")
    out.write(f"Join code:   {service.secrets.join_code}\n")
    out.write(f"Jury:        {service.jury_url()}\n\n")
    out.write("Keep the facilitator link to yourself: it gives control of the workshop.\n")
    out.write("Participants scan this QR code (phones on the same Wi-Fi):\n")
    out.write(qr_terminal(service.join_url()))
    out.flush()
