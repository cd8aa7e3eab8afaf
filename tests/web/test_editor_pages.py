"""The bot list, the bot form (new, edit), the prompt preview, clone and delete, through HTTP."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from arena.api.bots.serializers import BotSerializer
from bots.models import Bot
from bots.services import bot_create, provider_create
from ledger.models import Change
from tests.arena.api_helpers import client_for
from trading.models import Market
from trading.services import wallet_create
from trading.services.snapshots import snapshots_take

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
XSS = "<script>alert(1)</script>"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(provider, **over) -> dict:
    """A valid new-bot form as the page posts it (checkboxes: present or absent)."""
    return {"name": "Trendy", "prompt": "Trade {{marketData}} with {{totalValue}}",
            "provider": str(provider.pk), "mode": "paper", "symbols": ["BTCUSDT", "ETHUSDT"],
            "is_listed": "on", **over}


@pytest.fixture
def btc(db):
    return Market.objects.update_or_create(symbol="BTCUSDT", defaults={
        "base_asset": "BTC", "last_price": Decimal("64321.5"), "mark_price": Decimal("64321.5"),
        "change_24h_pct": Decimal("1.25"), "updated_at": timezone.now(), "is_stale": False})[0]


@pytest.fixture
def theirs(other_user):
    provider = provider_create(owner=other_user, name="Theirs", kind="scripted", model="breakout")
    return bot_create(owner=other_user, name="Rival", prompt="Secret plan", provider=provider)


# ---- the list ------------------------------------------------------------------------------

def test_the_list_shows_the_users_bots_with_their_figures(user, bot, theirs):
    snapshots_take(now=timezone.now(), bot_ids=[bot.pk])
    body = signed_in(user).get("/bots/").content.decode()
    assert f'href="/bots/{bot.pk}/"' in body and "Momo" in body
    assert "PAPER" in body and "active" in body and "Scripted" in body and "momentum" in body
    assert "10,000.00" in body  # the latest snapshot's total value
    assert f"/bots/{bot.pk}/edit/" in body and "/bots/new/" in body
    assert "Rival" not in body


def test_the_list_hides_deleted_bots_behind_a_toggle(user, bot):
    bot.is_active = False
    bot.save(update_fields=["is_active"])
    client = signed_in(user)
    assert "Momo" not in client.get("/bots/").content.decode()
    deleted = client.get("/bots/?inactive=1").content.decode()
    assert "Momo" in deleted and "deleted" in deleted


def test_an_admin_may_list_every_users_bots(admin_user, bot, theirs):
    client = signed_in(admin_user)
    assert "Rival" not in client.get("/bots/").content.decode()
    everyone = client.get("/bots/?all=1").content.decode()
    assert "Rival" in everyone and "Momo" in everyone and "alice" in everyone


def test_a_user_cannot_list_every_users_bots(user, bot, theirs):
    assert "Rival" not in signed_in(user).get("/bots/?all=1").content.decode()


def test_names_are_escaped_in_the_list(user, provider):
    bot = bot_create(owner=user, name="Plain", prompt="p", provider=provider)
    Bot.objects.filter(pk=bot.pk).update(name=XSS)  # as an import could have written it
    body = signed_in(user).get("/bots/").content.decode()
    assert XSS not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.parametrize("url", ["/bots/", "/bots/new/", "/bots/1/edit/", "/bots/1/delete/",
                                 "/bots/1/clone/"])
def test_anonymous_visitors_are_sent_to_sign_in(db, url):
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={url}"


# ---- creating ------------------------------------------------------------------------------

def test_the_new_bot_form_offers_everything_a_bot_needs(user, provider, btc):
    body = signed_in(user).get("/bots/new/").content.decode()
    for placeholder in ("{{totalValue}}", "{{availableBalance}}", "{{unrealizedPnl}}", "{{openPositions}}",
                        "{{marketData}}", "{{currentDate}}"):
        assert placeholder in body
    assert 'value="momentum"' in body and 'value="random_walk"' in body  # strategy templates
    assert f'value="{provider.pk}"' in body and "Scripted · momentum" in body
    assert 'name="symbols" value="BTCUSDT"' in body
    assert "support_resistance" in body and "position_size" in body  # the tools' documentation
    assert 'id="prompt-preview"' in body and "Real trading is <strong>off</strong>" in body
    assert 'hx-post="/bots/prompt-preview/"' in body


def test_creating_a_bot_through_the_form_stores_what_the_api_would(user, provider):
    client = signed_in(user)
    response = client.post("/bots/new/", {**form(provider), "sandbox_enabled": "on",
                                          "avatar": io.BytesIO(PNG)}, format="multipart")
    made = Bot.objects.get(name="Trendy")
    assert response.status_code == 302 and response["Location"] == f"/bots/{made.pk}/edit/"
    api = client_for(user).post("/api/bots/", {
        "name": "Twin", "prompt": "Trade {{marketData}} with {{totalValue}}", "provider": provider.pk,
        "symbols": ["BTCUSDT", "ETHUSDT"], "sandbox_enabled": True, "is_listed": True}, format="json").json()
    twin = Bot.objects.get(pk=api["id"])
    ours = BotSerializer(made).data
    compared = ("prompt", "provider", "mode", "symbols", "sandbox_enabled", "is_paused", "is_active",
                "is_listed", "reasoning_public", "initial_balance", "balance")
    assert {k: ours[k] for k in compared} == {k: BotSerializer(twin).data[k] for k in compared}
    assert made.avatar.name.endswith(".png") and made.prompt_version.number == 1
    change = Change.objects.get(object_type="bots.Bot", object_id=str(made.pk), action="created")
    assert change.actor_id == user.pk  # attributed to the person, as through the API


@pytest.mark.parametrize("over, field", [
    ({"name": ""}, "name"),
    ({"name": "a" * 101}, "name"),
    ({"name": "<b>bold</b>"}, "name"),
    ({"prompt": ""}, "prompt"),
    ({"prompt": "x" * 10_001}, "prompt"),
    ({"symbols": ["NOPEUSDT"]}, "symbols"),
    ({"symbols": [f"S{i}USDT" for i in range(60)]}, "symbols"),
    ({"provider": ""}, "provider"),
    ({"provider": "999999"}, "provider"),
    ({"mode": "moon"}, "mode"),
])
def test_bad_input_gives_a_field_error_and_keeps_what_was_typed(user, provider, over, field):
    data = {**form(provider, prompt="My careful prompt {{marketData}}"), **over}
    response = signed_in(user).post("/bots/new/", data)
    assert response.status_code == 400
    assert field in response.context["errors"] and response.context["errors"][field]
    body = response.content.decode()
    assert f'id="{field}-errors"' in body
    if field != "prompt":
        assert "My careful prompt {{marketData}}" in body
    if field != "name":
        assert 'value="Trendy"' in body
    assert not Bot.objects.filter(owner=user).exists()


def test_another_users_provider_cannot_be_chosen(user, provider, theirs):
    response = signed_in(user).post("/bots/new/", {**form(provider), "provider": str(theirs.provider_id)})
    assert response.status_code == 400 and "provider" in response.context["errors"]


def test_a_duplicate_name_is_refused_with_the_input_kept(user, provider, bot):
    response = signed_in(user).post("/bots/new/", form(provider, name=bot.name))
    assert response.status_code == 400
    assert response.context["errors"] == {"name": ["You already have a bot by this name: choose another."]}
    assert f'value="{bot.name}"' in response.content.decode()
    assert Bot.objects.filter(owner=user).count() == 1


def test_a_real_bot_needs_the_server_switch(user, provider):
    response = signed_in(user).post("/bots/new/", form(provider, mode="real", confirm_real="on"))
    assert response.status_code == 400 and "mode" in response.context["errors"]


def test_a_real_bot_needs_a_verified_wallet_the_confirmation_and_the_password(user, provider, settings):
    settings.REAL_TRADING_ENABLED = True
    client = signed_in(user)
    response = client.post("/bots/new/", form(provider, mode="real"))
    assert response.status_code == 400
    assert {"wallet", "confirm_real", "password"} <= set(response.context["errors"])
    body = response.content.decode()
    assert "I understand this bot trades real money" in body
    assert "Real trading is <strong>enabled</strong>" in body
    assert 'name="mode" value="real" id="id_mode_real" checked' in body  # the choice is kept
    wallet = wallet_create(owner=user, exchange="binance", api_key="k" * 32, api_secret="s" * 32,
                           label="Main")
    no_confirm = client.post("/bots/new/", form(provider, mode="real", wallet=str(wallet.pk)))
    assert no_confirm.status_code == 400 and {"confirm_real", "password"} <= set(no_confirm.context["errors"])
    assert f'<option value="{wallet.pk}" selected>' in no_confirm.content.decode()
    unverified = client.post("/bots/new/", form(provider, mode="real", wallet=str(wallet.pk),
                                                confirm_real="on", password="alice-pass-123"))
    assert unverified.status_code == 400
    assert "Verify wallet Main first" in unverified.context["errors"]["wallet"][0]
    assert not Bot.objects.filter(name="Trendy").exists()  # made once verified: tests/web/test_editor_real.py


def test_a_bad_avatar_is_refused_like_the_api_does(user, provider):
    response = signed_in(user).post("/bots/new/", {**form(provider), "avatar": io.BytesIO(b"<svg></svg>")})
    assert response.status_code == 400
    assert response.context["errors"]["avatar"] == ["An avatar is a PNG, JPEG, GIF or WebP image."]


def test_the_template_button_fills_the_prompt_without_saving(user, provider):
    response = signed_in(user).post("/bots/new/", form(provider, strategy="breakout", apply_strategy="1"))
    assert response.status_code == 200 and not Bot.objects.exists()
    assert "breakout trader" in response.context["values"]["prompt"]
    assert 'value="Trendy"' in response.content.decode()


def test_a_post_without_the_csrf_token_is_refused(user, provider, bot):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for url, data in [("/bots/new/", form(provider)), (f"/bots/{bot.pk}/edit/", form(provider, name="X")),
                      (f"/bots/{bot.pk}/delete/", {}), (f"/bots/{bot.pk}/clone/", {}),
                      ("/bots/prompt-preview/", {"prompt": "x"})]:
        assert client.post(url, data).status_code == 403, url
    bot.refresh_from_db()
    assert (Bot.objects.count(), bot.name, bot.is_active) == (1, "Momo", True)


# ---- editing -------------------------------------------------------------------------------

def test_editing_a_bot_through_the_form_saves_it(user, provider, bot):
    other = provider_create(owner=user, name="Second", kind="scripted", model="breakout")
    client = signed_in(user)
    page = client.get(f"/bots/{bot.pk}/edit/").content.decode()
    assert 'value="Momo"' in page and "Trade {{marketData}}" in page and "PAPER" in page
    response = client.post(f"/bots/{bot.pk}/edit/", form(other, name="Momo II", prompt="New {{currentDate}}",
                                                         symbols=["SOLUSDT"], reasoning_public="on"))
    assert response.status_code == 302
    bot.refresh_from_db()
    assert (bot.name, bot.prompt, bot.provider_id) == ("Momo II", "New {{currentDate}}", other.pk)
    assert bot.symbols == ["SOLUSDT"]
    assert bot.reasoning_public is True and bot.is_listed is True and bot.sandbox_enabled is False
    assert bot.prompt_version.number == 2 and bot.mode == "paper"
    trail = Change.objects.filter(object_type="bots.Bot", object_id=str(bot.pk), action="updated")
    assert trail.get().actor_id == user.pk


def test_an_edit_with_bad_input_keeps_it_and_changes_nothing(user, provider, bot):
    response = signed_in(user).post(f"/bots/{bot.pk}/edit/", form(provider, name="", prompt="Kept text"))
    assert response.status_code == 400 and "name" in response.context["errors"]
    assert "Kept text" in response.content.decode()
    bot.refresh_from_db()
    assert (bot.name, bot.prompt) == ("Momo", "Trade {{marketData}}")


def test_an_edit_can_remove_the_avatar(user, provider, bot):
    client = signed_in(user)
    uploaded = client.post(f"/bots/{bot.pk}/edit/", {**form(provider), "avatar": io.BytesIO(PNG)})
    assert uploaded.status_code == 302
    bot.refresh_from_db()
    assert bot.avatar
    assert client.post(f"/bots/{bot.pk}/edit/", form(provider, avatar_generated="on")).status_code == 302
    bot.refresh_from_db()
    assert not bot.avatar


def test_the_prompt_is_escaped_in_the_form(user, provider, bot):
    Bot.objects.filter(pk=bot.pk).update(prompt=f"Hello {XSS}")
    body = signed_in(user).get(f"/bots/{bot.pk}/edit/").content.decode()
    assert XSS not in body and "Hello &lt;script&gt;" in body


def test_another_users_bot_is_a_404(user, admin_user, theirs):
    for client in (signed_in(user), signed_in(admin_user)):  # an admin edits only their own bots here
        for url in (f"/bots/{theirs.pk}/edit/", f"/bots/{theirs.pk}/delete/"):
            assert client.get(url).status_code == 404
            assert client.post(url, {"name": "Mine now"}).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.is_active) == ("Rival", True)


# ---- the preview and the templates (htmx) --------------------------------------------------

def test_the_preview_renders_placeholders_on_current_prices_and_escapes(user, btc):
    response = signed_in(user).post("/bots/prompt-preview/", {
        "name": "Pre", "prompt": f"Value {{{{ totalValue }}}} {XSS}\n{{{{marketData}}}}",
        "symbols": ["BTCUSDT"],
    }, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "Value 10000.00" in body  # a new paper bot's funded balance
    assert "BTCUSDT: $64,321.50 (+1.25% 24h)" in body  # the market's current price
    assert XSS not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert '<pre id="prompt-preview"' in body and "## RESPONSE FORMAT" in body


def test_the_preview_of_an_edited_bot_uses_its_own_account(user, bot, btc, theirs):
    client = signed_in(user)
    response = client.post("/bots/prompt-preview/", {"bot": bot.pk, "prompt": "{{availableBalance}}",
                                                     "name": "Momo"})
    assert response.content.decode().split("\n", 1)[0].endswith(">10000.00")
    assert client.post("/bots/prompt-preview/", {"bot": theirs.pk, "prompt": "x"}).status_code == 404


def test_the_preview_is_post_only_and_for_signed_in_users(user, db):
    assert Client().post("/bots/prompt-preview/", {"prompt": "x"}).status_code == 302
    assert signed_in(user).get("/bots/prompt-preview/").status_code == 405


def test_a_strategy_fills_the_prompt_field_as_a_fragment(user):
    response = signed_in(user).get("/bots/strategy-prompt/",
                                   {"strategy": "mean_reversion", "prompt": "earlier words"},
                                   HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response["HX-Trigger"] == "prompt-filled"
    assert body.lstrip().startswith('<div class="field" id="field-prompt">') and "<html" not in body
    assert "mean reversion trader" in body and "earlier words" not in body
    unchanged = signed_in(user).get("/bots/strategy-prompt/", {"strategy": "", "prompt": f"keep {XSS}"})
    assert "keep &lt;script&gt;" in unchanged.content.decode()


# ---- delete and clone ----------------------------------------------------------------------

def test_delete_asks_first_then_deactivates(user, bot):
    client = signed_in(user)
    confirm = client.get(f"/bots/{bot.pk}/delete/")
    assert confirm.status_code == 200 and 'data-action="delete"' in confirm.content.decode()
    bot.refresh_from_db()
    assert bot.is_active
    response = client.post(f"/bots/{bot.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/bots/"
    bot.refresh_from_db()
    assert (bot.is_active, bot.is_paused) == (False, True)
    assert client.get(f"/bots/{bot.pk}/edit/").status_code == 404


def test_cloning_my_bot_copies_it(user, bot):
    client = signed_in(user)
    assert 'value="Momo (copy)"' in client.get(f"/bots/{bot.pk}/clone/").content.decode()
    response = client.post(f"/bots/{bot.pk}/clone/", {"name": "Momo B", "provider": ""})
    copy = Bot.objects.get(name="Momo B")
    assert response.status_code == 302 and response["Location"] == f"/bots/{copy.pk}/edit/"
    assert (copy.prompt, copy.provider_id, copy.mode) == (bot.prompt, bot.provider_id, "paper")


def test_cloning_another_users_listed_bot_needs_my_provider_and_keeps_their_prompt(user, provider, theirs):
    client = signed_in(user)
    missing = client.post(f"/bots/{theirs.pk}/clone/", {"name": "Copycat"})
    assert missing.status_code == 400 and "provider" in missing.context["errors"]
    assert 'value="Copycat"' in missing.content.decode()
    response = client.post(f"/bots/{theirs.pk}/clone/", {"name": "Copycat", "provider": str(provider.pk)})
    assert response.status_code == 302
    copy = Bot.objects.get(name="Copycat")
    assert copy.owner_id == user.pk and copy.prompt != "Secret plan"


def test_an_unlisted_bot_of_another_user_cannot_be_cloned(user, theirs):
    theirs.is_listed = False
    theirs.save(update_fields=["is_listed"])
    assert signed_in(user).get(f"/bots/{theirs.pk}/clone/").status_code == 404
