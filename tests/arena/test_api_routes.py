"""Every route in the schema, walked: anonymous gets 401 unless the route is public on
purpose, another user's object is a 404 for every method, and no response the owner
gets holds a secret. A new route is walked as soon as it is in the schema."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from bots.services import bot_create, provider_create
from tests.arena.api_helpers import client_for
from trading.models import Market
from trading.services import position_open

pytestmark = pytest.mark.django_db

PUBLIC = {
    ("/api/health/", "get"), ("/api/schema/", "get"), ("/api/auth/csrf/", "get"),
    ("/api/auth/register/", "post"), ("/api/auth/login/", "post"), ("/api/auth/token/", "post"),
    ("/api/auth/password-reset/redeem/", "post"),
}
SECRET = "sk-SECRET-never-shown-0123456789"


def operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted((path, method) for path, item in schema["paths"].items() for method in item
                  if method in {"get", "post", "patch", "put", "delete"})


@pytest.fixture
def world(user, other_user):
    Market.objects.create(symbol="BTCUSDT", last_price=Decimal("60000"), mark_price=Decimal("60000"),
                          updated_at=timezone.now())
    objects = {}
    for who in (user, other_user):
        provider = provider_create(owner=who, name="P", kind="openai", model="m", base_url="https://x.example/v1",
                                   api_key=SECRET)
        bot = bot_create(owner=who, name="B", prompt="p", provider=provider)
        position = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=Decimal("100"), leverage=2,
                                 now=timezone.now()).position
        objects[who.pk] = {"id": None, "bot": bot.pk, "provider": provider.pk, "position_id": position.pk}
    return objects


def url(path: str, ids: dict) -> str:
    resource = "provider" if path.startswith("/api/providers/") else "bot"
    values = {**ids, "id": ids[resource], "token_key": "arena_nothing"}
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def test_the_schema_lists_the_routes_this_walk_knows():
    paths = {path for path, _ in operations()}
    assert {"/api/bots/", "/api/bots/{id}/trades/", "/api/providers/{id}/", "/api/auth/me/"} <= paths


def test_public_routes_are_in_the_schema():
    assert PUBLIC <= set(operations()), "a public route was renamed: update PUBLIC"


@pytest.mark.parametrize(("path", "method"), [op for op in operations() if op not in PUBLIC])
def test_anonymous_is_refused_unless_public(world, path, method):
    response = getattr(client_for(), method)(url(path, next(iter(world.values()))))
    assert response.status_code == 401, (path, method, response.status_code)


@pytest.mark.parametrize(("path", "method"), [op for op in operations() if "{id}" in op[0]])
def test_another_users_object_is_a_404(world, user, other_user, path, method):
    response = getattr(client_for(user), method)(url(path, world[other_user.pk]), {}, format="json")
    assert response.status_code == 404, (path, method, response.status_code)


@pytest.mark.parametrize(("path", "method"), [op for op in operations() if op[1] == "get"])
def test_no_response_holds_a_secret(world, user, path, method):
    response = client_for(user).get(url(path, world[user.pk]))
    assert response.status_code in (200, 404), (path, response.status_code)
    text = response.content.decode()
    assert SECRET not in text and "pbkdf2" not in text and "api_key_encrypted" not in text
