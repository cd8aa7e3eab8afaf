"""What every page shares: where its socket resumes, whether it opens one, the menu."""
from __future__ import annotations

import re

import pytest

from arena.models import ArenaSettings
from ledger.events import event_append
from ledger.models import Event


def body_of(response) -> str:
    return re.search(r"<body[^>]*>", response.content.decode()).group(0)


@pytest.mark.django_db
def test_a_page_resumes_its_socket_after_the_newest_event(client, bot):
    event_append("bot_paused", {"bot": bot.pk, "name": bot.name, "mode": bot.mode,
                                "is_paused": True, "is_active": True}, owner_id=bot.owner_id, bot_id=bot.pk)
    newest = Event.objects.order_by("-seq").values_list("seq", flat=True)[0]

    assert f'data-seq="{newest}"' in body_of(client.get("/login/"))


@pytest.mark.django_db
def test_a_private_arena_opens_no_socket_for_anonymous_visitors_but_does_for_users(client, user):
    assert 'data-stream="on"' in body_of(client.get("/login/"))
    settings = ArenaSettings.load()
    settings.public_arena = False
    settings.save()

    anonymous = client.get("/login/")
    assert 'data-stream="off"' in body_of(anonymous) and b'id="live-status"' not in anonymous.content
    client.force_login(user)
    assert 'data-stream="on"' in body_of(client.get("/account/"))


@pytest.mark.django_db
def test_the_menu_shows_what_this_visitor_may_open(client, user, admin_user):
    anonymous = client.get("/login/").content.decode()
    assert 'href="/leaderboard/"' in anonymous and 'href="/bots/"' not in anonymous
    client.force_login(user)
    signed_in = client.get("/account/").content.decode()
    assert 'href="/bots/"' in signed_in and 'href="/manage/"' not in signed_in
    assert 'href="/account/" aria-current="page"' in signed_in
    client.force_login(admin_user)
    assert 'href="/manage/"' in client.get("/account/").content.decode()
