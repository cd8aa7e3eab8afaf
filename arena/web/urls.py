"""Every page's route, one list per area (each area's module owns its ``urlpatterns``)."""
from __future__ import annotations

from arena.web import accounts, boards, bot_page, dashboard, editor, keys, manage, real

app_name = "web"
urlpatterns = [
    *dashboard.urlpatterns,  # /, the dashboard (a spectator's without signing in), bot actions
    *bot_page.urlpatterns,  # /bots/<id>/: positions, orders, the AI log, the bot's chart
    *boards.urlpatterns,  # /leaderboard/, /analytics/…
    *editor.urlpatterns,  # /bots/, /bots/new/, /bots/<id>/edit/
    *accounts.urlpatterns,  # /login/, /logout/, /register/, /recover/, /account/
    *keys.urlpatterns,  # /providers/, /wallets/
    *manage.urlpatterns,  # /manage/: users and arena settings
    *real.urlpatterns,  # the kill switch (/manage/kill-switch/), a real bot's reconciliations
]
