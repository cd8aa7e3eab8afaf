"""The audit trail's writes: who changed what, when, through which interface, before and after.

Services call ``change_record`` inside the transaction that makes the change, with the
object's fields before and after (``fields_of``). Who and through which interface come
from the context: ``acting(...)`` around a request (the HTTP middleware), a management
command (``manage.py``) or a test; outside any, the change is the arena's own ("system",
e.g. a turn). A secret's values never reach the trail: only that it changed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from ledger.models import Change

SECRET_CHANGED = "(changed)"


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (or a callable giving the request's user once it is known, since
    an API token is checked after the middleware ran) and the interface."""

    interface: str = Change.Interface.SYSTEM
    user: Any = None


_SYSTEM = Actor()
_actor: ContextVar[Actor] = ContextVar("ledger_change_actor", default=_SYSTEM)  # noqa: B039 (frozen)


@contextmanager
def acting(*, interface: str, user: Any = None) -> Iterator[None]:
    """Attribute the changes made inside to ``user`` through ``interface``."""
    token = _actor.set(Actor(interface=interface, user=user))
    try:
        yield
    finally:
        _actor.reset(token)


def change_actor() -> Any:
    """The signed-in user the current changes are attributed to, or None (the arena itself)."""
    user = _actor.get().user
    if callable(user):
        user = user()
    return user if getattr(user, "is_authenticated", False) else None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, FieldFile):
        return value.name or ""
    if isinstance(value, models.Model):
        return value.pk
    return value


def fields_of(obj: models.Model, names: Iterable[str]) -> dict[str, Any]:
    """``obj``'s values of ``names`` as JSON (a foreign key as its id, money as an exact string)."""
    values = {}
    for name in names:
        field = obj._meta.get_field(name)
        attname = field.attname if isinstance(field, models.ForeignKey) else name
        values[name] = _plain(getattr(obj, attname))
    return values


def change_record(*, obj: models.Model, action: str, before: dict[str, Any] | None,
                  after: dict[str, Any] | None, owner_id: int | None, secrets: Iterable[str] = (),
                  now: datetime | None = None) -> Change | None:
    """Append one change of ``obj`` (``before`` None for a creation, ``after`` None for a
    deletion). Fields named in ``secrets`` are compared (e.g. by ciphertext) but stored only
    as "(changed)". An "updated" that changed nothing is not recorded."""
    before, after = before or {}, after or {}
    secret = set(secrets)
    changes = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        changes[name] = [None, SECRET_CHANGED] if name in secret else [old, new]
    if not changes and action == "updated":
        return None
    user = change_actor()
    return Change.objects.create(
        at=now or timezone.now(), actor=user, actor_name=getattr(user, "username", "") if user else "",
        interface=_actor.get().interface, object_type=obj._meta.label, object_id=str(obj.pk),
        object_repr=str(obj)[:200], action=action, changes=changes, owner_id=owner_id,
    )


def interface_for_path(path: str) -> str:
    if path.startswith("/admin/"):
        return Change.Interface.ADMIN
    return Change.Interface.API if path.startswith("/api/") else Change.Interface.WEB


class ChangeActorMiddleware:
    """Attributes the changes a request makes to its user (resolved when a change is
    recorded, after DRF has checked a token) and its interface (the admin, the API or a page)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with acting(interface=interface_for_path(request.path), user=lambda: getattr(request, "user", None)):
            return self.get_response(request)
