"""Every named constraint on our models refuses a bad row at the database itself.

Rows are written with ``objects.create`` or ``QuerySet.update``, which skip model
validation, so only the database stands in the way. Each failure must name the
constraint (PostgreSQL names every constraint, SQLite names CHECKs and lists a
UNIQUE's columns): a row refused for some other reason does not count.
A meta-test fails the suite when a constraint is added without a case here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import BaseConstraint, CheckConstraint, Model, UniqueConstraint
from django.utils import timezone

from arena.models import ArenaSettings, BotTurn, Turn, User
from bots.models import Bot, Decision, LearningSummary, LLMProvider, PromptVersion
from ledger.models import Change, Entry, Snapshot
from ledger.rollup_models import RUN_FIRST, BotDay
from tests.schema import drop_constraints
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

D = Decimal
NOW = timezone.now()
OUR_APPS = ("arena", "bots", "trading", "ledger")


def model_constraints() -> dict[str, tuple[type[Model], BaseConstraint]]:
    return {
        constraint.name: (model, constraint)
        for app in OUR_APPS
        for model in apps.get_app_config(app).get_models()
        for constraint in model._meta.constraints
    }


@dataclass
class World:
    """Valid rows for the bad ones to point at."""

    user: User
    provider: LLMProvider
    bot: Bot
    position: Position


@pytest.fixture
def world(user, provider, bot) -> World:
    position = Position.objects.create(
        bot=bot, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=5,
        quantity=D("0.01"), entry_price=D("50000"),
    )
    Trade.objects.create(
        bot=bot, position=position, kind="OPEN", side="LONG", symbol="BTCUSDT",
        price=D("50000"), quantity=D("0.01"),
    )
    return World(user=user, provider=provider, bot=bot, position=position)


# Valid rows, changed by the overrides each case passes -----------------------------------


def settings_update(**bad: Any) -> int:
    ArenaSettings.load()
    return ArenaSettings.objects.filter(pk=1).update(**bad)


def turn(**over: Any) -> Turn:
    return Turn.objects.create(**{"started_at": NOW, **over})


def bot_turn(w: World, **over: Any) -> BotTurn:
    values = {"turn": over.pop("turn", None) or turn(), "bot": w.bot, "status": "finished",
              "started_at": NOW, "finished_at": NOW, **over}
    return BotTurn.objects.create(**values)


def provider(w: World, **over: Any) -> LLMProvider:
    return LLMProvider.objects.create(
        **{"owner": w.user, "name": "Other", "kind": "scripted", "model": "m", **over}
    )


def bot(w: World, **over: Any) -> Bot:
    return Bot.objects.create(**{
        "owner": w.user, "name": "Other", "prompt": "p", "provider": w.provider,
        "initial_balance": D("100"), **over,
    })


def decision(w: World, **over: Any) -> Decision:
    return Decision.objects.create(**{"bot": w.bot, **over})


def summary(w: World, **over: Any) -> LearningSummary:
    return LearningSummary.objects.create(**{
        "bot": w.bot, "summary": "s", "covers_from": NOW, "covers_to": NOW, "decisions_count": 1,
        "token_count": 1, **over,
    })


def market(**over: Any) -> Market:
    return Market.objects.create(**{"symbol": "ADAUSDT", **over})


def position(w: World, **over: Any) -> Position:
    return Position.objects.create(**{
        "bot": w.bot, "symbol": "ETHUSDT", "side": "LONG", "margin": D("10"), "leverage": 2,
        "quantity": D("0.01"), "entry_price": D("2000"), **over,
    })


def closed(**over: Any) -> dict[str, Any]:
    return {"status": "closed", "closed_at": NOW, "exit_price": D("2100"), **over}


def trade(w: World, **over: Any) -> Trade:
    return Trade.objects.create(**{
        "bot": w.bot, "kind": "OPEN", "side": "LONG", "symbol": "BTCUSDT", "price": D("50000"),
        "quantity": D("0.01"), **over,
    })


def entry(w: World, **over: Any) -> Entry:
    # A fresh row every time: the model refuses to save an existing entry again.
    return Entry.objects.create(**{
        "account": w.bot.account, "kind": "adjustment", "amount": D("1"),
        "balance_after": D("10001"), **over,
    })


def snapshot(w: World, **over: Any) -> Snapshot:
    return Snapshot.objects.create(
        **{"bot": w.bot, "balance": D("1"), "total_value": D("1"), **over}
    )


def bot_day(w: World, **over: Any) -> BotDay:
    return BotDay.objects.create(**{"bot": w.bot, "run_start": RUN_FIRST, "day": NOW.date(), **over})


def candle(**over: Any) -> Candle:
    return Candle.objects.create(**{
        "symbol": "BTCUSDT", "interval": "1h", "open_time": NOW, "open": D("100"), "high": D("110"),
        "low": D("90"), "close": D("105"), "volume": D("1"), **over,
    })


def twice(make: Callable[[], object]) -> None:
    make()
    make()


def reconciliation(w: World, **over: Any) -> Reconciliation:
    wallet = Wallet.objects.filter(owner=w.user).first() or Wallet.objects.create(owner=w.user)
    return Reconciliation.objects.create(**{"bot": w.bot, "wallet": wallet, "trigger": "api",
                                            "started_at": NOW, **over})


def discrepancy(w: World, **over: Any) -> Discrepancy:
    run = over.pop("reconciliation", None) or reconciliation(w)
    return Discrepancy.objects.create(**{"bot": w.bot, "reconciliation": run, "kind": "balance", "key": "k",
                                         "detail": "d", "created_at": NOW, **over})


def income(w: World, **over: Any) -> ExchangeIncome:
    wallet = Wallet.objects.filter(owner=w.user).first() or Wallet.objects.create(owner=w.user)
    return ExchangeIncome.objects.create(**{"wallet": wallet, "bot": w.bot, "tran_id": "1",
                                            "income_type": "TRANSFER", "amount": D("1"), "asset": "USDT",
                                            "time": NOW, **over})


# One bad row (or a duplicate pair) per constraint ----------------------------------------

BAD_ROWS: dict[str, Callable[[World], object]] = {
    # arena
    "arena_user_role_valid": lambda w: User.objects.create(username="carol", role="owner"),
    "arena_arenasettings_singleton": lambda w: ArenaSettings.objects.create(id=2),
    "arena_arenasettings_initial_balance_positive": lambda w: settings_update(live_initial_balance=0),
    "arena_arenasettings_intervals_sane": lambda w: settings_update(turn_interval_seconds=9),
    "arena_arenasettings_min_trade_positive": lambda w: settings_update(min_trade_usdt=0),
    "arena_arenasettings_fee_rate_range": lambda w: settings_update(taker_fee_rate=D("0.01")),
    "arena_arenasettings_slippage_range": lambda w: settings_update(slippage_bps=D("1000.5")),
    "arena_arenasettings_maintenance_rate_range": lambda w: settings_update(maintenance_margin_rate=0),
    "arena_arenasettings_max_positions_positive": lambda w: settings_update(max_open_positions_per_bot=0),
    "arena_turn_status_valid": lambda w: turn(status="paused"),
    "arena_turn_finished_after_started": lambda w: turn(finished_at=NOW - timedelta(seconds=1)),
    "arena_botturn_once_per_turn": lambda w: (lambda t: twice(lambda: bot_turn(w, turn=t)))(turn()),
    "arena_botturn_status_valid": lambda w: bot_turn(w, status="paused", reason="x"),  # breaks only this
    "arena_botturn_finished_when_over": lambda w: bot_turn(w, status="failed", reason="x", finished_at=None),
    "arena_botturn_reason_when_not_run": lambda w: bot_turn(w, status="skipped", reason=""),
    # bots
    "bots_llmprovider_kind_valid": lambda w: provider(w, kind="cohere", base_url="https://x.test"),
    "bots_llmprovider_base_url_required": lambda w: provider(w, kind="openai", base_url=""),
    "bots_llmprovider_prices_not_negative": lambda w: provider(w, output_price_per_mtok=D("-1")),
    "bots_llmprovider_timeout_range": lambda w: provider(w, timeout_seconds=901),
    "bots_llmprovider_owner_name_unique": lambda w: provider(w, name=w.provider.name),
    "bots_bot_mode_valid": lambda w: bot(w, mode="demo"),
    "bots_bot_initial_balance_positive": lambda w: bot(w, initial_balance=0),
    "bots_bot_owner_name_unique_active": lambda w: bot(w, name=w.bot.name),
    "bots_bot_unlisted_stays_private": lambda w: bot(w, unlisted_reason="spam", is_listed=True),
    "bots_decision_bot_legacy_id_unique": lambda w: twice(lambda: decision(w, legacy_id="d-1")),
    "bots_decision_cost_not_negative": lambda w: decision(w, cost=D("-0.01")),
    "bots_decision_once_per_turn": lambda w: (lambda t: twice(lambda: decision(w, turn=t)))(turn()),
    "bots_learningsummary_decisions_count_positive": lambda w: summary(w, decisions_count=0),
    "bots_learningsummary_covers_ordered": lambda w: summary(w, covers_from=NOW + timedelta(seconds=1)),
    "bots_learningsummary_summary_not_empty": lambda w: summary(w, summary=""),
    "bots_learningsummary_cost_not_negative": lambda w: summary(w, cost=D("-0.01")),
    "bots_learningsummary_bot_covers_to_unique": lambda w: twice(lambda: summary(w)),
    "bots_learningsummary_previous_unique": lambda w: (lambda first: [
        summary(w, previous=first, covers_to=NOW + timedelta(hours=hours)) for hours in (1, 2)
    ])(summary(w)),
    "bots_promptversion_bot_number_unique": lambda w: twice(
        lambda: PromptVersion.objects.create(bot=w.bot, number=99, prompt="p")
    ),
    # trading
    "trading_market_prices_positive": lambda w: market(mark_price=0),
    "trading_market_sizes_positive": lambda w: market(step_size=D("-1")),
    "trading_market_max_leverage_range": lambda w: market(max_leverage=201),
    "trading_wallet_exchange_valid": lambda w: Wallet.objects.create(owner=w.user, exchange="kraken"),
    "trading_reconciliation_status_valid": lambda w: reconciliation(w, status="fine"),
    "trading_reconciliation_trigger_valid": lambda w: reconciliation(w, trigger="whim"),
    "trading_discrepancy_once_per_thing": lambda w: twice(lambda: discrepancy(w, key="balance:1")),
    "trading_discrepancy_kind_valid": lambda w: discrepancy(w, kind="vibes"),
    "trading_discrepancy_resolution_said": lambda w: discrepancy(w, resolved_at=NOW, resolution=""),
    "trading_income_once_per_tran": lambda w: twice(lambda: income(w, tran_id="7")),
    "trading_position_side_valid": lambda w: position(w, side="UP"),
    "trading_position_status_valid": lambda w: position(w, **closed(status="frozen")),
    "trading_position_leverage_range": lambda w: position(w, leverage=0),
    "trading_position_margin_positive": lambda w: position(w, margin=0),
    "trading_position_quantity_positive": lambda w: position(w, quantity=D("-0.01")),
    "trading_position_entry_price_positive": lambda w: position(w, entry_price=0),
    "trading_position_trigger_prices_positive": lambda w: position(w, stop_loss=0),
    "trading_position_close_fields_match_status": lambda w: position(w, **closed(closed_at=None)),
    "trading_position_close_reason_valid": lambda w: position(w, **closed(close_reason="boredom")),
    "trading_position_bot_legacy_id_unique": lambda w: [
        position(w, symbol=symbol, legacy_id="p-1") for symbol in ("ETHUSDT", "SOLUSDT")
    ],
    "trading_position_one_open_per_side": lambda w: position(w, symbol="BTCUSDT"),
    "trading_trade_kind_valid": lambda w: trade(w, kind="HOLD"),
    "trading_trade_side_valid": lambda w: trade(w, side="FLAT"),
    "trading_trade_price_positive": lambda w: trade(w, price=0),
    "trading_trade_quantity_positive": lambda w: trade(w, quantity=0),
    "trading_trade_fee_not_negative": lambda w: trade(w, fee=D("-0.1")),
    "trading_trade_margin_positive": lambda w: trade(w, margin=0),
    "trading_trade_leverage_range": lambda w: trade(w, leverage=201),
    "trading_trade_reason_valid": lambda w: trade(w, reason="boredom"),
    "trading_trade_bot_legacy_id_unique": lambda w: twice(lambda: trade(w, legacy_id="t-1")),
    "trading_trade_bot_exchange_order_unique": lambda w: twice(lambda: trade(w, exchange_order_id="o-1")),
    "trading_trade_one_per_position_kind": lambda w: trade(w, position=w.position),
    "trading_cooldown_bot_symbol_unique": lambda w: twice(
        lambda: Cooldown.objects.create(bot=w.bot, symbol="BTCUSDT", until=NOW)
    ),
    "trading_candle_unique": lambda w: twice(candle),
    "trading_candle_prices_consistent": lambda w: candle(high=D("104")),
    "trading_candle_volume_not_negative": lambda w: candle(volume=D("-1")),
    "trading_candle_interval_valid": lambda w: candle(interval="2h"),
    # ledger
    "ledger_entry_kind_valid": lambda w: entry(w, kind="bonus"),
    "ledger_entry_amount_not_zero": lambda w: entry(w, amount=0),
    "ledger_entry_credit_kinds_positive": lambda w: entry(w, kind="deposit", amount=D("-1")),
    "ledger_entry_debit_kinds_negative": lambda w: entry(w, kind="fee", amount=D("1")),
    "ledger_entry_position_kinds_have_position": lambda w: entry(w, kind="margin_lock", amount=D("-1")),
    "ledger_entry_funding_has_time": lambda w: entry(w, kind="funding", position=w.position),
    "ledger_entry_funding_once": lambda w: twice(
        lambda: entry(w, kind="funding", position=w.position, funding_time=NOW)
    ),
    "ledger_change_interface_valid": lambda w: Change.objects.create(
        at=NOW, interface="email", object_type="bots.Bot", object_id="1", action="updated"
    ),
    "ledger_botday_once_per_day": lambda w: twice(lambda: bot_day(w)),
    "ledger_botday_outcomes_within_closes": lambda w: bot_day(w, closes=1, wins=2),
    "ledger_botday_amounts_not_negative": lambda w: bot_day(w, fees=D("-1")),
    "ledger_snapshot_win_rate_range": lambda w: snapshot(w, win_rate=D("1.000001")),
    "ledger_snapshot_margin_not_negative": lambda w: snapshot(w, margin=D("-1")),
    "ledger_snapshot_bot_legacy_id_unique": lambda w: twice(lambda: snapshot(w, legacy_id="s-1")),
}

# A status other than open/closed also breaks close_fields_match_status, which
# therefore implies status_valid; PostgreSQL checks CHECKs in name order and would
# report that one, so it is dropped (inside the case's transaction) to reach the
# constraint under test.
SHADOWED_BY: dict[str, tuple[str, ...]] = {
    "trading_position_status_valid": ("trading_position_close_fields_match_status",),
}


def expected_message(name: str) -> str:
    """What the database says when ``name`` refuses a row."""
    model, constraint = model_constraints()[name]
    if connection.vendor == "postgresql":
        return f'"{name}"'
    if isinstance(constraint, CheckConstraint):
        return f"CHECK constraint failed: {name}"
    table = model._meta.db_table
    columns = ", ".join(f"{table}.{model._meta.get_field(field).column}" for field in constraint.fields)
    return f"UNIQUE constraint failed: {columns}"


def drop_on_postgresql(model: type[Model], names: tuple[str, ...]) -> None:
    if connection.vendor == "postgresql" and names:
        drop_constraints(model._meta.db_table, *names)


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_constraint_refuses_bad_row_at_the_database(world, name):
    model, _ = model_constraints()[name]
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        drop_on_postgresql(model, SHADOWED_BY.get(name, ()))
        BAD_ROWS[name](world)

    assert expected_message(name) in str(refused.value)
    # The savepoint rolled back: the database is still usable and unchanged.
    assert Position.objects.filter(bot=world.bot).count() == 1


def test_every_constraint_has_a_case():
    defined = set(model_constraints())
    assert defined - set(BAD_ROWS) == set(), "constraints without a bad-row case"
    assert set(BAD_ROWS) - defined == set(), "cases for constraints that no longer exist"
    assert set(SHADOWED_BY) <= defined


def test_constraint_kinds_are_only_check_and_unique():
    # expected_message() knows how both databases word these two kinds only.
    kinds = {type(constraint) for _, constraint in model_constraints().values()}
    assert kinds <= {CheckConstraint, UniqueConstraint}


# The conditions on conditional constraints let the intended rows through ---------------


ALLOWED: dict[str, Callable[[World], object]] = {
    "a soft-deleted bot frees its name": lambda w: [
        Bot.objects.filter(pk=w.bot.pk).update(is_active=False), bot(w, name=w.bot.name),
    ],
    "closed positions do not block a new open": lambda w: [
        position(w, **closed()), position(w, **closed()), position(w),
    ],
    "the other side is another open position": lambda w: position(w, symbol="BTCUSDT", side="SHORT"),
    "many rows without a legacy id": lambda w: [
        trade(w), trade(w), decision(w), decision(w), snapshot(w), snapshot(w),
        position(w, symbol="SOLUSDT"), position(w, symbol="XRPUSDT"),
    ],
    "trades without a position are not one per kind": lambda w: [trade(w), trade(w)],
    "funding at two times": lambda w: [
        entry(w, kind="funding", position=w.position, funding_time=NOW),
        entry(w, kind="funding", position=w.position, funding_time=NOW + timedelta(hours=8)),
    ],
}


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_conditional_constraints_allow_intended_rows(world, case):
    ALLOWED[case](world)
