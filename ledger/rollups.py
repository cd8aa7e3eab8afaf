"""Keeping ``BotDay`` rollups (``ledger.rollup_models``) in step with what they count.

Each writer calls one function here inside its own transaction: ``rollups_snapshots`` (the
snapshots just written), ``rollup_fill`` (an open or a close, with its fee and, for a close,
its net PnL), ``rollup_funding`` and ``rollup_decision``. The day's row is locked
(``select_for_update``) and changed in Python, so concurrent writers for one bot queue up
instead of losing an update. ``day_point`` and ``day_close`` are the arithmetic, shared with
the from-scratch rebuild (``trading.services.rollups``), which is how the incremental rows are
proved equal to a recomputation.

A snapshot's return is measured from the run's previous snapshot, net of the deposits and
adjustments between them: r = (value − flows) / previous − 1. The first snapshot of a run is
its baseline (wealth index 1.0, no return).
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from ledger.models import Account, Entry, Snapshot
from ledger.rollup_models import RUN_FIRST, BotDay

ZERO = Decimal(0)
# Money moved in or out that is not performance.
FLOW_KINDS = [Entry.Kind.DEPOSIT.value, Entry.Kind.ADJUSTMENT.value]


def run_of(stats_reset_at: datetime | None) -> datetime:
    """The ``run_start`` of a bot whose statistics were last reset at ``stats_reset_at``."""
    return stats_reset_at or RUN_FIRST


def day_of(at: datetime) -> date:
    return at.astimezone(UTC).date()


def runs_of(bot_ids: list[int]) -> dict[int, datetime]:
    """Each bot's current run, read through its account (the ledger does not import bots)."""
    rows = Account.objects.filter(bot_id__in=bot_ids).values_list("bot_id", "bot__stats_reset_at")
    return {bot_id: run_of(reset_at) for bot_id, reset_at in rows}


# --- the arithmetic ------------------------------------------------------------------


def day_new(*, bot_id: int, run_start: datetime, day: date) -> BotDay:
    return BotDay(bot_id=bot_id, run_start=run_start, day=day)


def day_point(row: BotDay, previous: BotDay | None, *, at: datetime, value: Decimal, flow: Decimal) -> None:
    """Add the snapshot (``at``, ``value``) to ``row``, its day. ``previous`` is the run's
    row holding the snapshot before it (``row`` itself, another day's, or None for the
    run's first snapshot); ``flow`` is the money moved in or out since that snapshot."""
    if previous is None or previous.last_at is None:
        index = 1.0
        if row.index_start is None:  # the run's baseline: its first snapshot
            row.index_start, row.start_at, row.start_value = 1.0, at, value
    else:
        prior = previous.last_value or ZERO
        index = previous.index_end if previous.index_end is not None else 1.0
        if prior > 0:
            r = (float(value) - float(flow)) / float(prior) - 1.0  # as ledger.metrics computes it
            index *= 1.0 + r
            row.returns += 1
            row.returns_sum += r
            row.returns_sq += r * r
            row.downside_sq += min(r, 0.0) ** 2
        row.flows += flow
        if row.snapshots == 0:  # the day's first snapshot: its first return starts the day before
            row.start_at, row.start_value = previous.last_at, previous.last_value
            row.index_start = previous.index_end
    if row.index_max is None or index > row.index_max:
        row.index_max = index
    else:
        row.drawdown_max = max(row.drawdown_max, 1.0 - index / row.index_max)
    row.index_min = index if row.index_min is None else min(row.index_min, index)
    row.index_end = index
    row.snapshots += 1
    row.first_at = row.first_at or at
    row.last_at = at
    row.last_value = value


def day_fill(row: BotDay, *, fee: Decimal) -> None:
    row.fees += fee


def day_close(row: BotDay, *, pnl: Decimal, hold_seconds: int, leverage: int, margin: Decimal) -> None:
    """Count one closed position (``pnl`` net of its closing fee, as the position records it)."""
    row.closes += 1
    if pnl > 0:
        row.wins += 1
        row.gross_profit += pnl
    elif pnl < 0:
        row.losses += 1
        row.gross_loss += -pnl
    row.best = pnl if row.best is None else max(row.best, pnl)
    row.worst = pnl if row.worst is None else min(row.worst, pnl)
    row.hold_seconds += max(hold_seconds, 0)
    row.margin_sum += margin
    row.leverage_margin += leverage * margin


def day_funding(row: BotDay, *, amount: Decimal) -> None:
    if amount < 0:
        row.funding_paid += -amount
    else:
        row.funding_received += amount


def day_decision(row: BotDay, *, tokens_in: int, tokens_out: int, cost: Decimal, latency_ms: int) -> None:
    row.decisions += 1
    row.tokens_in += max(tokens_in, 0)
    row.tokens_out += max(tokens_out, 0)
    row.llm_cost += max(cost, ZERO)
    row.latency_ms += max(latency_ms, 0)


# --- the writers' hooks --------------------------------------------------------------


