"""The Django admin as an audit tool: records are read-only (refused with 403,
not only hidden), linked to each other, exportable as exact CSV; keys are
write-only and never reach a page, an export or the database as plaintext."""
from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection, transaction
from django.db.models import Model
from django.forms import CheckboxInput, FileInput
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.views.debug import SafeExceptionReporterFilter

from arena.accounts import token_create
from arena.models import ArenaSettings, BotTurn, Turn
from bots.models import Bot, Decision, LearningSummary, LLMProvider
from bots.services import bot_create, provider_create
from ledger.admin_tools import csv_cell, decimal_display
from ledger.events import event_append
from ledger.models import Account, Entry, Snapshot
from ledger.services import entry_post
from trading.models import (
    Candle,
    Cooldown,
    Discrepancy,
    ExchangeIncome,
    Market,
    Position,
    Reconciliation,
    Trade,
    Wallet,
)

pytestmark = pytest.mark.django_db

PROVIDER_KEY = "sk-test-PLAINTEXT-0123456789abcdef"  # the openai_provider fixture's key
WALLET_KEY = "wallet-key-PLAINTEXT-4f3e2d1c0b"
WALLET_SECRET = "wallet-secret-PLAINTEXT-9a8b7c6d5e"
PLAINTEXTS = (PROVIDER_KEY, WALLET_KEY, WALLET_SECRET)
READ_ONLY = (
    "trading.trade", "trading.position", "bots.decision", "ledger.entry", "ledger.snapshot",
    "arena.turn", "arena.botturn", "trading.candle", "ledger.account", "trading.market", "trading.cooldown",
)
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class World:
    bot: Bot
    turn: Turn
    decision: Decision
    position: Position
    trade: Trade
    entry: Entry
    snapshot: Snapshot
    market: Market
    wallet: Wallet
    cooldown: Cooldown
    bot_turn: BotTurn
    candle: Candle

    def row(self, label: str) -> Model:
        model = apps.get_model(label)
        if model is Account:
            return self.bot.account
        return next(v for v in vars(self).values() if isinstance(v, model))


