"""The real-money routes: wallet verification, a real bot's reconciliations and
discrepancies, /api/real-trading/ and the kill switch; owner-scoped, in the schema."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from arena.api import wallets as wallet_views
from arena.api.bots import views as bot_views
from arena.models import ArenaSettings
from bots.models import Bot
from bots.services import bot_create, provider_create
from ledger.models import Change
from tests.arena.api_helpers import client_for, error_of
from trading.models import Discrepancy, Reconciliation, Wallet
from trading.services import wallet_attach, wallet_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _real_trading_on(settings):
    settings.REAL_TRADING_ENABLED = True


def _wallet(owner, label="Main") -> Wallet:
    return wallet_create(owner=owner, exchange="binance", api_key="k-123", api_secret="s-456", label=label)


@pytest.fixture
def real_bot(user, provider):
    bot = bot_create(owner=user, name="Live", prompt="p", provider=provider, mode="real")
    wallet_attach(wallet=_wallet(user), bot=bot)
    return bot


@pytest.fixture
def their_real_bot(other_user):
    provider = provider_create(owner=other_user, name="P", kind="scripted", model="m")
    bot = bot_create(owner=other_user, name="Rival", prompt="p", provider=provider, mode="real")
    wallet_attach(wallet=_wallet(other_user, "Theirs"), bot=bot)
    return bot


def _run(bot, *, minutes_ago: int, status=Reconciliation.Status.AGREED, error="") -> Reconciliation:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Reconciliation.objects.create(bot=bot, wallet=Wallet.objects.get(bot=bot), trigger="schedule",
                                         status=status, started_at=at, finished_at=at, error=error)


def _flag(run, key, *, resolved=False) -> Discrepancy:
    return Discrepancy.objects.create(
        bot=run.bot, reconciliation=run, kind="balance", key=key, detail=f"gap {key}", amount=Decimal("1.5"),
        created_at=run.started_at, resolved_at=run.started_at if resolved else None,
        resolution="looked" if resolved else "")


# --- wallets/{id}/verify/ -------------------------------------------------------------------

def test_verify_calls_the_service_and_answers_the_wallet_without_keys(user, monkeypatch):
    wallet = _wallet(user)
    calls = []

    def verify(*, wallet, now):
        calls.append(wallet.pk)
        Wallet.objects.filter(pk=wallet.pk).update(verified_at=now, verified_balance=Decimal("321"),
                                                   withdrawals_enabled=False, account_fingerprint="f" * 64)
        return wallet

    monkeypatch.setattr(wallet_views, "wallet_verify", verify)
    response = client_for(user).post(f"/api/wallets/{wallet.pk}/verify/")

    assert response.status_code == 200 and calls == [wallet.pk]
    body = response.json()
    assert body["verified_balance"] == "321.00000000" and body["withdrawals_enabled"] is False
    assert body["verified_at"] and body["verify_error"] == ""
    text = response.content.decode()
    assert "k-123" not in text and "s-456" not in text and "f" * 64 not in text
    assert not {"api_key", "api_secret", "account_fingerprint"} & set(body)


def test_a_failed_verification_is_a_400_with_its_message(user, monkeypatch):
    wallet = _wallet(user)

    def verify(*, wallet, now):
        raise ValidationError({"wallet": ["The account is in hedge mode."]})

    monkeypatch.setattr(wallet_views, "wallet_verify", verify)
    response = client_for(user).post(f"/api/wallets/{wallet.pk}/verify/")
    assert response.status_code == 400
    assert error_of(response)["fields"]["wallet"] == ["The account is in hedge mode."]


def test_the_verification_fields_are_read_only(user):
    wallet = _wallet(user)
    response = client_for(user).patch(f"/api/wallets/{wallet.pk}/", {"verified_balance": "1000000"})
    assert response.status_code == 400 and "verified_balance" in error_of(response)["fields"]
    wallet.refresh_from_db()
    assert wallet.verified_balance is None


def test_another_users_wallet_is_not_verified(user, other_user, monkeypatch):
    theirs = _wallet(other_user)
    monkeypatch.setattr(wallet_views, "wallet_verify", lambda **kw: pytest.fail("must not be called"))
    assert client_for(user).post(f"/api/wallets/{theirs.pk}/verify/").status_code == 404


# --- bots/{id}/reconcile/, reconciliations/, discrepancies/ ------------------------------------

def test_reconcile_runs_the_service_with_the_api_trigger(user, real_bot, monkeypatch):
    calls = []

    def reconcile(*, bot, trigger, now):
        calls.append((bot.pk, trigger))
        return _run(bot, minutes_ago=0, status=Reconciliation.Status.DIFFERENCES)

    monkeypatch.setattr(bot_views, "reconcile_bot", reconcile)
    response = client_for(user).post(f"/api/bots/{real_bot.pk}/reconcile/")
    assert response.status_code == 200
    assert calls == [(real_bot.pk, "api")]
    assert response.json()["status"] == "differences" and response.json()["bot"] == real_bot.pk


def test_a_paper_bot_is_not_reconciled(user, bot, monkeypatch):
    monkeypatch.setattr(bot_views, "reconcile_bot", lambda **kw: pytest.fail("must not be called"))
    response = client_for(user).post(f"/api/bots/{bot.pk}/reconcile/")
    assert response.status_code == 400
    assert error_of(response)["fields"]["bot"] == ["Only real bots are reconciled."]


def test_a_real_bot_without_its_wallet_is_told_why(user, provider):
    bot = bot_create(owner=user, name="Walletless", prompt="p", provider=provider, mode="real")
    response = client_for(user).post(f"/api/bots/{bot.pk}/reconcile/")
    assert response.status_code == 400 and "has no wallet" in error_of(response)["fields"]["bot"][0]
    assert not Reconciliation.objects.exists()


def test_reconciliations_are_listed_newest_first(user, real_bot):
    old, new = _run(real_bot, minutes_ago=10), _run(real_bot, minutes_ago=1, status="failed", error="down")
    body = client_for(user).get(f"/api/bots/{real_bot.pk}/reconciliations/").json()
    assert [r["id"] for r in body["results"]] == [new.pk, old.pk]
    assert body["results"][0]["error"] == "down" and "next" in body


def test_discrepancies_filter_on_open(user, real_bot):
    run = _run(real_bot, minutes_ago=5)
    open_one, done = _flag(run, "a"), _flag(run, "b", resolved=True)
    client = client_for(user)
    url = f"/api/bots/{real_bot.pk}/discrepancies/"
    assert [d["id"] for d in client.get(url).json()["results"]] == [done.pk, open_one.pk]
    assert [d["id"] for d in client.get(url, {"open": "true"}).json()["results"]] == [open_one.pk]
    assert [d["id"] for d in client.get(url, {"open": "false"}).json()["results"]] == [done.pk]
    bad = client.get(url, {"open": "maybe"})
    assert bad.status_code == 400 and "open" in error_of(bad)["fields"]


def test_resolve_marks_it_resolved_by_the_caller(user, real_bot):
    flag = _flag(_run(real_bot, minutes_ago=5), "a")
    client = client_for(user)
    url = f"/api/bots/{real_bot.pk}/discrepancies/{flag.pk}/resolve/"
    blank = client.post(url, {"resolution": "  "})
    assert blank.status_code == 400 and "resolution" in error_of(blank)["fields"]
    done = client.post(url, {"resolution": "A deposit made by hand."})
    assert done.status_code == 200
    assert done.json()["is_open"] is False and done.json()["resolution"] == "A deposit made by hand."
    assert done.json()["resolved_by"] == user.public_name
    again = client.post(url, {"resolution": "twice"})
    assert again.status_code == 400
    flag.refresh_from_db()
    assert (flag.resolved_by, flag.resolution) == (user, "A deposit made by hand.")


def test_another_users_bot_and_discrepancy_are_404(user, real_bot, their_real_bot, monkeypatch):
    monkeypatch.setattr(bot_views, "reconcile_bot", lambda **kw: pytest.fail("must not be called"))
    theirs = _flag(_run(their_real_bot, minutes_ago=1), "x")
    client = client_for(user)
    for method, path in [("post", "reconcile/"), ("get", "reconciliations/"), ("get", "discrepancies/"),
                         ("post", f"discrepancies/{theirs.pk}/resolve/")]:
        response = getattr(client, method)(f"/api/bots/{their_real_bot.pk}/{path}", {"resolution": "mine"})
        assert response.status_code == 404, (method, path)
    # Their discrepancy through my bot's route is not found either.
    mine = client.post(f"/api/bots/{real_bot.pk}/discrepancies/{theirs.pk}/resolve/", {"resolution": "mine"})
    assert mine.status_code == 404
    theirs.refresh_from_db()
    assert theirs.resolved_at is None


# --- /api/real-trading/ ----------------------------------------------------------------------

def test_the_overview_shows_the_viewers_real_bots_only(user, real_bot, their_real_bot, bot):
    run = _run(real_bot, minutes_ago=2, status="differences", error="")
    _flag(run, "a"), _flag(run, "b"), _flag(run, "c", resolved=True)
    body = client_for(user).get("/api/real-trading/").json()
    assert body["enabled"] is True
    assert body["kill_switch"] == {"engaged_at": None, "engaged_by": ""}
    [row] = body["bots"]
    assert (row["id"], row["name"], row["paused"], row["wallet"], row["open_discrepancies"]) == (
        real_bot.pk, "Live", False, "Main", 2)
    assert row["last_reconciliation"]["status"] == "differences"


def test_an_admin_sees_every_real_bot(admin_user, real_bot, their_real_bot):
    body = client_for(admin_user).get("/api/real-trading/").json()
    assert {b["id"] for b in body["bots"]} == {real_bot.pk, their_real_bot.pk}
    assert all(b["last_reconciliation"] is None for b in body["bots"])


def test_the_overview_needs_a_signed_in_user():
    assert client_for().get("/api/real-trading/").status_code == 401


# --- /api/real-trading/kill-switch/ ------------------------------------------------------------

def test_only_an_admin_engages_the_kill_switch(user, real_bot):
    response = client_for(user).post("/api/real-trading/kill-switch/", {"password": "alice-pass-123"})
    assert response.status_code == 403
    assert ArenaSettings.load().kill_switch_at is None
    real_bot.refresh_from_db()
    assert not real_bot.is_paused
    assert client_for(user).delete("/api/real-trading/kill-switch/", {"password": "x"}).status_code == 403


def test_a_wrong_password_changes_nothing(admin_user, real_bot):
    response = client_for(admin_user).post("/api/real-trading/kill-switch/", {"password": "guess"})
    assert response.status_code == 400
    assert error_of(response)["fields"]["password"] == ["The password is not right."]
    assert ArenaSettings.load().kill_switch_at is None
    real_bot.refresh_from_db()
    assert not real_bot.is_paused
    assert not Change.objects.filter(action__startswith="kill_switch").exists()


def test_the_kill_switch_pauses_every_real_bot_and_is_released(admin_user, real_bot, their_real_bot, bot):
    client = client_for(admin_user)
    response = client.post("/api/real-trading/kill-switch/", {"password": "root-pass-123"})
    assert response.status_code == 200
    assert response.json() == {"paused": [real_bot.pk, their_real_bot.pk], "closed": {}}
    assert set(Bot.objects.filter(is_paused=True).values_list("pk", flat=True)) == {real_bot.pk,
                                                                                     their_real_bot.pk}
    state = client.get("/api/real-trading/").json()["kill_switch"]
    assert state["engaged_at"] and state["engaged_by"] == admin_user.public_name
    engaged = Change.objects.get(action="kill_switch_engaged")
    assert (engaged.actor, engaged.interface) == (admin_user, "api")

    wrong = client.delete("/api/real-trading/kill-switch/", {"password": "nope"})
    assert wrong.status_code == 400 and ArenaSettings.load().kill_switch_at is not None
    assert client.delete("/api/real-trading/kill-switch/", {"password": "root-pass-123"}).status_code == 204
    assert ArenaSettings.load().kill_switch_at is None
    assert Bot.objects.filter(pk__in=[real_bot.pk, their_real_bot.pk], is_paused=True).count() == 2
    again = client.delete("/api/real-trading/kill-switch/", {"password": "root-pass-123"})
    assert again.status_code == 400 and "kill_switch" in error_of(again)["fields"]


def test_the_schema_documents_the_real_routes(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for route in ("/api/wallets/{id}/verify/", "/api/bots/{id}/reconcile/", "/api/bots/{id}/reconciliations/",
                  "/api/bots/{id}/discrepancies/", "/api/bots/{id}/discrepancies/{discrepancy_id}/resolve/",
                  "/api/real-trading/", "/api/real-trading/kill-switch/"):
        assert f"  {route}:" in text, route
