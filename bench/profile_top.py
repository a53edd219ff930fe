"""Where a server's time went: reads py-spy's raw output (collapsed stacks, one
`frame;frame;... count` line per distinct stack) and prints the top functions by own time
(the frame on top of the stack) and by inclusive time (anywhere in the stack), and the
own time per source file.

    .venv/bin/python bench/load.py --phones 5000 --runs 1 --servers palabre \\
        --profile /tmp/prof
    .venv/bin/python bench/profile_top.py /tmp/prof/votes-5000.txt --top 25

Idle samples (the event loop waiting in `select`, recorded with py-spy's --idle) are
counted apart: shares are of the time the process was busy. Stacks of resumed coroutines
start at the coroutine (py-spy does not see through the C task step), so inclusive shares
of the outermost frames undercount; own time is exact.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Own time grouped by layer: the first pattern found in the file's path names the layer.
LAYERS = [
    ("socket writes (asyncio transport)", ("asyncio/selector_events.py",)),
    ("asyncio scheduling (tasks, events, loop)", ("asyncio/", "selectors.py")),
    ("WebSocket/HTTP layers (starlette, uvicorn, websockets, h11)",
     ("starlette/", "uvicorn/", "websockets/", "h11/")),
    # ChainMap (collections) is Jinja's context; genericpath, its auto_reload stat per render
    ("rendering (jinja2, markupsafe, templates, gettext)",
     ("jinja2/", "markupsafe/", ".html", "gettext", "babel/", "engine/views.py",
      "engine/render.py", "engine/i18n.py", "collections/", "genericpath")),
    ("event log (sqlite_utils, sqlite3)", ("sqlite_utils/", "sqlite3/")),
    ("JSON (views, acks, acts)", ("json/",)),
    ("hub, service, live endpoint", ("engine/hub.py", "engine/service.py", "engine/live.py")),
    ("activities, roster, workshop", ("plugins/", "engine/workshop.py", "engine/roster.py")),
    ("logging", ("logging/", "engine/server.py")),
]  # fmt: skip
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def short_file(path: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def frame_name(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip(), "?"
    file = short_file(match["file"])
    return f"{match['func']} ({file})", file


def load(path: Path) -> tuple[Counter[str], Counter[str], Counter[str], int, int]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    files: Counter[str] = Counter()
    busy = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        top, top_file = frames[-1]
        if top_file == "selectors.py" and top.split(" (")[0].endswith((".select", ".poll")):
            idle += n
            continue
        busy += n
        own[top] += n
        files[top_file] += n
        for name in {name for name, _ in frames}:
            inclusive[name] += n
    return own, inclusive, files, busy, idle


def layer_of(file: str) -> str:
    return next((name for name, marks in LAYERS if any(m in file for m in marks)), "other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    for path in args.raw:
        own, inclusive, files, busy, idle = load(path)
        total = busy + idle
        print(f"\n# {path.name}: {total} samples, busy {100 * busy / max(1, total):.0f} %")
        layers: Counter[str] = Counter()
        for file, n in files.items():
            layers[layer_of(file)] += n
        print("\nby layer (% of busy samples)")
        for name, n in layers.most_common():
            print(f"  {100 * n / max(1, busy):5.1f}  {name}")
        for title, counter in (("own time", own), ("inclusive", inclusive), ("file", files)):
            print(f"\n{title} (% of busy samples)")
            for name, n in counter.most_common(args.top):
                print(f"  {100 * n / max(1, busy):5.1f}  {name}")


if __name__ == "__main__":
    main()
