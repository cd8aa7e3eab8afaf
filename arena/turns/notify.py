"""What a turn tells the live stream, written to the outbox (``ledger.events``) in the
same transaction as the turn's or bot's row: each bot's part to its owner, the turn's
state to everyone."""
from __future__ import annotations

from datetime import datetime

from arena.models import BotTurn, Turn
from ledger.events import event_append


def turn_event(turn: Turn, *, now: datetime) -> None:
    """The turn's state (``turn_started``, ``turn_finished`` …), for every socket: counts of
    its bots by status, no bot names, no reasons."""
    counts = {status: 0 for status in BotTurn.Status.values}
    for status in turn.bot_turns.values_list("status", flat=True):
        counts[status] += 1
    event_append(f"turn_{'started' if turn.status == Turn.Status.RUNNING else turn.status}", {
        "turn": turn.pk, "status": turn.status, "forced": turn.forced, "started_at": turn.started_at,
        "finished_at": turn.finished_at, "bots": counts,
    }, now=now)


def bot_turn_event(row: BotTurn, *, bot_name: str, owner_id: int, now: datetime) -> None:
    """One bot's part in a turn, for its owner: running, finished, failed or skipped (and why)."""
    event_append("bot_turn", {
        "turn": row.turn_id, "bot": row.bot_id, "bot_name": bot_name, "status": row.status,
        "reason": row.reason, "decision": row.decision_id,
    }, owner_id=owner_id, bot_id=row.bot_id, now=now)
