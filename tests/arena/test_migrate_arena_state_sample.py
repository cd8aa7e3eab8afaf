"""``migrate_arena_state`` against the legacy sample in ../shared/legacy/sample, checked
against its expected.json (what a correct import yields for it)."""
from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Sum

from arena.models import User
from bots.models import Bot, LLMProvider
from ledger.models import Account, Entry, Event
from tests.arena.legacy_factory import row_counts, run_import
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db

SAMPLE = Path(settings.BASE_DIR).parent / "shared" / "legacy" / "sample"
if not (SAMPLE / "expected.json").exists():
    pytest.skip(f"the legacy sample is not at {SAMPLE}", allow_module_level=True)
EXPECTED = json.loads((SAMPLE / "expected.json").read_text())


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def imported() -> str:
    return run_import(SAMPLE / "arena.db")


def test_users_and_providers(imported: str) -> None:
    assert User.objects.filter(legacy_id__isnull=False).count() == EXPECTED["users"]
    assert LLMProvider.objects.filter(legacy_id__isnull=False).count() == EXPECTED["providers"]


@pytest.mark.parametrize("bot_id", sorted(EXPECTED["bots"]))
def test_each_bot_as_expected(imported: str, bot_id: str) -> None:
    expected = EXPECTED["bots"][bot_id]
    bot = Bot.objects.get(legacy_id=bot_id)
    assert (bot.owner.username, bot.name, bot.mode, bot.is_active, bot.is_paused) == (
        expected["owner"], expected["name"], expected["mode"], expected["active"], expected["paused"])
    trades = Trade.objects.filter(bot=bot)
    assert trades.count() == expected["trades"]
    assert (f"{expected['trades']} trades ({expected['trades_only_in_tables']} only in the tables, "
            f"{expected['trades_only_in_blob']} only in the blob") in imported
    for trade_id in expected["dropped_from_blob"] + [expected["lost_in_table"] or ""]:
        assert trade_id == "" or trades.filter(legacy_id=trade_id).exists()
    open_positions = Position.objects.filter(bot=bot, status="open")
    assert open_positions.count() == expected["open_positions"]
    assert sorted(open_positions.values_list("legacy_id", flat=True)) == sorted(expected["open_position_ids"])
    assert bot.decisions.count() == expected["decisions"]
    assert bot.snapshots.count() == expected["snapshot_rows_in_table"]
    assert Account.objects.get(bot=bot).balance == Decimal(str(expected["cash_balance"]))
    realized = trades.filter(kind="CLOSE").aggregate(total=Sum("pnl"))["total"]
    assert abs(realized - Decimal(str(expected["realized_pnl"]))) < Decimal("0.000001")


def test_the_ledger_is_clean_and_the_proof_holds(imported: str) -> None:
    assert "Proof: every figure matches or its difference is explained." in imported
    call_command("audit_ledger", stdout=StringIO())  # SystemExit(1) on any violation


def test_again_and_from_the_json_blob_nothing_new(imported: str) -> None:
    before = row_counts()
    assert "Nothing new" in run_import(SAMPLE / "arena.db")
    assert "Nothing new" in run_import(SAMPLE / "arena_state.json")
    assert row_counts() == before
    assert "Proof: every figure matches" in run_import(SAMPLE / "arena.db", "--verify")


def test_every_trade_the_data_allows_is_linked_to_its_position(imported: str) -> None:
    assert not Trade.objects.filter(position__isnull=True).exists()
    for position in Position.objects.filter(status="closed"):
        close = position.trades.get(kind="CLOSE")
        assert (position.exit_price, position.realized_pnl) == (close.price, close.pnl)


def test_the_import_rewrites_history_without_announcing_it(imported: str) -> None:
    """Imported money is history, not news: no balance change reaches the live stream."""
    assert Entry.objects.exists()
    assert not Event.objects.filter(type="balance_changed").exists()
