"""The browser suite's own rules, without a browser: what fails a page, where files go."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.e2e.harness import (
    artifacts_dir,
    blocking_violations,
    chromium_path,
    console_problem,
    describe_violations,
    in_ci,
    screenshot_path,
    static_problem,
)
from tests.web.e2e.servers import database_url


def test_console_errors_fail_and_csp_refusals_are_named_so():
    csp = console_problem("error", "Refused to execute inline script because it violates the following "
                                   "Content Security Policy directive: \"script-src 'self'\".")
    assert csp is not None and csp.kind == "csp"
    plain = console_problem("error", "Uncaught TypeError: x is undefined", "http://127.0.0.1/static/a.js")
    assert plain is not None and plain.kind == "console" and "static/a.js" in str(plain)
    assert console_problem("warning", "Content Security Policy report-only") is None
    assert console_problem("log", "hello") is None
    failed = "Failed to load resource: the server responded with a status of 404 (Not Found)"
    assert console_problem("error", failed, "http://127.0.0.1:8000/favicon.ico") is None, "the browser's own"
    assert console_problem("error", failed, "http://127.0.0.1:8000/static/x.png") is not None


def test_only_failed_static_files_are_problems():
    assert static_problem("http://127.0.0.1:8000/static/arena/css/app.css", 404).kind == "static"
    assert static_problem("http://127.0.0.1:8000/static/arena/js/app.js", 500) is not None
    assert static_problem("http://127.0.0.1:8000/static/arena/js/app.js", 304) is None
    assert static_problem("http://127.0.0.1:8000/bots/9/", 404) is None, "a page's 404 is the test's business"
    assert static_problem("http://127.0.0.1:8000/api/static/x", 404) is None


def test_the_audit_fails_on_serious_and_critical_violations_only():
    violations = [{"id": "color-contrast", "impact": "serious"}, {"id": "region", "impact": "moderate"},
                  {"id": "button-name", "impact": "critical"}, {"id": "x", "impact": "minor"}]
    assert [v["id"] for v in blocking_violations(violations)] == ["color-contrast", "button-name"]


def test_violations_read_as_rule_impact_and_elements():
    text = describe_violations([{
        "id": "label", "impact": "critical", "help": "Form elements must have labels",
        "helpUrl": "https://dequeuniversity.com/rules/axe/4.14/label",
        "nodes": [{"target": ["#q"], "html": "<input\n   id='q'>",
                   "failureSummary": "Fix any:\n  add a label"}]
                 + [{"target": [f"#n{i}"], "html": "<input>"} for i in range(6)],
    }], nodes_each=2)
    lines = text.splitlines()
    assert lines[0].startswith("- label (critical): Form elements must have labels [7 elements]")
    assert lines[1] == "    #q: <input id='q'>" and lines[2] == "      Fix any: add a label"
    assert lines[-1] == "    … and 5 more"


def test_artifacts_default_to_the_project_and_the_environment_moves_them(tmp_path):
    assert artifacts_dir({}, tmp_path) == tmp_path / "artifacts"
    assert artifacts_dir({"ARENA_ARTIFACTS_DIR": "/x/y"}, tmp_path) == Path("/x/y")
    assert screenshot_path(Path("/a"), "bot-page", "phone") == Path("/a/screenshots/bot-page-phone.png")
    for bad in ("", "../up", "Two Words", "a/b"):
        with pytest.raises(ValueError):
            screenshot_path(Path("/a"), bad, "desktop")


def test_ci_is_told_by_its_variable():
    assert in_ci({"CI": "true"}) and in_ci({"CI": "1"})
    assert not in_ci({}) and not in_ci({"CI": ""}) and not in_ci({"CI": "false"})


def test_an_explicit_chromium_must_exist(tmp_path):
    assert chromium_path({"ARENA_CHROMIUM": str(tmp_path / "none")}) is None
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    assert chromium_path({"ARENA_CHROMIUM": str(browser)}) == str(browser)


def test_the_servers_get_the_test_database_as_a_url():
    assert database_url({"ENGINE": "django.db.backends.sqlite3", "NAME": "/v/test-1.sqlite3"}) \
        == "sqlite:////v/test-1.sqlite3"
    assert database_url({"ENGINE": "django.db.backends.postgresql", "NAME": "test_arena", "USER": "arena",
                         "PASSWORD": "p@ss/w", "HOST": "127.0.0.1", "PORT": "5433"}) \
        == "postgres://arena:p%40ss%2Fw@127.0.0.1:5433/test_arena"
