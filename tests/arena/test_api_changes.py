"""The audit trail and prompt versions: every change names who made it, through which
interface, and what it was before; every decision names the prompt version it saw."""
from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from arena import accounts
from bots.models import Decision, PromptVersion
from bots.services import bot_pause
from ledger.changes import acting, interface_for_path
from ledger.models import AppendOnlyError, Change
from tests.arena.api_helpers import client_for

pytestmark = pytest.mark.django_db


def test_creating_and_changing_a_bot_through_the_api_is_in_its_trail(user, provider):
    _, token = accounts.token_create(user=user, name="script")
    script = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    payload = {"name": "Alpha", "prompt": "v1 {{marketData}}", "provider": provider.pk}
    bot_id = script.post("/api/bots/", payload, format="json").json()["id"]
    script.patch(f"/api/bots/{bot_id}/", {"prompt": "v2 {{marketData}}", "is_listed": False}, format="json")
    script.post(f"/api/bots/{bot_id}/pause/")

    trail = script.get(f"/api/changes/?object_type=bots.Bot&object_id={bot_id}").json()["results"]
    assert [c["action"] for c in trail] == ["paused", "updated", "created"]
    assert {(c["actor_name"], c["interface"]) for c in trail} == {("alice", "api")}
    updated = trail[1]["changes"]
    assert updated["prompt"] == ["v1 {{marketData}}", "v2 {{marketData}}"]
    assert updated["is_listed"] == [True, False]
    assert trail[0]["changes"] == {"is_paused": [False, True]}


def test_every_decision_names_the_prompt_version_it_was_made_with(user, bot):
    client = client_for(user)
    client.post(f"/api/bots/{bot.pk}/force-turn/")
    client.patch(f"/api/bots/{bot.pk}/", {"prompt": "New rules {{marketData}}"})
    client.patch(f"/api/bots/{bot.pk}/", {"name": "Renamed"})  # no new prompt version
    client.post(f"/api/bots/{bot.pk}/force-turn/")

    versions = client.get(f"/api/bots/{bot.pk}/prompts/").json()["results"]
    assert [(v["number"], v["prompt"]) for v in versions] == [
        (2, "New rules {{marketData}}"), (1, "Trade {{marketData}}")]
    assert versions[0]["created_by"] == user.pk
    seen = [d.prompt_version.prompt for d in Decision.objects.filter(bot=bot).order_by("id")]
    assert seen == ["Trade {{marketData}}", "New rules {{marketData}}"]
    listed = client.get(f"/api/bots/{bot.pk}/decisions/").json()["results"]
    assert [d["prompt_version"] for d in listed] == [versions[0]["id"], versions[1]["id"]]


def test_an_owner_reads_only_the_trail_of_their_own_objects(user, other_user, bot):
    mine = Change.objects.get(object_type="bots.Bot", object_id=str(bot.pk), action="created")
    outsider = client_for(other_user)
    assert outsider.get("/api/changes/").json()["results"] == []
    assert outsider.get(f"/api/changes/{mine.pk}/").status_code == 404
    assert outsider.get("/api/changes/stats/").status_code == 403


def test_admins_read_everything_and_the_stats(admin_user, bot):
    client = client_for(admin_user)
    assert any(c["object_id"] == str(bot.pk) for c in client.get("/api/changes/").json()["results"])
    stats = client.get("/api/changes/stats/").json()
    assert stats["total"] >= 1 and stats["by_action"]["created"] >= 1


def test_the_interface_is_the_admin_the_api_a_page_a_command_or_the_arena(bot):
    assert interface_for_path("/admin/bots/bot/1/change/") == "admin"
    assert interface_for_path("/api/bots/1/") == "api"
    assert interface_for_path("/bots/1/pause/") == "web"
    created = Change.objects.get(object_type="bots.Bot", object_id=str(bot.pk), action="created")
    assert (created.interface, created.actor) == ("system", None), "a fixture is the arena's own change"
    with acting(interface="command"):
        bot_pause(bot=bot)
    latest = Change.objects.filter(object_type="bots.Bot", object_id=str(bot.pk)).latest("id")
    assert latest.interface == "command"


