"""Real money in the browser: the LIVE badge every page shows on a real bot
(``web/real/_live_badge.html``, one include), the kill switch (the admins' panel on the
dashboard and ``/manage/kill-switch/``, the banner while it is engaged) and a real bot's
reconciliations with its exchange (a line on its dashboard card, a section on its page).

The state changes go through ``arena.real`` (the kill switch) and
``trading.services.reconcile`` (reconcile now, resolve a discrepancy), exactly as the API's.
"""
from __future__ import annotations

from django.urls import path

from arena.web.real import kill, recon

urlpatterns = [
    path("manage/kill-switch/", kill.manage_view, name="kill-switch"),
    path("manage/kill-switch/engage/", kill.engage_view, name="kill-switch-engage"),
    path("manage/kill-switch/release/", kill.release_view, name="kill-switch-release"),
    path("kill-switch/banner/", kill.banner_view, name="kill-switch-banner"),
    path("bots/<int:bot_id>/reconciliation/", recon.section_view, name="bot-reconciliation"),
    path("bots/<int:bot_id>/reconcile/", recon.reconcile_view, name="bot-reconcile"),
    path("bots/<int:bot_id>/discrepancies/<int:discrepancy_id>/resolve/", recon.resolve_view,
         name="bot-discrepancy-resolve"),
]
