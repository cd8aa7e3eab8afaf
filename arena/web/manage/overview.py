"""/manage/: the arena's counts (``arena_stats``, as /api/admin/stats/) and the bots that
cannot trade as they stand (``bots_orphaned``, as /api/admin/bots/orphaned/)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from arena.selectors import arena_stats, bots_orphaned, orphan_reasons
from arena.web.base import page
from arena.web.manage.access import admin_required

# Each Orphan code in words.
REASONS = {
    "owner_inactive": "owner suspended or deleted",
    "provider_inactive": "provider switched off",
    "provider_key_needs_reentry": "provider key must be entered again",
    "no_wallet": "real-money bot without a wallet",
    "wallet_inactive": "wallet switched off",
    "wallet_key_needs_reentry": "wallet key must be entered again",
}
ORPHANS_SHOWN = 50


@admin_required
@require_GET
def manage_view(request: HttpRequest) -> HttpResponse:
    orphans = list(bots_orphaned().order_by("id")[:ORPHANS_SHOWN])
    rows = [{"bot": bot, "reasons": [REASONS.get(code, code) for code in orphan_reasons(bot)]}
            for bot in orphans]
    return page(request, "web/manage/overview.html",
                {"stats": arena_stats(now=timezone.now()), "orphans": rows, "orphans_shown": ORPHANS_SHOWN})
