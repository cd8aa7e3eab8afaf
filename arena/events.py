"""Publishing small typed events to the live stream, after the data is committed."""
from __future__ import annotations

from typing import Any, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

PUBLIC_GROUP = "arena.public"


def user_group(user_id: int) -> str:
    return f"arena.user.{user_id}"


class Event(TypedDict):
    type: str
    data: dict[str, Any]


def publish(event: Event, *, owner_id: int | None = None) -> None:
    """Send ``event`` once the current transaction commits (at once outside one).

    With ``owner_id`` only that user's sockets receive it; otherwise every socket.
    """
    group = PUBLIC_GROUP if owner_id is None else user_group(owner_id)

    def send() -> None:
        layer = get_channel_layer()
        async_to_sync(layer.group_send)(group, {"type": "arena.event", "event": event})

    transaction.on_commit(send)
