"""The kill switch: an admin stops all real-money trading at once, and releases it.

Engaging it needs the admin's password again (a stolen session alone cannot do it, nor
undo it). It marks the arena (``ArenaSettings.kill_switch_at``/``kill_switch_by``: while
set, no real bot trades whatever its pause flag says), pauses every active real bot, and
optionally closes every open real position on its exchange. Releasing it only clears the
mark: the bots stay paused until their owners resume them, one by one, knowingly.

Every change is on the audit trail under the admin's name and the interface used, and the
arena's public stream hears ``kill_switch``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from arena.models import ArenaSettings
from bots.models import Bot
from bots.services import bot_pause
from ledger.changes import acting, change_record
from ledger.events import event_append
from trading.models import Position
from trading.services.real import real_positions_close

PASSWORD_WRONG = "The password is not right."
_AUDITED = ("kill_switch_at", "kill_switch_by")


@dataclass(frozen=True)
class KillReport:
    """What engaging did: the bots it paused, and per bot the notes of closing its positions."""

    paused: list[int] = field(default_factory=list)
    closed: dict[int, list[str]] = field(default_factory=dict)


def _admin_confirmed(actor: Any, password: str) -> None:
    """Only an arena admin, with their password re-entered (``PermissionDenied`` first: a
    non-admin learns nothing about their password here)."""
    if not getattr(actor, "is_arena_admin", False):
        raise PermissionDenied("Only an arena admin can use the kill switch.")
    if not password or not actor.check_password(password):
        raise ValidationError({"password": [PASSWORD_WRONG]})


def _switch_values(arena: ArenaSettings) -> dict[str, Any]:
    return {"kill_switch_at": arena.kill_switch_at.isoformat() if arena.kill_switch_at else None,
            "kill_switch_by": arena.kill_switch_by_id}


def _switch_set(*, actor: Any, at: datetime | None, action: str, now: datetime) -> None:
    """Set (``at``) or clear (None) the mark on the locked settings row, on the audit trail
    and the public stream, in one transaction."""
    with transaction.atomic():
        ArenaSettings.load()  # the row exists before it is locked
        arena = ArenaSettings.objects.select_for_update().get(pk=1)
        before = _switch_values(arena)
        arena.kill_switch_at, arena.kill_switch_by = at, (actor if at else None)
        arena.save(update_fields=[*_AUDITED, "updated_at"])
        change_record(obj=arena, action=action, before=before, after=_switch_values(arena), owner_id=None,
                      now=now)
        event_append("kill_switch", {"engaged": at is not None, "at": now.isoformat(),
                                     "by": actor.public_name}, now=now)


def _close_all(bot: Bot, now: datetime) -> list[str]:
    # The switch must reach every bot: one bot's unexpected failure (an exchange down, a
    # broken wallet) is its note, and the next bot is still closed.
    try:
        return real_positions_close(bot=bot, now=now)
    except Exception as exc:  # noqa: BLE001 (recorded in the report, the others go on)
        return [f"its positions were not closed: {type(exc).__name__}: {exc}"]


def kill_switch_engage(*, actor: Any, password: str, close_positions: bool, interface: str,
                       now: datetime | None = None) -> KillReport:
    """Stop real trading: mark the arena, pause every active real bot, and with
    ``close_positions`` close every open real position (each bot's exchange, outside any
    transaction; one bot's failure is noted and the others go on). ``PermissionDenied``
    for a non-admin, ``ValidationError`` on "password" for a wrong one (nothing changes)."""
    _admin_confirmed(actor, password)
    now = now or timezone.now()
    with acting(interface=interface, user=actor):
        _switch_set(actor=actor, at=now, action="kill_switch_engaged", now=now)
        paused = []
        for bot in Bot.objects.filter(mode=Bot.Mode.REAL, is_active=True, is_paused=False).order_by("pk"):
            bot_pause(bot=bot)
            paused.append(bot.pk)
        closed: dict[int, list[str]] = {}
        if close_positions:
            holding = Position.objects.filter(status=Position.Status.OPEN, bot__mode=Bot.Mode.REAL)
            for bot in Bot.objects.filter(pk__in=holding.values("bot_id")).order_by("pk"):
                closed[bot.pk] = _close_all(bot, now)
    return KillReport(paused=paused, closed=closed)


def kill_switch_release(*, actor: Any, password: str, interface: str, now: datetime | None = None) -> None:
    """Clear the switch (an admin, password re-entered). The bots stay paused: their owners
    resume them. ``ValidationError`` on "kill_switch" when it is not engaged."""
    _admin_confirmed(actor, password)
    if ArenaSettings.load().kill_switch_at is None:
        raise ValidationError({"kill_switch": ["The kill switch is not engaged."]})
    now = now or timezone.now()
    with acting(interface=interface, user=actor):
        _switch_set(actor=actor, at=None, action="kill_switch_released", now=now)


def kill_switch_state() -> tuple[datetime | None, str]:
    """(when the switch was engaged, the display name of who engaged it), or (None, "")."""
    ArenaSettings.load()
    arena = ArenaSettings.objects.select_related("kill_switch_by").get(pk=1)
    if arena.kill_switch_at is None:
        return None, ""
    return arena.kill_switch_at, arena.kill_switch_by.public_name if arena.kill_switch_by else ""
