"""``migrate_arena_state`` run after run: idempotent, incremental after more legacy
activity, ``--dry-run`` and ``--verify``, and the progress bar on a terminal only."""
from __future__ import annotations

from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bots.models import Decision
from ledger.models import Account, Entry, Snapshot
from tests.arena.legacy_factory import LegacyArena, LegacyBot, row_counts, run_import
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db

D = Decimal


def audit_clean() -> None:
    call_command("audit_ledger", stdout=StringIO())  # SystemExit(1) on any violation


def arena() -> tuple[LegacyArena, LegacyBot, str]:
    legacy = LegacyArena()
    alice = legacy.user("alice")
    bot = legacy.bot("bot_a", alice, legacy.provider(alice))
    done = bot.open("ETHUSDT", "LONG", 1000, 5, 3000, minute=0)
    bot.close(done, 3300, minute=60)
    held = bot.open("BTCUSDT", "SHORT", 400, 10, 60000, minute=70)
    for minute in (0, 60, 70):
        bot.decide(minute, [])
        bot.snapshot(minute + 1)
    return legacy, bot, held


def test_a_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    legacy, _, _ = arena()
    path = legacy.write_db(tmp_path / "arena.db")
    run_import(path)
    before = row_counts()
    out = run_import(path)
    assert "Nothing new: every legacy record was already imported; nothing was changed." in out
    assert row_counts() == before


def test_a_run_after_more_legacy_activity_imports_only_what_is_new(tmp_path: Path) -> None:
    legacy, bot, held = arena()
    path = legacy.write_db(tmp_path / "arena.db")
    run_import(path)
    before = row_counts()
    first_trades = set(Trade.objects.values_list("pk", flat=True))

    bot.close(held, 59000, minute=100)  # 1000 x 0.0666… gross on the short, -12 exit fee
    fresh = bot.open("SOLUSDT", "LONG", 300, 3, 150, minute=110)
    bot.decide(100, [{"action": "CLOSE", "closePositionId": held, "reasoning": "take it"}])
    bot.snapshot(111)
    out = run_import(legacy.write_db(path))

    after = row_counts()
    assert after["Trade"] - before["Trade"] == 2 and after["Position"] - before["Position"] == 1
    assert after["Decision"] - before["Decision"] == 1 and after["Snapshot"] - before["Snapshot"] == 1
    assert set(Trade.objects.values_list("pk", flat=True)) > first_trades  # the old rows are the same rows
    closed = Position.objects.get(legacy_id=held)
    assert (closed.status, closed.exit_price, closed.realized_pnl) == ("closed", D("59000"), D("54.66666667"))
    assert Position.objects.get(legacy_id=fresh).status == "open"
    account = Account.objects.get()
    assert account.balance == D(str(bot.blob["portfolio"]["balance"])).quantize(D("0.00000001"))
    new_entries = list(account.entries.order_by("id").values_list("kind", "amount"))[3:]
    assert [kind for kind, _ in new_entries] == ["margin_lock", "margin_release", "adjustment"]
    assert new_entries[0][1] == D("-300") and new_entries[1][1] == D("400")
    assert abs(new_entries[2][1] - D("54.66666667")) <= D("0.00000001")  # the realized PnL since
    assert "Written:" in out and "Nothing new" not in out
    audit_clean()
    assert "Nothing new" in run_import(path)


def test_dry_run_prints_the_report_and_commits_nothing(tmp_path: Path) -> None:
    legacy, _, _ = arena()
    before = row_counts()
    out = run_import(legacy.write_db(tmp_path / "arena.db"), "--dry-run")
    assert "(dry run: nothing was committed)" in out
    assert "Written: 1 bots" in out and "Proof: every figure matches" in out
    assert row_counts() == before


def test_verify_alone_compares_without_writing(tmp_path: Path) -> None:
    legacy, _, _ = arena()
    path = legacy.write_db(tmp_path / "arena.db")
    with pytest.raises(CommandError, match="the proof found differences it cannot explain; nothing was "
                                           r"imported \(--verify\)"):
        run_import(path, "--verify")
    assert row_counts()["Bot"] == 0
    run_import(path)
    out = run_import(path, "--verify")
    assert "Proof: every figure matches or its difference is explained." in out


def test_verify_fails_on_a_difference_nobody_explains(tmp_path: Path) -> None:
    legacy, _, _ = arena()
    path = legacy.write_db(tmp_path / "arena.db")
    run_import(path)
    Snapshot.objects.filter(legacy_id="db:1").delete()
    Decision.objects.filter(legacy_id="db:1").delete()
    with pytest.raises(CommandError):
        out = StringIO()
        call_command("migrate_arena_state", str(path), "--verify", stdout=out)
    report = out.getvalue()
    assert "1 legacy decisions are missing here" in report and "1 legacy snapshots are missing here" in report


def test_the_journal_is_never_rewritten_by_a_rerun(tmp_path: Path) -> None:
    legacy, _, _ = arena()
    path = legacy.write_db(tmp_path / "arena.db")
    run_import(path)
    entries = list(Entry.objects.order_by("id").values_list("id", "amount", "balance_after"))
    run_import(path)
    assert list(Entry.objects.order_by("id").values_list("id", "amount", "balance_after")) == entries


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    legacy, _, _ = arena()
    path = legacy.write_db(tmp_path / "arena.db")
    piped = StringIO()
    call_command("migrate_arena_state", str(path), "--dry-run", stdout=piped)
    assert "\r[" not in piped.getvalue()
    terminal = Terminal()
    call_command("migrate_arena_state", str(path), "--dry-run", stdout=terminal)
    assert "\r[##############################] 100% bot_a" in terminal.getvalue()


def test_a_live_position_read_back_under_a_new_id_is_the_same_position(tmp_path: Path) -> None:
    legacy = LegacyArena()
    alice = legacy.user("alice")
    bot = legacy.bot("bot_live", alice, legacy.provider(alice), mode="real", balance=950)
    position = {"id": "BTCUSDT_1762000000000", "symbol": "BTCUSDT", "type": "LONG", "entryPrice": 60000,
                "size": 120, "leverage": 5, "liquidationPrice": 48500, "pnl": 3.5}
    bot.blob["portfolio"].update(positions=[position], balance=830)
    path = legacy.write_db(tmp_path / "arena.db")
    run_import(path)
    # The next exchange read: a new id, a slightly different average price and margin.
    position.update(id="BTCUSDT_1762000300000", entryPrice=60010.5, size=121.2, pnl=-1.0)
    out = run_import(legacy.write_db(path))
    assert "Nothing new" in out
    held = Position.objects.get(status="open")
    assert (held.legacy_id, held.margin) == ("BTCUSDT_1762000000000", D("120"))
    audit_clean()
