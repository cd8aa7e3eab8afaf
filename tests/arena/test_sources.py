"""Trading and bots read the arena's settings only through what the arena hands down at
start-up, and every read sees the current row (no restart after a settings change)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from arena.models import ArenaSettings
from bots import selectors as bot_selectors
from bots.models import Bot
from bots.services import bot_create
from trading import selectors
from trading.risk import MIN_TRADE_USDT, RiskSettings

pytestmark = pytest.mark.django_db


def test_the_minimum_trade_is_one_constant():
    assert RiskSettings().min_trade_usdt == MIN_TRADE_USDT
    assert ArenaSettings._meta.get_field("min_trade_usdt").default == MIN_TRADE_USDT
    assert ArenaSettings.load().min_trade_usdt == MIN_TRADE_USDT == Decimal("50")


def test_risk_settings_follow_the_arena_row_without_a_restart():
    assert selectors.risk_settings().cooldown_minutes == 30
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(cooldown_minutes=45,
                                                                   min_trade_usdt=Decimal("20"))
    settings = selectors.risk_settings()
    assert (settings.cooldown_minutes, settings.min_trade_usdt) == (45, Decimal("20"))


def test_symbols_to_refresh_are_the_arenas_and_the_active_bots(user, provider):
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(default_symbols=["BTCUSDT"])
    bot_create(owner=user, name="A", prompt="p", provider=provider, symbols=["ADAUSDT"])
    bot_create(owner=user, name="Retired", prompt="p", provider=provider, symbols=["DOTUSDT"],
               is_active=False)
    assert selectors.symbols_to_refresh() == ["ADAUSDT", "BTCUSDT"]


def test_a_new_bot_gets_the_arenas_current_balance_for_its_mode(user, provider):
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(paper_initial_balance=Decimal("123"))
    assert bot_selectors.initial_balance_default(mode=Bot.Mode.PAPER) == Decimal("123")
    live = ArenaSettings.load().live_initial_balance
    assert bot_selectors.initial_balance_default(mode=Bot.Mode.REAL) == live
    assert bot_create(owner=user, name="B", prompt="p", provider=provider).initial_balance == Decimal("123")


def test_an_unregistered_source_fails_loudly(monkeypatch):
    monkeypatch.setattr(selectors, "_sources", None)
    monkeypatch.setattr(bot_selectors, "_initial_balance_source", None)
    with pytest.raises(ImproperlyConfigured, match="sources_register"):
        selectors.risk_settings()
    with pytest.raises(ImproperlyConfigured, match="initial_balance_source_register"):
        bot_selectors.initial_balance_default(mode=Bot.Mode.PAPER)
