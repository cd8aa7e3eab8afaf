"""The event outbox: what happened, for the live stream, in commit order.

A service that changes state calls ``event_append`` inside its own transaction; the
event is a row of ``ledger.Event`` with the next sequence number, and after commit it
is pushed to the channel layer as ``{"seq", "type", "data"}``. A rolled-back change
leaves no event. Numbers are handed out by locking one counter row until commit, so
they follow commit order: a client that has seen N never later finds an event below N.
Take that lock last (after the account and position locks), as ``event_append`` does
when called at the end of a service.

Prices are state, not history: ``event_broadcast`` pushes a tick without storing it.

Each type has a ``TypedDict`` for its ``data`` and an audience: everyone (public fields
only) or the bot's owner.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import groupby
from operator import itemgetter
from typing import Any, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from ledger.models import Event, EventSequence

log = logging.getLogger(__name__)

PUBLIC_GROUP = "arena.public"
RETENTION_DAYS = 7  # a socket further behind than this reloads state from the API


def user_group(user_id: int) -> str:
    return f"arena.user.{user_id}"


# ---- the events and their data ------------------------------------------------------


class DecisionRecorded(TypedDict):
    """A bot's answer in a turn and what came of it (owner: it holds the reasoning)."""

    turn: int | None
    bot: int
    bot_name: str
    decision: int
    ok: bool
    actions: list[dict[str, Any]]
    executed: list[str]
    rejected: list[str]
    notes: list[str]
    error: str


class PositionOpened(TypedDict):
    bot: int
    position: int
    trade: int
    symbol: str
    side: str
    margin: str
    leverage: int
    quantity: str
    entry_price: str
    liquidation_price: str
    stop_loss: str | None
    take_profit: str | None
    fee: str
    decision: int | None
    opened_at: str


class PositionClosed(TypedDict):
    bot: int
    position: int
    trade: int
    symbol: str
    side: str
    quantity: str
    entry_price: str
    exit_price: str
    pnl: str  # net of the close fee
    fee: str
    reason: str  # decision, stop_loss, take_profit, liquidation, manual, reset
    decision: int | None
    closed_at: str


class FundingApplied(TypedDict):
    bot: int
    position: int
    symbol: str
    amount: str  # received (+) or paid (-)
    funding_time: str


class BalanceChanged(TypedDict):
    bot: int
    balance: str  # cash not locked as margin, after the change
    change: str
    kinds: list[str]  # the journal entry kinds that moved it


class SnapshotTaken(TypedDict):
    bot: int
    taken_at: str
    balance: str
    margin: str
    unrealized_pnl: str
    realized_pnl: str
    total_value: str
    trade_count: int
    win_rate: str


class TurnState(TypedDict):
    """A turn's state for everyone: counts, no bot names or reasons (those are the owners')."""

    turn: int
    status: str
    forced: bool
    started_at: str
    finished_at: str | None
    bots: dict[str, int]


class BotTurnState(TypedDict):
    """One bot's part in a turn, for its owner: ran, failed (and why) or skipped (and why)."""

    turn: int
    bot: int
    bot_name: str
    status: str
    reason: str
    decision: int | None


class _BotState(TypedDict):
    bot: int
    name: str
    mode: str
    is_paused: bool
    is_active: bool


class BotChanged(_BotState, total=False):
    changed: list[str]  # bot_updated: the fields that changed


class MarketPrices(TypedDict):
    prices: dict[str, str]  # symbol → last price
    at: str


class ReconciliationDone(TypedDict):
    bot: int
    reconciliation: int
    status: str  # agreed, differences, failed
    open_discrepancies: int
    at: str


class KillSwitch(TypedDict):
    engaged: bool
    at: str
    by: str  # the admin's display name


PUBLIC, OWNER = "public", "owner"

