"""Funding payments on open positions, every 8 hours (00:00, 08:00, 16:00 UTC).

Isolated margin: funding settles against the position's own margin, as on
Binance. A payment moves money between the margin and the account's cash and
is journalled as a ``funding`` entry plus the matching margin entry, so the
cash balance and every position's margin stay auditable. The unique
(position, funding_time) constraint makes each payment happen once.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger.events import event_append, events_batched
from ledger.models import Entry
from ledger.services import Posting, entries_post, money
from trading import perps
from trading.models import PAPER_ENGINE, CloseReason, Market, Position
from trading.services.positions import _lock_account_of, liquidation_price_for, position_close


@dataclass(frozen=True)
class FundingResult:
    position_id: int
    amount: Decimal
    liquidated: bool = False


def funding_apply(
    *, funding_time: datetime, rates: Mapping[str, Decimal], marks: Mapping[str, Decimal],
    now: datetime | None = None,
) -> list[FundingResult]:
    """Charge or credit ``funding_time``'s funding to every position open at that time,
    written at ``now`` (default: the clock; a run that is late writes later than it is due).

    Idempotent: a position already charged for ``funding_time`` is skipped, so
    the task may run late, twice, or in two workers at once.
    """
    now = now or timezone.now()
    results = []
    positions = Position.objects.filter(
        PAPER_ENGINE, status=Position.Status.OPEN, opened_at__lt=funding_time, symbol__in=list(rates)
    ).exclude(entries__kind=Entry.Kind.FUNDING, entries__funding_time=funding_time)
    for position_id, symbol in positions.order_by("id").values_list("id", "symbol"):
        if symbol not in marks:
            continue
        result = _apply_one(position_id, funding_time, rates[symbol], marks[symbol], now)
        if result is not None:
            results.append(result)
    return results


def _apply_one(
    position_id: int, funding_time: datetime, rate: Decimal, mark: Decimal, now: datetime
) -> FundingResult | None:
    try:
        with transaction.atomic(), events_batched():
            account = _lock_account_of(position_id)
            position = Position.objects.select_for_update().get(pk=position_id)
            if position.status != Position.Status.OPEN:
                return None
            amount = money(perps.funding_payment(position.side, mark, position.quantity, rate))
            if amount == 0:
                return None
            if amount < 0 and -amount >= position.margin:
                # The payment would eat the whole margin: the position is liquidated.
                liquidated = True
            else:
                liquidated = False
                _settle(account, position, amount, funding_time, rate, now)
    except IntegrityError:
        # Another worker charged this position for this funding time first.
        return None
    if liquidated:
        position_close(position=position_id, reason=CloseReason.LIQUIDATION,
                       price=position.liquidation_price or mark, now=now)
    return FundingResult(position_id=position_id, amount=amount, liquidated=liquidated)


def _settle(account, position: Position, amount: Decimal, funding_time: datetime, rate: Decimal,
            now: datetime) -> None:
    memo = f"funding {position.symbol} at rate {rate}"
    funding = Posting(Entry.Kind.FUNDING, amount, position, funding_time=funding_time, memo=memo)
    if amount < 0:
        # Paid out of the isolated margin: release it to cash, then pay from cash.
        postings = [Posting(Entry.Kind.MARGIN_RELEASE, -amount, position, memo=memo), funding]
    else:
        # Received into the isolated margin: credit cash, then lock it to the position.
        postings = [funding, Posting(Entry.Kind.MARGIN_LOCK, -amount, position, memo=memo)]
    entries_post(account=account, postings=postings, locked=True, created_at=now)
    position.margin += amount
    position.liquidation_price = liquidation_price_for(
        symbol=position.symbol, side=position.side, entry_price=position.entry_price,
        quantity=position.quantity, margin=position.margin,
    )
    position.save(update_fields=["margin", "liquidation_price"])
    event_append("funding_applied", {
        "bot": position.bot_id, "position": position.pk, "symbol": position.symbol, "amount": amount,
        "funding_time": funding_time,
    }, bot_id=position.bot_id, now=now)


def funding_due_apply(*, now: datetime) -> list[FundingResult]:
    """Apply the latest funding time's payments with the markets' funding rates and mark
    prices. Run every minute: ``funding_apply`` is idempotent, so only positions not yet
    charged for that funding time pay."""
    markets = Market.objects.filter(funding_rate__isnull=False, mark_price__isnull=False)
    rates = dict(markets.values_list("symbol", "funding_rate"))
    marks = dict(markets.values_list("symbol", "mark_price"))
    return funding_apply(funding_time=perps.last_funding_time(now), rates=rates, marks=marks, now=now)
