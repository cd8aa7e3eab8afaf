"""A spectator (not signed in) at ``/``: the listed bots, no action, no reasoning the owner
keeps private (neither in the page nor in what its socket receives while a turn runs);
with the arena closed to spectators, the sign-in page instead."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from arena.turns.run import turn_run
from tests.web.e2e.data import llm_bot, long_btc, make_user, orm, price_markets, set_public_arena

pytestmark = pytest.mark.django_db(transaction=True)

PRIVATE = "private-thought-7f3a: buy before the others notice"
PUBLISHED = "public-thought-91c2: shorting the top"
LIVE_MS = 15_000


def finished_turns(tab) -> int:
    return sum(json.loads(frame).get("type") == "turn_finished" for frame in tab.frames)


def wait_for(condition, tab, what: str) -> None:
    """Let the page's events arrive (Playwright delivers them while it waits) until ``condition``."""
    for _ in range(LIVE_MS // 100):
        if condition():
            return
        tab.page.wait_for_timeout(100)
    raise AssertionError(f"not within {LIVE_MS} ms: {what}")


def test_a_spectator_sees_listed_bots_without_actions_or_private_reasoning(arena, fake):
    owner = orm(make_user, "ada")
    orm(price_markets)
    secretive = orm(llm_bot, owner, fake, name="Secretive")  # reasoning_public is off by default
    open_book = orm(llm_bot, owner, fake, name="Open book", reasoning_public=True)
    hidden = orm(llm_bot, owner, fake, name="Hidden", is_listed=False)
    fake.script(secretive.provider.model, long_btc(PRIVATE))
    fake.script(open_book.provider.model, long_btc(PUBLISHED))

    tab = arena.tab()
    tab.visit("/")
    cards = tab.page.locator("article[data-bot-card]")
    expect(tab.page.locator(f'article[data-bot-card="{secretive.pk}"]')).to_contain_text("Secretive")
    expect(tab.page.locator(f'article[data-bot-card="{open_book.pk}"]')).to_contain_text("Open book")
    expect(tab.page.locator(f'article[data-bot-card="{hidden.pk}"]')).to_have_count(0)
    expect(cards).to_have_count(2)
    expect(tab.page.locator("button[data-action]")).to_have_count(0)

    report = orm(turn_run, bot_ids=[secretive.pk, open_book.pk], forced=True)
    decided = {o.bot_id: o.decision_id for o in report.outcomes}
    assert all(decided.values()) and len(decided) == 2, report.outcomes

    # The ticker shows published reasoning only: the open book's decision, not the other's.
    published = tab.page.locator(f'#decision-ticker [data-decision="{decided[open_book.pk]}"]')
    expect(published).to_contain_text(PUBLISHED, timeout=LIVE_MS)
    expect(tab.page.locator(f'#decision-ticker [data-decision="{decided[secretive.pk]}"]')).to_have_count(0)
    wait_for(lambda: finished_turns(tab) == 1, tab, "the socket delivers the turn as it runs")
    assert PRIVATE not in tab.html()
    assert not [frame for frame in tab.frames if PRIVATE in frame], "the socket sent private reasoning"
    expect(tab.page.locator("button[data-action]")).to_have_count(0)

    tab.visit(f"/bots/{secretive.pk}/")
    expect(tab.page.locator("#bot-name")).to_have_text("Secretive")
    assert PRIVATE not in tab.html()
    expect(tab.page.locator("button[data-action]")).to_have_count(0)


def test_a_closed_arena_sends_spectators_to_sign_in(arena):
    orm(set_public_arena, False)
    tab = arena.tab()
    tab.visit("/", live=False)
    url = urlsplit(tab.page.url)
    assert url.path == "/login/" and parse_qs(url.query).get("next") == ["/"]
    expect(tab.page.locator("#login-form")).to_be_visible()
