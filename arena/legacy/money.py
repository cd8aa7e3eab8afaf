"""Aligning an imported bot's ledger account with the legacy's cash balance.

How the legacy's money is represented here (the decision, and why):

- ``Account.balance`` is cash not locked as margin, and so was the legacy's
  ``portfolio.balance`` (its paper engine took the margin out of the balance on
  open and paid margin + net PnL back on close). The imported balance therefore
  equals the legacy ``portfolio.balance`` exactly (to the journal's 8 places).
- The journal of an imported account is: one **deposit** of the bot's initial
  balance; one **margin_lock** per imported open position (its margin, naming the
  position); and one labelled **adjustment** that brings the balance to the legacy
  figure. The margin locks are what a later close by this arena's engine releases
  (``position_close`` posts a margin_release): without them that release would
  have nothing to release and ``audit_ledger``'s margin check would fail; with
  them the check holds for imported positions from the start.
- The adjustment stands for the whole legacy history at once — the realized PnL of
  every closed trade, net of its exit fee — and for any difference the trades do
  not explain. The legacy recorded a 3 % entry fee on each entry but never took it
  from the balance (a legacy bug, reported, not silently "fixed"): the fees are
  kept on the imported trades, and no fee entries are posted, so the balance stays
  the legacy's. The legacy also let paper balances go negative; so may this one.
- A later run (after more legacy activity) posts margin_lock for newly opened
  positions, margin_release for positions the legacy closed since, and one more
  adjustment for the difference to the legacy's new balance — nothing when nothing
  changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arena.legacy.botdata import BotData
from arena.legacy.config import Context
from arena.legacy.report import usdt
from arena.legacy.writer import Written
from bots.models import Bot
from ledger.models import Account, Entry
from ledger.services import Posting, entries_post, money
from ledger.values import MONEY_QUANTUM


@dataclass
class Breakdown:
    initial: Decimal
    realized: Decimal
    entry_fees: Decimal
    open_margin: Decimal
    closes: int

    def residual(self, cash: Decimal) -> Decimal:
        return cash - (self.initial + self.realized - self.open_margin)


def breakdown(bot: Bot, data: BotData) -> Breakdown:
    trades = data.trades
    closes = [money(t.pnl) for t in trades.trades if t.kind == "CLOSE" and t.pnl is not None]
    return Breakdown(
        initial=money(bot.initial_balance), realized=sum(closes, Decimal(0)),
        entry_fees=sum((money(t.fee) for t in trades.trades if t.kind == "OPEN"), Decimal(0)),
        open_margin=sum((money(p.source.margin) for p in trades.positions.values() if p.status == "open"),
                        Decimal(0)),
        closes=len(closes),
    )


def account_align(ctx: Context, bot: Bot, data: BotData, written: Written) -> None:
    account = Account.objects.filter(bot=bot).first()
    if account is None:
        account = Account.objects.create(bot=bot, balance=Decimal(0), created_at=bot.created_at)
        entries_post(account=account, announce=False, created_at=bot.created_at, postings=[Posting(
            Entry.Kind.DEPOSIT, money(bot.initial_balance), memo="Initial deposit (legacy import)")])
        written.counts["journal entries"] += 1
    for position in written.opened:
        entries_post(account=account, announce=False, created_at=position.opened_at, postings=[Posting(
            Entry.Kind.MARGIN_LOCK, -position.margin, position,
            memo=f"legacy import: margin of open position {position.legacy_id}")])
        written.counts["journal entries"] += 1
    for position in written.closed:
        if Entry.objects.filter(position=position, kind=Entry.Kind.MARGIN_LOCK).exists():
            entries_post(account=account, announce=False, created_at=position.closed_at, postings=[Posting(
                Entry.Kind.MARGIN_RELEASE, position.margin, position,
                memo=f"legacy import: position {position.legacy_id} closed in the legacy")])
            written.counts["journal entries"] += 1
    target = money(data.figures.balance if data.figures.balance is not None else account.balance)
    difference = target - account.balance
    parts = breakdown(bot, data)
    if difference != 0:
        entries_post(account=account, announce=False, created_at=ctx.now, postings=[Posting(
            Entry.Kind.ADJUSTMENT, difference, memo=_memo(target, parts))])
        written.counts["journal entries"] += 1
        ctx.report.add("money", f"{bot.legacy_id}: adjustment {usdt(difference)} -> balance {usdt(target)} "
                                f"({data.figures.balance_source}); {_why(target, parts)}")


def _memo(target: Decimal, parts: Breakdown) -> str:
    return f"legacy import: align with the legacy cash balance {usdt(target)}; {_why(target, parts)}"


def _why(target: Decimal, parts: Breakdown) -> str:
    residual = parts.residual(target)
    # Each close was rounded to 8 places here; the legacy summed unrounded floats.
    rounding = MONEY_QUANTUM * (parts.closes + 1)
    rest = ("the rest is rounding" if abs(residual) <= rounding
            else f"{usdt(residual)} is not explained by the legacy trades")
    return (f"history: initial {usdt(parts.initial)} + realized PnL {usdt(parts.realized)} of "
            f"{parts.closes} closed trades (net of exit fees) - margin {usdt(parts.open_margin)} of open "
            f"positions = {usdt(parts.initial + parts.realized - parts.open_margin)}; {rest} "
            f"({usdt(residual)}); entry fees {usdt(parts.entry_fees)} were recorded by the legacy but never "
            f"taken from its balance, so none are charged here")
