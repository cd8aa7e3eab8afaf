"""Forced turns asked for through the API: written as queued before they are sent, so the
answer names the turn; started once by the worker that takes them, however often the task
is delivered; failed with the reason when no worker takes them in time."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from arena.models import BotTurn, Turn
from arena.tasks import run_turn
from arena.turns.force import turns_queued_expire
from arena.turns.run import turn_run
from bots.models import Decision
from ledger.models import Event
from tests.arena.api_helpers import client_for, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued():
    """Tasks go to the memory broker instead of running in-process; yields a reader of the
    messages sent to it."""
    app = run_turn.app
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue("celery")
        queue.clear()

        def sent():
            messages = []
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    return messages
                messages.append(message)
                message.ack()

        yield sent
        queue.clear()
        queue.close()
    app.conf.task_always_eager = before


def test_without_a_queue_the_forced_turn_runs_before_the_answer_even_when_paused(user, bot):
    client = client_for(user)
    client.post(f"/api/bots/{bot.pk}/pause/")
    response = client.post(f"/api/bots/{bot.pk}/force-turn/")
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    turn = Turn.objects.get(pk=body["turn"])
    assert turn.forced and turn.status == Turn.Status.FINISHED
    assert body["bot"] == bot.pk and body["status"] == "finished" and body["expires_at"] is None
    decision = Decision.objects.get(bot=bot, turn=turn)
    assert body["decision"] == decision.pk, "the scripted bot decided in that turn"
    assert Turn.objects.count() == 1, "the queued turn is the one that ran"


def test_queued_to_a_worker_the_answer_names_the_queued_turn_and_the_task_starts_that_turn(
        user, bot, queued):
    response = client_for(user).post(f"/api/bots/{bot.pk}/force-turn/")
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    turn = Turn.objects.get(pk=body["turn"])
    assert (turn.status, body["status"], body["decision"]) == ("queued", "queued", None)
    assert body["expires_at"], "a queued turn says when it gives up waiting for a worker"
    assert not Decision.objects.exists(), "a worker runs it, not the request"
    assert list(Event.objects.filter(type="turn_queued").values_list("data__turn", flat=True)) == [turn.pk]

    [message] = queued()
    assert message.headers["task"] == "arena.tasks.run_turn" and message.headers["expires"]
    _, kwargs, _ = message.decode()
    assert kwargs == {"bot_ids": [bot.pk], "forced": True, "turn_id": turn.pk}

    run_turn.apply(kwargs=kwargs)  # the worker takes it
    run_turn.apply(kwargs=kwargs)  # and the broker delivers it again
    turn.refresh_from_db()
    assert turn.status == Turn.Status.FINISHED and Turn.objects.count() == 1
    assert Decision.objects.filter(bot=bot, turn=turn).count() == 1, "a second delivery decides nothing"
    [row] = client_for(user).get(f"/api/bots/{bot.pk}/turns/").json()["results"]
    assert (row["turn"], row["status"], row["forced"]) == (turn.pk, "finished", True)
    assert row["decision"] == Decision.objects.get(turn=turn).pk


def test_a_second_request_while_one_is_queued_is_a_conflict_naming_it(user, bot, queued):
    client = client_for(user)
    first = client.post(f"/api/bots/{bot.pk}/force-turn/").json()
    second = client.post(f"/api/bots/{bot.pk}/force-turn/")
    assert second.status_code == 409
    assert f"turn {first['turn']}" in error_of(second)["message"]
    assert Turn.objects.count() == 1 and len(queued()) == 1


@override_settings(ARENA_FORCED_TURN_WAIT_SECONDS=60)
def test_a_turn_no_worker_takes_fails_with_the_reason_and_a_late_delivery_does_nothing(user, bot, queued):
    body = client_for(user).post(f"/api/bots/{bot.pk}/force-turn/").json()
    [message] = queued()
    queued_at = Turn.objects.get(pk=body["turn"]).started_at
    assert turns_queued_expire(now=queued_at + timedelta(seconds=59)) == []

    [expired] = turns_queued_expire(now=queued_at + timedelta(seconds=61))
    row = BotTurn.objects.get(turn=expired)
    assert expired.status == row.status == "failed"
    assert "no worker took this forced turn within 60 s" in row.reason and row.reason == expired.error
    assert Event.objects.filter(type="turn_failed", data__turn=expired.pk).exists()

    turn_run(**message.decode()[1], now=queued_at + timedelta(seconds=62))
    assert not Decision.objects.exists() and BotTurn.objects.get(pk=row.pk).status == "failed"


def test_a_bot_deleted_before_the_worker_takes_its_turn_is_skipped_with_the_reason(user, bot, queued):
    client = client_for(user)
    body = client.post(f"/api/bots/{bot.pk}/force-turn/").json()
    [message] = queued()
    client.delete(f"/api/bots/{bot.pk}/")
    turn_run(**message.decode()[1], now=timezone.now())
    row = BotTurn.objects.get(turn_id=body["turn"])
    assert row.status == "skipped" and "no longer active" in row.reason
    assert Turn.objects.get(pk=body["turn"]).status == "skipped"


def test_another_users_bot_cannot_be_forced_nor_its_turns_read(user, other_user, bot):
    client = client_for(other_user)
    assert client.post(f"/api/bots/{bot.pk}/force-turn/").status_code == 404
    assert client.get(f"/api/bots/{bot.pk}/turns/").status_code == 404
    assert not Turn.objects.exists()


def test_a_deleted_bot_takes_no_forced_turn(user, bot):
    client = client_for(user)
    client.delete(f"/api/bots/{bot.pk}/")
    response = client.post(f"/api/bots/{bot.pk}/force-turn/")
    assert response.status_code == 409 and not Turn.objects.exists()
