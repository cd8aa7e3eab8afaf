"""The live arena in a real browser: a turn forced from the dashboard is run by the worker and
shows up without a reload; a position closed on the bot page leaves it; a position opened
and closed elsewhere (a service call here, as a turn would) reaches the open pages."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bots.models import Decision
from tests.web.e2e.data import close_position, llm_bot, long_btc, make_user, open_position, orm, price_markets
from tests.web.e2e.tabs import TURN_MS

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "ada-e2e-pass-1234"
LIVE_MS = 10_000  # an event's way to the page: commit, Redis, daphne, the socket, htmx's re-fetch


def mark_no_reload(tab) -> None:
    """A flag in the page's window: a reload (or navigation) would drop it."""
    tab.page.evaluate("window.__sameDocument = true")


def assert_not_reloaded(tab) -> None:
    assert tab.page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def decision_of(bot_id: int) -> Decision:
    return Decision.objects.get(bot_id=bot_id)


def cash_figure(card):
    return card.locator("dl.figures div").filter(has_text="Available cash").locator("dd")


def test_a_turn_forced_from_the_dashboard_shows_its_decision_and_position_live(arena, fake):
    owner = orm(make_user, "ada", PASSWORD, signs_in=True)
    orm(price_markets)
    bot = orm(llm_bot, owner, fake, name="Forcer")
    fake.script(bot.provider.model, long_btc("BTC is breaking out"))

    bot_tab = arena.tab(user=owner)
    bot_tab.visit(f"/bots/{bot.pk}/")
    expect(bot_tab.page.locator("table#positions tr[data-position]")).to_have_count(0)
    mark_no_reload(bot_tab)

    tab = arena.tab()
    tab.sign_in("ada", PASSWORD)
    assert tab.page.url.rstrip("/") == arena.servers.base_url, "signing in lands on the dashboard"
    tab.wait_live()
    card = tab.page.locator(f'article[data-bot-card="{bot.pk}"]')
    expect(card).to_contain_text("Forcer")
    expect(tab.page.locator("#decision-ticker [data-decision]")).to_have_count(0)
    mark_no_reload(tab)

    card.locator('button[data-action="force-turn"]').click()

    ticker_item = tab.page.locator("#decision-ticker [data-decision]")
    expect(ticker_item).to_have_count(1, timeout=TURN_MS)
    decision = orm(decision_of, bot.pk)
    assert decision.success, decision.error
    expect(tab.page.locator(f'#decision-ticker [data-decision="{decision.pk}"]')).to_contain_text("Forcer")
    assert len(fake.for_model(bot.provider.model)) == 1, "the worker asked the model once"
    assert_not_reloaded(tab)

    row = bot_tab.page.locator("table#positions tr[data-position]")
    expect(row).to_have_count(1, timeout=LIVE_MS)
    expect(row).to_have_attribute("data-symbol", "BTCUSDT")
    expect(row).to_have_attribute("data-side", "LONG")
    expect(bot_tab.page.locator(f'#ai-log [data-decision="{decision.pk}"]')).to_have_count(1, timeout=LIVE_MS)
    assert_not_reloaded(bot_tab)


def test_closing_a_position_on_the_bot_page_moves_it_to_the_order_history(arena, fake):
    owner = orm(make_user, "ada")
    orm(price_markets)
    bot = orm(llm_bot, owner, fake, name="Closer")
    position = orm(open_position, bot, symbol="ETHUSDT", side="SHORT")

    tab = arena.tab(user=owner)
    tab.visit(f"/bots/{bot.pk}/")
    row = tab.page.locator(f'table#positions tr[data-position="{position.pk}"]')
    expect(row).to_have_count(1)
    orders = tab.page.locator("#orders tr[data-trade]")
    expect(orders).to_have_count(1)  # the open
    mark_no_reload(tab)

    row.locator('button[data-action="close"]').click()

    expect(row).to_have_count(0, timeout=LIVE_MS)
    expect(orders).to_have_count(2, timeout=LIVE_MS)
    close_row = tab.page.locator("#orders tr[data-trade]").filter(has_text="close")
    expect(close_row).to_have_count(1)
    expect(close_row).to_contain_text("ETHUSDT")
    assert_not_reloaded(tab)


def test_a_position_opened_and_closed_elsewhere_reaches_the_open_pages(arena, fake):
    owner = orm(make_user, "ada")
    orm(price_markets)
    bot = orm(llm_bot, owner, fake, name="Watcher")

    bot_tab = arena.tab(user=owner)
    bot_tab.visit(f"/bots/{bot.pk}/")
    dash = arena.tab(user=owner)
    dash.visit("/")
    cash = cash_figure(dash.page.locator(f'article[data-bot-card="{bot.pk}"]'))
    cash_before = cash.inner_text()
    for tab in (bot_tab, dash):
        mark_no_reload(tab)

    position = orm(open_position, bot, symbol="SOLUSDT", side="LONG", margin="250", leverage=3)

    row = bot_tab.page.locator(f'table#positions tr[data-position="{position.pk}"]')
    expect(row).to_have_count(1, timeout=LIVE_MS)
    expect(row).to_have_attribute("data-symbol", "SOLUSDT")
    expect(cash).not_to_have_text(cash_before, timeout=LIVE_MS)  # 250 of it is margin now

    orm(close_position, position.pk)

    expect(row).to_have_count(0, timeout=LIVE_MS)
    expect(bot_tab.page.locator("#orders tr[data-trade]").filter(has_text="close")).to_have_count(
        1, timeout=LIVE_MS)
    for tab in (bot_tab, dash):
        assert_not_reloaded(tab)
