"""The bot editor's real-money fields: the password a real bot asks for (never shown again),
a verified wallet, the exchange's balance as the start, and the limits on new and edit."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from arena.models import ArenaSettings
from bots.models import Bot
from ledger.models import Change
from tests.fakes.exchange import FakeExchange
from trading.models import Market, Wallet
from trading.services import wallet_create
from trading.services.real import wallet_verify

pytestmark = pytest.mark.django_db
PASSWORD = "alice-pass-123"


@pytest.fixture(autouse=True)
def _market(db):
    Market.objects.update_or_create(symbol="BTCUSDT", defaults={
        "base_asset": "BTC", "last_price": Decimal("60000"), "mark_price": Decimal("60000"),
        "updated_at": timezone.now(), "is_stale": False})


@pytest.fixture
def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def verified(user, settings) -> Wallet:
    settings.REAL_TRADING_ENABLED = True
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(outbound_allow_private=True)
    with FakeExchange(balance=Decimal("750")) as ex:
        wallet = wallet_create(owner=user, exchange="binance", api_key=ex.api_key, api_secret=ex.api_secret,
                               label="Venue", base_url=ex.base_url)
        return wallet_verify(wallet=wallet, now=timezone.now())


def form(provider, **over) -> dict:
    return {"name": "Live", "prompt": "Trade {{marketData}}", "provider": str(provider.pk), "mode": "paper",
            "symbols": ["BTCUSDT"], "is_listed": "on", **over}


def real_form(provider, wallet, **over) -> dict:
    return form(provider, **{"mode": "real", "wallet": str(wallet.pk), "confirm_real": "on",
                             "password": PASSWORD,
                             **over})


def test_the_form_asks_for_the_password_and_the_limits(signed_in, verified):
    html = signed_in.get("/bots/new/").content.decode()
    assert 'type="password" id="id_password" name="password"' in html
    assert 'name="max_order_notional"' in html and 'name="max_exposure"' in html


def test_a_wrong_password_is_refused_on_its_field_and_never_shown_again(signed_in, provider, verified):
    response = signed_in.post("/bots/new/", real_form(provider, verified, password="wrong-secret-typed"))
    assert response.status_code == 400
    assert response.context["errors"] == {"password": ["The password is not right."]}
    html = response.content.decode()
    assert "wrong-secret-typed" not in html
    assert f'<option value="{verified.pk}" selected>' in html  # the rest is kept
    assert not Bot.objects.filter(name="Live").exists()


def test_an_unverified_wallet_is_refused_with_the_reason(signed_in, user, provider, settings):
    settings.REAL_TRADING_ENABLED = True
    wallet = wallet_create(owner=user, exchange="binance", api_key="k" * 32, api_secret="s" * 32,
                           label="Main")
    response = signed_in.post("/bots/new/", real_form(provider, wallet))
    assert response.status_code == 400
    assert response.context["errors"]["wallet"][0].startswith("Verify wallet Main first")
    assert not Bot.objects.filter(name="Live").exists()


def test_a_real_bot_starts_with_the_exchanges_balance(signed_in, user, provider, verified):
    response = signed_in.post("/bots/new/", real_form(provider, verified, max_exposure="400"))
    assert response.status_code == 302, response.context and response.context["errors"]
    bot = Bot.objects.get(name="Live")
    assert (bot.mode, bot.initial_balance, bot.max_exposure) == ("real", Decimal("750"), Decimal("400"))
    verified.refresh_from_db()
    assert verified.bot_id == bot.pk
    change = Change.objects.get(object_type="bots.Bot", object_id=str(bot.pk), action="created_real")
    assert (change.actor, change.interface) == (user, "web")


def test_limits_are_edited_and_cleared(signed_in, bot):
    url = f"/bots/{bot.pk}/edit/"
    refused = signed_in.post(url, form(bot.provider, name=bot.name, max_order_notional="-1"))
    assert refused.status_code == 400 and "max_order_notional" in refused.context["errors"]
    saved = signed_in.post(url, form(bot.provider, name=bot.name, max_order_notional="125.5"))
    assert saved.status_code == 302
    bot.refresh_from_db()
    assert bot.max_order_notional == Decimal("125.5")
    assert 'value="125.5"' in signed_in.get(url).content.decode()
    assert signed_in.post(url, form(bot.provider, name=bot.name, max_order_notional="")).status_code == 302
    bot.refresh_from_db()
    assert bot.max_order_notional is None
