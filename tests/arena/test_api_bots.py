"""/api/bots/ and /api/providers/: create, change, actions and history through the
services, scoped to the owner (another user's object is a 404), bad input a 400 naming
the field with nothing written, keys never in a response."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from bots.models import Bot, LLMProvider
from bots.services import CLONE_PROMPT, bot_create, provider_create
from ledger.models import Account
from tests.arena.api_helpers import client_for, error_of
from trading.models import Market, Position, Trade
from trading.services import position_open

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def market(db):
    return Market.objects.create(symbol="BTCUSDT", base_asset="BTC", last_price=D("60000"),
                                 mark_price=D("60000"), updated_at=timezone.now())


@pytest.fixture
def theirs(other_user):
    provider = provider_create(owner=other_user, name="Theirs", kind="scripted", model="momentum")
    return bot_create(owner=other_user, name="Rival", prompt="Their secret prompt {{marketData}}",
                      provider=provider)


def test_create_a_bot_funded_with_the_paper_balance(user, provider):
    response = client_for(user).post("/api/bots/", {"name": "Alpha", "prompt": "Go {{marketData}}",
                                                    "provider": provider.pk, "symbols": ["BTCUSDT"]})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["mode"] == "paper" and body["owner"] == user.pk and body["symbols"] == ["BTCUSDT"]
    assert D(body["balance"]) == D(body["initial_balance"]) > 0
    assert Account.objects.get(bot_id=body["id"]).balance == D(body["initial_balance"])


@pytest.mark.parametrize(("change", "field"), [
    ({"provider": "theirs"}, "provider"),
    ({"symbols": ["NOPEUSDT"]}, "symbols"),
    ({"symbols": "BTCUSDT"}, "symbols"),
    ({"prompt": "x" * 10_001}, "prompt"),
    ({"name": "<script>alert(1)</script>"}, "name"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
    ({"initial_balance": "1e20"}, "initial_balance"),
    ({"owner": 1}, "owner"),
    ({"mode": "casino"}, "mode"),
    ({"mode": "real"}, "mode"),
])
def test_a_bad_bot_is_refused_naming_the_field_and_nothing_is_written(user, provider, theirs, change, field):
    payload = {"name": "Alpha", "prompt": "Go", "provider": provider.pk, **change}
    if payload["provider"] == "theirs":
        payload["provider"] = theirs.provider_id
    before = (Bot.objects.count(), Account.objects.count())
    response = client_for(user).post("/api/bots/", payload)
    assert response.status_code == 400, response.json()
    assert field in error_of(response)["fields"]
    assert (Bot.objects.count(), Account.objects.count()) == before


def test_a_real_bot_needs_the_switch_a_confirmation_and_a_wallet(user, provider, settings):
    settings.REAL_TRADING_ENABLED = True
    response = client_for(user).post("/api/bots/", {"name": "Live", "prompt": "Go", "provider": provider.pk,
                                                    "mode": "real"})
    assert response.status_code == 400
    assert {"confirm_real", "wallet"} <= set(error_of(response)["fields"])
    assert not Bot.objects.filter(name="Live").exists()


def test_another_users_bot_is_a_404_everywhere(user, theirs):
    client = client_for(user)
    for method, path in [
        ("get", ""), ("patch", ""), ("delete", ""),
        ("post", "pause/"), ("post", "resume/"), ("post", "reset/"),
        ("get", "positions/"), ("get", "trades/"), ("get", "decisions/"), ("get", "snapshots/"),
        ("post", "positions/1/close/"),
    ]:
        data = {"name": "Mine now"} if method == "patch" else None
        response = getattr(client, method)(f"/api/bots/{theirs.pk}/{path}", data)
        assert response.status_code == 404, (method, path, response.status_code)
        assert error_of(response)["code"] == "not_found"
    theirs.refresh_from_db()
    assert (theirs.name, theirs.is_active, theirs.is_paused) == ("Rival", True, False)
    assert [b["id"] for b in client.get("/api/bots/").json()["results"]] == []


def test_an_admin_sees_every_bot(admin_user, bot, theirs):
    ids = {b["id"] for b in client_for(admin_user).get("/api/bots/").json()["results"]}
    assert ids == {bot.pk, theirs.pk}


def test_anonymous_gets_401(bot):
    response = client_for().get("/api/bots/")
    assert response.status_code == 401 and error_of(response)["code"] == "not_authenticated"


def test_pause_resume_update_and_soft_delete(user, bot):
    client = client_for(user)
    assert client.post(f"/api/bots/{bot.pk}/pause/").json()["is_paused"] is True
    assert client.post(f"/api/bots/{bot.pk}/resume/").json()["is_paused"] is False
    changed = client.patch(f"/api/bots/{bot.pk}/", {"name": "Momo II", "is_listed": False})
    assert changed.status_code == 200 and changed.json()["name"] == "Momo II"
    assert client.patch(f"/api/bots/{bot.pk}/", {"mode": "real"}).status_code == 400
    assert client.delete(f"/api/bots/{bot.pk}/").status_code == 204
    assert client.get("/api/bots/").json()["results"] == []
    deleted = client.get("/api/bots/?is_active=false").json()["results"]
    assert [b["id"] for b in deleted] == [bot.pk] and Bot.objects.filter(pk=bot.pk).exists()


def test_clone_another_users_listed_bot_without_their_unpublished_prompt(user, provider, theirs):
    client = client_for(user)
    no_provider = client.post("/api/bots/", {"clone_from": theirs.pk})
    assert no_provider.status_code == 400 and "provider" in error_of(no_provider)["fields"]
    made = client.post("/api/bots/", {"clone_from": theirs.pk, "provider": provider.pk, "name": "Copycat"})
    assert made.status_code == 201, made.json()
    assert made.json()["prompt"] == CLONE_PROMPT and made.json()["owner"] == user.pk

    theirs.reasoning_public = True
    theirs.save(update_fields=["reasoning_public"])
    published = client.post("/api/bots/", {"clone_from": theirs.pk, "provider": provider.pk,
                                           "name": "Copy 2"})
    assert published.json()["prompt"] == theirs.prompt

    theirs.is_listed = False
    theirs.save(update_fields=["is_listed"])
    hidden = client.post("/api/bots/", {"clone_from": theirs.pk, "provider": provider.pk, "name": "Copy 3"})
    assert hidden.status_code == 400 and "clone_from" in error_of(hidden)["fields"]


def test_positions_trades_and_a_manual_close(user, bot, theirs, market):
    opened = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=5,
                           now=timezone.now())
    foreign = position_open(bot=theirs, symbol="BTCUSDT", side="SHORT", margin=D("100"), leverage=5,
                            now=timezone.now())
    client = client_for(user)
    rows = client.get(f"/api/bots/{bot.pk}/positions/?status=open").json()["results"]
    assert [p["id"] for p in rows] == [opened.position.pk]
    assert client.post(f"/api/bots/{bot.pk}/positions/{foreign.position.pk}/close/").status_code == 404

    closed = client.post(f"/api/bots/{bot.pk}/positions/{opened.position.pk}/close/")
    assert closed.status_code == 200 and closed.json()["close_reason"] == "manual"
    again = client.post(f"/api/bots/{bot.pk}/positions/{opened.position.pk}/close/")
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"
    assert Position.objects.get(pk=foreign.position.pk).status == "open"

    trades = client.get(f"/api/bots/{bot.pk}/trades/?kind=CLOSE").json()["results"]
    assert [t["kind"] for t in trades] == ["CLOSE"] and trades[0]["position"] == opened.position.pk
    assert len(client.get(f"/api/bots/{bot.pk}/trades/?symbol=BTCUSDT").json()["results"]) == 2
    bad = client.get(f"/api/bots/{bot.pk}/trades/?executed_after=yesterday")
    assert bad.status_code == 400 and "executed_after" in error_of(bad)["fields"]
    assert Trade.objects.filter(bot=theirs).count() == 1


def test_lists_are_cursor_paginated(user, bot, market):
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        prices = {"last_price": D("100"), "mark_price": D("100"), "updated_at": timezone.now()}
        Market.objects.update_or_create(symbol=symbol, defaults=prices)
        assert position_open(bot=bot, symbol=symbol, side="LONG", margin=D("60"), leverage=2,
                             now=timezone.now()).position is not None
    client = client_for(user)
    first = client.get(f"/api/bots/{bot.pk}/trades/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    ids = [t["id"] for t in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
    assert len(client.get(f"/api/bots/{bot.pk}/trades/?page_size=5000").json()["results"]) == 3


def test_reset_of_a_paper_bot(user, bot, market):
    position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=5, now=timezone.now())
    body = client_for(user).post(f"/api/bots/{bot.pk}/reset/").json()
    assert D(body["balance"]) == bot.initial_balance and body["stats_reset_at"]
    assert not Position.objects.filter(bot=bot, status="open").exists()


def test_provider_keys_are_write_only_and_encrypted(user, other_user):
    client = client_for(user)
    key = "sk-live-SECRET-abcdef0123456789"
    made = client.post("/api/providers/", {"name": "OpenAI", "kind": "openai", "model": "gpt-4o-mini",
                                           "base_url": "https://api.openai.com/v1", "api_key": key})
    assert made.status_code == 201, made.json()
    assert key not in made.content.decode() and made.json()["has_api_key"] is True
    row = LLMProvider.objects.get(pk=made.json()["id"])
    assert key not in row.api_key_encrypted and row.api_key == key
    assert key not in client.get("/api/providers/").content.decode()
    new_key = "sk-live-OTHER-9876543210"
    changed = client.patch(f"/api/providers/{row.pk}/", {"api_key": new_key, "model": "gpt-4.1"})
    assert changed.status_code == 200 and new_key not in changed.content.decode()
    row.refresh_from_db()
    assert row.api_key == new_key and row.model == "gpt-4.1"
    assert client.patch(f"/api/providers/{row.pk}/", {"kind": "gemini"}).status_code == 400

    outsider = client_for(other_user)
    assert outsider.get(f"/api/providers/{row.pk}/").status_code == 404
    assert outsider.patch(f"/api/providers/{row.pk}/", {"api_key": "stolen"}).status_code == 404
    assert outsider.delete(f"/api/providers/{row.pk}/").status_code == 404
    row.refresh_from_db()
    assert row.api_key == new_key


@pytest.mark.parametrize(("payload", "field"), [
    ({"kind": "openai", "base_url": "https://api.openai.com"}, "base_url"),
    ({"kind": "openai", "base_url": ""}, "base_url"),
    ({"kind": "telepathy"}, "kind"),
    ({"kind": "scripted", "timeout_seconds": 100000}, "timeout_seconds"),
    ({"kind": "scripted", "options": ["x"]}, "options"),
    ({"kind": "scripted", "input_price_per_mtok": "-1"}, "input_price_per_mtok"),
])
def test_a_bad_provider_is_refused_naming_the_field(user, payload, field):
    response = client_for(user).post("/api/providers/", {"name": "P", "model": "m", **payload})
    assert response.status_code == 400, response.json()
    assert field in error_of(response)["fields"]
    assert not LLMProvider.objects.filter(name="P").exists()


def test_a_provider_in_use_cannot_be_deleted(user, bot, provider):
    client = client_for(user)
    refused = client.delete(f"/api/providers/{provider.pk}/")
    assert refused.status_code == 400 and bot.name in error_of(refused)["message"]
    spare = provider_create(owner=user, name="Spare", kind="scripted", model="momentum")
    assert client.delete(f"/api/providers/{spare.pk}/").status_code == 204
    assert not LLMProvider.objects.filter(pk=spare.pk).exists()
