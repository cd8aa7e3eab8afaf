"""/login/, /logout/, /register/ and /recover/: the API's rules (django-axes' lockout, the
login and register throttles, the password validators, the admin-issued reset) behind pages."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.throttling import ScopedRateThrottle

from arena import accounts
from arena.models import User
from ledger.models import Change

pytestmark = pytest.mark.django_db

GOOD = "a-Long-and-rare-pass-91"


def signed_in_user(client: Client):
    return client.get("/api/auth/me/")


# --- signing in ----------------------------------------------------------------------


def test_the_sign_in_page_has_its_form(client):
    html = client.get("/login/?next=/bots/").content.decode()
    assert 'id="login-form"' in html and 'name="csrfmiddlewaretoken"' in html
    assert 'name="next" value="/bots/"' in html
    assert html.count("<h1") == 1


def test_signing_in_goes_to_next(client, user):
    response = client.post("/login/", {"username": "alice", "password": "alice-pass-123", "next": "/bots/"})
    assert response.status_code == 302 and response["Location"] == "/bots/"
    assert signed_in_user(client).json()["username"] == "alice"


def test_without_next_signing_in_goes_to_the_dashboard(client, user):
    response = client.post("/login/", {"username": "alice", "password": "alice-pass-123"})
    assert response["Location"] == settings.LOGIN_REDIRECT_URL == "/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)",
                                    "/\\evil.example"])
def test_next_pointing_off_the_site_is_ignored(client, user, target):
    response = client.post("/login/", {"username": "alice", "password": "alice-pass-123", "next": target})
    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get(f"/login/?next={target}")
    assert page.status_code == 302 and page["Location"] == "/", "signed in: straight to the safe default"


def test_a_wrong_password_says_not_which_part_was_wrong(client, user):
    wrong_password = client.post("/login/", {"username": "alice", "password": "nope"})
    no_such_user = client.post("/login/", {"username": "nobody", "password": "nope"})
    for response in (wrong_password, no_such_user):
        assert response.status_code == 401
        assert "Wrong username or password" in response.content.decode()
    assert wrong_password.content.decode().count("Wrong username or password") == 1
    assert signed_in_user(client).status_code in (401, 403)
    assert 'value="alice"' in wrong_password.content.decode(), "the username stays typed"


def test_a_suspended_user_cannot_sign_in(client, user):
    user.is_active = False
    user.save()
    response = client.post("/login/", {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 401


def test_missing_fields_are_named(client):
    response = client.post("/login/", {"username": "alice"})
    assert response.status_code == 400
    assert 'id="password-errors"' in response.content.decode()


def test_too_many_wrong_passwords_lock_the_pair_out(client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/login/", {"username": "alice", "password": "nope"}).status_code == 401
    locked = client.post("/login/", {"username": "alice", "password": "nope"})
    assert locked.status_code == 403
    assert "Too many failed logins" in locked.content.decode()
    right = client.post("/login/", {"username": "alice", "password": "alice-pass-123"})
    assert right.status_code == 403, "even the right password waits for the cool-off"
    assert signed_in_user(client).status_code in (401, 403)


def test_the_login_throttle_shows_how_long_to_wait(client, user, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "2/min")
    client.post("/login/", {"username": "alice", "password": "nope"})
    client.post("/login/", {"username": "alice", "password": "nope"})
    response = client.post("/login/", {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 429
    assert "Too many attempts from your address: try again in" in response.content.decode()


def test_the_login_throttle_is_shared_with_the_api(client, user, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "1/min")
    client.post("/api/auth/token/", {"username": "alice", "password": "nope"},
                content_type="application/json")
    assert client.post("/login/", {"username": "alice", "password": "alice-pass-123"}).status_code == 429


def test_posting_the_sign_in_form_needs_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 403
    assert signed_in_user(client).status_code in (401, 403)


# --- signing out ---------------------------------------------------------------------


def test_signing_out_by_get_is_refused(client, user):
    client.force_login(user)
    assert client.get("/logout/").status_code == 405
    assert signed_in_user(client).status_code == 200


def test_signing_out_ends_the_session(client, user):
    client.force_login(user)
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_user(client).status_code in (401, 403)


def test_signing_out_of_a_private_arena_lands_on_sign_in(client, user):
    from arena.models import ArenaSettings

    ArenaSettings.objects.update_or_create(id=1, defaults={"public_arena": False})
    client.force_login(user)
    assert client.post("/logout/")["Location"] == "/login/"


def test_signing_out_needs_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/logout/").status_code == 403
    assert signed_in_user(client).status_code == 200


# --- registering ---------------------------------------------------------------------


def register(client: Client, **fields):
    data = {"username": "carol", "display_name": "Carol C.", "email": "carol@example.com",
            "password": GOOD, "password2": GOOD}
    return client.post("/register/", {**data, **fields})


def test_registering_signs_in_and_lands_on_the_dashboard(client):
    response = register(client)
    assert response.status_code == 302 and response["Location"] == "/"
    me = signed_in_user(client).json()
    assert me["username"] == "carol" and me["display_name"] == "Carol C." and me["role"] == "user"
    assert Change.objects.filter(object_type="arena.User", object_id=str(me["id"]),
                                 action="registered").exists()


def test_registering_checks_the_password_like_the_api(client):
    response = register(client, password="carol", password2="carol")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="password-errors"' in html and "too short" in html
    assert not User.objects.filter(username="carol").exists()
    assert 'value="carol@example.com"' in html, "what was typed stays"


def test_registering_needs_the_password_twice(client):
    response = register(client, password2=GOOD + "x")
    assert response.status_code == 400 and "The two passwords differ." in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_a_taken_username_is_refused_in_any_case(client, user):
    response = register(client, username="ALICE")
    assert response.status_code == 400 and "This username is taken." in response.content.decode()


def test_a_name_with_markup_comes_back_escaped(client):
    response = register(client, username="", display_name="<script>alert(1)</script>")
    html = response.content.decode()
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_closed_registration_says_so(client, settings):
    settings.ARENA_REGISTRATION_OPEN = False
    assert "Registration is closed" in client.get("/register/").content.decode()
    response = register(client)
    assert response.status_code == 400 and "Registration is closed" in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_the_register_throttle_applies(client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "register", "1/hour")
    register(client, username="first", password2="x")
    response = register(client)
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


# --- recovering a password -----------------------------------------------------------


def test_without_a_reset_the_page_explains_how_to_get_one(client):
    html = client.get("/recover/").content.decode()
    assert "Ask one of the arena's admins" in html and 'id="recover-form"' not in html


def test_a_reset_sets_the_password_once(client, user):
    uid, token = accounts.password_reset_issue(user=user)
    page = client.get(f"/recover/?uid={uid}&token={token}")
    assert 'id="recover-form"' in page.content.decode() and f'value="{token}"' in page.content.decode()
    data = {"uid": uid, "token": token, "new_password": GOOD, "new_password2": GOOD}
    response = client.post("/recover/", data)
    assert response.status_code == 302 and response["Location"] == "/login/"
    user.refresh_from_db()
    assert user.check_password(GOOD)
    again = client.post("/recover/", {**data, "new_password": GOOD + "2", "new_password2": GOOD + "2"})
    assert again.status_code == 400 and "invalid, used or expired" in again.content.decode()


def test_a_forged_reset_is_refused(client, user):
    uid, _ = accounts.password_reset_issue(user=user)
    response = client.post("/recover/", {"uid": uid, "token": "forged-token", "new_password": GOOD,
                                         "new_password2": GOOD})
    assert response.status_code == 400 and "invalid, used or expired" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("alice-pass-123")


def test_a_reset_checks_the_new_password(client, user):
    uid, token = accounts.password_reset_issue(user=user)
    response = client.post("/recover/", {"uid": uid, "token": token, "new_password": "alice",
                                         "new_password2": "alice"})
    assert response.status_code == 400 and 'id="new_password-errors"' in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("alice-pass-123")
