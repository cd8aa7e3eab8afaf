"""Going real through ``POST /api/bots/``: the switch, the confirmation, the owner's password
and a verified wallet, the exchange's balance as the starting balance, the audit trail; and
the real-money limits on create and PATCH."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from arena.models import ArenaSettings
from bots.models import Bot
from bots.services import bot_create
from ledger.models import Account, Change
from tests.arena.api_helpers import client_for, error_of
from tests.fakes.exchange import FakeExchange
from trading.models import Wallet
from trading.services import wallet_create
from trading.services.real import wallet_verify

pytestmark = pytest.mark.django_db
PASSWORD = "alice-pass-123"  # the ``user`` fixture's


@pytest.fixture
def exchange(db):
    # The fake exchange listens on loopback, a private address the arena calls only if allowed.
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(outbound_allow_private=True)
    with FakeExchange(balance=Decimal("2500")) as ex:
        yield ex


def _wallet(owner, exchange, label="Main") -> Wallet:
    return wallet_create(owner=owner, exchange="binance", api_key=exchange.api_key,
                         api_secret=exchange.api_secret, label=label, base_url=exchange.base_url)


@pytest.fixture
def verified(user, exchange) -> Wallet:
    return wallet_verify(wallet=_wallet(user, exchange), now=timezone.now())


def _real(provider, wallet, **extra):
    return {"name": "Live", "prompt": "Go {{marketData}}", "provider": provider.pk, "mode": "real",
            "confirm_real": True, "wallet": wallet.pk if wallet else None, "password": PASSWORD, **extra}


@pytest.fixture
def real_on(settings):
    settings.REAL_TRADING_ENABLED = True


def _nothing_created():
    return not Bot.objects.filter(name="Live").exists() and not Wallet.objects.exclude(bot=None).exists()


def test_a_real_bot_starts_with_the_exchanges_balance_and_says_real_on_the_audit_trail(
        user, provider, verified, real_on):
    response = client_for(user).post("/api/bots/", _real(provider, verified))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert "password" not in body and PASSWORD not in response.content.decode()
    bot = Bot.objects.get(pk=body["id"])
    assert (bot.mode, bot.initial_balance) == ("real", Decimal("2500"))
    assert Account.objects.get(bot=bot).balance == Decimal("2500")
    verified.refresh_from_db()
    assert verified.bot_id == bot.pk
    created = Change.objects.get(object_type="bots.Bot", object_id=str(bot.pk), action="created_real")
    assert created.changes["mode"] == [None, "real"]
    assert created.changes["initial_balance"] == [None, "2500.00000000"]
    assert created.actor == user and created.interface == "api"
    wallet_changes = Change.objects.filter(object_type="trading.Wallet", object_id=str(verified.pk))
    assert wallet_changes.filter(action="attached").exists()


def test_a_wrong_password_is_refused_on_password_and_never_echoed(user, provider, verified, real_on):
    response = client_for(user).post("/api/bots/", _real(provider, verified, password="not-it-at-all"))

    assert response.status_code == 400
    error = error_of(response)
    assert error["fields"]["password"] == ["The password is not right."]
    assert "not-it-at-all" not in response.content.decode()
    assert _nothing_created()


def test_the_password_is_required_for_a_real_bot(user, provider, verified, real_on):
    payload = _real(provider, verified)
    del payload["password"]
    response = client_for(user).post("/api/bots/", payload)
    assert response.status_code == 400 and "password" in error_of(response)["fields"]
    assert _nothing_created()


def test_an_unverified_wallet_is_refused_with_its_reason(user, provider, exchange, real_on):
    wallet = _wallet(user, exchange)
    response = client_for(user).post("/api/bots/", _real(provider, wallet))
    assert response.status_code == 400
    [message] = error_of(response)["fields"]["wallet"]
    assert message.startswith("Verify wallet Main first")
    assert _nothing_created()


def test_an_exchange_account_already_trading_for_a_real_bot_is_refused(
        user, provider, exchange, verified, real_on):
    assert client_for(user).post("/api/bots/", _real(provider, verified)).status_code == 201
    second = wallet_verify(wallet=_wallet(user, exchange, label="Same keys"), now=timezone.now())
    response = client_for(user).post("/api/bots/", _real(provider, second, name="Live twice"))
    assert response.status_code == 400
    assert "already trades for the real bot 'Live'" in error_of(response)["fields"]["wallet"][0]
    assert not Bot.objects.filter(name="Live twice").exists()


def test_another_users_wallet_is_not_found(user, other_user, provider, exchange, real_on):
    theirs = wallet_verify(wallet=_wallet(other_user, exchange), now=timezone.now())
    response = client_for(user).post("/api/bots/", _real(provider, theirs))
    assert response.status_code == 400 and "wallet" in error_of(response)["fields"]
    assert _nothing_created()


def test_the_server_switch_and_the_confirmation_still_hold(user, provider, verified, settings):
    settings.REAL_TRADING_ENABLED = False
    off = client_for(user).post("/api/bots/", _real(provider, verified))
    assert off.status_code == 400 and "mode" in error_of(off)["fields"]
    settings.REAL_TRADING_ENABLED = True
    unconfirmed = client_for(user).post("/api/bots/", _real(provider, verified, confirm_real=False))
    assert unconfirmed.status_code == 400 and "confirm_real" in error_of(unconfirmed)["fields"]
    assert _nothing_created()


def test_limits_are_set_at_creation_and_changed_or_cleared_by_patch(user, provider, verified, real_on):
    client = client_for(user)
    created = client.post("/api/bots/", _real(provider, verified, max_order_notional="500",
                                              max_exposure="1500.5"))
    assert created.status_code == 201, created.json()
    bot_id = created.json()["id"]
    assert (created.json()["max_order_notional"], created.json()["max_exposure"]) == ("500.00000000",
                                                                                      "1500.50000000")
    changed = client.patch(f"/api/bots/{bot_id}/", {"max_order_notional": "250", "max_exposure": None})
    assert changed.status_code == 200
    bot = Bot.objects.get(pk=bot_id)
    assert (bot.max_order_notional, bot.max_exposure) == (Decimal("250"), None)
    change = Change.objects.filter(object_id=str(bot_id), action="updated").latest("id")
    assert change.changes["max_order_notional"] == ["500.00000000", "250.00000000"]


@pytest.mark.parametrize("value", ["0", "-5", "abc"])
def test_a_limit_must_be_a_positive_amount(user, bot, value):
    response = client_for(user).patch(f"/api/bots/{bot.pk}/", {"max_exposure": value})
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["max_exposure"]
    bot.refresh_from_db()
    assert bot.max_exposure is None


def test_a_paper_bot_takes_limits_too_and_no_password(user, provider):
    response = client_for(user).post("/api/bots/", {"name": "Paper", "prompt": "p", "provider": provider.pk,
                                                    "max_order_notional": "100"})
    assert response.status_code == 201
    assert Bot.objects.get(pk=response.json()["id"]).max_order_notional == Decimal("100")


def test_another_users_bot_cannot_be_patched(user, other_user):
    from bots.services import provider_create

    theirs = bot_create(owner=other_user, name="Rival", prompt="p",
                        provider=provider_create(owner=other_user, name="P", kind="scripted", model="m"))
    response = client_for(user).patch(f"/api/bots/{theirs.pk}/", {"max_exposure": "10"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.max_exposure is None
