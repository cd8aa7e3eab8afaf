"""Browser tabs that fail the test on what a person would call a broken page.

``Arena.tab()`` opens a context (its own cookies) with one page whose console errors, page
errors, Content-Security-Policy violations and failed static files are collected as
``Problem``s; ``Tab.visit`` fails at once on any, and the ``arena`` fixture fails the test on
any found later (a live update that threw). ``Arena.audit`` saves a page's screenshots at
desktop and phone width (no sideways scroll at 390 px) and runs axe-core on it.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.web.e2e.data import orm, session_cookie
from tests.web.e2e.harness import (
    AXE_JS,
    DESKTOP,
    WIDTHS,
    Problem,
    artifacts_dir,
    blocking_violations,
    console_problem,
    describe_violations,
    screenshot_path,
    static_problem,
)
from tests.web.e2e.servers import Servers

TIMEOUT_MS = 15_000  # any one wait for the page; a turn run by the worker has its own (TURN_MS)
TURN_MS = 45_000
NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
# A page without the stream (the admin, the API docs) is settled at once.
SOCKET_SETTLED = """() => {
  const status = document.getElementById("live-status");
  return !status || status.dataset.state !== "connecting";
}"""
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html, failureSummary: n.failureSummary}))}));
}"""


class Tab:
    """One page in its own browser context; ``frames`` holds every WebSocket text it received."""

    def __init__(self, base_url: str, context: Any) -> None:
        self.base_url = base_url
        self.context = context
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems: list[Problem] = []
        self.frames: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._request_failed)
        self.page.on("websocket", self._websocket)

    # --- what the page reports ---------------------------------------------------------

    def _console(self, message: Any) -> None:
        location = message.location or {}
        problem = console_problem(message.type, message.text, location.get("url", "") or self.page.url)
        if problem is not None:
            self.problems.append(problem)

    def _page_error(self, error: Any) -> None:
        self.problems.append(Problem("pageerror", str(error), self.page.url))

    def _response(self, response: Any) -> None:
        problem = static_problem(response.url, response.status)
        if problem is not None:
            self.problems.append(problem)

    def _request_failed(self, request: Any) -> None:
        if urlsplit(request.url).path.startswith("/static/"):
            self.problems.append(Problem("static", f"request failed: {request.failure}", request.url))

    def _websocket(self, socket: Any) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(
            payload if isinstance(payload, str) else payload.decode("utf-8", "replace")))

    def assert_clean(self, when: str = "") -> None:
        if self.problems:
            listed = "\n".join(f"  {p}" for p in self.problems)
            self.problems.clear()  # reported once: the teardown check looks for new ones only
            raise AssertionError(f"the page reported problems{' ' + when if when else ''}:\n{listed}")

    # --- driving it --------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def visit(self, path: str, *, status: int = 200, live: bool = True) -> Any:
        """Open ``path``, expect ``status``, wait until the page's socket has connected or
        failed (a refused socket logs its error), and with ``live`` that it connected, so a
        change made next reaches the page live. Fails on any problem so far."""
        response = self.page.goto(self.url(path), wait_until="load")
        assert response is not None, f"GET {path}: no response"
        assert response.status == status, f"GET {path}: HTTP {response.status}, expected {status}"
        self.page.wait_for_function(SOCKET_SETTLED)
        if live:
            self.wait_live()
        self.assert_clean(f"on {path}")
        return response

    def wait_live(self) -> None:
        """The page's socket said hello (``#live-status`` turns ``live``)."""
        self.page.wait_for_selector('#live-status[data-state="live"]', state="attached")

    def sign_in(self, username: str, password: str, *, next_path: str = "") -> None:
        """Through the real form at /login/, as a person does."""
        self.visit("/login/" + (f"?next={next_path}" if next_path else ""))
        form = self.page.locator("main form").filter(has=self.page.locator('input[name="password"]'))
        form.locator('input[name="username"]').fill(username)
        form.locator('input[name="password"]').fill(password)
        with self.page.expect_navigation():
            form.locator('button[type="submit"], input[type="submit"]').first.click()
        assert urlsplit(self.page.url).path != "/login/", f"still on the sign-in page: {self.page.url}"
        self.assert_clean("after signing in")

    def html(self) -> str:
        return self.page.content()


class Arena:
    """The running arena as a browser sees it: tabs, and the audit of a page."""

    def __init__(self, *, servers: Servers, browser: Any) -> None:
        self.servers = servers
        self.browser = browser
        self.tabs: list[Tab] = []
        self.routes: list[tuple[str, Any]] = []

    def route(self, pattern: str, handler: Any) -> None:
        """Answer ``pattern`` with ``handler`` in every context opened from now on (the
        audit's too): a test's own page, to prove the checks fail on a broken one."""
        self.routes.append((pattern, handler))

    def _context(self, **options: Any) -> Any:
        context = self.browser.new_context(base_url=self.servers.base_url, **options)
        for pattern, handler in self.routes:
            context.route(pattern, handler)
        return context

    def tab(self, *, user: Any = None, viewport: tuple[int, int] = DESKTOP) -> Tab:
        """A new tab (its own cookies); signed in as ``user`` through a session cookie."""
        context = self._context(viewport={"width": viewport[0], "height": viewport[1]})
        if user is not None:
            context.add_cookies([orm(session_cookie, user, self.servers.base_url)])
        tab = Tab(self.servers.base_url, context)
        self.tabs.append(tab)
        return tab

    def close(self) -> None:
        for tab in self.tabs:
            tab.context.close()

    def assert_clean(self) -> None:
        for tab in self.tabs:
            tab.assert_clean()

    # --- screenshots and accessibility -------------------------------------------------

    def screenshots(self, tab: Tab, name: str) -> list[str]:
        """The page as it is now, full length, at each width into the artifacts; at phone
        width the page must not scroll sideways."""
        saved = []
        page = tab.page
        try:
            for width_name, (width, height) in WIDTHS.items():
                page.set_viewport_size({"width": width, "height": height})
                page.evaluate(NEXT_FRAMES)  # the layout (and the charts' resize) has caught up
                path = screenshot_path(artifacts_dir(), name, width_name)
                path.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True)
                saved.append(str(path))
                scroll_width = page.evaluate("document.documentElement.scrollWidth")
                assert scroll_width <= width, (
                    f"{name} scrolls sideways at {width} px: the page is {scroll_width} px wide ({path})")
        finally:
            page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
        tab.assert_clean(f"on {name} at each width")
        return saved

    def axe(self, tab: Tab, name: str) -> None:
        """axe-core on the page ``tab`` shows, in a context of its own that bypasses the CSP
        (only so axe can be injected), with the same cookies; fails on serious or critical
        violations, each listed with its elements."""
        context = self._context(bypass_csp=True, storage_state=tab.context.storage_state(),
                                viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(tab.page.url, wait_until="load")
            page.add_script_tag(path=str(AXE_JS))
            violations = page.evaluate(RUN_AXE)
        finally:
            context.close()
        blocking = blocking_violations(violations)
        assert not blocking, f"axe-core on {name} ({tab.page.url}):\n{describe_violations(blocking)}"

    def audit(self, tab: Tab, name: str) -> None:
        self.screenshots(tab, name)
        self.axe(tab, name)
