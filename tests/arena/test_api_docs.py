"""The API's docs pages work offline: Swagger UI and Redoc come from our static files."""
from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

# src=/href= attributes, and any quoted /static/ or absolute URL in the page's scripts.
URL = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']|["'](/static/[^"']+)["']|["']((?:https?:)?//[^"']+)["']"""
)


def urls(html: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in URL.finditer(html)}


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/docs/", "/api/docs/redoc/"])
def test_docs_pages_load_nothing_from_another_host(client: Client, page):
    response = client.get(page)  # public: a stranger reads the docs before having an account

    assert response.status_code == 200
    found = urls(response.content.decode())
    external = sorted(u for u in found if u.startswith(("http://", "https://", "//")))
    assert external == [], "the page must work offline"
    static = sorted(u for u in found if u.startswith("/static/"))
    assert any(u.endswith(".js") for u in static), static
    for url in static:
        assert finders.find(url.removeprefix("/static/")), f"{url} is not among the static files"


@pytest.mark.django_db
def test_the_schema_validates_with_no_warning(tmp_path):
    """Every endpoint, parameter and enum resolved: drf-spectacular fails on any warning."""
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.stat().st_size > 10_000
