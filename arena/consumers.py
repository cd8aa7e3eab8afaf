"""The live stream: one WebSocket per browser tab at /ws/arena/.

Everyone joins the public group; a signed-in user also joins their own group,
so events about their bots reach only them. Events are published through
``arena.events.publish``; this consumer only forwards them.

Every ``ARENA_WS_HEARTBEAT_SECONDS`` the socket also gets a ``heartbeat`` event, so a
browser can tell a live stream from a dead one; each beat re-joins the groups, which
renews channels-redis's ``group_expiry`` for sockets open longer than it.
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from arena.events import PUBLIC_GROUP, user_group


class ArenaConsumer(AsyncJsonWebsocketConsumer):
    heartbeat_task: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.groups_joined = [PUBLIC_GROUP]
        if user is not None and user.is_authenticated:
            self.groups_joined.append(user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json(
            {"type": "hello", "authenticated": len(self.groups_joined) > 1}
        )
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

    async def arena_event(self, message: dict) -> None:
        await self.send_json(message["event"])
