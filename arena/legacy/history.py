"""One bot's trading history as the union of the blob and the tables (no ORM).

Both legacy sources are incomplete, so the truth is their union without duplicates:

- Trades are the same trade when their ids are equal; the same id with different
  content (kind, side, symbol, size, leverage, price, fee, PnL, or times more than a
  minute apart) is a conflict and stops the import.
- Positions are the same position when their ids are equal. A trade joins the
  position its table row names (``position_id``); a blob-only entry joins the known
  position opened with it (same symbol, side, margin, leverage and entry price,
  within a minute — the paper engine named positions ``pos_<ms>_…`` after that
  moment); a blob-only exit joins the latest earlier entry with the same symbol,
  side, margin and leverage (and entry price, when the exit names it) that has no
  exit yet. An entry/exit pair that no known position claims becomes a closed
  position ``order:<entry id>``.
- A position is closed when an exit joined it, open when the blob's portfolio lists
  it or a table row says open and the blob is older than it. Anything else — closed
  without any recorded exit, or an entry whose exit was lost — cannot be a position
  here (a closed position has an exit price); its fills are kept as unlinked legacy
  fills and reported.
- Live bots' fills are not paired: their open/close reading is a heuristic (see
  ``normalize``), so they stay unlinked fills with their exchange ids.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from arena.legacy.records import LegacyPosition, LegacyTrade
from arena.legacy.values import Where

SAME_TIME = timedelta(seconds=60)  # one write to both sources, milliseconds to seconds apart


@dataclass
class PositionPlan:
    key: str
    source: LegacyPosition
    status: str = "open"
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    exit_price: Decimal | None = None
    realized_pnl: Decimal | None = None
    open_trade: LegacyTrade | None = None
    close_trade: LegacyTrade | None = None
    listed_open: bool = False  # the blob's portfolio holds it


@dataclass
class TradeHistory:
    trades: list[LegacyTrade]
    positions: dict[str, PositionPlan]
    links: dict[str, str]  # trade id → position key
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (position key, report line)
    only_in_tables: list[str] = field(default_factory=list)
    only_in_blob: list[str] = field(default_factory=list)

    def quantity(self, trade: LegacyTrade) -> Decimal:
        key = self.links.get(trade.id)
        if key is not None:
            return self.positions[key].source.quantity
        return trade.quantity()


def close_enough(a: Decimal | None, b: Decimal | None) -> bool:
    """Equal but for float noise (SQLite keeps decimals as doubles; JS computed in them)."""
    if a is None or b is None:
        return a is b
    return abs(a - b) <= Decimal("1e-9") * max(Decimal(1), abs(a), abs(b))


def _number(value: Decimal | None) -> str:
    return "none" if value is None else f"{value.normalize():f}"


def _trade_conflict(blob: LegacyTrade, table: LegacyTrade) -> str | None:
    for name in ("kind", "side", "symbol", "leverage"):
        if getattr(blob, name) != getattr(table, name):
            return f"{name} {getattr(table, name)!r} here but {getattr(blob, name)!r} in the blob"
    for name in ("size", "price", "fee", "pnl"):
        if not close_enough(getattr(blob, name), getattr(table, name)):
            return (f"{name} {_number(getattr(table, name))} here but "
                    f"{_number(getattr(blob, name))} in the blob")
    if abs(blob.at - table.at) > SAME_TIME:
        return f"executed at {table.at.isoformat()} here but {blob.at.isoformat()} in the blob"
    return None


def merge_trades(blob: list[LegacyTrade], table: list[LegacyTrade]) -> tuple[list[LegacyTrade], list[str]]:
    """The union by id, blob records first; returns it and the table-only ids."""
    by_id = {trade.id: trade for trade in blob}
    only_in_tables = []
    for row in table:
        known = by_id.get(row.id)
        if known is None:
            by_id[row.id] = row
            only_in_tables.append(row.id)
            continue
        conflict = _trade_conflict(known, row)
        if conflict:
            raise row.where.error(
                f"conflicts with the blob's record of the same trade ({known.where.record}): {conflict}"
            )
        known.in_table = True
        known.position_id = row.position_id
        known.entry_price = known.entry_price or row.entry_price
    return sorted(by_id.values(), key=lambda t: (t.at, t.id)), only_in_tables


def _position_conflict(blob: LegacyPosition, table: LegacyPosition) -> str | None:
    for name in ("symbol", "side", "leverage"):
        if getattr(blob, name) != getattr(table, name):
            return f"{name} {getattr(table, name)!r} here but {getattr(blob, name)!r} in the blob"
    for name in ("entry_price", "margin"):
        if not close_enough(getattr(blob, name), getattr(table, name)):
            return (f"{name} {_number(getattr(table, name))} here but "
                    f"{_number(getattr(blob, name))} in the blob")
    return None


def merge_positions(blob: list[LegacyPosition], table: list[LegacyPosition]) -> dict[str, PositionPlan]:
    plans: dict[str, PositionPlan] = {}
    for position in table:
        plans[position.id] = PositionPlan(key=position.id, source=position)
    for position in blob:
        plan = plans.get(position.id)
        if plan is None:
            plans[position.id] = PositionPlan(key=position.id, source=position, listed_open=True)
            continue
        conflict = _position_conflict(position, plan.source)
        if conflict:
            raise plan.source.where.error(
                f"conflicts with the blob's record of the same position ({position.where.record}): {conflict}"
            )
        # The blob holds the newest marks and triggers of an open position.
        position.in_table = True
        position.opened_at = plan.source.opened_at or position.opened_at
        plan.source, plan.listed_open = position, True
    return plans


class _Linker:
    """Links fills to positions. Candidates are kept per (symbol, side, leverage) and
    dropped once taken, so one pass over the fills in time order stays linear."""

    def __init__(self, plans: dict[str, PositionPlan]) -> None:
        self.plans = plans
        self.links: dict[str, str] = {}
        self.notes: list[tuple[str, str]] = []
        self.unopened: dict[tuple, list[PositionPlan]] = {}
        self.unclosed: dict[tuple, list[PositionPlan]] = {}

    def link(self, trade: LegacyTrade, plan: PositionPlan) -> None:
        slot = "open_trade" if trade.kind == "OPEN" else "close_trade"
        if getattr(plan, slot) is not None:
            self.notes.append((plan.key, f"trade {trade.id}: position {plan.key} already has its "
                                         f"{trade.kind}; kept as an unlinked fill"))
            return
        setattr(plan, slot, trade)
        self.links[trade.id] = plan.key

    def by_table_id(self, trade: LegacyTrade) -> None:
        assert trade.position_id is not None
        plan = self.plans.get(trade.position_id)
        if plan is None:
            plan = self.plans[trade.position_id] = PositionPlan(
                key=trade.position_id, source=_from_trade(trade, trade.position_id))
        elif (plan.source.symbol, plan.source.side) != (trade.symbol, trade.side):
            raise trade.where.error(
                f"names position {trade.position_id!r}, a {plan.source.side} {plan.source.symbol} "
                f"position, but is a {trade.side} {trade.symbol} trade")
        self.link(trade, plan)

    def index(self) -> None:
        for plan in self.plans.values():
            group = (plan.source.symbol, plan.source.side, plan.source.leverage)
            if plan.open_trade is None:
                self.unopened.setdefault(group, []).append(plan)
            if plan.close_trade is None:
                self.unclosed.setdefault(group, []).append(plan)

    def entry(self, trade: LegacyTrade) -> None:
        group = (trade.symbol, trade.side, trade.leverage)
        candidates = self.unopened.get(group, [])
        found = [p for p in candidates if close_enough(p.source.margin, trade.size)
                 and close_enough(p.source.entry_price, trade.price)
                 and abs((p.source.opened_at or trade.at) - trade.at) <= SAME_TIME]
        if found:
            plan = min(found, key=lambda p: abs((p.source.opened_at or trade.at) - trade.at))
            candidates.remove(plan)
        else:
            key = f"order:{trade.id}"
            plan = self.plans[key] = PositionPlan(key=key, source=_from_trade(trade, key))
            self.unclosed.setdefault(group, []).append(plan)
        self.link(trade, plan)

    def exit(self, trade: LegacyTrade) -> None:
        candidates = self.unclosed.get((trade.symbol, trade.side, trade.leverage), [])

        def opened(plan: PositionPlan) -> datetime | None:
            return plan.open_trade.at if plan.open_trade else plan.source.opened_at

        found = [p for p in candidates if close_enough(p.source.margin, trade.size)
                 and (trade.entry_price is None or close_enough(p.source.entry_price, trade.entry_price))
                 and (opened(p) or trade.at) <= trade.at and opened(p) is not None]
        if found:
            plan = max(found, key=lambda p: opened(p))
            candidates.remove(plan)
            self.link(trade, plan)


def _from_trade(trade: LegacyTrade, key: str) -> LegacyPosition:
    return LegacyPosition(
        id=key, symbol=trade.symbol, side=trade.side, entry_price=trade.entry_price or trade.price,
        margin=trade.size, leverage=trade.leverage, liquidation_price=None, stop_loss=None,
        take_profit=None, unrealized_pnl=Decimal(0), status="unknown",
        opened_at=trade.at if trade.kind == "OPEN" else None, closed_at=None,
        where=trade.where, in_blob=trade.in_blob, in_table=trade.in_table,
    )


def build(
    *, blob_orders: list[LegacyTrade], table_trades: list[LegacyTrade],
    blob_positions: list[LegacyPosition], table_positions: list[LegacyPosition],
    blob_time: datetime | None, known_links: dict[str, str],
) -> TradeHistory:
    """The merged, linked history; ``blob_time`` is when the blob was last saved
    (None when there is no blob for this bot). ``known_links`` are the links an
    earlier import made (trade id → position key): they hold like the table's, so a
    later run from other sources (a JSON export after the database) links the same."""
    trades, only_in_tables = merge_trades(blob_orders, table_trades)
    for trade in trades:
        if trade.position_id is None and trade.id in known_links:
            trade.position_id = known_links[trade.id]
    plans = merge_positions(blob_positions, table_positions)
    linker = _Linker(plans)
    for trade in trades:
        if trade.position_id is not None:
            linker.by_table_id(trade)
    linker.index()
    for trade in trades:  # in time order: an exit pairs with an entry already seen
        if trade.position_id is None and not trade.live and trade.kind == "OPEN":
            linker.entry(trade)
        elif trade.position_id is None and not trade.live:
            linker.exit(trade)
    history = TradeHistory(trades=trades, positions={}, links={}, unresolved=linker.notes,
                           only_in_tables=only_in_tables,
                           only_in_blob=[t.id for t in trades if t.in_blob and not t.in_table])
    for key, plan in plans.items():
        if _resolve(plan, blob_time):
            history.positions[key] = plan
        else:
            history.unresolved.append((key, _why_unresolved(plan)))
    history.links = {t: k for t, k in linker.links.items() if k in history.positions}
    return history


def _resolve(plan: PositionPlan, blob_time: datetime | None) -> bool:
    """Settle status and dates; False when the position cannot be represented."""
    source = plan.source
    plan.opened_at = source.opened_at or (plan.open_trade.at if plan.open_trade else None)
    if plan.close_trade is not None:
        plan.status = "closed"
        plan.closed_at = source.closed_at or plan.close_trade.at
        plan.exit_price = plan.close_trade.price
        plan.realized_pnl = plan.close_trade.pnl
        plan.opened_at = plan.opened_at or plan.closed_at
        return True
    if plan.listed_open:
        return True
    table_open = source.in_table and source.status == "open" and not plan.key.startswith("order:")
    newer_than_blob = blob_time is None or (plan.opened_at is not None and plan.opened_at > blob_time)
    return table_open and newer_than_blob and plan.opened_at is not None


def _why_unresolved(plan: PositionPlan) -> str:
    fills = [t.id for t in (plan.open_trade, plan.close_trade) if t is not None]
    kept = f"; its fill {', '.join(fills)} is kept unlinked" if fills else ""
    if plan.key.startswith("order:"):
        return f"entry {plan.key[6:]}: no exit was recorded and the blob does not hold it open{kept}"
    where = (f"{plan.source.status} in the positions table" if plan.source.status != "unknown"
             else "named by table trades but missing from the positions table")
    return (f"position {plan.key}: {where}, no exit was recorded in either source and the blob does not "
            f"hold it open, so its exit price is unknown; not imported as a position{kept}")


class StatsAt:
    """Realized PnL, closed-trade count and win rate as of a moment, from the closes."""

    def __init__(self, trades: list[LegacyTrade]) -> None:
        closes = sorted((t for t in trades if t.kind == "CLOSE" and t.pnl is not None), key=lambda t: t.at)
        self.times = [t.at for t in closes]
        self.realized: list[Decimal] = []
        self.wins: list[int] = []
        total, wins = Decimal(0), 0
        for trade in closes:
            assert trade.pnl is not None
            total += trade.pnl
            wins += trade.pnl > 0
            self.realized.append(total)
            self.wins.append(wins)

    def at(self, moment: datetime) -> tuple[Decimal, int, Decimal]:
        count = bisect.bisect_right(self.times, moment)
        if count == 0:
            return Decimal(0), 0, Decimal(0)
        return self.realized[count - 1], count, Decimal(self.wins[count - 1]) / count


def blob_where(file: str, index: int, bot_id: str) -> Where:
    return Where(file, f"arena_state blob, bots[{index}] (id {bot_id!r})")
