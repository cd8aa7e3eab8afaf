"""/account/: the public name and e-mail, the password (the current one first), and API
tokens shown once that work against the API, listed and revoked."""
from __future__ import annotations

import pytest
from django.test import Client

from arena import accounts
from arena.models import ApiToken
from ledger.models import Change

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
NEW = "a-Long-and-rare-pass-91"


@pytest.fixture
def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/account/"
    assert client.post("/account/tokens/", {"name": "x"})["Location"].startswith("/login/")


def test_the_page_shows_the_user_and_their_tokens(signed_in, user, other_user):
    accounts.token_create(user=user, name="backtest script")
    accounts.token_create(user=other_user, name="bobs secret job")
    response = signed_in.get("/account/")
    html = response.content.decode()
    assert response.status_code == 200 and html.count("<h1") == 1
    assert "alice" in html and "backtest script" in html
    assert "bobs secret job" not in html, "another user's tokens are not listed"
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]


def test_the_public_name_is_saved_and_escaped(signed_in, user):
    response = signed_in.post("/account/profile/", {"display_name": "<script>x()</script>",
                                                    "email": "a@example.com"})
    assert response.status_code == 302 and response["Location"] == "/account/"
    user.refresh_from_db()
    assert user.display_name == "<script>x()</script>" and user.email == "a@example.com"
    html = signed_in.get("/account/").content.decode()
    assert "<script>x()</script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert Change.objects.filter(object_type="arena.User", object_id=str(user.pk), action="updated",
                                 actor=user).exists()


def test_a_bad_email_is_refused_on_its_field(signed_in, user):
    response = signed_in.post("/account/profile/", {"display_name": "Al", "email": "not-an-email"})
    assert response.status_code == 400 and 'id="email-errors"' in response.content.decode()
    user.refresh_from_db()
    assert user.email == "" and user.display_name == ""


def test_a_password_change_needs_the_current_one(signed_in, user):
    response = signed_in.post("/account/password/", {"old_password": "wrong", "new_password": NEW,
                                                     "new_password2": NEW})
    assert response.status_code == 400
    assert "This is not your current password." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("alice-pass-123")


def test_a_password_change_needs_the_new_one_twice(signed_in, user):
    response = signed_in.post("/account/password/", {"old_password": "alice-pass-123", "new_password": NEW,
                                                     "new_password2": NEW + "x"})
    assert response.status_code == 400 and "The two new passwords differ." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("alice-pass-123")


def test_a_weak_new_password_is_refused(signed_in, user):
    response = signed_in.post("/account/password/", {"old_password": "alice-pass-123", "new_password": "123",
                                                     "new_password2": "123"})
    assert response.status_code == 400 and 'id="new_password-errors"' in response.content.decode()


def test_a_password_change_keeps_this_session(signed_in, user):
    response = signed_in.post("/account/password/", {"old_password": "alice-pass-123", "new_password": NEW,
                                                     "new_password2": NEW})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert signed_in.get("/account/").status_code == 200, "still signed in"


def test_a_token_is_shown_once_and_works_against_the_api(signed_in, user):
    response = signed_in.post("/account/tokens/", {"name": "backtest script", "days": "7"})
    assert response.status_code == 201
    plain = response.context["new_token"]["plain"]
    html = response.content.decode()
    assert f'value="{plain}"' in html and "it is not shown again" in html
    assert 'data-copy="#new-token"' in html
    token = ApiToken.objects.get(user=user)
    assert token.name == "backtest script" and (token.expiry - token.created).days in (6, 7)
    me = Client().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {plain}")
    assert me.status_code == 200 and me.json()["username"] == "alice"
    assert plain not in signed_in.get("/account/").content.decode(), "never shown again"


def test_a_token_without_days_lives_the_default(signed_in, user):
    assert signed_in.post("/account/tokens/", {"name": "ci", "days": ""}).status_code == 201
    token = ApiToken.objects.get(user=user)
    assert (token.expiry - token.created).days in (29, 30)


def test_a_token_needs_a_name_and_sane_days(signed_in, user):
    nameless = signed_in.post("/account/tokens/", {"name": "   ", "days": ""})
    too_long = signed_in.post("/account/tokens/", {"name": "ci", "days": "999"})
    assert nameless.status_code == too_long.status_code == 400
    assert 'id="token-name-errors"' in nameless.content.decode()
    assert 'id="token-days-errors"' in too_long.content.decode()
    assert not ApiToken.objects.filter(user=user).exists()


def test_revoking_a_token_ends_it(signed_in, user):
    token, plain = accounts.token_create(user=user, name="old")
    response = signed_in.post(f"/account/tokens/{token.token_key}/revoke/")
    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert Client().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {plain}").status_code == 401


def test_revoking_by_htmx_answers_the_token_list_alone(signed_in, user):
    token, _ = accounts.token_create(user=user, name="old")
    kept, _ = accounts.token_create(user=user, name="kept")
    response = signed_in.post(f"/account/tokens/{token.token_key}/revoke/", **HX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="tokens">') and "<html" not in html
    assert f'data-token="{kept.token_key}"' in html and f'data-token="{token.token_key}"' not in html


def test_another_users_token_is_a_404(signed_in, other_user):
    token, _ = accounts.token_create(user=other_user, name="bobs")
    assert signed_in.post(f"/account/tokens/{token.token_key}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_revoking_by_get_is_refused(signed_in, user):
    token, _ = accounts.token_create(user=user, name="old")
    assert signed_in.get(f"/account/tokens/{token.token_key}/revoke/").status_code == 405
    assert ApiToken.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("path, data", [
    ("/account/tokens/", {"name": "x"}),
    ("/account/profile/", {"display_name": "x"}),
    ("/account/password/", {"old_password": "alice-pass-123", "new_password": NEW, "new_password2": NEW}),
])
def test_posts_without_the_csrf_token_are_refused(user, path, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(path, data).status_code == 403
    user.refresh_from_db()
    assert not ApiToken.objects.filter(user=user).exists() and user.display_name == ""
    assert user.check_password("alice-pass-123")
