"""``manage.py audit_ledger``'s checks, in the order it runs them.

The journal's checks of itself live in ``ledger.audit``; the checks that compare it with
bots, positions and trades, which only the arena may import together, live here:
``arena.audit.journal`` (entries against what they name) and ``arena.audit.positions``
(positions and trades against each other).
"""
from __future__ import annotations

from arena.audit import journal, positions
from ledger.audit import LEDGER_CHECKS, Check, consistent_snapshot, for_bot, journal_counts
from trading.models import Position, Trade

__all__ = ["CHECKS", "Check", "consistent_snapshot", "record_counts"]

CHECKS: dict[str, Check] = {
    "account_balance": LEDGER_CHECKS["account_balance"],
    "latest_balance_after": LEDGER_CHECKS["latest_balance_after"],
    "running_total": LEDGER_CHECKS["running_total"],
    "bot_account": journal.check_bot_accounts,
    "entry_kind": LEDGER_CHECKS["entry_kind"],
    "entry_link": journal.check_entry_links,
    "position_trades": positions.check_position_trades,
    "trade_position": positions.check_trade_positions,
    "position_numbers": positions.check_position_numbers,
    "trade_numbers": positions.check_trade_numbers,
    "margin_lock": journal.check_margin_locks,
    "trade_fee": journal.check_trade_fees,
    "snapshot": LEDGER_CHECKS["snapshot"],
}


def record_counts(*, bot_id: int | None = None) -> dict[str, int]:
    """How many records an audit covers, for the "ledger clean" summary."""
    return {
        **journal_counts(bot_id=bot_id),
        "positions": for_bot(Position.objects.all(), "bot_id", bot_id).count(),
        "trades": for_bot(Trade.objects.all(), "bot_id", bot_id).count(),
    }
