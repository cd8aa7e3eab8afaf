"""The context every page's template gets: the menu for this user and the arena's flags."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from arena.api.base import is_admin
from arena.models import ArenaSettings
from arena.web.real.reads import kill_state

# (path, label, who sees it): "all", "user" (signed in) or "admin".
MENU = [
    ("/", "Dashboard", "all"),
    ("/leaderboard/", "Leaderboard", "all"),
    ("/analytics/", "Analytics", "user"),
    ("/bots/", "Bots", "user"),
    ("/providers/", "Providers", "user"),
    ("/wallets/", "Wallets", "user"),
    ("/account/", "Account", "user"),
    ("/manage/", "Manage", "admin"),
]


def nav(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    admin = signed_in and is_admin(user)
    current = request.path
    items = [
        {"path": path, "label": label,
         "current": current == path if path == "/" else current.startswith(path)}
        for path, label, who in MENU
        if who == "all" or (who == "user" and signed_in) or (who == "admin" and admin)
    ]
    return {"menu": items, "signed_in": signed_in, "is_arena_admin": admin,
            # The kill switch's banner, on every page of a signed-in user (base.html).
            "kill": kill_state() if signed_in else None,
            "real_trading_enabled": settings.REAL_TRADING_ENABLED,
            # A private arena refuses anonymous sockets: its sign-in pages open none.
            "stream_open": signed_in or ArenaSettings.load().public_arena}
