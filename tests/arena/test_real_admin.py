"""The admin's real-money pages: reconciliations, discrepancies (resolved with a word on
how), exchange income, the bot admin's real bot (wallet and password) and limits, and its
"Reconcile with the exchange now" action against the fake exchange."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from arena.models import ArenaSettings
from bots.models import Bot
from bots.services import bot_create
from ledger.models import Change
from tests.fakes.exchange import FakeExchange
from trading.models import Discrepancy, ExchangeIncome, Reconciliation, Wallet
from trading.services import wallet_attach, wallet_create
from trading.services.real import wallet_verify

pytestmark = pytest.mark.django_db
ROOT_PASSWORD = "root-pass-123"


@pytest.fixture(autouse=True)
def _real_trading_on(settings):
    settings.REAL_TRADING_ENABLED = True


@pytest.fixture
def su(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def exchange(db):
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(outbound_allow_private=True)
    with FakeExchange() as ex:
        yield ex


def _verified(owner, exchange) -> Wallet:
    wallet = wallet_create(owner=owner, exchange="binance", api_key=exchange.api_key,
                           api_secret=exchange.api_secret, label="Venue", base_url=exchange.base_url)
    return wallet_verify(wallet=wallet, now=timezone.now())


@pytest.fixture
def records(user, provider):
    bot = bot_create(owner=user, name="Live", prompt="p", provider=provider, mode="real")
    wallet = wallet_create(owner=user, exchange="binance", api_key="k", api_secret="s", label="W")
    wallet_attach(wallet=wallet, bot=bot)
    now = timezone.now()
    run = Reconciliation.objects.create(bot=bot, wallet=wallet, trigger="schedule", status="differences",
                                        started_at=now, finished_at=now, summary={"flagged": [1]})
    flag = Discrepancy.objects.create(bot=bot, reconciliation=run, kind="income", key="income:1",
                                      detail="A transfer nobody made here", amount=Decimal("5"),
                                      created_at=now)
    income = ExchangeIncome.objects.create(wallet=wallet, bot=bot, tran_id="1", income_type="TRANSFER",
                                           amount=Decimal("5"), asset="USDT", time=now, discrepancy=flag)
    return run, flag, income


def _url(model: str, view: str, *args) -> str:
    return reverse(f"admin:trading_{model}_{view}", args=args)


def test_the_records_are_listed_and_shown_read_only(su, records):
    run, flag, income = records
    for model, row in (("reconciliation", run), ("discrepancy", flag), ("exchangeincome", income)):
        assert su.get(_url(model, "changelist")).status_code == 200, model
        assert su.get(_url(model, "change", row.pk)).status_code == 200, model
        assert su.get(_url(model, "add")).status_code == 403, model
        assert su.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403, model
    assert su.post(_url("reconciliation", "change", run.pk), {"status": "agreed"}).status_code == 403
    run.refresh_from_db()
    assert run.status == "differences"


def test_a_discrepancy_is_resolved_with_a_word_on_how(su, admin_user, records):
    _, flag, _ = records
    url = _url("discrepancy", "change", flag.pk)
    blank = su.post(url, {"resolution": "   "})
    assert blank.status_code == 200 and "Say how this was resolved" in blank.content.decode()
    flag.refresh_from_db()
    assert flag.resolved_at is None

    assert su.post(url, {"resolution": "A transfer from the owner's spot wallet."}).status_code == 302
    flag.refresh_from_db()
    assert (flag.resolved_by, flag.resolution) == (admin_user, "A transfer from the owner's spot wallet.")
    assert flag.resolved_at is not None
    # Resolved, it is a record: shown, never changed again.
    assert su.post(url, {"resolution": "changed my mind"}).status_code == 403
    flag.refresh_from_db()
    assert flag.resolution == "A transfer from the owner's spot wallet."


def test_the_bot_admin_reconciles_real_bots_on_the_exchange(su, user, provider, exchange, bot):
    wallet = _verified(user, exchange)
    real = bot_create(owner=user, name="Live", prompt="p", provider=provider, mode="real",
                      initial_balance=wallet.verified_balance)
    wallet_attach(wallet=wallet, bot=real)
    response = su.post(reverse("admin:bots_bot_changelist"),
                       {"action": "reconcile", "_selected_action": [real.pk, bot.pk]}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Skipped 1 paper bot(s): only real bots are reconciled." in text
    run = Reconciliation.objects.get(bot=real)
    assert (run.trigger, run.status) == ("admin", "agreed")
    assert not Reconciliation.objects.filter(bot=bot).exists()


def _add_form(owner, provider, **extra):
    return {"owner": owner.pk, "name": "Live", "provider": provider.pk, "mode": "real", "is_active": "on",
            "prompt": "Go {{marketData}}", "symbols": "[]", **extra}


def test_the_bot_admin_makes_a_real_bot_with_a_verified_wallet_and_the_admins_password(
        su, admin_user, user, provider, exchange):
    wallet = _verified(user, exchange)
    url = reverse("admin:bots_bot_add")
    assert su.get(url).status_code == 200

    wrong = su.post(url, _add_form(user, provider, wallet=wallet.pk, password="alice-pass-123"))
    assert wrong.status_code == 200  # the owner's password is not the admin's
    assert wrong.context["adminform"].form.errors["password"] == ["The password is not right."]
    missing = su.post(url, _add_form(user, provider, password=ROOT_PASSWORD))
    assert "wallet" in missing.context["adminform"].form.errors
    assert not Bot.objects.filter(name="Live").exists()

    done = su.post(url, _add_form(user, provider, wallet=wallet.pk, password=ROOT_PASSWORD,
                                  max_order_notional="300"))
    assert done.status_code == 302, done.context["adminform"].form.errors
    bot = Bot.objects.get(name="Live")
    assert (bot.mode, bot.initial_balance) == ("real", Decimal("10000"))
    assert bot.max_order_notional == Decimal("300")
    wallet.refresh_from_db()
    assert wallet.bot_id == bot.pk
    change = Change.objects.get(object_id=str(bot.pk), object_type="bots.Bot", action="created_real")
    assert (change.actor, change.interface) == (admin_user, "admin")


def test_the_bot_admin_edits_the_limits(su, bot):
    url = reverse("admin:bots_bot_change", args=[bot.pk])
    form = su.get(url).context["adminform"].form
    assert "max_exposure" in form.fields and form.fields["max_exposure"].help_text
    data = {"name": bot.name, "provider": bot.provider_id, "is_active": "on", "prompt": bot.prompt,
            "symbols": "[]", "is_listed": "on"}
    refused = su.post(url, {**data, "max_exposure": "0"})
    assert refused.status_code == 200 and "max_exposure" in refused.context["adminform"].form.errors
    assert su.post(url, {**data, "max_exposure": "2000"}).status_code == 302
    bot.refresh_from_db()
    assert bot.max_exposure == Decimal("2000")
