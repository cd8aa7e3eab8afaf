"""/account/: your public name and e-mail, your password, and your API tokens — through
the same services and serializers as /api/auth/me/, /api/auth/password/ and /api/auth/tokens/."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from arena import accounts
from arena.api.accounts import PasswordChangeSerializer, TokenRequestSerializer, UserSerializer
from arena.selectors import tokens_of
from arena.web.accounts.forms import Errors, errors_of, validated
from arena.web.base import login_required, page

PROFILE_FIELDS = ("display_name", "email")


def _account(request: HttpRequest, *, status: int = 200, **context) -> HttpResponse:
    """The account page (or, for htmx, the tokens card) with the forms' errors in ``context``."""
    user = request.user
    base = {
        "profile": {name: getattr(user, name) for name in PROFILE_FIELDS},
        "profile_errors": {}, "password_errors": {}, "token_errors": {}, "token_values": {},
        "tokens": tokens_of(user_id=user.pk), "new_token": None,
    }
    response = page(request, "web/accounts/account.html", {**base, **context},
                    fragment="web/accounts/_tokens.html", status=status)
    add_never_cache_headers(response)  # a new token is on it, once
    return response


@login_required
@require_GET
def account_view(request: HttpRequest) -> HttpResponse:
    return _account(request)


@login_required
@require_POST
def profile_view(request: HttpRequest) -> HttpResponse:
    """Your public name (beside your bots on the leaderboard) and your e-mail (never public)."""
    data, errors = validated(UserSerializer, request.POST, instance=request.user, partial=True)
    if not errors:
        try:
            accounts.user_update(user=request.user, **{k: v for k, v in data.items() if k in PROFILE_FIELDS})
        except ValidationError as exc:
            errors = errors_of(exc)
    if errors:
        request.user.refresh_from_db()
        profile = {name: request.POST.get(name, "") for name in PROFILE_FIELDS}
        return _account(request, profile=profile, profile_errors=errors, status=400)
    messages.success(request, "Your profile is saved.")
    return redirect("web:account")


@login_required
@require_POST
def password_view(request: HttpRequest) -> HttpResponse:
    """A new password, after the current one; this session stays signed in, your others end."""
    errors: Errors = {}
    if request.POST.get("new_password", "") != request.POST.get("new_password2", ""):
        errors = {"new_password2": ["The two new passwords differ."]}
    else:
        data, errors = validated(PasswordChangeSerializer, request.POST)
        if not errors:
            try:
                user = accounts.user_password_change(user=request.user, **data)
            except ValidationError as exc:
                errors = errors_of(exc)
    if errors:
        return _account(request, password_errors=errors, status=400)
    update_session_auth_hash(request, user)
    messages.success(request, "Your password is changed; your other sessions are signed out.")
    return redirect("web:account")


@login_required
@require_POST
def token_create_view(request: HttpRequest) -> HttpResponse:
    """A new API token, shown on the answer to this post and never again."""
    post = request.POST.copy()
    if not post.get("days"):
        post.pop("days", None)  # left empty: the default lifetime
    data, errors = validated(TokenRequestSerializer, post)
    if not errors:
        try:
            token, plain = accounts.token_create(user=request.user, **data)
        except ValidationError as exc:
            errors = errors_of(exc)
    if errors:
        values = {"name": request.POST.get("name", ""), "days": request.POST.get("days", "")}
        return _account(request, token_errors=errors, token_values=values, status=400)
    return _account(request, new_token={"plain": plain, "name": token.name, "expiry": token.expiry},
                    status=201)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_key: str) -> HttpResponse:
    """Revokes one of your tokens (another user's key is a 404, as on the API)."""
    if not accounts.token_revoke(user=request.user, token_key=token_key):
        raise Http404("You have no token with this key.")
    if getattr(request, "htmx", False):
        return _account(request)
    messages.success(request, "The token is revoked.")
    return redirect("web:account")
