"""Every page carries a Content-Security-Policy that allows scripts from this site's own files
only, and every page keeps to it: no inline script, no inline event handler, no script from
another host (so the header can stay that strict)."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

# Script types a browser does not run: data blocks (Django's json_script) are allowed inline.
DATA_TYPES = {"application/json", "application/ld+json", "text/template"}
PUBLIC_PAGES = ["/api/docs/", "/api/docs/redoc/", "/admin/login/"]
ADMIN_PAGES = ["/admin/", "/admin/trading/trade/", "/admin/ledger/entry/", "/admin/bots/bot/",
               "/admin/bots/bot/add/", "/admin/arena/user/"]


class Scripts(HTMLParser):
    """The page's script elements (attributes and body) and any on* handler attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict, str]] = []
        self.handlers: list[tuple[str, str]] = []
        self._open: dict | None = None
        self._body: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.handlers += [(tag, name) for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            self._open, self._body = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._body.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open, "".join(self._body)))
            self._open = None


def directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "the page must carry a Content-Security-Policy"
    return directives(header)


def check_page(client: Client, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"], policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["default-src"] + policy["script-src"]
    parsed = Scripts()
    parsed.feed(response.content.decode())
    assert parsed.handlers == [], f"{page}: inline event handlers are blocked by the policy"
    assert parsed.scripts, f"{page}: expected the page's scripts"
    for attrs, body in parsed.scripts:
        if attrs.get("type") in DATA_TYPES:
            continue
        assert "src" in attrs and not body.strip(), f"{page}: an inline script would be blocked: {body[:200]}"
        src = attrs["src"]
        assert src.startswith("/") and not src.startswith("//"), f"{page}: {src} is not this site's"
        if src.startswith("/static/"):  # served by whitenoise after collectstatic, not in tests
            assert finders.find(src.removeprefix("/static/").split("?")[0]), f"{page}: no static file {src}"
        else:
            assert client.get(src).status_code == 200, f"{page}: {src} does not load"


@pytest.mark.django_db
@pytest.mark.parametrize("page", PUBLIC_PAGES)
def test_public_pages_run_only_their_own_script_files(client: Client, page):
    check_page(client, page)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_run_only_their_own_script_files(client: Client, admin_user, page):
    client.force_login(admin_user)
    check_page(client, page)


@pytest.mark.django_db
def test_the_swagger_pages_set_up_is_a_script_file_of_its_own(client: Client):
    script = client.get("/api/docs/?script")
    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]
    assert b"SwaggerUIBundle" in script.content and b"/api/schema/" in script.content


@pytest.mark.django_db
def test_api_responses_carry_the_policy_too(client: Client):
    """A JSON body opened in a browser tab runs nothing either."""
    response = client.get("/api/health/")
    assert response.status_code == 200
    assert policy_of(response)["default-src"] == ["'self'"]