def _locked_day(bot_id: int, run_start: datetime, day: date) -> BotDay:
    """The day's row, locked, created if missing (a concurrent creator's row is taken)."""
    row = BotDay.objects.select_for_update().filter(bot_id=bot_id, run_start=run_start, day=day).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return BotDay.objects.create(bot_id=bot_id, run_start=run_start, day=day)
    except IntegrityError:
        return BotDay.objects.select_for_update().get(bot_id=bot_id, run_start=run_start, day=day)


def _latest_days(runs: dict[int, datetime]) -> dict[int, BotDay]:
    """Each bot's latest row of its current run that holds a snapshot, locked (a later day
    may have a row already, from a fill or a decision, but no snapshot yet)."""
    lasts = (BotDay.objects.filter(bot_id__in=list(runs), snapshots__gt=0).values("bot_id", "run_start")
             .annotate(last=Max("day")))
    wanted = Q(pk__in=[])
    for row in lasts:
        if runs.get(row["bot_id"]) == row["run_start"]:
            wanted |= Q(bot_id=row["bot_id"], run_start=row["run_start"], day=row["last"])
    return {row.bot_id: row for row in BotDay.objects.select_for_update().filter(wanted)}


def _flows(bot_ids: list[int], since: dict[int, datetime], until: datetime) -> dict[int, Decimal]:
    """The deposits and adjustments of each bot after ``since[bot]`` up to ``until``."""
    if not since:
        return {}
    rows = (Entry.objects.filter(account__bot_id__in=bot_ids, kind__in=FLOW_KINDS,
                                 created_at__gt=min(since.values()), created_at__lte=until)
            .values_list("account__bot_id", "created_at", "amount"))
    totals: dict[int, Decimal] = {}
    for bot_id, created_at, amount in rows:
        if bot_id in since and created_at > since[bot_id]:
            totals[bot_id] = totals.get(bot_id, ZERO) + amount
    return totals


def rollups_snapshots(snapshots: list[Snapshot]) -> None:
    """Add just-written snapshots to their days (call in their transaction). A snapshot no
    later than its run's last one is left out: the series only moves forward (a rebuild
    places any such history)."""
    if not snapshots:
        return
    runs = runs_of(sorted({s.bot_id for s in snapshots}))
    latest = _latest_days(runs)
    since = {bot_id: row.last_at for bot_id, row in latest.items() if row.last_at is not None}
    until = max(s.taken_at for s in snapshots)
    flows = _flows(list(runs), since, until)
    for snapshot in sorted(snapshots, key=lambda s: (s.bot_id, s.taken_at)):
        run = runs.get(snapshot.bot_id)
        if run is None or snapshot.taken_at < run:
            continue  # no account, or a snapshot from before the run (its history is the old run's)
        previous = latest.get(snapshot.bot_id)
        if previous is not None and previous.last_at is not None and snapshot.taken_at <= previous.last_at:
            continue
        day = day_of(snapshot.taken_at)
        same_day = previous is not None and previous.day == day
        row = previous if same_day else _locked_day(snapshot.bot_id, run, day)
        day_point(row, previous, at=snapshot.taken_at, value=snapshot.total_value,
                  flow=flows.pop(snapshot.bot_id, ZERO) if previous is not None else ZERO)
        row.save()
        latest[snapshot.bot_id] = row


def _bot_day(bot_id: int, at: datetime) -> BotDay | None:
    run = runs_of([bot_id]).get(bot_id)
    return None if run is None else _locked_day(bot_id, run, day_of(at))


def rollup_close(*, bot_id: int, at: datetime, pnl: Decimal, opened_at: datetime, leverage: int,
                 margin: Decimal) -> None:
    """Count a closed position on the day it closed (``pnl`` as the position records it)."""
    row = _bot_day(bot_id, at)
    if row is not None:
        day_close(row, pnl=pnl, leverage=leverage, margin=margin,
                  hold_seconds=int((at - opened_at).total_seconds()))
        row.save()


def rollup_entries(*, bot_id: int, at: datetime, entries: list[tuple[str, Decimal]]) -> None:
    """Count the fees and funding among journal entries just posted (``(kind, amount)``)."""
    counted = [(kind, amount) for kind, amount in entries if kind in (Entry.Kind.FEE, Entry.Kind.FUNDING)]
    if not counted:
        return
    row = _bot_day(bot_id, at)
    if row is None:
        return
    for kind, amount in counted:
        if kind == Entry.Kind.FEE:
            day_fill(row, fee=-amount)
        else:
            day_funding(row, amount=amount)
    row.save()


def rollup_decision(*, bot_id: int, at: datetime, tokens_in: int, tokens_out: int, cost: Decimal,
                    latency_ms: int) -> None:
    row = _bot_day(bot_id, at)
    if row is not None:
        day_decision(row, tokens_in=tokens_in, tokens_out=tokens_out, cost=cost, latency_ms=latency_ms)
        row.save()
