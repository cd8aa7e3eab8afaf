"""Reconciliation's money: the exchange's income records into the journal, and the balance
check (``trading.services.reconcile``).

Every income record is kept once (``ExchangeIncome``, unique per wallet and tranId) in its
own transaction with the bot's account locked, and says what it is in the journal:

- commission, realized PnL and insurance-fund charges of a fill this arena recorded: the
  trade explains them (its entries were written with the exchange's figures);
- funding: a ``funding`` entry on the position open at that time;
- transfers: a ``deposit`` in, an ``adjustment`` out (a withdrawal);
- anything else, or funding with no position: an ``adjustment`` and a discrepancy.

A record of a fill this arena has not recorded *yet* (a turn between its order and its
write) is left for a later run while it is young; runs read back over an overlap, so it is
met again.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, Sum

from ledger.models import Account, Entry
from ledger.services import Posting, entries_post, money
from trading.models import Discrepancy, ExchangeIncome, Position, Trade, Wallet

# Runs read income from the newest record kept, less this overlap (de-duplicated by tranId).
OVERLAP = timedelta(minutes=10)
# A fill's record younger than this may belong to a write in progress: left for a later run.
GRACE = timedelta(minutes=2)
TRADE_KINDS = {"COMMISSION", "REALIZED_PNL", "INSURANCE_CLEAR"}
CENT = Decimal("0.01")


def cursor(wallet: Wallet, bot: Any) -> datetime:
    """Where the next run reads income from."""
    newest = ExchangeIncome.objects.filter(wallet=wallet).aggregate(t=Max("time"))["t"]
    return (newest - OVERLAP) if newest else bot.created_at


def _trade_of(run: Any, record: Any, found: Any, by_trade_id: dict[str, int]) -> int | None:
    if record.trade_id in by_trade_id:
        return by_trade_id[record.trade_id]
    # A trade whose fill ids were not read when it was recorded: by its exchange order.
    order_ids = [t.order_id for rows in found.trades.values() for t in rows if t.trade_id == record.trade_id]
    if order_ids:
        return Trade.objects.filter(bot_id=run.bot.pk, exchange_order_id=order_ids[0]).values_list(
            "pk", flat=True).first()
    return None


def _position_at(bot_id: int, symbol: str, at: datetime) -> Position | None:
    return Position.objects.filter(bot_id=bot_id, symbol=symbol, opened_at__lte=at).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=at)).order_by("-opened_at").first()


def income_apply(run: Any, found: Any) -> None:
    records = [r for r in found.income if r.asset == "USDT" or r.income_type == "TRANSFER"]
    known = set(ExchangeIncome.objects.filter(wallet=run.wallet, tran_id__in=[r.tran_id for r in records])
                .values_list("tran_id", flat=True))
    since = min((r.time for r in records), default=run.now) - timedelta(days=1)
    by_trade_id = {}
    for pk, ids in Trade.objects.filter(bot_id=run.bot.pk, executed_at__gte=since).exclude(
            exchange_trade_ids=[]).values_list("pk", "exchange_trade_ids"):
        by_trade_id.update({str(i): pk for i in ids or []})
    for record in sorted(records, key=lambda r: (r.time, r.tran_id)):
        if record.tran_id in known:
            continue
        trade_id = _trade_of(run, record, found, by_trade_id) if record.income_type in TRADE_KINDS else None
        if record.income_type in TRADE_KINDS and trade_id is None and run.now - record.time < GRACE:
            run.deferred += 1
            continue
        _one(run, record, trade_id)


def _one(run: Any, record: Any, trade_id: int | None) -> None:
    amount = money(record.amount)
    row = ExchangeIncome(
        wallet=run.wallet, bot_id=run.bot.pk, tran_id=record.tran_id, income_type=record.income_type,
        symbol=record.symbol, amount=amount, asset=record.asset, time=record.time,
        exchange_trade_id=record.trade_id, info=(record.info or "")[:200], trade_id=trade_id)
    try:
        with transaction.atomic():
            account = Account.objects.select_for_update().get(bot_id=run.bot.pk)
            row.save()  # unique per wallet and tranId: a concurrent run kept it first
            if trade_id is not None or amount == 0:
                return
            posting, unexplained = _posting(run, record, amount)
            entry = entries_post(account=account, postings=[posting], created_at=record.time, locked=True)[0]
            row.entry = entry
            if unexplained:
                row.discrepancy = run.flag(
                    Discrepancy.Kind.INCOME, f"income:{record.tran_id}", unexplained, symbol=record.symbol,
                    amount=amount, entry=entry)
            row.save(update_fields=["entry", "discrepancy"])
    except IntegrityError:
        return


def _posting(run: Any, record: Any, amount: Decimal) -> tuple[Posting, str]:
    """The journal's posting for an income record and, when unexplained, why."""
    where = f" {record.symbol}" if record.symbol else ""
    memo = f"exchange {record.income_type.lower()}{where} (tranId {record.tran_id})"
    if record.income_type == "FUNDING_FEE":
        position = _position_at(run.bot.pk, record.symbol, record.time)
        if position is not None:
            return Posting(Entry.Kind.FUNDING, amount, position, funding_time=record.time, memo=memo), ""
        return Posting(Entry.Kind.ADJUSTMENT, amount, memo=memo), (
            f"Funding of {amount} USDT on {record.symbol} at {record.time:%Y-%m-%d %H:%M} UTC, when this "
            "arena "
            "held no position there: journalled as an adjustment.")
    if record.income_type == "TRANSFER":
        kind = Entry.Kind.DEPOSIT if amount > 0 else Entry.Kind.ADJUSTMENT
        return Posting(kind, amount, memo=f"{memo}: {'deposit' if amount > 0 else 'withdrawal'}"), ""
    if record.income_type in TRADE_KINDS:
        return Posting(Entry.Kind.ADJUSTMENT, amount, memo=memo), (
            f"{record.income_type} of {amount} USDT for fill {record.trade_id or '(none)'} on "
            f"{record.symbol}, "
            "a fill this arena did not record: journalled as an adjustment.")
    return Posting(Entry.Kind.ADJUSTMENT, amount, memo=memo), (
        f"The exchange reported {record.income_type} of {amount} USDT on {record.symbol or 'the account'}: "
        "journalled as an adjustment.")


