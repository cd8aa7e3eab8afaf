"""The bot actions pages post to (/bots/<id>/<action>/): each calls the API's service, for
the owner only, POST with CSRF only, and answers an htmx card, a 204 with HX-Trigger or a
redirect with a message."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from arena.models import BotTurn
from bots.models import Bot, Decision, LearningSummary
from ledger.models import Account

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
ACTIONS = ["pause", "resume", "force-turn", "summarize", "clear-learning", "reset"]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def decisions(bot, count):
    start = timezone.now() - timedelta(hours=count)
    Decision.objects.bulk_create([
        Decision(bot=bot, created_at=start + timedelta(minutes=5 * i), prompt="p", success=True,
                 actions=[{"action": "LONG", "symbol": "BTCUSDT", "reasoning": f"r{i}"}])
        for i in range(count)
    ])


def test_pause_then_resume_answer_the_updated_card(user, bot):
    client = signed_in(user)
    paused = client.post(f"/bots/{bot.pk}/pause/", **HX)
    assert paused.status_code == 200
    body = paused.content.decode()
    assert body.lstrip().startswith(f'<article class="card bot-card is-paused" data-bot-card="{bot.pk}"')
    assert 'class="badge paused"' in body and "<html" not in body
    assert 'class="alert success"' in body and 'data-action="resume"' in body
    bot.refresh_from_db()
    assert bot.is_paused

    resumed = client.post(f"/bots/{bot.pk}/resume/", **HX).content.decode()
    bot.refresh_from_db()
    assert not bot.is_paused and 'data-action="pause"' in resumed and 'badge paused' not in resumed


def test_a_plain_form_post_redirects_back_with_a_message(user, bot):
    client = signed_in(user)
    response = client.post(f"/bots/{bot.pk}/pause/", {"next": "/bots/"})
    assert response.status_code == 302 and response["Location"] == "/bots/"
    followed = client.get("/")
    assert "Momo is paused" in followed.content.decode()


def test_next_outside_the_site_is_not_followed(user, bot):
    response = signed_in(user).post(f"/bots/{bot.pk}/pause/", {"next": "https://evil.example/"},
                                    HTTP_REFERER="https://evil.example/x")
    assert response["Location"] == "/"


def test_fragment_none_answers_204_with_an_hx_trigger(user, bot):
    response = signed_in(user).post(f"/bots/{bot.pk}/pause/?fragment=none", **HX)
    assert response.status_code == 204 and response.content == b""
    detail = json.loads(response["HX-Trigger"])["arena-bot-action"]
    assert detail["bot"] == bot.pk and detail["action"] == "pause" and detail["ok"] is True
    assert "paused" in detail["message"]


def test_reset_restores_a_paper_bot(user, bot):
    Account.objects.filter(bot=bot).update(balance=Decimal("123"))
    body = signed_in(user).post(f"/bots/{bot.pk}/reset/", **HX).content.decode()
    assert Account.objects.get(bot=bot).balance == bot.initial_balance
    bot.refresh_from_db()
    assert bot.stats_reset_at is not None and "starts over" in body


def test_reset_of_a_real_bot_is_refused_with_the_services_reason(user, bot):
    Bot.objects.filter(pk=bot.pk).update(mode=Bot.Mode.REAL)
    Account.objects.filter(bot=bot).update(balance=Decimal("123"))
    body = signed_in(user).post(f"/bots/{bot.pk}/reset/", **HX).content.decode()
    assert 'class="alert error"' in body and "Only paper bots can be reset" in body
    assert Account.objects.get(bot=bot).balance == Decimal("123")
    assert 'data-action="reset"' not in body, "a real bot's card offers no reset"

    refused = signed_in(user).post(f"/bots/{bot.pk}/reset/?fragment=none")
    assert refused.status_code == 409
    assert json.loads(refused["HX-Trigger"])["arena-bot-action"]["ok"] is False


def test_force_turn_writes_the_bots_part_in_a_forced_turn(user, bot):
    response = signed_in(user).post(f"/bots/{bot.pk}/force-turn/", **HX)
    assert response.status_code == 200
    row = BotTurn.objects.get(bot=bot)
    assert row.turn.forced
    assert f"turn {row.turn_id}" in response.content.decode()


def test_force_turn_of_a_deleted_bot_is_refused(user, bot):
    Bot.objects.filter(pk=bot.pk).update(is_active=False)
    client = signed_in(user)
    response = client.post(f"/bots/{bot.pk}/force-turn/", {"next": "/"})
    assert response.status_code == 302
    assert not BotTurn.objects.exists()
    assert "A deleted bot takes no turns" in client.get("/").content.decode()


def test_summarize_needs_decisions_then_writes_and_clear_learning_hides_it(user, bot):
    client = signed_in(user)
    refused = client.post(f"/bots/{bot.pk}/summarize/", **HX).content.decode()
    assert "at least 5 decisions" in refused and not LearningSummary.objects.exists()
    decisions(bot, 6)
    written = client.post(f"/bots/{bot.pk}/summarize/", **HX).content.decode()
    assert LearningSummary.objects.get(bot=bot).decisions_count == 6
    assert "summary of 6 decisions" in written

    cleared = client.post(f"/bots/{bot.pk}/clear-learning/", **HX).content.decode()
    assert LearningSummary.objects.get(bot=bot).cleared_at is not None
    assert "1 learning summary" in cleared


@pytest.mark.parametrize("action", ACTIONS)
def test_another_users_bot_is_a_404_and_nothing_changes(other_user, bot, action):
    response = signed_in(other_user).post(f"/bots/{bot.pk}/{action}/", **HX)
    assert response.status_code == 404
    bot.refresh_from_db()
    assert not bot.is_paused and bot.stats_reset_at is None
    assert not BotTurn.objects.exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_get_is_refused(user, bot, action):
    assert signed_in(user).get(f"/bots/{bot.pk}/{action}/").status_code == 405


def test_anonymous_posts_are_sent_to_sign_in(bot):
    response = Client().post(f"/bots/{bot.pk}/pause/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    bot.refresh_from_db()
    assert not bot.is_paused


def test_a_post_without_the_csrf_token_is_refused(user, bot):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(f"/bots/{bot.pk}/pause/").status_code == 403
    bot.refresh_from_db()
    assert not bot.is_paused


def test_the_change_is_attributed_to_the_user(user, bot):
    from ledger.models import Change

    signed_in(user).post(f"/bots/{bot.pk}/pause/", **HX)
    change = Change.objects.filter(action="paused").get()
    assert change.actor_id == user.pk
