"""The harness on pages that exist whatever the areas do: the admin's sign-in and the API
docs load clean in Chromium; a broken page (inline script, missing file, thrown error)
fails the visit, one a person cannot use fails the audit, and one too wide for a phone fails
the screenshots."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

BROKEN = b"""<!doctype html><html lang="en"><head><title>broken</title>
<link rel="stylesheet" href="/static/arena/css/no-such-file.css"></head>
<body><h1>broken</h1><script>window.ran = 1</script></body></html>"""


INACCESSIBLE = b"""<!doctype html><html lang="en"><head><title>unusable</title></head>
<body><main><h1>unusable</h1><img src="/static/arena/none.png" width="1" height="1">
<input type="text" name="q"></main></body></html>"""
WIDE = b"""<!doctype html><html lang="en"><head><title>wide</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>wide</h1><div style="width: 600px">a fixed 600 px block</div></main></body></html>"""


def serve(body: bytes):
    return lambda route: route.fulfill(status=200, body=body, headers={"Content-Type": "text/html"})


def test_the_admin_sign_in_and_the_api_docs_load_clean(arena):
    tab = arena.tab()
    tab.visit("/admin/login/", live=False)
    assert tab.page.locator('input[name="username"]').count() == 1
    tab.visit("/api/docs/", live=False)
    tab.page.wait_for_selector(".swagger-ui .info", state="visible")
    tab.assert_clean("once the docs were drawn")


def test_a_page_breaking_the_policy_fails_its_visit(arena):
    tab = arena.tab()
    tab.page.route("**/e2e-broken/", lambda route: route.fulfill(
        status=200, body=BROKEN, headers={"Content-Type": "text/html",
                                          "Content-Security-Policy": "script-src 'self'; style-src 'self'"}))
    with pytest.raises(AssertionError) as failed:
        tab.visit("/e2e-broken/", live=False)
    report = str(failed.value)
    assert "[csp]" in report and "inline script" in report, report
    assert "[static]" in report and "no-such-file.css" in report, report
    assert tab.page.evaluate("window.ran") is None, "the policy kept the inline script from running"
    assert tab.problems == [], "reported once, not again at the test's end"
    tab.page.evaluate("setTimeout(() => { throw new Error('thrown later') })")
    tab.page.wait_for_timeout(200)
    assert [p.kind for p in tab.problems] == ["pageerror"] and "thrown later" in tab.problems[0].text
    tab.problems.clear()  # seen: the test's teardown check must not fail on them


def test_the_audit_names_what_makes_a_page_unusable(arena):
    arena.route("**/e2e-unusable/", serve(INACCESSIBLE))
    arena.route("**/static/arena/none.png", lambda route: route.fulfill(status=200, body=b"", headers={
        "Content-Type": "image/png"}))
    tab = arena.tab()
    tab.visit("/e2e-unusable/", live=False)
    with pytest.raises(AssertionError) as failed:
        arena.axe(tab, "unusable")
    report = str(failed.value)
    assert "- image-alt (critical)" in report and "- label (critical)" in report, report
    assert 'input[name="q"]' in report or "<input" in report, "the offending element is named"


def test_a_page_wider_than_a_phone_fails_its_screenshots(arena, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_ARTIFACTS_DIR", str(tmp_path))
    arena.route("**/e2e-wide/", serve(WIDE))
    tab = arena.tab()
    tab.visit("/e2e-wide/", live=False)
    with pytest.raises(AssertionError, match="scrolls sideways at 390 px"):
        arena.screenshots(tab, "wide")
    assert (tmp_path / "screenshots" / "wide-desktop.png").stat().st_size > 0
    assert (tmp_path / "screenshots" / "wide-phone.png").stat().st_size > 0, "saved before the check"
