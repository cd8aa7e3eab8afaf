"""Who may open the manage pages: an arena admin (``is_admin``, as ``IsArenaAdmin`` on the
API). Anonymous visitors go to sign in; anyone else gets the API's answer, a 403."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

from arena.api.base import is_admin
from arena.web.base import login_required, page


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_admin(request.user):
            return page(request, "web/manage/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return guarded
