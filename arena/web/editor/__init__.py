"""The bot list and the bot editor: ``/bots/``, ``/bots/new/``, ``/bots/<id>/edit/``, clone
and delete, and the form's htmx fragments (the live prompt preview, the strategy templates).

The form posts through the REST API's own serializers (``arena.api.bots.serializers``) and
the same services, so a bot made here is the bot ``POST /api/bots/`` would make
(``forms``); ``preview`` renders a prompt the way a turn does; ``templates`` holds the
strategy templates and the placeholder help.
"""
from __future__ import annotations

from django.urls import path

from arena.web.editor import fragments, pages

urlpatterns = [
    path("bots/", pages.bot_list, name="bots"),
    path("bots/new/", pages.bot_new, name="bot-new"),
    path("bots/prompt-preview/", fragments.prompt_preview, name="bot-prompt-preview"),
    path("bots/strategy-prompt/", fragments.strategy_field, name="bot-strategy-prompt"),
    path("bots/<int:bot_id>/edit/", pages.bot_edit, name="bot-edit"),
    path("bots/<int:bot_id>/clone/", pages.bot_clone, name="bot-clone"),
    path("bots/<int:bot_id>/delete/", pages.bot_delete, name="bot-delete"),
]
