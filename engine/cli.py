"""The `palabre` command: serve a workshop, list kits, check a kit, start a new activity."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import pluggy

from .activity import Activity
from .broker import BrokerError
from .exporters import FORMATS
from .kits import LANGUAGES, Kit, KitError, load_kit
from .plugins import (
    PluginError,
    collect_activities,
    collect_kits,
    describe_plugins,
    get_plugin_manager,
)
from .replay import ReadError, read_log
from .store import StoreError, is_database_url

DEFAULT_KIT = "quick-start"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except (KitError, PluginError, StoreError, ReadError, BrokerError, OSError) as exc:
        print(f"palabre: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # uvicorn re-raises Ctrl-C after a clean shutdown; the workshop is already on disk.
        return 130
    except BrokenPipeError:
        # `palabre plugins | head`: the reader left. Silence the flush at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="palabre", description="Run live workshops.")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run a workshop (resumes it if --db exists)")
    serve.add_argument(
        "kit",
        nargs="?",
        default=DEFAULT_KIT,
        help="a bundled kit name or a path to a .toml kit (default: quick-start)",
    )
    serve.add_argument("--db", default="workshop.db", help="SQLite file holding the workshop")
    serve.add_argument(
        "--host",
        default="0.0.0.0",
        help="address to listen on (default: all, so phones on the Wi-Fi reach it)",
    )
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--public-url",
        default=None,
        help="address phones use, e.g. http://192.168.1.20:8000 (default: LAN IP)",
    )
    _allowed_host_option(serve)
    _store_options(serve)
    serve.add_argument(
        "--wait-for-lock", type=float, default=0.0, metavar="SECONDS",
        help="with --store: wait this long for the worker that owns the workshop to stop, "
        "then take it over (a standby worker: e.g. 86400)",
    )  # fmt: skip
    _broker_option(serve, "let edge workers (palabre edge) hold the phones' sockets")
    serve.set_defaults(func=_serve)
    edge = sub.add_parser(
        "edge", help="hold phone and screen sockets for a workshop served with --broker"
    )
    edge.add_argument("--host", default="0.0.0.0", help="address to listen on")
    edge.add_argument("--port", type=int, default=8100)
    edge.add_argument(
        "--public-url", required=True,
        help="the workshop's address as phones see it (the writer's --public-url)",
    )  # fmt: skip
    _allowed_host_option(edge)
    edge.add_argument(
        "--store", metavar="URL_OR_FILE", default=os.environ.get("PALABRE_STORE") or None,
        help="where the writer keeps the workshop (read once, for the cookie key); "
        "default: $PALABRE_STORE",
    )  # fmt: skip
    _workshop_option(edge)
    _broker_option(edge, "the writer's broker (required)")
    edge.set_defaults(func=_edge)
    demo = sub.add_parser("demo", help="serve a kit with simulated phones taking part")
    demo.add_argument("kit", nargs="?", default=DEFAULT_KIT)
    demo.add_argument(
        "--participants", type=int, default=30, help="how many simulated phones (default: 30)"
    )
    demo.add_argument(
        "--db", default=None, help="SQLite file (default: a new temporary one each time)"
    )
    demo.add_argument("--host", default="0.0.0.0")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--public-url", default=None)
    demo.add_argument(
        "--pace",
        type=float,
        default=4.0,
        help="mean seconds between two actions of one phone (default: 4)",
    )
    _allowed_host_option(demo)
    demo.set_defaults(func=_demo)
    kits = sub.add_parser("kits", help="list bundled and installed kits")
    kits.set_defaults(func=_kits)
    plugins = sub.add_parser(
        "plugins", help="list loaded plugins: package, version, hooks, activities, kits"
    )
    plugins.add_argument("--json", action="store_true", help="as /-/plugins.json gives them")
    plugins.set_defaults(func=_list_plugins)
    check = sub.add_parser("check", help="validate a kit")
    check.add_argument("kit")
    check.set_defaults(func=_check)
    export = sub.add_parser(
        "export", help="export a workshop's results (JSON, CSV, Markdown, Excel or SQLite)"
    )
    export.add_argument("db", help="the workshop's file (workshop.db) or a postgresql:// URL")
    _workshop_option(export)
    export.add_argument("--format", choices=FORMATS, default="json")
    export.add_argument(
        "--out",
        type=Path,
        help="file or folder to write (default: next to DB); CSV: .zip or a folder",
    )
    export.set_defaults(func=_export)
    report = sub.add_parser("report", help="write the results report: one printable HTML page")
    report.add_argument("db", help="the workshop's file (workshop.db) or a postgresql:// URL")
    _workshop_option(report)
    report.add_argument("--out", type=Path, help="the HTML file (default: DB-report.html)")
    report.add_argument("--lang", choices=LANGUAGES, help="default: the workshop's language")
    report.set_defaults(func=_report)
    replay = sub.add_parser(
        "replay", help="show a past workshop again, read-only, stepped from the facilitator panel"
    )
    replay.add_argument("db", type=Path, help="the workshop's file (it is not changed)")
    replay.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: this computer only)"
    )
    replay.add_argument("--port", type=int, default=8000)
    replay.add_argument("--public-url", default=None, help="address the pages use")
    _allowed_host_option(replay)
    replay.set_defaults(func=_replay)
    new = sub.add_parser("new-activity", help="create an installable package for a new activity")
    new.add_argument("name", help='its name, e.g. "Mood meter" (the slug is derived from it)')
    new.add_argument("--dir", default=".", help="where to create the package (default: here)")
    new.add_argument("--slug", help="the name kits use for it (default: derived from NAME)")
    new.set_defaults(func=_new_activity)
    return parser


def resolve_kit_path(name: str, kit_paths: list[Path]) -> Path:
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        return path
    for candidate in kit_paths:
        if candidate.stem == name:
            return candidate
    known = ", ".join(sorted(p.stem for p in kit_paths))
    raise KitError(f"{name}: no such kit file, and no bundled kit of that name ({known})")


def _allowed_host_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the server is reached by (repeatable); when given, requests naming "
        "any other Host get 400. The --public-url host is always allowed.",
    )


def _plugins() -> tuple[pluggy.PluginManager, list[Path], dict[str, type[Activity]]]:
    pm = get_plugin_manager()
    return pm, collect_kits(pm), collect_activities(pm)


def _kits(args: argparse.Namespace) -> int:
    _, paths, activities = _plugins()
    for path in sorted(paths, key=lambda p: p.stem):
        try:
            kit = load_kit(path, activities)
            summary = f"{kit.title} — {_steps(kit)}"
        except KitError as exc:
            summary = f"INVALID: {exc}"
        print(f"{path.stem:24} {summary}\n{'':24} {path}")
    return 0


def _list_plugins(args: argparse.Namespace) -> int:
    described = describe_plugins(get_plugin_manager())
    if args.json:
        print(json.dumps(described, ensure_ascii=False, indent=2))
        return 0
    for plugin in described:
        print(f"{plugin['name']}  ({plugin['distribution']} {plugin['version']})")
        print(f"    hooks: {', '.join(plugin['hooks']) or '-'}")
        for kind in ("activities", "kits"):
            if plugin[kind]:
                print(f"    {kind}: {', '.join(plugin[kind])}")
    return 0


def _check(args: argparse.Namespace) -> int:
    pm, paths, activities = _plugins()
    kit = load_kit(resolve_kit_path(args.kit, paths), activities)
    providers = {
        slug: f"{plugin['distribution']} {plugin['version']}"
        for plugin in describe_plugins(pm)
        for slug in plugin["activities"]
    }
    print(f"{kit.name}: ok — {kit.title!r}, language {kit.language}, {_steps(kit)}")
    for step in kit.steps:
        source = f" (from {step.source})" if step.source else ""
        print(f"  {step.index + 1}. {step.id}: {step.activity.slug}{source} — {step.title}")
    used = sorted({step.activity.slug for step in kit.steps})
    print("Activities, and the package that provides each:")
    for slug in used:
        print(f"  {slug}: {providers.get(slug, 'unknown package')}")
    return 0


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", metavar="URL", default=os.environ.get("PALABRE_STORE") or None,
        help="keep the workshop in PostgreSQL (postgresql://user:password@host/db) instead of "
        "the --db file, so several workers can share a database (docs/deployment.md); "
        "default: $PALABRE_STORE, which keeps the password out of the process list",
    )  # fmt: skip
    _workshop_option(parser)


def _workshop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workshop", default="default", help="with PostgreSQL: the workshop's name"
    )


def _broker_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--broker", metavar="URL", default=os.environ.get("PALABRE_BROKER") or None,
        help=f"redis://host:port/0: {what} (docs/deployment.md); default: $PALABRE_BROKER",
    )  # fmt: skip


def _check_public_url(url: str | None) -> None:
    from .guard import base_path

    try:
        base_path(url or "")
    except ValueError as exc:
        raise KitError(str(exc)) from None


def _out_base(args: argparse.Namespace) -> Path:
    """Where exports go by default: next to the file, or here for a database's workshop."""
    return Path(args.workshop + ".db") if is_database_url(args.db) else Path(args.db)


