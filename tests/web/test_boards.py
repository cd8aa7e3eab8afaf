"""The boards' pages: the leaderboard (public when the arena welcomes spectators), a user's
analytics, one bot's deep dive and the comparison — each showing what the analytics API
answers, escaped, scoped to the user, and with a message (not a 500) for a bad query."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
import time_machine
from django.test import Client

from arena.models import ArenaSettings
from bots.services import bot_create, bot_reset, provider_create
from trading.models import Market
from trading.services import position_close, position_open, positions_mark
from trading.services.snapshots import snapshots_take

D = Decimal
NOW = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)
TODAY = datetime(2026, 5, 20, tzinfo=UTC)


def price_set(symbol: str, price: str, at: datetime) -> None:
    Market.objects.filter(symbol=symbol).update(last_price=D(price), mark_price=D(price))
    positions_mark(prices={symbol: D(price)}, now=at)


@pytest.fixture
def arena(db, user, other_user, provider):
    """Over two days: alice's "Up" wins on BTC today; bob's "Down" loses yesterday; alice's
    "Idle" only takes snapshots; alice's "Hidden" is unlisted."""
    user.display_name = "Alice T."
    user.save()
    Market.objects.create(symbol="BTCUSDT", last_price=D("60000"), mark_price=D("60000"))
    bob_provider = provider_create(owner=other_user, name="s", kind="scripted", model="contrarian")
    start = NOW - timedelta(days=1, hours=6)  # yesterday 09:00
    bots = {
        "Up": bot_create(owner=user, name="Up", prompt="p", provider=provider, created_at=start),
        "Down": bot_create(owner=other_user, name="Down", prompt="p", provider=bob_provider,
                           created_at=start),
        "Idle": bot_create(owner=user, name="Idle", prompt="p", provider=provider, created_at=start),
        "Hidden": bot_create(owner=user, name="Hidden", prompt="p", provider=provider, created_at=start),
    }
    bots["Hidden"].is_listed = False
    bots["Hidden"].save()
    ids = [b.pk for b in bots.values()]
    snapshots_take(now=start, bot_ids=ids)
    up = position_open(bot=bots["Up"], symbol="BTCUSDT", side="LONG", margin=D("1000"), leverage=5,
                       now=start + timedelta(minutes=1))
    down = position_open(bot=bots["Down"], symbol="BTCUSDT", side="SHORT", margin=D("1000"), leverage=5,
                         now=start + timedelta(minutes=1))
    price_set("BTCUSDT", "61200", start + timedelta(hours=2))
    position_close(position=down.position, reason="decision", now=start + timedelta(hours=2, minutes=30))
    snapshots_take(now=start + timedelta(hours=3), bot_ids=ids)
    price_set("BTCUSDT", "62400", TODAY + timedelta(hours=2))
    snapshots_take(now=TODAY + timedelta(hours=3), bot_ids=ids)
    position_close(position=up.position, reason="decision", now=TODAY + timedelta(hours=4))
    snapshots_take(now=TODAY + timedelta(hours=5), bot_ids=ids)
    return bots


