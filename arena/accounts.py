"""Writes about users and their API tokens: register, change a password, issue and
redeem a password reset, make, refresh and revoke tokens, delete (anonymise) a user."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from knox.settings import knox_settings

from arena.models import ApiToken, User
from bots.models import Bot
from bots.services import bot_update
from ledger.changes import change_record, fields_of

MAX_TOKEN_DAYS = 365
# What the audit trail keeps of a user; the password only as "(changed)".
USER_AUDITED = ["username", "email", "display_name", "first_name", "last_name", "role", "is_active",
                "is_staff", "is_superuser", "password"]


def user_change(user: User, action: str, before: dict | None, reason: str = "") -> None:
    """Append ``user``'s change to the audit trail (owner: the user themselves), with the
    ``reason`` a moderator or admin gave, if any."""
    after = fields_of(user, USER_AUDITED) | ({"reason": reason} if reason else {})
    change_record(obj=user, action=action, before=before, after=after, owner_id=user.pk, secrets=["password"])


def _password_check(password: str, user: User, field: str = "password") -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


def user_register(*, username: str, password: str, email: str = "", display_name: str = "") -> User:
    """A new user with the ``user`` role; refused while ``ARENA_REGISTRATION_OPEN`` is off.
    The password must pass the validators (length, not common, not like the username)."""
    if not settings.ARENA_REGISTRATION_OPEN:
        raise PermissionError("Registration is closed on this arena; an admin can create your account.")
    if User.objects.filter(username__iexact=username).exists():  # "Alice" is taken once "alice" is
        raise ValidationError({"username": "This username is taken."})
    user = User(username=username, email=email, display_name=display_name, role=User.Role.USER)
    _password_check(password, user)
    user.set_password(password)
    user.full_clean()
    with transaction.atomic():
        user.save()
        user_change(user, "registered", None)
    return user


def user_update(*, user: User, email: str | None = None, display_name: str | None = None) -> User:
    """Change what a user may change of themselves: e-mail and public display name."""
    before = fields_of(User.objects.get(pk=user.pk), USER_AUDITED)
    fields = []
    if email is not None:
        user.email = email
        fields.append("email")
    if display_name is not None:
        user.display_name = display_name
        fields.append("display_name")
    user.full_clean()
    with transaction.atomic():
        user.save(update_fields=fields)
        user_change(user, "updated", before)
    return user


def _password_set(user: User, new_password: str, action: str) -> User:
    """Check and set ``user``'s new password; the change (never the password) goes to the trail."""
    _password_check(new_password, user, "new_password")
    before = fields_of(user, USER_AUDITED)
    user.set_password(new_password)
    with transaction.atomic():
        user.save(update_fields=["password"])
        user_change(user, action, before)
    return user


def user_password_change(*, user: User, old_password: str, new_password: str) -> User:
    """Set a new password after checking the old one. Other sessions end (Django's session
    hash changes with the password); API tokens stay until revoked."""
    if not user.check_password(old_password):
        raise ValidationError({"old_password": "This is not your current password."})
    return _password_set(user, new_password, "password_changed")


def password_reset_issue(*, user: User) -> tuple[str, str]:
    """A one-time reset for ``user`` as ``(uid, token)``, for an admin to hand over when
    the arena sends no e-mail. The token is Django's: valid for ``PASSWORD_RESET_TIMEOUT``
    seconds and only until the password (or the last login) changes."""
    if not user.is_active:
        raise ValidationError({"user": "A suspended user cannot reset a password; reactivate them first."})
    return urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)


def password_reset_redeem(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password with a reset from ``password_reset_issue``; it works once."""
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        raise ValidationError(
            {"token": "This reset link is invalid, used or expired; ask an admin for a new one."})
    return _password_set(user, new_password, "password_reset")


def token_create(*, user: User, name: str, days: int | None = None,
                 now: datetime | None = None) -> tuple[ApiToken, str]:
    """A new API token for ``user``, valid ``days`` (default ``REST_KNOX['TOKEN_TTL']``,
    at most a year). Returns the row and the token, which is never stored nor shown again."""
    ttl = knox_settings.TOKEN_TTL if days is None else timedelta(days=days)
    if not timedelta(days=1) <= ttl <= timedelta(days=MAX_TOKEN_DAYS):
        raise ValidationError({"days": f"A token lives between 1 and {MAX_TOKEN_DAYS} days."})
    if not name.strip():
        raise ValidationError({"name": "Name the token after what uses it, e.g. \"backtest script\"."})
    token, plain = ApiToken.objects.create(user=user, expiry=None, name=name.strip())
    token.expiry = (now or timezone.now()) + ttl  # counted from the caller's clock
    token.save(update_fields=["expiry"])
    return token, plain


def token_refresh(*, token: ApiToken, now: datetime | None = None) -> ApiToken:
    """Push ``token``'s expiry a full lifetime from now (``POST /api/auth/token/refresh/``)."""
    now = now or timezone.now()
    token.expiry = now + knox_settings.TOKEN_TTL
    token.save(update_fields=["expiry"])
    return token


def token_revoke(*, user: User, token_key: str) -> int:
    """Revoke ``user``'s token(s) whose key (the first characters, as listed) is
    ``token_key``; returns how many. Another user's token is never touched."""
    deleted, _ = ApiToken.objects.filter(user=user, token_key=token_key).delete()
    return deleted


def tokens_expired_delete(*, now: datetime) -> int:
    """Drop tokens past their expiry (knox refuses them already; this keeps the table small)."""
    deleted, _ = ApiToken.objects.filter(expiry__lt=now).delete()
    return deleted


def user_delete(*, user: User) -> User:
    """Deactivate and anonymise ``user``: no login, no tokens, no name or e-mail kept; their
    bots stop trading (soft-deleted) and every bot's history stays."""
    with transaction.atomic():
        row = User.objects.select_for_update().get(pk=user.pk)
        before = fields_of(row, USER_AUDITED)
        for bot in Bot.objects.filter(owner=row, is_active=True).order_by("pk"):
            bot_update(bot=bot, is_active=False, is_paused=True)
        row.username = f"deleted-user-{row.pk}"
        row.email = row.first_name = row.last_name = ""
        row.display_name = "Deleted user"
        row.is_active = row.is_staff = row.is_superuser = False
        row.set_unusable_password()
        row.save()
        ApiToken.objects.filter(user=row).delete()
        user_change(row, "deleted", before)
    return row
