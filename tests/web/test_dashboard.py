"""The dashboard (/) and its fragments: the real data, escaped; a spectator's view holds only
listed bots and published reasoning; a private arena sends anonymous visitors to sign in."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from arena.models import ArenaSettings, BotTurn, Turn
from bots.models import Bot, Decision
from bots.services import bot_create, provider_create
from trading.models import Market
from trading.services.snapshots import snapshots_take

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = "<script>alert(1)</script>"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def decide(bot, reasoning: str, **extra) -> Decision:
    return Decision.objects.create(bot=bot, prompt="p", success=True, actions=[
        {"action": "LONG", "symbol": "BTCUSDT", "leverage": 5, "reasoning": reasoning}], **extra)


@pytest.fixture
def theirs(other_user):
    """Another user's listed bot (reasoning not published) and their unlisted one."""
    spare = provider_create(owner=other_user, name="S", kind="scripted", model="breakout")
    listed = bot_create(owner=other_user, name="Bella", prompt="p", provider=spare)
    hidden = bot_create(owner=other_user, name="Secret Sam", prompt="p", provider=spare)
    Bot.objects.filter(pk=hidden.pk).update(is_listed=False)
    return listed, hidden


def test_the_owner_sees_their_cards_figures_decisions_and_actions(user, bot, theirs):
    Market.objects.create(symbol="BTCUSDT", last_price=Decimal("69392.8"), change_24h_pct=Decimal("1.25"),
                          updated_at=timezone.now())
    snapshots_take(now=timezone.now())
    mine = decide(bot, "Breakout above the range")
    body = signed_in(user).get("/").content.decode()

    assert 'id="market-ticker"' in body and 'data-symbol="BTCUSDT"' in body and "69,392.8" in body
    assert "+1.25 %" in body
    assert f'data-bot-card="{bot.pk}"' in body and f'data-bot-card="{theirs[0].pk}"' in body
    assert f'data-bot-card="{theirs[1].pk}"' not in body, "another user's unlisted bot"
    assert "10,000.00" in body
    assert f'data-decision="{mine.pk}"' in body and "LONG BTCUSDT 5x" in body and "Breakout above" in body
    for action in ("pause", "force-turn", "summarize", "clear-learning", "reset"):
        assert f'data-action="{action}"' in body
    assert body.count('data-action="pause"') == 1, "no actions on another user's card"
    assert 'id="turn-state"' in body and 'id="values-chart"' in body


def test_user_text_is_escaped(user, bot, provider):
    Bot.objects.filter(pk=bot.pk).update(name=f"Momo {SCRIPT}")
    decide(bot, f"because {SCRIPT}", error="")
    Decision.objects.create(bot=bot, prompt="p", success=False, error=f"boom {SCRIPT}")
    body = signed_in(user).get("/").content.decode()
    assert SCRIPT not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_failing_provider_shows_its_last_error_to_the_owner_only(user, bot, other_user):
    Decision.objects.create(bot=bot, prompt="p", success=False, error="HTTP 401 from the provider")
    assert "HTTP 401 from the provider" in signed_in(user).get("/dashboard/bots/", **HX).content.decode()
    cards = signed_in(other_user).get("/dashboard/bots/", **HX).content.decode()
    assert f'data-bot-card="{bot.pk}"' in cards and "Provider failing" not in cards


def test_the_spectator_page_holds_no_unpublished_reasoning_and_no_unlisted_bot(user, bot, theirs):
    listed, hidden = theirs
    Bot.objects.filter(pk=bot.pk).update(reasoning_public=True)
    published = decide(bot, "published thoughts")
    unpublished = decide(listed, "private thoughts of Bella")
    unlisted = decide(hidden, "thoughts of Sam")
    body = Client().get("/").content.decode()

    assert f'data-decision="{published.pk}"' in body and "published thoughts" in body
    assert f'data-decision="{unpublished.pk}"' not in body and "private thoughts" not in body
    assert f'data-decision="{unlisted.pk}"' not in body and "Secret Sam" not in body
    assert f'data-bot-card="{listed.pk}"' in body and f'data-bot-card="{hidden.pk}"' not in body
    assert "data-action=" not in body and "spectator" in body
    values = Client().get("/dashboard/values.json?range=all").json()
    assert hidden.pk not in [line["id"] for line in values["bots"]]


