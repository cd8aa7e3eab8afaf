"""Writes of the bots app: bots (``bots.services.bots``) and LLM providers
(``bots.services.providers``)."""
from __future__ import annotations

from bots.services.bots import (
    BOT_AUDITED,
    CLONE_PROMPT,
    bot_clone,
    bot_create,
    bot_moderate,
    bot_moderation_lift,
    bot_pause,
    bot_reset,
    bot_resume,
    bot_update,
    bot_validate,
    bots_set_paused,
)
from bots.services.providers import (
    PROVIDER_AUDITED,
    provider_audited,
    provider_base_url_check,
    provider_change,
    provider_create,
    provider_delete,
    provider_update,
)

__all__ = [
    "BOT_AUDITED",
    "CLONE_PROMPT",
    "PROVIDER_AUDITED",
    "bot_clone",
    "bot_create",
    "bot_moderate",
    "bot_moderation_lift",
    "bot_pause",
    "bot_reset",
    "bot_resume",
    "bot_update",
    "bot_validate",
    "bots_set_paused",
    "provider_audited",
    "provider_base_url_check",
    "provider_change",
    "provider_create",
    "provider_delete",
    "provider_update",
]
