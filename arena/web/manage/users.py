"""/manage/users/: every user with their role, whether suspended, and how many live bots
they have; an admin changes a role, suspends or reactivates, and issues a one-time
password-reset link — ``services.user_set_role``/``user_set_active`` and
``accounts.password_reset_issue``, as /api/admin/users/ calls them."""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from arena import accounts, services
from arena.api.admin import UserFilter
from arena.models import User
from arena.selectors import users_for_admin
from arena.web.accounts.forms import errors_of, safe_next
from arena.web.base import page
from arena.web.manage.access import admin_required

PER_PAGE = 50


def user_rows() -> QuerySet[User]:
    """The admin's users with their live bots counted, by username."""
    return (users_for_admin().annotate(bot_count=Count("bots", filter=Q(bots__is_active=True)))
            .order_by("username"))


def reset_link(request: HttpRequest, uid: str, token: str) -> str:
    """The address a user opens to redeem a reset (the recover page, absolute)."""
    return request.build_absolute_uri(f"{reverse('web:recover')}?{urlencode({'uid': uid, 'token': token})}")


def first_message(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, PermissionDenied):
        return str(exc)
    return " ".join(message for messages_ in errors_of(exc).values() for message in messages_)


@admin_required
@require_GET
def users_view(request: HttpRequest) -> HttpResponse:
    """The list, narrowed by the API's filter (``search``: usernames starting with it;
    ``role``; ``is_active``); an htmx request gets the table alone (the search as you type)."""
    form = UserFilter(request.GET, queryset=user_rows(), request=request)
    rows = form.qs if form.is_valid() else user_rows().none()
    users = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page(request, "web/manage/users.html",
                {"users": users, "filters": form.form, "query": query.urlencode(), "roles": User.Role.choices,
                 "filter_errors": form.errors},
                fragment="web/manage/_users_table.html")


def _answer(request: HttpRequest, user_id: int, *, done: str = "", error: str = "") -> HttpResponse:
    """htmx: the user's row again (with the error, if any); a plain form: back to the list."""
    if getattr(request, "htmx", False):
        row = get_object_or_404(user_rows(), pk=user_id)
        return page(request, "web/manage/users.html", {"row": row, "row_error": error, "row_done": done,
                                                      "roles": User.Role.choices},
                    fragment="web/manage/_user_row.html")
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(safe_next(request.POST.get("back"), host=request.get_host(), secure=request.is_secure(),
                              default=reverse("web:manage-users")))


@admin_required
@require_POST
def role_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(users_for_admin(), pk=user_id)
    role = request.POST.get("role", "")
    try:
        services.user_set_role(user=user, role=role, by=request.user)
    except ValidationError as exc:
        return _answer(request, user_id, error=first_message(exc))
    return _answer(request, user_id, done=f"{user.get_username()} is now {user.get_role_display()}.")


@admin_required
@require_POST
def active_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """``active=0`` suspends (their API tokens are revoked at once), ``active=1`` reactivates."""
    user = get_object_or_404(users_for_admin(), pk=user_id)
    active = request.POST.get("active") == "1"
    try:
        services.user_set_active(user=user, active=active, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        return _answer(request, user_id, error=first_message(exc))
    word = "reactivated" if active else "suspended; their API tokens are revoked"
    return _answer(request, user_id, done=f"{user.get_username()} is {word}.")


@admin_required
@require_POST
def reset_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """Issues a one-time reset and shows its link, once, for the admin to hand over."""
    user = get_object_or_404(users_for_admin(), pk=user_id)
    try:
        uid, token = accounts.password_reset_issue(user=user)
    except ValidationError as exc:
        messages.error(request, first_message(exc))
        return redirect("web:manage-users")
    response = page(request, "web/manage/reset_issued.html",
                    {"target": user, "link": reset_link(request, uid, token)})
    add_never_cache_headers(response)
    return response
