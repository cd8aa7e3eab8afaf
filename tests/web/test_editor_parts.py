"""The editor's pure parts: strategy templates, placeholder help, generated avatars, and
reading a page form into the API's serializer input."""
from __future__ import annotations

import re

import pytest
from rest_framework.exceptions import ErrorDetail

from arena.web.editor.avatars import TONES, avatar_initials, avatar_tone
from arena.web.editor.forms import FORM_ERRORS, field_errors, form_values, model_errors, serializer_data
from arena.web.editor.templates import (
    PLACEHOLDER_HELP,
    STRATEGY_TEMPLATES,
    placeholder_rows,
    strategy_prompt,
)
from bots.prompts import PLACEHOLDERS
from bots.strategies import MOMENTUM, STRATEGIES


def test_every_scripted_strategy_has_a_template():
    assert set(STRATEGY_TEMPLATES) == set(STRATEGIES)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_template_uses_every_placeholder_and_fits_the_prompt_limit(name):
    text = strategy_prompt(name)
    used = set(re.findall(r"\{\{(\w+)\}\}", text))
    assert used == set(PLACEHOLDERS)
    assert len(text) < 10_000


def test_a_template_states_its_strategys_own_numbers():
    text = strategy_prompt("momentum")
    assert f"{MOMENTUM.leverage}x leverage" in text
    assert "about 10% of your available balance" in text  # MOMENTUM.fraction is 0.10
    assert "stop-loss 2%" in text and "take-profit 4%" in text
    assert f"at most {MOMENTUM.max_positions} positions" in text


def test_an_unknown_strategy_has_no_template():
    with pytest.raises(KeyError):
        strategy_prompt("martingale")


def test_the_help_names_every_placeholder_in_the_renderers_order():
    rows = placeholder_rows({"totalValue": "10000.00"})
    assert [r["name"] for r in rows] == list(PLACEHOLDERS)
    assert set(PLACEHOLDER_HELP) == set(PLACEHOLDERS)
    assert rows[0] == {"name": "totalValue", "tag": "{{totalValue}}", "help": PLACEHOLDER_HELP["totalValue"],
                       "now": "10000.00"}
    assert all(r["now"] == "" for r in rows[1:])


@pytest.mark.parametrize("name, initials", [
    ("Momentum Mike", "MM"), ("solo", "S"), ("  three word name ", "TW"), ("<< >>", "?"), ("", "?"),
])
def test_avatar_initials(name, initials):
    assert avatar_initials(name) == initials


def test_avatar_tone_is_stable_and_in_the_palette():
    assert avatar_tone(7) == 7 % TONES
    assert avatar_tone("Momo") == avatar_tone("Momo")
    assert {avatar_tone(i) for i in range(20)} == set(range(TONES))


def test_unticked_checkboxes_are_false_and_ticked_ones_true():
    values = form_values({"name": "A", "prompt": "P", "provider": "3", "sandbox_enabled": "on"}, ["BTCUSDT"])
    assert values["sandbox_enabled"] is True
    assert values["is_listed"] is False and values["confirm_real"] is False
    assert values["symbols"] == ["BTCUSDT"] and values["mode"] == "paper"


def test_serializer_data_for_a_new_bot_and_an_edit():
    values = form_values({"name": "A", "prompt": "P", "provider": "3", "mode": "real", "wallet": "",
                          "confirm_real": "on", "is_listed": "on"}, [])
    created = serializer_data(values, None, creating=True)
    assert created == {"name": "A", "prompt": "P", "provider": "3", "symbols": [], "sandbox_enabled": False,
                       "is_listed": True, "reasoning_public": False, "mode": "real", "confirm_real": True,
                       "wallet": None, "max_order_notional": None, "max_exposure": None}
    edited = serializer_data(values, None, creating=False, moderated=True)
    assert set(edited) == {"name", "prompt", "provider", "symbols", "sandbox_enabled", "max_order_notional",
                           "max_exposure"}


def test_serializer_data_avatar_upload_removal_or_unchanged():
    values = form_values({"name": "A", "prompt": "P", "provider": "", "avatar_generated": "on"}, [])
    assert serializer_data(values, None, creating=False)["avatar"] is None  # removes the picture
    assert serializer_data(values, "upload", creating=False)["avatar"] == "upload"
    values["avatar_generated"] = False
    data = serializer_data(values, None, creating=False)
    assert "avatar" not in data and "provider" not in data  # left as it is; none chosen is "required"


def test_field_errors_flattens_nested_and_form_level_errors():
    errors = field_errors({
        "name": [ErrorDetail("This field may not be blank.")],
        "symbols": {0: [ErrorDetail("Not a valid string.")]},
        "non_field_errors": [ErrorDetail("Something as a whole.")],
        "__all__": ["A model rule."],
    })
    assert errors == {"name": ["This field may not be blank."], "symbols": ["Not a valid string."],
                      FORM_ERRORS: ["Something as a whole.", "A model rule."]}


def test_model_errors_tell_a_known_constraint_on_its_field():
    errors = model_errors({"__all__": ["Constraint “bots_bot_owner_name_unique_active” is violated."],
                           "symbols": ["A list of upper-case symbols."]})
    assert errors == {"name": ["You already have a bot by this name: choose another."],
                      "symbols": ["A list of upper-case symbols."]}
    assert model_errors({"__all__": ["Something else."]}) == {FORM_ERRORS: ["Something else."]}
