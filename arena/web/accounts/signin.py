"""Signing in and out, registering, and redeeming a password reset an admin issued: the
API's rules (django-axes' lockout, the ``login``/``register`` throttles, the password
validators) with a page in front."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from arena import accounts
from arena.api.accounts import CredentialsSerializer, PasswordResetRedeemSerializer, RegisterSerializer
from arena.web.accounts.forms import (
    NON_FIELD,
    Errors,
    errors_of,
    safe_next,
    throttle_wait,
    validated,
    wait_message,
)
from arena.web.base import page, spectators_welcome

# What the API says about a wrong pair: never which half was wrong.
WRONG = "Wrong username or password (or the account is suspended)."
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def next_of(request: HttpRequest) -> str:
    """The page to return to after signing in (this site's paths only)."""
    candidate = request.POST.get("next") or request.GET.get("next")
    return safe_next(candidate, host=request.get_host(), secure=request.is_secure(),
                     default=settings.LOGIN_REDIRECT_URL)


def lockout_message(username: str) -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (f"Too many failed logins for '{username}' from your address: try again in {minutes} minutes, "
            "or ask an admin to unlock it.")


def _sign_in_form(request: HttpRequest, *, errors: Errors | None = None, username: str = "",
                  status: int = 200) -> HttpResponse:
    return page(request, "web/accounts/login.html",
                {"errors": errors or {}, "username": username, "next": next_of(request),
                 "registration_open": settings.ARENA_REGISTRATION_OPEN}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """The sign-in form. A wrong pair counts towards django-axes' lockout (five for one
    username from one address) and every post towards the API's ``login`` throttle."""
    if request.method == "GET":
        if request.user.is_authenticated:
            return redirect(next_of(request))
        return _sign_in_form(request)
    username = request.POST.get("username", "")
    wait = throttle_wait(request, "login")
    if wait is not None:
        return _sign_in_form(request, errors={NON_FIELD: [wait_message(wait)]}, username=username, status=429)
    data, errors = validated(CredentialsSerializer, request.POST)
    if errors:
        return _sign_in_form(request, errors=errors, username=username, status=400)
    user = authenticate(request, username=data["username"], password=data["password"])
    if getattr(request, "axes_locked_out", False):
        return _sign_in_form(request, errors={NON_FIELD: [lockout_message(data["username"])]},
                             username=username, status=403)
    if user is None:
        return _sign_in_form(request, errors={NON_FIELD: [WRONG]}, username=username, status=401)
    login(request, user)
    return redirect(next_of(request))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Ends the session (POST only: a link or an image must not sign anyone out)."""
    logout(request)
    messages.success(request, "You are signed out.")
    return redirect("/" if spectators_welcome() else settings.LOGIN_URL)


def _register_form(request: HttpRequest, *, errors: Errors | None = None, values: dict | None = None,
                   status: int = 200) -> HttpResponse:
    return page(request, "web/accounts/register.html",
                {"errors": errors or {}, "values": values or {}, "open": settings.ARENA_REGISTRATION_OPEN},
                status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    """A new account through ``accounts.user_register`` (open while ``ARENA_REGISTRATION_OPEN``),
    then signed in and on the dashboard."""
    if request.method == "GET":
        return _register_form(request)
    values = {name: request.POST.get(name, "") for name in ("username", "email", "display_name")}
    wait = throttle_wait(request, "register")
    if wait is not None:
        return _register_form(request, errors={NON_FIELD: [wait_message(wait)]}, values=values, status=429)
    if request.POST.get("password", "") != request.POST.get("password2", ""):
        return _register_form(request, errors={"password2": ["The two passwords differ."]}, values=values,
                              status=400)
    data, errors = validated(RegisterSerializer, request.POST)
    if not errors:
        try:
            user = accounts.user_register(**data)
        except PermissionError as exc:
            errors = {NON_FIELD: [str(exc)]}
        except ValidationError as exc:
            errors = errors_of(exc)
    if errors:
        return _register_form(request, errors=errors, values=values, status=400)
    login(request, user, backend=MODEL_BACKEND)
    messages.success(request, f"Welcome, {user.get_username()}: your account is ready.")
    return redirect(settings.LOGIN_REDIRECT_URL)


@never_cache
@require_http_methods(["GET", "POST"])
def recover_view(request: HttpRequest) -> HttpResponse:
    """Redeems a one-time reset (``/recover/?uid=…&token=…``) an admin issued from
    /manage/users/: the arena sends no e-mail, so this page also says how to get one."""
    source = request.POST if request.method == "POST" else request.GET
    reset = {"uid": source.get("uid", ""), "token": source.get("token", "")}
    context = {"reset": reset, "errors": {}, "days": settings.PASSWORD_RESET_TIMEOUT // 86400}
    if request.method == "GET":
        return page(request, "web/accounts/recover.html", context)
    wait = throttle_wait(request, "login")
    errors: Errors = {}
    if wait is not None:
        errors = {NON_FIELD: [wait_message(wait)]}
    elif request.POST.get("new_password", "") != request.POST.get("new_password2", ""):
        errors = {"new_password2": ["The two passwords differ."]}
    else:
        data, errors = validated(PasswordResetRedeemSerializer, request.POST)
        if not errors:
            try:
                accounts.password_reset_redeem(**data)
            except ValidationError as exc:
                errors = errors_of(exc)
    if errors:
        status = 429 if wait is not None else 400
        return page(request, "web/accounts/recover.html", {**context, "errors": errors}, status=status)
    messages.success(request, "Your new password is set: sign in with it.")
    return redirect(settings.LOGIN_URL)