@pytest.fixture
def su(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def world(user, bot, openai_provider) -> World:
    turn = Turn.objects.create(
        started_at=T0, finished_at=T0 + timedelta(seconds=9), status="finished",
        market_snapshot={"BTCUSDT": {"price": "65000.5"}},
    )
    decision = Decision.objects.create(
        bot=bot, turn=turn, created_at=T0, prompt="Trade BTC", raw_response='{"actions": []}',
        actions=[{"action": "open", "symbol": "BTCUSDT"}], notes=["opened"], success=True,
        model="momentum", tokens_in=100, tokens_out=20, latency_ms=40, cost=Decimal("0.00012"),
    )
    bot_turn = BotTurn.objects.create(turn=turn, bot=bot, status="finished", decision=decision, started_at=T0,
                                      finished_at=T0 + timedelta(seconds=9))
    position = Position.objects.create(
        bot=bot, symbol="BTCUSDT", side="LONG", margin=Decimal("100"), leverage=10,
        quantity=Decimal("0.0153"), entry_price=Decimal("65000.5"),
        liquidation_price=Decimal("58825.45"), stop_loss=Decimal("63000"),
        take_profit=Decimal("70000"), opening_decision=decision, opened_at=T0,
    )
    trade = Trade.objects.create(
        bot=bot, position=position, decision=decision, kind="OPEN", side="LONG",
        symbol="BTCUSDT", price=Decimal("65000.5"), quantity=Decimal("0.0153"),
        margin=Decimal("100"), leverage=10, fee=Decimal("0.49725383"), executed_at=T0,
    )
    entry = entry_post(
        account=bot.account, kind="margin_lock", amount=Decimal("-100"), position=position,
        trade=trade, memo="open BTCUSDT",
    )
    entry_post(account=bot.account, kind="fee", amount=Decimal("-0.49725383"), trade=trade)
    snapshot = Snapshot.objects.create(
        bot=bot, taken_at=T0, balance=Decimal("9899.50274617"), margin=Decimal("100"),
        total_value=Decimal("9999.50274617"), trade_count=1, win_rate=Decimal("0.5"),
    )
    with transaction.atomic():
        event_append("bot_turn", {"turn": turn.pk, "bot": bot.pk, "bot_name": bot.name,
                                  "status": "finished", "reason": "", "decision": decision.pk},
                     owner_id=user.pk, bot_id=bot.pk, now=T0)
    market = Market.objects.create(
        symbol="BTCUSDT", base_asset="BTC", last_price=Decimal("65000.5"),
        mark_price=Decimal("65001"), funding_rate=Decimal("0.0001"), updated_at=T0,
    )
    wallet = Wallet(owner=user, bot=bot, exchange="binance_testnet", label="Alice testnet")
    wallet.api_key = WALLET_KEY
    wallet.api_secret = WALLET_SECRET
    wallet.save()
    cooldown = Cooldown.objects.create(bot=bot, symbol="ETHUSDT", until=T0 + timedelta(minutes=30))
    run = Reconciliation.objects.create(bot=bot, wallet=wallet, trigger="schedule", status="differences",
                                        started_at=T0, finished_at=T0, exchange_balance=Decimal("9999.5"),
                                        ledger_balance=Decimal("9999.50274617"))
    flag = Discrepancy.objects.create(bot=bot, reconciliation=run, kind="balance", key=f"balance:{run.pk}",
                                      detail="The exchange reports 9999.5 USDT",
                                      amount=Decimal("-0.00274617"),
                                      created_at=T0)
    ExchangeIncome.objects.create(wallet=wallet, bot=bot, tran_id="77", income_type="COMMISSION",
                                  symbol="BTCUSDT", amount=Decimal("-0.49725383"), asset="USDT", time=T0,
                                  exchange_trade_id="5", trade=trade, discrepancy=flag)
    token_create(user=user, name="backtest script")
    LearningSummary.objects.create(
        bot=bot, summary="BTC longs with a 2% stop worked.", covers_from=T0, covers_to=T0,
        first_decision=decision, last_decision=decision, decisions_count=1, token_count=250,
        model="momentum", cost=Decimal("0"),
    )
    candle = Candle.objects.create(
        symbol="BTCUSDT", interval="5m", open_time=T0, open=Decimal("65000"), high=Decimal("65100"),
        low=Decimal("64900"), close=Decimal("65050"), volume=Decimal("12.5"), fetched_at=T0,
    )
    return World(bot, turn, decision, position, trade, entry, snapshot, market, wallet, cooldown, bot_turn,
                 candle)


def _url(label: str, view: str, *args: object) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def _label(obj_or_model: Any) -> str:
    return obj_or_model._meta.label_lower


def _form_data(response) -> dict[str, Any]:
    """The POST a browser would send for the admin form in ``response``, unchanged."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, FileInput):
            continue  # a browser sends no file unless one is chosen
        if isinstance(field.widget, CheckboxInput):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    return data


def _key_status(html: str, field: str) -> str:
    """The status shown in the column or row of ``field``: "set" or "not set"."""
    start = html.index(f"field-{field}")
    text = re.sub(r"<[^>]+>", " ", html[start:start + 800])
    return re.search(r"\b(not set|set)\b", text).group(1)


def _assert_no_plaintext(content: bytes, *secrets: str) -> None:
    for secret in secrets or PLAINTEXTS:
        assert secret.encode() not in content


def _export(client, label: str, *pks: int):
    return client.post(
        _url(label, "changelist"), {"action": "export_as_csv", "_selected_action": pks}
    )


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# ---------------------------------------------------------------- every page


def test_every_model_is_registered_and_its_pages_render(su, world, admin_user):
    ArenaSettings.load()
    for app_label in ("arena", "bots", "trading", "ledger"):
        for model in apps.get_app_config(app_label).get_models():
            label = _label(model)
            assert admin.site.is_registered(model), label
            obj = model._default_manager.order_by("pk").first()
            assert obj is not None, label
            pages = [
                _url(label, "changelist"), _url(label, "change", obj.pk),
                _url(label, "history", obj.pk),
            ]
            for url in pages:
                response = su.get(url, follow=True)
                assert response.status_code == 200, url
                _assert_no_plaintext(response.content)


def test_non_staff_user_is_sent_to_the_login_page(client, user, world):
    client.force_login(user)
    for url in ("/admin/", _url("trading.trade", "changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


# ---------------------------------------------------------------- read-only records


@pytest.mark.parametrize("label", READ_ONLY)
def test_read_only_add_is_refused(su, world, label):
    model = apps.get_model(label)
    before = model._default_manager.count()
    assert su.get(_url(label, "add")).status_code == 403
    row = world.row(label)
    data = {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields
            if not f.primary_key and getattr(row, f.attname) is not None}
    assert su.post(_url(label, "add"), data).status_code == 403
    assert model._default_manager.count() == before


@pytest.mark.parametrize("label", READ_ONLY)
def test_read_only_change_is_viewable_but_a_post_is_refused(su, world, label):
    model = apps.get_model(label)
    pk = world.row(label).pk
    stored = model._default_manager.filter(pk=pk).values().get()
    page = su.get(_url(label, "change", pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    tampered = {
        "symbol": "ETHUSDT", "price": "1", "amount": "1", "balance": "1", "status": "failed",
        "memo": "tampered", "success": "", "total_value": "1", "last_price": "1",
    }
    assert su.post(_url(label, "change", pk), tampered).status_code == 403
    assert model._default_manager.filter(pk=pk).values().get() == stored


@pytest.mark.parametrize("label", READ_ONLY)
def test_read_only_delete_is_refused(su, world, label):
    model = apps.get_model(label)
    pk = world.row(label).pk
    assert su.get(_url(label, "delete", pk)).status_code == 403
    assert su.post(_url(label, "delete", pk), {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=pk).exists()


@pytest.mark.parametrize("label", READ_ONLY)
def test_bulk_delete_is_not_offered_and_refused(su, world, label):
    model = apps.get_model(label)
    pk = world.row(label).pk
    page = su.get(_url(label, "changelist"))
    choices = [name for name, _ in page.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in choices
    assert "export_as_csv" in choices
    response = su.post(
        _url(label, "changelist"),
        {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
    )
    assert response.status_code == 302  # "No action selected": back to the list
    assert model._default_manager.filter(pk=pk).exists()


def _trades(bots: list[Bot], count: int) -> None:
    """``count`` closed positions, each with a decision and its OPEN trade."""
    for i in range(count):
        bot = bots[i % len(bots)]
        decision = Decision.objects.create(bot=bot, success=True)
        position = Position.objects.create(
            bot=bot, symbol="ETHUSDT", side="SHORT", status="closed", margin=Decimal("50"),
            leverage=5, quantity=Decimal("0.1"), entry_price=Decimal("2500"),
            exit_price=Decimal("2400"), closed_at=timezone.now(), close_reason="decision",
            opening_decision=decision,
        )
        Trade.objects.create(
            bot=bot, position=position, decision=decision, kind="OPEN", side="SHORT",
            symbol="ETHUSDT", price=Decimal("2500"), quantity=Decimal("0.1"),
        )
        entry_post(account=bot.account, kind="adjustment", amount=Decimal("1"))


def test_changelists_cost_the_same_queries_for_3_rows_as_for_30(
    su, user, other_user, provider, django_assert_max_num_queries
):
    theirs = provider_create(owner=other_user, name="S", kind="scripted", model="momentum")
    bots = [
        bot_create(owner=user, name="A", prompt="p", provider=provider),
        bot_create(owner=other_user, name="B", prompt="p", provider=theirs),
        bot_create(owner=user, name="C", prompt="p", provider=provider),
    ]
    urls = [_url("trading.trade", "changelist"), _url("ledger.entry", "changelist"),
            _url("trading.position", "changelist"), _url("bots.decision", "changelist"),
            _url("bots.bot", "changelist")]
    _trades(bots, 3)
    su.get(urls[0])  # the session and user lookups are the same on every page
    few = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert su.get(url).status_code == 200
        few[url] = len(queries)
    _trades(bots, 27)
    for i in range(27):
        bot_create(owner=other_user, name=f"More {i}", prompt="p", provider=theirs)
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = su.get(url)
        assert len(response.context["cl"].result_list) >= 30
        assert len(queries) == few[url], url
    with django_assert_max_num_queries(15):
        response = su.get(urls[0])
    assert len(response.context["cl"].result_list) == 30


# ---------------------------------------------------------------- links


def _hrefs(response) -> set[str]:
    return {h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', response.content.decode())}


def test_records_link_decision_trades_position_and_entries(su, world):
    w = world
    bot_url = _url("bots.bot", "change", w.bot.pk)
    trade_url = _url("trading.trade", "change", w.trade.pk)
    position_url = _url("trading.position", "change", w.position.pk)
    decision_url = _url("bots.decision", "change", w.decision.pk)
    entry_url = _url("ledger.entry", "change", w.entry.pk)
    entries_of_trade = f"{_url('ledger.entry', 'changelist')}?trade__id__exact={w.trade.pk}"
    entries_of_position = f"{_url('ledger.entry', 'changelist')}?position__id__exact={w.position.pk}"
    trades_of_decision = f"{_url('trading.trade', 'changelist')}?decision__id__exact={w.decision.pk}"
    expected = {
        decision_url: {bot_url, trade_url, position_url, trades_of_decision,
                       _url("arena.turn", "change", w.turn.pk)},
        trade_url: {bot_url, decision_url, position_url, entry_url, entries_of_trade},
        position_url: {bot_url, decision_url, trade_url, entry_url, entries_of_position},
        entry_url: {bot_url, trade_url, position_url,
                    _url("ledger.account", "change", w.bot.account.pk)},
        _url("ledger.account", "change", w.bot.account.pk): {
            bot_url, f"{_url('ledger.entry', 'changelist')}?account__id__exact={w.bot.account.pk}"},
        _url("ledger.snapshot", "change", w.snapshot.pk): {bot_url},
        _url("trading.cooldown", "change", w.cooldown.pk): {bot_url},
        _url("arena.turn", "change", w.turn.pk): {
            f"{_url('bots.decision', 'changelist')}?turn__id__exact={w.turn.pk}"},
    }
    for page, links in expected.items():
        assert links <= _hrefs(su.get(page)), page
    # The filtered lists behind the links are allowed lookups and hold the right rows.
    lists = ((entries_of_trade, 2), (entries_of_position, 1), (trades_of_decision, 1),
             (f"{_url('trading.position', 'changelist')}?opening_decision__id__exact={w.decision.pk}", 1),
             (f"{_url('ledger.entry', 'changelist')}?account__id__exact={w.bot.account.pk}", 3))
    for url, count in lists:
        response = su.get(url)
        assert response.status_code == 200, url
        assert response.context["cl"].result_count == count, url


def test_bot_page_links_its_records(su, world):
    hrefs = _hrefs(su.get(_url("bots.bot", "change", world.bot.pk)))
    for label in ("trading.trade", "trading.position", "bots.decision", "ledger.snapshot"):
        url = f"{_url(label, 'changelist')}?bot__id__exact={world.bot.pk}"
        assert url in hrefs
        assert su.get(url).context["cl"].result_count == 1, label


def test_linked_names_are_escaped(su, world):
    Bot.objects.filter(pk=world.bot.pk).update(name="<script>alert(1)</script>")
    content = su.get(_url("trading.trade", "changelist")).content
    assert b"<script>alert(1)</script>" not in content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in content


# ---------------------------------------------------------------- CSV export


def test_trade_export_has_the_columns_and_exact_values_of_the_selected_rows(su, world):
    w = world
    close = Trade.objects.create(
        bot=w.bot, position=w.position, decision=w.decision, kind="CLOSE", side="LONG",
        symbol="BTCUSDT", price=Decimal("64000.25"), quantity=Decimal("0.0153"),
        fee=Decimal("0"), pnl=Decimal("-15.79604617"), reason="stop_loss", executed_at=T0,
    )
    unselected = Trade.objects.create(
        bot=w.bot, kind="CLOSE", side="SHORT", symbol="ETHUSDT", price=Decimal("1"),
        quantity=Decimal("1"),
    )
    response = _export(su, "trading.trade", w.trade.pk, close.pk)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert re.search(r'filename="trading_trade_\d{8}T\d{6}Z\.csv"', response["Content-Disposition"])
    rows = _csv(response)
    assert list(rows[0]) == [f.attname for f in Trade._meta.concrete_fields]
    # In the list's order: newest first, and the later id first within the same moment.
    assert [int(r["id"]) for r in rows] == [close.pk, w.trade.pk]
    assert unselected.pk not in {int(r["id"]) for r in rows}
    closed, opened = rows
    assert Decimal(opened["price"]) == Decimal("65000.5")
    assert Decimal(opened["fee"]) == Decimal("0.49725383")
    assert opened["pnl"] == ""
    assert closed["fee"] == "0.00000000"  # not "0E-8"
    assert closed["pnl"] == "-15.79604617"  # a number, not defused as a formula
    assert closed["reason"] == "stop_loss"
    assert opened["executed_at"] == T0.isoformat()
    assert opened["position_id"] == str(w.position.pk)


@pytest.mark.parametrize("label", [*READ_ONLY, "bots.bot", "bots.llmprovider", "trading.wallet"])
def test_every_export_streams_its_rows(su, world, label):
    row = world.row(label) if label in READ_ONLY else apps.get_model(label).objects.first()
    rows = _csv(_export(su, label, row.pk))
    assert [r["id"] for r in rows] == [str(row.pk)]


@pytest.mark.parametrize("label", ["bots.llmprovider", "trading.wallet"])
def test_exports_never_carry_secrets(su, world, openai_provider, label):
    row = openai_provider if label == "bots.llmprovider" else world.wallet
    response = _export(su, label, row.pk)
    body = b"".join(response.streaming_content)
    header = body.splitlines()[0].decode()
    assert "_encrypted" not in header
    ciphertexts = [getattr(row, f.attname) for f in row._meta.concrete_fields
                   if f.name.endswith("_encrypted")]
    assert ciphertexts and all(ciphertexts)
    for secret in [*PLAINTEXTS, *ciphertexts]:
        assert secret.encode() not in body
    assert str(row).split(" ")[0].encode() in body  # the row itself is there


def test_csv_cells_are_exact_and_defuse_spreadsheet_formulas():
    assert csv_cell(Decimal("0E-8")) == "0.00000000"
    assert csv_cell(Decimal("-1.50")) == "-1.50"
    assert csv_cell(Decimal("1E+3")) == "1000"
    assert csv_cell(T0) == "2025-03-01T12:00:00+00:00"
    assert csv_cell(None) == ""
    assert csv_cell(True) == "true"
    assert csv_cell(["a", 1]) == '["a", 1]'
    assert csv_cell('=HYPERLINK("http://evil")') == "'=HYPERLINK(\"http://evil\")"
    assert csv_cell("-2+3") == "'-2+3"


# ---------------------------------------------------------------- write-only keys


def test_key_pages_never_show_the_plaintext(su, world, openai_provider):
    pages = {
        _url("bots.llmprovider", "changelist"): "api_key_status",
        _url("bots.llmprovider", "change", openai_provider.pk): "api_key_status",
        _url("bots.llmprovider", "add"): None,
        _url("bots.llmprovider", "history", openai_provider.pk): None,
        _url("bots.llmprovider", "delete", openai_provider.pk): None,
        _url("trading.wallet", "changelist"): "api_secret_status",
        _url("trading.wallet", "change", world.wallet.pk): "api_secret_status",
        _url("trading.wallet", "add"): None,
        _url("trading.wallet", "history", world.wallet.pk): None,
        _url("bots.bot", "add"): None,
        _url("bots.bot", "change", world.bot.pk): None,
    }
    for url, status_field in pages.items():
        response = su.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        _assert_no_plaintext(response.content)
        assert "_encrypted" not in html, url
        for field in re.findall(r'<input[^>]*type="password"[^>]*>', html):
            assert "value=" not in field, url
        if status_field:
            assert _key_status(html, status_field) == "set", url


def _post_provider(su, provider: LLMProvider, **changes: str):
    url = _url("bots.llmprovider", "change", provider.pk)
    data = {**_form_data(su.get(url)), **changes}
    return su.post(url, data)


def test_provider_key_blank_keeps_new_replaces_clear_removes(su, openai_provider):
    provider = openai_provider
    LLMProvider.objects.filter(pk=provider.pk).update(key_needs_reentry=True)
    stored = LLMProvider.objects.get(pk=provider.pk).api_key_encrypted

    assert _post_provider(su, provider, model="gpt-4o").status_code == 302
    provider.refresh_from_db()
    assert (provider.model, provider.api_key_encrypted) == ("gpt-4o", stored)
    assert provider.api_key == PROVIDER_KEY
    assert provider.key_needs_reentry

    replaced = _post_provider(su, provider, api_key="sk-replaced-PLAINTEXT-777")
    assert replaced.status_code == 302
    # An error report of this request would mask the key.
    reported = SafeExceptionReporterFilter().get_post_parameters(replaced.wsgi_request)
    assert reported["api_key"] != "sk-replaced-PLAINTEXT-777"
    provider.refresh_from_db()
    assert provider.api_key == "sk-replaced-PLAINTEXT-777"
    assert "PLAINTEXT" not in provider.api_key_encrypted
    assert not provider.key_needs_reentry

    refused = _post_provider(su, provider, api_key="sk-other", clear_api_key="on")
    assert refused.status_code == 200 and refused.context["adminform"].form.errors
    assert b"sk-other" not in refused.content
    provider.refresh_from_db()
    assert provider.api_key == "sk-replaced-PLAINTEXT-777"

    assert _post_provider(su, provider, clear_api_key="on").status_code == 302
    provider.refresh_from_db()
    assert (provider.api_key, provider.api_key_encrypted) == ("", "")
    page = su.get(_url("bots.llmprovider", "change", provider.pk)).content.decode()
    assert _key_status(page, "api_key_status") == "not set"


def test_wallet_secrets_are_write_only_and_both_clear_the_reentry_flag(su, world):
    wallet = world.wallet
    Wallet.objects.filter(pk=wallet.pk).update(key_needs_reentry=True)
    url = _url("trading.wallet", "change", wallet.pk)
    data = _form_data(su.get(url))
    assert "api_key" not in data and "api_secret" not in data

    assert su.post(url, {**data, "api_key": "new-key-PLAINTEXT"}).status_code == 302
    wallet.refresh_from_db()
    assert (wallet.api_key, wallet.api_secret) == ("new-key-PLAINTEXT", WALLET_SECRET)
    assert wallet.key_needs_reentry  # the secret was not entered again

    both = {**data, "api_key": "k2-PLAINTEXT", "api_secret": "s2-PLAINTEXT"}
    assert su.post(url, both).status_code == 302
    wallet.refresh_from_db()
    assert (wallet.api_key, wallet.api_secret) == ("k2-PLAINTEXT", "s2-PLAINTEXT")
    assert not wallet.key_needs_reentry

    assert su.post(url, {**data, "clear_api_secret": "on"}).status_code == 302
    wallet.refresh_from_db()
    assert (wallet.api_key, wallet.api_secret_encrypted) == ("k2-PLAINTEXT", "")


def _cells(value: Any) -> str | bytes:
    if isinstance(value, memoryview):  # PostgreSQL bytea
        return bytes(value)
    return value if isinstance(value, (str, bytes)) else str(value)


def test_no_table_holds_a_plaintext_key(su, world, admin_user):
    # Keys also go through the admin, so its log and sessions are searched too.
    added = "sk-added-PLAINTEXT-via-admin-55"
    page = su.get(_url("bots.llmprovider", "add"))
    data = {**_form_data(page), "owner": admin_user.pk, "name": "Added in admin",
            "kind": "openai", "base_url": "https://example.com/v1", "model": "m",
            "api_key": added}
    assert su.post(_url("bots.llmprovider", "add"), data).status_code == 302
    assert LLMProvider.objects.get(name="Added in admin").api_key == added

    found_name = False
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in map(_cells, row):
                    needle = value if isinstance(value, str) else value.decode("latin-1")
                    for secret in (*PLAINTEXTS, added):
                        assert secret not in needle, table
                    found_name = found_name or "Added in admin" in needle
    assert found_name  # the scan does read the provider rows


_PROBE = """
import os
from django.contrib.auth import get_user_model
from django.test import Client
from bots.models import LLMProvider
from bots.services import provider_create
from trading.models import Wallet

root = get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123")
provider_create(owner=root, name="ProbeByService", kind="openai", model="m",
                base_url="https://example.com/v1", api_key=os.environ["PROBE_KEY_1"])
client = Client()
client.force_login(root)
response = client.post("/admin/bots/llmprovider/add/", {
    "owner": root.pk, "name": "ProbeByAdmin", "kind": "openai", "model": "m",
    "base_url": "https://example.com/v1", "api_key": os.environ["PROBE_KEY_2"],
    "timeout_seconds": 120, "max_retries": 3, "options": "{}",
    "input_price_per_mtok": "0", "output_price_per_mtok": "0", "is_active": "on",
})
assert response.status_code == 302, response.content[:2000]
assert LLMProvider.objects.get(name="ProbeByAdmin").api_key == os.environ["PROBE_KEY_2"]
wallet = Wallet(owner=root, label="ProbeWallet")
wallet.api_key = os.environ["PROBE_KEY_3"]
wallet.api_secret = os.environ["PROBE_KEY_4"]
wallet.save()
"""


def test_sqlite_file_never_holds_a_plaintext_key(tmp_path):
    """The bytes on disk, main file and WAL, of an arena that stored keys
    through the service and the admin form."""
    db = tmp_path / "raw.sqlite3"
    keys = {f"PROBE_KEY_{i}": f"probe-PLAINTEXT-{i}-{os.urandom(6).hex()}" for i in range(1, 5)}
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ENCRYPTION_KEY"}},
        **keys,
        "DJANGO_SETTINGS_MODULE": "arena.settings", "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{db}", "ARENA_VAR_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "testserver",
    }
    for args in (["migrate", "--noinput"], ["shell", "-c", _PROBE]):
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=300, check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    raw = b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())
    for name in (b"ProbeByService", b"ProbeByAdmin", b"ProbeWallet"):
        assert name in raw  # the rows are in these bytes, so the search can fail
    for key in keys.values():
        assert key.encode() not in raw


# ---------------------------------------------------------------- bots


def _bot_add_data(su, owner, provider, /, **changes: Any) -> dict[str, Any]:
    data = {**_form_data(su.get(_url("bots.bot", "add"))), "owner": owner.pk,
            "name": "Added", "provider": provider.pk, "prompt": "Trade well", "symbols": "[]"}
    data.update(changes)
    return data


def test_bot_added_in_admin_gets_its_funded_account(su, user, provider):
    data = _bot_add_data(su, user, provider, initial_balance="2500.5")
    assert su.post(_url("bots.bot", "add"), data).status_code == 302
    bot = Bot.objects.get(name="Added")
    assert bot.account.balance == Decimal("2500.5")
    assert list(bot.account.entries.values_list("kind", "amount")) == [
        ("deposit", Decimal("2500.5"))
    ]

    data = _bot_add_data(su, user, provider, name="Defaulted", initial_balance="")
    assert su.post(_url("bots.bot", "add"), data).status_code == 302
    bot = Bot.objects.get(name="Defaulted")
    assert bot.initial_balance == bot.account.balance == ArenaSettings.load().paper_initial_balance



@pytest.mark.parametrize("amount", ["1e20", "NaN", "Infinity", "-5", "0", "12.123456789", "lots"])
def test_bot_add_refuses_an_absurd_initial_balance_with_a_message(su, user, provider, amount):
    response = su.post(_url("bots.bot", "add"), _bot_add_data(su, user, provider, initial_balance=amount))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["initial_balance"]
    assert errors and all(len(message) > 10 for message in errors)
    assert not Bot.objects.filter(name="Added").exists()
    assert not Account.objects.filter(bot__name="Added").exists()


def test_bot_add_refuses_a_strangers_provider_and_real_mode(su, user, other_user, provider):
    theirs = provider_create(owner=other_user, name="Theirs", kind="scripted", model="x")
    for changes, field in (({"provider": theirs.pk}, "provider"), ({"mode": "real"}, "mode")):
        response = su.post(_url("bots.bot", "add"), _bot_add_data(su, user, provider, **changes))
        assert response.status_code == 200
        assert field in response.context["adminform"].form.errors
    assert not Bot.objects.filter(name="Added").exists()
    assert not Account.objects.filter(bot__name="Added").exists()


def test_bot_edit_offers_only_the_owners_providers_and_keeps_money_fixed(
    su, bot, other_user, openai_provider
):
    provider_create(owner=other_user, name="Theirs", kind="scripted", model="x")
    url = _url("bots.bot", "change", bot.pk)
    page = su.get(url)
    offered = set(page.context["adminform"].form.fields["provider"].queryset)
    assert offered == {bot.provider, openai_provider}
    data = {**_form_data(page), "provider": openai_provider.pk, "initial_balance": "1",
            "mode": "real"}
    assert su.post(url, data).status_code == 302
    bot.refresh_from_db()
    assert bot.provider == openai_provider
    assert (bot.initial_balance, bot.mode) == (Decimal("10000"), "paper")
    assert bot.account.entries.count() == 1


def test_pause_and_resume_actions(su, bot):
    url = _url("bots.bot", "changelist")
    su.post(url, {"action": "pause", "_selected_action": [bot.pk]})
    bot.refresh_from_db()
    assert bot.is_paused
    su.post(url, {"action": "resume", "_selected_action": [bot.pk]})
    bot.refresh_from_db()
    assert not bot.is_paused
    page = su.get(url)
    assert "delete_selected" not in dict(page.context["action_form"].fields["action"].choices)
    assert b'<td class="field-balance">10000</td>' in page.content  # the balance column, from the account


def _spy(monkeypatch, name: str) -> list[dict[str, Any]]:
    """Record the calls the admin makes to a bots service (which still runs)."""
    import bots.admin

    calls: list[dict[str, Any]] = []
    real = getattr(bots.admin, name)

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(bots.admin, name, spy)
    return calls


def test_bot_edit_goes_through_bot_update_with_what_changed(su, bot, monkeypatch):
    calls = _spy(monkeypatch, "bot_update")
    url = _url("bots.bot", "change", bot.pk)
    data = {**_form_data(su.get(url)), "name": "Renamed", "prompt": "Trade less"}
    assert su.post(url, data).status_code == 302
    [call] = calls
    assert {"bot", "name", "prompt"} <= set(call) and not {"owner", "mode", "initial_balance"} & set(call)
    bot.refresh_from_db()
    assert (bot.name, bot.prompt) == ("Renamed", "Trade less")


def test_bot_edit_refuses_a_strangers_provider_and_never_calls_the_service(su, bot, other_user, monkeypatch):
    theirs = provider_create(owner=other_user, name="Theirs", kind="scripted", model="x")
    calls = _spy(monkeypatch, "bot_update")
    url = _url("bots.bot", "change", bot.pk)
    data = {**_form_data(su.get(url)), "provider": theirs.pk}
    response = su.post(url, data)
    assert response.status_code == 200 and "provider" in response.context["adminform"].form.errors
    assert calls == []
    bot.refresh_from_db()
    assert bot.provider.owner == bot.owner


def test_pause_and_resume_actions_call_the_services(su, bot, monkeypatch):
    paused, resumed = _spy(monkeypatch, "bot_pause"), _spy(monkeypatch, "bot_resume")
    url = _url("bots.bot", "changelist")
    su.post(url, {"action": "pause", "_selected_action": [bot.pk]})
    su.post(url, {"action": "resume", "_selected_action": [bot.pk]})
    assert [call["bot"].pk for call in paused] == [bot.pk] == [call["bot"].pk for call in resumed]


# ---------------------------------------------------------------- arena


def test_arena_settings_is_a_singleton(su):
    response = su.get(_url("arena.arenasettings", "changelist"))
    row = ArenaSettings.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("arena.arenasettings", "change", row.pk)
    assert su.get(_url("arena.arenasettings", "add")).status_code == 403
    assert su.post(_url("arena.arenasettings", "delete", row.pk), {"post": "yes"}).status_code == 403
    url = _url("arena.arenasettings", "change", row.pk)
    data = {**_form_data(su.get(url)), "cooldown_minutes": "45"}
    assert su.post(url, data).status_code == 302
    assert ArenaSettings.objects.get().cooldown_minutes == 45


def test_user_admin_adds_a_user_with_a_role(su):
    data = {"username": "carol", "password1": "Carol-pass-9876", "password2": "Carol-pass-9876",
            "usable_password": "true", "role": "moderator"}
    assert su.post(_url("arena.user", "add"), data).status_code == 302
    carol = apps.get_model("arena.User").objects.get(username="carol")
    assert carol.role == "moderator"
    assert carol.check_password("Carol-pass-9876")
    assert b'name="legacy_id"' in su.get(_url("arena.user", "change", carol.pk)).content


# ---------------------------------------------------------------- decimals


@pytest.mark.parametrize(("value", "shown"), [
    ("627.040000000000", "627.04"), ("10000.00000000", "10000"), ("-0.50000000", "-0.5"),
    ("0E-8", "0"), ("-0.00000000", "0"), ("0.00000001", "0.00000001"), ("1E+3", "1000"),
    ("123456789012.123456789012", "123456789012.123456789012"),
])
def test_decimals_are_shown_without_trailing_zeros_or_exponents(value, shown):
    assert decimal_display(Decimal(value)) == shown


def test_admin_pages_show_prices_without_trailing_zeros_and_exports_stay_exact(su):
    open_time = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    candle = Candle.objects.create(
        symbol="BNBUSDT", interval="1h", open_time=open_time, open=Decimal("627.04"), high=Decimal("630.5"),
        low=Decimal("620"), close=Decimal("627.040000000001"), volume=Decimal("12.25"),
        fetched_at=open_time + timedelta(hours=2),
    )
    listing = su.get(_url("trading.candle", "changelist")).content.decode()
    cells = dict(re.findall(r'<td class="field-(open|high|low|close|volume)[^"]*">([^<]*)</td>', listing))
    assert cells == {"open": "627.04", "high": "630.5", "low": "620", "close": "627.040000000001",
                     "volume": "12.25"}
    page = su.get(_url("trading.candle", "change", candle.pk)).content.decode()
    assert '<div class="readonly">627.04</div>' in page and "627.040000000000" not in page
    # The database and the CSV export keep every digit the column holds.
    assert Candle.objects.values_list("open", flat=True).get(pk=candle.pk) == Decimal("627.04")
    rows = _csv(_export(su, "trading.candle", candle.pk))
    assert (rows[0]["open"], rows[0]["close"]) == ("627.040000000000", "627.040000000001")
