"""Everything the legacy knows about one bot, merged, plus the legacy side of the proof.

Trades and positions are held in memory (pairing needs them all); decisions and
snapshots — the bulk of a large arena — are streamed from the tables in batches
and merged with the blob's few recent logs and value points as they pass:

- a blob log and a table row are the same decision when their decisions are equal
  and their times are within a second (each row takes at most one log);
- a valueHistory point is covered by a table snapshot within a second of it; an
  uncovered point becomes a snapshot of its own (``vh:<ms>``) whose balance is the
  point's value, with realized PnL, trade count and win rate derived from the
  closes before it (a point carries nothing else).
"""
from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from arena.legacy import history, mapping, normalize
from arena.legacy.reader import LegacySource
from arena.legacy.records import BlobState, LegacyBot, LegacyDecision, LegacySnapshot
from arena.legacy.values import Where

SAME_MOMENT = timedelta(seconds=1)


@dataclass
class LegacyFigures:
    """The legacy side of the proof for one bot."""

    trades: int = 0
    fees: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    realized_source: str = ""
    open_positions: list[str] = field(default_factory=list)
    decisions: int = 0
    snapshots: int = 0
    balance: Decimal | None = None
    balance_source: str = ""


@dataclass
class BotData:
    source: LegacySource
    config: LegacyBot
    state: BlobState | None
    trades: history.TradeHistory
    figures: LegacyFigures
    matched_logs: int = 0
    covered_points: int = 0

    @property
    def live(self) -> bool:
        return self.config.mode == "real"

    def table_where(self, table: str) -> Where:
        return Where(self.source.name, f"table {table}, bot {self.config.id!r}")

    # --- decisions ---------------------------------------------------------------------

    def decision_batches(self) -> Iterator[tuple[list[LegacyDecision], bool]]:
        """Batches of decisions, each with True when it holds blob-only logs (which an
        earlier import may have taken from a table row: the caller checks)."""
        logs = sorted(self.state.logs if self.state else [], key=lambda d: d.at)
        times = [log.at for log in logs]
        taken = [False] * len(logs)
        where = self.table_where("bot_decisions")
        for rows in self.source.history("bot_decisions", self.config.id):
            batch = []
            for row in rows:
                decision = normalize.decision_from_row(row, where)
                self._match_log(decision, logs, times, taken)
                batch.append(decision)
            self.figures.decisions += len(batch)
            yield batch, False
        rest = [log for log, used in zip(logs, taken, strict=True) if not used]
        self.figures.decisions += len(rest)
        if rest:
            yield rest, True

    def _match_log(self, decision: LegacyDecision, logs: list[LegacyDecision],
                   times: list[datetime], taken: list[bool]) -> None:
        low = bisect.bisect_left(times, decision.at - SAME_MOMENT)
        high = bisect.bisect_right(times, decision.at + SAME_MOMENT)
        fits = [i for i in range(low, high)
                if not taken[i] and mapping.same_decisions(logs[i].decisions, decision.decisions)]
        if not fits:
            return
        best = min(fits, key=lambda i: abs(times[i] - decision.at))
        taken[best] = True
        log = logs[best]
        # The blob's log is what the legacy server itself kept: its time and prompt win.
        decision.at, decision.in_blob = log.at, True
        decision.prompt = log.prompt or decision.prompt
        self.matched_logs += 1

    # --- snapshots ---------------------------------------------------------------------

    def snapshot_batches(self) -> Iterator[tuple[list[LegacySnapshot], bool]]:
        """Batches of snapshots, each with True when it holds uncovered value points."""
        points = sorted(self.state.points if self.state else [])
        times = [at for at, _ in points]
        covered = [False] * len(points)
        where = self.table_where("bot_state_snapshots")
        for rows in self.source.history("bot_state_snapshots", self.config.id):
            batch = [normalize.snapshot_from_row(row, where) for row in rows]
            for snapshot in batch:
                low = bisect.bisect_left(times, snapshot.at - SAME_MOMENT)
                high = bisect.bisect_right(times, snapshot.at + SAME_MOMENT)
                for i in range(low, high):
                    covered[i] = True
            self.figures.snapshots += len(batch)
            yield batch, False
        stats = history.StatsAt(self.trades.trades)
        rest = []
        for (at, value), done in zip(points, covered, strict=True):
            if done:
                self.covered_points += 1
                continue
            realized, count, win_rate = stats.at(at)
            rest.append(LegacySnapshot(
                key=f"vh:{int(at.timestamp() * 1000)}", at=at, balance=value, unrealized_pnl=Decimal(0),
                realized_pnl=realized, total_value=value, trade_count=count, win_rate=win_rate,
            ))
        self.figures.snapshots += len(rest)
        if rest:
            yield rest, True


def load(source: LegacySource, config: LegacyBot, raw: dict | None, where: Where | None,
         initial_balance: Decimal, known_links: dict[str, str] | None = None) -> BotData:
    """Read and merge one bot: its blob entry (``raw``, may be None) and its table rows.
    ``known_links`` (trade id → position key) are the links an earlier import made."""
    state = normalize.blob_state(raw, where, live=config.mode == "real") if raw and where else None
    trades_where = Where(source.name, f"table trades, bot {config.id!r}")
    positions_where = Where(source.name, f"table positions, bot {config.id!r}")
    table_trades = [normalize.trade_from_row(r, trades_where)
                    for rows in source.history("trades", config.id) for r in rows]
    table_positions = [normalize.position_from_row(r, positions_where)
                       for rows in source.history("positions", config.id) for r in rows]
    merged = history.build(
        blob_orders=state.orders if state else [], table_trades=table_trades,
        blob_positions=state.positions if state else [], table_positions=table_positions,
        blob_time=_blob_time(source, state), known_links=known_links or {},
    )
    data = BotData(source=source, config=config, state=state, trades=merged, figures=LegacyFigures())
    _trade_figures(data, initial_balance)
    return data


def _blob_time(source: LegacySource, state: BlobState | None) -> datetime | None:
    """When the blob was last saved: its row's updated_at, else its newest record."""
    if state is None:
        return None
    moments = [o.at for o in state.orders] + [d.at for d in state.logs] + [at for at, _ in state.points]
    newest = max(moments, default=None)
    if source.updated_at and (newest is None or source.updated_at > newest):
        return source.updated_at
    return newest


def _trade_figures(data: BotData, initial_balance: Decimal) -> None:
    figures, trades = data.figures, data.trades
    closes = [t.pnl for t in trades.trades if t.kind == "CLOSE" and t.pnl is not None]
    figures.trades = len(trades.trades)
    figures.fees = sum((t.fee for t in trades.trades), Decimal(0))
    figures.open_positions = sorted(k for k, p in trades.positions.items() if p.status == "open")
    open_margin = sum((p.source.margin for p in trades.positions.values() if p.status == "open"), Decimal(0))
    state = data.state
    if state is not None and state.realized_pnl is not None and not data.live:
        figures.realized, figures.realized_source = state.realized_pnl, "blob realizedPnl"
    else:
        figures.realized = sum(closes, Decimal(0))
        figures.realized_source = "sum of the legacy closes" + (" (net of commission)" if data.live else "")
    if state is not None:
        figures.balance, figures.balance_source = state.balance, "blob portfolio.balance"
    else:
        # No blob: the legacy's own rule — initial + realized − margin of open positions.
        figures.balance = initial_balance + sum(closes, Decimal(0)) - open_margin
        figures.balance_source = "derived (no blob): initial + realized - open margins"
