"""Every route in the schema, walked: anonymous gets 401 unless the route is public on
purpose, another user's object is a 404 for every method, and no response the owner
gets holds a secret. A new route is walked as soon as it is in the schema."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from bots.models import Bot
from bots.services import bot_create, provider_create
from ledger.models import Change
from tests.arena.api_helpers import client_for
from trading.models import Discrepancy, Market, Reconciliation
from trading.services import position_open, wallet_create

pytestmark = pytest.mark.django_db

PUBLIC = {
    ("/api/health/", "get"), ("/api/schema/", "get"), ("/api/auth/csrf/", "get"),
    ("/api/auth/register/", "post"), ("/api/auth/login/", "post"), ("/api/auth/token/", "post"),
    ("/api/auth/password-reset/redeem/", "post"),
    # Market data is no one's secret: the market list, a market and its candles are public.
    ("/api/markets/", "get"), ("/api/markets/{symbol}/", "get"), ("/api/markets/{symbol}/candles/", "get"),
    # The leaderboard ranks listed bots, whose results are public.
    ("/api/leaderboard/", "get"),
}
# Admin routes are a 403 for every other user whatever the object (tests/arena/test_api_admin.py
# walks them); their responses are checked for secrets as the admin sees them.
ADMIN_PREFIX = "/api/admin/"
# Moderator routes likewise (tests/arena/test_api_moderation.py walks them); an admin is a moderator.
MODERATION_PREFIX = "/api/moderation/"
STAFF_PREFIXES = (ADMIN_PREFIX, MODERATION_PREFIX)
# Everything under /api/public/ is anyone's to read (listed bots only): walked by its own tests below.
PUBLIC_PREFIX = "/api/public/"
SECRET = "sk-SECRET-never-shown-0123456789"


def operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted((path, method) for path, item in schema["paths"].items() for method in item
                  if method in {"get", "post", "patch", "put", "delete"})


def owner_operations() -> list[tuple[str, str]]:
    return [op for op in operations() if not op[0].startswith(PUBLIC_PREFIX)]


def public_operations() -> list[tuple[str, str]]:
    return [op for op in operations() if op[0].startswith(PUBLIC_PREFIX)]


@pytest.fixture
def world(user, other_user):
    Market.objects.create(symbol="BTCUSDT", last_price=Decimal("60000"), mark_price=Decimal("60000"),
                          updated_at=timezone.now())
    objects = {}
    for who in (user, other_user):
        provider = provider_create(owner=who, name="P", kind="openai", model="m", base_url="https://x.example/v1",
                                   api_key=SECRET)
        bot = bot_create(owner=who, name="B", prompt="Their prompt {{marketData}}", provider=provider)
        position = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=Decimal("100"), leverage=2,
                                 now=timezone.now()).position
        wallet = wallet_create(owner=who, exchange="binance", api_key=SECRET, api_secret=SECRET,
                               base_url="https://fapi.x.example")
        run = Reconciliation.objects.create(bot=bot, wallet=wallet, trigger="api", started_at=timezone.now())
        flag = Discrepancy.objects.create(bot=bot, reconciliation=run, kind="balance", key="k", detail="d",
                                          created_at=timezone.now())
        objects[who.pk] = {"id": None, "bot": bot.pk, "provider": provider.pk, "position_id": position.pk,
                           "wallet": wallet.pk, "discrepancy_id": flag.pk}
        objects[who.pk]["user"] = who.pk
        objects[who.pk]["change"] = Change.objects.filter(owner=who).latest("id").pk
    return objects


def url(path: str, ids: dict) -> str:
    prefixes = {"/api/providers/": "provider", "/api/wallets/": "wallet", "/api/admin/users/": "user",
                "/api/moderation/users/": "user", "/api/changes/": "change"}
    resource = next((name for prefix, name in prefixes.items() if path.startswith(prefix)), "bot")
    values = {**ids, "id": ids[resource], "token_key": "arena_nothing", "symbol": "BTCUSDT"}
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def test_the_schema_lists_the_routes_this_walk_knows():
    paths = {path for path, _ in operations()}
    assert {"/api/bots/", "/api/bots/{id}/trades/", "/api/providers/{id}/", "/api/auth/me/"} <= paths


def test_public_routes_are_in_the_schema():
    assert PUBLIC <= set(operations()), "a public route was renamed: update PUBLIC"


@pytest.mark.parametrize(("path", "method"), [op for op in owner_operations() if op not in PUBLIC])
def test_anonymous_is_refused_unless_public(world, path, method):
    response = getattr(client_for(), method)(url(path, next(iter(world.values()))))
    assert response.status_code == 401, (path, method, response.status_code)


@pytest.mark.parametrize(("path", "method"), [op for op in owner_operations()
                                               if "{id}" in op[0] and not op[0].startswith(STAFF_PREFIXES)])
def test_another_users_object_is_a_404(world, user, other_user, path, method):
    response = getattr(client_for(user), method)(url(path, world[other_user.pk]), {}, format="json")
    assert response.status_code == 404, (path, method, response.status_code)


@pytest.mark.parametrize(("path", "method"), [op for op in operations() if op[1] == "get"])
def test_no_response_holds_a_secret(world, user, admin_user, path, method):
    viewer = admin_user if path.startswith(STAFF_PREFIXES) else user
    response = client_for(viewer).get(url(path, world[user.pk]))
    assert response.status_code in (200, 403, 404), (path, response.status_code)  # 403: admins only
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode()
    assert SECRET not in text and "pbkdf2" not in text and "api_key_encrypted" not in text


def test_public_routes_are_read_only():
    assert public_operations() and {method for _, method in public_operations()} == {"get"}


@pytest.mark.parametrize(("path", "method"), public_operations())
def test_a_public_route_shows_a_listed_bot_to_anyone_and_nothing_secret(world, other_user, path, method):
    ids = world[other_user.pk]
    response = client_for().get(url(path, ids))
    text = response.content.decode()
    published = path.endswith(("/decisions/", "/summaries/"))
    assert response.status_code == (404 if published else 200), (path, response.status_code)
    for secret in (SECRET, "x.example", other_user.username, "pbkdf2", "Their prompt"):
        assert secret not in text, (path, secret)


@pytest.mark.parametrize(("path", "method"), [op for op in public_operations() if "{id}" in op[0]])
def test_an_unlisted_bot_is_a_404_on_every_public_route(world, other_user, path, method):
    Bot.objects.filter(pk=world[other_user.pk]["bot"]).update(is_listed=False)
    assert client_for().get(url(path, world[other_user.pk])).status_code == 404
