"""/api/admin/: only an arena admin gets in (anyone else a 403 with nothing changed); users
are suspended (their tokens revoked), reactivated, re-roled, deleted and handed password
resets; an admin cannot lock themselves out; the counts and the orphaned bots are right."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from arena import accounts
from arena.models import ApiToken, ArenaSettings, User
from arena.selectors import arena_stats
from bots.models import Bot, Decision, LLMProvider
from bots.services import bot_create, provider_create
from tests.arena.api_helpers import client_for, error_of
from tests.arena.test_api_routes import operations
from trading.models import CloseReason, Market, Wallet
from trading.services import position_close, position_open

pytestmark = pytest.mark.django_db
D = Decimal
STRONG = "a-much-Better-passw0rd"
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def moderator(django_user_model):
    return django_user_model.objects.create_user(username="mod", password="mod-pass-123", role="moderator")


def token_for(user) -> str:
    return accounts.token_create(user=user, name="script")[1]


def state() -> tuple:
    users = list(User.objects.order_by("pk").values())
    settings = ArenaSettings.objects.filter(pk=1).values().first() or {}
    settings.pop("updated_at", None)
    return users, ApiToken.objects.count(), settings


def admin_routes() -> list[tuple[str, str]]:
    routes = [op for op in operations() if op[0].startswith("/api/admin/")]
    return [*routes, ("/api/settings/", "patch"), ("/api/settings/reset/", "post")]


def test_the_admin_routes_are_in_the_schema():
    paths = {path for path, _ in admin_routes()}
    assert {"/api/admin/users/", "/api/admin/users/{id}/", "/api/admin/users/{id}/password-reset/",
            "/api/admin/stats/", "/api/admin/orphaned-bots/"} <= paths


@pytest.mark.parametrize("who", ["user", "moderator"])
def test_a_non_admin_gets_a_403_and_changes_nothing_on_every_admin_route(request, who, other_user, bot):
    caller = request.getfixturevalue(who)
    ArenaSettings.load()
    token_for(other_user)
    before = state()
    client = client_for(caller)
    for path, method in admin_routes():
        target = path.replace("{id}", str(other_user.pk))
        body = {"is_active": False, "role": "admin", "cooldown_minutes": 1} if method == "patch" else {}
        response = getattr(client, method)(target, body, format="json")
        assert response.status_code == 403, (path, method, response.status_code)
        assert error_of(response)["code"] == "permission_denied"
    assert state() == before


def test_anonymous_gets_a_401_on_the_admin_routes():
    for path, method in admin_routes():
        response = getattr(client_for(), method)(path.replace("{id}", "1"))
        assert response.status_code == 401, (path, method)


def test_users_are_listed_filtered_and_searched_with_their_emails(admin_user, user, other_user, moderator):
    User.objects.filter(pk=other_user.pk).update(is_active=False, email="bob@example.com")
    client = client_for(admin_user)

    def names(query: str = "") -> list[str]:
        response = client.get(f"/api/admin/users/{query}")
        assert response.status_code == 200, response.json()
        return sorted(row["username"] for row in response.json()["results"])

    assert names() == ["alice", "bob", "mod", "root"]
    assert names("?role=moderator") == ["mod"]
    assert names("?is_active=false") == ["bob"]
    assert names("?search=AL") == ["alice"], "a username prefix, any case"
    assert names("?search=ice") == []
    bob = client.get(f"/api/admin/users/{other_user.pk}/").json()
    assert bob["email"] == "bob@example.com" and bob["is_active"] is False
    assert error_of(client.get("/api/admin/users/?role=king"))["fields"].keys() == {"role"}
    assert client.get("/api/admin/users/999999/").status_code == 404


def test_an_admin_changes_a_role_and_a_display_name(admin_user, user):
    response = client_for(admin_user).patch(f"/api/admin/users/{user.pk}/",
                                            {"role": "admin", "display_name": "Alice A."})
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert (user.role, user.display_name, user.is_arena_admin) == ("admin", "Alice A.", True)
    refused = client_for(admin_user).patch(f"/api/admin/users/{user.pk}/", {"username": "eve"})
    assert refused.status_code == 400 and "username" in error_of(refused)["fields"]
    bad_role = client_for(admin_user).patch(f"/api/admin/users/{user.pk}/", {"role": "king"})
    assert bad_role.status_code == 400 and "role" in error_of(bad_role)["fields"]


def test_suspending_a_user_revokes_their_tokens_and_reactivating_lets_them_log_in(admin_user, user):
    plain = token_for(user)
    scripted = APIClient(HTTP_AUTHORIZATION=f"Token {plain}")
    assert scripted.get("/api/auth/me/").status_code == 200
    response = client_for(admin_user).patch(f"/api/admin/users/{user.pk}/", {"is_active": False})
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert not ApiToken.objects.filter(user=user).exists()
    assert scripted.get("/api/auth/me/").status_code == 401
    password_login = APIClient().post("/api/auth/token/", {"username": "alice", "password": "alice-pass-123"},
                                      format="json")
    assert password_login.status_code == 401

    again = client_for(admin_user).patch(f"/api/admin/users/{user.pk}/", {"is_active": True})
    assert again.status_code == 200 and again.json()["is_active"] is True
    assert scripted.get("/api/auth/me/").status_code == 401, "a revoked token stays revoked"
    assert APIClient().post("/api/auth/token/", {"username": "alice", "password": "alice-pass-123"},
                            format="json").status_code == 201


@pytest.mark.parametrize(("change", "field"), [
    ({"is_active": False}, "is_active"),
    ({"role": "user"}, "role"),
    ({"role": "moderator", "display_name": "Still root"}, "role"),
    ({"display_name": "Gone", "is_active": False}, "is_active"),
])
def test_an_admin_cannot_demote_or_suspend_themselves(admin_user, change, field):
    token_for(admin_user)
    before = state()
    response = client_for(admin_user).patch(f"/api/admin/users/{admin_user.pk}/", change)
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert state() == before, "nothing changed, not even the display name sent alongside"


def test_an_admin_cannot_delete_themselves(admin_user):
    response = client_for(admin_user).delete(f"/api/admin/users/{admin_user.pk}/")
    assert response.status_code == 400
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.username == "root"


def test_deleting_a_user_anonymises_them_and_keeps_their_bots_history(admin_user, user, bot):
    plain = token_for(user)
    response = client_for(admin_user).delete(f"/api/admin/users/{user.pk}/")
    assert response.status_code == 204
    user.refresh_from_db()
    bot.refresh_from_db()
    assert (user.username, user.email, user.is_active) == (f"deleted-user-{user.pk}", "", False)
    assert bot.owner_id == user.pk and not bot.is_active
    assert APIClient(HTTP_AUTHORIZATION=f"Token {plain}").get("/api/auth/me/").status_code == 401


def test_a_password_reset_the_admin_issues_is_redeemed_once(admin_user, user):
    response = client_for(admin_user).post(f"/api/admin/users/{user.pk}/password-reset/")
    assert response.status_code == 200, response.json()
    issued = response.json()
    assert set(issued) == {"uid", "token", "redeem"}
    assert issued["redeem"] == "/api/auth/password-reset/redeem/"
    payload = {"uid": issued["uid"], "token": issued["token"], "new_password": STRONG}
    assert APIClient().post(issued["redeem"], payload, format="json").status_code == 204
    login = APIClient().post("/api/auth/token/", {"username": "alice", "password": STRONG}, format="json")
    assert login.status_code == 201
    again = APIClient().post(issued["redeem"], {**payload, "new_password": STRONG + "x"}, format="json")
    assert again.status_code == 400 and "token" in error_of(again)["fields"]


def test_a_suspended_user_gets_no_password_reset(admin_user, user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client_for(admin_user).post(f"/api/admin/users/{user.pk}/password-reset/")
    assert response.status_code == 400 and "user" in error_of(response)["fields"]


def _decision(bot, at):
    return Decision.objects.create(bot=bot, created_at=at, success=True)


def test_stats_count_users_bots_and_the_last_24_hours_at_an_injected_now(admin_user, user, other_user,
                                                                         provider):
    for symbol in ("BTCUSDT", "ETHUSDT"):
        Market.objects.create(symbol=symbol, last_price=D("100"), mark_price=D("100"), updated_at=NOW)
    User.objects.filter(pk=other_user.pk).update(is_active=False)
    paper = bot_create(owner=user, name="Paper", prompt="p", provider=provider)
    real = bot_create(owner=user, name="Real", prompt="p", provider=provider)
    Bot.objects.filter(pk=real.pk).update(mode="real")
    bot_create(owner=user, name="Gone", prompt="p", provider=provider, is_active=False)

    def trade(side, symbol, at):
        opened = position_open(bot=paper, symbol=symbol, side=side, margin=D("100"), leverage=2, now=at)
        return opened.position

    trade("LONG", "BTCUSDT", NOW - timedelta(hours=1))  # counted
    trade("SHORT", "BTCUSDT", NOW - timedelta(hours=24))  # exactly 24 h before: not counted
    eth = trade("LONG", "ETHUSDT", NOW - timedelta(hours=2))  # counted, and its close
    position_close(position=eth.pk, reason=CloseReason.MANUAL, now=NOW - timedelta(minutes=30))
    trade("SHORT", "ETHUSDT", NOW + timedelta(hours=1))  # after now: not counted
    for at in (NOW, NOW - timedelta(hours=23), NOW - timedelta(hours=25), NOW + timedelta(seconds=1)):
        _decision(paper, at)

    stats = arena_stats(now=NOW)
    assert stats["users"] == {"total": 3, "active": 2}
    assert stats["bots"] == {"total": 3, "active": 2, "paper": 1, "real": 1}
    assert (stats["trades_24h"], stats["decisions_24h"], stats["open_positions"]) == (3, 2, 3)

    body = client_for(admin_user).get("/api/admin/stats/").json()
    assert body["users"] == {"total": 3, "active": 2} and body["open_positions"] == 3
    assert {"trades_24h", "decisions_24h", "at"} <= set(body)


def test_orphaned_bots_are_the_active_ones_that_cannot_trade(admin_user, user, other_user, provider):
    def bot(owner, name, provider_):
        return bot_create(owner=owner, name=name, prompt="p", provider=provider_)

    healthy = bot(user, "Healthy", provider)
    theirs = provider_create(owner=other_user, name="Theirs", kind="scripted", model="momentum")
    suspended_owner = bot(other_user, "Owner gone", theirs)
    deleted = bot(other_user, "Deleted", theirs)
    Bot.objects.filter(pk=deleted.pk).update(is_active=False)
    dead = provider_create(owner=user, name="Dead", kind="scripted", model="momentum")
    provider_off = bot(user, "Provider off", dead)
    rekey = provider_create(owner=user, name="Rekey", kind="scripted", model="momentum")
    needs_key = bot(user, "Needs key", rekey)
    no_wallet = bot(user, "No wallet", provider)
    with_wallet = bot(user, "With wallet", provider)
    Bot.objects.filter(pk__in=[no_wallet.pk, with_wallet.pk]).update(mode="real")
    Wallet.objects.create(owner=user, bot=with_wallet, exchange="binance")
    LLMProvider.objects.filter(pk=dead.pk).update(is_active=False)
    LLMProvider.objects.filter(pk=rekey.pk).update(key_needs_reentry=True)
    User.objects.filter(pk=other_user.pk).update(is_active=False)

    response = client_for(admin_user).get("/api/admin/orphaned-bots/")
    assert response.status_code == 200
    found = {row["id"]: row["reasons"] for row in response.json()["results"]}
    assert found == {
        suspended_owner.pk: ["owner_inactive"],
        provider_off.pk: ["provider_inactive"],
        needs_key.pk: ["provider_key_needs_reentry"],
        no_wallet.pk: ["no_wallet"],
    }
    assert healthy.pk not in found and with_wallet.pk not in found and deleted.pk not in found
    Wallet.objects.filter(bot=with_wallet).update(is_active=False)
    again = client_for(admin_user).get("/api/admin/orphaned-bots/").json()["results"]
    assert {row["id"]: row["reasons"] for row in again}[with_wallet.pk] == ["wallet_inactive"]


def test_emails_appear_in_admin_routes_only(admin_user, user, bot):
    User.objects.filter(pk=user.pk).update(email="alice@example.com")
    assert "alice@example.com" in client_for(admin_user).get("/api/admin/users/").content.decode()
    for path in ("/api/bots/", f"/api/bots/{bot.pk}/", "/api/markets/", f"/api/public/bots/{bot.pk}/"):
        assert "alice@example.com" not in client_for(admin_user).get(path).content.decode(), path
