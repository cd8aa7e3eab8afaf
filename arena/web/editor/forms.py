"""The bot form: what the page posts, read into the REST API's own serializers (one set of
rules for the API and the page), and their errors per field for the page to show.

A page form differs from a JSON body in two ways only: an unticked checkbox sends nothing
(so each one is read as "present or not"), and a text input always sends something (so an
empty wallet choice means "none", and an empty limit "no limit"). The password a real bot
asks for is never shown again, not even after an error.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from rest_framework.exceptions import ErrorDetail

from arena.api.bots.serializers import (
    BotCreateSerializer,
    BotSerializer,
    CloneSerializer,
    bot_create_validated,
)
from bots import services as bot_services
from bots.models import Bot

FORM_ERRORS = "form"  # the key of the errors that belong to no single field
CHECKBOXES = ("sandbox_enabled", "is_listed", "reasoning_public", "confirm_real")
LIMITS = ("max_order_notional", "max_exposure")


def form_values(post: Mapping[str, Any], symbols: list[str]) -> dict[str, Any]:
    """What the user sent, as the form shows it again (on an error nothing typed is lost)."""
    return {
        "name": post.get("name", ""), "prompt": post.get("prompt", ""), "provider": post.get("provider", ""),
        "mode": post.get("mode", Bot.Mode.PAPER), "wallet": post.get("wallet", ""), "symbols": symbols,
        "avatar_generated": "avatar_generated" in post, **{box: box in post for box in CHECKBOXES},
        **{limit: post.get(limit, "").strip() for limit in LIMITS},
    }


def bot_values(bot: Bot) -> dict[str, Any]:
    """A saved bot as the form shows it."""
    return {
        "name": bot.name, "prompt": bot.prompt, "provider": str(bot.provider_id), "mode": bot.mode,
        "wallet": "", "symbols": list(bot.symbols or []), "avatar_generated": False, "confirm_real": False,
        "sandbox_enabled": bot.sandbox_enabled, "is_listed": bot.is_listed,
        "reasoning_public": bot.reasoning_public,
        **{limit: "" if getattr(bot, limit) is None else format(getattr(bot, limit).normalize(), "f")
           for limit in LIMITS},
    }


def serializer_data(values: Mapping[str, Any], avatar: Any, *, creating: bool,
                    moderated: bool = False, password: str = "") -> dict[str, Any]:
    """The form's values as the API's serializer takes them. ``avatar`` is an upload, or
    None to leave the picture as it is; "generated" removes an uploaded one. A moderated
    bot's visibility is not the owner's to send (the serializer would refuse it).
    ``password`` (a new real bot's) comes from the post, never from ``values``."""
    data: dict[str, Any] = {
        "name": values["name"], "prompt": values["prompt"],
        "symbols": list(values["symbols"]), "sandbox_enabled": values["sandbox_enabled"],
        **{limit: values.get(limit) or None for limit in LIMITS},
    }
    if values["provider"]:  # none chosen: the serializer says it is required
        data["provider"] = values["provider"]
    if not moderated:
        data.update(is_listed=values["is_listed"], reasoning_public=values["reasoning_public"])
    if avatar is not None:
        data["avatar"] = avatar
    elif values["avatar_generated"]:
        data["avatar"] = None
    if creating:
        data.update(mode=values["mode"], confirm_real=values["confirm_real"], wallet=values["wallet"] or None)
        if values["mode"] == Bot.Mode.REAL and password:  # none typed: the serializer says it is wrong
            data["password"] = password
    return data


def _messages(detail: Any) -> list[str]:
    """Every message in a DRF error detail (a list's items may be nested per index)."""
    if isinstance(detail, Mapping):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, list | tuple):
        return [m for value in detail for m in _messages(value)]
    return [str(detail)] if isinstance(detail, ErrorDetail | str) else []


def field_errors(errors: Mapping[str, Any]) -> dict[str, list[str]]:
    """A serializer's (or a model's) errors as ``{field: [message, ...]}``, with the ones
    that belong to no field under ``FORM_ERRORS``."""
    flat: dict[str, list[str]] = {}
    for field, detail in errors.items():
        key = FORM_ERRORS if field in ("non_field_errors", NON_FIELD_ERRORS) else field
        flat.setdefault(key, []).extend(_messages(detail))
    return flat


# A model constraint's message (its ``violation_error_message``, or Django's generic "Constraint
# “…” is violated.") as the field it is about and words a person can act on.
CONSTRAINT_MESSAGES = {
    "You already have a bot by this name.": ("name", "You already have a bot by this name: choose another."),
    "bots_bot_owner_name_unique_active": ("name", "You already have a bot by this name: choose another."),
}


def model_errors(messages: dict[str, list[str]]) -> dict[str, list[str]]:
    """A model's ``message_dict`` per field, a violated constraint told on its field."""
    flat = field_errors(messages)
    for message in list(flat.get(FORM_ERRORS, [])):
        for constraint, (field, text) in CONSTRAINT_MESSAGES.items():
            if constraint in message:
                flat[FORM_ERRORS].remove(message)
                flat.setdefault(field, []).append(text)
    if not flat.get(FORM_ERRORS, True):
        del flat[FORM_ERRORS]
    return flat


def _django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return model_errors(exc.message_dict)
    return {FORM_ERRORS: list(exc.messages)}


def bot_create_from(request: HttpRequest, data: dict[str, Any]) -> tuple[Bot | None, dict[str, list[str]]]:
    """Create a bot as ``POST /api/bots/`` does: the new bot, or the errors per field."""
    form = BotCreateSerializer(data=data, context={"request": request})
    if not form.is_valid():
        return None, field_errors(form.errors)
    try:
        with transaction.atomic():
            bot = bot_create_validated(owner=request.user, data=form.validated_data)
    except DjangoValidationError as exc:
        return None, _django_errors(exc)
    return bot, {}


def bot_update_from(request: HttpRequest, bot: Bot, data: dict[str, Any]) -> dict[str, list[str]]:
    """Change ``bot`` as ``PATCH /api/bots/<id>/`` does; the errors per field, if any."""
    form = BotSerializer(bot, data=data, partial=True, context={"request": request})
    if not form.is_valid():
        return field_errors(form.errors)
    try:
        bot_services.bot_update(bot=bot, **form.validated_data)
    except DjangoValidationError as exc:
        return _django_errors(exc)
    return {}


def bot_clone_from(request: HttpRequest, data: dict[str, Any]) -> tuple[Bot | None, dict[str, list[str]]]:
    """Clone a bot as ``POST /api/bots/`` with ``clone_from`` does."""
    form = CloneSerializer(data=data, context={"request": request})
    if not form.is_valid():
        return None, field_errors(form.errors)
    source: Bot = form.validated_data["clone_from"]
    provider = form.validated_data.get("provider")
    mine = source.owner_id == request.user.pk
    if provider is None and not mine:
        return None, {"provider": ["Choose one of your providers for the copy."]}
    try:
        bot = bot_services.bot_clone(bot=source, owner=request.user, name=form.validated_data.get("name"),
                                     provider=provider, copy_prompt=mine or source.reasoning_public)
    except DjangoValidationError as exc:
        return None, _django_errors(exc)
    return bot, {}
