"""/manage/ and /manage/users/: admins only (anyone else gets the API's 403); the users'
roles, suspensions and one-time reset links through the API's services."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from arena import accounts
from arena.models import ApiToken, User
from bots.services import bot_create
from ledger.models import Change

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
NEW = "a-Long-and-rare-pass-91"


@pytest.fixture
def admin(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("path", ["/manage/", "/manage/users/", "/manage/settings/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={path}"


@pytest.mark.parametrize("path", ["/manage/", "/manage/users/", "/manage/settings/"])
def test_a_non_admin_gets_no_manage_page(client, user, path):
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 403 and "Admins only" in response.content.decode()


def test_a_non_admin_changes_nothing(client, user, other_user):
    client.force_login(user)
    assert client.post(f"/manage/users/{other_user.pk}/active/", {"active": "0"}).status_code == 403
    assert client.post(f"/manage/users/{other_user.pk}/role/", {"role": "admin"}).status_code == 403
    assert client.post(f"/manage/users/{other_user.pk}/password-reset/").status_code == 403
    other_user.refresh_from_db()
    assert other_user.is_active and other_user.role == "user"


def test_the_menu_offers_manage_to_admins_only(admin, client, user):
    assert 'href="/manage/"' in admin.get("/account/").content.decode()
    client.force_login(user)
    assert 'href="/manage/"' not in client.get("/account/").content.decode()


def test_the_overview_counts_and_links_the_django_admin(admin, user, bot):
    user.is_active = False
    user.save()
    response = admin.get("/manage/")
    html = response.content.decode()
    assert response.status_code == 200 and html.count("<h1") == 1
    assert response.context["stats"]["users"] == {"total": 2, "active": 1}
    assert 'href="/admin/"' in html
    assert f'data-bot="{bot.pk}"' in html and "owner suspended or deleted" in html


def test_the_list_shows_role_status_and_bots(admin, user, other_user, provider):
    bot_create(owner=user, name="One", prompt="p", provider=provider)
    bot_create(owner=user, name="Two", prompt="p", provider=provider)
    other_user.display_name = "<script>bad()</script>"
    other_user.is_active = False
    other_user.save()
    response = admin.get("/manage/users/")
    html = response.content.decode()
    rows = {row.username: row for row in response.context["users"]}
    assert rows["alice"].bot_count == 2 and rows["bob"].bot_count == 0
    assert f'id="user-{other_user.pk}"' in html and "suspended" in html
    assert "<script>bad()</script>" not in html and "&lt;script&gt;bad()&lt;/script&gt;" in html


def test_the_search_uses_the_apis_filter_and_htmx_gets_the_table(admin, user, other_user):
    response = admin.get("/manage/users/?search=AL", **HX)
    html = response.content.decode()
    assert html.startswith('<div id="users-table"') and "<html" not in html
    assert f'id="user-{user.pk}"' in html and f'id="user-{other_user.pk}"' not in html
    suspended = admin.get("/manage/users/?is_active=false").context["users"]
    assert list(suspended) == []


def test_an_admin_changes_a_role(admin, admin_user, user):
    response = admin.post(f"/manage/users/{user.pk}/role/", {"role": "moderator"})
    assert response.status_code == 302 and response["Location"] == "/manage/users/"
    user.refresh_from_db()
    assert user.role == "moderator"
    assert Change.objects.filter(object_type="arena.User", object_id=str(user.pk), action="role_changed",
                                 actor=admin_user).exists()


def test_by_htmx_a_role_change_answers_the_row(admin, user):
    response = admin.post(f"/manage/users/{user.pk}/role/", {"role": "admin"}, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith(f'<tr id="user-{user.pk}"')
    assert "is now Admin" in html


def test_a_bad_role_is_refused_in_the_row(admin, user):
    response = admin.post(f"/manage/users/{user.pk}/role/", {"role": "king"}, **HX)
    assert response.status_code == 200 and "One of user, moderator, admin." in response.content.decode()
    user.refresh_from_db()
    assert user.role == "user"


def test_an_admin_cannot_demote_or_suspend_themselves(admin, admin_user):
    role = admin.post(f"/manage/users/{admin_user.pk}/role/", {"role": "user"})
    active = admin.post(f"/manage/users/{admin_user.pk}/active/", {"active": "0"})
    assert role.status_code == active.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.role == "admin" and admin_user.is_active
    html = admin.get("/manage/users/").content.decode()
    assert "You cannot demote yourself" in html or "You cannot suspend yourself" in html


def test_suspending_revokes_tokens_and_reactivating_restores_sign_in(admin, user):
    token, plain = accounts.token_create(user=user, name="script")
    response = admin.post(f"/manage/users/{user.pk}/active/", {"active": "0"}, **HX)
    assert "suspended; their API tokens are revoked" in response.content.decode()
    user.refresh_from_db()
    assert not user.is_active and not ApiToken.objects.filter(user=user).exists()
    assert 'data-action="reactivate"' in response.content.decode()
    admin.post(f"/manage/users/{user.pk}/active/", {"active": "1"})
    user.refresh_from_db()
    assert user.is_active


def test_a_reset_link_is_issued_and_redeemed(admin, user, client):
    response = admin.post(f"/manage/users/{user.pk}/password-reset/")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    link = response.context["link"]
    parts = urlsplit(link)
    assert parts.path == "/recover/" and 'data-copy="#reset-link"' in response.content.decode()
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    redeemed = client.post("/recover/", {**query, "new_password": NEW, "new_password2": NEW})
    assert redeemed.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_a_suspended_user_gets_no_reset(admin, user):
    user.is_active = False
    user.save()
    response = admin.post(f"/manage/users/{user.pk}/password-reset/")
    assert response.status_code == 302
    assert "reactivate them first" in admin.get("/manage/users/").content.decode()


def test_an_unknown_user_is_a_404(admin):
    assert admin.post("/manage/users/9999/active/", {"active": "0"}).status_code == 404
    assert admin.post("/manage/users/9999/password-reset/").status_code == 404


def test_actions_by_get_or_without_csrf_are_refused(admin_user, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get(f"/manage/users/{user.pk}/active/").status_code == 405
    assert client.post(f"/manage/users/{user.pk}/active/", {"active": "0"}).status_code == 403
    assert client.post(f"/manage/users/{user.pk}/role/", {"role": "admin"}).status_code == 403
    user.refresh_from_db()
    assert user.is_active and user.role == User.Role.USER
