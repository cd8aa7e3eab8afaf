"""User text that holds a script tag is shown as text on every page that shows it, and never
runs (the page's own escaping; the CSP would also refuse it, and say so in the console,
which fails the visit)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.e2e.data import llm_bot, make_user, orm

pytestmark = pytest.mark.django_db(transaction=True)

XSS = "<script>window.__pwned=1</script>"
INJECTED_SCRIPTS = "[...document.scripts].filter(s => s.textContent.includes('__pwned')).length"


def assert_inert(tab) -> None:
    assert tab.page.evaluate("typeof window.__pwned") == "undefined"
    assert tab.page.evaluate(INJECTED_SCRIPTS) == 0, "the user's text became a script element"


def test_a_script_in_a_bots_name_and_prompt_is_shown_as_text(arena, fake):
    owner = orm(make_user, "ada")
    name = f"Evil {XSS}"
    prompt = f"Trade well {XSS} {{{{marketData}}}}"
    bot = orm(llm_bot, owner, fake, name=name, prompt=prompt)
    tab = arena.tab(user=owner)

    tab.visit(f"/bots/{bot.pk}/")
    expect(tab.page.locator("#bot-name")).to_have_text(name)
    expect(tab.page.locator("#bot-prompt")).to_contain_text(XSS)
    assert tab.page.title().startswith(name), "the title shows the name as text too"
    assert_inert(tab)

    tab.visit("/")
    expect(tab.page.locator(f'article[data-bot-card="{bot.pk}"] h3')).to_have_text(name)
    assert_inert(tab)

    tab.visit(f"/bots/{bot.pk}/edit/")
    expect(tab.page.locator("#bot-form #id_name")).to_have_value(name)
    expect(tab.page.locator("#bot-form #id_prompt")).to_have_value(prompt)
    assert_inert(tab)

    tab.visit("/bots/")
    expect(tab.page.locator("main")).to_contain_text(name)
    assert_inert(tab)
