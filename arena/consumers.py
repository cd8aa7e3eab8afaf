"""The live stream: one WebSocket per browser tab at /ws/arena/.

Everyone joins the public group; a signed-in user also joins their own group,
so events about their bots reach only them. Events are written to the outbox by
the services that make a change (``ledger.events``) and pushed here after commit;
this consumer forwards them, and replays what a reconnecting client missed:
``/ws/arena/?since=N`` first sends every stored event after N that this user may see,
in order, then live ones (none twice). A client whose N is older than the retained
events, or too far behind, gets ``{"type": "resync"}``: reload state from the API.
An anonymous socket is refused while the arena is private (``ArenaSettings.public_arena``).

Every ``ARENA_WS_HEARTBEAT_SECONDS`` the socket also gets a ``heartbeat`` event, so a
browser can tell a live stream from a dead one; each beat re-joins the groups, which
renews channels-redis's ``group_expiry`` for sockets open longer than it.
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db.models import Min, Q

from arena.models import ArenaSettings
from ledger.events import PUBLIC_GROUP, message_of, user_group
from ledger.models import Event

REPLAY_MAX = 2000  # further behind than this, a client reloads state instead


def spectators_welcome() -> bool:
    """Whether an anonymous socket may watch (``ArenaSettings.public_arena``)."""
    return ArenaSettings.load().public_arena


def _since(scope: dict) -> int | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("since")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def replay(*, since: int, user_id: int | None) -> list[dict] | None:
    """The stored events after ``since`` that this user may see, in order; None when some
    of them are no longer retained or there are too many (the client must resync)."""
    oldest = Event.objects.aggregate(oldest=Min("seq"))["oldest"]
    if oldest is not None and oldest > since + 1:
        return None  # events after ``since`` were pruned
    audience = Q(user__isnull=True) if user_id is None else Q(user__isnull=True) | Q(user_id=user_id)
    rows = list(Event.objects.filter(audience, seq__gt=since).order_by("seq")[: REPLAY_MAX + 1])
    if len(rows) > REPLAY_MAX:
        return None
    return [message_of(row) for row in rows]


class ArenaConsumer(AsyncJsonWebsocketConsumer):
    heartbeat_task: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.groups_joined = []
        signed_in = user is not None and user.is_authenticated
        if not signed_in and not await database_sync_to_async(spectators_welcome)():
            await self.close(code=4401)  # a private arena: sign in to watch (HTTP 403 before accept)
            return
        self.groups_joined = [PUBLIC_GROUP]
        if signed_in:
            self.groups_joined.append(user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json(
            {"type": "hello", "authenticated": len(self.groups_joined) > 1}
        )
        # Joined first, replayed second: an event committed meanwhile comes both ways and is
        # sent once (live messages wait until connect returns; ``last_seq`` drops repeats).
        self.last_seq = 0
        since = _since(self.scope)
        if since is not None:
            user_id = user.pk if len(self.groups_joined) > 1 else None
            missed = await database_sync_to_async(replay)(since=since, user_id=user_id)
            if missed is None:
                await self.send_json({"seq": None, "type": "resync", "data": {"since": since}})
            else:
                self.last_seq = since
                for message in missed:
                    await self.forward(message)
        self.heartbeat_task = asyncio.create_task(self.heartbeat())

    async def disconnect(self, code: int) -> None:
        task, self.heartbeat_task = self.heartbeat_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def heartbeat(self) -> None:
        interval = settings.ARENA_WS_HEARTBEAT_SECONDS
        while True:
            await asyncio.sleep(interval)
            for group in self.groups_joined:
                # group_add on a member refreshes its expiry (channels-redis group_expiry).
                await self.channel_layer.group_add(group, self.channel_name)
            await self.send_json(
                {
                    "seq": None,
                    "type": "heartbeat",
                    "data": {"at": datetime.now(UTC).isoformat().replace("+00:00", "Z")},
                }
            )

    async def receive_json(self, content, **kwargs) -> None:
        # The stream is one-way; a client message gets a clear answer, not silence.
        await self.send_json({"type": "error", "message": "this socket only sends events"})

    async def arena_events(self, message: dict) -> None:
        """A run of events pushed together (``ledger.events.runs_of``), each its own frame,
        already encoded by the pusher (the same text for every socket)."""
        for frame in message["frames"]:
            if self.fresh(frame["seq"]):
                await self.send(text_data=frame["text"])

    def fresh(self, seq: int | None) -> bool:
        """Whether to send the event numbered ``seq`` (a tick, unnumbered, always is): not
        when it was already sent, by the replay or live."""
        if seq is None:
            return True
        if seq <= self.last_seq:
            return False
        self.last_seq = seq
        return True

    async def forward(self, event: dict) -> None:
        if self.fresh(event.get("seq")):
            await self.send_json(event)
