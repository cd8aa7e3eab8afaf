"""What a turn tells the live stream: each bot's outcome to its owner, the turn's
state to everyone. Sent after commit (``arena.events.publish``)."""
from __future__ import annotations

from arena.events import publish
from arena.models import BotTurn, Turn


def turn_publish(turn: Turn) -> None:
    """The turn's state, for every socket: no bot names, no reasons (those are the owners')."""
    counts = {status: 0 for status in BotTurn.Status.values}
    for status in turn.bot_turns.values_list("status", flat=True):
        counts[status] += 1
    publish({"type": "turn", "data": {
        "turn": turn.pk, "status": turn.status, "forced": turn.forced,
        "started_at": turn.started_at.isoformat(),
        "finished_at": turn.finished_at.isoformat() if turn.finished_at else None,
        "bots": counts,
    }})


def bot_turn_publish(row: BotTurn, *, bot_name: str, owner_id: int) -> None:
    """One bot's part in a turn, for its owner: ran, failed (and why) or skipped (and why)."""
    publish({"type": "bot_turn", "data": {
        "turn": row.turn_id, "bot": row.bot_id, "bot_name": bot_name, "status": row.status,
        "reason": row.reason, "decision": row.decision_id,
    }}, owner_id=owner_id)
