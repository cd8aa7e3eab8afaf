"""Writing one bot's merged legacy history: positions, trades, decisions, snapshots,
cooldowns and the learning summary. Every row carries its legacy id, and rows whose
id is already here are skipped, so a second run writes nothing and a later run
writes only what is new. Money is aligned afterwards by ``arena.legacy.money``.
"""
from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db.models import OuterRef, Q, Subquery

from arena.legacy import bulk, mapping
from arena.legacy import known as earlier
from arena.legacy.botdata import BotData
from arena.legacy.config import Context
from arena.legacy.history import PositionPlan
from arena.legacy.history import close_enough as _close
from arena.legacy.records import LegacyDecision, LegacySnapshot, LegacyTrade
from arena.legacy.values import Where
from bots.models import Bot, Decision, LearningSummary
from ledger.models import Snapshot
from ledger.services import money
from trading.models import Cooldown, Position, Trade

PRICE_PLACES = Decimal("0.000000000001")
SAME_MOMENT = timedelta(seconds=1)
MAX_QUANTITY = Decimal("1e17")  # trading's QUANTITY and PRICE columns: 30 digits, 12 of them decimals
RATE_PLACES = Decimal("0.000001")


def price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN)


def _clean(value: Any) -> Any:
    """PostgreSQL refuses NUL characters in text and JSON; the legacy stored model output raw."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


@dataclass
class Written:
    """What the writer did for one bot, for the money step and the proof."""

    positions: dict[str, Position] = field(default_factory=dict)  # legacy key → row
    opened: list[Position] = field(default_factory=list)  # new open positions (need a margin lock)
    closed: list[Position] = field(default_factory=list)  # open before, closed now (release it)
    decisions_present: int = 0
    snapshots_present: int = 0
    counts: Counter = field(default_factory=Counter)


class BotWriter:
    def __init__(self, ctx: Context, bot: Bot, data: BotData) -> None:
        self.ctx = ctx
        self.bot = bot
        self.data = data
        self.done = Written()
        self.existing_keys: set[str] = set()
        self.opens: list[tuple[datetime, str, set[tuple[str, str]]]] = []  # decisions that opened

    def run(self) -> Written:
        self._positions()
        self._trades()
        self._decisions()
        self._opening_decisions()
        self._snapshots()
        self._cooldowns()
        self._summary()
        return self.done

    def _note(self, line: str) -> None:
        self.ctx.report.add("history notes", f"{self.bot.legacy_id}: {line}")

    # --- positions ---------------------------------------------------------------------

    def _positions(self) -> None:
        plans = self.data.trades.positions
        existing = {p.legacy_id: p for p in Position.objects.filter(bot=self.bot, legacy_id__isnull=False)}
        self.existing_keys = set(existing)
        live_open = {(p.symbol, p.side): p for p in existing.values()
                     if p.status == Position.Status.OPEN and self.data.live}
        new = []
        for key, plan in plans.items():
            row = existing.get(key)
            if row is None and plan.source.live and plan.status == "open":
                # Live positions were re-read from the exchange under a new id every refresh,
                # with the exchange's moving numbers: the open one on that side is this one.
                row = live_open.get((plan.source.symbol, plan.source.side))
            elif row is not None:
                self._same_position(row, plan)
            if row is None:
                new.append((key, self._position(key, plan)))
                continue
            self.done.positions[key] = row
            if row.status == Position.Status.OPEN and plan.status == "closed":
                self._close(row, plan)
        self.ctx.current = f"bot {self.bot.legacy_id!r} positions"
        Position.objects.bulk_create([row for _, row in new], batch_size=500)
        for key, row in new:
            self.done.positions[key] = row
            if row.status == Position.Status.OPEN:
                self.done.opened.append(row)
        self.done.counts["positions"] += len(new)
        kept = {row.pk for row in self.done.positions.values()}
        for row in existing.values():
            if row.status == Position.Status.OPEN and row.pk not in kept:
                self._note(f"position {row.legacy_id} was open at an earlier import and the legacy no longer "
                           "holds it open, but recorded no exit: left open here, close it by hand")

    def _position(self, key: str, plan: PositionPlan) -> Position:
        source = plan.source
        closed = plan.status == "closed"
        return Position(
            bot=self.bot, symbol=source.symbol, side=source.side,
            status=Position.Status.CLOSED if closed else Position.Status.OPEN,
            margin=money(source.margin), leverage=source.leverage,
            quantity=self._quantity(source.quantity, key),
            entry_price=price(source.entry_price),
            liquidation_price=price(source.liquidation_price) if source.liquidation_price else None,
            stop_loss=price(source.stop_loss) if source.stop_loss else None,
            take_profit=price(source.take_profit) if source.take_profit else None,
            unrealized_pnl=Decimal(0) if closed else money(source.unrealized_pnl),
            opened_at=plan.opened_at or self.ctx.now, closed_at=plan.closed_at if closed else None,
            exit_price=price(plan.exit_price) if closed and plan.exit_price else None,
            realized_pnl=money(plan.realized_pnl) if closed and plan.realized_pnl is not None else None,
            legacy_id=key,
        )

    def _quantity(self, value: Decimal, key: str) -> Decimal:
        return _amount(value, self.data.trades.positions[key].source.where, "its quantity (size x leverage "
                       "/ entry price)")

    def _same_position(self, row: Position, plan: PositionPlan) -> None:
        source = plan.source
        same = ((row.symbol, row.side, row.leverage) == (source.symbol, source.side, source.leverage)
                and _close(row.margin, source.margin) and _close(row.entry_price, source.entry_price))
        if not same or (row.status == Position.Status.CLOSED and plan.status == "open"):
            raise source.where.error(
                f"position {row.legacy_id} was imported earlier as a {row.status} {row.side} {row.symbol} "
                f"x{row.leverage}, margin {row.margin} at {row.entry_price}; the legacy now says "
                f"{plan.status} {source.side} {source.symbol} x{source.leverage}, margin {source.margin} "
                f"at {source.entry_price}")

    def _close(self, row: Position, plan: PositionPlan) -> None:
        row.status, row.closed_at = Position.Status.CLOSED, plan.closed_at
        row.exit_price = price(plan.exit_price) if plan.exit_price else None
        row.realized_pnl = money(plan.realized_pnl) if plan.realized_pnl is not None else None
        row.unrealized_pnl = Decimal(0)
        self.ctx.current = f"bot {self.bot.legacy_id!r} position {row.legacy_id!r}"
        row.save(update_fields=["status", "closed_at", "exit_price", "realized_pnl", "unrealized_pnl"])
        self.done.closed.append(row)
        self.done.counts["positions closed"] += 1

    # --- trades ------------------------------------------------------------------------

    def _trades(self) -> None:
        history = self.data.trades
        existing = {t.legacy_id: t for t in Trade.objects.filter(bot=self.bot, legacy_id__isnull=False)
                    .only("id", "legacy_id", "kind", "side", "symbol", "price", "position_id")}
        new, relinked = [], []
        for trade in history.trades:
            key = history.links.get(trade.id)
            position = self.done.positions.get(key) if key else None
            row = existing.get(trade.id)
            if row is None:
                new.append(self._trade(trade, position))
                continue
            if (row.kind, row.side, row.symbol) != (trade.kind, trade.side, trade.symbol) or not _close(
                    row.price, trade.price):
                raise trade.where.error(
                    f"trade {trade.id} was imported earlier as a {row.kind} {row.side} {row.symbol} at "
                    f"{row.price}; the legacy now says {trade.kind} {trade.side} {trade.symbol} at "
                    f"{trade.price}")
            if row.position_id is None and position is not None:
                row.position = position
                relinked.append(row)
        self.ctx.current = f"bot {self.bot.legacy_id!r} trades"
        bulk.insert(new)
        Trade.objects.bulk_update(relinked, ["position"], batch_size=500)
        self.done.counts["trades"] += len(new)
        self.done.counts["trades linked"] += len(relinked)
        for key, line in history.unresolved:
            if key not in self.done.positions and key not in self.existing_keys:
                self._note(line)

    def _trade(self, trade: LegacyTrade, position: Position | None) -> Trade:
        quantity = _amount(self.data.trades.quantity(trade), trade.where,
                           "its quantity (size x leverage / price)")
        _amount(trade.price, trade.where, "its price")
        return Trade(
            bot=self.bot, position=position, kind=trade.kind, side=trade.side, symbol=trade.symbol,
            price=price(trade.price), quantity=quantity, margin=money(trade.margin), leverage=trade.leverage,
            fee=money(trade.fee), pnl=money(trade.pnl) if trade.pnl is not None else None,
            executed_at=trade.at, legacy_id=trade.id, exchange_order_id=trade.id if trade.live else None,
        )

    # --- decisions and snapshots -------------------------------------------------------

    def _decisions(self) -> None:
        for batch, blob_only in self.data.decision_batches():
            known = set(Decision.objects.filter(bot=self.bot, legacy_id__in=[d.key for d in batch])
                        .values_list("legacy_id", flat=True))
            if blob_only:
                known |= earlier.decisions(self.bot, batch)
            new = [self._decision(d) for d in batch if d.key not in known]
            self.ctx.current = f"bot {self.bot.legacy_id!r} decisions"
            bulk.insert(new)
            self.done.decisions_present += len(batch)
            self.done.counts["decisions"] += len(new)
            self.opens.extend((d.at, d.key, _opened(d.decisions)) for d in batch if _opened(d.decisions))

    def _opening_decisions(self) -> None:
        """Link the positions this run created to the decisions that opened them, so a
        prompt's recent decisions show their outcomes: the legacy opened a position in
        the same instant it logged the decision (``pos_<ms>`` = the log's time)."""
        created = [p for p in self.done.positions.values() if p.legacy_id not in self.existing_keys]
        if not created or not self.opens:
            return
        self.opens.sort()
        times = [at for at, _, _ in self.opens]
        chosen: dict[Position, str] = {}
        for position in created:
            low = bisect.bisect_left(times, position.opened_at - SAME_MOMENT)
            high = bisect.bisect_right(times, position.opened_at + SAME_MOMENT)
            for _, key, sides in self.opens[low:high]:
                if (position.symbol, position.side) in sides:
                    chosen[position] = key
                    break
        pks = dict(Decision.objects.filter(bot=self.bot, legacy_id__in=set(chosen.values()))
                   .values_list("legacy_id", "pk"))
        for position, key in chosen.items():
            position.opening_decision_id = pks.get(key)
        linked = [p for p in chosen if p.opening_decision_id]
        self.ctx.current = f"bot {self.bot.legacy_id!r} opening decisions"
        Position.objects.bulk_update(linked, ["opening_decision"], batch_size=500)
        # Their OPEN fills were made by the same decision: one UPDATE for them all.
        opener = Position.objects.filter(pk=OuterRef("position_id")).values("opening_decision_id")[:1]
        Trade.objects.filter(bot=self.bot, kind=Trade.Kind.OPEN, decision__isnull=True,
                             position__opening_decision__isnull=False).update(decision_id=Subquery(opener))

    def _decision(self, legacy: LegacyDecision) -> Decision:
        return Decision(
            bot=self.bot, created_at=legacy.at, prompt=_clean(legacy.prompt),
            raw_response=_clean(mapping.raw_json(legacy.decisions)),
            actions=_clean(mapping.actions(legacy.decisions)), notes=_clean(legacy.notes),
            success=legacy.success, legacy_id=legacy.key,
        )

    def _snapshots(self) -> None:
        odd = 0
        for batch, points in self.data.snapshot_batches():
            known = set(Snapshot.objects.filter(bot=self.bot, legacy_id__in=[s.key for s in batch])
                        .values_list("legacy_id", flat=True))
            if points:
                known |= earlier.points(self.bot, batch)
            new = []
            for legacy in batch:
                if legacy.key not in known:
                    row, refitted = self._snapshot(legacy)
                    odd += refitted
                    new.append(row)
            self.ctx.current = f"bot {self.bot.legacy_id!r} snapshots"
            bulk.insert(new)
            self.done.snapshots_present += len(batch)
            self.done.counts["snapshots"] += len(new)
        if odd:
            self._note(f"{odd} snapshots had a total value below balance + unrealized PnL; their unrealized "
                       "PnL was set to total value - balance (no margin) so the three agree")

    def _snapshot(self, legacy: LegacySnapshot) -> tuple[Snapshot, bool]:
        """The row, and whether its unrealized PnL had to be refitted to its total."""
        balance, total = money(legacy.balance), money(legacy.total_value)
        unrealized = money(legacy.unrealized_pnl)
        margin = total - balance - unrealized  # the legacy's total was balance + margins + unrealized
        refitted = margin < 0
        if refitted:
            margin, unrealized = Decimal(0), total - balance
        return Snapshot(
            bot=self.bot, taken_at=legacy.at, balance=balance, margin=margin, unrealized_pnl=unrealized,
            realized_pnl=money(legacy.realized_pnl or Decimal(0)), total_value=total,
            trade_count=legacy.trade_count or 0,
            win_rate=(legacy.win_rate or Decimal(0)).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN),
            legacy_id=legacy.key,
        ), refitted

    # --- cooldowns and the learning summary -------------------------------------------

    def _cooldowns(self) -> None:
        state = self.data.state
        if state is None or not state.cooldowns:
            return
        existing = {c.symbol: c for c in Cooldown.objects.filter(bot=self.bot)}
        self.ctx.current = f"bot {self.bot.legacy_id!r} symbolCooldowns"
        for symbol, until in state.cooldowns.items():
            row = existing.get(symbol)
            if row is None:
                Cooldown.objects.create(bot=self.bot, symbol=symbol, until=until)
                self.done.counts["cooldowns"] += 1
            elif row.until < until:
                Cooldown.objects.filter(pk=row.pk).update(until=until)
                self.done.counts["cooldowns"] += 1

    def _summary(self) -> None:
        summary = mapping.learning_summary(self.data.config.history_summary, self.data.config.where)
        if summary is None:
            return
        covers_to = summary.covers_to or summary.generated_at or self.ctx.now
        covers_from = min(summary.covers_from or covers_to, covers_to)
        if LearningSummary.objects.filter(Q(bot=self.bot) & Q(covers_to=covers_to)).exists():
            return
        self.ctx.current = f"bot {self.bot.legacy_id!r} history_summary"
        LearningSummary.objects.create(
            bot=self.bot, summary=_clean(summary.text), covers_from=covers_from, covers_to=covers_to,
            decisions_count=max(summary.count, 1), token_count=summary.token_count,
            created_at=summary.generated_at or self.ctx.now,
        )
        self.done.counts["learning summaries"] += 1
        self.ctx.report.add("learning summaries", f"{self.bot.legacy_id}: imported ({summary.count} "
                                                  f"decisions summarised, {_span(covers_from, covers_to)})")


def _amount(value: Decimal, where: Where, what: str) -> Decimal:
    """A price or quantity as stored (12 places, under 10^18), or the error naming it."""
    if not 0 < value < MAX_QUANTITY:
        raise where.error(f"{what} is {float(value):.6g}, beyond what a position can hold")
    stored = price(value)
    if stored <= 0:
        raise where.error(f"{what} {float(value):.6g} rounds to zero at 12 decimal places")
    return stored


def _opened(decisions: list[Any]) -> set[tuple[str, str]]:
    """The (symbol, side) pairs a legacy decision list asked to open."""
    return {(str(d.get("symbol") or "").upper(), d["action"]) for d in decisions
            if isinstance(d, dict) and d.get("action") in ("LONG", "SHORT")}


def _span(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
