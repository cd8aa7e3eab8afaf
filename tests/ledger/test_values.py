"""The ledger's pure rules: precision, total value, win rate, and the entry kind rules
that the constraints, ``entry_post`` and the audit all derive from."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from ledger.models import Entry, Snapshot
from ledger.services import LedgerError, entry_post
from ledger.snapshots import SnapshotValues, snapshots_write
from ledger.values import MONEY_QUANTUM, money_text, total_value, win_rate
from trading import perps
from trading.models import Position

D = Decimal


def test_the_journal_precision_agrees_with_trading():
    assert MONEY_QUANTUM == perps.MONEY_QUANTUM == D("0.00000001")
    assert money_text(D("1.5")) == "1.50000000" and money_text(None) == "null"


def test_total_value_is_cash_plus_margin_plus_unrealized():
    assert total_value(balance=D("9000"), margin=D("1000"), unrealized=D("-12.5")) == D("9987.5")


@pytest.mark.parametrize(("wins", "closed", "rate"), [(0, 0, "0"), (1, 3, "0.333333"), (2, 3, "0.666667"),
                                                      (3, 3, "1")])
def test_win_rate(wins, closed, rate):
    assert win_rate(wins=wins, closed=closed) == D(rate)


def test_win_rate_refuses_more_wins_than_closes():
    with pytest.raises(ValueError, match="not a rate"):
        win_rate(wins=2, closed=1)


def test_kind_rules_cover_every_kind():
    assert set(Entry.RULES) == set(Entry.Kind.values)
    assert Entry.kinds(sign=+1) == ["deposit", "margin_release"]
    assert Entry.kinds(sign=-1) == ["margin_lock", "fee", "liquidation"]
    assert Entry.kinds(needs_funding_time=True) == ["funding"]


def test_constraints_are_the_kind_conditions():
    constraints = {c.name: c for c in Entry._meta.constraints}
    for name, condition in Entry.kind_conditions().items():
        assert constraints[name].condition == condition


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [*Entry.Kind.values, "bonus"])
@pytest.mark.parametrize("amount", ["-1", "0", "1"])
@pytest.mark.parametrize("linked", [True, False])
def test_service_and_database_refuse_the_same_entries(bot, kind, amount, linked):
    """One rule: ``entry_post`` refuses exactly what the database constraints refuse (the raw row
    takes another funding time: a funding is charged once per position and time)."""
    position = Position.objects.create(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("1"), leverage=1,
                                       quantity=D("1"), entry_price=D("1")) if linked else None
    funding_time = datetime(2026, 1, 1, 8, tzinfo=UTC) if linked else None
    problems = Entry.kind_problems(kind, D(amount), has_position=linked, has_funding_time=linked)
    try:
        with transaction.atomic():
            entry_post(account=bot.account, kind=kind, amount=D(amount), position=position,
                       funding_time=funding_time)
        service_ok = True
    except LedgerError as exc:
        service_ok = False
        assert str(exc) == "; ".join(problems)
    try:
        with transaction.atomic():
            Entry.objects.create(account=bot.account, kind=kind, amount=D(amount), balance_after=D(0),
                                 position=position,
                                 funding_time=funding_time and funding_time.replace(hour=16))
        database_ok = True
    except IntegrityError:
        database_ok = False
    assert service_ok == database_ok == (not problems)


@pytest.mark.django_db
def test_snapshots_write_derives_total_value_and_win_rate(bot):
    at = datetime(2026, 1, 1, tzinfo=UTC)
    (snap,) = snapshots_write(taken_at=at, rows=[SnapshotValues(
        bot_id=bot.pk, balance=D("9000"), margin=D("1000"), unrealized_pnl=D("5"), realized_pnl=D("2"),
        closed=4, wins=1,
    )])
    stored = Snapshot.objects.get(pk=snap.pk)
    assert (stored.taken_at, stored.total_value, stored.trade_count, stored.win_rate) == (
        at, D("10005"), 4, D("0.25"))


def test_the_ledger_imports_nothing_of_ours():
    """``ledger`` is the lowest layer: no imports of arena, bots or trading, no apps.get_model."""
    upward = re.compile(r"^\s*(from|import)\s+(arena|bots|trading)\b|apps\.get_model", re.MULTILINE)
    ledger = Path(__file__).resolve().parents[2] / "ledger"
    offenders = [str(p) for p in ledger.rglob("*.py") if upward.search(p.read_text())]
    assert offenders == []
