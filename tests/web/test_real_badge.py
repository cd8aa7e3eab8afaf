"""The LIVE badge: every page that names a bot marks a real-money one with the same badge
(``web/real/_live_badge.html``: "LIVE", labelled "real-money bot"), and never a paper one."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from arena.models import ArenaSettings
from bots.models import Bot, Decision
from bots.services import bot_create
from trading.models import Market
from trading.services import position_close, position_open
from trading.services.snapshots import snapshots_take

pytestmark = pytest.mark.django_db
BADGE = ('<span class="badge live" role="img" aria-label="real-money bot" title="Trades real money" '
         'data-live-badge>LIVE</span>')


def row_linking(path: str) -> str:
    """A regex of one table row that links to ``path`` (with ``{id}`` for the bot)."""
    return r"<tr[^>]*>(?:(?!</tr>).)*?" + path + r"(?:(?!</tr>).)*</tr>"


@pytest.fixture
def pair(user, provider):
    """Alice's paper bot and her real one, each with a closed trade, a decision (with its
    reasoning published) and snapshots; the real one was a paper bot when it traded."""
    Market.objects.create(symbol="BTCUSDT", last_price=Decimal("60000"), mark_price=Decimal("60000"))
    start = timezone.now() - timedelta(hours=3)
    paper = bot_create(owner=user, name="Paper Pam", prompt="p", provider=provider, created_at=start,
                       reasoning_public=True)
    real = bot_create(owner=user, name="Live Larry", prompt="p", provider=provider, created_at=start,
                      reasoning_public=True)
    snapshots_take(now=start, bot_ids=[paper.pk, real.pk])
    for bot in (paper, real):
        opened = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=Decimal("100"), leverage=2,
                               now=start + timedelta(minutes=5))
        position_close(position=opened.position, reason="decision", now=start + timedelta(minutes=30))
        Decision.objects.create(bot=bot, prompt="p", success=True, model="momentum", tokens_in=10,
                                tokens_out=5, cost=Decimal("0.01"), latency_ms=100, actions=[
                                    {"action": "HOLD", "reasoning": "wait"}])
    snapshots_take(now=start + timedelta(hours=1), bot_ids=[paper.pk, real.pk])
    Bot.objects.filter(pk=real.pk).update(mode=Bot.Mode.REAL)
    real.refresh_from_db()
    return paper, real


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def piece(html: str, pattern: str) -> str:
    found = re.search(pattern, html, flags=re.S)
    assert found, pattern
    return found.group(0)


def marks_only_the_real_bot(html: str, paper: Bot, real: Bot, *, row: str) -> None:
    """``row`` (a regex with ``{id}``) finds each bot's element: the real one holds the
    badge, the paper one not."""
    assert BADGE in piece(html, row.format(id=real.pk))
    assert "data-live-badge" not in piece(html, row.format(id=paper.pk))


def test_the_badge_says_live_with_its_accessible_label(pair, user):
    html = signed_in(user).get("/").content.decode()
    assert 'aria-label="real-money bot"' in html and ">LIVE</span>" in html


def test_dashboard_cards_and_the_decision_ticker(pair, user):
    paper, real = pair
    html = signed_in(user).get("/").content.decode()
    marks_only_the_real_bot(html, paper, real, row=r'<article[^>]*data-bot-card="{id}".*?</article>')
    ticker = piece(html, r'<section id="decision-ticker".*?</section>')
    items = {bot_id: item for item, bot_id in
             re.findall(r'<li data-decision="\d+">(.*?/bots/(\d+)/.*?)</li>', ticker, flags=re.S)}
    assert BADGE in items[str(real.pk)] and "data-live-badge" not in items[str(paper.pk)]


def test_the_bot_list(pair, user):
    paper, real = pair
    html = signed_in(user).get("/bots/").content.decode()
    marks_only_the_real_bot(html, paper, real, row=row_linking("/bots/{id}/"))


def test_the_bot_page_header(pair, user):
    paper, real = pair
    client = signed_in(user)
    page = client.get(f"/bots/{real.pk}/").content.decode()
    header = piece(page, r'<section[^>]*id="bot-header".*?</h1>.*?</p>')
    assert BADGE in header
    assert "data-live-badge" not in client.get(f"/bots/{paper.pk}/").content.decode()


def test_the_leaderboard_rows(pair, user):
    paper, real = pair
    html = signed_in(user).get("/leaderboard/?period=all").content.decode()
    marks_only_the_real_bot(html, paper, real, row=r'<tr data-bot="{id}">.*?</tr>')


def test_the_analytics_tables(pair, user):
    paper, real = pair
    html = signed_in(user).get("/analytics/?period=all").content.decode()
    for table in ("performance-table", "llm-usage"):
        rows = piece(html, rf'<table[^>]*id="{table}".*?</table>')
        marks_only_the_real_bot(rows, paper, real,
                                row=row_linking("/analytics/bots/{id}/"))
    best = piece(html, r'<h2 id="best-heading".*?</table>')
    marks_only_the_real_bot(best, paper, real, row=row_linking("/analytics/bots/{id}/"))


def test_the_deep_dive_header(pair, user):
    paper, real = pair
    client = signed_in(user)
    assert BADGE in piece(client.get(f"/analytics/bots/{real.pk}/").content.decode(), r"<h1>.*?</h1>")
    assert "data-live-badge" not in piece(client.get(f"/analytics/bots/{paper.pk}/").content.decode(),
                                          r"<h1>.*?</h1>")


def test_the_compare_legend_table(pair, user):
    paper, real = pair
    html = signed_in(user).get(f"/analytics/compare/?bots={paper.pk},{real.pk}").content.decode()
    marks_only_the_real_bot(piece(html, r'<table class="data" id="compare-table".*?</table>'), paper, real,
                            row=r'<tr data-bot="{id}">.*?</tr>')


def test_the_spectator_views(pair):
    paper, real = pair
    ArenaSettings.load()
    ArenaSettings.objects.update(public_arena=True)
    anonymous = Client()
    html = anonymous.get("/").content.decode()
    marks_only_the_real_bot(html, paper, real, row=r'<article[^>]*data-bot-card="{id}".*?</article>')
    assert BADGE in anonymous.get(f"/bots/{real.pk}/").content.decode()
    assert "data-live-badge" not in anonymous.get(f"/bots/{paper.pk}/").content.decode()
    marks_only_the_real_bot(anonymous.get("/leaderboard/?period=all").content.decode(), paper, real,
                            row=r'<tr data-bot="{id}">.*?</tr>')
