"""A real bot's reconciliations in the browser: the line on its dashboard card and the
section on its page (latest run, open discrepancies with resolve forms, the last runs),
for its owner and admins only; "Reconcile now" and "Mark resolved" through the services."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from arena.models import ArenaSettings
from bots.models import Bot
from bots.services import bot_create
from tests.fakes.exchange import FakeExchange
from trading.models import Discrepancy, Reconciliation, Wallet
from trading.services import wallet_attach, wallet_create

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = "<script>alert(1)</script>"


def signed_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def real_bot(user, provider, settings):
    settings.REAL_TRADING_ENABLED = True
    return bot_create(owner=user, name="Live", prompt="p", provider=provider, mode="real")


@pytest.fixture
def wallet(user, real_bot) -> Wallet:
    """A wallet of the real bot on a loopback port nothing listens on (its exchange cannot be
    read); the arena calls a private address only when allowed."""
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(outbound_allow_private=True)
    wallet = wallet_create(owner=user, exchange="binance", api_key="test-key", api_secret="test-secret",
                           base_url="http://127.0.0.1:9")
    wallet_attach(wallet=wallet, bot=real_bot)
    return wallet


def reconciliation(bot, wallet, *, status="agreed", minutes_ago=2, error="", exchange="10000", arena="10000",
                   trigger="schedule") -> Reconciliation:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Reconciliation.objects.create(
        bot=bot, wallet=wallet, trigger=trigger, status=status, started_at=at, finished_at=at, error=error,
        exchange_balance=Decimal(exchange), ledger_balance=Decimal(arena),
        summary={"closed": [], "imported": [1], "cancelled": [], "flagged": 1, "notes": []})


def discrepancy(bot, run, *, key="k1", detail="Funding 1.5 USDT not explained", **extra) -> Discrepancy:
    return Discrepancy.objects.create(bot=bot, reconciliation=run, kind="income", key=key, symbol="BTCUSDT",
                                      detail=detail, amount=Decimal("-1.5"), created_at=run.started_at,
                                      **extra)


def section(html: str) -> str:
    found = re.search(r'<section class="card reconciliation" id="reconciliation".*?\n</section>', html,
                      flags=re.S)
    assert found, "no reconciliation section"
    return found[0]


def card(html: str, bot) -> str:
    return re.search(rf'<article[^>]*data-bot-card="{bot.pk}".*?</article>', html, flags=re.S)[0]


# --- the dashboard card's line -----------------------------------------------------------


def test_the_owners_card_says_when_it_was_last_reconciled(user, real_bot, wallet):
    client = signed_in(user)
    assert "Never reconciled" in card(client.get("/").content.decode(), real_bot)
    reconciliation(real_bot, wallet, minutes_ago=2)
    assert "Reconciled 2 min ago · agreed" in card(client.get("/").content.decode(), real_bot)
    run = reconciliation(real_bot, wallet, status="differences", minutes_ago=1)
    discrepancy(real_bot, run)
    assert "Reconciled 1 min ago · differences: 1" in card(client.get("/").content.decode(), real_bot)
    reconciliation(real_bot, wallet, status="failed", minutes_ago=0, error=f"timeout {SCRIPT}")
    line = card(client.get("/dashboard/bots/", **HX).content.decode(), real_bot)
    assert "Reconciliation failed just now: timeout &lt;script&gt;" in line and SCRIPT not in line


def test_the_card_line_is_the_owners_and_the_admins_only(user, other_user, admin_user, real_bot, wallet):
    reconciliation(real_bot, wallet)
    assert "Reconciled 2 min ago" in card(signed_in(admin_user).get("/").content.decode(), real_bot)
    assert "Reconciled" not in card(signed_in(other_user).get("/").content.decode(), real_bot)
    assert "Reconciled" not in card(Client().get("/").content.decode(), real_bot)


def test_the_cards_refresh_on_a_reconciliation_event(user, real_bot):
    html = signed_in(user).get("/").content.decode()
    cards = re.search(r'<section id="bot-cards"[^>]*>', html, flags=re.S)[0]
    assert "arena:reconciliation from:body" in cards


# --- the bot page's section ---------------------------------------------------------------


def test_the_owner_sees_the_latest_run_the_open_discrepancies_and_the_history(user, real_bot, wallet):
    for n in range(12):
        reconciliation(real_bot, wallet, minutes_ago=60 + n)
    latest = reconciliation(real_bot, wallet, status="differences", minutes_ago=3, exchange="10012.5",
                            arena="10000", trigger="api")
    shown = discrepancy(real_bot, latest, detail=f"Unknown fill {SCRIPT}")
    discrepancy(real_bot, latest, key="k2", resolved_at=timezone.now(), resolution="a transfer")
    html = section(signed_in(user).get(f"/bots/{real_bot.pk}/").content.decode())

    assert 'data-status="differences"' in html and "Differences" in html and "(api)" in html
    assert "10,012.50" in html and "10,000.00" in html and "+12.50" in html
    assert html.count("<tr data-reconciliation=") == 10, "the last 10 runs"
    assert f'<tr data-reconciliation="{latest.pk}">' in html
    assert html.count("data-discrepancy=") == 1, "open ones only"
    assert f'data-discrepancy="{shown.pk}"' in html and "Income record not explained" in html
    assert "Unknown fill &lt;script&gt;alert(1)&lt;/script&gt;" in html and SCRIPT not in html
    assert "-1.50" in html and "BTCUSDT" in html
    assert f'action="/bots/{real_bot.pk}/discrepancies/{shown.pk}/resolve/"' in html
    assert '<label for="resolution-' in html and 'data-action="reconcile"' in html
    assert 'hx-trigger="arena:reconciliation from:body' in html


def test_a_bot_never_reconciled_says_so(user, real_bot, wallet):
    html = section(signed_in(user).get(f"/bots/{real_bot.pk}/").content.decode())
    assert "Never reconciled" in html and "No open discrepancy" in html


def test_spectators_other_users_and_paper_bots_get_no_section(user, other_user, real_bot, wallet, bot):
    reconciliation(real_bot, wallet)
    ArenaSettings.load()
    ArenaSettings.objects.update(public_arena=True)
    for client in (Client(), signed_in(other_user)):
        page = client.get(f"/bots/{real_bot.pk}/")
        assert page.status_code == 200 and 'id="reconciliation"' not in page.content.decode()
    assert 'id="reconciliation"' not in signed_in(user).get(f"/bots/{bot.pk}/").content.decode()


def test_an_admin_sees_any_real_bots_section(admin_user, real_bot, wallet):
    reconciliation(real_bot, wallet)
    page = signed_in(admin_user).get(f"/bots/{real_bot.pk}/").content.decode()
    assert "Reconciled 2 min ago" in section(page)


def test_the_fragment_is_the_section_alone(user, real_bot, wallet):
    client = signed_in(user)
    response = client.get(f"/bots/{real_bot.pk}/reconciliation/", **HX)
    assert response.status_code == 200 and "<html" not in response.content.decode()
    section(response.content.decode())
    plain = client.get(f"/bots/{real_bot.pk}/reconciliation/")
    assert plain.status_code == 302 and plain.url == f"/bots/{real_bot.pk}/#reconciliation"


def test_another_users_bot_is_not_found(other_user, real_bot, wallet):
    run = reconciliation(real_bot, wallet)
    flag = discrepancy(real_bot, run)
    client = signed_in(other_user)
    assert client.get(f"/bots/{real_bot.pk}/reconciliation/", **HX).status_code == 404
    assert client.post(f"/bots/{real_bot.pk}/reconcile/").status_code == 404
    resolve = f"/bots/{real_bot.pk}/discrepancies/{flag.pk}/resolve/"
    assert client.post(resolve, {"resolution": "x"}).status_code == 404
    assert Reconciliation.objects.count() == 1
    flag.refresh_from_db()
    assert flag.resolved_at is None


def test_a_paper_bot_has_nothing_to_reconcile(user, bot):
    assert signed_in(user).post(f"/bots/{bot.pk}/reconcile/").status_code == 404


def test_anonymous_posts_go_to_sign_in(real_bot, wallet):
    response = Client().post(f"/bots/{real_bot.pk}/reconcile/")
    assert response.status_code == 302 and response.url.startswith("/login/")


# --- reconcile now -------------------------------------------------------------------------


def test_reconcile_now_runs_a_reconciliation_and_shows_its_failure(user, real_bot, wallet):
    response = signed_in(user).post(f"/bots/{real_bot.pk}/reconcile/", **HX)
    html = response.content.decode()
    run = Reconciliation.objects.get(bot=real_bot)
    assert run.trigger == "api" and run.status == "failed" and run.error
    assert response.status_code == 200 and "The reconciliation failed:" in html
    assert f'<tr data-reconciliation="{run.pk}">' in section(html)


def test_reconcile_now_against_the_exchange(user, real_bot, wallet):
    with FakeExchange() as exchange:
        Wallet.objects.filter(pk=wallet.pk).update(base_url=exchange.base_url)
        client = signed_in(user)
        response = client.post(f"/bots/{real_bot.pk}/reconcile/")
    run = Reconciliation.objects.get(bot=real_bot)
    assert run.trigger == "api" and run.status in ("agreed", "differences")
    assert run.exchange_balance is not None
    assert response.status_code == 302 and response.url == f"/bots/{real_bot.pk}/#reconciliation"
    page = client.get(response.url).content.decode()
    assert "Reconciled:" in page, "the outcome as a message"
    assert f"{run.exchange_balance:,.2f}" in section(page)


def test_reconcile_now_without_a_wallet_says_why(user, real_bot):
    html = signed_in(user).post(f"/bots/{real_bot.pk}/reconcile/", **HX).content.decode()
    assert "The bot was not reconciled:" in html and "has no wallet" in html
    assert not Reconciliation.objects.exists()


def test_reconcile_now_needs_the_csrf_token(user, real_bot, wallet):
    client = signed_in(user, enforce_csrf_checks=True)
    assert client.post(f"/bots/{real_bot.pk}/reconcile/").status_code == 403
    assert not Reconciliation.objects.exists()


# --- resolving a discrepancy -------------------------------------------------------------


def test_resolving_a_discrepancy_records_who_and_how(user, real_bot, wallet):
    flag = discrepancy(real_bot, reconciliation(real_bot, wallet, status="differences"))
    response = signed_in(user).post(f"/bots/{real_bot.pk}/discrepancies/{flag.pk}/resolve/",
                                    {"resolution": "A manual transfer"}, **HX)
    flag.refresh_from_db()
    assert flag.resolved_at is not None and flag.resolved_by == user
    assert flag.resolution == "A manual transfer"
    html = section(response.content.decode())
    assert "Resolved: income record not explained on BTCUSDT." in html and "data-discrepancy=" not in html


def test_a_blank_resolution_is_the_form_again_with_the_error(user, real_bot, wallet):
    flag = discrepancy(real_bot, reconciliation(real_bot, wallet, status="differences"))
    url = f"/bots/{real_bot.pk}/discrepancies/{flag.pk}/resolve/"
    html = section(signed_in(user).post(url, {"resolution": "   "}, **HX).content.decode())
    assert "Say how this was resolved." in html and 'aria-invalid="true"' in html
    flag.refresh_from_db()
    assert flag.resolved_at is None
    client = signed_in(user)
    plain = client.post(url, {"resolution": ""})
    assert plain.status_code == 302 and "Say how this was resolved." in client.get(plain.url).content.decode()


def test_resolving_twice_is_refused(user, real_bot, wallet):
    flag = discrepancy(real_bot, reconciliation(real_bot, wallet, status="differences"))
    url = f"/bots/{real_bot.pk}/discrepancies/{flag.pk}/resolve/"
    client = signed_in(user)
    client.post(url, {"resolution": "first"})
    html = client.post(url, {"resolution": f"second {SCRIPT}"}, **HX).content.decode()
    assert "This was already resolved on" in html
    flag.refresh_from_db()
    assert flag.resolution == "first"


def test_resolving_needs_the_csrf_token(user, real_bot, wallet):
    flag = discrepancy(real_bot, reconciliation(real_bot, wallet, status="differences"))
    client = signed_in(user, enforce_csrf_checks=True)
    resolve = f"/bots/{real_bot.pk}/discrepancies/{flag.pk}/resolve/"
    assert client.post(resolve, {"resolution": "x"}).status_code == 403
    flag.refresh_from_db()
    assert flag.resolved_at is None


def test_a_discrepancy_of_another_bot_is_not_found(user, real_bot, wallet, provider):
    twin = bot_create(owner=user, name="Twin", prompt="p", provider=provider)
    Bot.objects.filter(pk=twin.pk).update(mode=Bot.Mode.REAL)
    flag = discrepancy(real_bot, reconciliation(real_bot, wallet))
    assert signed_in(user).post(f"/bots/{twin.pk}/discrepancies/{flag.pk}/resolve/",
                                {"resolution": "x"}).status_code == 404
