"""A private arena (``ArenaSettings.public_arena`` off) shows nothing to anonymous visitors:
the routes spectators read answer 401 and their socket is refused; signed-in users see all."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from arena.models import ArenaSettings
from tests.arena.test_health_and_socket import run, session_cookie, socket

SPECTATOR_ROUTES = ["/api/public/bots/", "/api/leaderboard/", "/api/markets/"]


def private_arena() -> None:
    settings = ArenaSettings.load()
    settings.public_arena = False
    settings.save()


@pytest.mark.django_db
@pytest.mark.parametrize("route", SPECTATOR_ROUTES)
def test_spectator_routes_are_open_while_the_arena_is_public(route):
    assert APIClient().get(route).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("route", SPECTATOR_ROUTES)
def test_a_private_arena_asks_anonymous_callers_to_sign_in(route):
    private_arena()

    response = APIClient().get(route)

    assert response.status_code == 401
    assert "private" in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("route", SPECTATOR_ROUTES)
def test_a_private_arena_still_answers_its_users(route, user):
    private_arena()
    client = APIClient()
    client.force_authenticate(user)

    assert client.get(route).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_private_arena_refuses_anonymous_sockets_and_accepts_users(user):
    private_arena()
    cookie = session_cookie(user)

    async def scenario() -> None:
        stranger = socket()
        connected, _ = await stranger.connect()
        assert not connected
        member = socket(cookie)
        connected, _ = await member.connect()
        assert connected
        hello = await member.receive_json_from()
        assert hello == {"type": "hello", "authenticated": True}
        await member.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_public_arena_lets_anonymous_sockets_watch():
    async def scenario() -> None:
        spectator = socket()
        connected, _ = await spectator.connect()
        assert connected
        assert await spectator.receive_json_from() == {"type": "hello", "authenticated": False}
        await spectator.disconnect()

    run(scenario)