# type → (data, audience). Durable unless listed in TICKS.
EVENT_TYPES: dict[str, tuple[type, str]] = {
    "decision_recorded": (DecisionRecorded, OWNER),
    "position_opened": (PositionOpened, PUBLIC),
    "position_closed": (PositionClosed, PUBLIC),
    "funding_applied": (FundingApplied, PUBLIC),
    "balance_changed": (BalanceChanged, PUBLIC),
    "snapshot_taken": (SnapshotTaken, PUBLIC),
    "turn_queued": (TurnState, PUBLIC),
    "turn_started": (TurnState, PUBLIC),
    "turn_finished": (TurnState, PUBLIC),
    "turn_failed": (TurnState, PUBLIC),
    "turn_skipped": (TurnState, PUBLIC),
    "bot_turn": (BotTurnState, OWNER),
    "bot_created": (BotChanged, OWNER),
    "bot_updated": (BotChanged, OWNER),
    "bot_paused": (BotChanged, OWNER),
    "bot_resumed": (BotChanged, OWNER),
    "bot_reset": (BotChanged, OWNER),
    "market_prices": (MarketPrices, PUBLIC),
    "reconciliation": (ReconciliationDone, OWNER),
    "kill_switch": (KillSwitch, PUBLIC),
}
TICKS = frozenset({"market_prices"})


class EventError(ValueError):
    """An event that does not match its declared shape: a programming error, raised loudly."""


