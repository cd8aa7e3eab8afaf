"""/manage/: the arena admin's pages (see arena/web/__init__.py) — the arena's counts, the
users (role, suspension, password resets) and the arena settings. The rules are the
API's (/api/admin/, /api/settings/): the same selectors, services and serializers; a
signed-in non-admin gets a 403, as there. Everything else stays in the Django admin."""
from __future__ import annotations

from django.urls import path

from arena.web.manage import overview, settings_page, users

urlpatterns = [
    path("manage/", overview.manage_view, name="manage"),
    path("manage/users/", users.users_view, name="manage-users"),
    path("manage/users/<int:user_id>/role/", users.role_view, name="manage-user-role"),
    path("manage/users/<int:user_id>/active/", users.active_view, name="manage-user-active"),
    path("manage/users/<int:user_id>/password-reset/", users.reset_view, name="manage-user-reset"),
    path("manage/settings/", settings_page.settings_view, name="manage-settings"),
    path("manage/settings/reset/", settings_page.settings_reset_view, name="manage-settings-reset"),
]