def test_the_trail_is_append_only(bot):
    change = Change.objects.first()
    change.action = "forged"
    with pytest.raises(AppendOnlyError):
        change.save()
    with pytest.raises(AppendOnlyError):
        change.delete()
    with pytest.raises(AppendOnlyError):
        Change.objects.all().update(action="forged")
    with pytest.raises(AppendOnlyError):
        Change.objects.all().delete()


def test_a_new_bot_starts_at_prompt_version_one(bot):
    assert bot.prompt_version.number == 1 and bot.prompt_version.prompt == bot.prompt
    assert PromptVersion.objects.filter(bot=bot).count() == 1


def test_a_password_change_is_in_the_trail_without_the_password(user):
    client = APIClient()
    client.force_login(user)
    passwords = {"old_password": "alice-pass-123", "new_password": "a-long-Passphrase-9"}
    client.post("/api/auth/password/", passwords, format="json")
    change = Change.objects.get(object_type="arena.User", object_id=str(user.pk), action="password_changed")
    assert change.changes == {"password": [None, "(changed)"]} and change.actor_name == "alice"
    user.refresh_from_db()
    assert user.password not in str(Change.objects.values_list("changes", flat=True))


def test_a_wallet_key_change_is_in_the_trail_without_the_key(user):
    client = client_for(user)
    made = client.post("/api/wallets/", {"exchange": "binance_testnet", "api_key": "KEY-one-123",
                                         "api_secret": "SECRET-one-456", "label": "Test"}, format="json")
    assert made.status_code == 201, made.json()
    client.patch(f"/api/wallets/{made.json()['id']}/", {"api_key": "KEY-two-789"}, format="json")
    trail = Change.objects.filter(object_type="trading.Wallet").order_by("id")
    assert [c.action for c in trail] == ["created", "updated"]
    assert trail[1].changes == {"api_key": [None, "(changed)"]}
    text = str(list(trail.values_list("changes", flat=True)))
    assert "KEY-" not in text and "SECRET-" not in text


def test_provider_and_settings_changes_are_in_the_trail(user, admin_user):
    client = client_for(user)
    made = client.post("/api/providers/", {"name": "Mine", "kind": "scripted", "model": "momentum",
                                           "api_key": "sk-not-shown-123"}, format="json").json()
    change = {"model": "reversion", "api_key": "sk-new-456"}
    client.patch(f"/api/providers/{made['id']}/", change, format="json")
    trail = Change.objects.filter(object_type="bots.LLMProvider").order_by("id")
    assert [c.action for c in trail] == ["created", "updated"]
    assert trail[1].changes == {"api_key": [None, "(changed)"], "model": ["momentum", "reversion"]}
    assert "sk-" not in str(list(trail.values_list("changes", flat=True)))

    response = client_for(admin_user).patch("/api/settings/", {"cooldown_minutes": 7}, format="json")
    assert response.status_code == 200, response.json()
    change = Change.objects.filter(object_type="arena.ArenaSettings").latest("id")
    assert change.changes["cooldown_minutes"][1] == 7 and change.actor_name == "root"
    assert change.interface == "api"


def test_admin_edits_of_providers_and_wallets_are_in_the_trail(admin_user, openai_provider):
    client = Client()
    client.force_login(admin_user)
    page = f"/admin/bots/llmprovider/{openai_provider.pk}/change/"
    form = client.get(page).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"model": "gpt-4.1", "api_key": "", "options": "{}"})
    response = client.post(page, {k: v for k, v in data.items() if v is not False})
    assert response.status_code == 302, response.content[:2000]
    change = Change.objects.filter(object_type="bots.LLMProvider").latest("id")
    assert (change.interface, change.actor_name) == ("admin", "root")
    assert change.changes["model"] == ["gpt-4o-mini", "gpt-4.1"]
    assert "api_key" not in change.changes, "an empty key field keeps the stored key"
