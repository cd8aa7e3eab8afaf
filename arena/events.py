"""The live stream's groups. Events themselves are written by the services that make a
change, to the outbox in ``ledger.events``, which pushes them here after commit."""
from __future__ import annotations

from ledger.events import PUBLIC_GROUP, user_group

__all__ = ["PUBLIC_GROUP", "user_group"]
