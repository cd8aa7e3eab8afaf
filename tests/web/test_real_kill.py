"""The kill switch in the browser: the admins' panel (dashboard, /manage/kill-switch/), the
engage and release posts through ``arena.real`` (password re-entered, admins only, CSRF),
and the banner everyone signed in sees while it is engaged (and on a real bot's page)."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from arena.models import ArenaSettings
from bots.models import Bot
from bots.services import bot_create
from ledger.models import Change
from trading.models import Market
from trading.services import position_open

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
ADMIN_PASSWORD = "root-pass-123"  # tests/conftest.py's admin_user
BANNER = re.compile(r"Kill switch engaged</strong> at <time[^>]*>[^<]+ UTC</time> by ([^:<]+): "
                    r"no real bot trades")


def signed_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def real_bot(user, provider, settings):
    settings.REAL_TRADING_ENABLED = True
    bot = bot_create(owner=user, name="Live", prompt="p", provider=provider)
    Bot.objects.filter(pk=bot.pk).update(mode=Bot.Mode.REAL)
    bot.refresh_from_db()
    return bot


def engaged_at():
    return ArenaSettings.load().kill_switch_at


def engage(client: Client, password: str = ADMIN_PASSWORD, **extra):
    return client.post("/manage/kill-switch/engage/", {"password": password, "next": "/", **extra})


def test_an_admin_sees_the_panel_on_the_dashboard_and_a_user_does_not(admin_user, user):
    html = signed_in(admin_user).get("/").content.decode()
    panel = re.search(r'<section class="card kill-panel" id="kill-switch".*?</section>', html, flags=re.S)[0]
    assert "Not engaged" in panel and 'type="password"' in panel and 'name="close_positions"' in panel
    assert 'class="btn danger kill-button"' in panel and "csrfmiddlewaretoken" in panel
    assert '<label for="id_password">' in panel and '<label for="id_close_positions">' in panel
    assert 'id="kill-switch"' not in signed_in(user).get("/").content.decode()


def test_engaging_pauses_the_real_bots_and_shows_the_banner(admin_user, user, real_bot, bot):
    admin_user.display_name = "Root <b>Admin</b>"
    admin_user.save()
    response = engage(signed_in(admin_user))
    assert response.status_code == 302 and response.url == "/"
    assert engaged_at() is not None and ArenaSettings.load().kill_switch_by == admin_user
    real_bot.refresh_from_db()
    bot.refresh_from_db()
    assert real_bot.is_paused and not bot.is_paused, "only real bots are paused"
    assert Change.objects.filter(action="kill_switch_engaged", interface="web", actor=admin_user).exists()

    dashboard = signed_in(user).get("/").content.decode()
    found = BANNER.search(dashboard)
    assert found and found.group(1) == "Root &lt;b&gt;Admin&lt;/b&gt;", "the admin's name, escaped"
    assert BANNER.search(signed_in(user).get(f"/bots/{bot.pk}/").content.decode()), "every signed-in page"
    panel = signed_in(admin_user).get("/manage/kill-switch/").content.decode()
    assert "Release the kill switch" in panel and "Engage the kill switch" not in panel


def test_a_spectator_sees_the_banner_on_a_real_bots_page_only(admin_user, real_bot, bot):
    ArenaSettings.load()
    ArenaSettings.objects.update(public_arena=True)
    engage(signed_in(admin_user))
    anonymous = Client()
    assert BANNER.search(anonymous.get(f"/bots/{real_bot.pk}/").content.decode())
    assert not BANNER.search(anonymous.get(f"/bots/{bot.pk}/").content.decode())
    assert not BANNER.search(anonymous.get("/").content.decode())


def test_closing_every_real_position_is_passed_on_and_reported(admin_user, real_bot):
    Market.objects.create(symbol="BTCUSDT", last_price=Decimal("60000"), mark_price=Decimal("60000"))
    Bot.objects.filter(pk=real_bot.pk).update(mode=Bot.Mode.PAPER)  # opened on paper, held as real
    real_bot.refresh_from_db()
    opened = position_open(bot=real_bot, symbol="BTCUSDT", side="LONG", margin=Decimal("100"), leverage=2,
                           now=timezone.now())
    assert opened.position is not None
    Bot.objects.filter(pk=real_bot.pk).update(mode=Bot.Mode.REAL)
    response = signed_in(admin_user).post("/manage/kill-switch/engage/",
                                          {"password": ADMIN_PASSWORD, "close_positions": "on"}, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html, "htmx gets the panel alone"
    assert "Kill switch engaged: 1 real bot paused" in html
    assert f"Closing positions — bot {real_bot.pk}:" in html, "its close was tried, and noted"


def test_a_wrong_password_is_the_form_again_and_changes_nothing(admin_user, real_bot):
    response = engage(signed_in(admin_user), password="not-it")
    html = response.content.decode()
    assert response.status_code == 400 and "The password is not right." in html
    assert 'aria-invalid="true"' in html and "Engage the kill switch" in html
    assert engaged_at() is None
    real_bot.refresh_from_db()
    assert not real_bot.is_paused
    htmx = signed_in(admin_user).post("/manage/kill-switch/engage/", {"password": "nope"}, **HX)
    assert htmx.status_code == 200 and "The password is not right." in htmx.content.decode()
    assert engaged_at() is None


def test_a_user_who_is_not_an_admin_gets_a_403(user, real_bot):
    assert engage(signed_in(user), password="alice-pass-123").status_code == 403
    assert signed_in(user).get("/manage/kill-switch/").status_code == 403
    assert engaged_at() is None
    response = Client().post("/manage/kill-switch/engage/", {"password": "x"})
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_a_post_without_the_csrf_token_is_refused(admin_user, real_bot):
    client = signed_in(admin_user, enforce_csrf_checks=True)
    assert engage(client).status_code == 403
    assert engaged_at() is None


def test_releasing_needs_the_password_and_leaves_the_bots_paused(admin_user, user, real_bot):
    admin = signed_in(admin_user)
    engage(admin)
    wrong = admin.post("/manage/kill-switch/release/", {"password": "nope", "next": "/manage/kill-switch/"})
    assert wrong.status_code == 400 and "The password is not right." in wrong.content.decode()
    assert engaged_at() is not None
    done = admin.post("/manage/kill-switch/release/",
                      {"password": ADMIN_PASSWORD, "next": "/manage/kill-switch/"})
    assert done.status_code == 302 and done.url == "/manage/kill-switch/"
    assert engaged_at() is None
    real_bot.refresh_from_db()
    assert real_bot.is_paused, "owners resume their bots themselves"
    assert not BANNER.search(signed_in(user).get("/").content.decode())
    assert Change.objects.filter(action="kill_switch_released", interface="web").exists()


def test_releasing_a_switch_that_is_not_engaged_says_so(admin_user):
    response = signed_in(admin_user).post("/manage/kill-switch/release/", {"password": ADMIN_PASSWORD}, **HX)
    assert response.status_code == 200 and "The kill switch is not engaged." in response.content.decode()


def test_the_banner_fragment_follows_the_switch(admin_user, user):
    ArenaSettings.load()
    ArenaSettings.objects.update(public_arena=False)
    client = signed_in(user)
    before = client.get("/kill-switch/banner/", **HX).content.decode()
    assert 'id="kill-banner"' in before and 'hx-trigger="arena:kill_switch from:body"' in before
    assert not BANNER.search(before)
    engage(signed_in(admin_user))
    assert BANNER.search(client.get("/kill-switch/banner/", **HX).content.decode())
    assert Client().get("/kill-switch/banner/").status_code == 403, "a private arena's banner needs a sign-in"


def test_an_open_redirect_is_not_followed(admin_user):
    response = engage(signed_in(admin_user), next="https://evil.example/")
    assert response.status_code == 302 and response.url == "/"