def balance_check(run: Any, found: Any) -> None:
    """The exchange's wallet balance against the journal's; a gap of a cent or more is a
    flagged adjustment. Not compared while a trade is being written (it would be counted
    on one side only)."""
    exchange = money(found.balance)
    run.row.exchange_balance = exchange
    written = Trade.objects.filter(bot_id=run.bot.pk, pk__gt=run.start_trade).exclude(pk__in=run.own_trades)
    if run.deferred or written.exists():
        run.notes.append("balances not compared: a fill was being recorded during the run")
        return
    with transaction.atomic():
        account = Account.objects.select_for_update().get(bot_id=run.bot.pk)
        held = Position.objects.filter(bot_id=run.bot.pk, status=Position.Status.OPEN).aggregate(
            m=Sum("margin"))["m"] or Decimal(0)
        ours = account.balance + held
        run.row.ledger_balance = ours
        gap = exchange - ours
        if abs(gap) < CENT:
            if gap:
                run.notes.append(f"balances differ by {gap} USDT, under a cent: left as it is")
            return
        memo = f"the exchange's balance is {exchange} USDT, the journal's {ours}"
        entry = entries_post(account=account, postings=[Posting(Entry.Kind.ADJUSTMENT, gap, memo=memo)],
                             created_at=run.now, locked=True)[0]
        run.flag(Discrepancy.Kind.BALANCE, f"balance:{run.row.pk}",
                 f"The exchange reports a wallet balance of {exchange} USDT and the journal {ours} USDT "
                 f"(cash plus margin in open positions): {gap:+} USDT nobody's records explain, journalled "
                 "as a flagged adjustment.", amount=gap, entry=entry)
