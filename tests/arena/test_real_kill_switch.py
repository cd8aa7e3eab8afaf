"""The kill switch (``arena.real``): admins only, password again, every real bot paused,
positions optionally closed bot by bot, on the audit trail and the public stream; and its
admin pages."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from arena.models import ArenaSettings
from arena.real import kill_switch_engage, kill_switch_release, kill_switch_state
from bots.models import Bot
from bots.services import bot_create, bot_resume
from ledger.models import Change, Event
from trading.models import Position, Wallet
from trading.services import wallet_attach, wallet_create

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ROOT_PASSWORD = "root-pass-123"  # the ``admin_user`` fixture's


@pytest.fixture(autouse=True)
def _real_trading_on(settings):
    settings.REAL_TRADING_ENABLED = True


def _real(owner, provider, name: str, *, position: bool = False) -> Bot:
    bot = bot_create(owner=owner, name=name, prompt="p", provider=provider, mode="real")
    wallet = wallet_create(owner=owner, exchange="binance", api_key=f"k-{name}", api_secret="s", label=name)
    wallet_attach(wallet=wallet, bot=bot)
    if position:
        Position.objects.create(bot=bot, symbol="BTCUSDT", side="LONG", margin=Decimal("100"), leverage=5,
                                quantity=Decimal("0.01"), entry_price=Decimal("50000"))
    return bot


def _paused() -> set[str]:
    return set(Bot.objects.filter(is_paused=True).values_list("name", flat=True))


def test_engaging_pauses_every_active_real_bot_only(admin_user, user, provider, bot):
    first, second = _real(user, provider, "One"), _real(user, provider, "Two")
    gone = _real(user, provider, "Gone")
    Bot.objects.filter(pk=gone.pk).update(is_active=False)

    report = kill_switch_engage(actor=admin_user, password=ROOT_PASSWORD, close_positions=False,
                                interface="admin", now=NOW)

    assert report.paused == [first.pk, second.pk] and report.closed == {}
    assert _paused() == {"One", "Two"}  # the paper bot and the deleted one are untouched
    assert kill_switch_state() == (NOW, admin_user.public_name)
    engaged = Change.objects.get(action="kill_switch_engaged")
    assert (engaged.actor, engaged.interface) == (admin_user, "admin")
    assert engaged.object_type == "arena.ArenaSettings"
    assert engaged.changes["kill_switch_at"] == [None, NOW.isoformat()]
    paused = Change.objects.filter(action="paused", object_type="bots.Bot")
    assert {(c.object_id, c.actor_id, c.interface) for c in paused} == {
        (str(first.pk), admin_user.pk, "admin"), (str(second.pk), admin_user.pk, "admin")}
    event = Event.objects.get(type="kill_switch")
    assert event.user is None and event.data == {"engaged": True, "at": NOW.isoformat(),
                                                 "by": admin_user.public_name}


def test_a_wrong_password_or_a_non_admin_changes_nothing(admin_user, user, provider):
    _real(user, provider, "One")
    with pytest.raises(ValidationError) as wrong:
        kill_switch_engage(actor=admin_user, password="guess", close_positions=True, interface="api", now=NOW)
    assert wrong.value.message_dict == {"password": ["The password is not right."]}
    with pytest.raises(PermissionDenied):
        kill_switch_engage(actor=user, password="alice-pass-123", close_positions=True, interface="api",
                           now=NOW)
    assert kill_switch_state() == (None, "") and _paused() == set()
    assert not Change.objects.filter(action__startswith="kill_switch").exists()
    assert not Event.objects.filter(type="kill_switch").exists()


def test_closing_goes_bot_by_bot_and_one_failure_does_not_stop_the_others(admin_user, user, provider):
    first = _real(user, provider, "One", position=True)
    second = _real(user, provider, "Two", position=True)
    idle = _real(user, provider, "Idle")

    report = kill_switch_engage(actor=admin_user, password=ROOT_PASSWORD, close_positions=True,
                                interface="api", now=NOW)

    assert set(report.closed) == {first.pk, second.pk}  # a bot without positions has nothing to close
    for bot_id in (first.pk, second.pk):
        [note] = report.closed[bot_id]
        # Unverified wallets: the exchange is never called, and the reason is each bot's note.
        assert "were not closed" in note and "Verify wallet" in note
    assert report.paused == [first.pk, second.pk, idle.pk]


def test_release_clears_the_switch_but_the_bots_stay_paused(admin_user, user, provider):
    bot = _real(user, provider, "One")
    kill_switch_engage(actor=admin_user, password=ROOT_PASSWORD, close_positions=False, interface="api",
                       now=NOW)
    with pytest.raises(ValidationError):
        kill_switch_release(actor=admin_user, password="guess", interface="api", now=NOW)
    assert kill_switch_state()[0] == NOW

    kill_switch_release(actor=admin_user, password=ROOT_PASSWORD, interface="api", now=NOW)

    assert kill_switch_state() == (None, "")
    bot.refresh_from_db()
    assert bot.is_paused
    released = Change.objects.get(action="kill_switch_released")
    assert released.changes["kill_switch_by"] == [admin_user.pk, None]
    assert Event.objects.filter(type="kill_switch").order_by("seq").last().data["engaged"] is False
    bot_resume(bot=bot)  # the owner's call, one bot at a time
    bot.refresh_from_db()
    assert not bot.is_paused
    with pytest.raises(ValidationError) as twice:
        kill_switch_release(actor=admin_user, password=ROOT_PASSWORD, interface="api", now=NOW)
    assert "kill_switch" in twice.value.message_dict


# --- the admin pages -------------------------------------------------------------------------------

@pytest.fixture
def su(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_admin_page_asks_for_the_password_then_engages(su, admin_user, user, provider):
    bot = _real(user, provider, "One", position=True)
    url = reverse("admin:arena_kill_switch")
    page = su.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="password"' in html and 'name="close_positions"' in html and "csrfmiddlewaretoken" in html

    wrong = su.post(url, {"password": "guess", "close_positions": "on"})
    assert wrong.status_code == 200 and "The password is not right." in wrong.content.decode()
    assert ArenaSettings.load().kill_switch_at is None

    done = su.post(url, {"password": ROOT_PASSWORD, "close_positions": "on"}, follow=True)
    assert done.status_code == 200
    assert "Kill switch engaged: 1 real bot(s) paused." in done.content.decode()
    bot.refresh_from_db()
    assert bot.is_paused and ArenaSettings.load().kill_switch_by == admin_user
    assert Change.objects.get(action="kill_switch_engaged").interface == "admin"
    settings_page = su.get(reverse("admin:arena_arenasettings_change", args=[1])).content.decode()
    assert f"by {admin_user.public_name}: no real bot trades" in settings_page
    assert reverse("admin:arena_kill_switch_release") in settings_page

    release = reverse("admin:arena_kill_switch_release")
    assert su.get(release).status_code == 200
    su.post(release, {"password": ROOT_PASSWORD})
    assert ArenaSettings.load().kill_switch_at is None


def test_the_admin_pages_need_an_arena_admin_and_csrf(client, django_user_model, admin_user):
    staff = django_user_model.objects.create_user(username="mod", password="mod-pass-123", is_staff=True,
                                                  role="moderator")
    client.force_login(staff)
    assert client.get(reverse("admin:arena_kill_switch")).status_code == 403
    assert client.post(reverse("admin:arena_kill_switch"), {"password": "mod-pass-123"}).status_code == 403
    assert ArenaSettings.load().kill_switch_at is None

    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(reverse("admin:arena_kill_switch"), {"password": ROOT_PASSWORD}).status_code == 403
    assert ArenaSettings.load().kill_switch_at is None
    assert not Wallet.objects.exists()