def _record(args: argparse.Namespace) -> dict[str, Any]:
    from .record import build_record

    if is_database_url(args.db):
        from .pg_store import read_postgres_log

        log = read_postgres_log(args.db, args.workshop)
    else:
        log = read_log(Path(args.db))
    return build_record(log, collect_activities(get_plugin_manager()))


def _export(args: argparse.Namespace) -> int:
    from .exporters import default_out, write

    record = _record(args)
    written = write(record, args.format, args.out or default_out(_out_base(args), args.format))
    where = written[0] if len(written) == 1 else written[0].parent
    print(f"{where}: {args.format} export of {record['workshop']['title']!r}")
    if record["status"] != "finished":
        print("The workshop is still in progress: these results are not final.")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .render import Renderer
    from .report import render_report

    record = _record(args)
    base = _out_base(args)
    out = args.out or base.with_name(f"{base.stem}-report.html")
    pm = get_plugin_manager()
    renderer = Renderer(collect_activities(pm), pm)
    html = render_report(record, renderer, args.lang or record["workshop"]["language"])
    out.write_text(html, encoding="utf-8")
    print(f"{out}: the report of {record['workshop']['title']!r}; print it to PDF from a browser")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from .record import SECRET_META
    from .server import Serving, run_server

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.db = Path(args.db)
    read_log(args.db)  # a clear error, before anything is copied, if it is not a workshop
    copy = Path(tempfile.mkdtemp(prefix="palabre-replay-")) / "replay.db"
    source = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)  # a consistent copy, even of a file a server is writing
        # New links for the replay: the day's facilitator link and cookies open nothing here.
        fresh = [key for key in SECRET_META if key != "workshop_id"]
        target.execute(f"DELETE FROM meta WHERE key IN ({','.join('?' * len(fresh))})", fresh)
        target.commit()
    finally:
        source.close()
        target.close()
    print(f"Replay of {args.db}, read-only: its copy {copy} is served, the file is not changed.")
    print("From the facilitator link, step through the day; nothing else can be done.")
    pm, _, activities = _plugins()
    serving = Serving(args.host, args.port, args.public_url, tuple(args.allowed_host), True)
    return run_server(pm, copy, None, activities, serving)


