"""axe-core for the browser tests: fetched once from the npm registry into <repo>/.cache/axe
(ignored by git), injected into a page under Palabre's strict CSP, and run there.

The CSP allows scripts only from 'self' or with the page's nonce, so neither a <script> tag
added by the test nor `add_init_script` would run. `page.evaluate` goes through the DevTools
protocol, which the page's CSP does not govern: the library is evaluated in the page's own
world (it defines `window.axe`), then `axe.run()` is awaited the same way. Nothing is added to
the page's HTML and nothing is loaded from outside the server.

No npm (or no network) means the accessibility tests are skipped, unless
PALABRE_REQUIRE_BROWSER=1 (CI), where it is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PREFIX = ROOT / ".cache" / "axe"
AXE_JS = PREFIX / "node_modules" / "axe-core" / "axe.min.js"
PACKAGE = "axe-core@4"
BLOCKING = ("serious", "critical")


def _unavailable(reason: str) -> None:
    if os.environ.get("PALABRE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"axe-core is required for the accessibility tests: {reason}")
    pytest.skip(f"axe-core unavailable: {reason}")


@cache
def _install() -> str:
    """The path of axe.min.js, installing it with npm the first time; '' + reason if not."""
    if AXE_JS.is_file():
        return str(AXE_JS)
    npm = shutil.which("npm")
    if npm is None:
        return "!npm is not installed"
    PREFIX.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(PREFIX),
             PACKAGE],
            capture_output=True, text=True, timeout=300, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"!npm install {PACKAGE} failed: {exc!r}"
    if done.returncode != 0 or not AXE_JS.is_file():
        return f"!npm install {PACKAGE} failed ({done.returncode}): {done.stderr[-2000:]}"
    return str(AXE_JS)


def axe_source() -> str:
    """axe.min.js's text (skips or fails the test when it cannot be had)."""
    found = _install()
    if found.startswith("!"):
        _unavailable(found[1:])
    return Path(found).read_text(encoding="utf-8")


def run_axe(page: Any, context: str | None = None) -> list[dict[str, Any]]:
    """Every axe violation on the page as it is now (WCAG 2.x A/AA and best practices)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;true")
    options = {"resultTypes": ["violations"]}
    result = page.evaluate(
        "([context, options]) => axe.run(context || document, options)", [context, options]
    )
    return list(result["violations"])


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    """One paragraph per violation: rule, impact, help, then each failing node's target and
    what axe says about it."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} [{v.get('impact')}]: {v['help']} ({v.get('helpUrl', '')})")
        for node in v["nodes"][:8]:
            target = " ".join(str(t) for t in node.get("target", []))
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {target}: {summary[:300]}")
            lines.append(f"      {node.get('html', '')[:200]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def assert_no_serious_violations(page: Any, where: str) -> list[dict[str, Any]]:
    """Fails listing every serious or critical violation; returns all violations (the
    minor and moderate ones are for the report)."""
    violations = run_axe(page)
    bad = blocking(violations)
    assert not bad, f"axe on {where} ({page.url}):\n{describe(bad)}"
    return violations
