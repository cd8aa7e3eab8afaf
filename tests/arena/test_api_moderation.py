"""/api/moderation/: moderators (and admins) keep the public side fit to read. They unlist
any user's bot with a reason the owner sees, and the owner cannot list it again until a
moderator lifts that; they suspend and reactivate plain users but not moderators or admins;
every act is on the audit trail with its reason; a plain user gets a 403 and changes
nothing; a moderator sees no e-mail, key or unpublished prompt."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from arena import accounts
from arena.models import ApiToken, User
from bots.models import Bot
from bots.services import bot_update
from ledger.models import Change, Event
from tests.arena.api_helpers import client_for, error_of
from tests.arena.test_api_routes import operations

pytestmark = pytest.mark.django_db
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
       b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x9a\xa0\xa6\x00\x00\x00\x00IEND"
       b"\xaeB`\x82")


@pytest.fixture
def moderator(django_user_model):
    return django_user_model.objects.create_user(username="mod", password="mod-pass-123", role="moderator",
                                                 email="mod@example.com")


def moderation_routes() -> list[tuple[str, str]]:
    return [op for op in operations() if op[0].startswith("/api/moderation/")]


def test_the_moderation_routes_are_in_the_schema():
    assert {path for path, _ in moderation_routes()} >= {
        "/api/moderation/bots/", "/api/moderation/bots/{id}/", "/api/moderation/bots/{id}/unlist/",
        "/api/moderation/bots/{id}/lift/", "/api/moderation/users/", "/api/moderation/users/{id}/suspend/",
        "/api/moderation/users/{id}/reactivate/"}


def test_a_plain_user_gets_a_403_and_changes_nothing_anonymous_a_401(user, other_user, bot):
    before = (list(Bot.objects.values()), list(User.objects.values()))
    for path, method in moderation_routes():
        target = path.replace("{id}", str(bot.pk if "/bots/" in path else other_user.pk))
        response = getattr(client_for(other_user), method)(target, {"reason": "spam"}, format="json")
        assert response.status_code == 403, (path, method)
        assert error_of(response)["code"] == "permission_denied"
        assert getattr(client_for(), method)(target).status_code == 401, (path, method)
    assert (list(Bot.objects.values()), list(User.objects.values())) == before


def test_a_moderator_unlists_a_bot_and_its_owner_cannot_list_it_until_lifted(moderator, user, bot):
    bot_update(bot=bot, reasoning_public=True, avatar=SimpleUploadedFile("a.png", PNG))
    client = client_for(moderator)
    response = client.post(f"/api/moderation/bots/{bot.pk}/unlist/",
                           {"reason": "  Slur in the   name ", "remove_avatar": True}, format="json")
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert (body["is_listed"], body["reasoning_public"], body["unlisted_reason"], body["avatar"]) == (
        False, False, "Slur in the name", None)
    assert client_for().get(f"/api/public/bots/{bot.pk}/").status_code == 404, "gone from every public view"

    owner = client_for(user)
    assert owner.get(f"/api/bots/{bot.pk}/").json()["unlisted_reason"] == "Slur in the name"
    refused = owner.patch(f"/api/bots/{bot.pk}/", {"is_listed": True}, format="json")
    assert refused.status_code == 400 and "Slur in the name" in error_of(refused)["fields"]["is_listed"][0]
    refused = owner.patch(f"/api/bots/{bot.pk}/", {"reasoning_public": True}, format="json")
    assert refused.status_code == 400 and "reasoning_public" in error_of(refused)["fields"]
    assert not Bot.objects.get(pk=bot.pk).is_listed

    change = Change.objects.filter(object_type="bots.Bot", object_id=str(bot.pk), action="moderated").get()
    assert change.actor_id == moderator.pk and change.owner_id == user.pk
    assert change.changes["unlisted_reason"] == ["", "Slur in the name"]
    told = Event.objects.filter(type="bot_updated", user=user).latest("seq")
    assert "is_listed" in told.data["changed"], "the owner hears of it on the live stream"

    assert client.post(f"/api/moderation/bots/{bot.pk}/lift/").json()["unlisted_reason"] == ""
    assert owner.patch(f"/api/bots/{bot.pk}/", {"is_listed": True}, format="json").status_code == 200
    assert client_for().get(f"/api/public/bots/{bot.pk}/").status_code == 200


def test_an_unlisting_needs_a_reason_and_lifting_needs_an_unlisting(moderator, bot):
    client = client_for(moderator)
    for body in ({}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": "ok", "ban": True}):
        response = client.post(f"/api/moderation/bots/{bot.pk}/unlist/", body, format="json")
        assert response.status_code == 400, body
    assert client.post(f"/api/moderation/bots/{bot.pk}/lift/").status_code == 400
    assert Bot.objects.get(pk=bot.pk).is_listed and not Change.objects.filter(action="moderated").exists()


def test_the_moderators_bot_list_shows_listed_and_moderated_bots_without_the_prompt(moderator, user, bot):
    client = client_for(moderator)
    client.post(f"/api/moderation/bots/{bot.pk}/unlist/", {"reason": "spam"}, format="json")
    text = client.get("/api/moderation/bots/?moderated=true").content.decode()
    assert f'"id":{bot.pk}' in text and bot.prompt not in text and user.username in text
    assert client.get("/api/moderation/bots/?moderated=false").json()["results"] == []


def test_a_moderator_suspends_and_reactivates_a_plain_user_with_the_reason_on_the_trail(
        moderator, user):
    accounts.token_create(user=user, name="script")
    client = client_for(moderator)
    response = client.post(f"/api/moderation/users/{user.pk}/suspend/", {"reason": "spam bots"},
                           format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert "email" not in response.json()
    assert not ApiToken.objects.filter(user=user).exists(), "their tokens are revoked at once"
    change = Change.objects.get(object_type="arena.User", object_id=str(user.pk), action="suspended")
    assert change.actor_id == moderator.pk and change.changes["reason"] == [None, "spam bots"]
    assert client.post(f"/api/moderation/users/{user.pk}/reactivate/").json()["is_active"] is True


@pytest.mark.parametrize("role", ["moderator", "admin", "superuser"])
def test_a_moderator_cannot_suspend_a_moderator_or_an_admin(moderator, django_user_model, role):
    if role == "superuser":
        target = django_user_model.objects.create_superuser(username="su", password="su-pass-123")
    else:
        target = django_user_model.objects.create_user(username="staff", password="x-pass-123", role=role)
    response = client_for(moderator).post(f"/api/moderation/users/{target.pk}/suspend/", {}, format="json")
    assert response.status_code == 403 and "plain users only" in error_of(response)["message"]
    assert User.objects.get(pk=target.pk).is_active


def test_an_admin_moderates_too_and_may_suspend_a_moderator(admin_user, moderator):
    response = client_for(admin_user).post(f"/api/moderation/users/{moderator.pk}/suspend/", {},
                                           format="json")
    assert response.status_code == 200 and not User.objects.get(pk=moderator.pk).is_active


def test_a_suspended_moderator_has_no_powers_left(moderator, bot):
    moderator.is_active = False
    moderator.save()
    response = client_for(moderator).post(f"/api/moderation/bots/{bot.pk}/unlist/", {"reason": "x"},
                                          format="json")
    assert response.status_code in (401, 403) and Bot.objects.get(pk=bot.pk).is_listed


def test_the_moderators_user_list_never_shows_an_email(moderator, user):
    text = client_for(moderator).get("/api/moderation/users/?search=mo").content.decode()
    assert "mod@example.com" not in text and '"username":"mod"' in text
