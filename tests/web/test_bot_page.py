"""/bots/<id>/: the owner sees everything and closes positions; another user or a spectator
sees a listed bot's public page only (no reasoning or prompt unless published); another
user's unlisted bot is a 404; user text comes out escaped; fragments answer htmx alone."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from arena.models import ArenaSettings
from arena.web.bot_page.data import DECISIONS_PER_PAGE, ORDERS_PER_PAGE
from bots.models import Decision, LearningSummary
from bots.services import bot_create, provider_create
from trading.models import Candle, Market, Position, Trade
from trading.services import position_open

pytestmark = pytest.mark.django_db
D = Decimal
HTMX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def market(db):
    return Market.objects.create(symbol="BTCUSDT", base_asset="BTC", last_price=D("60000"),
                                 mark_price=D("60000"), updated_at=timezone.now())


@pytest.fixture
def theirs(other_user):
    provider = provider_create(owner=other_user, name="Theirs", kind="scripted", model="momentum")
    return bot_create(owner=other_user, name="Rival", prompt="Their secret prompt", provider=provider)


def client_of(user=None, **kwargs) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def opened(bot, symbol="BTCUSDT", side="LONG") -> Position:
    result = position_open(bot=bot, symbol=symbol, side=side, margin=D("100"), leverage=5,
                           stop_loss=D("55000"), take_profit=D("70000"), now=timezone.now())
    assert result.position is not None, result.notes
    return result.position


def decision(bot, *, reasoning="Momentum is up", prompt="PROMPT SENT", **fields) -> Decision:
    actions = [{"action": "LONG", "symbol": "BTCUSDT", "leverage": 5, "margin": "100",
                "reasoning": reasoning}]
    return Decision.objects.create(bot=bot, actions=actions, success=True, prompt=prompt,
                                   created_at=timezone.now(), **fields)


def private_arena() -> None:
    settings = ArenaSettings.load()
    settings.public_arena = False
    settings.save()


def test_the_owner_sees_every_part_with_the_real_data(user, bot, market):
    position = opened(bot)
    made = decision(bot, reasoning="Breakout above 60k")
    LearningSummary.objects.create(bot=bot, summary="Cut losers early.", covers_from=made.created_at,
                                   covers_to=made.created_at, decisions_count=1, token_count=10)
    response = client_of(user).get(f"/bots/{bot.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<tr data-position="{position.pk}"' in html and 'id="positions"' in html
    assert 'data-action="close"' in html and f"/bots/{bot.pk}/positions/{position.pk}/close/" in html
    assert "55000" in html and "70000" in html  # SL and TP
    assert 'id="orders"' in html and f'data-trade="{position.trades.get().pk}"' in html
    assert f'data-decision="{made.pk}"' in html and "LONG BTCUSDT 5x" in html and "Breakout above 60k" in html
    assert "PROMPT SENT" in html  # the prompt sent, the owner's
    assert 'id="learning"' in html and "Cut losers early." in html and "1 summary in all" in html
    assert 'id="bot-prompt"' in html and "Trade {{marketData}}" in html
    for action in ("pause", "force-turn", "summarize", "clear-learning", "reset"):
        assert f'data-action="{action}"' in html
    assert f'action="/bots/{bot.pk}/pause/?next=/bots/{bot.pk}/"' in html.replace("%2F", "/")
    assert f'href="/bots/{bot.pk}/edit/"' in html
    assert 'class="badge paper"' in html and "PAPER" in html


def test_user_text_is_escaped(user, bot, market):
    bot.prompt = f"Be bold {SCRIPT}"
    bot.save(update_fields=["prompt"])
    decision(bot, reasoning=f"why {SCRIPT}", prompt=f"sent {SCRIPT}", error="", notes=[f"note {SCRIPT}"])
    html = client_of(user).get(f"/bots/{bot.pk}/").content.decode()
    assert SCRIPT not in html
    assert "Be bold &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "why &lt;script&gt;" in html and "note &lt;script&gt;" in html and "sent &lt;script&gt;" in html


def test_a_visitor_of_a_listed_bot_sees_no_reasoning_or_prompt_unless_published(other_user, bot, market):
    opened(bot)
    made = decision(bot, reasoning="SECRET REASONING")
    html = client_of(other_user).get(f"/bots/{bot.pk}/").content.decode()
    assert "Momo" in html and 'id="positions"' in html  # the public part
    assert "SECRET REASONING" not in html and f'data-decision="{made.pk}"' not in html
    assert "Trade {{marketData}}" not in html and "PROMPT SENT" not in html
    assert 'data-action="close"' not in html and 'data-action="pause"' not in html
    assert client_of(other_user).get(f"/bots/{bot.pk}/ai-log/", **HTMX).content.decode().count("SECRET") == 0

    bot.reasoning_public = True
    bot.save(update_fields=["reasoning_public"])
    html = client_of(other_user).get(f"/bots/{bot.pk}/").content.decode()
    assert "SECRET REASONING" in html and "Trade {{marketData}}" in html
    assert "PROMPT SENT" not in html  # the prompt sent stays the owner's, as in the public API
    assert 'data-action="close"' not in html


def test_an_unlisted_bot_of_another_user_is_a_404(user, theirs):
    assert client_of(user).get(f"/bots/{theirs.pk}/").status_code == 200  # listed: its public page
    theirs.is_listed = False
    theirs.save(update_fields=["is_listed"])
    for path in ("", "positions/", "orders/", "ai-log/", "header/", "chart.json"):
        assert client_of(user).get(f"/bots/{theirs.pk}/{path}", **HTMX).status_code == 404, path
    assert client_of().get(f"/bots/{theirs.pk}/").status_code == 404
    assert client_of(user).get("/bots/999999/").status_code == 404


def test_an_admin_sees_any_bot_as_its_owner_does(admin_user, theirs):
    theirs.is_listed = False
    theirs.save(update_fields=["is_listed"])
    html = client_of(admin_user).get(f"/bots/{theirs.pk}/").content.decode()
    assert "Their secret prompt" in html and 'data-action="pause"' in html


def test_spectators_watch_a_public_arena_and_are_sent_to_login_otherwise(bot):
    assert client_of().get(f"/bots/{bot.pk}/").status_code == 200
    private_arena()
    response = client_of().get(f"/bots/{bot.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_close_works_for_the_owner_and_re_renders_the_table(user, bot, market):
    position = opened(bot)
    response = client_of(user).post(f"/bots/{bot.pk}/positions/{position.pk}/close/", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="positions-card"')  # the fragment alone
    assert "Closed LONG BTCUSDT" in html and f'data-position="{position.pk}"' not in html
    position.refresh_from_db()
    assert position.status == Position.Status.CLOSED and position.close_reason == "manual"
    assert Trade.objects.filter(position=position, kind="CLOSE").count() == 1


def test_closing_an_already_closed_position_is_refused_with_a_message(user, bot, market):
    position = opened(bot)
    client = client_of(user)
    client.post(f"/bots/{bot.pk}/positions/{position.pk}/close/", **HTMX)
    again = client.post(f"/bots/{bot.pk}/positions/{position.pk}/close/", **HTMX)
    assert again.status_code == 200 and "LONG BTCUSDT is already closed." in again.content.decode()
    assert 'class="alert error"' in again.content.decode()
    plain = client.post(f"/bots/{bot.pk}/positions/{position.pk}/close/")
    assert plain.status_code == 302 and plain["Location"].startswith(f"/bots/{bot.pk}/")
    page = client.get(plain["Location"]).content.decode()
    assert "already closed" in page
    assert Trade.objects.filter(position=position, kind="CLOSE").count() == 1


def test_close_is_a_404_for_anyone_but_the_owner(user, other_user, bot, theirs, market):
    mine, foreign = opened(bot), opened(theirs, side="SHORT")
    assert client_of(other_user).post(f"/bots/{bot.pk}/positions/{mine.pk}/close/").status_code == 404
    assert client_of(user).post(f"/bots/{bot.pk}/positions/{foreign.pk}/close/").status_code == 404
    assert client_of(user).post(f"/bots/{theirs.pk}/positions/{foreign.pk}/close/").status_code == 404
    anonymous = client_of().post(f"/bots/{bot.pk}/positions/{mine.pk}/close/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert client_of(user).get(f"/bots/{bot.pk}/positions/{mine.pk}/close/").status_code == 405
    assert Position.objects.filter(status="open").count() == 2


def test_close_without_csrf_is_refused(user, bot, market):
    position = opened(bot)
    client = client_of(user, enforce_csrf_checks=True)
    assert client.post(f"/bots/{bot.pk}/positions/{position.pk}/close/").status_code == 403
    position.refresh_from_db()
    assert position.status == Position.Status.OPEN


def test_htmx_gets_only_the_fragment_and_a_plain_get_goes_to_the_page(user, bot, market):
    opened(bot)
    client = client_of(user)
    for path, root in (("positions/", 'id="positions-card"'), ("orders/", 'id="orders"'),
                       ("ai-log/", 'id="ai-log"'), ("header/", 'id="bot-header"')):
        html = client.get(f"/bots/{bot.pk}/{path}", **HTMX).content.decode()
        assert root in html.split(">", 1)[0] and "<html" not in html, path
        plain = client.get(f"/bots/{bot.pk}/{path}")
        assert plain.status_code == 302 and plain["Location"].startswith(f"/bots/{bot.pk}/"), path
    page = client.get(f"/bots/{bot.pk}/", **HTMX)  # the page itself has no fragment: whole
    assert "<html" in page.content.decode()


def trades_made(bot, count: int) -> list[Trade]:
    now = timezone.now()
    return [Trade.objects.create(bot=bot, kind="OPEN", side="LONG", symbol="BTCUSDT", price=D("60000"),
                                 quantity=D("0.01"), fee=D("0.3"), executed_at=now - timedelta(minutes=i))
            for i in range(count)]


def test_orders_are_paged_newest_first_with_an_older_pager(user, bot):
    made = trades_made(bot, ORDERS_PER_PAGE + 3)
    ids = sorted((t.pk for t in made), reverse=True)
    client = client_of(user)
    first = client.get(f"/bots/{bot.pk}/orders/", **HTMX).content.decode()
    assert first.count("data-trade=") == ORDERS_PER_PAGE
    assert f'data-trade="{ids[0]}"' in first and f'data-trade="{ids[ORDERS_PER_PAGE]}"' not in first
    older = ids[ORDERS_PER_PAGE - 1]
    assert f"/bots/{bot.pk}/orders/?before={older}" in first and "botpage:position_opened" in first
    second = client.get(f"/bots/{bot.pk}/orders/?before={older}", **HTMX).content.decode()
    assert [f'data-trade="{i}"' in second for i in ids[ORDERS_PER_PAGE:]] == [True] * 3
    assert second.count("data-trade=") == 3 and "?before=" not in second
    assert "botpage:position_opened" not in second  # an older page does not jump back on events
    whole = client.get(f"/bots/{bot.pk}/?orders_before={older}").content.decode()
    assert whole.count("data-trade=") == 3


def test_the_ai_log_is_paged_newest_first(user, bot):
    made = [decision(bot, reasoning=f"reason {i}") for i in range(DECISIONS_PER_PAGE + 2)]
    client = client_of(user)
    first = client.get(f"/bots/{bot.pk}/ai-log/", **HTMX).content.decode()
    assert first.count("data-decision=") == DECISIONS_PER_PAGE
    assert first.index(f'data-decision="{made[-1].pk}"') < first.index(f'data-decision="{made[-2].pk}"')
    older = made[2].pk
    assert f"/bots/{bot.pk}/ai-log/?before={older}" in first and "botpage:decision_recorded" in first
    second = client.get(f"/bots/{bot.pk}/ai-log/?before={older}", **HTMX).content.decode()
    assert second.count("data-decision=") == 2 and f'data-decision="{made[0].pk}"' in second
    assert "Newest" in second and "?before=" not in second


def test_visible_states_paused_failing_and_real_trading_off(user, bot, settings):
    settings.REAL_TRADING_ENABLED = False
    bot.is_paused = True
    bot.mode = "real"
    bot.save(update_fields=["is_paused", "mode"])
    Decision.objects.create(bot=bot, success=False, error=f"provider timed out {SCRIPT}")
    html = client_of(user).get(f"/bots/{bot.pk}/").content.decode()
    assert 'class="badge paused"' in html and 'data-action="resume"' in html
    assert 'data-action="pause"' not in html
    assert 'class="badge live"' in html and "real trading is off on this server" in html
    assert "The last decision failed" in html and "provider timed out &lt;script&gt;" in html
    assert 'data-action="reset"' not in html  # a real bot is never reset


def test_the_chart_has_candles_markers_and_the_open_positions_lines(user, other_user, bot, market):
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    for i in range(4):
        Candle.objects.create(symbol="BTCUSDT", interval="1h", open_time=start + timedelta(hours=i),
                              open=D("60000"), high=D("60500"), low=D("59500"), close=D("60000"),
                              volume=D("1"))
    position = opened(bot)
    data = client_of(user).get(f"/bots/{bot.pk}/chart.json").json()
    assert data["symbol"] == "BTCUSDT" and data["symbols"] == ["BTCUSDT"] and len(data["candles"]) == 4
    assert [m["shape"] for m in data["markers"]] == ["arrowUp"]
    titles = {line["title"]: line["price"] for line in data["lines"]}
    assert titles["SL"] == 55000 and titles["TP"] == 70000
    assert titles["Liq."] == pytest.approx(float(position.liquidation_price))
    assert client_of(other_user).get(f"/bots/{bot.pk}/chart.json").status_code == 200  # listed: public
    assert client_of(user).get(f"/bots/{bot.pk}/chart.json?symbol=DOGEUSDT").status_code == 404


def test_the_pages_action_forms_post_to_the_bot_actions_and_come_back(user, bot):
    client = client_of(user)
    html = client.get(f"/bots/{bot.pk}/").content.decode()
    action = f"/bots/{bot.pk}/pause/?next=/bots/{bot.pk}/"
    assert f'action="{action}"' in html
    response = client.post(action)
    assert response.status_code == 302 and response["Location"] == f"/bots/{bot.pk}/"
    bot.refresh_from_db()
    assert bot.is_paused
    assert 'data-action="resume"' in client.get(response["Location"]).content.decode()
