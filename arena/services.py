"""Writes about the arena as a whole: its settings row, and the admin's changes to users."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from arena.accounts import USER_AUDITED, user_change
from arena.models import ApiToken, ArenaSettings, User
from arena.schedule import schedule_sync
from arena.selectors import arena_settings_specs
from ledger.changes import change_record, fields_of


def arena_settings_save(*, arena: ArenaSettings) -> ArenaSettings:
    """Validate and save the settings row, then move the periodic tasks to its
    intervals: the beat process picks the change up without a restart. The change, field
    by field, goes to the audit trail (from the API and the admin alike)."""
    arena.full_clean()
    names = sorted(spec.name for spec in arena_settings_specs())
    stored = ArenaSettings.objects.filter(pk=arena.pk).first()
    with transaction.atomic():
        arena.save()
        change_record(obj=arena, action="updated" if stored else "created",
                      before=fields_of(stored, names) if stored else None, after=fields_of(arena, names),
                      owner_id=None)
    schedule_sync(arena)
    return arena


def _out_of_range(arena: ArenaSettings) -> dict[str, list[str]]:
    """Each field outside the range its validators and check constraints allow, with why:
    a constraint's own error names no field, this does."""
    errors: dict[str, list[str]] = {}
    for spec in arena_settings_specs():
        value = getattr(arena, spec.name)
        if value is None or isinstance(value, bool) or spec.type not in {"integer", "decimal"}:
            continue
        if spec.min is not None and not spec.min.admits(value, lower=True):
            word = "greater than" if spec.min.exclusive else "at least"
            errors[spec.name] = [f"Must be {word} {spec.min.value}."]
        elif spec.max is not None and not spec.max.admits(value, lower=False):
            word = "less than" if spec.max.exclusive else "at most"
            errors[spec.name] = [f"Must be {word} {spec.max.value}."]
    return errors


def _arena_settings_apply(*, values: dict[str, Any]) -> ArenaSettings:
    """Set ``values`` on the locked settings row, check every field and save; on any error
    nothing is written and each bad field is named."""
    settable = {spec.name for spec in arena_settings_specs()}
    unknown = sorted(set(values) - settable)
    if unknown:
        raise ValidationError({name: "Not an arena setting one can change." for name in unknown})
    with transaction.atomic():
        ArenaSettings.load()  # the row exists before it is locked
        arena = ArenaSettings.objects.select_for_update().get(pk=1)
        for name, value in values.items():
            setattr(arena, name, value)
        errors: dict[str, list[str]] = {}
        try:
            arena.clean_fields()  # types first, so the range check compares numbers
        except ValidationError as exc:
            errors.update(exc.message_dict)
        for name, messages in _out_of_range(arena).items():
            errors.setdefault(name, messages)
        if errors:
            raise ValidationError(errors)
        return arena_settings_save(arena=arena)


def arena_settings_update(*, changes: dict[str, Any]) -> ArenaSettings:
    """Change some arena settings (``{field: value}``); validated by the model (its fields,
    ``clean()`` and its ranges), then saved and the schedule moved to the new intervals."""
    return _arena_settings_apply(values=changes)


def arena_settings_reset() -> ArenaSettings:
    """Every arena setting back to the model's default, the schedule with them."""
    return _arena_settings_apply(values={spec.name: spec.default for spec in arena_settings_specs()})


def user_set_active(*, user: User, active: bool, by: User | None = None, reason: str = "") -> User:
    """Suspend (``active=False``) or reactivate ``user``. A suspended user's API tokens are
    revoked at once (a session is refused while the account is inactive). An admin cannot
    suspend themselves (``by``); a moderator only suspends and reactivates plain users.
    ``reason`` goes to the audit trail."""
    if not active and by is not None and by.pk == user.pk:
        raise ValidationError({"is_active": "You cannot suspend yourself; ask another admin."})
    if by is not None and not by.is_arena_admin and (user.role != User.Role.USER or user.is_superuser):
        raise PermissionDenied("A moderator can suspend or reactivate plain users only; ask an admin.")
    with transaction.atomic():
        row = User.objects.select_for_update().get(pk=user.pk)
        if row.is_active != active:
            before = fields_of(row, USER_AUDITED)
            row.is_active = active
            row.save(update_fields=["is_active"])
            user_change(row, "reactivated" if active else "suspended", before, reason=reason)
        if not active:
            ApiToken.objects.filter(user=row).delete()
    user.is_active = row.is_active
    return row


def user_set_role(*, user: User, role: str, by: User) -> User:
    """Give ``user`` the ``role`` (``User.Role``). An admin (``by``) cannot demote themselves,
    so an arena always keeps the admin who is making changes."""
    if role not in User.Role.values:
        raise ValidationError({"role": f"One of {', '.join(User.Role.values)}."})
    if by.pk == user.pk and role != User.Role.ADMIN and role != user.role:
        raise ValidationError({"role": "You cannot demote yourself; ask another admin."})
    with transaction.atomic():
        row = User.objects.select_for_update().get(pk=user.pk)
        if row.role != role:
            before = fields_of(row, USER_AUDITED)
            row.role = role
            row.save(update_fields=["role"])
            user_change(row, "role_changed", before)
    user.role = row.role
    return row
