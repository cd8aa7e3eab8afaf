"""The live stream: one WebSocket per browser tab at /ws/arena/.

Everyone joins the public group; a signed-in user also joins their own group,
so events about their bots reach only them. Events are published through
``arena.events.publish``; this consumer only forwards them.
"""
from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from arena.events import PUBLIC_GROUP, user_group


class ArenaConsumer(AsyncJsonWebsocketConsumer):
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

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # The stream is one-way; a client message gets a clear answer, not silence.
        await self.send_json({"type": "error", "message": "this socket only sends events"})

    async def arena_event(self, message: dict) -> None:
        await self.send_json(message["event"])
