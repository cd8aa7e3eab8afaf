"""API errors keep their JSON shape wherever they come from: an unknown address, a CSRF
failure, a bad cursor; and the schema and docs still answer."""
from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from arena.api.errors import csrf_failure
from tests.arena.api_helpers import client_for, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/nope/", "/api/bots/abc/", "/api/bots", "/api/bots/1.5/pause/"])
def test_an_unknown_api_address_is_a_json_404(user, path):
    for method in ("get", "post", "delete"):
        response = getattr(client_for(user), method)(path)
        if path == "/api/bots" and method == "post":
            continue  # no redirect to /api/bots/: a 404 is what it gets, as for GET
        assert response.status_code == 404 and error_of(response)["code"] == "not_found", (method, path)


def test_the_schema_and_docs_are_still_served():
    client = APIClient()
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/health/").status_code == 200


def test_a_csrf_failure_is_a_json_403_under_the_api_and_a_page_elsewhere():
    factory = RequestFactory()
    api = csrf_failure(factory.post("/api/bots/"), reason="CSRF cookie not set.")
    assert api.status_code == 403 and api["Content-Type"] == "application/json"
    assert "CSRF cookie not set" in json.loads(api.content)["error"]["message"]
    page = csrf_failure(factory.post("/admin/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_a_bad_cursor_is_a_400_naming_it(user, bot):
    response = client_for(user).get("/api/bots/?cursor=garbage")
    assert response.status_code == 400 and "cursor" in error_of(response)["fields"]