def _steps(kit: Any) -> str:
    return f"{len(kit.steps)} step" + ("s" if len(kit.steps) != 1 else "")


def _new_activity(args: argparse.Namespace) -> int:
    from .scaffold import main as scaffold

    return scaffold(args.name, Path(args.dir), args.slug)


def _serve(args: argparse.Namespace) -> int:
    from .server import Serving, run_server

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    _check_public_url(args.public_url)
    pm, paths, activities = _plugins()
    if args.store:
        if not is_database_url(args.store):
            raise KitError("--store: expected a postgresql:// URL (a file goes with --db)")
        # The database may hold the workshop already; then its own kit is kept.
        kit: Kit | None = load_kit(resolve_kit_path(args.kit, paths), activities)
        target: Path | str = args.store
    else:
        target = Path(args.db)
        kit = None if target.exists() else load_kit(resolve_kit_path(args.kit, paths), activities)
    if kit is None:
        # A workshop keeps the kit it started with, so replaying its log stays exact.
        print(f"Resuming the workshop stored in {target} (with the kit it started with).")
    serving = Serving(
        args.host, args.port, args.public_url, tuple(args.allowed_host),
        workshop=args.workshop, wait_for_lock=args.wait_for_lock, broker=args.broker,
    )  # fmt: skip
    return run_server(pm, target, kit, activities, serving)


def _edge(args: argparse.Namespace) -> int:
    from .server import Serving, run_edge

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.broker or not args.store:
        raise KitError("palabre edge needs --broker and --store (the writer's)")
    _check_public_url(args.public_url)
    serving = Serving(args.host, args.port, args.public_url, tuple(args.allowed_host),
                      workshop=args.workshop, broker=args.broker)  # fmt: skip
    pm, _, activities = _plugins()
    return run_edge(pm, args.store, activities, serving)


def _demo(args: argparse.Namespace) -> int:
    import tempfile

    from .server import Serving, run_demo

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    pm, paths, activities = _plugins()
    kit = load_kit(resolve_kit_path(args.kit, paths), activities)
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="palabre-demo-")) / "demo.db"
    if args.participants < 0 or args.participants > 2000:
        raise KitError("--participants: expected a number from 0 to 2000")
    serving = Serving(args.host, args.port, args.public_url, tuple(args.allowed_host))
    return run_demo(pm, db, kit, activities, serving, args.participants, args.pace)


if __name__ == "__main__":
    sys.exit(main())
