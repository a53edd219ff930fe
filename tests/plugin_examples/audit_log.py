# --8<-- [start:on_event]
"""An audit trail: one JSON line per committed event, in the file PALABRE_AUDIT_LOG names."""

import json
import os

from palabre.engine import StoredEvent, hookimpl


@hookimpl
def on_event(event: StoredEvent) -> None:
    # Takes only `event`: an implementation may accept fewer arguments than the hook has.
    # Runs after each commit, in order, never for the replay at start-up; keep it quick.
    path = os.environ.get("PALABRE_AUDIT_LOG")
    if path:
        line = {"seq": event.seq, "kind": event.kind, "step": event.step}
        with open(path, "a", encoding="utf-8") as audit:
            audit.write(json.dumps(line) + "\n")


# --8<-- [end:on_event]