def _check(type_: str, data: dict[str, Any], owner_id: int | None) -> str:
    try:
        shape, audience = EVENT_TYPES[type_]
    except KeyError:
        raise EventError(f"unknown event type {type_!r}") from None
    keys = set(data)
    missing = shape.__required_keys__ - keys
    extra = keys - shape.__required_keys__ - shape.__optional_keys__
    if missing or extra:
        raise EventError(f"{type_}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    if audience == OWNER and owner_id is None:
        raise EventError(f"{type_} is for the bot's owner: owner_id is required")
    return audience


def jsonable(value: Any) -> Any:
    """Decimals as exact strings (without trailing zeros), datetimes as ISO 8601 UTC."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f") if value.is_finite() else str(value)
        return "0" if text in ("-0", "") else text
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _sequence_take(count: int) -> int:
    """Reserve ``count`` numbers in one statement; returns the last. The UPDATE locks the
    counter row until this transaction ends (SQLite: the database's write lock), so numbers
    follow commit order."""
    connection = transaction.get_connection()
    table = connection.ops.quote_name(EventSequence._meta.db_table)
    last = connection.ops.quote_name("last")
    with connection.cursor() as cursor:
        # UPDATE … RETURNING (SQLite 3.35+, PostgreSQL): bump and read in one round trip.
        cursor.execute(f"UPDATE {table} SET {last} = {last} + %s WHERE id = 1 RETURNING {last}", [count])
        row = cursor.fetchone()
        if row is None:  # the counter row is made by a migration; a flushed test database lacks it
            EventSequence.objects.get_or_create(pk=1, defaults={"last": 0})
            cursor.execute(f"UPDATE {table} SET {last} = {last} + %s WHERE id = 1 RETURNING {last}", [count])
            row = cursor.fetchone()
    return row[0]


# The events a service's ``events_batched()`` block has appended and not yet written.
_batch: ContextVar[list[Event] | None] = ContextVar("ledger_events_batch", default=None)


@contextmanager
def events_batched() -> Iterator[None]:
    """Hold the events appended inside the block and write them when it ends without an
    error: one sequence bump and one multi-row insert for all of them (a trade's record
    step appends its position event and the balance change it caused). Use it inside the
    service's transaction, around the writes; nested blocks join the outermost."""
    if _batch.get() is not None:
        yield
        return
    rows: list[Event] = []
    token = _batch.set(rows)
    try:
        yield
    finally:
        _batch.reset(token)
    _write(rows)  # not reached on an error: the transaction rolls back and nothing is written


def _write(rows: list[Event]) -> None:
    if not rows:
        return
    last = _sequence_take(len(rows))
    for offset, row in enumerate(rows):
        row.seq = last - len(rows) + 1 + offset
    Event.objects.bulk_create(rows)
    transaction.on_commit(lambda: _push(rows), robust=True)


def events_append(events: list[tuple[str, dict[str, Any]]], *, owner_id: int | None = None,
                  bot_id: int | None = None, now: datetime | None = None) -> list[Event]:
    """Store ``events`` (type, data) in the current transaction, numbered in order, and
    push them to the stream once it commits. ``owner_id`` is the user owner-only events
    go to. Must run inside ``transaction.atomic()`` (the caller's change and its events
    commit together). Inside ``events_batched()`` the rows are written (and numbered) when
    that block ends."""
    if not events:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise EventError("events are appended inside the transaction of the change they describe")
    now = now or timezone.now()
    rows = []
    for type_, data in events:
        if type_ in TICKS:
            raise EventError(f"{type_} is not stored: use event_broadcast")
        audience = _check(type_, data, owner_id)
        rows.append(Event(type=type_, data=jsonable(data), created_at=now, bot_id=bot_id,
                          user_id=owner_id if audience == OWNER else None))
    batch = _batch.get()
    if batch is not None:
        batch.extend(rows)
    else:
        _write(rows)
    return rows


def event_append(type_: str, data: dict[str, Any], *, owner_id: int | None = None,
                 bot_id: int | None = None, now: datetime | None = None) -> Event:
    """``events_append`` for one event."""
    return events_append([(type_, data)], owner_id=owner_id, bot_id=bot_id, now=now)[0]


def event_broadcast(type_: str, data: dict[str, Any]) -> None:
    """Push a tick that is not stored (``seq`` null), after the current transaction commits."""
    if type_ not in TICKS:
        raise EventError(f"{type_} is durable: use event_append")
    _check(type_, data, None)
    message = {"seq": None, "type": type_, "data": jsonable(data)}
    transaction.on_commit(lambda: _send(PUBLIC_GROUP, message), robust=True)


def message_of(event: Event) -> dict[str, Any]:
    """What a socket receives for a stored event."""
    return {"seq": event.seq, "type": event.type, "data": event.data}


def _push(rows: list[Event]) -> None:
    _send_all([(PUBLIC_GROUP if row.user_id is None else user_group(row.user_id), message_of(row))
               for row in rows])


def _send(group: str, message: dict[str, Any]) -> None:
    _send_all([(group, message)])


def runs_of(messages: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The messages as runs of consecutive ones for the same group, in order: each run is one
    channel-layer message, so a turn's public events reach each socket in one delivery. Only
    consecutive ones: a socket in two groups must still get every event in ``seq`` order."""
    return [(group, [message for _, message in run]) for group, run in groupby(messages, key=itemgetter(0))]


def _send_all(messages: list[tuple[str, dict[str, Any]]]) -> None:
    # After commit: a channel layer that is down loses only the push (the event is stored and
    # replayed on reconnect); ``robust`` on_commit logs the failure instead of failing the
    # change that already committed. One hop into the event loop for a whole batch.
    layer = get_channel_layer()
    if layer is None:
        return

    async def send() -> None:
        for group, events in runs_of(messages):
            # Encoded once here, not once per socket: each consumer sends the text as it is.
            frames = [{"seq": event.get("seq"), "text": json.dumps(event)} for event in events]
            await layer.group_send(group, {"type": "arena.events", "frames": frames})

    async_to_sync(send)()


def events_prune(*, now: datetime, days: int = RETENTION_DAYS) -> int:
    """Delete the events older than the retention; returns how many."""
    deleted, _ = Event.objects.filter(created_at__lt=now - timedelta(days=days)).delete()
    if deleted:
        log.info("pruned %d events older than %d days", deleted, days)
    return deleted