def get(client: Client, url: str, **headers):
    with time_machine.travel(NOW, tick=False):
        return client.get(url, **headers)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def board_rows(html: str) -> dict[str, str]:
    """Each leaderboard row's bot name → the row's HTML."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r'<tr data-bot="\d+">(.*?)</tr>', body, flags=re.S)
    return {re.search(r'<a href="/bots/\d+/">([^<]*)</a>', r).group(1): r for r in rows}


def cells_of(row_html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r'<td class="num[^"]*"[^>]*>(.*?)</td>', row_html, flags=re.S)]


# --- the leaderboard ---------------------------------------------------------------


def test_the_leaderboard_ranks_the_listed_bots_with_their_figures(arena):
    response = get(signed_in(arena["Up"].owner), "/leaderboard/")
    assert response.status_code == 200
    html = text(response)
    rows = board_rows(html)
    assert list(rows) == ["Up", "Idle", "Down"]  # by return, the unlisted bot left out
    assert "Alice T." in rows["Up"] and f"Trader {arena['Down'].owner_id}" in rows["Down"]
    up = cells_of(rows["Up"])
    assert up[0] == "1" and up[1].startswith("+") and up[5] == "100.00 %"  # rank, return, win rate
    assert "BTC buy-and-hold" in html and "Equal-weight hold" in html and 'class="benchmark"' in html
    assert 'class="summary"' in html and "All 3 bots of 2 traders" in html


def test_a_null_figure_shows_a_dash_with_the_reason(arena):
    html = text(get(Client(), "/leaderboard/"))
    idle = board_rows(html)["Idle"]
    assert 'title="no trades"' in idle and '<span class="sr-only">No value: no trades</span>' in idle


def test_period_tabs_change_the_rows(arena):
    client = Client()
    whole = board_rows(text(get(client, "/leaderboard/?period=all")))
    today_html = text(get(client, "/leaderboard/?period=day"))
    today = board_rows(today_html)
    trades = 6  # the column of trades among the numeric cells
    assert cells_of(whole["Down"])[trades] == "1"  # closed yesterday: in the run...
    assert cells_of(today["Down"])[trades] == "0"  # ...not today
    assert '<a href="?period=day" aria-current="page">Today</a>' in today_html


def test_a_custom_range_is_read_as_the_api_reads_it(arena):
    html = text(get(Client(), "/leaderboard/?from=2026-05-19&to=2026-05-19"))
    assert cells_of(board_rows(html)["Down"])[6] == "1" and cells_of(board_rows(html)["Up"])[6] == "0"
    assert 'value="2026-05-19"' in html and "May 19, 2026 – May 19, 2026" in html


def test_the_sort_links_sort(arena):
    html = text(get(Client(), "/leaderboard/?ordering=name"))
    assert list(board_rows(html)) == ["Down", "Idle", "Up"]
    assert 'aria-sort="ascending"' in html and 'href="?ordering=-name"' in html


@pytest.mark.parametrize(("query", "message"), [
    ("?period=bogus", "period: &quot;bogus&quot; is not a valid choice."),
    ("?from=2026-05-19&to=2026-05-01", "The range starts (2026-05-19) after it ends (2026-05-01)."),
    ("?period=week&from=2026-05-01", "Give either period=week or a from/to range, not both."),
    ("?from=yesterday", "from: Date has wrong format."),
    ("?ordering=--pnl", "ordering: &quot;--pnl&quot; is not a valid choice."),
])
def test_a_bad_query_is_a_message_on_the_page(arena, query, message):
    response = get(Client(), "/leaderboard/" + query)
    assert response.status_code == 400
    html = text(response)
    assert message in html and 'class="alert error"' in html
    assert list(board_rows(html))  # the board is still there, with the defaults


def test_an_htmx_refresh_gets_the_board_only(arena):
    response = get(Client(), "/leaderboard/?period=day", HTTP_HX_REQUEST="true")
    html = text(response)
    assert html.lstrip().startswith('<section id="leaderboard-board"') and "<html" not in html
    assert 'hx-get="/leaderboard/?period=day"' in html
    assert "arena:snapshot_taken from:body delay:1s" in html and "arena:position_closed from:body" in html


def test_spectators_watch_only_when_the_arena_welcomes_them(arena):
    assert get(Client(), "/leaderboard/").status_code == 200
    settings = ArenaSettings.load()
    settings.public_arena = False
    settings.save()
    response = get(Client(), "/leaderboard/?period=day")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/leaderboard/%3Fperiod%3Dday"
    assert get(signed_in(arena["Up"].owner), "/leaderboard/").status_code == 200


def test_a_bot_name_is_escaped_everywhere(arena):
    bot = arena["Up"]
    bot.name = "<script>alert(1)</script>"
    bot.save()
    owner = signed_in(bot.owner)
    for url in ("/leaderboard/", "/analytics/", f"/analytics/bots/{bot.pk}/",
                f"/analytics/compare/?bots={bot.pk}"):
        html = text(get(owner, url))
        assert "<script>alert(1)</script>" not in html, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(get(owner, "/leaderboard/"))
    compare = text(get(owner, f"/analytics/compare/?bots={bot.pk}"))
    assert "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E" in compare  # inside the embedded JSON


# --- analytics ---------------------------------------------------------------------


def test_analytics_needs_a_sign_in(arena):
    for url in ("/analytics/", "/analytics/compare/", f"/analytics/bots/{arena['Up'].pk}/"):
        response = get(Client(), url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url


def test_analytics_shows_the_users_bots_only(arena):
    html = text(get(signed_in(arena["Up"].owner), "/analytics/?period=all"))
    table = html.split('id="performance-table"', 1)[1].split("</table>", 1)[0]
    names = re.findall(r'<a href="/analytics/bots/\d+/">([^<]*)</a>', table)
    assert names == ["Up", "Idle", "Hidden"]  # by id; bob's bot is not there, an unlisted one is
    assert "Down" not in html
    usage = html.split('id="llm-usage"', 1)[1].split("</table>", 1)[0]
    assert "No decisions in this period." in usage
    assert f'value="{arena["Up"].pk}"' in html and 'action="/analytics/compare/"' in html


def test_analytics_periods_change_the_figures(arena):
    owner = signed_in(arena["Up"].owner)
    week = text(get(owner, "/analytics/"))  # the default, as the API's
    assert '<a href="?period=week" aria-current="page">7 days</a>' in week
    best = week.split('id="best-heading"', 1)[1].split("</table>", 1)[0]
    assert "BTCUSDT" in best and "+" in best  # Up's winner
    response = get(owner, "/analytics/?period=bogus")
    assert response.status_code == 400 and "Unknown period &#x27;bogus&#x27;" in text(response)


def test_analytics_htmx_refresh_gets_the_table_only(arena):
    html = text(get(signed_in(arena["Up"].owner), "/analytics/?period=day", HTTP_HX_REQUEST="true"))
    assert html.lstrip().startswith('<section id="performance"') and "<html" not in html


# --- one bot in depth -------------------------------------------------------------


def test_the_deep_dive_shows_the_bots_figures(arena):
    bot = arena["Up"]
    owner = signed_in(bot.owner)
    response = get(owner, f"/analytics/bots/{bot.pk}/?range=30d")
    assert response.status_code == 200
    html = text(response)
    url = unescape(re.search(r'data-url="([^"]+)"', html).group(1))
    # 30 days back, but not before the run's first day
    assert url == (f"/api/analytics/bots/{bot.pk}/performance/"
                   "?from=2026-05-19T00%3A00%3A00Z&to=2026-05-20T15%3A00%3A00Z")
    chart = get(owner, url)  # the chart's JSON, read with the session as the page's script does
    assert chart.status_code == 200 and len(chart.json()["points"]) > 1
    risk = html.split('id="risk-metrics"', 1)[1].split("</table>", 1)[0]
    assert "Sharpe" in risk and "Max drawdown" in risk and risk.count("<tr>") == 16
    histogram = html.split('id="pnl-histogram"', 1)[1].split("</table>", 1)[0]
    assert re.search(r'<th scope="row">(?:100.00 to 500.00|500.00 to 1,000.00)</th><td><div class="hbar">'
                     r'<span class="track"><span class="bar pos" style="width: 100%"></span></span>'
                     r'<span class="count">1</span>', histogram)
    by_side = html.split('id="by-side"', 1)[1].split("</table>", 1)[0]
    assert "LONG" in by_side and "SHORT" in by_side
    assert "Current run" in html


def test_another_users_deep_dive_is_not_found(arena, admin_user):
    down = arena["Down"]
    assert get(signed_in(arena["Up"].owner), f"/analytics/bots/{down.pk}/").status_code == 404
    assert get(signed_in(admin_user), f"/analytics/bots/{down.pk}/").status_code == 200


@pytest.mark.parametrize(("query", "message"), [
    ("?range=1y", "range: Unknown range &#x27;1y&#x27;"),
    ("?run=2020-01-01T00:00:00Z", "run: This bot has no run starting at 2020-01-01T00:00:00+00:00"),
    ("?run=soon", "run: &#x27;soon&#x27; is not an ISO 8601 date or time"),
])
def test_a_bad_deep_dive_query_is_a_message(arena, query, message):
    response = get(signed_in(arena["Up"].owner), f"/analytics/bots/{arena['Up'].pk}/{query}")
    assert response.status_code == 400 and message in text(response)


def test_a_past_run_can_be_picked(arena):
    bot = arena["Up"]
    with time_machine.travel(NOW, tick=False):
        bot_reset(bot=bot, now=NOW - timedelta(minutes=30))
    owner = signed_in(bot.owner)
    html = text(get(owner, f"/analytics/bots/{bot.pk}/"))
    runs = html.split('id="runs"', 1)[1].split("</table>", 1)[0]
    links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', runs)
    assert [(current, label) for _, current, label in links] == [(" aria-current=\"page\"", "Current run"),
                                                                ("", "First run")]
    past = unescape(links[1][0])
    html = text(get(owner, past))
    assert "A past run:" in html and 'aria-current="page">First run' in html
    assert "run=1970-01-01T00%3A00%3A00Z" in unescape(re.search(r'data-url="([^"]+)"', html).group(1))


# --- comparison ------------------------------------------------------------------


def test_the_comparison_embeds_the_apis_answer(arena):
    up, idle = arena["Up"], arena["Idle"]
    owner = signed_in(up.owner)
    response = get(owner, f"/analytics/compare/?bots={idle.pk},{up.pk}")
    assert response.status_code == 200
    html = text(response)
    data = json.loads(re.search(r'<script id="compare-data" type="application/json">(.*?)</script>', html,
                                flags=re.S).group(1))
    api = get(owner, f"/api/analytics/comparison/?bots={idle.pk},{up.pk}&from={data['from']}&to={data['to']}")
    assert data == api.json()
    table = html.split('id="compare-table"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<a href="/analytics/bots/\d+/">([^<]*)</a>', table) == ["Idle", "Up"]
    assert 'data-unit="pct" aria-pressed="true"' in html and 'data-unit="usd"' in html


def test_the_compare_form_repeats_are_read_too(arena):
    up, idle = arena["Up"], arena["Idle"]
    html = text(get(signed_in(up.owner), f"/analytics/compare/?bots={up.pk}&bots={idle.pk}&range=24h"))
    table = html.split('id="compare-table"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<a href="/analytics/bots/\d+/">([^<]*)</a>', table) == ["Up", "Idle"]
    assert 'aria-current="page">24 h</a>' in html


def test_another_users_bot_cannot_be_compared(arena, admin_user):
    url = f"/analytics/compare/?bots={arena['Up'].pk},{arena['Down'].pk}"
    assert get(signed_in(arena["Up"].owner), url).status_code == 404  # as the API: not found
    assert get(signed_in(admin_user), url).status_code == 200


def test_too_many_bots_is_a_message(arena):
    many = ",".join(map(str, range(1, 12)))
    response = get(signed_in(arena["Up"].owner), f"/analytics/compare/?bots={many}")
    assert response.status_code == 400 and "bots: At most 10 bots at once; 11 were given." in text(response)


def test_the_pages_hold_no_inline_script(arena):
    owner = signed_in(arena["Up"].owner)
    for url in ("/leaderboard/", "/analytics/", f"/analytics/bots/{arena['Up'].pk}/", "/analytics/compare/"):
        html = text(get(owner, url))
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
        assert not re.search(r"\son[a-z]+=", html), url
