"""The paper engine's services, through their public functions, on the real database."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from bots.services import bot_reset
from ledger.selectors import account_entries_total
from tests.trading.conftest import set_price
from trading import perps
from trading.models import Cooldown, Position, Trade
from trading.services import (
    funding_apply,
    position_close,
    position_open,
    positions_mark,
    triggers_check,
)
from trading.services.snapshots import snapshots_take

pytestmark = pytest.mark.django_db

D = Decimal


def kinds(position: Position) -> list[tuple[str, Decimal]]:
    return [(e.kind, e.amount) for e in position.entries.order_by("id")]


def test_open_long_locks_margin_and_charges_the_taker_fee(bot, markets, frictionless):
    result = position_open(bot=bot, symbol="btcusdt", side="LONG", margin=D("1000"), leverage=10,
                           stop_loss=D("57000"), take_profit=D("66000"))
    position = result.position
    assert position is not None and result.notes == []
    assert (position.symbol, position.margin, position.leverage) == ("BTCUSDT", D("1000"), 10)
    assert position.quantity == D("0.166666666666")  # 10,000 notional / 60,000, rounded down
    notional = position.quantity * D("60000")
    fee = (notional * D("0.0005")).quantize(D("0.00000001"), rounding="ROUND_DOWN")
    assert kinds(position) == [("margin_lock", D("-1000")), ("fee", -fee)]
    bot.account.refresh_from_db()
    assert bot.account.balance == D("10000") - D("1000") - fee
    trade = position.trades.get()
    assert (trade.kind, trade.price, trade.fee, trade.pnl) == ("OPEN", D("60000"), fee, None)
    # BTC's first bracket: mmr 0.4%, no maintenance amount.
    expected_liq = perps.liquidation_price(
        "LONG", D("60000"), position.quantity, D("1000"), D("0.004"), D("0")
    )
    assert abs(position.liquidation_price - expected_liq) < D("0.1")
    assert D("54000") < position.liquidation_price < D("54500")


def test_slippage_is_against_the_trader_on_both_fills(bot, markets):
    opened = position_open(bot=bot, symbol="ETHUSDT", side="SHORT", margin=D("100"), leverage=5).position
    assert opened.entry_price < D("3000")  # selling gets less
    closed = position_close(position=opened, reason="decision")
    assert closed.trade.price > D("3000")  # buying back pays more
    assert closed.trade.pnl < 0


def test_close_with_profit_books_pnl_and_fee_and_sets_a_cooldown(bot, markets, frictionless):
    position = position_open(bot=bot, symbol="SOLUSDT", side="LONG", margin=D("200"), leverage=5).position
    set_price("SOLUSDT", D("165"))
    result = position_close(position=position, reason="decision")
    position.refresh_from_db()
    gross = (position.quantity * D("15")).quantize(D("0.00000001"))
    close_fee = (position.quantity * D("165") * D("0.0005")).quantize(D("0.00000001"))
    assert result.closed and position.status == "closed" and position.exit_price == D("165")
    assert position.realized_pnl == gross - close_fee == result.trade.pnl
    assert kinds(position)[2:] == [("margin_release", D("200")), ("realized_pnl", gross), ("fee", -close_fee)]
    assert Cooldown.objects.get(bot=bot, symbol="SOLUSDT").until > position.closed_at
    bot.account.refresh_from_db()
    assert account_entries_total(account=bot.account) == bot.account.balance


def test_second_close_is_a_clean_refusal(bot, markets):
    position = position_open(bot=bot, symbol="BNBUSDT", side="LONG", margin=D("100"), leverage=3).position
    first = position_close(position=position, reason="decision")
    second = position_close(position=position.pk, reason="stop_loss", price=D("590"))
    assert first.closed and not second.closed
    assert second.notes == [f"position {position.pk} is already closed"]
    assert position.trades.filter(kind="CLOSE").count() == 1


def test_stale_price_never_opens(bot, markets):
    set_price("XRPUSDT", D("0.6"), stale=True)
    result = position_open(bot=bot, symbol="XRPUSDT", side="LONG", margin=D("100"), leverage=2)
    assert result.position is None
    assert any("stale" in note for note in result.notes)
    assert not Position.objects.exists()


def test_unknown_symbol_and_absurd_leverage(bot, markets, frictionless):
    unknown = position_open(bot=bot, symbol="NOPEUSDT", side="LONG", margin=D("100"), leverage=2)
    assert unknown.position is None and "NOPEUSDT" in unknown.notes[0]
    capped = position_open(bot=bot, symbol="DOGEUSDT", side="LONG", margin=D("100"), leverage=1000)
    assert capped.position is not None and capped.position.leverage <= 75
    assert any("leverage" in note for note in capped.notes)


def test_triggers_close_at_the_trigger_price(bot, markets, frictionless):
    long = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5,
                         stop_loss=D("2900"), take_profit=D("3300")).position
    short = position_open(bot=bot, symbol="ETHUSDT", side="SHORT", margin=D("100"), leverage=5,
                          stop_loss=D("3100"), take_profit=D("2950")).position
    # Down through the short's target and the long's stop in one move.
    results = triggers_check(ranges={"ETHUSDT": perps.Bar.move(D("3000"), D("2890"))})
    assert {r.position.pk: (r.trade.reason, r.trade.price) for r in results} == {
        long.pk: ("stop_loss", D("2900")),
        short.pk: ("take_profit", D("2950")),
    }


def test_liquidation_loses_exactly_the_margin(bot, markets, frictionless):
    position = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("500"), leverage=20).position
    bot.account.refresh_from_db()
    before = bot.account.balance
    crash = perps.Bar(open=D("60000"), high=D("60000"), low=D("50000"), close=D("51000"))
    (result,) = triggers_check(ranges={"BTCUSDT": crash})
    position.refresh_from_db()
    assert result.trade.reason == "liquidation"
    assert result.trade.price == position.liquidation_price == position.exit_price
    assert position.realized_pnl == D("-500") and result.trade.fee == 0
    bot.account.refresh_from_db()
    assert bot.account.balance == before  # margin released and lost: nothing comes back
    assert kinds(position)[-2:] == [("margin_release", D("500")), ("liquidation", D("-500"))]


def test_a_close_beyond_liquidation_is_capped_at_the_margin(bot, markets, frictionless):
    position = position_open(bot=bot, symbol="SOLUSDT", side="SHORT", margin=D("100"), leverage=10).position
    set_price("SOLUSDT", D("200"))  # +33%: far past the short's liquidation, no refresh ran
    result = position_close(position=position, reason="decision")
    assert result.trade.reason == "liquidation" and result.trade.pnl == D("-100")
    assert any("exceed the margin" in note for note in result.notes)


def test_mark_updates_open_positions_only(bot, markets, frictionless):
    long = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("600"), leverage=10).position
    short = position_open(bot=bot, symbol="BTCUSDT", side="SHORT", margin=D("600"), leverage=10).position
    closed = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=2).position
    position_close(position=closed, reason="manual")
    assert positions_mark(prices={"BTCUSDT": D("61000"), "ETHUSDT": D("1")}) == 2
    long.refresh_from_db()
    short.refresh_from_db()
    closed.refresh_from_db()
    assert long.unrealized_pnl == (long.quantity * D("1000")).quantize(D("0.00000001"))
    assert short.unrealized_pnl == -long.unrealized_pnl
    assert closed.unrealized_pnl == 0 and closed.mark_price == closed.exit_price


def test_funding_is_charged_once_from_the_isolated_margin(bot, markets, frictionless):
    opened = datetime(2026, 1, 1, 3, tzinfo=UTC)
    long = position_open(bot=bot, symbol="XRPUSDT", side="LONG", margin=D("100"), leverage=10,
                         now=opened).position
    short = position_open(bot=bot, symbol="XRPUSDT", side="SHORT", margin=D("100"), leverage=10,
                          now=opened).position
    at = datetime(2026, 1, 1, 8, tzinfo=UTC)
    args = {"funding_time": at, "rates": {"XRPUSDT": D("0.0001")}, "marks": {"XRPUSDT": D("0.6")}}
    first = funding_apply(**args)
    again = funding_apply(**args)
    assert again == []
    amounts = {r.position_id: r.amount for r in first}
    owed = (long.quantity * D("0.6") * D("0.0001")).quantize(D("0.00000001"))
    assert amounts == {long.pk: -owed, short.pk: owed}  # longs pay shorts when positive
    long.refresh_from_db()
    short.refresh_from_db()
    assert long.margin == D("100") - owed and short.margin == D("100") + owed
    assert long.entries.filter(kind="funding").get().funding_time == at


def test_funding_skips_positions_opened_after_the_funding_time(bot, markets):
    position_open(bot=bot, symbol="XRPUSDT", side="LONG", margin=D("100"), leverage=10,
                  now=datetime(2026, 1, 1, 9, tzinfo=UTC))
    at = datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert funding_apply(funding_time=at, rates={"XRPUSDT": D("0.01")}, marks={"XRPUSDT": D("0.6")}) == []


def test_reset_closes_everything_restores_the_balance_and_restarts_statistics(bot, markets):
    position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("300"), leverage=3)
    won = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("300"), leverage=3).position
    set_price("BTCUSDT", D("66000"))
    position_close(position=won, reason="decision")
    (before,) = snapshots_take()
    assert before.trade_count == 1 and before.win_rate == 1
    bot_reset(bot=bot)
    bot.account.refresh_from_db()
    assert bot.account.balance == D("10000")
    assert not Position.objects.filter(bot=bot, status="open").exists()
    assert Trade.objects.filter(bot=bot, reason="reset").count() == 1
    assert bot.account.entries.filter(kind="adjustment").count() == 1
    assert Trade.objects.filter(bot=bot).count() == 4  # history kept
    (after,) = snapshots_take()
    assert (after.trade_count, after.realized_pnl, after.total_value) == (0, 0, D("10000"))


def test_reset_refuses_a_real_bot(user, provider, settings):
    from bots.services import bot_create

    settings.REAL_TRADING_ENABLED = True
    real = bot_create(owner=user, name="real", prompt="p", provider=provider, mode="real")
    with pytest.raises(ValidationError, match="paper"):
        bot_reset(bot=real)


def test_snapshot_values_add_up(bot, markets, frictionless):
    position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("1000"), leverage=2)
    positions_mark(prices={"ETHUSDT": D("3300")})
    (snap,) = snapshots_take(now=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=1))
    assert snap.margin == D("1000")
    assert snap.unrealized_pnl > 0
    assert snap.total_value == snap.balance + snap.margin + snap.unrealized_pnl


@pytest.mark.parametrize(("margin", "leverage", "said"), [
    (D("1e20"), 10, "margin 1E+20 USDT is more than this account holds (10,000 USDT available)"),
    (D("NaN"), 10, "margin NaN is not a number"),
    (D("sNaN"), 10, "margin NaN is not a number"),
    (D("Infinity"), 10, "margin Infinity USDT is not a finite amount"),
    (D("-Infinity"), 10, "margin -Infinity USDT is not a finite amount"),
    (D("-5"), 10, "margin -5 USDT is not a positive amount"),
    (D("1e-30"), 10, "margin 1E-30 USDT is less than the ledger's smallest amount"),
    (D("100"), 10**9, "leverage 1,000,000,000x is more than any market allows (at most 1000x)"),
    (D("100"), D("NaN"), "leverage NaN is not a number"),
])
def test_absurd_money_inputs_are_refused_with_a_reason_and_write_nothing(
    bot, markets, frictionless, margin, leverage, said
):
    before = account_entries_total(account=bot.account)
    result = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=margin, leverage=leverage)
    assert result.position is None
    assert any(note.startswith(said) for note in result.notes), result.notes
    assert not Position.objects.filter(bot=bot).exists() and not Trade.objects.filter(bot=bot).exists()
    assert account_entries_total(account=bot.account) == before


def test_a_real_money_bot_never_gets_a_paper_position(user, provider, markets, settings):
    from bots.services import bot_create

    settings.REAL_TRADING_ENABLED = True
    real = bot_create(owner=user, name="real", prompt="p", provider=provider, mode="real")
    result = position_open(bot=real, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=2)
    assert result.position is None and result.notes == [
        "BTCUSDT: A real-money bot needs a wallet with its exchange API keys; nothing opened"]
    assert not Position.objects.filter(bot=real).exists() and not Trade.objects.filter(bot=real).exists()
