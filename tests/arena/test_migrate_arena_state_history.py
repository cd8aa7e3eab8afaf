"""``migrate_arena_state``: history as the union of blob and tables — trades in all three
order shapes, positions and their links, decisions, snapshots, cooldowns — and the money."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from bots.models import Bot, Decision
from ledger.models import Account, Entry, Snapshot
from tests.arena.legacy_factory import LegacyArena, LegacyBot, at, run_import
from trading.models import CloseReason, Cooldown, Market, Position, Trade
from trading.services import position_close, position_open

pytestmark = pytest.mark.django_db

D = Decimal


def arena_with_bot(**options) -> tuple[LegacyArena, LegacyBot]:
    legacy = LegacyArena()
    alice = legacy.user("alice")
    return legacy, legacy.bot("bot_a", alice, legacy.provider(alice), **options)


def audit_clean() -> None:
    """``manage.py audit_ledger`` exits 1 on any violation; SystemExit would fail the test."""
    call_command("audit_ledger", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_trades_are_the_union_of_blob_and_tables_without_duplicates(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    both = bot.open("BTCUSDT", "LONG", 500, 10, 60000, minute=10)
    bot.close(both, 61000, minute=40)
    blob_only = bot.open("ETHUSDT", "SHORT", 300, 5, 3000, minute=50, table=False)
    bot.close(blob_only, 2900, minute=80, table=False)
    table_only = bot.open("SOLUSDT", "LONG", 200, 3, 150, minute=90)
    bot.close(table_only, 140, minute=120, blob=False)  # the blob was never saved with this exit
    out = run_import(legacy.write_db(tmp_path / "arena.db"))

    assert Trade.objects.count() == 6
    assert len(set(Trade.objects.values_list("legacy_id", flat=True))) == 6
    assert "6 trades (1 only in the tables, 2 only in the blob, 3 in both)" in out
    assert set(Position.objects.values_list("status", flat=True)) == {"closed"}
    # Every trade found its position, and each position has its OPEN and its CLOSE.
    assert not Trade.objects.filter(position__isnull=True).exists()
    for position in Position.objects.all():
        assert sorted(position.trades.values_list("kind", flat=True)) == ["CLOSE", "OPEN"]
    audit_clean()


def test_current_paper_orders_keep_prices_fees_pnl_and_quantity(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    position_id = bot.open("BTCUSDT", "LONG", 500, 10, 62500, minute=10, table=False)
    bot.close(position_id, 63000, minute=40, table=False)
    run_import(legacy.write_db(tmp_path / "arena.db"))

    entry, exit_ = Trade.objects.get(kind="OPEN"), Trade.objects.get(kind="CLOSE")
    # legacy size is the margin: quantity = size x leverage / entry price
    assert entry.quantity == exit_.quantity == D("0.08")
    assert (entry.price, entry.margin, entry.leverage, entry.fee, entry.pnl) == (
        D("62500"), D("500"), 10, D("15"), None)
    assert (exit_.price, exit_.fee, exit_.pnl) == (D("63000"), D("15"), D("25"))  # 0.08 x 500 - 15
    position = Position.objects.get()
    assert position.legacy_id == f"order:{entry.legacy_id}"  # a blob-only pair: named after its entry
    assert (position.exit_price, position.realized_pnl, position.quantity) == (D("63000"), D("25"), D("0.08"))


def test_older_orders_pair_entries_with_exits_and_take_the_legacy_fee(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    entry_id, exit_id = bot.older_round_trip("ETHUSDT", "SHORT", 200, 5, 2500, 2400, minute=0)
    run_import(legacy.write_db(tmp_path / "arena.db"))

    entry, exit_ = Trade.objects.get(legacy_id=entry_id), Trade.objects.get(legacy_id=exit_id)
    assert entry.position == exit_.position and entry.position.status == "closed"
    assert (entry.kind, entry.side, entry.price, entry.fee) == ("OPEN", "SHORT", D("2500"), D("6"))
    assert (exit_.kind, exit_.price, exit_.fee, exit_.quantity) == ("CLOSE", D("2400"), D("6"), D("0.4"))
    assert exit_.pnl == D("34")  # (2500 - 2400) x 0.4 - 6


def test_live_fills_keep_their_exchange_ids(tmp_path: Path) -> None:
    legacy = LegacyArena()
    alice = legacy.user("alice")
    bot = legacy.bot("bot_live", alice, legacy.provider(alice), mode="real", balance=950)
    bot.live_fill(1001, "BTCUSDT", "LONG", quote=600, price=60000, minute=1, fee=0.24)
    bot.live_fill(1002, "BTCUSDT", "SHORT", quote=612, price=61200, minute=30, pnl=12, fee=0.25)
    run_import(legacy.write_db(tmp_path / "arena.db"))

    opened, closed = Trade.objects.get(legacy_id="1001"), Trade.objects.get(legacy_id="1002")
    assert (opened.exchange_order_id, opened.kind, opened.side, opened.quantity) == ("1001", "OPEN", "LONG",
                                                                                     D("0.01"))
    # A SELL fill with realized PnL closes the LONG; our pnl is net of the commission.
    assert (closed.exchange_order_id, closed.kind, closed.side, closed.pnl) == ("1002", "CLOSE", "LONG",
                                                                                D("11.75"))
    assert opened.position is None and closed.position is None  # fills are not paired
    audit_clean()


def test_open_positions_come_from_the_blob_and_the_tables(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    held = bot.open("BTCUSDT", "LONG", 500, 10, 60000, minute=10)
    closed = bot.open("ETHUSDT", "LONG", 100, 2, 3000, minute=20)
    bot.close(closed, 3100, minute=30)
    legacy.updated_at = at(40)
    # Opened after the blob's last save: only the tables know it (the process died).
    late = bot.open("SOLUSDT", "SHORT", 150, 4, 150, minute=45)
    bot.blob["portfolio"]["positions"].pop()
    bot.blob["orders"].pop(0)
    bot.blob["portfolio"]["balance"] += 150
    run_import(legacy.write_db(tmp_path / "arena.db"))

    open_ids = set(Position.objects.filter(status="open").values_list("legacy_id", flat=True))
    assert open_ids == {held, late}
    position = Position.objects.get(legacy_id=closed)
    assert (position.status, position.exit_price, position.closed_at) == ("closed", D("3100"), at(30))
    audit_clean()


def test_an_entry_whose_exit_was_lost_is_an_unlinked_fill_and_reported(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    lost = bot.open("BTCUSDT", "LONG", 500, 10, 60000, minute=10, table=False)
    bot.close(lost, 61000, minute=40, table=False)
    bot.blob["orders"].pop(0)  # the exit order never reached either source
    out = run_import(legacy.write_db(tmp_path / "arena.db"))  # exits 0: the difference is explained

    entry = Trade.objects.get()
    assert entry.position is None and entry.legacy_id is not None
    assert f"entry {entry.legacy_id}: no exit was recorded and the blob does not hold it open" in out
    assert "explained: bot_a realized PnL (blob realizedPnl): differs by -68.33333333; the legacy total " \
           "includes the close of 1 position whose exit was never recorded" in out
    audit_clean()


def test_a_blob_log_and_a_table_row_within_a_second_are_one_decision(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    opening = [{"action": "LONG", "symbol": "BTCUSDT", "size": 500, "leverage": 10, "stopLoss": 59000,
                "takeProfit": 65000, "reasoning": "up"}]
    bot.decide(10, opening, ["SUCCESS: Opened LONG BTCUSDT $500 @ 10x"], lag_ms=400)
    bot.decide(15, [], table=False)  # the table write failed
    bot.decide(20, [], blob=False)  # the blob was not saved
    bot.decide(25, [], lag_ms=0)
    bot.decide(25.005, [{"action": "CLOSE", "closePositionId": "pos_1", "reasoning": "done"}], lag_ms=0)
    run_import(legacy.write_db(tmp_path / "arena.db"))

    assert Decision.objects.count() == 5
    first = Decision.objects.get(created_at=at(10))
    assert first.legacy_id == "db:1" and first.prompt == "prompt at 10"  # the blob's own record wins
    assert first.actions == [{"action": "LONG", "symbol": "BTCUSDT", "margin": "500", "leverage": 10,
                              "stop_loss": "59000", "take_profit": "65000", "close_position_id": None,
                              "side": None, "reasoning": "up"}]
    assert json.loads(first.raw_response) == opening and first.success
    assert Decision.objects.filter(legacy_id__startswith="log:").count() == 1


def test_snapshots_come_from_the_table_and_uncovered_value_points(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    position_id = bot.open("BTCUSDT", "LONG", 500, 10, 60000, minute=5, table=False)
    bot.snapshot(10)  # a table row and its value point
    bot.close(position_id, 66000, minute=12, table=False)
    bot.snapshot(20, table=False)  # a value point whose table write failed
    bot.snapshot(30, point=False)  # a table row whose point rolled out of the 300
    run_import(legacy.write_db(tmp_path / "arena.db"))

    assert Snapshot.objects.count() == 3
    point = Snapshot.objects.get(legacy_id__startswith="vh:")
    # A point holds only a total value; realized PnL and counts are derived from the closes.
    assert (point.taken_at, point.total_value, point.balance, point.margin) == (
        at(20), D("10485"), D("10485"), D("0"))
    assert (point.realized_pnl, point.trade_count, point.win_rate) == (D("485"), 1, D("1"))
    row = Snapshot.objects.get(taken_at=at(10))
    assert (row.balance, row.margin, row.total_value) == (D("9500"), D("500"), D("10000"))
    audit_clean()


def test_cooldowns_become_rows(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    bot.blob["symbolCooldowns"] = {"XRPUSDT": int(at(90).timestamp() * 1000)}
    run_import(legacy.write_db(tmp_path / "arena.db"))
    cooldown = Cooldown.objects.get()
    assert (cooldown.bot.legacy_id, cooldown.symbol, cooldown.until) == ("bot_a", "XRPUSDT", at(90))


def test_the_account_gets_a_deposit_margin_locks_and_one_labelled_adjustment(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    done = bot.open("ETHUSDT", "LONG", 1000, 5, 3000, minute=0)
    bot.close(done, 3300, minute=60)  # +500 gross, -30 exit fee; the 30 entry fee is never charged
    held = bot.open("BTCUSDT", "SHORT", 400, 10, 60000, minute=70)
    out = run_import(legacy.write_db(tmp_path / "arena.db"))

    account = Account.objects.get(bot__legacy_id="bot_a")
    assert account.balance == D("10070")  # the legacy's cash: 10000 + 470 - 400 locked
    entries = list(account.entries.order_by("id").values_list("kind", "amount"))
    assert entries == [("deposit", D("10000")), ("margin_lock", D("-400")), ("adjustment", D("470"))]
    lock = account.entries.get(kind="margin_lock")
    assert lock.position.legacy_id == held
    adjustment = account.entries.get(kind="adjustment")
    assert "legacy cash balance 10070.00000000" in adjustment.memo
    assert "entry fees 42.00000000 were recorded by the legacy but never taken" in adjustment.memo
    assert "bot_a: adjustment 470.00000000 -> balance 10070.00000000" in out
    audit_clean()


def test_this_arena_can_close_an_imported_position_and_the_ledger_stays_clean(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    bot.open("BTCUSDT", "LONG", 400, 10, 60000, minute=0)
    run_import(legacy.write_db(tmp_path / "arena.db"))
    position = Position.objects.get(status="open")
    result = position_close(position=position, reason=CloseReason.DECISION, price=D("61500"))
    assert result.closed
    # The import's margin lock is what the engine's margin_release releases.
    assert Entry.objects.filter(position=position, kind__in=["margin_lock", "margin_release"]).count() == 2
    audit_clean()


def test_a_negative_legacy_balance_is_kept(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot(balance=100.0)
    position_id = bot.open("BTCUSDT", "LONG", 90, 50, 60000, minute=0)
    bot.close(position_id, 57000, minute=30)  # liquidation was never enforced on paper
    run_import(legacy.write_db(tmp_path / "arena.db"))
    assert Account.objects.get().balance == D("-127.70000000")  # 10 + 90 - 227.70
    audit_clean()


def test_two_open_positions_on_one_side_arrive_as_the_legacy_held_them(tmp_path: Path) -> None:
    """The legacy allowed two open positions on one symbol and side; ours opens only one,
    so both arrive as they were and the engine refuses a third beside them."""
    legacy, bot = arena_with_bot()
    first = bot.open("BTCUSDT", "LONG", 100, 5, 60000, minute=0)
    second = bot.open("BTCUSDT", "LONG", 100, 5, 61000, minute=5)
    run_import(legacy.write_db(tmp_path / "arena.db"))
    imported = Position.objects.filter(status="open", symbol="BTCUSDT", side="LONG")
    assert sorted(imported.values_list("legacy_id", flat=True)) == sorted([first, second])
    audit_clean()
    Market.objects.update_or_create(symbol="BTCUSDT", defaults={"last_price": D("60500")})
    third = position_open(bot=Bot.objects.get(), symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=5)
    assert third.position is None
    assert any("already" in note and "BTCUSDT" in note for note in third.notes), third.notes
    audit_clean()


def test_positions_are_linked_to_the_decisions_that_opened_them(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    bot.decide(10, [{"action": "LONG", "symbol": "BTCUSDT", "size": 500, "leverage": 10, "reasoning": "up"}])
    position_id = bot.open("BTCUSDT", "LONG", 500, 10, 60000, minute=10)
    bot.decide(20, [])
    run_import(legacy.write_db(tmp_path / "arena.db"))

    position = Position.objects.get(legacy_id=position_id)
    assert position.opening_decision.created_at == at(10)
    assert position.trades.get(kind="OPEN").decision == position.opening_decision


def test_a_closed_table_position_without_any_exit_is_reported_not_invented(tmp_path: Path) -> None:
    legacy, bot = arena_with_bot()
    position_id = bot.open("BTCUSDT", "LONG", 500, 10, 60000, minute=10)
    bot.close(position_id, 61000, minute=40, blob=False, table=False)  # the exit reached neither source
    legacy.positions[-1].update(status="closed", closed_at="2025-11-01T00:40:00.000Z")
    out = run_import(legacy.write_db(tmp_path / "arena.db"))

    assert not Position.objects.exists()
    assert Trade.objects.get().position is None
    assert (f"position {position_id}: closed in the positions table, no exit was recorded in either source"
            in out)
    audit_clean()
