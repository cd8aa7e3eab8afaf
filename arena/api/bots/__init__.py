"""/api/bots/: a user's bots, their actions and their history (``views``), and what the
routes read and write (``serializers``)."""
from __future__ import annotations

from arena.api.bots.serializers import MAX_PROMPT_CHARS, plain_text
from arena.api.bots.views import BotViewSet

__all__ = ["MAX_PROMPT_CHARS", "BotViewSet", "plain_text"]