def test_a_private_arena_sends_anonymous_visitors_to_sign_in(bot):
    settings = ArenaSettings.load()
    settings.public_arena = False
    settings.save()
    for url in ("/", "/dashboard/bots/", "/dashboard/decisions/", "/dashboard/values.json"):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next=")
    assert Client().get("/")["Location"] == "/login/?next=/"


def test_htmx_fragments_answer_only_themselves(user, bot):
    client = signed_in(user)
    fragments = (("/dashboard/bots/", 'id="bot-cards"'), ("/dashboard/decisions/", 'id="decision-ticker"'),
                 ("/dashboard/turn/", 'id="turn-state"'), (f"/dashboard/bots/{bot.pk}/", "data-bot-card"))
    for url, root in fragments:
        body = client.get(url, **HX).content.decode()
        assert "<html" not in body and root in body.split(">", 1)[0], url


def test_the_reset_step_asks_first_and_only_the_owner_gets_it(user, bot, other_user):
    step = signed_in(user).get(f"/dashboard/bots/{bot.pk}/?confirm=reset", **HX).content.decode()
    assert 'data-confirm="reset"' in step and "Reset Momo?" in step and 'action="/bots/' in step
    theirs = signed_in(other_user).get(f"/dashboard/bots/{bot.pk}/?confirm=reset", **HX).content.decode()
    assert "data-confirm" not in theirs


def test_a_card_not_on_the_viewers_dashboard_is_a_404(user, bot, theirs):
    assert signed_in(user).get(f"/dashboard/bots/{theirs[1].pk}/", **HX).status_code == 404


def test_stale_market_shows_since_when(user, bot):
    old = timezone.now() - timedelta(hours=1)
    Market.objects.create(symbol="BTCUSDT", last_price=Decimal("1"), updated_at=old)
    body = signed_in(user).get("/").content.decode()
    badge = body.split('id="market-stale"', 1)[1].split("</span>", 1)[0]
    assert "hidden" not in badge.split(">", 1)[0] and "Market data stale since" in badge
    Market.objects.update(updated_at=timezone.now())
    fresh = signed_in(user).get("/").content.decode().split('id="market-stale"', 1)[1].split(">", 1)[0]
    assert "hidden" in fresh


def test_turn_state_shows_a_failed_turn_with_the_owners_reason_and_a_queued_one(user, bot, other_user):
    now = timezone.now()
    failed = Turn.objects.create(started_at=now - timedelta(minutes=5), finished_at=now,
                                 status=Turn.Status.FAILED, error="market refresh failed")
    BotTurn.objects.create(turn=failed, bot=bot, status=BotTurn.Status.FAILED,
                           reason="the provider timed out", started_at=failed.started_at, finished_at=now)
    Turn.objects.create(started_at=now, forced=True, status=Turn.Status.QUEUED)
    mine = signed_in(user).get("/dashboard/turn/", **HX).content.decode()
    assert "failed" in mine and "Momo: the provider timed out" in mine and "Forced turn queued" in mine
    assert "data-next-at" in mine, "the last scheduled turn gives the next one"
    spectator = Client().get("/dashboard/turn/", **HX).content.decode()
    assert "failed" in spectator and "timed out" not in spectator and "market refresh" not in spectator


def test_values_json_draws_each_bot_and_refuses_an_unknown_range(user, bot):
    snapshots_take(now=timezone.now() - timedelta(hours=2))
    snapshots_take(now=timezone.now() - timedelta(minutes=10))
    client = signed_in(user)
    data = client.get("/dashboard/values.json?range=24h").json()
    line = next(b for b in data["bots"] if b["id"] == bot.pk)
    assert line["name"] == "Momo" and line["points"]
    assert Decimal(line["points"][-1][1]) == bot.initial_balance and line["points"][-1][2] == 0
    assert client.get("/dashboard/values.json?range=1y").status_code == 400
