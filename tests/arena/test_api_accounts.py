"""/api/auth/: register, session and token logins, tokens hashed and revocable, lockout,
throttling, password change and reset, suspended users, legacy bcrypt passwords."""
from __future__ import annotations

from datetime import timedelta

import bcrypt
import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from arena import accounts
from arena.legacy.mapping import django_password
from arena.models import ApiToken, User
from tests.arena.api_helpers import client_for, error_of

pytestmark = pytest.mark.django_db
STRONG = "a-long-Passphrase-9"


def csrf_client() -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf/").json()["csrf_token"]
    return client, token


def token_login(username: str, password: str, **extra) -> tuple[int, dict]:
    response = APIClient().post("/api/auth/token/", {"username": username, "password": password, **extra},
                                format="json")
    return response.status_code, response.json()


def test_register_then_log_in_with_the_session_and_csrf_then_log_out():
    created = APIClient().post("/api/auth/register/", {"username": "carol", "password": STRONG,
                                                       "display_name": "Carol C"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["role"] == "user" and "password" not in created.json()

    client, csrf = csrf_client()
    refused = client.post("/api/auth/login/", {"username": "carol", "password": STRONG}, format="json")
    assert refused.status_code == 403 and "CSRF" in error_of(refused)["message"]
    ok = client.post("/api/auth/login/", {"username": "carol", "password": STRONG}, format="json",
                     HTTP_X_CSRFTOKEN=csrf)
    assert ok.status_code == 200 and ok.json()["username"] == "carol"
    assert client.get("/api/auth/me/").json()["display_name"] == "Carol C"

    csrf = client.cookies["csrftoken"].value
    assert client.post("/api/auth/logout/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    gone = client.get("/api/auth/me/")
    assert gone.status_code == 401 and error_of(gone)["code"] == "not_authenticated"


def test_a_session_write_without_the_csrf_token_is_refused(user):
    client, csrf = csrf_client()
    client.post("/api/auth/login/", {"username": "alice", "password": "alice-pass-123"}, format="json",
                HTTP_X_CSRFTOKEN=csrf)
    response = client.patch("/api/auth/me/", {"display_name": "Mallory"}, format="json")
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.display_name == ""


def test_registration_closed_refuses_and_writes_nothing(settings):
    settings.ARENA_REGISTRATION_OPEN = False
    response = APIClient().post("/api/auth/register/", {"username": "dave", "password": STRONG},
                                format="json")
    assert response.status_code == 403 and error_of(response)["code"] == "registration_closed"
    assert not User.objects.filter(username="dave").exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"username": "erin", "password": "123"}, "password"),
    ({"username": "erin", "password": "password123"}, "password"),
    ({"username": "erin", "password": STRONG, "role": "admin"}, "role"),
    ({"username": "erin", "password": STRONG, "is_superuser": True}, "is_superuser"),
    ({"username": "erin", "password": STRONG, "email": "not-an-email"}, "email"),
    ({"username": "", "password": STRONG}, "username"),
    ({"username": ["erin"], "password": STRONG}, "username"),
])
def test_a_bad_registration_names_the_field_and_writes_nothing(payload, field):
    response = APIClient().post("/api/auth/register/", payload, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and field in error["fields"], error
    assert field in error["message"]
    assert not User.objects.filter(username="erin").exists()


def test_a_taken_username_is_refused_whatever_its_case(user):
    response = APIClient().post("/api/auth/register/", {"username": "ALICE", "password": STRONG},
                                format="json")
    assert response.status_code == 400 and "username" in error_of(response)["fields"]


def test_a_token_is_shown_once_stored_as_a_digest_and_revocable(user):
    status, body = token_login("alice", "alice-pass-123", name="backtest", days=7)
    assert status == 201
    token = body["token"]
    assert token.startswith("arena_") and body["name"] == "backtest"
    row = ApiToken.objects.get(user=user)
    assert token not in (row.digest, row.token_key) and row.token_key == body["token_key"]
    assert timedelta(days=6, hours=23) < row.expiry - timezone.now() <= timedelta(days=7)

    script = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    assert script.get("/api/auth/me/").json()["username"] == "alice"
    listed = script.get("/api/auth/tokens/").json()
    assert [t["name"] for t in listed] == ["backtest"] and "token" not in listed[0]
    assert token not in str(listed)

    assert script.post("/api/auth/logout/").status_code == 204, "logging out with a token revokes it"
    assert script.get("/api/auth/me/").status_code == 401
    assert not ApiToken.objects.exists()


def test_tokens_are_named_expire_and_refresh(user):
    client = client_for(user)
    made = client.post("/api/auth/tokens/", {"name": "ci", "days": 2}, format="json")
    assert made.status_code == 201
    token = made.json()["token"]
    row = ApiToken.objects.get(token_key=made.json()["token_key"])
    row.expiry = timezone.now() - timedelta(seconds=1)
    row.save(update_fields=["expiry"])
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/auth/me/").status_code == 401

    fresh, plain = accounts.token_create(user=user, name="cron", days=1)
    refreshed = APIClient(HTTP_AUTHORIZATION=f"Token {plain}").post("/api/auth/token/refresh/")
    assert refreshed.status_code == 200
    fresh.refresh_from_db()
    assert fresh.expiry - timezone.now() > timedelta(days=29)

    for bad in ({"name": "x", "days": 0}, {"name": "x", "days": 366}, {"name": ""}, {"days": 3}):
        response = client.post("/api/auth/tokens/", bad, format="json")
        assert response.status_code == 400, bad
    assert client.delete("/api/auth/tokens/nope/").status_code == 404


def test_another_users_token_cannot_be_revoked(user, other_user):
    theirs, plain = accounts.token_create(user=other_user, name="theirs")
    response = client_for(user).delete(f"/api/auth/tokens/{theirs.token_key}/")
    assert response.status_code == 404
    assert APIClient(HTTP_AUTHORIZATION=f"Token {plain}").get("/api/auth/me/").status_code == 200


def test_a_suspended_user_can_do_nothing(user):
    _, plain = accounts.token_create(user=user, name="old")
    session = APIClient()
    session.force_login(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert APIClient(HTTP_AUTHORIZATION=f"Token {plain}").get("/api/bots/").status_code == 401
    assert session.get("/api/bots/").status_code == 401
    status, body = token_login("alice", "alice-pass-123")
    assert status == 401 and "suspended" in body["error"]["message"]


def test_repeated_failures_lock_the_username_from_that_address_only(user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        status, body = token_login("alice", "wrong")
        assert status == 401 and body["error"]["code"] == "authentication_failed"
    assert token_login("alice", "wrong")[1]["error"]["code"] == "locked_out", "the last allowed failure locks"
    status, body = token_login("alice", "alice-pass-123")
    assert status == 403 and body["error"]["code"] == "locked_out"
    assert "15 minutes" in body["error"]["message"]
    elsewhere = APIClient(REMOTE_ADDR="10.9.8.7").post(
        "/api/auth/token/", {"username": "alice", "password": "alice-pass-123"}, format="json")
    assert elsewhere.status_code == 201, "another address is not locked out"


def test_logins_are_throttled_per_address(user, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/min", "register": "3/min"})
    codes = [token_login("alice", "alice-pass-123")[0] for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    status, body = token_login("alice", "alice-pass-123")
    assert body["error"]["code"] == "throttled" and "Try again in" in body["error"]["message"]


def test_password_change_checks_the_old_one_and_keeps_this_session(user):
    client = APIClient()
    client.force_login(user)
    wrong = client.post("/api/auth/password/", {"old_password": "nope", "new_password": STRONG},
                        format="json")
    assert wrong.status_code == 400 and "old_password" in error_of(wrong)["fields"]
    weak = client.post("/api/auth/password/", {"old_password": "alice-pass-123", "new_password": "1"},
                       format="json")
    assert weak.status_code == 400 and "new_password" in error_of(weak)["fields"]
    ok = client.post("/api/auth/password/", {"old_password": "alice-pass-123", "new_password": STRONG},
                     format="json")
    assert ok.status_code == 204
    assert client.get("/api/auth/me/").status_code == 200
    assert token_login("alice", STRONG)[0] == 201


def test_a_reset_an_admin_issues_works_once(user):
    uid, token = accounts.password_reset_issue(user=user)
    payload = {"uid": uid, "token": token, "new_password": STRONG}
    assert APIClient().post("/api/auth/password-reset/redeem/", payload, format="json").status_code == 204
    again = APIClient().post("/api/auth/password-reset/redeem/", {**payload, "new_password": STRONG + "x"},
                             format="json")
    assert again.status_code == 400 and "token" in error_of(again)["fields"]
    assert token_login("alice", STRONG)[0] == 201
    forged = APIClient().post("/api/auth/password-reset/redeem/", {"uid": "MQ", "token": "x-y",
                                                                   "new_password": STRONG}, format="json")
    assert forged.status_code == 400


def test_an_imported_legacy_user_logs_in_with_the_old_bcrypt_password(django_user_model):
    legacy_hash = bcrypt.hashpw(b"legacy-secret-1", bcrypt.gensalt(rounds=4)).decode()
    django_user_model.objects.create(username="oldtimer", password=django_password(legacy_hash))
    status, body = token_login("oldtimer", "legacy-secret-1")
    assert status == 201 and body["token"]
    assert token_login("oldtimer", "legacy-secret-2")[0] == 401


def test_user_delete_anonymises_and_stops_their_bots_keeping_history(user, bot):
    _, plain = accounts.token_create(user=user, name="t")
    accounts.user_delete(user=user)
    user.refresh_from_db()
    bot.refresh_from_db()
    assert (user.username, user.email, user.is_active, user.has_usable_password()) == (
        f"deleted-user-{user.pk}", "", False, False)
    assert not bot.is_active and bot.is_paused and bot.owner_id == user.pk
    assert APIClient(HTTP_AUTHORIZATION=f"Token {plain}").get("/api/auth/me/").status_code == 401
