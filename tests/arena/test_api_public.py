"""/api/public/: listed bots for anyone, their reasoning only when published."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from bots.models import Decision
from tests.arena.api_helpers import client_for, error_of
from trading.services.snapshots import snapshots_take

pytestmark = pytest.mark.django_db


def test_a_listed_bot_shows_its_figures_and_the_owners_display_name_only(user, bot):
    user.display_name = "Alice the Trader"
    user.email = "alice@example.com"
    user.save()
    snapshots_take(now=timezone.now())
    rows = client_for().get("/api/public/bots/").json()["results"]
    assert [r["id"] for r in rows] == [bot.pk]
    row = rows[0]
    assert row["owner_name"] == "Alice the Trader" and row["model"] == "momentum"
    assert Decimal(row["total_value"]) == bot.initial_balance and row["prompt"] is None
    text = str(rows)
    assert "alice@example.com" not in text and "'alice'" not in text and bot.prompt not in text


def test_reasoning_is_public_only_when_published(user, bot):
    Decision.objects.create(bot=bot, created_at=timezone.now(), prompt="PRIVATE PROMPT", raw_response="{}",
                            actions=[{"action": "LONG", "reasoning": "momentum is up"}], success=True)
    anyone = client_for()
    hidden = anyone.get(f"/api/public/bots/{bot.pk}/decisions/")
    assert hidden.status_code == 404 and "not published" in error_of(hidden)["message"]

    client_for(user).patch(f"/api/bots/{bot.pk}/", {"reasoning_public": True})
    shown = anyone.get(f"/api/public/bots/{bot.pk}/decisions/")
    assert shown.status_code == 200
    assert shown.json()["results"][0]["actions"][0]["reasoning"] == "momentum is up"
    assert "PRIVATE PROMPT" not in shown.content.decode(), "the prompt sent is not part of the reasoning"
    assert anyone.get(f"/api/public/bots/{bot.pk}/").json()["prompt"] == bot.prompt


def test_unlisted_and_deleted_bots_are_nowhere_public(user, bot):
    client_for(user).patch(f"/api/bots/{bot.pk}/", {"is_listed": False})
    assert client_for().get("/api/public/bots/").json()["results"] == []
    assert client_for().get(f"/api/public/bots/{bot.pk}/").status_code == 404
    client_for(user).patch(f"/api/bots/{bot.pk}/", {"is_listed": True})
    client_for(user).delete(f"/api/bots/{bot.pk}/")
    assert client_for().get(f"/api/public/bots/{bot.pk}/").status_code == 404
