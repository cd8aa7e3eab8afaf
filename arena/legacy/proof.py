"""The proof: per bot, the legacy's figures against what this arena now holds.

The legacy side comes from the legacy files (``botdata.LegacyFigures``); the
imported side from fresh queries of our tables. A difference is *explained* only
when it is made of rows an earlier import took from an older state of the legacy
files (the blob keeps only its newest logs, value points and exchange fills) or of
rows this arena made itself since; anything else is a DIFF and the command fails.
"""
from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from arena.legacy.botdata import BotData
from arena.legacy.report import BotProof, Check, usdt
from bots.models import Bot, Decision
from ledger.models import Account, Snapshot
from ledger.services import money
from ledger.values import MONEY_QUANTUM
from trading.models import Position, Trade


def _tolerance(count: int) -> Decimal:
    # Each amount is rounded to 8 places here; the legacy summed unrounded floats.
    return MONEY_QUANTUM * (count + 1)


def bot_proof(bot: Bot | None, data: BotData, *, decisions_present: int, snapshots_present: int) -> BotProof:
    proof = BotProof(legacy_id=data.config.id, name=data.config.name)
    if bot is None:
        proof.checks.append(Check("bot", "1", "0", False, "this legacy bot was never imported"))
        return proof
    proof.checks.extend(_trade_checks(bot, data))
    proof.checks.append(_open_check(bot, data))
    proof.checks.append(_rows_check("decisions", Decision.objects.filter(bot=bot), data.figures.decisions,
                                    decisions_present))
    proof.checks.append(_rows_check("snapshots", Snapshot.objects.filter(bot=bot), data.figures.snapshots,
                                    snapshots_present))
    proof.checks.append(_balance_check(bot, data))
    return proof


def _trade_checks(bot: Bot, data: BotData) -> list[Check]:
    legacy = {t.id for t in data.trades.trades}
    rows = list(Trade.objects.filter(bot=bot).values_list("legacy_id", "kind", "fee", "pnl"))
    ours = [r for r in rows if r[0] in legacy]
    earlier = sum(1 for r in rows if r[0] is not None and r[0] not in legacy)
    native = sum(1 for r in rows if r[0] is None)
    missing = len(legacy) - len(ours)
    notes = []
    if missing:
        notes.append(f"{missing} legacy trades are missing here")
    if earlier:
        notes.append(f"{earlier} imported by an earlier run are not in this legacy file")
    if native:
        notes.append(f"{native} were made by this arena")
    count = Check("trades", str(len(legacy)), str(len(rows)), missing == 0, "; ".join(notes))
    figures = data.figures
    fees = sum((r[2] for r in ours), Decimal(0))
    # The blob's realizedPnl is the bot's running total, closes no longer listed included.
    counted = [r for r in rows if r[0] is not None] if figures.realized_source == "blob realizedPnl" else ours
    realized = sum((r[3] for r in counted if r[1] == "CLOSE" and r[3] is not None), Decimal(0))
    tolerance = _tolerance(len(counted))
    fee_check = Check("fees", usdt(figures.fees), usdt(fees), abs(fees - figures.fees) <= tolerance)
    realized_check = Check(f"realized PnL ({figures.realized_source})", usdt(figures.realized),
                           usdt(realized), abs(realized - figures.realized) <= tolerance)
    for check in (fee_check, realized_check):
        if not check.ok:
            check.note = f"differs by {usdt(Decimal(check.imported) - Decimal(check.legacy))}"
    lost = len({key for key, _ in data.trades.unresolved if key not in data.trades.positions})
    if not realized_check.ok and lost and figures.realized_source == "blob realizedPnl":
        # The blob's running total counted closes whose exit orders reached neither source.
        realized_check.ok = True
        realized_check.note += (f"; the legacy total includes the close of {lost} "
                                f"position{'' if lost == 1 else 's'} whose exit was never recorded")
    return [count, fee_check, realized_check]


def _open_check(bot: Bot, data: BotData) -> Check:
    legacy = data.figures.open_positions
    ours = sorted(Position.objects.filter(bot=bot, status=Position.Status.OPEN)
                  .values_list("legacy_id", flat=True))
    # Live positions change ids at each exchange read: only their number can agree.
    same = len(legacy) == len(ours) if data.live else legacy == ours
    note = "" if same else f"legacy {', '.join(legacy) or 'none'}; here {', '.join(map(str, ours)) or 'none'}"
    return Check("open positions", str(len(legacy)), str(len(ours)), same, note)


def _rows_check(metric: str, rows: QuerySet, legacy: int, present: int) -> Check:
    counts = rows.aggregate(total=Count("id"), native=Count("id", filter=Q(legacy_id__isnull=True)))
    missing = legacy - present
    earlier = counts["total"] - counts["native"] - present
    notes = []
    if missing:
        notes.append(f"{missing} legacy {metric} are missing here")
    if earlier:
        notes.append(f"{earlier} imported by an earlier run are not in this legacy file "
                     "(the blob keeps only its newest logs and value points)")
    if counts["native"]:
        notes.append(f"{counts['native']} were made by this arena")
    return Check(metric, str(legacy), str(counts["total"]), missing == 0 and earlier >= 0, "; ".join(notes))


def _balance_check(bot: Bot, data: BotData) -> Check:
    account = Account.objects.filter(bot=bot).first()
    balance = account.balance if account else None
    legacy = money(data.figures.balance) if data.figures.balance is not None else None
    ok = balance is not None and balance == legacy
    native = Trade.objects.filter(bot=bot, legacy_id__isnull=True).exists()
    note = ""
    if not ok and native:
        ok, note = True, "this arena has traded the bot since its import"
    elif not ok:
        note = "the account does not hold the legacy cash balance"
    return Check(f"cash balance ({data.figures.balance_source})", usdt(legacy), usdt(balance), ok, note)
