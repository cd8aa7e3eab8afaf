"""Pure helpers of the browser suite: where Chromium and the artifacts are, and which of the
things a browser reports fail a test. No Django and no Playwright here, so each rule has its
own unit test (tests/web/e2e/test_harness.py) that runs without a browser."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[3]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
BLOCKING_IMPACTS = ("serious", "critical")  # what the audit fails on (not "minor" or "moderate")
DESKTOP = (1280, 800)
PHONE = (390, 844)
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


def chromium_path(env: Mapping[str, str] = os.environ) -> str | None:
    """The Chromium to drive: ``ARENA_CHROMIUM`` if set, else Debian's, else one on PATH.
    Playwright's own browser builds are not used: they are downloaded, which CI cannot do."""
    wanted = env.get("ARENA_CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


def in_ci(env: Mapping[str, str] = os.environ) -> bool:
    """CI sets ``CI`` (to ``true``): there a missing browser is a failure, not a skip."""
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def artifacts_dir(env: Mapping[str, str] = os.environ, root: Path = ROOT) -> Path:
    """Where screenshots go (``<dir>/screenshots``): ``ARENA_ARTIFACTS_DIR`` or ``artifacts/``."""
    return Path(env.get("ARENA_ARTIFACTS_DIR") or root / "artifacts")


def screenshot_path(base: Path, name: str, width_name: str) -> Path:
    """``<base>/screenshots/<name>-<width>.png``; ``name`` is a plain slug (no path tricks)."""
    if not name or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-_" for c in name):
        raise ValueError(f"screenshot name {name!r}: use lower-case letters, digits, - and _")
    return base / "screenshots" / f"{name}-{width_name}.png"


@dataclass(frozen=True)
class Problem:
    """Something a page did that fails the test: ``kind`` is console, csp, pageerror or static."""

    kind: str
    text: str
    url: str = ""

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text}" + (f" ({self.url})" if self.url else "")


def console_problem(kind: str, text: str, url: str = "") -> Problem | None:
    """A console message that fails the test: every error. Chromium reports a blocked script,
    style or connection as a console error naming the Content Security Policy, so a CSP
    violation is told apart by its text (an init script listening for
    ``securitypolicyviolation`` would itself be refused by the policy). ``url`` is where
    the message comes from (a failed load: the address that failed)."""
    if kind != "error" or urlsplit(url).path == "/favicon.ico":
        return None  # the browser asks for /favicon.ico by itself; no page links one
    if "Content Security Policy" in text:
        return Problem("csp", text, url)
    return Problem("console", text, url)


def static_problem(url: str, status: int) -> Problem | None:
    """A response for one of our static files (``/static/…``) that failed (status >= 400)."""
    if status >= 400 and urlsplit(url).path.startswith("/static/"):
        return Problem("static", f"HTTP {status}", url)
    return None


def blocking_violations(violations: Iterable[Mapping]) -> list[Mapping]:
    """axe's violations the audit fails on (impact serious or critical)."""
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


def describe_violations(violations: Iterable[Mapping], *, nodes_each: int = 5) -> str:
    """axe's violations as lines a person reads: rule, impact, what it means, and the first
    few offending elements by selector (with a snippet of their HTML)."""
    lines: list[str] = []
    for violation in violations:
        nodes = list(violation.get("nodes") or [])
        count = f"{len(nodes)} element{'s' if len(nodes) != 1 else ''}"
        lines.append(f"- {violation.get('id')} ({violation.get('impact')}): {violation.get('help')} "
                     f"[{count}] {violation.get('helpUrl', '')}".rstrip())
        for node in nodes[:nodes_each]:
            target = " ".join(str(t) for t in node.get("target") or [])
            snippet = " ".join(str(node.get("html", "")).split())[:160]
            lines.append(f"    {target}: {snippet}")
            summary = " ".join(str(node.get("failureSummary", "")).split())
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(nodes) > nodes_each:
            lines.append(f"    … and {len(nodes) - nodes_each} more")
    return "\n".join(lines)
